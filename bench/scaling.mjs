// Scaling: keys per scope and concurrent scopes. Time per scope, and at the
// peak (all keys of all scopes alive): locked bytes, VMAs (/proc/self/maps
// lines), open fds. sodium-native does the same key work beside it (one
// sodium_malloc per secret) so the two shapes can be compared.
import { readdirSync, readFileSync } from 'node:fs';
import v8 from 'node:v8';
import vm from 'node:vm';
import { ENTROPY, INFO, SALT } from './inputs.mjs';
import { median } from './stats.mjs';
import { turn } from './harness.mjs';
import { openInvocation } from './contenders.mjs';

export function vmas() {
  try {
    return readFileSync('/proc/self/maps', 'utf8').split('\n').filter(Boolean).length;
  } catch {
    return null;
  }
}

export function fds() {
  try {
    return readdirSync('/proc/self/fd').length;
  } catch {
    return null;
  }
}

/** Bytes this process has locked now (VmLck), or null. */
export function lockedNow() {
  try {
    const m = readFileSync('/proc/self/status', 'utf8').match(/^VmLck:\s+(\d+) kB/m);
    return m ? Number(m[1]) * 1024 : null;
  } catch {
    return null;
  }
}

/** A full garbage collection, so that GC-deferred frees (sodium-native's sodium_free) have happened. */
export const gc = (() => {
  if (typeof globalThis.gc === 'function') return globalThis.gc;
  try {
    v8.setFlagsFromString('--expose-gc');
    return vm.runInNewContext('gc');
  } catch {
    return () => {};
  }
})();

/**
 * Median ns per call of fn: warm-up, then `reps` samples of k calls each (k sized to ~sampleMs, at
 * most maxK). Every sample ends with an event-loop turn inside the timing (see harness.mjs turn()).
 */
async function timeIt(fn, reps, { warmMs = 30, sampleMs = 3, maxK = Infinity } = {}) {
  let done = 0;
  const w0 = process.hrtime.bigint();
  let spent = 0;
  while (spent < warmMs * 1e6 || done < 3) {
    fn();
    done++;
    if (done % maxK === 0) await turn();
    spent = Number(process.hrtime.bigint() - w0);
  }
  await turn();
  const k = Math.max(1, Math.min(maxK, Math.round((sampleMs * 1e6 * done) / spent)));
  const s = [];
  for (let r = 0; r < reps; r++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < k; i++) fn();
    await turn();
    s.push(Number(process.hrtime.bigint() - t0) / k);
  }
  return median(s);
}

/** Lets deferred frees run, then collects garbage. */
async function settle() {
  await turn();
  gc();
  await turn();
}

