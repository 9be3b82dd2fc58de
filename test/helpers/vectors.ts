/**
 * Loading of the shared Wycheproof vectors (../shared/test-vectors/wycheproof,
 * resolved from the repository root). Where the folder is absent the vector
 * suites are skipped with the reason, except under CI=true, where the absence
 * is a failure.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { REPO_ROOT } from './restricted.js';

export const SHARED_DIR = resolve(REPO_ROOT, '..', 'shared');
export const WYCHEPROOF_DIR = join(SHARED_DIR, 'test-vectors', 'wycheproof');

export interface WycheproofTest {
  tcId: number;
  comment: string;
  flags: string[];
  result: 'valid' | 'invalid' | 'acceptable';
  [field: string]: unknown;
}

export interface WycheproofGroup {
  type: string;
  keySize?: number;
  ivSize?: number;
  tagSize?: number;
  tests: WycheproofTest[];
  [field: string]: unknown;
}

export interface WycheproofFile {
  algorithm: string;
  schema: string;
  numberOfTests: number;
  testGroups: WycheproofGroup[];
}

/** Why the vectors are unavailable, or undefined when they are present. */
export function vectorsUnavailable(): string | undefined {
  if (!existsSync(WYCHEPROOF_DIR)) return `Wycheproof vectors not found at ${WYCHEPROOF_DIR} (../shared is absent)`;
  return undefined;
}

/** True when absent vectors must fail the run rather than skip it. */
export const requireVectors = process.env.CI === 'true';

export function loadWycheproof(file: string): WycheproofFile {
  const j = JSON.parse(readFileSync(join(WYCHEPROOF_DIR, file), 'utf8')) as WycheproofFile;
  if (!Array.isArray(j.testGroups)) throw new Error(`${file}: no testGroups`);
  const n = j.testGroups.reduce((a, g) => a + g.tests.length, 0);
  if (n !== j.numberOfTests) throw new Error(`${file}: numberOfTests ${j.numberOfTests} but ${n} tests found`);
  return j;
}

export const hex = (s: unknown): Buffer => {
  if (typeof s !== 'string' || s.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(s)) throw new Error(`bad hex field: ${String(s)}`);
  return Buffer.from(s, 'hex');
};

/** Counters for one file or group of vectors. */
export class Tally {
  readonly byResult: Record<string, number> = {};
  readonly checked: Record<string, number> = {};
  readonly failures: string[] = [];
  expect(result: string): void {
    this.byResult[result] = (this.byResult[result] ?? 0) + 1;
  }
  pass(result: string): void {
    this.checked[result] = (this.checked[result] ?? 0) + 1;
  }
  fail(tcId: number, why: string): void {
    if (this.failures.length < 50) this.failures.push(`tcId ${tcId}: ${why}`);
    else if (this.failures.length === 50) this.failures.push('... (more failures not listed)');
  }
  total(): number {
    return Object.values(this.checked).reduce((a, b) => a + b, 0);
  }
}

/** Runs fn; returns the thrown error or undefined. */
export function thrown(fn: () => unknown): unknown {
  try {
    fn();
    return undefined;
  } catch (e) {
    return e;
  }
}
