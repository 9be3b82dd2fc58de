/**
 * Exit purge (issue 4): process.exit, an uncaught exception and SIGTERM wipe every
 * live scope's keys BEFORE the process is gone, checked from outside by reading the
 * child's memory through /proc/<pid>/mem.
 *
 * The child (test/fixtures/exit-child.mjs, plain JS on dist/) runs as root with the
 * mlock backend forced — memfd_secret memory cannot be read through /proc/<pid>/mem at
 * all, which would prove nothing. It starts three wrapped invocations that each import
 * a key whose bytes this test chose (and derive a declared key), reports their
 * addresses, and keeps them in flight. Control: while they run, the known bytes are at
 * those addresses (and the derived keys are non-zero). Then the exit path runs; the
 * child's own listener, registered AFTER secret-scope's, blocks the exit until this
 * test has read the same addresses (zeros) and scanned the whole arena mapping (no copy
 * of a known key left).
 *
 * SIGTERM: with another SIGTERM listener secret-scope purges and does not re-raise (the
 * process lives on); with no other listener it purges and re-raises, so the process
 * still dies by SIGTERM (observed by wrapping process.kill, which adds no listener).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, openSync, readFileSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { beforeAll, describe, expect, it } from 'vitest';
// @ts-expect-error plain JS helper shared with test/soak.test.ts
import { ensureDist, REPO_ROOT } from './fixtures/soak-dist.mjs';

const FIXTURE = join(REPO_ROOT as string, 'test', 'fixtures', 'exit-child.mjs');
const KEYS = 3;

type Msg = Record<string, any> & { stage: string };

interface Observed {
  ready: Msg;
  purged: Msg;
  control: { known: boolean[]; derivedNonZero: boolean[]; knownInMapping: boolean[] };
  during: { known: string[]; derived: string[]; knownInMapping: boolean[]; mapping: string };
  settled?: Msg;
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
  messages: Msg[];
}

function readMem(pid: number, address: bigint, length: number): Buffer {
  const fd = openSync(`/proc/${pid}/mem`, 'r');
  try {
    const b = Buffer.alloc(length);
    const n = readSync(fd, b, 0, length, Number(address));
    return b.subarray(0, n);
  } finally {
    closeSync(fd);
  }
}

/** The /proc/<pid>/maps mapping that contains `address`. */
function mappingOf(pid: number, address: bigint): { start: bigint; end: bigint; line: string } {
  for (const line of readFileSync(`/proc/${pid}/maps`, 'utf8').split('\n').filter(Boolean)) {
    const [range] = line.split(/\s+/);
    const [s, e] = range!.split('-').map((x) => BigInt(`0x${x}`));
    if (address >= s! && address < e!) return { start: s!, end: e!, line };
  }
  throw new Error(`no mapping of pid ${pid} contains 0x${address.toString(16)}`);
}

const isZero = (b: Buffer) => b.length > 0 && b.every((x) => x === 0);

/**
 * Runs the child in `mode`, reads memory at 'ready' (control) and at 'purged?' (the
 * blocked exit path), and resolves when the child is gone.
 */
function runChild(mode: string): Promise<Observed> {
  const keys = Array.from({ length: KEYS }, () => randomBytes(32));
  const child: ChildProcess = spawn(process.execPath, [FIXTURE, JSON.stringify({ mode, keys: keys.map((k) => k.toString('hex')) })], {
    cwd: REPO_ROOT as string,
    stdio: ['ignore', 'pipe', 'pipe', 'pipe', 'pipe'],
  });
  const fromChild = child.stdio[3] as Readable;
  const toChild = child.stdio[4] as Writable;
  toChild.on('error', () => undefined); // the child may be gone before we write
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  child.stdout!.resume();
  const messages: Msg[] = [];
  const out: Partial<Observed> = { messages };
  let pid = 0;
  let addresses: { known: bigint; derived: bigint }[] = [];
  let failure: unknown;
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);

  const scan = (m: { start: bigint; end: bigint }) => {
    const region = readMem(pid, m.start, Number(m.end - m.start));
    return keys.map((k) => region.indexOf(k) >= 0);
  };

  const onMessage = (m: Msg) => {
    messages.push(m);
    if (m.stage === 'ready') {
      out.ready = m;
      pid = m.pid;
      addresses = m.addresses.map((a: { known: string; derived: string }) => ({ known: BigInt(a.known), derived: BigInt(a.derived) }));
      const mapping = mappingOf(pid, addresses[0]!.known);
      out.control = {
        known: addresses.map((a, i) => readMem(pid, a.known, 32).equals(keys[i]!)),
        derivedNonZero: addresses.map((a) => !isZero(readMem(pid, a.derived, 32))),
        knownInMapping: scan(mapping),
      };
      toChild.write('go\n');
      if (mode.startsWith('sigterm')) child.kill('SIGTERM');
    } else if (m.stage === 'purged?') {
      out.purged = m;
      const mapping = mappingOf(pid, addresses[0]!.known);
      out.during = {
        known: addresses.map((a) => readMem(pid, a.known, 32).toString('hex')),
        derived: addresses.map((a) => readMem(pid, a.derived, 32).toString('hex')),
        knownInMapping: scan(mapping),
        mapping: mapping.line,
      };
      toChild.write('done\n');
    } else if (m.stage === 'settled') {
      out.settled = m;
    }
  };

  let buf = '';
  fromChild.setEncoding('utf8').on('data', (d: string) => {
    buf += d;
    for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      try {
        onMessage(JSON.parse(line) as Msg);
      } catch (e) {
        failure ??= e;
        toChild.write('done\n');
      }
    }
  });

  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (failure) return reject(failure);
      const o = { ...out, code, signal, stderr } as Observed;
      if (!o.ready || !o.purged) {
        return reject(new Error(`child (${mode}) never reached ${o.ready ? "'purged?'" : "'ready'"}: code ${code} signal ${signal}\n${stderr}\n${JSON.stringify(messages)}`));
      }
      resolve(o);
    });
  });
}

