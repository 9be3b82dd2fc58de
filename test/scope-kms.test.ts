/**
 * Issue 3: entropy and root keys from KMS, against the local KMS endpoint with
 * the real @aws-sdk/client-kms.
 * - entropy policies: KMS GenerateRandom calls per policy (endpoint stats);
 * - root keys: one Decrypt per core; root-derived keys are stable per context,
 *   differ across contexts, and equal node:crypto's HKDF over the known root key
 *   with the documented info layout; GenerateDataKey via generateRootKey;
 * - every injected fault fails closed (KmsEntropyError, no partial scope) or,
 *   with onKmsFailure 'degrade-to-local', degrades with a warning.
 */
import { createHmac, hkdfSync, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  generateRootKey,
  hkdf,
  hmacSign,
  exposeUnsafe,
  protectionReport,
  randomKey,
  withSecretScope,
  InvocationScope,
  KmsAccess,
  KmsEntropyError,
  ScopeEndedError,
  SecretScopeCore,
  TimeoutError,
  type Key,
  type SecretScopeOptions,
} from '../src/index.js';
import { withCore } from '../src/lambda/wrapper.js';
// The documented HKDF info, recomputed by the auditor independently of src/lambda/invocation.ts.
import { rootDerivedInfo } from '../src/audit/auditor.js';
import { baseline, calls, clientConfig, expectDead, expectWiped, startKms, thrown, until, useKmsEnv, type KmsLocal } from './helpers/kms.js';

type Ctx = Record<string, unknown> & { secretScope?: InvocationScope; getRemainingTimeInMillis?: () => number };

let kms: KmsLocal;
beforeAll(async () => {
  kms = await startKms();
});
afterAll(async () => {
  await kms?.close();
});
beforeEach(() => {
  kms.setFaults(undefined);
  kms.clearIssued();
});

const settle = <T>(p: Promise<T>) => p.then((value) => ({ ok: true as const, value }), (error: unknown) => ({ ok: false as const, error }));


/** A root-derived key recomputed outside secret-scope. */
function rootDerived(root: Uint8Array, name: string, use: string, context: string | undefined, o: { hash?: 'sha256' | 'sha512'; salt?: string; length?: number } = {}): Buffer {
  return Buffer.from(hkdfSync(o.hash ?? 'sha256', root, o.salt ?? 'secret-scope/v1', rootDerivedInfo(name, use, context), o.length ?? 32));
}

/** A handler that derives `names` and returns their HMAC tags over MSG. */
const MSG = 'tag me';
function tagging(names: string[], seen?: { scopes: InvocationScope[]; keys: Key[] }) {
  return async (_event: unknown, context: Ctx) => {
    const scope = context.secretScope!;
    seen?.scopes.push(scope);
    const out: Record<string, string> = {};
    for (const n of names) {
      const k = await scope.key(n);
      seen?.keys.push(k);
      // Key separation: only hmac keys take hmacSign; the others are observed through their bytes
      // (the same tag, computed by node:crypto), which also releases them.
      out[n] = k.use === 'hmac'
        ? hmacSign(k, MSG).toString('hex')
        : exposeUnsafe(k, (b) => createHmac('sha256', b).update(MSG).digest('hex'));
    }
    out.source = String(scope.entropySource);
    return out;
  };
}

