/**
 * No copy of key material in the JS heap from any input path (issue 9, item 3).
 * A child process imports raw and encoded keys from every container shape the
 * input functions accept (Uint8Array on and off the V8 heap, DataView,
 * ArrayBuffer), whole and at offsets; this process then reads the child's
 * memory from outside (/proc/<pid>/mem) for the key bytes and every text form
 * of them. A heap snapshot would not do: it does not show typed-array contents.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scanProcess } from '../src/audit/scanner.js';
import { NeedleIndex, needlesFor, type Secret } from '../src/audit/patterns.js';
import { bundleForChild, type Bundle } from './helpers/bundle.js';
import { REPO_ROOT } from './helpers/restricted.js';
// @ts-expect-error plain JS shared with the child
import { casesFor, fillKey } from './fixtures/input-residue-cases.mjs';

interface Case {
  name: string;
  keyLength: number;
  seed: number;
}
interface ChildResult {
  name: string;
  ok: boolean;
  length?: number;
  nonzero?: number;
  error?: string;
}

const CHILD = join(REPO_ROOT, 'test', 'fixtures', 'input-residue-child.mjs');
let bundle: Bundle;

beforeAll(async () => {
  bundle = await bundleForChild('input-residue', { contents: "export * from './src/index.ts';" });
});
afterAll(() => bundle?.remove());

/** Runs the child, scans it while it holds every imported key, returns what was found. */
async function importAndScan(seed: number, mode = '') {
  const child = spawn(process.execPath, ['--expose-gc', CHILD, bundle.file, String(seed), mode], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stderr.on('data', (d) => (err += d));
  const report = await new Promise<{ pid: number; results: ChildResult[] }>((resolve, reject) => {
    child.stdout.on('data', (d) => {
      out += d;
      const nl = out.indexOf('\n');
      if (nl >= 0) resolve(JSON.parse(out.slice(0, nl)));
    });
    child.on('exit', (code) => reject(new Error(`child exited ${code} before reporting: ${err}`)));
  });
  const cases = casesFor(seed) as Case[];
  const secrets: Secret[] = cases.map((c, id) => ({
    id,
    kind: 'entropy-derived',
    lifetime: 'scope',
    label: c.name,
    bytes: Buffer.from(fillKey(new Uint8Array(c.keyLength), c.seed)),
  }));
  const index = new NeedleIndex(secrets.flatMap((s) => needlesFor(s)));
  const { hits, stats } = scanProcess(report.pid, index);
  child.stdin.end();
  await new Promise((r) => child.on('close', r));
  return { report, cases, hits, stats, needles: index.needles };
}

describe('key material in, no copy left behind (out-of-process scan)', () => {
  it('every container, size and offset: the key is imported, the input zeroed, and no copy of the key or its text remains', async () => {
    const seed = Number(process.env.INPUT_RESIDUE_SEED) || 1 + Math.floor(Math.random() * 1e6);
    const { report, cases, hits, stats, needles } = await importAndScan(seed);
    // Every case imported (DataView and ArrayBuffer included), the right length, the caller's bytes zeroed.
    expect(report.results.filter((r) => !r.ok)).toEqual([]);
    for (const [i, r] of report.results.entries()) {
      expect(r.length, r.name).toBe(cases[i]!.keyLength);
      expect(r.nonzero, `${r.name}: input bytes left non-zero`).toBe(0);
    }
    // The scan looked at a real process, and found nothing, anywhere it could read.
    expect(stats.scannedBytes).toBeGreaterThan(1 << 20);
    const found = hits.map((h) => `${needles[h.needle]!.secret.label} as ${needles[h.needle]!.form} in ${h.mapping.kind}`);
    expect(found.join('; '), `seed ${seed}`).toBe('');
  });

  it('positive control: the same child keeping a typed-array copy of each input is caught for every case', async () => {
    const seed = 1 + Math.floor(Math.random() * 1e6);
    const { report, cases, hits, needles } = await importAndScan(seed, 'leak');
    expect(report.results.filter((r) => !r.ok)).toEqual([]);
    const caught = new Set(hits.map((h) => needles[h.needle]!.secret.label));
    expect([...caught].sort()).toEqual(cases.map((c) => c.name).sort());
  });
});
