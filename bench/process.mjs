// Process-level measurements: cold start (addon load, first scope) and system
// calls per invocation after warm-up (strace -c -f, when strace is available).
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { addonPath, DIST, DIST_CJS } from './lib.mjs';
import { median } from './stats.mjs';
import { pathToFileURL } from 'node:url';

/** Target of issue 11: ms secret-scope adds from process start to the first invocation's response. */
export const COLD_START_TARGET_MS = 3;
const COLD_DIR = join(dirname(fileURLToPath(import.meta.url)), 'coldstart');

const CHILD = join(dirname(fileURLToPath(import.meta.url)), 'child.mjs');
const childEnv = () => ({ ...process.env, SECRET_SCOPE_BENCH_DIST: DIST });

function wall(args) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: childEnv() });
  const elapsed = Number(process.hrtime.bigint() - t0);
  if (r.status !== 0) throw new Error(`${args.join(' ')} failed: ${String(r.stderr).trim().split('\n').slice(-3).join(' / ')}`);
  return { elapsed, stdout: String(r.stdout) };
}

/** Runs one child (async: the local KMS endpoint answering it lives in this process). */
function child(args, env) {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (err += d));
    p.on('error', reject);
    p.on('close', (code) => {
      if (code !== 0) reject(new Error(`${args.join(' ')} exited ${code}: ${err.trim().split('\n').slice(-3).join(' / ')}`));
      else resolve(out);
    });
  });
}

/** A cold-start child's environment: this build, the local KMS endpoint, fixed credentials, no profile files. */
export function coldStartEnv(local) {
  const env = {
    ...childEnv(),
    AWS_ENDPOINT_URL_KMS: local.url,
    AWS_REGION: local.region ?? 'us-east-1',
    AWS_ACCESS_KEY_ID: 'AKIDCOLDSTART',
    AWS_SECRET_ACCESS_KEY: 'cold-start-secret',
    AWS_SDK_LOAD_CONFIG: '0',
    AWS_CONFIG_FILE: '/dev/null',
    AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
  };
  delete env.AWS_PROFILE;
  delete env.AWS_SESSION_TOKEN;
  return env;
}

/**
 * Issue 11, goal 3: from process start to the first invocation's response, the README's
 * quick-start handler against a careful user's handler (GenerateRandom through the AWS SDK,
 * node:crypto hkdfSync + HMAC). Both load the SDK and call the same local KMS endpoint
 * (started here, its URL passed as AWS_ENDPOINT_URL_KMS); fresh processes, interleaved.
 */
export async function runFirstInvocation({ smoke, runs: count, compareDist }) {
  const kmsLocalPath = join(DIST, 'kms-local.js');
  if (!existsSync(kmsLocalPath)) return { skipped: `${kmsLocalPath} is missing` };
  const { startKmsLocal } = await import(pathToFileURL(kmsLocalPath).href);
  const local = await startKmsLocal({});
  const env = coldStartEnv(local);
  const runner = join(COLD_DIR, 'first-invocation.mjs');
  const variants = {
    carefulEsm: { file: 'careful.mjs' },
    secretScopeEsm: { file: 'quickstart.mjs' },
    secretScopeEsmRatchet: { file: 'quickstart.mjs', policy: 'ratchet' },
    carefulCjs: { file: 'careful.cjs' },
    secretScopeCjs: { file: 'quickstart.cjs' },
  };
  // bench/compare.mjs: the same quick-start handlers from another build, in the same rounds.
  if (compareDist) {
    variants.otherEsm = { file: 'quickstart.mjs', dist: compareDist };
    variants.otherCjs = { file: 'quickstart.cjs', dist: compareDist };
  }
  const runs = count ?? (smoke ? 3 : 21);
  const t = Object.fromEntries(Object.keys(variants).map((k) => [k, { init: [], first: [] }]));
  try {
    const once = async (v) => {
      const e = { ...env };
      if (v.policy) e.SECRET_SCOPE_BENCH_POLICY = v.policy;
      if (v.dist) e.SECRET_SCOPE_BENCH_DIST = v.dist;
      return JSON.parse(await child([runner, join(COLD_DIR, v.file)], e));
    };
    for (const v of Object.values(variants)) await once(v); // page cache warm
    const names = Object.keys(variants);
    for (let r = 0; r < runs; r++) {
      for (let j = 0; j < names.length; j++) {
        const name = names[(r + j) % names.length];
        const x = await once(variants[name]);
        t[name].init.push(x.initMs);
        t[name].first.push(x.firstResponseMs);
      }
    }
  } finally {
    await local.close();
  }
  const ms = (v) => Number(v.toFixed(2));
  const medians = Object.fromEntries(Object.entries(t).map(([k, v]) => [k, { initMs: ms(median(v.init)), firstResponseMs: ms(median(v.first)) }]));
  const added = (ss, base) => ms(medians[ss].firstResponseMs - medians[base].firstResponseMs);
  // Same-round pairs: each round ran every variant once, so a machine that got busier for a
  // while slows both sides of a pair; the median of the pairs is steadier than a difference of medians.
  const paired = (ss, base) => ms(median(t[ss].first.map((v, i) => v - t[base].first[i])));
  const rows = {
    esm: added('secretScopeEsm', 'carefulEsm'),
    esmRatchet: added('secretScopeEsmRatchet', 'carefulEsm'),
    cjs: added('secretScopeCjs', 'carefulCjs'),
  };
  const pairedRows = {
    esm: paired('secretScopeEsm', 'carefulEsm'),
    esmRatchet: paired('secretScopeEsmRatchet', 'carefulEsm'),
    cjs: paired('secretScopeCjs', 'carefulCjs'),
  };
  if (compareDist) {
    rows.otherEsm = added('otherEsm', 'carefulEsm');
    rows.otherCjs = added('otherCjs', 'carefulCjs');
    pairedRows.otherEsm = paired('otherEsm', 'carefulEsm');
    pairedRows.otherCjs = paired('otherCjs', 'carefulCjs');
  }
  const addedMs = Math.max(rows.esm, rows.esmRatchet, rows.cjs);
  return {
    runs,
    medians,
    addedMsByVariant: rows,
    pairedAddedMsByVariant: pairedRows,
    addedMs,
    target: { target: COLD_START_TARGET_MS, value: addedMs, pass: addedMs <= COLD_START_TARGET_MS },
    notes: [
      'ms from process start (process.uptime()) to the first response, medians of fresh processes, variants interleaved; initMs: when the handler module had loaded.',
      "secret-scope: the README's quick-start handler (default per-invocation policy; also with ratchet); careful: @aws-sdk/client-kms GenerateRandom + node:crypto hkdfSync + HMAC; both against the same local KMS endpoint (AWS_ENDPOINT_URL_KMS).",
      'addedMs: the worst of ESM, ESM ratchet and CommonJS (difference of medians); pairedAddedMsByVariant: median of same-round differences.',
    ],
  };
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
