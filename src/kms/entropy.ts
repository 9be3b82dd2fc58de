/**
 * Entropy for scopes. The only module (with root-keys.ts) that talks to KMS.
 *
 * Every scope's pseudorandom key is HKDF-Extract(salt, remote || local) where
 * `local` is 32 bytes of getrandom entropy made in guarded memory for this
 * scope: a stray copy of the KMS bytes alone (in a TLS buffer, a log) reveals
 * no key. Both inputs are wiped as soon as the extract is done.
 *
 * Forward secrecy of each policy:
 * - per-invocation: each scope's entropy is fetched for it and wiped after the
 *   extract; nothing that outlives the scope can recompute its keys.
 * - prefetch: the next scope's entropy waits in guarded memory, unused; this
 *   scope's own entropy was wiped. Past scopes stay safe; the prefetched value
 *   is as exposed as the process itself.
 * - ratchet: a 32-byte pool in guarded memory is replaced at every scope by
 *   HKDF-Expand(pool, "next") and the old pool wiped; the scope's entropy is
 *   HKDF-Expand(pool, "scope"). HKDF is one-way, so the current pool does not
 *   reveal earlier pools or scopes. KMS entropy is mixed into the pool at most
 *   every N scopes or T ms (fetched in the background; no invocation waits for
 *   it), which bounds how long a captured pool predicts the future. When
 *   refreshes keep failing for twice that long, invocations wait for one again
 *   and fail closed (or degrade, if asked).
 */
import { KmsEntropyError, OptionsError, ScopeEndedError } from '../errors/index.js';
import { hkdfExpand, hkdfExtract, randomKey } from '../crypto/index.js';
import { keyId, wrapKey, USE_IDS, type Key } from '../memory/key.js';
import { native } from '../memory/native.js';
import { purgeEpoch } from '../memory/epoch.js';
import type { SecretScope } from '../scope/scope.js';
import { KmsAccess, loadKms } from './client.js';
import { sendCapturingPlaintext } from './capture.js';

export type EntropyPolicy = 'per-invocation' | 'prefetch' | 'ratchet';

export interface EntropyOptions {
  /** 'kms' (default): KMS GenerateRandom stirred with local entropy; 'local': getrandom only. */
  source?: 'kms' | 'local';
  policy?: EntropyPolicy;
  /** Bytes asked of KMS GenerateRandom (32..1024, default 32). */
  kmsBytes?: number;
  /** Ratchet: mix in fresh KMS entropy at most every this many scopes (default 100)... */
  ratchetEveryInvocations?: number;
  /** ...or after this many ms (default 300000), whichever comes first. */
  ratchetEveryMs?: number;
  /** 'fail' (default): a KMS failure fails the invocation; 'degrade-to-local': log it and use local entropy. */
  onKmsFailure?: 'fail' | 'degrade-to-local';
}

export interface EntropyStats {
  scopes: number;
  kmsCalls: number;
  kmsFailures: number;
  degraded: number;
  /** Times container-lived entropy (the ratchet pool, a prefetched value) was found wiped by a purge and fetched again. */
  purgesRecovered: number;
  lastError?: string;
}

export interface EntropyResult {
  prk: Key;
  source: 'kms' | 'local' | 'local (degraded)' | 'ratchet';
}

export interface Logger {
  warn(message: string, details?: Record<string, unknown>): void;
}

const EXTRACT_SALT = 'secret-scope/v1/extract';
// The per-scope steps call the addon with these bytes made once: encoding the same
// strings and re-checking the same options at every invocation cost more than the HMACs
// on a cache-cold CPU (issue 11). Same bytes, same HKDF as the public functions.
const EXTRACT_SALT_BYTES = Buffer.from(EXTRACT_SALT, 'utf8');
const RATCHET_INFOS = [Buffer.from('secret-scope/v1/ratchet/scope', 'utf8'), Buffer.from('secret-scope/v1/ratchet/next', 'utf8')];
const SHA256 = 0;
const USE_HKDF = USE_IDS.hkdf;
// Receives the two handles of the ratchet step (numbers only, never key bytes).
const ratchetIds = new Float64Array(2);
const ENTROPY_KEYS = ['source', 'policy', 'kmsBytes', 'ratchetEveryInvocations', 'ratchetEveryMs', 'onKmsFailure'];

