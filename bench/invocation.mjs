// What secret-scope adds to one invocation, from the user's side (issue 11, goal 2):
// the wrapper (withSecretScope) against a bare handler, and the middy entry points
// (secretScopeMiddy(middy(fn)) and middy(fn).use(secretScopeMiddleware())) against a
// bare middy handler, so middy's own cost is not counted. Ratchet entropy policy
// against the local KMS endpoint (10 ms added latency, as the kms section); the
// scoped handler awaits one declared key (context.secretScope.key('mac')), the bare
// one returns at once.
//
// Two regimes, measured side by side in one run:
// - idle: every invocation follows `gapMs` of idle time (setTimeout), the way Lambda
//   invocations usually arrive: CPU caches, TLBs and branch predictors are cold. The
//   handlers take turns invocation by invocation (order rotating each round), so a
//   machine getting busier slows all of them alike.
// - backToBack: blocks of invocations with one event-loop turn between them (a warm
//   CPU); the blocks rotate between handlers.
// Runs only when the built library has withSecretScope, dist/kms-local.js and dist/middy.js
// exist and @aws-sdk/client-kms and @middy/core resolve; otherwise "skipped" (per path).
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { DIST, ROOT } from './lib.mjs';
import { quantile } from './stats.mjs';

/** Targets of issue 11: added p50 in µs. */
export const INVOCATION_TARGETS = { backToBack: 5, idle: 50 };

const sleep = (ms) => new Promise((r) => (ms > 0 ? setTimeout(r, ms) : setImmediate(r)));

async function loadMiddy() {
  try {
    // ESM-only exports (no "require" condition): resolved by import from bench/, inside the package.
    const m = await import('@middy/core');
    const version = JSON.parse(readFileSync(join(ROOT, 'node_modules', '@middy', 'core', 'package.json'), 'utf8')).version;
    return { middy: m.default ?? m, version };
  } catch (e) {
    return { error: `@middy/core is not installed (${e.code ?? e.message})` };
  }
}