export async function runScaling({ lib, sodium, smoke }) {
  const { openScope, importKey, hkdfExtract, hkdfExpand, protectionReport } = lib;
  const S = sodium?.sodium;
  const inbox = Buffer.alloc(64);
  const report = () => protectionReport();

  // ---- secret-scope: one scope with n keys (the 4 of the workload generalised to n)
  const ssScope = (n) => {
    ENTROPY.copy(inbox);
    const scope = openScope();
    const prk = hkdfExtract(importKey(inbox, { scope }), { salt: SALT, scope });
    const keys = new Array(n);
    for (let i = 0; i < n; i++) keys[i] = hkdfExpand(prk, { info: INFO[i], length: 32, scope, use: 'secret' });
    return scope;
  };
  const ssInvocation = openInvocation(lib);
  // ---- sodium-native: the same shapes, every secret in its own sodium_malloc (HMAC via crypto_hash_sha256
  //      is left out here: this section is about allocation, the crypto section compares compute).
  const snScope = (n) => {
    const bufs = [S.sodium_malloc(64), S.sodium_malloc(32)];
    ENTROPY.copy(bufs[0]);
    for (let i = 0; i < n; i++) bufs.push(S.sodium_malloc(32));
    return bufs;
  };
  const snFree = (bufs) => {
    for (const b of bufs) S.sodium_free(b);
  };

  // sodium_malloc locks one page per allocation, and sodium-native ABORTS the process (a failed
  // assertion in napi_create_external_arraybuffer) when sodium_malloc returns NULL at RLIMIT_MEMLOCK;
  // so only run the sodium-native shapes that fit.
  const page = report().pageSize;
  const snRoom = () => {
    const limit = report().memlockLimit;
    const locked = lockedNow();
    if (limit == null || locked == null) return Infinity;
    return Math.floor((limit * 0.9 - locked) / page);
  };
  const snFits = (allocations) => {
    const limit = report().memlockLimit;
    const locked = lockedNow();
    if (limit == null || locked == null) return true;
    return locked + allocations * page < limit * 0.9;
  };
  const snSkip = (allocations) =>
    `skipped: ${allocations} sodium_malloc would lock ~${((allocations * page) / 1024).toFixed(0)} KiB, too close to RLIMIT_MEMLOCK ${(report().memlockLimit / 1024).toFixed(0)} KiB (sodium-native aborts the process when sodium_malloc fails)`;

  const reps = smoke ? 3 : 15;
  const timing = smoke ? { warmMs: 3, sampleMs: 1 } : { warmMs: 30, sampleMs: 3 };
  const keysPerScope = [1, 4, 16, 64, 256];
  const concurrent = smoke ? [1, 16, 64] : [1, 16, 64, 256];
  const out = { keysPerScope: [], concurrentScopes: [], notes: [] };

  await settle();
  const base = { vmas: vmas(), fds: fds(), lockedBytes: report().lockedBytes };
  out.baseline = base;

  for (const n of keysPerScope) {
    const row = { keys: n };
    try {
      // warm-up: the arena grows to what this shape needs once
      const r0 = report();
      row.secretScopeNsPerScope = await timeIt(() => ssScope(n).end(), reps, timing);
      row.secretScopeNsPerKey = row.secretScopeNsPerScope / n;
      const r1 = report();
      row.regionsCreatedWhileTimed = r1.regionsCreated - r0.regionsCreated;
      await settle();
      const scope = ssScope(n);
      const peak = report();
      row.lockedBytes = peak.lockedBytes;
      row.regions = peak.regions;
      row.vmas = vmas();
      row.fds = fds();
      scope.end();
    } catch (e) {
      row.secretScopeError = `${e.code ?? e.name}: ${e.message}`;
    }
    if (S && !snFits(n + 2)) row.sodiumNativeError = snSkip(n + 2);
    else if (S) {
      try {
        row.sodiumNativeNsPerScope = await timeIt(() => snFree(snScope(n)), reps, { ...timing, maxK: Math.max(1, Math.floor(snRoom() / 2 / (n + 2))) });
        await settle();
        const bufs = snScope(n);
        row.sodiumNativeVmas = vmas();
        snFree(bufs);
      } catch (e) {
        row.sodiumNativeError = e.message;
      }
    }
    out.keysPerScope.push(row);
  }

  for (const m of concurrent) {
    const row = { scopes: m };
    try {
      let opened = 0;
      const many = () => {
        opened += m;
        const scopes = new Array(m);
        for (let i = 0; i < m; i++) scopes[i] = ssInvocation();
        return scopes;
      };
      const r0 = report();
      row.secretScopeNsPerScope = (await timeIt(() => {
        for (const s of many()) s.end();
      }, reps, timing)) / m;
      const r1 = report();
      row.regionsCreatedWhileTimed = r1.regionsCreated - r0.regionsCreated;
      row.regionsCreatedPer1000Scopes = (1000 * row.regionsCreatedWhileTimed) / opened;
      await settle();
      const scopes = many();
      const peak = report();
      row.lockedBytes = peak.lockedBytes;
      row.regions = peak.regions;
      row.vmas = vmas();
      row.fds = fds();
      row.liveScopes = peak.liveScopes;
      for (const s of scopes) s.end();
    } catch (e) {
      row.secretScopeError = `${e.code ?? e.name}: ${e.message}`;
    }
    if (S && !snFits(m * 6)) row.sodiumNativeError = snSkip(m * 6);
    else if (S) {
      try {
        const many = () => Array.from({ length: m }, () => snScope(4));
        row.sodiumNativeNsPerScope = (await timeIt(() => {
          for (const b of many()) snFree(b);
        }, reps, { ...timing, maxK: Math.max(1, Math.floor(snRoom() / 2 / (m * 6))) })) / m;
        await settle();
        const all = many();
        row.sodiumNativeVmas = vmas();
        for (const b of all) snFree(b);
      } catch (e) {
        row.sodiumNativeError = e.message;
      }
    }
    out.concurrentScopes.push(row);
  }
  out.churn256 = await runChurn256({ report, ssInvocation, smoke });
  const after = report();
  out.regionsAfter = after.regions;
  out.lockedBytesAfter = after.lockedBytes;
  out.notes.push(
    'keys per scope: open scope, import 64 B, HKDF-Extract, n x HKDF-Expand(32 B), end. concurrent scopes: m full invocations (4 keys + HMAC + seal) open at once, then all ended; time is per scope.',
    'sodium-native rows: the same secrets each in a sodium_malloc (no crypto), for the allocation shape. Its sodium_free only detaches the ArrayBuffer: the real sodium_free (wipe, munlock, munmap) runs in the GC finalizer, so until a GC the bytes stay in memory and the VMAs and locked pages pile up. VMA counts here are taken after a forced GC.',
  );
  return out;
}