export function validateEntropyOptions(o: EntropyOptions | undefined): Required<EntropyOptions> {
  const opts = o ?? {};
  for (const k of Object.keys(opts)) {
    if (!ENTROPY_KEYS.includes(k)) throw new OptionsError('ERR_OPTIONS', `entropy: unknown option '${k}'`);
  }
  const source = opts.source ?? 'kms';
  if (source !== 'kms' && source !== 'local') throw new OptionsError('ERR_OPTIONS', "entropy.source must be 'kms' or 'local'");
  const policy = opts.policy ?? 'per-invocation';
  if (!['per-invocation', 'prefetch', 'ratchet'].includes(policy)) {
    throw new OptionsError('ERR_OPTIONS', "entropy.policy must be 'per-invocation', 'prefetch' or 'ratchet'");
  }
  const kmsBytes = opts.kmsBytes ?? 32;
  if (!Number.isInteger(kmsBytes) || kmsBytes < 32 || kmsBytes > 1024) {
    throw new OptionsError('ERR_OPTIONS', 'entropy.kmsBytes must be an integer from 32 to 1024');
  }
  const every = opts.ratchetEveryInvocations ?? 100;
  if (!Number.isInteger(every) || every < 1) throw new OptionsError('ERR_OPTIONS', 'entropy.ratchetEveryInvocations must be a positive integer');
  const everyMs = opts.ratchetEveryMs ?? 300_000;
  if (typeof everyMs !== 'number' || !(everyMs > 0)) throw new OptionsError('ERR_OPTIONS', 'entropy.ratchetEveryMs must be a positive number');
  const onKmsFailure = opts.onKmsFailure ?? 'fail';
  if (onKmsFailure !== 'fail' && onKmsFailure !== 'degrade-to-local') {
    throw new OptionsError('ERR_OPTIONS', "entropy.onKmsFailure must be 'fail' or 'degrade-to-local'");
  }
  return { source, policy, kmsBytes, ratchetEveryInvocations: every, ratchetEveryMs: everyMs, onKmsFailure };
}

export class EntropySource {
  readonly options: Required<EntropyOptions>;
  readonly stats: EntropyStats = { scopes: 0, kmsCalls: 0, kmsFailures: 0, degraded: 0, purgesRecovered: 0 };
  readonly #kms: KmsAccess;
  readonly #logger: Logger;
  #prefetched: Promise<Key> | undefined;
  #pool: Key | undefined;
  /** The purge epoch when the pool was last seen alive: unchanged, no purge can have wiped it. */
  #poolEpoch = -1;
  #poolScopes = 0;
  #poolSince = 0;
  #goodScopes = 0;
  #goodSince = 0;
  #refreshing: Promise<void> | undefined;
  #disposed = false;

  constructor(options: EntropyOptions | undefined, kms: KmsAccess, logger: Logger) {
    this.options = validateEntropyOptions(options);
    this.#kms = kms;
    this.#logger = logger;
  }

  /** Fetches `kmsBytes` from KMS GenerateRandom straight into guarded memory. */
  async fetchKms(scope: SecretScope | null): Promise<Key> {
    this.stats.kmsCalls++;
    try {
      const client = await this.#kms.client();
      const { GenerateRandomCommand } = await loadKms();
      const command = new GenerateRandomCommand({ NumberOfBytes: this.options.kmsBytes });
      const { key } = await sendCapturingPlaintext(client, command as never, { scope, label: 'kms-entropy' });
      return key;
    } catch (e) {
      this.stats.kmsFailures++;
      this.stats.lastError = e instanceof Error ? e.message : String(e);
      throw e instanceof KmsEntropyError ? e : new KmsEntropyError('ERR_KMS', `KMS GenerateRandom failed: ${String(e)}`, { cause: e });
    }
  }

  /**
   * Starts the entropy for a new scope. The returned promise is settled by the
   * time a key is first needed; the KMS request overlaps the handler's work.
   */
  begin(scope: SecretScope): Promise<EntropyResult> {
    this.stats.scopes++;
    const p = this.#begin(scope);
    p.catch(() => undefined); // observed by the scope; never an unhandled rejection
    return p;
  }

