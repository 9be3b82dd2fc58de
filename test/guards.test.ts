/**
 * Guard pages and canaries of the guarded arena (issue 2), for both locked backends.
 *
 * - A write one byte past a region's data, or one byte before it, lands in a PROT_NONE
 *   guard page: the process dies by SIGSEGV (in a child, via test/fixtures/guard-child.mjs,
 *   which drives the raw addon).
 * - An overwritten canary (trailing: offset = key length; leading: offset -1) or dirty slot
 *   padding is detected when the key is released and by verify(); detection wipes every key,
 *   so all other handles (and scopes) are dead afterwards, and the arena stays usable.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, cleanupTempDirs, runNode, type RunResult } from './helpers/restricted.js';
import { configureSecretMemory, protectionReport, verifyGuards } from '../src/memory/policy.js';
import { hmacSign, randomKey } from '../src/crypto/index.js';
import { testing } from '../src/testing.js';
import { CanaryViolationError, KeyReleasedError } from '../src/errors/index.js';

const FIXTURE = join(REPO_ROOT, 'test', 'fixtures', 'guard-child.mjs');
const BACKENDS = ['memfd_secret', 'mlock'] as const;
type Backend = (typeof BACKENDS)[number];

type Line = Record<string, any> & { stage: string };

function lines(r: RunResult): Line[] {
  return r.stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Line);
}

function stage(r: RunResult, name: string): Line {
  const found = lines(r).find((l) => l.stage === name);
  if (!found) {
    throw new Error(
      `child never reached stage '${name}' (code ${r.code}, signal ${r.signal})\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`,
    );
  }
  return found;
}

async function child(backend: Backend, spec: Record<string, unknown>): Promise<RunResult> {
  const r = await runNode(FIXTURE, { args: [JSON.stringify({ backend, ...spec })] });
  expect(r.timedOut, r.stderr).toBe(false);
  // Every scenario must really run on the backend under test (no silent fallback).
  expect(stage(r, 'configured')).toMatchObject({ backend, locked: true });
  return r;
}

/** The mapping path of a /proc/self/maps line ('' for anonymous memory). */
const pathOf = (line: string) => line.trim().split(/\s+/).slice(5).join(' ');
const permsOf = (line: string) => line.trim().split(/\s+/)[1];

afterAll(() => cleanupTempDirs());

describe.each(BACKENDS)('guard pages (%s)', (backend) => {
  const dataPath = backend === 'memfd_secret' ? '/secretmem (deleted)' : '';

  it('a write one byte past the region end kills the process with SIGSEGV', async () => {
    const r = await child(backend, { action: 'past-end' });
    const armed = stage(r, 'armed');
    // The target is the first byte of the page after the data, and that page is PROT_NONE.
    expect(armed.targetPageAligned).toBe(true);
    expect(armed.maps.line, JSON.stringify(armed.maps)).toMatch(/^[0-9a-f]+-[0-9a-f]+ ---p /);
    // The byte just before it is region data of the backend under test, and writable.
    expect(pathOf(armed.dataMaps.line)).toBe(dataPath);
    expect(permsOf(armed.dataMaps.line)).toBe(backend === 'memfd_secret' ? 'rw-s' : 'rw-p');
    expect(armed.bytesToRegionEnd).toBe(4 * 4096 - 3 * 64 - 16); // third key of a 4-page region
    stage(r, 'last-data-byte-writable');
    expect(lines(r).some((l) => l.stage === 'survived'), r.stdout).toBe(false);
    expect(r.signal, `code ${r.code}\n${r.stderr}`).toBe('SIGSEGV');
  });

  it('a write one byte before the region (leading guard page) kills the process with SIGSEGV', async () => {
    const r = await child(backend, { action: 'before-start' });
    const armed = stage(r, 'armed');
    // First key of a fresh arena: its bytes start 64 + 16 bytes into the page-aligned data.
    expect(armed.dataPageAligned).toBe(true);
    expect(armed.offset).toBe(-81);
    expect(armed.maps.line, JSON.stringify(armed.maps)).toMatch(/^[0-9a-f]+-[0-9a-f]+ ---p /);
    expect(pathOf(armed.dataMaps.line)).toBe(dataPath);
    stage(r, 'first-data-byte-writable');
    expect(lines(r).some((l) => l.stage === 'survived'), r.stdout).toBe(false);
    expect(r.signal, `code ${r.code}\n${r.stderr}`).toBe('SIGSEGV');
  });
});

