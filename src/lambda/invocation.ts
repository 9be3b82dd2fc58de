/**
 * The one core behind the three entry points (wrapper, middy middleware,
 * decorator): validated options, the container-lived entropy source and root
 * key, and the per-invocation scope that derives the declared keys.
 */
import { OptionsError, ScopeEndedError } from '../errors/index.js';
import { DERIVED_USES, IMPLIED_LENGTH, hkdf, type DerivedUse, type Hash } from '../crypto/index.js';
import { keyId, wrapKey, USE_IDS, type Key } from '../memory/key.js';
import { SecretScope } from '../scope/scope.js';
import { EntropySource, type EntropyOptions, type EntropyResult, type EntropyStats, type Logger } from '../kms/entropy.js';
import { KmsAccess, startLoadingKms, type KmsOptions } from '../kms/client.js';
import { RootKeyHolder, validateRootOptions, type RootKeyOptions, type RootKeyStats } from '../kms/root-keys.js';
import { installExitPurge } from '../scope/exit.js';
import { native } from '../memory/native.js';
import { scopeStorage } from '../scope/context.js';

export type DeclaredUse = DerivedUse;

export interface KeySpec<E = unknown> {
  use: DeclaredUse;
  /** Bytes (default 32; x25519, ed25519 and P-256 keys are always 32, P-384 keys 48; aead keys 32, or 16 for aes-128-gcm). */
  length?: number;
  /** 'entropy' (default): from this invocation's entropy; 'root': stable, from the KMS-decrypted root key. */
  from?: 'entropy' | 'root';
  /** Binds the key to a value from the event (tenant id, record id), bound into HKDF info. */
  context?: (event: E, lambdaContext: unknown) => string | undefined;
}

export interface SecretScopeOptions<E = unknown> {
  keys?: Record<string, KeySpec<E>>;
  entropy?: EntropyOptions;
  kms?: KmsOptions;
  root?: RootKeyOptions;
  /** HKDF salt for derivations (default 'secret-scope/v1'). */
  salt?: string | Uint8Array;
  hash?: Hash;
  /** Plain wrapper and decorator: end the scope and fail this many ms before the Lambda deadline (0: off). */
  timeoutEarlyInMillis?: number;
  logger?: Logger;
}

const OPTION_KEYS = ['keys', 'entropy', 'kms', 'root', 'salt', 'hash', 'timeoutEarlyInMillis', 'logger'];

export function secretScopeValidateOptions<E>(options: SecretScopeOptions<E> | undefined): void {
  if (options === undefined) return;
  if (options === null || typeof options !== 'object') throw new OptionsError('ERR_OPTIONS', 'options must be an object');
  for (const k of Object.keys(options)) {
    if (!OPTION_KEYS.includes(k)) throw new OptionsError('ERR_OPTIONS', `unknown option '${k}' (known: ${OPTION_KEYS.join(', ')})`);
  }
  for (const [name, spec] of Object.entries(options.keys ?? {})) {
    if (!spec || typeof spec !== 'object') throw new OptionsError('ERR_OPTIONS', `keys.${name} must be an object`);
    for (const k of Object.keys(spec)) {
      if (!['use', 'length', 'from', 'context'].includes(k)) throw new OptionsError('ERR_OPTIONS', `keys.${name}: unknown option '${k}'`);
    }
    if (!DERIVED_USES.includes(spec.use)) throw new OptionsError('ERR_OPTIONS', `keys.${name}.use must be one of ${DERIVED_USES.join(', ')}`);
    if (spec.length !== undefined && (!Number.isInteger(spec.length) || spec.length < 16 || spec.length > 1024)) {
      throw new OptionsError('ERR_OPTIONS', `keys.${name}.length must be an integer from 16 to 1024`);
    }
    if (spec.use === 'aead' && spec.length !== undefined && spec.length !== 32 && spec.length !== 16) {
      throw new OptionsError('ERR_OPTIONS', `keys.${name}: aead keys are 32 bytes, or 16 for aes-128-gcm`);
    }
    const implied = IMPLIED_LENGTH[spec.use];
    if (implied !== undefined && spec.length !== undefined && spec.length !== implied) {
      throw new OptionsError('ERR_OPTIONS', `keys.${name}: ${spec.use} keys are ${implied} bytes`);
    }
    if (spec.from !== undefined && spec.from !== 'entropy' && spec.from !== 'root') {
      throw new OptionsError('ERR_OPTIONS', `keys.${name}.from must be 'entropy' or 'root'`);
    }
    if (spec.from === 'root' && !options.root) throw new OptionsError('ERR_OPTIONS', `keys.${name} derives from the root key but no root option is given`);
    if (spec.context !== undefined && typeof spec.context !== 'function') {
      throw new OptionsError('ERR_OPTIONS', `keys.${name}.context must be a function (event, context) => string`);
    }
  }
  if (options.hash !== undefined && options.hash !== 'sha256' && options.hash !== 'sha512') {
    throw new OptionsError('ERR_OPTIONS', "hash must be 'sha256' or 'sha512'");
  }
  if (options.timeoutEarlyInMillis !== undefined && (typeof options.timeoutEarlyInMillis !== 'number' || options.timeoutEarlyInMillis < 0)) {
    throw new OptionsError('ERR_OPTIONS', 'timeoutEarlyInMillis must be a number >= 0');
  }
  if (options.kms !== undefined) {
    for (const k of Object.keys(options.kms)) {
      if (!['client', 'clientConfig'].includes(k)) throw new OptionsError('ERR_OPTIONS', `kms: unknown option '${k}'`);
    }
  }
  validateRootOptions(options.root);
}