describe('entropy policies: KMS GenerateRandom calls', () => {
  const keys = { mac: { use: 'hmac' as const } };

  it('per-invocation: exactly one GenerateRandom per invocation (sequential and 64 concurrent)', async () => {
    const base = baseline();
    const seen = { scopes: [] as InvocationScope[], keys: [] as Key[] };
    const h = withSecretScope(tagging(['mac'], seen), { keys, kms: { clientConfig: clientConfig(kms) } });
    const before = calls(kms, 'GenerateRandom');
    const tags: string[] = [];
    for (let i = 0; i < 10; i++) {
      const r = (await h({}, {})) as Record<string, string>;
      expect(r.source).toBe('kms');
      tags.push(r.mac!);
    }
    expect(calls(kms, 'GenerateRandom') - before).toBe(10);
    const concurrent = (await Promise.all(Array.from({ length: 64 }, () => h({}, {})))) as Array<Record<string, string>>;
    expect(calls(kms, 'GenerateRandom') - before).toBe(74);
    tags.push(...concurrent.map((r) => r.mac!));
    expect(new Set(tags).size).toBe(74);
    // every issued GenerateRandom plaintext is 32 bytes (kmsBytes default)
    const issued = kms.issued.filter((x) => x.operation === 'GenerateRandom');
    expect(issued).toHaveLength(74);
    for (const x of issued) expect(x.plaintext.length).toBe(32);
    expectWiped(base, seen.scopes.at(-1), seen.keys);
    for (const s of seen.scopes) expect(s.active).toBe(false);
    for (const k of seen.keys) expectDead(k);
  });

  it('per-invocation: the request is made at scope open, even if the handler never asks for a key; a late answer leaves nothing behind', async () => {
    const base = baseline();
    kms.setFaults({ operations: { GenerateRandom: { latencyMs: 30 } } });
    const h = withSecretScope(async () => 'no keys used', { keys, kms: { clientConfig: clientConfig(kms) } });
    const before = calls(kms, 'GenerateRandom');
    for (let i = 0; i < 3; i++) expect(await h({}, {})).toBe('no keys used');
    await until(() => calls(kms, 'GenerateRandom') - before === 3, '3 GenerateRandom calls');
    // The endpoint records an answer when it sends it (after the injected latency): wait for all
    // three, so no late answer lands in the next test's record.
    await until(() => kms.issued.filter((x) => x.operation === 'GenerateRandom').length === 3, '3 answers sent');
    await until(() => protectionReport().liveSlots === base.liveSlots, 'late KMS answers wiped');
    expect(baseline()).toEqual(base);
  });

  it('kmsBytes: GenerateRandom asks for that many bytes', async () => {
    const h = withSecretScope(tagging(['mac']), { keys, entropy: { kmsBytes: 96 }, kms: { clientConfig: clientConfig(kms) } });
    await h({}, {});
    const issued = kms.issued.filter((x) => x.operation === 'GenerateRandom');
    expect(issued.map((x) => x.plaintext.length)).toEqual([96]);
  });

  it('the default client finds the endpoint through AWS_ENDPOINT_URL_KMS / AWS_REGION / credentials in env', async () => {
    const restore = useKmsEnv(kms);
    try {
      const h = withSecretScope(tagging(['mac']), { keys });
      const before = calls(kms, 'GenerateRandom');
      const r = (await h({}, {})) as Record<string, string>;
      expect(r.source).toBe('kms');
      expect(calls(kms, 'GenerateRandom') - before).toBe(1);
    } finally {
      restore();
    }
  });

  it('prefetch: the next invocation\'s entropy is fetched during this one (calls = invocations + 1)', async () => {
    const base = baseline();
    const core = new SecretScopeCore({ keys, entropy: { policy: 'prefetch' }, kms: { clientConfig: clientConfig(kms) } });
    const h = withCore(tagging(['mac']), core);
    const before = calls(kms, 'GenerateRandom');
    const N = 8;
    const tags = new Set<string>();
    for (let i = 0; i < N; i++) {
      const r = (await h({}, {})) as Record<string, string>;
      expect(r.source).toBe('kms');
      tags.add(r.mac!);
    }
    await until(() => calls(kms, 'GenerateRandom') - before === N + 1, 'N + 1 calls');
    expect(core.entropy.stats.kmsCalls).toBe(N + 1);
    expect(tags.size).toBe(N);
    // the prefetched value waits in guarded memory; dispose() wipes it
    await until(() => protectionReport().liveSlots === base.liveSlots + 1, 'prefetched entropy landed');
    core.dispose();
    await until(() => protectionReport().liveSlots === base.liveSlots, 'prefetched entropy wiped by dispose()');
    expect(baseline()).toEqual(base);
  });

  it('ratchet: ceil(invocations / ratchetEveryInvocations) calls', async () => {
    const base = baseline();
    const core = new SecretScopeCore({ keys, entropy: { policy: 'ratchet', ratchetEveryInvocations: 5 }, kms: { clientConfig: clientConfig(kms) } });
    const h = withCore(tagging(['mac']), core);
    const before = calls(kms, 'GenerateRandom');
    const tags = new Set<string>();
    for (let i = 0; i < 12; i++) {
      const r = (await h({}, {})) as Record<string, string>;
      expect(r.source).toBe('ratchet');
      tags.add(r.mac!);
      // A due refresh runs in the background (no invocation waits for it); let it land so
      // that the count is exact.
      await core.entropy.idle();
    }
    expect(calls(kms, 'GenerateRandom') - before).toBe(Math.ceil(12 / 5));
    expect(core.entropy.stats.kmsCalls).toBe(3);
    expect(tags.size).toBe(12);
    expect(protectionReport().liveSlots).toBe(base.liveSlots + 1); // the pool
    core.dispose();
    expect(baseline()).toEqual(base);
  });

  it('ratchet: a due refresh runs in the background; failing refreshes are served from the pool until twice the interval, then fail closed', async () => {
    const base = baseline();
    const warnings: string[] = [];
    const core = new SecretScopeCore({
      keys,
      entropy: { policy: 'ratchet', ratchetEveryInvocations: 2 },
      kms: { clientConfig: clientConfig(kms) },
      logger: { warn: (m) => warnings.push(m) },
    });
    const h = withCore(tagging(['mac']), core);
    expect(((await h({}, {})) as Record<string, string>).source).toBe('ratchet'); // seeded
    // Every later GenerateRandom is slow, then failing: no invocation may wait for it.
    kms.setFaults({ operations: { GenerateRandom: { latencyMs: 200, throttle: true } } });
    // Scopes 2..4: the refresh due at scope 3 starts in the background and fails; all three are served.
    for (let i = 0; i < 3; i++) expect(((await h({}, {})) as Record<string, string>).source).toBe('ratchet');
    const started = calls(kms, 'GenerateRandom');
    await core.entropy.idle();
    expect(core.entropy.stats.kmsFailures).toBe(1); // the background refresh failed...
    expect(warnings.join('\n')).toMatch(/refresh of the ratchet failed/); // ...and said so
    // Twice the interval (4 scopes) since the last good refresh: scope 5 waits for one, which fails.
    const r = await h({}, {}).then(() => 'ok', (e: unknown) => e);
    expect(r).toBeInstanceOf(KmsEntropyError);
    expect(calls(kms, 'GenerateRandom')).toBeGreaterThan(started);
    kms.setFaults(undefined);
    expect(((await h({}, {})) as Record<string, string>).source).toBe('ratchet'); // recovers
    core.dispose();
    expect(baseline()).toEqual(base);
  });

  it('ratchet with concurrent invocations: one refresh shared by all', async () => {
    const core = new SecretScopeCore({ keys, entropy: { policy: 'ratchet', ratchetEveryInvocations: 100 }, kms: { clientConfig: clientConfig(kms) } });
    const h = withCore(tagging(['mac']), core);
    const before = calls(kms, 'GenerateRandom');
    const rs = (await Promise.all(Array.from({ length: 20 }, () => h({}, {})))) as Array<Record<string, string>>;
    expect(calls(kms, 'GenerateRandom') - before).toBe(1);
    expect(new Set(rs.map((r) => r.mac)).size).toBe(20);
    core.dispose();
  });

  it('local source: no KMS call at all', async () => {
    const base = baseline();
    const h = withSecretScope(tagging(['mac']), { keys, entropy: { source: 'local' }, kms: { clientConfig: clientConfig(kms) } });
    const before = { ...kms.stats.calls };
    for (let i = 0; i < 5; i++) expect(((await h({}, {})) as Record<string, string>).source).toBe('local');
    expect(kms.stats.calls).toEqual(before);
    expect(baseline()).toEqual(base);
  });
});