  /**
   * The entropy for a new scope when it needs no waiting: local entropy, or a ratchet
   * step from a live pool (a refresh that is due starts in the background, as in
   * begin()). Returns undefined when begin() must be used (KMS per scope or prefetch,
   * the first seeding, refreshes that kept failing). No promise and no async context:
   * every key it makes names its owner explicitly.
   */
  beginSync(scope: SecretScope): EntropyResult | undefined {
    const o = this.options;
    if (o.source === 'local') {
      this.stats.scopes++;
      return { prk: this.#extract(scope, []), source: 'local' };
    }
    if (o.policy !== 'ratchet' || !this.#livePool()) return undefined;
    const now = Date.now();
    if (this.#due(2, this.#goodScopes, this.#goodSince, now)) return undefined;
    this.stats.scopes++;
    this.#maybeRefreshInBackground(now);
    return { prk: this.#ratchetStep(scope), source: 'ratchet' };
  }

  async #begin(scope: SecretScope): Promise<EntropyResult> {
    const o = this.options;
    if (o.source === 'local') return { prk: this.#extract(scope, []), source: 'local' };
    switch (o.policy) {
      case 'per-invocation':
        return this.#withFallback(scope, () => this.fetchKms(scope));
      case 'prefetch': {
        const mine = this.#prefetched ?? this.fetchKms(null);
        this.#prefetched = this.fetchKms(null);
        this.#prefetched.catch(() => undefined);
        return this.#withFallback(scope, async () => {
          const prefetched = await mine;
          if (prefetched.alive) return prefetched;
          // Wiped by a purge while it waited: fetch this scope's entropy now.
          this.#purgeRecovered('the prefetched KMS entropy');
          return this.fetchKms(null);
        });
      }
      case 'ratchet':
        return this.#ratchet(scope);
    }
  }

  async #withFallback(scope: SecretScope, get: () => Promise<Key>): Promise<EntropyResult> {
    let remote: Key;
    try {
      remote = await get();
    } catch (e) {
      if (!scope.active) throw e;
      if (this.options.onKmsFailure === 'degrade-to-local') {
        this.stats.degraded++;
        this.#logger.warn('secret-scope: KMS entropy failed; degrading to local entropy for this scope', {
          error: e instanceof Error ? e.message : String(e),
        });
        return { prk: this.#extract(scope, []), source: 'local (degraded)' };
      }
      throw e;
    }
    try {
      return { prk: this.#extract(scope, [keyId(remote, 'entropy')]), source: 'kms' };
    } finally {
      if (remote.alive) remote.release();
    }
  }

  /**
   * The scope's PRK = HKDF-Extract(salt, remote... || 32 local bytes), the local bytes wiped
   * right after; on the addon directly (the same HKDF as hkdfExtract with its options fixed:
   * this runs once per invocation). Throws ScopeEndedError for an ended scope.
   */
  #extract(scope: SecretScope, remote: readonly number[]): Key {
    if (!scope.active) throw new ScopeEndedError('ERR_SCOPE_ENDED', 'scope ended while waiting for entropy');
    const n = native();
    const localId = n.keyRandom(32, 0);
    try {
      return wrapKey(n.hkdfExtract(SHA256, [...remote, localId], EXTRACT_SALT_BYTES, scope.nativeId), scope, 32, 'hkdf', 'scope-prk');
    } finally {
      n.keyRelease(localId);
    }
  }

