/**
 * The audit key channel (native/audit-channel.*): on only when the auditor set
 * it up, and then it hands over the bytes of every key the native layer holds,
 * whatever its kind, without the bytes passing through JavaScript.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, fstatSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KEY_CHANNEL_ENV, KEY_CHANNEL_FD, KeyChannelReader, type ChannelKey } from '../src/audit/key-channel.js';
import { ensureDistBuilt } from './helpers/audit.js';

const ROOT = resolve(__dirname, '..');
const CHILD = join(ROOT, 'test', 'fixtures', 'audit', 'channel-child.cjs');

interface ChildReport {
  envAtStart: string | null;
  envAfterLoad: string | null;
  keys: string[];
  flushed: number;
  worker: { flushed: number } | null;
}

function run(fd: number, env: Record<string, string>, ...args: string[]): { report: ChildReport; stderr: string } {
  const base: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && k !== KEY_CHANNEL_ENV) base[k] = v;
  const r = spawnSync(process.execPath, [CHILD, ...args], {
    env: { ...base, ...env },
    stdio: ['ignore', 'pipe', 'pipe', 'ignore', 'ignore', fd],
    encoding: 'utf8',
    timeout: 60_000,
  });
  expect(r.status, r.stderr).toBe(0);
  return { report: JSON.parse(r.stdout.trim().split('\n').pop()!), stderr: r.stderr };
}

beforeAll(ensureDistBuilt, 120_000);

describe('audit key channel', () => {
  const dir = mkdtempSync(join(tmpdir(), 'secret-scope-channel-test-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('hands over every key of every kind (random, PRK, hkdfExpandMany, X25519 private and shared, imported) and removes the variable', () => {
    const reader = new KeyChannelReader();
    try {
      const { report } = run(reader.writeFd, { [KEY_CHANNEL_ENV]: String(KEY_CHANNEL_FD) }, 'on');
      expect(report.envAtStart).toBe(String(KEY_CHANNEL_FD));
      expect(report.envAfterLoad).toBeNull(); // read once at load, then gone from the environment
      const got: ChannelKey[] = [];
      reader.drain((k) => got.push({ ...k, bytes: Buffer.from(k.bytes) }));
      expect(reader.problems).toEqual([]);
      expect(report.flushed).toBeGreaterThan(0);
      const seen = new Set(got.map((k) => k.bytes.toString('hex')));
      for (const hex of report.keys) expect(seen.has(hex), 'a key the child made was not handed over').toBe(true);
      expect(new Set(got.map((k) => k.slotKind))).toEqual(new Set(['secret', 'hkdf', 'x25519-private', 'shared']));
      expect(got.filter((k) => k.type === 1).every((k) => k.owned)).toBe(true); // live in the scope at the flush
      expect(got.filter((k) => k.type === 2).length).toBeGreaterThanOrEqual(report.keys.length); // and again at the wipe
      expect(reader.lastLive?.liveScopes).toBe(1);
    } finally {
      reader.close();
    }
  });

  it('is off in a normal process: an inherited descriptor without the variable gets nothing', () => {
    const path = join(dir, 'no-variable');
    const fd = openSync(path, 'a');
    try {
      const { report } = run(fd, {}, 'off');
      expect(report.flushed).toBe(-1);
      expect(fstatSync(fd).size).toBe(0);
    } finally {
      closeSync(fd);
    }
  });

  it('cannot be turned on from JavaScript: process.env before or after the addon loads, or a worker loading the addon with it set', () => {
    const reader = new KeyChannelReader(); // a descriptor that would be accepted, had the variable been there at load
    try {
      const { report } = run(reader.writeFd, {}, 'turn-on-later', String(KEY_CHANNEL_FD));
      expect(report.flushed).toBe(-1);
      expect(report.worker).toEqual({ flushed: -1 });
      let records = 0;
      reader.drain(() => records++);
      expect(records).toBe(0);
      expect(reader.records).toBe(0);
    } finally {
      reader.close();
    }
  });

  it.each([
    ['stdout', 1],
    ['a file that has a name (a log file, say)', -1],
  ])('refuses a descriptor that is not an unlinked append-only file: %s', (_label, which) => {
    const path = join(dir, 'named.log');
    const fd = which === 1 ? 1 : openSync(path, 'a');
    const target = which === 1 ? 1 : KEY_CHANNEL_FD;
    try {
      const { report, stderr } = run(fd, { [KEY_CHANNEL_ENV]: String(target) }, 'off');
      expect(report.flushed).toBe(-1);
      expect(report.envAfterLoad).toBeNull();
      expect(stderr).toContain(`${KEY_CHANNEL_ENV} ignored`);
      if (which !== 1) expect(readFileSync(path).length).toBe(0);
    } finally {
      if (which !== 1) closeSync(fd);
    }
  });
});
