/**
 * Backends of the guarded arena (issue 2): which one is chosen, what the kernel
 * really gives it, and how it fails when the protection is not available.
 *
 * - On this kernel (6.18, CONFIG_SECRETMEM) the default choice is memfd_secret; its
 *   memory cannot be read through /proc/self/mem nor by root through /proc/<pid>/mem,
 *   while ordinary heap memory can (control).
 * - With backend 'mlock' the region is locked (smaps `lo`, Locked = data size),
 *   MADV_DONTDUMP (`dd`) and MADV_DONTFORK (`dc`), but /proc/self/mem can read it: the
 *   difference to secret memory.
 * - Restricted children (uid 65534, RLIMIT_MEMLOCK, seccomp) show the fallback to mlock,
 *   the typed refusals, and ERR_ARENA_EXHAUSTED without a silent downgrade.
 * - hardenProcess() makes the process non-dumpable and sets RLIMIT_CORE to 0.
 *
 * Children run test/fixtures/backend-child.mjs on the raw addon.
 */
import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  REPO_ROOT,
  cleanupTempDirs,
  restrictedArgv,
  runNode,
  runRestricted,
  type RestrictOptions,
  type RunResult,
} from './helpers/restricted.js';
import { configureSecretMemory, protectionReport, type ProtectionReport } from '../src/memory/policy.js';
import { randomKey } from '../src/crypto/index.js';
import { testing } from '../src/testing.js';

const FIXTURE = join(REPO_ROOT, 'test', 'fixtures', 'backend-child.mjs');
const isRoot = process.getuid?.() === 0;
const NOBODY = 65534;
const ENOSYS = 38;
const EPERM = 1;
const ENOMEM = 12;
const EAGAIN = 11;
const REGION = 4 * 4096; // data bytes of a default region (4 pages)

type Line = Record<string, any> & { stage: string };

function stage(r: RunResult, name: string): Line {
  const found = r.stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Line)
    .find((l) => l.stage === name);
  if (!found) {
    throw new Error(
      `child never reached stage '${name}' (code ${r.code}, signal ${r.signal})\nargv: ${r.argv.join(' ')}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`,
    );
  }
  return found;
}

async function child(spec: Record<string, unknown>, opts: RestrictOptions = {}): Promise<RunResult> {
  const r = await runNode(FIXTURE, { ...opts, args: [JSON.stringify(spec)] });
  expect(r.timedOut, r.stderr).toBe(false);
  expect(r.signal, r.stderr).toBeNull();
  expect(r.code, r.stderr).toBe(0);
  stage(r, 'done');
  return r;
}

/** Reads /proc/<pid>/mem at `address`; true on success, the error code otherwise. Never keeps the bytes. */
function readMem(pid: number | 'self', address: bigint): true | string {
  const fd = openSync(`/proc/${pid}/mem`, 'r');
  try {
    const buf = Buffer.alloc(16);
    const n = readSync(fd, buf, 0, 16, Number(address));
    buf.fill(0);
    return n === 16 ? true : `short read ${n}`;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code ?? String(e);
  } finally {
    closeSync(fd);
  }
}

interface Mapping {
  start: bigint;
  end: bigint;
  perms: string;
  path: string;
}

function mappings(pid: number | 'self'): Mapping[] {
  return readFileSync(`/proc/${pid}/maps`, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [range, perms, , , , ...rest] = line.trim().split(/\s+/);
      const [start, end] = range.split('-').map((x) => BigInt(`0x${x}`));
      return { start, end, perms, path: rest.join(' ') };
    });
}

const big = (hex: string) => BigInt(hex);

afterAll(() => cleanupTempDirs());

describe('default backend on this kernel (this worker)', () => {
  let report: ProtectionReport;
  beforeAll(() => {
    report = configureSecretMemory();
  });

  it('chooses memfd_secret, locked, with guard pages, DONTDUMP and DONTFORK', () => {
    expect(report).toMatchObject({
      initialized: true,
      backend: 'memfd_secret',
      require: 'locked',
      locked: true,
      guardPages: true,
      dontdump: true,
      dontfork: true,
      memfdSecret: { tried: true, used: true },
      mlock: { failures: 0 },
      lockedBytes: REGION,
      notes: [],
    });
    expect(report.memfdSecret.errno).toBeUndefined();
  });

  it('/proc/self/mem cannot read a key in secret memory, but reads the heap (control)', () => {
    const key = randomKey(32);
    const address = testing.address(key);
    const all = mappings('self');
    const m = all.find((x) => address >= x.start && address < x.end);
    expect(m, 'no mapping holds the key address').toBeDefined();
    expect(m!.path).toBe('/secretmem (deleted)');
    expect(m!.perms).toBe('rw-s');
    // The key and the region's first byte are both unreadable.
    expect(readMem('self', address)).toMatch(/^E(IO|FAULT)$/);
    expect(readMem('self', m!.start)).toMatch(/^E(IO|FAULT)$/);
    // Control: the same read path works on ordinary memory of this process.
    const heap = all.find((x) => x.path === '[heap]');
    expect(heap, 'no [heap] mapping').toBeDefined();
    expect(readMem('self', heap!.start)).toBe(true);
    key.release();
  });
});