  /**
   * One ratchet step, the per-invocation hot path, on the addon directly (the same HKDF as
   * hkdfExpand/hkdfExtract with their options fixed): seed = Expand(pool, "scope") and
   * next = Expand(pool, "next") in one call (HMAC keyed with the pool once; all or
   * nothing), the old pool wiped, then the scope's PRK = Extract(seed || 32 local bytes)
   * with seed and local bytes wiped right after. Throws ScopeEndedError for an ended scope.
   */
  #ratchetStep(scope: SecretScope): Key {
    if (!scope.active) throw new ScopeEndedError('ERR_SCOPE_ENDED', 'scope ended while waiting for entropy');
    const n = native();
    const pool = this.#pool!;
    const poolId = keyId(pool, 'ratchet');
    n.hkdfExpandMany(SHA256, poolId, RATCHET_INFOS, 32, 0, ratchetIds, USE_HKDF);
    const seedId = ratchetIds[0]!;
    const nextId = ratchetIds[1]!;
    ratchetIds.fill(0);
    n.keyRelease(poolId);
    this.#pool = wrapKey(nextId, null, 32, 'hkdf', 'ratchet-pool');
    this.#poolScopes++;
    this.#goodScopes++;
    try {
      return this.#extract(scope, [seedId]);
    } finally {
      n.keyRelease(seedId);
    }
  }

  #due(times: number, scopes: number, since: number, now: number): boolean {
    const o = this.options;
    return scopes >= o.ratchetEveryInvocations * times || now - since >= o.ratchetEveryMs * times;
  }

  /** Due: fetch fresh KMS entropy in the background and mix it in when it lands. */
  #maybeRefreshInBackground(now: number): void {
    if (!this.#due(1, this.#poolScopes, this.#poolSince, now) || this.#refreshing) return;
    // The current pool keeps forward secrecy meanwhile, so no invocation waits for KMS.
    this.#poolScopes = 0;
    this.#poolSince = now;
    this.#startRefresh().catch((e: unknown) => {
      this.#logger.warn('secret-scope: KMS refresh of the ratchet failed; ratcheting on the current pool', {
        error: e instanceof Error ? e.message : String(e),
      });
    });
  }

  /** Counts and logs a purge that wiped container-lived entropy; the caller fetches anew. */
  #purgeRecovered(what: string): void {
    this.stats.purgesRecovered++;
    this.#logger.warn(`secret-scope: ${what} was wiped by a purge; fetching fresh entropy from KMS`, {
      purgesRecovered: this.stats.purgesRecovered,
    });
  }

  /** The ratchet pool if it is still alive; a pool a purge wiped is dropped (and counted). */
  #livePool(): Key | undefined {
    const pool = this.#pool;
    if (!pool) return undefined;
    // Every wipe of all keys (purgeAllSecrets, a canary violation, the exit purge) bumps the
    // epoch; only then ask the addon (one native call less per invocation).
    const epoch = purgeEpoch();
    if (epoch === this.#poolEpoch) return pool;
    if (!pool.alive) {
      this.#pool = undefined;
      this.#purgeRecovered('the ratchet pool');
      return undefined;
    }
    this.#poolEpoch = epoch;
    return pool;
  }

  async #ratchet(scope: SecretScope): Promise<EntropyResult> {
    if (!this.#livePool()) {
      await this.#refreshNow(); // the first seeding: nothing to ratchet from yet
    } else if (this.#due(2, this.#goodScopes, this.#goodSince, Date.now())) {
      // Refreshes kept failing for twice the interval: wait for one (fail closed, or degrade).
      await this.#refreshNow();
    } else {
      this.#maybeRefreshInBackground(Date.now());
    }
    if (!scope.active) throw new ScopeEndedError('ERR_SCOPE_ENDED', 'scope ended while waiting for entropy');
    // A purge during the wait above wiped the pool just seeded: seed it once more.
    if (!this.#livePool()) await this.#refreshNow();
    return { prk: this.#ratchetStep(scope), source: 'ratchet' };
  }

  /** Awaits a refresh (shared with one already in flight); on failure fails closed or degrades. */
  async #refreshNow(): Promise<void> {
    try {
      await this.#startRefresh();
    } catch (e) {
      if (this.options.onKmsFailure !== 'degrade-to-local') throw e;
      this.stats.degraded++;
      this.#logger.warn('secret-scope: KMS entropy for the ratchet failed; continuing on local entropy', {
        error: e instanceof Error ? e.message : String(e),
      });
      if (!this.#livePool()) this.#pool = randomKey(32, { scope: null, label: 'ratchet-pool' });
      this.#poolScopes = 0;
      this.#poolSince = Date.now();
      this.#goodScopes = 0;
      this.#goodSince = Date.now();
    }
  }

  #startRefresh(): Promise<void> {
    this.#refreshing ??= this.#refresh().finally(() => {
      this.#refreshing = undefined;
    });
    return this.#refreshing;
  }

  async #refresh(): Promise<void> {
    const fresh = await this.fetchKms(null);
    if (this.#disposed) {
      fresh.release();
      return;
    }
    try {
      // Mixed into the pool as it is when the KMS bytes land (it may have ratcheted since,
      // or a purge may have wiped it: then the fresh bytes alone seed the new pool).
      const old = this.#livePool();
      const mixed = hkdfExtract(old ? [old, fresh] : [fresh], { salt: 'secret-scope/v1/ratchet/refresh', scope: null });
      let pool: Key;
      try {
        // Expand to a 32-byte pool so that every pool has the same shape.
        pool = hkdfExpand(mixed, { info: 'secret-scope/v1/ratchet/pool', length: 32, scope: null, label: 'ratchet-pool' });
      } finally {
        mixed.release();
      }
      if (old?.alive) old.release();
      this.#pool = pool;
      if (!old) {
        this.#poolScopes = 0;
        this.#poolSince = Date.now();
      }
      this.#goodScopes = 0;
      this.#goodSince = Date.now();
    } finally {
      fresh.release();
    }
  }

  /** Settles when no background KMS refresh is in flight (tests, orderly shutdown). */
  async idle(): Promise<void> {
    while (this.#refreshing) await this.#refreshing.catch(() => undefined);
  }

  /** Wipes container-lived entropy (prefetched value, ratchet pool); a refresh landing later is dropped. */
  dispose(): void {
    this.#disposed = true;
    if (this.#pool?.alive) this.#pool.release();
    this.#pool = undefined;
    const p = this.#prefetched;
    this.#prefetched = undefined;
    p?.then((k) => k.alive && k.release()).catch(() => undefined);
  }
}