function expectPurged(o: Observed, where: string) {
  const zero = '00'.repeat(32);
  // Control: while the invocations ran, the memory held the keys.
  expect(o.ready.backend).toBe('mlock');
  expect(o.ready.liveScopes).toBe(KEYS);
  expect(o.ready.liveSlots).toBeGreaterThanOrEqual(2 * KEYS);
  expect(o.control.known, 'the known keys are readable at their addresses while in flight').toEqual(Array(KEYS).fill(true));
  expect(o.control.derivedNonZero).toEqual(Array(KEYS).fill(true));
  expect(o.control.knownInMapping).toEqual(Array(KEYS).fill(true));
  // Before the process is gone: wiped, all of them, and no copy left in the arena mapping.
  expect(o.purged.where).toBe(where);
  expect(o.during.known, `known keys after the ${where} purge`).toEqual(Array(KEYS).fill(zero));
  expect(o.during.derived, `derived keys after the ${where} purge`).toEqual(Array(KEYS).fill(zero));
  expect(o.during.knownInMapping, `no copy of a known key anywhere in ${o.during.mapping}`).toEqual(Array(KEYS).fill(false));
  expect(o.purged.liveSlots).toBe(0);
  expect(o.purged.liveScopes).toBe(0);
  expect(o.purged.keysAlive).toEqual(Array(KEYS).fill([false, false]));
}

beforeAll(async () => {
  const what = await ensureDist();
  console.log(`[exit-purge] ${what}`);
}, 180_000);

describe('exit purge: every live scope is wiped before the process goes away', () => {
  it.skipIf(process.getuid?.() !== 0)('process.exit(7): wiped in the exit path, exit code kept', async () => {
    const o = await runChild('exit');
    expectPurged(o, 'exit');
    expect(o.purged.code).toBe(7);
    expect(o.code).toBe(7);
    expect(o.signal).toBeNull();
  });

  it.skipIf(process.getuid?.() !== 0)('uncaught exception: wiped by uncaughtExceptionMonitor, the process still dies of it', async () => {
    const o = await runChild('uncaught');
    expectPurged(o, 'uncaughtExceptionMonitor');
    expect(o.purged.origin).toBe('uncaughtException');
    expect(o.purged.error).toBe('uncaught on purpose');
    expect(o.code).toBe(1);
    expect(o.stderr).toContain('uncaught on purpose');
  });

  it.skipIf(process.getuid?.() !== 0)('SIGTERM with another listener: wiped, not re-raised, the process lives on', async () => {
    const o = await runChild('sigterm-handled');
    expectPurged(o, 'SIGTERM listener');
    expect(o.purged.listeners.SIGTERM).toBe(2);
    // The child's own handler decided: it let the invocations settle and exited 0 itself.
    expect(o.settled, o.stderr).toBeDefined();
    expect(o.settled!.report).toEqual({ liveSlots: 0, liveScopes: 0 });
    expect(o.settled!.results).toHaveLength(KEYS);
    expect(o.code).toBe(0);
    expect(o.signal).toBeNull();
  });

  it.skipIf(process.getuid?.() !== 0)('SIGTERM with no other listener: wiped, then re-raised; the process dies by SIGTERM', async () => {
    const o = await runChild('sigterm-default');
    expectPurged(o, 're-raise');
    // secret-scope's listener removed itself before re-raising: the default action runs.
    expect(o.purged.listeners.SIGTERM).toBe(0);
    expect(o.code).toBeNull();
    expect(o.signal).toBe('SIGTERM');
  });

  // Found by the case above: after the SIGTERM purge the JS SecretScope objects still say
  // active, and the wrapper's `finally { scope.end() }` throws ERR_SCOPE_ENDED from the native
  // scopeClose, replacing the handler's own result ('finished') or error. See the report.
  it.skipIf(process.getuid?.() !== 0)('invocations that finish after a SIGTERM purge keep their own outcome', async () => {
    const o = await runChild('sigterm-handled');
    expect(o.settled, o.stderr).toBeDefined();
    expect(o.settled!.results).toEqual(Array(KEYS).fill({ ok: 'finished' }));
  });
});