/** Length-prefixed HKDF info: label, use and context cannot run into each other. */
function infoFor(name: string, use: string, context: string | undefined): Buffer {
  const parts = ['secret-scope/v1', name, use, context ?? ''].map((p) => Buffer.from(p, 'utf8'));
  const out = Buffer.alloc(parts.reduce((n, b) => n + 2 + b.length, 0));
  let at = 0;
  for (const b of parts) {
    at = out.writeUInt16BE(b.length, at);
    at += b.copy(out, at);
  }
  return out;
}

/**
 * A declared key as the invocation path needs it, made once at wrap time: its HKDF info
 * (when it has no per-event context), length and use number. Building these per
 * invocation (a dozen small Buffers, option checks) cost more than the HKDF itself.
 */
interface DeclaredKey<E> {
  readonly name: string;
  readonly spec: KeySpec<E>;
  readonly fromRoot: boolean;
  readonly length: number;
  readonly useId: number;
  /** undefined when the info depends on the event (spec.context). */
  readonly info: Buffer | undefined;
  /** [info], for hkdfExpandMany. */
  readonly infos: Buffer[] | undefined;
}

// Receives the handle hkdfExpandMany makes for a declared key (a number, never key bytes).
const derivedId = new Float64Array(1);

const HASH_IDS = { sha256: 0, sha512: 1 } as const;

/** Monotonic ms for ScopeTimings. Not `performance.now()`: the first touch of that global loads perf_hooks (2-3 ms of cold start). */
function nowMs(): number {
  const [s, ns] = process.hrtime();
  return s * 1e3 + ns / 1e6;
}

const NO_SCOPE = Object.freeze({ active: false, bound: false });
/**
 * Before Node 24, AsyncLocalStorage follows promises only once enabled, which its first
 * run() or enterWith() does. Opening a scope no longer calls run() (ratchet and local
 * entropy are ready synchronously), so the first binding could be the middy middleware's
 * enterWith in middy's continuation, whose promise was made before any hook followed it:
 * the binding would land on the invoking frame's resource and leak into every later
 * invocation. Enabling the storage at wrap time (a run() of nothing) rules that out.
 */
function enableScopeBinding(): void {
  scopeStorage.run(NO_SCOPE, () => undefined);
}

export interface ScopeTimings {
  openedAt: number;
  entropyReadyMs?: number;
  endedAfterMs?: number;
}

/** Container-lived state shared by every invocation of one wrapped handler. */
export class SecretScopeCore<E = unknown> {
  readonly options: SecretScopeOptions<E>;
  readonly kms: KmsAccess;
  readonly entropy: EntropySource;
  readonly root: RootKeyHolder | undefined;
  readonly logger: Logger;
  /** Declared keys by name, with what deriving them needs (made once, here). */
  readonly declared: ReadonlyMap<string, DeclaredKey<E>>;
  /** Whether any declared key derives from the invocation's entropy. */
  readonly needsEntropy: boolean;

