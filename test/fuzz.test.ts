/**
 * Fuzzing of the public API and the raw native functions in a child process
 * (test/fixtures/fuzz-child.mjs): several thousand random calls with random
 * argument types. The child must exit 0; every error it saw must be a
 * SecretScopeError; no canary may be damaged; no key may survive the final purge.
 *
 * The child runs plain JS, so src/ is bundled with esbuild for it into a private
 * directory under .cache/ (the package root is found from there, and
 * node_modules resolves). The seed is printed; reproduce with FUZZ_SEED=<seed>.
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
      "export { native } from './src/native.ts';",
      "export { errorFromCode } from './src/errors.ts';",
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

/**
 * Non-SecretScopeError throws that are known and reported as bugs (see the
 * report of issue 2). Each pattern is matched against "<function>: <ErrorClass>: <message>".
 * Anything else fails the test.
 */
const KNOWN_RAW_ERRORS: Array<[RegExp, string]> = [
  // src/crypto.ts exposeUnsafe: fn is not checked; the key is wiped and a raw TypeError thrown.
  [/^exposeUnsafe: TypeError: fn is not a function/, 'exposeUnsafe(key, nonFunction)'],
  // src/crypto.ts seal/open read options.algorithm before validating options (null).
  [/^(seal|open): TypeError: Cannot read properties of null \(reading 'algorithm'\)/, 'seal/open(..., null)'],
  // src/scope.ts openScope/new SecretScope(null).
  [/^openScope: TypeError: Cannot read properties of null \(reading 'bound'\)/, 'openScope(null)'],
  // src/scope.ts run(nonFunction): raw TypeError from AsyncLocalStorage (after marking the scope bound).
  [/^SecretScope#run: TypeError: Function\.prototype\.apply was called on /, 'scope.run(nonFunction)'],
  // src/scope.ts onEnd(nonFunction) is accepted; end() then throws a raw TypeError.
  [/^SecretScope#end: TypeError: fn is not a function/, 'scope.onEnd(nonFunction); scope.end()'],
  // src/key.ts: options.label is not validated; String(key) throws for a Symbol label.
  [/^Key#toString: TypeError: Cannot convert a Symbol value to a string/, 'randomKey(32, { label: Symbol() })'],
];

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
  const seeds = process.env.FUZZ_SEED ? [Number(process.env.FUZZ_SEED)] : [(Date.now() ^ (process.pid << 16)) >>> 0, 0x5eed5c0e];
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
      const unexpected = Object.entries(s.unexpected)
        .filter(([kind]) => !KNOWN_RAW_ERRORS.some(([re]) => re.test(kind)))
        .map(([kind, v]) => `${kind} (x${v.count}, first at call ${v.firstCall})`);
      if (unexpected.length) console.error(`[fuzz] seed ${seed}: non-SecretScopeError throws:\n  ${unexpected.join('\n  ')}`);
      expect(unexpected, `seed ${seed}`).toEqual([]);
    });
  }
});
