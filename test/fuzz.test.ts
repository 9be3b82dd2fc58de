/**
 * Fuzzing of the public API and the raw native functions in a child process
 * (test/fixtures/fuzz-child.mjs): several thousand random calls with random
 * argument types. The child must exit 0; every error it saw must be a
 * SecretScopeError; no canary may be damaged; no key may survive the final purge.
 *
 * The child runs plain JS, so src/ is bundled with esbuild for it into a private
 * directory under .cache/ (the package root is found from there, and
 * node_modules resolves). The seed is printed; reproduce with FUZZ_SEED=<seed>; sweep with FUZZ_RUNS=<n>.
 */
import { join } from 'node:path';
import { bundleForChild, type Bundle } from './helpers/bundle.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, runNode } from './helpers/restricted.js';

const CHILD = join(REPO_ROOT, 'test', 'fixtures', 'fuzz-child.mjs');
const ITERATIONS = Number(process.env.FUZZ_ITERATIONS ?? 6000);

let bundle: Bundle;

beforeAll(async () => {
  bundle = await bundleForChild('fuzz', {
    contents: [
      "export * from './src/index.ts';",
      "export { native } from './src/memory/native.ts';",
      "export { testing } from './src/testing.ts';",
      "export { errorFromCode } from './src/errors/index.ts';",
    ].join('\n'),
  });
});

afterAll(() => bundle?.remove());

interface Summary {
  seed: number;
  iterations: number;
  finalLive: number;
  calls: number;
  ok: number;
  byCode: Record<string, number>;
  unexpected: Record<string, { count: number; firstCall: number }>;
  canary: Array<{ call: number; name: string; message: string }>;
}

async function fuzz(seed: number) {
  const r = await runNode(CHILD, { args: [bundle.file, String(seed), String(ITERATIONS)], timeoutMs: 120_000 });
  const last = r.stdout.trim().split('\n').pop() ?? '';
  let summary: Summary | undefined;
  try {
    summary = JSON.parse(last) as Summary;
  } catch {
    /* reported below */
  }
  return { r, summary };
}

describe('fuzz (child process)', () => {
  // One fresh seed per run (more with FUZZ_RUNS=n for a sweep) plus a fixed one.
  const fresh = Array.from({ length: Number(process.env.FUZZ_RUNS ?? 1) }, (_, i) => (Date.now() ^ (process.pid << 16) ^ Math.imul(i, 0x9e3779b1)) >>> 0);
  const seeds = process.env.FUZZ_SEED ? [Number(process.env.FUZZ_SEED)] : [...fresh, 0x5eed5c0e];
  for (const seed of seeds) {
    it(`random calls with seed ${seed} (reproduce: FUZZ_SEED=${seed} npx vitest run test/fuzz.test.ts)`, async () => {
      console.info(`[fuzz] seed ${seed}, ${ITERATIONS} iterations`);
      const { r, summary } = await fuzz(seed);
      const context = `seed ${seed}\nexit ${r.code} signal ${r.signal}\nstderr:\n${r.stderr.slice(-3000)}`;
      expect(r.signal, context).toBeNull();
      expect(r.timedOut, context).toBe(false);
      expect(r.code, context).toBe(0);
      expect(summary, context).toBeDefined();
      const s = summary!;
      console.info(`[fuzz] seed ${seed}: ${s.calls} calls, ${s.ok} returned, errors by code ${JSON.stringify(s.byCode)}`);
      expect(s.calls).toBe(ITERATIONS);
      // The run exercised both outcomes, and many distinct error codes.
      expect(s.ok).toBeGreaterThan(ITERATIONS / 10);
      expect(Object.keys(s.byCode).length).toBeGreaterThanOrEqual(6);
      // No operation damaged a canary (the only writer that could, corruptAt, is excluded).
      expect(s.canary, context).toEqual([]);
      expect(s.finalLive).toBe(0);
      const unexpected = Object.entries(s.unexpected).map(([kind, v]) => `${kind} (x${v.count}, first at call ${v.firstCall})`);
      if (unexpected.length) console.error(`[fuzz] seed ${seed}: non-SecretScopeError throws:\n  ${unexpected.join('\n  ')}`);
      expect(unexpected, `seed ${seed}`).toEqual([]);
    });
  }
});