  constructor(options: SecretScopeOptions<E> = {}) {
    secretScopeValidateOptions(options);
    // Load the addon now, at wrap time (cold start): a bundle that cannot reach it fails here
    // with AddonLoadError naming the remedy, not at the first invocation.
    native();
    this.options = options;
    const declared = new Map<string, DeclaredKey<E>>();
    for (const [name, spec] of Object.entries(options.keys ?? {})) {
      const info = spec.context === undefined ? infoFor(name, spec.use, undefined) : undefined;
      declared.set(name, {
        name,
        spec,
        fromRoot: spec.from === 'root',
        length: IMPLIED_LENGTH[spec.use] ?? spec.length ?? 32,
        useId: USE_IDS[spec.use],
        info,
        infos: info && [info],
      });
    }
    this.declared = declared;
    this.needsEntropy = [...declared.values()].some((d) => !d.fromRoot);
    enableScopeBinding();
    this.logger = options.logger ?? { warn: (m, d) => console.warn(m, d ?? '') };
    this.kms = new KmsAccess(options.kms);
    this.entropy = new EntropySource(options.entropy, this.kms, this.logger);
    this.root = options.root ? new RootKeyHolder(this.kms, options.root, this.logger) : undefined;
    installExitPurge();
    // The first invocation will need the SDK (entropy from KMS, a root key to decrypt): start
    // importing it now, while the rest of the function's init runs, not at that invocation.
    if ((this.needsEntropy && this.entropy.options.source === 'kms') || this.root) startLoadingKms();
  }

  open(event: E, lambdaContext: unknown): InvocationScope<E> {
    return new InvocationScope(this, event, lambdaContext);
  }

  /** What the container-lived state has done: KMS calls, failures, purges recovered from. */
  report(): { entropy: EntropyStats; root?: RootKeyStats } {
    return { entropy: { ...this.entropy.stats }, ...(this.root ? { root: { ...this.root.stats } } : {}) };
  }

  /** Wipes container-lived secrets (prefetched entropy, ratchet pool, root key). */
  dispose(): void {
    this.entropy.dispose();
    this.root?.dispose();
  }
}

export class InvocationScope<E = unknown> extends SecretScope {
  readonly #core: SecretScopeCore<E>;
  readonly #event: E;
  readonly #lambdaContext: unknown;
  #entropy: Promise<EntropyResult> | undefined;
  #entropySource: EntropyResult['source'] | undefined;
  /** The PRK when the entropy was ready at open (ratchet, local): keys derive without waiting. */
  #prk: Key | undefined;
  #derived: Map<string, Promise<Key>> | undefined;
  readonly timings: ScopeTimings;

