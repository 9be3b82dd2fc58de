/**
 * Key handles. A Key is an opaque object: its only content is a number that
 * names a slot in this thread's guarded arena and the serial the slot had when
 * the key was made. No method returns key bytes; `exposeUnsafe` lends them and
 * says so in its name.
 */
import { native } from './native.js';
import { ensureSecretMemory } from './policy.js';
import { ForeignHandleError, InvalidArgumentError, InvalidHandleError, KeyUsageError, ScopeEndedError } from '../errors/index.js';
import { SecretScope } from '../scope/scope.js';
import { scopeForNewKey, scopeGuard } from '../scope/context.js';
import { processShared } from './process-state.js';

const KEY_BRAND = Symbol.for('secret-scope.key');

/** Private-key uses: signature keys, and key-agreement keys of one curve. */
export type AsymmetricUse = 'x25519' | 'ed25519' | 'ecdsa-p256' | 'ecdsa-p384' | 'ecdh-p256' | 'ecdh-p384';
export const ASYMMETRIC_USES: readonly AsymmetricUse[] = ['x25519', 'ed25519', 'ecdsa-p256', 'ecdsa-p384', 'ecdh-p256', 'ecdh-p384'];

/**
 * What a key is for; the addon keeps it on the slot and every operation checks it.
 * 'secret': generic keys (randomKey, importKey, decodeKey) for HKDF, HMAC or AEAD;
 * 'hkdf' (PRKs, derived keys without a use), 'root' and 'shared' ((EC)DH outputs): HKDF only;
 * 'hmac', 'aead': that operation only; the asymmetric uses: their algorithm and publicKey only;
 * 'hpke': an HPKE context's AEAD key || base_nonce (internal to src/crypto/hpke), the HPKE AEAD only.
 */
export type KeyUse = 'secret' | 'hkdf' | 'hmac' | 'aead' | 'root' | 'shared' | 'hpke' | AsymmetricUse;

/** The addon's number for each use (native/keystore.h KeyKind). */
export const USE_IDS: Readonly<Record<KeyUse, number>> = {
  secret: 0,
  x25519: 1,
  hkdf: 3,
  hmac: 4,
  aead: 5,
  root: 6,
  shared: 7,
  ed25519: 8,
  'ecdsa-p256': 9,
  'ecdsa-p384': 10,
  'ecdh-p256': 11,
  'ecdh-p384': 12,
  hpke: 13,
};

/** Operation families, checked against a key's use (the same table as native/key-use.cc). */
export type KeyOperation = 'hkdf' | 'hmac' | 'aead' | 'hpke' | 'publicKey' | AsymmetricUse;

const ALLOWED: Readonly<Record<KeyUse, readonly KeyOperation[]>> = {
  secret: ['hkdf', 'hmac', 'aead'],
  hkdf: ['hkdf'],
  root: ['hkdf'],
  shared: ['hkdf'],
  hmac: ['hmac'],
  aead: ['aead'],
  x25519: ['x25519', 'publicKey'],
  ed25519: ['ed25519', 'publicKey'],
  'ecdsa-p256': ['ecdsa-p256', 'publicKey'],
  'ecdsa-p384': ['ecdsa-p384', 'publicKey'],
  'ecdh-p256': ['ecdh-p256', 'publicKey'],
  'ecdh-p384': ['ecdh-p384', 'publicKey'],
  hpke: ['hpke'],
};

/** `names` as a frozen prototype-less name -> true record: one property read per membership test on a hot path. */
export function nameSet(names: readonly string[]): Readonly<Record<string, true>> {
  return Object.freeze(Object.assign(Object.create(null) as Record<string, true>, Object.fromEntries(names.map((n) => [n, true]))));
}

/** ALLOWED as use -> op -> true, for one property read per check on the hot path. */
const ADMITS: Readonly<Record<string, Readonly<Record<string, true>>>> = Object.freeze(
  Object.assign(Object.create(null) as Record<string, Readonly<Record<string, true>>>, Object.fromEntries(Object.entries(ALLOWED).map(([use, ops]) => [use, nameSet(ops)]))),
);

/** Throws KeyUsageError unless `key.use` admits `op` (the addon checks the same again). */
export function requireUse(key: Key, op: KeyOperation, what: string): void {
  const use = (key as { use?: unknown } | null)?.use as KeyUse | undefined;
  const ops = typeof use === 'string' ? ADMITS[use] : undefined;
  if (ops === undefined) return; // not a Key: keyId() reports it
  if (ops[op] !== true) {
    throw new KeyUsageError(
      'ERR_KEY_USAGE',
      `${what}: this key's use is '${use}', which this operation does not accept (a key serves one purpose)`,
    );
  }
}