/** Issue 11 goal 4: at most 1 region created per 1,000 scopes, 256 concurrent, in steady state. */
export const CHURN256_TARGET = 1;

/**
 * Region churn at 256 concurrent scopes, steady state: waves of 256 full invocations open at
 * once, then all ended, with an event-loop turn between waves (the arena's idle timer may
 * run). Warm-up waves first, so that the arena has grown to what 256 scopes need; then the
 * regions created over the measured waves. Then idle: the arena should give the surplus
 * regions back (configureSecretMemory idleReleaseMs), which the row reports.
 */
async function runChurn256({ report, ssInvocation, smoke }) {
  const m = 256;
  const warmWaves = 4;
  const waves = smoke ? 8 : 80;
  const wave = () => {
    const scopes = new Array(m);
    for (let i = 0; i < m; i++) scopes[i] = ssInvocation();
    const peak = report().regions;
    for (const s of scopes) s.end();
    return peak;
  };
  const row = { scopes: m, waves, target: CHURN256_TARGET };
  try {
    for (let w = 0; w < warmWaves; w++) {
      wave();
      await turn();
    }
    const r0 = report();
    let peak = 0;
    const t0 = process.hrtime.bigint();
    for (let w = 0; w < waves; w++) {
      peak = Math.max(peak, wave());
      await turn();
    }
    const ns = Number(process.hrtime.bigint() - t0);
    const r1 = report();
    row.scopesMeasured = waves * m;
    row.nsPerScope = ns / row.scopesMeasured;
    row.regionsCreated = r1.regionsCreated - r0.regionsCreated;
    row.regionsReleased = r1.regionsReleased - r0.regionsReleased;
    row.regionsCreatedPer1000Scopes = (1000 * row.regionsCreated) / row.scopesMeasured;
    row.pass = row.regionsCreatedPer1000Scopes <= CHURN256_TARGET;
    row.peakRegions = peak;
    row.regionsRetained = r1.regions;
    row.lockedBytesRetained = r1.lockedBytes;
    row.idleReleaseMs = r1.idleReleaseMs ?? null;
    // Idle: how long until the surplus regions are unmapped (bounded by the wait below).
    const limitMs = Math.max(3000, 4 * (r1.idleReleaseMs ?? 0));
    const i0 = Date.now();
    while (report().idleReleasePending && Date.now() - i0 < limitMs) await new Promise((r) => setTimeout(r, 10));
    const r2 = report();
    row.afterIdle = { ms: Date.now() - i0, regions: r2.regions, lockedBytes: r2.lockedBytes, pending: r2.idleReleasePending ?? null };
  } catch (e) {
    row.error = `${e.code ?? e.name}: ${e.message}`;
  }
  return row;
}
