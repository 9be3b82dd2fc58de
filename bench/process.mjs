// Process-level measurements: cold start (addon load, first scope) and system
// calls per invocation after warm-up (strace -c -f, when strace is available).
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { addonPath, DIST, DIST_CJS } from './lib.mjs';
import { median } from './stats.mjs';

const CHILD = join(dirname(fileURLToPath(import.meta.url)), 'child.mjs');
const childEnv = () => ({ ...process.env, SECRET_SCOPE_BENCH_DIST: DIST });

function wall(args) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: childEnv() });
  const elapsed = Number(process.hrtime.bigint() - t0);
  if (r.status !== 0) throw new Error(`${args.join(' ')} failed: ${String(r.stderr).trim().split('\n').slice(-3).join(' / ')}`);
  return { elapsed, stdout: String(r.stdout) };
}

export function runColdStart({ smoke }) {
  const runs = smoke ? 3 : 21;
  const addon = addonPath();
  const variants = {
    bareNode: ['-e', '0'],
    requireAddon: ['-e', `require(${JSON.stringify(addon)})`],
    requireLibraryCjs: ['-e', `require(${JSON.stringify(DIST_CJS)})`],
  };
  const t = Object.fromEntries(Object.keys(variants).map((k) => [k, []]));
  const inProcess = [];
  wall(variants.bareNode); // page cache warm
  for (let r = 0; r < runs; r++) {
    for (const [k, args] of Object.entries(variants)) t[k].push(wall(args).elapsed);
    inProcess.push(JSON.parse(wall([CHILD, 'coldstart']).stdout));
  }
  const med = Object.fromEntries(Object.entries(t).map(([k, v]) => [k, median(v)]));
  const pick = (f) => median(inProcess.map((x) => x[f]));
  return {
    runs,
    processWallMedianNs: med,
    addonLoadNs: med.requireAddon - med.bareNode,
    libraryRequireNs: med.requireLibraryCjs - med.bareNode,
    inProcessMedianNs: {
      importLibraryEsm: pick('importNs'),
      addonLoadInLibrary: pick('addonLoadNs'),
      firstScopeOpen: pick('firstScopeOpenNs'),
      firstInvocation: pick('firstInvocationNs'),
      secondInvocation: pick('secondInvocationNs'),
    },
    backend: inProcess[0]?.backend,
    notes: [
      'addonLoadNs = median wall time of `node -e "require(<addon .node>)"` minus `node -e 0` (interleaved).',
      'addonLoadInLibrary: the library\'s lazy addon load (first protectionReport(): node-gyp-build lookup + dlopen). firstScopeOpen: the first openScope() after it: sodium_init, maps the first region (memfd_secret or mmap+mlock), guard pages, canaries.',
      'firstInvocation: the first full invocation after that (JIT cold); secondInvocation: the next one.',
    ],
  };
}

// System calls that allocating, locking or wiping secret memory would make.
const ARENA_SYSCALLS = ['mmap', 'munmap', 'mprotect', 'mlock', 'mlock2', 'munlock', 'madvise', 'memfd_secret', 'ftruncate', 'getrandom', 'openat', 'close', 'brk'];

function parseStraceC(text) {
  const calls = {};
  for (const line of text.split('\n')) {
    const m = line.trim().match(/^[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:\d+\s+)?([a-z_0-9]+)$/);
    if (m && m[2] !== 'total') calls[m[2]] = Number(m[1]);
  }
  return calls;
}

export function runSyscalls({ smoke }) {
  try {
    execFileSync('strace', ['-V'], { stdio: 'ignore' });
  } catch {
    return { skipped: 'strace is not installed (apt-get install strace)' };
  }
  const dir = mkdtempSync(join(tmpdir(), 'secret-scope-strace-'));
  const count = (id, n) => {
    const out = join(dir, `${id}-${n}.txt`);
    const r = spawnSync('strace', ['-f', '-c', '-o', out, process.execPath, CHILD, 'syscalls', id, String(n)], {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: childEnv(),
    });
    if (r.status !== 0) throw new Error(`strace ${id} failed: ${String(r.stderr).trim().split('\n').slice(-2).join(' / ')}`);
    return parseStraceC(readFileSync(out, 'utf8'));
  };
  const plan = smoke
    ? { secretScope: [200, 1200] }
    : { secretScope: [1000, 11000], nodeCrypto: [1000, 11000], sodiumNative: [200, 1200] };
  const result = { method: 'strace -f -c over a child that warms up (2000 invocations) then runs N; per invocation = (calls(N2) - calls(N1)) / (N2 - N1), all threads. futex/epoll_pwait come from V8 GC helper threads and the harness yielding to the event loop every 16 invocations; memoryFdRandomPerInvocation counts mmap, munmap, mprotect, mlock, munlock, madvise, memfd_secret, ftruncate, getrandom, openat, close, brk', contenders: {} };
  try {
    for (const [id, [n1, n2]] of Object.entries(plan)) {
      const a = count(id, n1);
      const b = count(id, n2);
      const per = {};
      let total = 0;
      for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) {
        const d = ((b[k] ?? 0) - (a[k] ?? 0)) / (n2 - n1);
        if (Math.abs(d) >= 0.005) per[k] = Number(d.toFixed(3));
        total += d;
      }
      const arena = ARENA_SYSCALLS.reduce((acc, k) => acc + ((b[k] ?? 0) - (a[k] ?? 0)) / (n2 - n1), 0);
      result.contenders[id] = {
        perInvocation: Number(total.toFixed(3)),
        memoryFdRandomPerInvocation: Number(arena.toFixed(3)),
        bySyscall: per,
        n: [n1, n2],
      };
    }
  } catch (e) {
    result.error = e.message;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return result;
}