/** What a detected canary violation must leave behind (see guard-child.mjs 'canary'). */
function expectViolationDetected(r: RunResult): void {
  // Before the damage the same keys verified clean: detection is not a false alarm.
  expect(stage(r, 'made').verifyBefore).toEqual({ ok: true, value: 6 });
  const { detected } = stage(r, 'detected');
  expect(detected.ok, JSON.stringify(detected)).toBe(false);
  expect(detected.code).toBe('ERR_CANARY_VIOLATION');
  expect(detected.message).toMatch(/canary/);
  const after = stage(r, 'after');
  // Every key of the arena is wiped and released, the scope-owned ones included.
  expect(after.liveSlots).toBe(0);
  expect(after.cellsInUse).toBe(0);
  expect(after.othersAlive).toEqual([false, false, false, false, false]);
  expect(after.othersUse).toEqual(Array(5).fill('ERR_KEY_RELEASED'));
  expect(after.victimUse).toBe('ERR_KEY_RELEASED');
  expect(after.scopeAlive).toBe(false);
  expect(after.liveScopes).toBe(0);
  // The arena is reset, not poisoned: a new key is made and verifies clean.
  const fresh = stage(r, 'fresh');
  expect(fresh.fresh).toBe('ok');
  expect(fresh.verify).toMatchObject({ ok: true });
  expect(fresh.release).toEqual({ ok: true });
  stage(r, 'done');
  expect(r.code, r.stderr).toBe(0);
}

describe.each(BACKENDS)('canaries (%s)', (backend) => {
  it('control: without damage, release and verify pass and every key stays usable', async () => {
    const r = await child(backend, { action: 'canary', where: 'none', detect: 'verify' });
    expect(stage(r, 'detected').detected).toEqual({ ok: true, value: 6 });
    const after = stage(r, 'after');
    expect(after.othersAlive).toEqual([true, true, true, true, true]);
    expect(after.othersUse).toEqual(Array(5).fill('ok'));
    expect(after.scopeAlive).toBe(true);
    const r2 = await child(backend, { action: 'canary', where: 'none', detect: 'release' });
    expect(stage(r2, 'detected').detected).toMatchObject({ ok: true });
    expect(stage(r2, 'after').othersAlive).toEqual([true, true, true, true, true]);
  });

  // A 100-byte key takes 3 cells (192 bytes): canary 16 | key 100 | canary 16 | 60 bytes of zero padding,
  // so its padding runs from key offset 116 to 175.
  it.each([
    ['trailing canary', 32, undefined],
    ['leading canary', 32, undefined],
    ['trailing canary', 100, undefined],
    ['first padding byte', 100, 116],
    ['a middle padding byte', 100, 141],
    ['last padding byte', 100, 175],
  ])('an overwritten %s of a %i-byte key is detected on release; all keys die', async (what, len, offset) => {
    const where = what.split(' ')[0];
    const r = await child(backend, { action: 'canary', where: offset === undefined ? where : 'offset', offset, detect: 'release', len });
    expect(stage(r, 'corrupted').offset).toBe(offset ?? (where === 'trailing' ? len : -1));
    expectViolationDetected(r);
  });

  // Regression: verify() used to crash here (the loop's SlotAccess outlived the purge).
  it.each([
    ['trailing', 32],
    ['leading', 32],
  ])('an overwritten %s canary of a %i-byte key is detected by verify(); all keys die', async (where, len) => {
    const r = await child(backend, { action: 'canary', where, detect: 'verify', len });
    expect(r.signal, 'verify() crashed the process').toBeNull();
    expectViolationDetected(r);
  });
});

describe('canaries through the public API (this worker, default backend)', () => {
  beforeAll(() => {
    configureSecretMemory();
  });

  it('release() of a key with a damaged trailing canary throws CanaryViolationError and kills every key', () => {
    expect(protectionReport().backend).toBe('memfd_secret');
    const victim = randomKey(32);
    const others = [randomKey(32), randomKey(64), randomKey(16)];
    expect(verifyGuards()).toBeGreaterThanOrEqual(4);
    for (const k of others) expect(hmacSign(k, 'm')).toHaveLength(32);
    testing.corruptAt(victim, victim.length);
    let thrown: unknown;
    try {
      victim.release();
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(CanaryViolationError);
    expect((thrown as CanaryViolationError).code).toBe('ERR_CANARY_VIOLATION');
    for (const k of others) {
      expect(k.alive).toBe(false);
      expect(() => hmacSign(k, 'm')).toThrow(KeyReleasedError);
    }
    expect(protectionReport().liveSlots).toBe(0);
    // A new key after the wipe works.
    const fresh = randomKey(32);
    expect(hmacSign(fresh, 'm')).toHaveLength(32);
    fresh.release();
  });

  it('release() of a key with a damaged leading canary throws CanaryViolationError', () => {
    const keep = randomKey(32);
    const victim = randomKey(48);
    testing.corruptAt(victim, -1);
    expect(() => victim.release()).toThrow(CanaryViolationError);
    expect(keep.alive).toBe(false);
  });
});
