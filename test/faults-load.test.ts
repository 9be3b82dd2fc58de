/**
 * KMS faults under load (issue 4): 200 invocations at concurrency 32 of a wrapped
 * handler with KMS entropy per invocation, against the local endpoint injecting a fault
 * mix by probability (throttling 20 %, 5xx 10 % as 500 and 503, malformed and truncated
 * bodies, connection resets, latency spikes), with a seeded random source so a run is
 * reproducible. The KMS client makes one attempt (maxAttempts: 1): every injected
 * terminal fault is one failed KMS call.
 *
 * - onKmsFailure 'fail' (default): each invocation either succeeds with KMS entropy or
 *   rejects with a KmsEntropyError (fail closed, typed: ERR_KMS / ERR_KMS_MALFORMED,
 *   with the SDK's error name); failures = injected terminal faults = stats.kmsFailures;
 *   afterwards no key and no scope is alive (no partial scope survives a failure).
 * - onKmsFailure 'degrade-to-local': the same mix, every invocation succeeds, and
 *   stats.degraded = stats.kmsFailures = injected faults = scopes whose entropySource is
 *   'local (degraded)'.
 * Counts are asserted against each other, never against time.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { startKmsLocal, type KmsFaults, type KmsLocal } from '../src/kms-local/index.js';
import { KmsEntropyError, SecretScopeCore, hmacSign, protectionReport, seal, open } from '../src/index.js';
import { withCore } from '../src/lambda/wrapper.js';

const INVOCATIONS = 200;
const CONCURRENCY = 32;
const TERMINAL = ['throttle', 'serverError', 'malformedJson', 'truncatedBody', 'connectionReset'] as const;

const FAULTS: KmsFaults = {
  throttle: { probability: 0.2 },
  serverError: { probability: 0.05, status: 500 },
  malformedJson: { probability: 0.05 },
  truncatedBody: { probability: 0.05 },
  connectionReset: { probability: 0.05 },
  latencyMs: { ms: 40, jitterMs: 80, probability: 0.15 },
  operations: { GenerateRandom: { serverError: { probability: 0.05, status: 503 } } },
};

/** mulberry32: the endpoint's fault decisions, reproducible for a seed. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

let kms: KmsLocal | undefined;

afterAll(async () => {
  await kms?.close();
});

interface Outcome {
  ok: number;
  sources: Record<string, number>;
  failures: number;
  errors: Record<string, number>;
  untyped: string[];
  injected: Record<string, number>;
  injectedTerminal: number;
  stats: { scopes: number; kmsCalls: number; kmsFailures: number; degraded: number };
  calls: number;
}

async function load(onKmsFailure: 'fail' | 'degrade-to-local', runSeed: number): Promise<Outcome> {
  // A fresh endpoint per run: its own seeded fault plan and counters.
  await kms?.close();
  kms = await startKmsLocal({ faults: FAULTS, random: seeded(runSeed) });
  const warnings: string[] = [];
  const core = new SecretScopeCore({
    keys: { enc: { use: 'aead' }, mac: { use: 'hmac' } },
    entropy: { source: 'kms', policy: 'per-invocation', onKmsFailure },
    kms: {
      clientConfig: {
        endpoint: kms.url,
        region: 'us-east-1',
        credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
        maxAttempts: 1,
      },
    },
    logger: { warn: (m) => void warnings.push(m) },
  });
  const handler = withCore(async (event: { i: number }, context: any) => {
    const scope = context.secretScope;
    const { enc, mac } = await scope.keys();
    const pt = open(enc, seal(enc, Buffer.from(`invocation ${event.i}`)));
    hmacSign(mac, pt);
    return { source: scope.entropySource as string, keys: scope.keyCount as number };
  }, core);

  const out: Outcome = {
    ok: 0,
    sources: {},
    failures: 0,
    errors: {},
    untyped: [],
    injected: {},
    injectedTerminal: 0,
    stats: { scopes: 0, kmsCalls: 0, kmsFailures: 0, degraded: 0 },
    calls: 0,
  };
  let next = 0;
  const lane = async () => {
    while (next < INVOCATIONS) {
      const i = next++;
      try {
        const r = await handler({ i }, { awsRequestId: `load-${i}` });
        out.ok++;
        out.sources[r.source] = (out.sources[r.source] ?? 0) + 1;
        expect(r.keys).toBe(3); // PRK + the two declared keys, nothing half-made
      } catch (e) {
        out.failures++;
        if (e instanceof KmsEntropyError) {
          const k = `${e.code}:${(e as KmsEntropyError & { kmsErrorName?: string }).kmsErrorName ?? '-'}`;
          out.errors[k] = (out.errors[k] ?? 0) + 1;
        } else {
          out.untyped.push(String((e as Error)?.stack ?? e));
        }
      }
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, lane));
  kms = kms!;
  out.injected = { ...kms.stats.faults };
  out.injectedTerminal = TERMINAL.reduce((n, k) => n + (kms.stats.faults[k] ?? 0), 0);
  out.calls = kms.stats.calls.GenerateRandom ?? 0;
  out.stats = { ...core.entropy.stats };
  core.dispose();
  if (onKmsFailure === 'degrade-to-local') expect(warnings.length).toBe(out.stats.degraded);
  return out;
}

function print(title: string, o: Outcome) {
  console.log(
    `[faults-load] ${title}: ${INVOCATIONS} invocations at concurrency ${CONCURRENCY}: ok ${o.ok} ${JSON.stringify(o.sources)}, ` +
      `failed ${o.failures} ${JSON.stringify(o.errors)}; endpoint injected ${JSON.stringify(o.injected)} ` +
      `(terminal ${o.injectedTerminal}) over ${o.calls} GenerateRandom calls; entropy stats ${JSON.stringify(o.stats)}`,
  );
}

describe('KMS faults under load', () => {
  it("onKmsFailure 'fail': every invocation succeeds or fails closed with a typed KmsEntropyError; nothing is left alive", async () => {
    const o = await load('fail', 1234);
    print("onKmsFailure 'fail'", o);
    expect(o.untyped, 'every failure is a KmsEntropyError').toEqual([]);
    expect(o.ok + o.failures).toBe(INVOCATIONS);
    // The mix really hit: several kinds of fault, and both outcomes.
    expect(o.failures).toBeGreaterThan(0);
    expect(o.ok).toBeGreaterThan(0);
    expect(TERMINAL.filter((k) => o.injected[k]! > 0).length).toBeGreaterThanOrEqual(4);
    expect(o.injected.latency).toBeGreaterThan(0);
    // One attempt per invocation: each injected terminal fault is exactly one failed invocation.
    expect(o.calls).toBe(INVOCATIONS);
    expect(o.failures).toBe(o.injectedTerminal);
    expect(o.stats).toMatchObject({ scopes: INVOCATIONS, kmsCalls: INVOCATIONS, kmsFailures: o.failures, degraded: 0 });
    expect(o.sources).toEqual({ kms: o.ok });
    // Typed: only the two KMS codes; throttles keep the SDK's error name.
    for (const k of Object.keys(o.errors)) expect(k).toMatch(/^ERR_KMS(_MALFORMED)?:/);
    if (o.injected.throttle) expect(o.errors['ERR_KMS:ThrottlingException']).toBe(o.injected.throttle);
    // No partial scope: every scope, failed or not, was wiped.
    const r = protectionReport();
    expect(r.liveSlots).toBe(0);
    expect(r.liveScopes).toBe(0);
  });

  it("onKmsFailure 'degrade-to-local': the same mix, every invocation succeeds, degraded = KMS failures", async () => {
    const o = await load('degrade-to-local', 1234);
    print("onKmsFailure 'degrade-to-local'", o);
    expect(o.untyped).toEqual([]);
    expect(o.failures).toBe(0);
    expect(o.ok).toBe(INVOCATIONS);
    expect(o.injectedTerminal).toBeGreaterThan(0);
    expect(o.stats.kmsFailures).toBe(o.injectedTerminal);
    expect(o.stats.degraded).toBe(o.stats.kmsFailures);
    expect(o.sources['local (degraded)']).toBe(o.stats.degraded);
    expect(o.sources.kms).toBe(INVOCATIONS - o.stats.degraded);
    const r = protectionReport();
    expect(r.liveSlots).toBe(0);
    expect(r.liveScopes).toBe(0);
  });
});