describe('memory of another process', () => {
  it.skipIf(!isRoot)('root cannot read a child\'s secret memory through /proc/<pid>/mem; it can read the child\'s heap', async () => {
    const holder = spawn(process.execPath, [FIXTURE, JSON.stringify({ action: 'hold' })], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stderr = '';
    holder.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const exited = new Promise<{ code: number | null; signal: string | null }>((res) =>
      holder.on('close', (code, signal) => res({ code, signal })),
    );
    try {
      const rl = createInterface({ input: holder.stdout });
      let holding: Line | undefined;
      for await (const line of rl) {
        const l = JSON.parse(line) as Line;
        if (l.stage === 'holding') {
          holding = l;
          break;
        }
        if (l.stage === 'configure' && !l.ok) throw new Error(`holder failed: ${line}`);
      }
      expect(holding, stderr).toBeDefined();
      const pid = holding!.pid as number;
      expect(pid).toBe(holder.pid);
      expect(holding!.backend).toBe('memfd_secret');
      // The key's mapping as this (separate, root) process sees it.
      const address = big(holding!.address);
      const m = mappings(pid).find((x) => address >= x.start && address < x.end);
      expect(m?.path).toBe('/secretmem (deleted)');
      expect(readMem(pid, address)).toMatch(/^E(IO|FAULT)$/);
      expect(readMem(pid, m!.start)).toMatch(/^E(IO|FAULT)$/);
      // Control: root can read the same child's ordinary memory.
      expect(readMem(pid, big(holding!.heap.start))).toBe(true);
    } finally {
      holder.stdin.end();
    }
    const { code, signal } = await exited;
    expect(signal, stderr).toBeNull();
    expect(code, stderr).toBe(0);
  });
});

describe("backend 'mlock' (child)", () => {
  it('is locked (smaps lo, Locked = data size), DONTDUMP (dd), DONTFORK (dc), and readable through /proc/self/mem', async () => {
    const r = await child({ action: 'procmem', configure: { backend: 'mlock' } });
    const p = stage(r, 'probe');
    expect(p.report).toMatchObject({ backend: 'mlock', locked: true, dontdump: true, dontfork: true, lockedBytes: REGION });
    expect(p.report.memfdSecret.tried).toBe(false);
    expect(p.mapping.path).toBe('');
    expect(p.mapping.perms).toBe('rw-p');
    expect(big(p.mapping.end) - big(p.mapping.start)).toBe(BigInt(REGION));
    expect(p.smaps.size).toBe(REGION);
    expect(p.smaps.locked).toBe(REGION);
    expect(p.smaps.vmFlags).toEqual(expect.arrayContaining(['lo', 'dd', 'dc']));
    // Not secret memory: the kernel lets /proc/self/mem read it.
    expect(p.readKey).toEqual({ ok: true, bytes: 16 });
    expect(p.readMappingStart).toEqual({ ok: true, bytes: 16 });
    expect(p.readHeap).toEqual({ ok: true, bytes: 16 });
  });

  it("for comparison, the memfd_secret region's smaps shows lo, dd, dc and /proc/self/mem fails", async () => {
    const r = await child({ action: 'procmem', configure: {} });
    const p = stage(r, 'probe');
    expect(p.report.backend).toBe('memfd_secret');
    expect(p.mapping.path).toBe('/secretmem (deleted)');
    expect(p.smaps.locked).toBe(REGION);
    expect(p.smaps.vmFlags).toEqual(expect.arrayContaining(['lo', 'dd', 'dc']));
    expect(p.readKey.ok).toBe(false);
    expect(p.readKey.code).toMatch(/^E(IO|FAULT)$/);
    expect(p.readHeap).toEqual({ ok: true, bytes: 16 });
  });
});

describe.skipIf(!isRoot)('restricted children (uid 65534, RLIMIT_MEMLOCK, seccomp)', () => {
  const nobody = { asUser: NOBODY, memlock: 65536 };

  it('256 live 32-byte keys fit under memlock 64 KiB with the default policy (memfd_secret)', async () => {
    const r = await child({ action: 'fill', keys: 256, configure: {} }, nobody);
    const f = stage(r, 'filled');
    expect(f.error).toBeNull();
    expect(f.made).toBe(256);
    expect(f.usable).toBe(true);
    expect(f.verify).toBe('ok');
    expect(f.report).toMatchObject({ backend: 'memfd_secret', locked: true, memlockLimit: 65536, liveSlots: 256 });
    expect(f.report.lockedBytes).toBeLessThanOrEqual(65536);
    expect(f.report.lockedBytes).toBe(2 * REGION);
    expect(f.after.liveSlots).toBe(0);
  });

  it('with memfd_secret denied (seccomp ENOSYS) the default policy falls back to mlock and says so', async () => {
    const r = await child({ action: 'fill', keys: 256, configure: {} }, { ...nobody, denyMemfdSecret: true });
    const f = stage(r, 'filled');
    expect(f.error).toBeNull();
    expect(f.made).toBe(256);
    expect(f.usable).toBe(true);
    expect(f.report).toMatchObject({
      backend: 'mlock',
      locked: true,
      memfdSecret: { tried: true, used: false, errno: ENOSYS },
      mlock: { failures: 0 },
    });
    expect(f.report.lockedBytes).toBeLessThanOrEqual(65536);
    expect(f.report.notes.join('\n')).toMatch(/memfd_secret.*errno 38/);
  });

  it('with memfd_secret and mlock denied the default policy refuses, naming mlock and its errno', async () => {
    const r = await child({ action: 'fill', keys: 1, configure: {} }, { ...nobody, denyMemfdSecret: true, denyMlock: true });
    const c = stage(r, 'configure');
    expect(c.ok).toBe(false);
    expect(c.code).toBe('ERR_PROTECTION_UNAVAILABLE');
    expect(c.message).toMatch(/mlock/);
    expect(c.message).toMatch(/errno 1\b/);
    const rep = stage(r, 'report').report;
    expect(rep).toMatchObject({
      initialized: false,
      locked: false,
      lockedBytes: 0,
      memfdSecret: { tried: true, used: false, errno: ENOSYS },
      mlock: { failures: 1, errno: EPERM },
    });
  });

  it("with memfd_secret and mlock denied require: 'any' runs on unlocked guarded memory and says so", async () => {
    const r = await child(
      { action: 'fill', keys: 256, configure: { require: 'any' } },
      { ...nobody, denyMemfdSecret: true, denyMlock: true },
    );
    const f = stage(r, 'filled');
    expect(f.error).toBeNull();
    expect(f.made).toBe(256);
    expect(f.usable).toBe(true);
    expect(f.report).toMatchObject({
      backend: 'mlock',
      require: 'any',
      locked: false,
      guardPages: true,
      dontdump: true,
      lockedBytes: 0,
      memfdSecret: { used: false, errno: ENOSYS },
      mlock: { errno: EPERM },
    });
    expect(f.report.mlock.failures).toBeGreaterThanOrEqual(1);
    expect(f.report.notes.join('\n')).toMatch(/NOT locked.*errno 1\b/);
  });

  it("require: 'secret' with memfd_secret denied refuses, naming memfd_secret, and does not fall back", async () => {
    const r = await child({ action: 'fill', keys: 1, configure: { require: 'secret' } }, { ...nobody, denyMemfdSecret: true });
    const c = stage(r, 'configure');
    expect(c.ok).toBe(false);
    expect(c.code).toBe('ERR_PROTECTION_UNAVAILABLE');
    expect(c.message).toMatch(/memfd_secret/);
    expect(c.message).toMatch(/errno 38\b/);
    const rep = stage(r, 'report').report;
    expect(rep).toMatchObject({ initialized: false, memfdSecret: { tried: true, errno: ENOSYS }, mlock: { failures: 0 } });
  });

  it("backend 'plain' needs require: 'any'; backend 'mlock' cannot satisfy require: 'secret'", async () => {
    for (const configure of [{ backend: 'plain' }, { backend: 'plain', require: 'locked' }, { backend: 'mlock', require: 'secret' }]) {
      const r = await child({ action: 'fill', keys: 1, configure }, nobody);
      const c = stage(r, 'configure');
      expect(c, JSON.stringify(configure)).toMatchObject({ ok: false, code: 'ERR_INVALID_ARGUMENT' });
      expect(stage(r, 'report').report.initialized).toBe(false);
    }
    // Control: with require: 'any', plain is accepted and reported as unlocked.
    const r = await child({ action: 'fill', keys: 2, configure: { backend: 'plain', require: 'any' } }, nobody);
    expect(stage(r, 'filled').report).toMatchObject({ backend: 'plain', locked: false, dontdump: false, guardPages: true });
  });

  it.each([
    ['memfd_secret', false, EAGAIN],
    ['mlock', true, ENOMEM],
  ])(
    'memlock exhausted mid-way (%s): ERR_ARENA_EXHAUSTED, no crash, no downgrade',
    async (backend, denyMemfdSecret, errno) => {
      // memlock 16 KiB = one 4-page region: the first region fits, the second does not.
      const r = await child(
        { action: 'fill', keys: 600, warm: true, configure: { regionPages: 4 } },
        { asUser: NOBODY, memlock: REGION, denyMemfdSecret },
      );
      const f = stage(r, 'filled');
      // One region: 256 cells, minus the canary cell, minus the 25 cells (1536 + 32 bytes) of
      // the addon's scratch area, reserved at the end of region 0 when the arena is created.
      const fit = 256 - 1 - Math.ceil((1536 + 32) / 64);
      expect(f.made).toBe(fit);
      expect(f.error).toMatchObject({ at: fit, code: 'ERR_ARENA_EXHAUSTED' });
      expect(f.error.message).toMatch(new RegExp(`errno ${errno}\\b`));
      // No silent downgrade: still the same backend, still locked, nothing unlocked added.
      expect(f.report).toMatchObject({ backend, locked: true, lockedBytes: REGION, regions: 1, liveSlots: fit, cellsTotal: fit });
      expect(f.report.notes.join('\n')).not.toMatch(/NOT locked/);
      // The keys made before the limit are intact and usable.
      expect(f.usable).toBe(true);
      expect(f.verify).toBe('ok');
      expect(f.after).toMatchObject({ liveSlots: 0, locked: true });
    },
  );

  // Regression: the scratch area that HMAC/AEAD/HKDF need is reserved when the arena is
  // created, so a full arena never makes existing keys unusable.
  it('keys made before memlock ran out stay usable even if none was used before', async () => {
    const r = await child(
      { action: 'fill', keys: 600, configure: { regionPages: 4 } },
      { asUser: NOBODY, memlock: REGION },
    );
    const f = stage(r, 'filled');
    expect(f.error).toMatchObject({ code: 'ERR_ARENA_EXHAUSTED' });
    expect(f.usable).toBe(true);
  });

  // Regression: when the memfd_secret mmap of the FIRST region fails with EAGAIN (RLIMIT_MEMLOCK
  // below one region), initialisation cannot get the required protection:
  // ERR_PROTECTION_UNAVAILABLE, as on the mlock path.
  it("require: 'secret' with memlock below one region refuses with ERR_PROTECTION_UNAVAILABLE", async () => {
    const r = await child({ action: 'fill', keys: 1, configure: { require: 'secret' } }, { asUser: NOBODY, memlock: 8192 });
    const c = stage(r, 'configure');
    expect(c.ok).toBe(false);
    expect(c.message).toMatch(/memfd_secret.*errno 11\b/);
    expect(c.code).toBe('ERR_PROTECTION_UNAVAILABLE');
  });

  it('64 concurrent scopes with 3 keys each fit under memlock 64 KiB on the mlock fallback', async () => {
    const r = await child(
      { action: 'fill', scopes: 64, keysPerScope: 3, configure: {} },
      { ...nobody, denyMemfdSecret: true },
    );
    const f = stage(r, 'filled');
    expect(f.error).toBeNull();
    expect(f.keysPerScope).toEqual(Array(64).fill(3));
    expect(f.report).toMatchObject({ backend: 'mlock', locked: true, liveScopes: 64, liveSlots: 192 });
    expect(f.report.lockedBytes).toBeLessThanOrEqual(65536);
    expect(f.verify).toBe('ok');
    // Ending each scope wipes exactly its keys.
    expect(f.wiped).toEqual(Array(64).fill(3));
    expect(f.after).toMatchObject({ liveSlots: 0, liveScopes: 0 });
  });
});

describe.skipIf(!isRoot)('hardenProcess (child)', () => {
  it('turns off dumpable (same-uid /proc/<pid>/mem reads fail) and sets RLIMIT_CORE to 0', async () => {
    // Start with a non-zero core limit so that RLIMIT_CORE 0 is the child's doing.
    const inner = await restrictedArgv([process.execPath, FIXTURE, JSON.stringify({ action: 'harden' })], { asUser: NOBODY });
    const r = await runRestricted(['prlimit', '--core=1048576:1048576', '--', ...inner]);
    expect(r.code, r.stderr).toBe(0);
    stage(r, 'done');
    const before = stage(r, 'before');
    expect(before).toMatchObject({ uid: NOBODY, dumpable: true, coreLimit: 1048576 });
    expect(before.core).toMatch(/^Max core file size\s+1048576\s+1048576\s+bytes/);
    // Control: before hardening, a process of the same uid reads our memory.
    expect(before.sameUidRead).toBe('ok');
    const after = stage(r, 'after');
    expect(after.result).toEqual({ ok: true, value: { dumpable: false, coreLimit: 0 } });
    expect(after.dumpable).toBe(false);
    expect(after.coreLimit).toBe(0);
    expect(after.core).toMatch(/^Max core file size\s+0\s+0\s+bytes/);
    expect(after.sameUidRead).toBe('EACCES');
  });
});