export async function runInvocation({ lib, smoke, latencyMs = 10, policy = 'ratchet', invocations: count }) {
  if (typeof lib.withSecretScope !== 'function') return { skipped: 'the built library has no withSecretScope export' };
  const kmsLocalPath = join(DIST, 'kms-local.js');
  if (!existsSync(kmsLocalPath)) return { skipped: `${kmsLocalPath} is missing (the kms-local entry is not built)` };
  try {
    createRequire(join(ROOT, 'package.json')).resolve('@aws-sdk/client-kms');
  } catch {
    return { skipped: '@aws-sdk/client-kms is not installed' };
  }
  const { startKmsLocal } = await import(pathToFileURL(kmsLocalPath).href);
  const middyPath = join(DIST, 'middy.js');
  const mw = existsSync(middyPath) ? await import(pathToFileURL(middyPath).href) : undefined;
  const m = await loadMiddy();

  const invocations = count ?? (smoke ? 12 : 300);
  const gapMs = smoke ? 1 : 15;
  const block = smoke ? 4 : 50;
  const local = await startKmsLocal({ faults: { latencyMs } });
  const endpoint = local.url;
  try {
    const options = () => ({
      keys: { mac: { use: 'hmac' } },
      kms: {
        clientConfig: {
          endpoint,
          region: local.region ?? 'us-east-1',
          credentials: { accessKeyId: 'AKIDBENCH', secretAccessKey: 'bench-secret' },
          maxAttempts: 1,
        },
      },
      entropy: { policy },
    });
    // Two functions of the same shape each: no path shares a function object (or its feedback) with another.
    const scoped = () => async (event, context) => (await context.secretScope.key('mac')).length;
    const bare = () => async () => 32;
    const handlers = { bare: bare(), wrapper: lib.withSecretScope(scoped(), options()) };
    const skipped = {};
    if (m.error) skipped.middy = m.error;
    else if (!mw) skipped.middy = `${middyPath} is missing`;
    else {
      handlers.middyBare = m.middy(bare());
      if (typeof mw.secretScopeMiddy === 'function') handlers.middy = mw.secretScopeMiddy(m.middy(scoped()), options());
      if (typeof mw.secretScopeMiddleware === 'function') handlers.middyMiddleware = m.middy(scoped()).use(mw.secretScopeMiddleware(options()));
    }
    const baseOf = { wrapper: 'bare', middy: 'middyBare', middyMiddleware: 'middyBare' };
    const names = Object.keys(handlers);
    const context = (i) => ({ awsRequestId: `bench-${i}`, functionName: 'bench', getRemainingTimeInMillis: () => 30_000 });
    const failed = {};
    let n = 0;
    const call = async (name) => {
      const h = handlers[name];
      const ctx = context(n++);
      const t0 = process.hrtime.bigint();
      await h({}, ctx);
      return Number(process.hrtime.bigint() - t0);
    };
    // Warm-up: the SDK client, the ratchet's first seeding, HTTP keep-alive, JIT.
    for (const name of names) {
      try {
        for (let i = 0; i < 20; i++) await call(name);
      } catch (e) {
        failed[name] = `${e.code ?? e.name}: ${e.message}`;
      }
    }
    const live = () => names.filter((x) => !failed[x]);
    await sleep(3 * latencyMs);

    const idle = Object.fromEntries(names.map((x) => [x, []]));
    for (let r = 0; r < invocations; r++) {
      const order = live();
      for (let j = 0; j < order.length; j++) {
        const name = order[(r + j) % order.length];
        await sleep(gapMs);
        try {
          idle[name].push(await call(name));
        } catch (e) {
          failed[name] = `${e.code ?? e.name}: ${e.message}`;
        }
      }
    }
    const backToBack = Object.fromEntries(names.map((x) => [x, []]));
    for (let r = 0; r < Math.ceil(invocations / block); r++) {
      const order = live();
      for (let j = 0; j < order.length; j++) {
        const name = order[(r + j) % order.length];
        await sleep(gapMs);
        try {
          for (let i = 0; i < block; i++) {
            await sleep(0);
            backToBack[name].push(await call(name));
          }
        } catch (e) {
          failed[name] = `${e.code ?? e.name}: ${e.message}`;
        }
      }
    }
    if (failed.bare) throw new Error(`bare handler failed: ${failed.bare}`);

    const p = (list, q) => (list.length ? quantile(list, q) : NaN);
    const us = (ns) => Number((ns / 1000).toFixed(2));
    const row = (name) => ({
      p50Us: { backToBack: us(p(backToBack[name], 0.5)), idle: us(p(idle[name], 0.5)) },
      p99Us: { backToBack: us(p(backToBack[name], 0.99)), idle: us(p(idle[name], 0.99)) },
    });
    const out = {
      policy,
      latencyMs,
      gapMs,
      invocations,
      backToBackBlock: block,
      endpoint,
      middyVersion: m.version,
      bare: row('bare'),
      ...(handlers.middyBare ? { middyBare: row('middyBare') } : {}),
      targets: {},
      skippedPaths: skipped,
    };
    for (const name of ['wrapper', 'middy', 'middyMiddleware']) {
      if (!handlers[name]) continue;
      if (failed[name]) {
        out[name] = { error: failed[name] };
        continue;
      }
      const base = baseOf[name];
      const r = row(name);
      r.against = base;
      r.addedP50Us = {
        backToBack: us(p(backToBack[name], 0.5) - p(backToBack[base], 0.5)),
        idle: us(p(idle[name], 0.5) - p(idle[base], 0.5)),
      };
      out[name] = r;
    }
    const rows = ['wrapper', 'middy', 'middyMiddleware'].filter((x) => out[x]?.addedP50Us);
    const worst = (k) => (rows.length ? Math.max(...rows.map((x) => out[x].addedP50Us[k])) : NaN);
    out.addedP50Us = { backToBack: worst('backToBack'), idle: worst('idle') };
    out.worstPath = { backToBack: rows.find((x) => out[x].addedP50Us.backToBack === out.addedP50Us.backToBack), idle: rows.find((x) => out[x].addedP50Us.idle === out.addedP50Us.idle) };
    for (const [k, target] of Object.entries(INVOCATION_TARGETS)) {
      const value = out.addedP50Us[k];
      out.targets[k] = { target, value, pass: Number.isFinite(value) ? value <= target : null };
    }
    out.notes = [
      `policy '${policy}', ${latencyMs} ms added at the local KMS endpoint; the scoped handlers await context.secretScope.key('mac'), the bare ones return at once.`,
      `idle: ${invocations} invocations per handler, each after ${gapMs} ms idle, handlers interleaved invocation by invocation (rotating order).`,
      `backToBack: blocks of ${block} invocations with one event-loop turn between them, blocks rotating between handlers.`,
      'addedP50Us = p50(scoped) - p50(its bare handler): wrapper against the bare handler, the middy paths against a bare middy handler. Top-level addedP50Us is the worst path.',
    ];
    return out;
  } finally {
    await sleep(3 * latencyMs); // a ratchet refresh started by the last invocations lands first
    await local.close();
  }
}