export interface KeyOptions {
  /** The scope that owns the key; default: the current scope (if any), else none (release it yourself). */
  scope?: SecretScope | null;
  /** Label kept with the handle for diagnostics (never key bytes). */
  label?: string;
}

let idOf: (k: unknown, what: string) => number;
let makeKey: (id: number, scope: SecretScope | null, length: number, use: KeyUse, label?: string) => Key;

class Key {
  #id: number;
  #scope: SecretScope | null;
  /** Length of the key in bytes (not secret). */
  readonly length: number;
  /** What the key was made for. */
  readonly use: KeyUse;
  readonly label: string | undefined;

  private constructor(id: number, scope: SecretScope | null, length: number, use: KeyUse, label?: string) {
    this.#id = id;
    this.#scope = scope;
    this.length = length;
    this.use = use;
    this.label = label;
  }

  static {
    idOf = (k: unknown, what: string): number => {
      if (typeof k === 'object' && k !== null && #id in k) {
        const key = k as Key;
        if (key.#scope) scopeGuard(key.#scope);
        return key.#id;
      }
      if (typeof k === 'object' && k !== null && (k as Record<symbol, unknown>)[KEY_BRAND] === true) {
        throw new ForeignHandleError(
          'ERR_FOREIGN_HANDLE',
          `${what}: this key belongs to another copy of secret-scope (another thread or module instance)`,
        );
      }
      throw new InvalidHandleError('ERR_INVALID_HANDLE', `${what}: expected a secret-scope Key`);
    };
    makeKey = (id, scope, length, use, label) => new Key(id, scope, length, use, label);
  }

  get [KEY_BRAND](): true {
    return true;
  }

  /** The owning scope, or null for keys the caller releases. */
  get scope(): SecretScope | null {
    return this.#scope;
  }

  /** False once released or once its scope ended. */
  get alive(): boolean {
    return native().keyAlive(this.#id);
  }

  /** Wipes and releases the key now. Using it afterwards throws KeyReleasedError. */
  release(): void {
    native().keyRelease(idOf(this, 'release'));
  }

  toString(): string {
    return `Key(${this.use}${this.label ? ` '${this.label}'` : ''}, ${this.length} bytes)`;
  }

  toJSON(): { key: string } {
    return { key: this.toString() };
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return this.toString();
  }
}

/**
 * The Key class of the first copy of this version loaded in the thread (ESM or CJS build):
 * handles of either copy pass the other's brand check, since both use one addon instance.
 */
const shared = processShared('key', () => ({ Key, idOf, makeKey }));
idOf = shared.idOf;
makeKey = shared.makeKey;
const SharedKey: typeof Key = shared.Key;
type SharedKey = Key;
export { SharedKey as Key };

/** Native id of a key (internal). Checks the brand and the scope. */
export function keyId(k: unknown, what: string): number {
  return idOf(k, what);
}

/** Native scope id for a new key, and the scope object that will own it (internal). */
export function ownerFor(options: KeyOptions | undefined): { scope: SecretScope | null; nativeScope: number } {
  ensureSecretMemory();
  if (options?.label !== undefined && typeof options.label !== 'string') {
    throw new InvalidArgumentError('ERR_INVALID_ARGUMENT', 'key label must be a string');
  }
  const scope = options?.scope === undefined ? (scopeForNewKey() as SecretScope | null) : options.scope;
  if (scope === null) return { scope: null, nativeScope: 0 };
  // The brand check of this build first (cheap); instanceof also admits the other build's scopes.
  if (!SecretScope.isOwn(scope) && !((scope as unknown) instanceof SecretScope)) {
    throw new InvalidArgumentError('ERR_INVALID_ARGUMENT', 'options.scope must be a SecretScope (or null for a key you release yourself)');
  }
  if (!scope.active) throw new ScopeEndedError('ERR_SCOPE_ENDED', 'cannot create a key in a scope that has ended');
  return { scope, nativeScope: scope.nativeId };
}

export function wrapKey(id: number, scope: SecretScope | null, length: number, use: KeyUse, label?: string): Key {
  return makeKey(id, scope, length, use, label);
}