describe('root keys', () => {
  const keyId = () => kms.defaultKey.keyId;
  const ctx = { app: 'scope-kms-test' };
  let root: Buffer;
  let blob: string;
  beforeAll(() => {
    root = randomBytes(32);
    blob = kms.encryptForTest(keyId(), root, ctx).toString('base64');
  });
  const rootOptions = (extra: Partial<SecretScopeOptions> = {}): SecretScopeOptions => ({
    keys: {
      tenantMac: { use: 'hmac', from: 'root', context: (e: unknown) => (e as { tenant?: string }).tenant },
      appKey: { use: 'hkdf', from: 'root' },
    },
    root: { ciphertextBlob: blob, keyId: keyId(), encryptionContext: ctx },
    kms: { clientConfig: clientConfig(kms) },
    ...extra,
  });

  it('one Decrypt per core for many invocations; stable per tenant, distinct across tenants, equal to node:crypto HKDF', async () => {
    const base = baseline();
    const seen = { scopes: [] as InvocationScope[], keys: [] as Key[] };
    const h = withSecretScope(tagging(['tenantMac', 'appKey'], seen), rootOptions());
    const d0 = calls(kms, 'Decrypt');
    const g0 = calls(kms, 'GenerateRandom');
    const tenants = ['t1', 't2', 't3'];
    const results: Array<[string, Record<string, string>]> = [];
    // the first 16 concurrently (one Decrypt shared by all), then sequential ones
    const first = await Promise.all(Array.from({ length: 16 }, (_, i) => h({ tenant: tenants[i % 3] }, {}).then((r) => [tenants[i % 3]!, r as Record<string, string>] as [string, Record<string, string>])));
    results.push(...first);
    for (let i = 0; i < 9; i++) results.push([tenants[i % 3]!, (await h({ tenant: tenants[i % 3] }, {})) as Record<string, string>]);
    expect(calls(kms, 'Decrypt') - d0).toBe(1);
    expect(calls(kms, 'GenerateRandom') - g0).toBe(0); // only root-derived keys: no entropy needed
    const byTenant = new Map<string, Set<string>>();
    for (const [t, r] of results) {
      if (!byTenant.has(t)) byTenant.set(t, new Set());
      byTenant.get(t)!.add(r.tenantMac!);
    }
    for (const t of tenants) expect(byTenant.get(t)!.size, `tenant ${t}: one key across invocations`).toBe(1);
    const perTenant = tenants.map((t) => [...byTenant.get(t)!][0]!);
    expect(new Set(perTenant).size).toBe(3);
    for (const t of tenants) {
      const expected = createHmac('sha256', rootDerived(root, 'tenantMac', 'hmac', t)).update(MSG).digest('hex');
      expect([...byTenant.get(t)!][0]).toBe(expected);
    }
    // no context: the info ends with an empty (length 0) context
    const app = new Set(results.map(([, r]) => r.appKey));
    expect([...app]).toEqual([createHmac('sha256', rootDerived(root, 'appKey', 'hkdf', undefined)).update(MSG).digest('hex')]);
    // the endpoint issued exactly the root key
    const dec = kms.issued.filter((x) => x.operation === 'Decrypt');
    expect(dec).toHaveLength(1);
    expect(dec[0]!.plaintext.equals(root)).toBe(true);
    // scopes wiped; only the container-lived root key remains
    for (const s of seen.scopes) expect(s.active).toBe(false);
    for (const k of seen.keys) expectDead(k);
    expect(protectionReport().liveSlots).toBe(base.liveSlots + 1);
    expect(protectionReport().liveScopes).toBe(base.liveScopes);
  });

  it('hash sha512, a custom salt and a 64-byte key: still what node:crypto computes', async () => {
    const core = new SecretScopeCore({
      ...rootOptions(),
      keys: { wide: { use: 'hmac', from: 'root', length: 64, context: (e: unknown) => (e as { tenant: string }).tenant } },
      hash: 'sha512',
      salt: 'my-app-salt',
    });
    const h = withCore(async (_e: unknown, c: Ctx) => {
      const k = await c.secretScope!.key('wide');
      expect(k.length).toBe(64);
      return hmacSign(k, MSG, { hash: 'sha512' }).toString('hex');
    }, core);
    const tag = await h({ tenant: 'ünïcode-tenant' }, {});
    const expected = createHmac('sha512', rootDerived(root, 'wide', 'hmac', 'ünïcode-tenant', { hash: 'sha512', salt: 'my-app-salt', length: 64 }))
      .update(MSG)
      .digest('hex');
    expect(tag).toBe(expected);
    core.dispose();
  });

  it('a root key together with entropy keys: one Decrypt, one GenerateRandom per invocation', async () => {
    const core = new SecretScopeCore(rootOptions({ keys: { t: { use: 'hmac', from: 'root', context: () => 'x' }, fresh: { use: 'hmac' } } }));
    const h = withCore(tagging(['t', 'fresh']), core);
    const d0 = calls(kms, 'Decrypt');
    const g0 = calls(kms, 'GenerateRandom');
    const rs = [] as Array<Record<string, string>>;
    for (let i = 0; i < 4; i++) rs.push((await h({}, {})) as Record<string, string>);
    expect(calls(kms, 'Decrypt') - d0).toBe(1);
    expect(calls(kms, 'GenerateRandom') - g0).toBe(4);
    expect(new Set(rs.map((r) => r.t)).size).toBe(1);
    expect(new Set(rs.map((r) => r.fresh)).size).toBe(4);
    core.dispose();
  });

  it('a failed Decrypt fails closed (KmsEntropyError from scope.key()) and the next invocation retries', async () => {
    const base = baseline();
    const core = new SecretScopeCore(rootOptions());
    const h = withCore(tagging(['tenantMac']), core);
    kms.setFaults({ operations: { Decrypt: { serverError: { count: 1 } } } });
    const d0 = calls(kms, 'Decrypt');
    const r1 = await settle(h({ tenant: 'a' }, {}));
    expect(r1.ok).toBe(false);
    expect((r1 as { error: unknown }).error).toBeInstanceOf(KmsEntropyError);
    expect(((r1 as { error: KmsEntropyError & { kmsErrorName?: string } }).error).kmsErrorName).toBe('KMSInternalException');
    expect(baseline()).toEqual(base);
    const r2 = (await h({ tenant: 'a' }, {})) as Record<string, string>;
    expect(calls(kms, 'Decrypt') - d0).toBe(2);
    expect(r2.tenantMac).toBe(createHmac('sha256', rootDerived(root, 'tenantMac', 'hmac', 'a')).update(MSG).digest('hex'));
    core.dispose();
    await until(() => protectionReport().liveSlots === base.liveSlots, 'root key wiped by dispose()');
  });

  it('a blob under another encryption context is refused: KmsEntropyError', async () => {
    const h = withSecretScope(tagging(['appKey']), rootOptions({ root: { ciphertextBlob: blob, keyId: keyId(), encryptionContext: { app: 'other' } } }));
    const r = await settle(h({}, {}));
    expect((r as { error: unknown }).error).toBeInstanceOf(KmsEntropyError);
  });

  it('generateRootKey: GenerateDataKey gives a sealed root key and a blob that Decrypt turns into the same key', async () => {
    const base = baseline();
    const access = new KmsAccess({ clientConfig: clientConfig(kms) });
    const g0 = calls(kms, 'GenerateDataKey');
    const { key, ciphertextBlob } = await generateRootKey(access, { keyId: 'alias/secret-scope-local', encryptionContext: ctx });
    expect(calls(kms, 'GenerateDataKey') - g0).toBe(1);
    expect(key.use).toBe('root');
    expect(key.length).toBe(32);
    expect(key.scope).toBeNull();
    const issued = kms.issued.filter((x) => x.operation === 'GenerateDataKey');
    expect(issued).toHaveLength(1);
    const plain = issued[0]!.plaintext;
    expect(typeof ciphertextBlob).toBe('string');
    // the generated key itself derives what node:crypto derives from the issued plaintext
    const d = hkdf(key, { salt: 'secret-scope/v1', info: rootDerivedInfo('x', 'hmac', 'c'), length: 32, scope: null, use: 'hmac' });
    expect(hmacSign(d, MSG).toString('hex')).toBe(createHmac('sha256', rootDerived(plain, 'x', 'hmac', 'c')).update(MSG).digest('hex'));
    d.release();
    key.release();
    // a core given the blob decrypts it to the same key
    const core = new SecretScopeCore({ ...rootOptions(), root: { ciphertextBlob, keyId: 'alias/secret-scope-local', encryptionContext: ctx } });
    const tag = (await withCore(tagging(['tenantMac']), core)({ tenant: 'z' }, {})) as Record<string, string>;
    expect(tag.tenantMac).toBe(createHmac('sha256', rootDerived(plain, 'tenantMac', 'hmac', 'z')).update(MSG).digest('hex'));
    expect(kms.issued.filter((x) => x.operation === 'Decrypt').map((x) => x.plaintext.equals(plain))).toEqual([true]);
    core.dispose();
    await until(() => protectionReport().liveSlots === base.liveSlots, 'all root keys wiped');
  });
});