  constructor(core: SecretScopeCore<E>, event: E, lambdaContext: unknown) {
    const ctx = lambdaContext as { awsRequestId?: string } | undefined;
    super({ bound: true, name: ctx?.awsRequestId });
    this.#core = core;
    this.#event = event;
    this.#lambdaContext = lambdaContext;
    this.timings = { openedAt: nowMs() };
    if (!core.needsEntropy) return;
    // Ready now (a ratchet step, local entropy): no promise, no async context needed, since
    // every key it makes names this scope as its owner.
    let ready: EntropyResult | undefined;
    try {
      ready = core.entropy.beginSync(this);
    } catch (e) {
      // Seen by the first key() (as a failed begin() would be), never at open.
      this.#entropy = Promise.reject(e);
      this.#entropy.catch(() => undefined);
      return;
    }
    if (ready) {
      this.#prk = ready.prk;
      this.#entropySource = ready.source;
      this.timings.entropyReadyMs = nowMs() - this.timings.openedAt;
      return;
    }
    // Started inside the scope's own async context: the entropy keys it creates belong to this scope.
    scopeStorage.run(this, () => this.#startEntropy());
  }

  #startEntropy(): Promise<EntropyResult> {
    if (!this.#entropy && this.#prk) this.#entropy = Promise.resolve({ prk: this.#prk, source: this.#entropySource! });
    if (!this.#entropy) {
      this.#entropy = this.#core.entropy.begin(this).then((r) => {
        this.timings.entropyReadyMs = nowMs() - this.timings.openedAt;
        this.#entropySource = r.source;
        if (!this.active) {
          throw new ScopeEndedError('ERR_SCOPE_ENDED', 'the scope ended before its entropy arrived');
        }
        return r;
      });
      this.#entropy.catch(() => undefined);
    }
    return this.#entropy;
  }

  /** The scope's pseudorandom key (HKDF-Extract of KMS and local entropy); awaits KMS if needed. */
  async prk(): Promise<Key> {
    return (await this.#startEntropy()).prk;
  }

  /** A declared key, derived on first use. */
  key(name: string): Promise<Key> {
    if (!this.active) return Promise.reject(new ScopeEndedError('ERR_SCOPE_ENDED', `scope has ended; key '${name}' is gone`));
    const derived = (this.#derived ??= new Map());
    let p = derived.get(name);
    if (!p) {
      const d = this.#core.declared.get(name);
      if (d && !d.fromRoot && this.#prk) {
        // The PRK is here: derive now, without an async hop.
        try {
          p = Promise.resolve(this.#expand(this.#prk, d, this.#infoOf(d)));
        } catch (e) {
          p = Promise.reject(e);
        }
      } else {
        p = this.#derive(name);
      }
      p.catch(() => undefined);
      derived.set(name, p);
    }
    return p;
  }

  /** HKDF-Expand(prk, info) into this scope: hkdfExpand with its options fixed at wrap time. */
  #expand(prk: Key, d: DeclaredKey<E>, info: Buffer): Key {
    const prkId = keyId(prk, 'hkdfExpand');
    // hkdfExpandMany with one info is hkdfExpand; it is the call the ratchet step just made,
    // so a cache-cold invocation runs no more addon code for it.
    native().hkdfExpandMany(prk.length === 64 ? HASH_IDS.sha512 : HASH_IDS.sha256, prkId, info === d.info ? d.infos! : [info], d.length, this.nativeId, derivedId, d.useId);
    const id = derivedId[0]!;
    derivedId[0] = 0;
    return wrapKey(id, this, d.length, d.spec.use, d.name);
  }

  /** A declared key's HKDF info: made at wrap time, or now from the event when it has a context. */
  #infoOf(d: DeclaredKey<E>): Buffer {
    if (d.info) return d.info;
    const context = d.spec.context?.(this.#event, this.#lambdaContext);
    if (context !== undefined && typeof context !== 'string') {
      throw new OptionsError('ERR_OPTIONS', `keys.${d.name}.context must return a string or undefined`);
    }
    return infoFor(d.name, d.spec.use, context);
  }

  /** Every declared key. */
  async keys(): Promise<Record<string, Key>> {
    const names = Object.keys(this.#core.options.keys ?? {});
    const keys = await Promise.all(names.map((n) => this.key(n)));
    return Object.fromEntries(names.map((n, i) => [n, keys[i]!]));
  }

  async #derive(name: string): Promise<Key> {
    const d = this.#core.declared.get(name);
    if (!d) throw new OptionsError('ERR_OPTIONS', `no key named '${name}' is declared in options.keys`);
    // The context function runs before the wait, as it always did.
    const info = this.#infoOf(d);
    if (d.fromRoot) {
      const hash = this.#core.options.hash ?? 'sha256';
      const root = await this.#core.root!.get();
      if (!this.active) throw new ScopeEndedError('ERR_SCOPE_ENDED', 'the scope ended before the root key arrived');
      return hkdf(root, { hash, salt: this.#core.options.salt ?? 'secret-scope/v1', info, length: d.length, scope: this, label: name, use: d.spec.use });
    }
    const prk = await this.prk();
    if (!this.active) throw new ScopeEndedError('ERR_SCOPE_ENDED', 'the scope ended before its entropy arrived');
    return this.#expand(prk, d, info);
  }

  /** Where this scope's entropy came from (after it arrived). */
  get entropySource(): EntropyResult['source'] | undefined {
    return this.#entropySource;
  }

  report(): { name?: string; active: boolean; keys: number; entropy?: string; timings: ScopeTimings } {
    return { name: this.name, active: this.active, keys: this.keyCount, entropy: this.#entropySource, timings: this.timings };
  }

  override end(): number {
    if (!this.active) return 0;
    const n = super.end();
    this.timings.endedAfterMs = nowMs() - this.timings.openedAt;
    return n;
  }
}
