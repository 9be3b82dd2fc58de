// KMS entropy policies against the local KMS endpoint with 10 ms added
// latency: added p50/p99 latency per invocation over a bare handler, and KMS
// calls per 1,000 invocations, for per-invocation, prefetch and ratchet.
// Runs only when the built library has withSecretScope and dist/kms-local.js
// has startKmsLocal (and @aws-sdk/client-kms resolves); otherwise "skipped".
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { DIST, ROOT } from './lib.mjs';
import { quantile } from './stats.mjs';

export const POLICIES = ['per-invocation', 'prefetch', 'ratchet'];

export async function runKms({ lib, smoke, latencyMs = 10 }) {
  if (typeof lib.withSecretScope !== 'function') return { skipped: 'the built library has no withSecretScope export' };
  const kmsLocalPath = join(DIST, 'kms-local.js');
  if (!existsSync(kmsLocalPath)) return { skipped: `${kmsLocalPath} is missing (the kms-local entry is not built)` };
  const kmsLocal = await import(pathToFileURL(kmsLocalPath).href);
  if (typeof kmsLocal.startKmsLocal !== 'function') return { skipped: 'dist/kms-local.js has no startKmsLocal export' };
  try {
    createRequire(join(ROOT, 'package.json')).resolve('@aws-sdk/client-kms');
  } catch {
    return { skipped: '@aws-sdk/client-kms is not installed' };
  }

  const invocations = smoke ? 12 : 300;
  const gapMs = smoke ? 1 : 15;
  const local = await kmsLocal.startKmsLocal({ faults: { latencyMs } });
  try {
    const kms = {
      clientConfig: {
        endpoint: local.url,
        region: local.region ?? 'us-east-1',
        credentials: { accessKeyId: 'AKIDBENCH', secretAccessKey: 'bench-secret' },
        maxAttempts: 1,
      },
    };
    const keys = { mac: { use: 'hmac' } };
    const body = async (event, context) => {
      const key = await context.secretScope.key('mac');
      return key.length;
    };
    const handlers = { bare: async () => 32 };
    for (const policy of POLICIES) handlers[policy] = lib.withSecretScope(body, { keys, kms, entropy: { policy } });

    const callCount = () => local.stats?.calls?.GenerateRandom ?? 0;
    const context = (i) => ({ awsRequestId: `bench-${i}`, functionName: 'bench', getRemainingTimeInMillis: () => 30_000 });
    const failed = {};
    // Warm-up: the SDK client, HTTP keep-alive, JIT. A policy that fails here is reported, not timed.
    for (const [name, h] of Object.entries(handlers)) {
      try {
        for (let i = 0; i < 3; i++) await h({}, context(`warm-${name}-${i}`));
      } catch (e) {
        failed[name] = `${e.code ?? e.name}: ${e.message}`;
      }
    }
    await new Promise((r) => setTimeout(r, 50));
    const measure = async (gap, count) => {
      const lat = Object.fromEntries(Object.keys(handlers).map((k) => [k, []]));
      const calls = {};
      for (const [name, h] of Object.entries(handlers)) {
        if (failed[name]) continue;
        const before = callCount();
        try {
          for (let i = 0; i < count; i++) {
            const t0 = process.hrtime.bigint();
            await h({}, context(i));
            lat[name].push(Number(process.hrtime.bigint() - t0));
            // idle time between invocations (a prefetch can land); 0: back to back, one event-loop turn
            await (gap ? new Promise((r) => setTimeout(r, gap)) : new Promise(setImmediate));
          }
        } catch (e) {
          failed[name] = `${e.code ?? e.name}: ${e.message}`;
          continue;
        }
        await new Promise((r) => setTimeout(r, latencyMs * 3)); // let a trailing prefetch reach the endpoint
        calls[name] = callCount() - before;
      }
      if (failed.bare) throw new Error(`bare handler failed: ${failed.bare}`);
      const bareP50 = quantile(lat.bare, 0.5);
      const bareP99 = quantile(lat.bare, 0.99);
      const results = {};
      for (const policy of POLICIES) {
        if (failed[policy]) {
          results[policy] = { error: failed[policy] };
          continue;
        }
        const p50 = quantile(lat[policy], 0.5);
        const p99 = quantile(lat[policy], 0.99);
        results[policy] = {
          p50Ns: p50,
          p99Ns: p99,
          addedP50Ns: p50 - bareP50,
          addedP99Ns: p99 - bareP99,
          kmsCallsPer1000: (1000 * calls[policy]) / count,
        };
      }
      return { gapMs: gap, invocations: count, bare: { p50Ns: bareP50, p99Ns: bareP99 }, results };
    };
    const idle = await measure(gapMs, invocations);
    const backToBack = await measure(0, invocations);
    return {
      latencyMs,
      invocations,
      gapMs,
      endpoint: local.url,
      bare: idle.bare,
      results: idle.results,
      backToBack,
      notes: [
        `Each handler runs ${invocations} invocations one after another with ${gapMs} ms idle between them; the scoped handler awaits one derived key (context.secretScope.key), the bare handler returns at once.`,
        'KMS calls counted by the local endpoint (GenerateRandom), warm-up excluded.',
        'backToBack: the same with no idle time (one event-loop turn between invocations), a warm CPU. After idle gaps every handler, the bare one included, runs cache-cold.',
      ],
    };
  } catch (e) {
    return { error: `${e.code ?? e.name}: ${e.message}` };
  } finally {
    await local.close();
  }
}