describe('KMS faults: fail closed, or degrade to local when asked', () => {
  const keys = { mac: { use: 'hmac' as const }, enc: { use: 'aead' as const } };
  // kmsErrorName: the SDK's error name for modelled KMS errors; `sdkError`: some SDK
  // error name (transport errors: 'TimeoutError', 'Error', ...) and a cause.
  const FAULTS: Array<{ kind: string; faults: object; code: string; kmsErrorName?: string; sdkError?: boolean; client?: object }> = [
    { kind: 'throttle', faults: { throttle: true }, code: 'ERR_KMS', kmsErrorName: 'ThrottlingException' },
    { kind: 'serverError 500', faults: { serverError: true }, code: 'ERR_KMS', kmsErrorName: 'KMSInternalException' },
    { kind: 'serverError 503', faults: { serverError: { status: 503 } }, code: 'ERR_KMS', kmsErrorName: 'DependencyTimeoutException' },
    { kind: 'malformedJson', faults: { malformedJson: true }, code: 'ERR_KMS_MALFORMED' },
    { kind: 'truncatedBody', faults: { truncatedBody: true }, code: 'ERR_KMS', sdkError: true },
    { kind: 'connectionReset', faults: { connectionReset: true }, code: 'ERR_KMS', sdkError: true },
    { kind: 'latency beyond the client requestTimeout', faults: { latencyMs: 400 }, code: 'ERR_KMS', sdkError: true, client: { requestHandler: { requestTimeout: 40, throwOnRequestTimeout: true } } },
  ];

  for (const f of FAULTS) {
    it(`${f.kind}: KmsEntropyError (${f.code}${f.kmsErrorName ? `, ${f.kmsErrorName}` : ''}) from scope.key() and the invocation; no partial scope`, async () => {
      const base = baseline();
      kms.setFaults({ operations: { GenerateRandom: f.faults } });
      let scope: InvocationScope | undefined;
      const inside: Record<string, unknown> = {};
      const other: Key[] = [];
      const h = withSecretScope(async (_e: unknown, c: Ctx) => {
        scope = c.secretScope;
        other.push(randomKey(32)); // a key the handler made itself: wiped too
        const e1 = await scope!.key('mac').then(() => undefined, (e: unknown) => e);
        inside.keyError = e1;
        inside.secondKey = await scope!.key('enc').then(() => undefined, (e: unknown) => e);
        inside.scopeKeys = scope!.keyCount; // only the handler's own key
        inside.liveSlots = protectionReport().liveSlots - base.liveSlots;
        throw e1;
      }, { keys, kms: { clientConfig: clientConfig(kms, f.client ?? {}) } });
      const g0 = calls(kms, 'GenerateRandom');
      const r = await settle(h({}, {}));
      expect(calls(kms, 'GenerateRandom') - g0).toBe(1); // maxAttempts 1: no retry
      expect(r.ok).toBe(false);
      const err = (r as { error: KmsEntropyError & { kmsErrorName?: string } }).error;
      expect(err).toBeInstanceOf(KmsEntropyError);
      expect(inside.keyError).toBe(err);
      expect(inside.secondKey).toBeInstanceOf(KmsEntropyError);
      expect(err.code).toBe(f.code);
      if (f.kmsErrorName) expect(err.kmsErrorName).toBe(f.kmsErrorName);
      if (f.kmsErrorName || f.sdkError) {
        expect(typeof err.kmsErrorName).toBe('string');
        expect(err.kmsErrorName!.length).toBeGreaterThan(0);
        expect(err.cause).toBeDefined();
      }
      expect(err.message).not.toMatch(/[A-Za-z0-9+/]{43}=/); // no base64 key material in messages
      expect(inside.scopeKeys).toBe(1);
      expect(inside.liveSlots).toBe(1);
      expectWiped(base, scope, other);
      expect(scope!.entropySource).toBeUndefined();
    });

    it(`${f.kind} with onKmsFailure 'degrade-to-local': succeeds on local entropy, warns`, async () => {
      const base = baseline();
      kms.setFaults({ operations: { GenerateRandom: f.faults } });
      const warnings: Array<[string, unknown]> = [];
      const seen = { scopes: [] as InvocationScope[], keys: [] as Key[] };
      const h = withSecretScope(tagging(['mac', 'enc'], seen), {
        keys,
        entropy: { onKmsFailure: 'degrade-to-local' },
        kms: { clientConfig: clientConfig(kms, f.client ?? {}) },
        logger: { warn: (m, d) => void warnings.push([m, d]) },
      });
      const r = (await h({}, {})) as Record<string, string>;
      expect(r.source).toBe('local (degraded)');
      expect(seen.scopes[0]!.entropySource).toBe('local (degraded)');
      expect(r.mac).toMatch(/^[0-9a-f]{64}$/);
      expect(warnings).toHaveLength(1);
      expect(warnings[0]![0]).toMatch(/degrad/i);
      expectWiped(base, seen.scopes[0], seen.keys);
    });
  }

  it('latency alone (no client timeout) is not a failure: KMS entropy, just later', async () => {
    kms.setFaults({ operations: { GenerateRandom: { latencyMs: 50 } } });
    const h = withSecretScope(tagging(['mac']), { keys, kms: { clientConfig: clientConfig(kms) } });
    expect(((await h({}, {})) as Record<string, string>).source).toBe('kms');
    expect(kms.stats.faults.latency).toBeGreaterThan(0);
  });

  it('latency past timeoutEarlyInMillis: TimeoutError, wiped; the late KMS answer revives nothing', async () => {
    const base = baseline();
    kms.setFaults({ operations: { GenerateRandom: { latencyMs: 150 } } });
    let scope: InvocationScope | undefined;
    let late: unknown;
    const done = (() => {
      let r!: () => void;
      return { p: new Promise<void>((res) => (r = res)), r: () => r() };
    })();
    const h = withSecretScope(async (_e: unknown, c: Ctx) => {
      scope = c.secretScope;
      late = await scope!.key('mac').then((k) => k, (e: unknown) => e);
      done.r();
    }, { keys, timeoutEarlyInMillis: 20, kms: { clientConfig: clientConfig(kms) } });
    const g0 = calls(kms, 'GenerateRandom');
    const r = await settle(h({}, { getRemainingTimeInMillis: () => 30 }));
    expect((r as { error: unknown }).error).toBeInstanceOf(TimeoutError);
    expect(scope!.active).toBe(false);
    expect(protectionReport().liveScopes).toBe(base.liveScopes);
    await done.p; // the KMS answer arrived after the scope ended
    expect(calls(kms, 'GenerateRandom') - g0).toBe(1);
    expect(late instanceof ScopeEndedError || late instanceof KmsEntropyError, `got ${String(late)}`).toBe(true);
    expect(baseline()).toEqual(base);
  });

  it('prefetch fails closed too, and recovers on the next invocation', async () => {
    const base = baseline();
    const core = new SecretScopeCore({ keys, entropy: { policy: 'prefetch' }, kms: { clientConfig: clientConfig(kms) } });
    const h = withCore(tagging(['mac']), core);
    kms.setFaults({ operations: { GenerateRandom: { throttle: { count: 2 } } } }); // this one and the prefetch
    const r1 = await settle(h({}, {}));
    expect((r1 as { error: unknown }).error).toBeInstanceOf(KmsEntropyError);
    expect(((r1 as { error: KmsEntropyError & { kmsErrorName?: string } }).error).kmsErrorName).toBe('ThrottlingException');
    // the failed prefetch fails the next one too (fail closed), the one after recovers
    const r2 = await settle(h({}, {}));
    expect(r2.ok).toBe(false);
    const r3 = (await h({}, {})) as Record<string, string>;
    expect(r3.source).toBe('kms');
    core.dispose();
    await until(() => protectionReport().liveSlots === base.liveSlots, 'prefetched entropy wiped');
  });

  it('ratchet: a failed first seeding fails closed; degrade-to-local seeds locally with a warning', async () => {
    kms.setFaults({ operations: { GenerateRandom: { serverError: true } } });
    const failing = new SecretScopeCore({ keys, entropy: { policy: 'ratchet' }, kms: { clientConfig: clientConfig(kms) } });
    const r = await settle(withCore(tagging(['mac']), failing)({}, {}));
    expect((r as { error: unknown }).error).toBeInstanceOf(KmsEntropyError);
    failing.dispose();
    const warnings: string[] = [];
    const degrading = new SecretScopeCore({
      keys,
      entropy: { policy: 'ratchet', onKmsFailure: 'degrade-to-local' },
      kms: { clientConfig: clientConfig(kms) },
      logger: { warn: (m) => void warnings.push(m) },
    });
    const ok = (await withCore(tagging(['mac']), degrading)({}, {})) as Record<string, string>;
    expect(ok.source).toBe('ratchet');
    expect(warnings).toHaveLength(1);
    expect(degrading.entropy.stats.degraded).toBe(1);
    degrading.dispose();
  });
});
