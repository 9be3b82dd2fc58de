#!/usr/bin/env node
// secret-scope benchmarks (issue 5). Measures the BUILT library in dist/.
//
//   npm run build && npm run bench              human-readable report
//   npm run bench -- --json                     JSON on stdout (progress on stderr)
//   npm run bench -- --smoke                    short run for CI (< 30 s; no timing assertions)
//   npm run bench -- --only=crypto,scaling      sections: crypto, breakdown, signing, hpke, scaling, kms, invocation, coldstart, syscalls
//
// Benchmarks are not tests: the exit code is 0 unless something crashes.
import { readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import { runBreakdown } from './breakdown.mjs';
import { runCrypto, TARGETS } from './crypto.mjs';
import { buildFloor } from './floor.mjs';
import { runKms } from './kms.mjs';
import { INVOCATION_TARGETS, runInvocation } from './invocation.mjs';
import { DIST, loadLibrary, loadSodiumNative, rawAddon } from './lib.mjs';
import { COLD_START_TARGET_MS, runColdStart, runFirstInvocation, runSyscalls } from './process.mjs';
import { runScaling } from './scaling.mjs';
import { runSigning } from './signing.mjs';
import { runHpke } from './hpke.mjs';
import { fmtNs, fmtRatio, table } from './stats.mjs';

const argv = process.argv.slice(2);
const json = argv.includes('--json');
const smoke = argv.includes('--smoke');
const onlyArg = argv.find((a) => a.startsWith('--only='));
const SECTIONS = ['crypto', 'breakdown', 'signing', 'hpke', 'scaling', 'kms', 'invocation', 'coldstart', 'syscalls'];
const only = onlyArg ? onlyArg.slice(7).split(',') : SECTIONS.filter((s) => !(smoke && s === 'syscalls'));
const log = (...a) => process.stderr.write(`${a.join(' ')}\n`);
const say = json ? () => {} : (s = '') => process.stdout.write(`${s}\n`);

function machine(lib) {
  let cpu = 'unknown';
  try {
    const info = readFileSync('/proc/cpuinfo', 'utf8');
    cpu = info.match(/^model name\s*:\s*(.+)$/m)?.[1] ?? info.match(/^(?:CPU part|Hardware)\s*:\s*(.+)$/m)?.[1] ?? cpu;
    const flags = info.match(/^flags\s*:\s*(.+)$/m)?.[1]?.split(' ') ?? info.match(/^Features\s*:\s*(.+)$/m)?.[1]?.split(' ') ?? [];
    cpu += ` [${['sha_ni', 'avx2', 'avx512f', 'aes', 'sha2', 'asimd'].filter((f) => flags.includes(f)).join(' ')}]`;
  } catch {
    /* not Linux */
  }
  const r = lib.protectionReport();
  return {
    nproc: os.availableParallelism?.() ?? os.cpus().length,
    cpu,
    kernel: `${os.type()} ${os.release()} ${os.machine?.() ?? process.arch}`,
    node: process.version,
    openssl: process.versions.openssl,
    libsodium: r.libsodium,
    backend: r.backend,
    memlockLimit: r.memlockLimit,
  };
}

async function section(name, fn) {
  if (!only.includes(name)) return undefined;
  log(`bench: ${name}...`);
  const t0 = Date.now();
  try {
    const r = await fn();
    log(`bench: ${name} done in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    return r;
  } catch (e) {
    log(`bench: ${name} failed: ${e.stack ?? e}`);
    return { error: `${e.code ?? e.name}: ${e.message}` };
  }
}

const lib = await loadLibrary();
const requirement = process.env.SECRET_SCOPE_REQUIRE ?? 'locked';
let memoryNote;
try {
  lib.configureSecretMemory({ require: requirement });
} catch (e) {
  // A CI box without memfd_secret and with a tiny RLIMIT_MEMLOCK still gets its smoke run.
  memoryNote = `require '${requirement}' failed (${e.code}: ${e.message}); measured with require 'any'`;
  log(`bench: ${memoryNote}`);
  lib.configureSecretMemory({ require: 'any' });
}
const raw = rawAddon();
const sodium = loadSodiumNative();
const started = Date.now();
const m = machine(lib);

const out = {
  command: `npm run bench --${argv.length ? ` ${argv.join(' ')}` : ''}`,
  smoke,
  dist: DIST,
  machine: m,
  memoryNote,
  sodiumNative: sodium.version ?? sodium.error,
};

out.crypto = await section('crypto', () => runCrypto({ lib, raw, sodium, smoke, log: (s) => log(s) }));
out.ratios = out.crypto?.ratios ?? { vsNodeCrypto: null, vsSodiumNative: null, vsFloor: null, vsShaNiFloor: null };
out.targets = out.crypto?.targets;
out.breakdown = await section('breakdown', async () => {
  const f = buildFloor({ variant: 'shani' }); // the primitives the addon calls (SHA-NI SHA-256)
  try {
    return await runBreakdown({ lib, raw, floorExe: f.exe, smoke });
  } finally {
    if (f.dir) rmSync(f.dir, { recursive: true, force: true });
  }
});
out.signing = await section('signing', () => runSigning({ lib, smoke }));
out.hpke = await section('hpke', () => runHpke({ lib, smoke }));
out.scaling = await section('scaling', () => runScaling({ lib, sodium, smoke }));
out.kms = await section('kms', () => runKms({ lib, smoke }));
out.invocation = await section('invocation', () => runInvocation({ lib, smoke }));
out.coldStart = await section('coldstart', async () => {
  const firstInvocation = await runFirstInvocation({ smoke });
  return { ...runColdStart({ smoke }), firstInvocation, addedMs: firstInvocation.addedMs ?? null, target: firstInvocation.target };
});
out.syscalls = await section('syscalls', () => runSyscalls({ smoke }));
out.elapsedMs = Date.now() - started;

if (json) {
  process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
} else {
  say(`secret-scope benchmarks${smoke ? ' (SMOKE RUN: too short for conclusions)' : ''}`);
  say(`machine: ${m.nproc} CPUs, ${m.cpu}; ${m.kernel}; node ${m.node} (OpenSSL ${m.openssl}); libsodium ${m.libsodium}; backend ${m.backend}`);
  if (memoryNote) say(`note: ${memoryNote}`);
  const c = out.crypto;
  if (c && !c.error) {
    say('\n== One invocation\'s crypto (median per invocation; ratios are secret-scope / other) ==');
    say(`workload: ${c.workload}`);
    say(`method: ${c.method.rounds} rounds, ~${c.method.sampleMs} ms samples, ${c.method.order}`);
    const rows = Object.entries(c.results).map(([id, r]) => [
      r.name,
      fmtNs(r.medianNs),
      `${fmtNs(r.p10Ns)} .. ${fmtNs(r.p90Ns)}`,
      fmtRatio(c.results.secretScope.medianNs / r.medianNs),
      r.selfReportedMedianNs ? `C says ${fmtNs(r.selfReportedMedianNs)}` : '',
    ]);
    say(table(rows, ['contender', 'median', 'p10 .. p90', 'secret-scope / it', '']));
    for (const [k, t] of Object.entries(c.targets)) {
      say(`  ${t.pass == null ? 'SKIP' : t.pass ? 'PASS' : 'FAIL'}  ${TARGETS[k].text}: ${fmtRatio(t.ratio)} (same-round pairs: ${fmtRatio(c.pairedRatios[k])})`);
    }
    for (const [k, v] of Object.entries(c.skipped)) say(`  skipped ${k}: ${v}`);
  } else if (c) say(`\ncrypto: ${c.error}`);

  const b = out.breakdown;
  if (b && !b.error) {
    say('\n== Where the time goes (median per call) ==');
    say(table(b.table.map((r) => [r.step, fmtNs(r.apiNs), fmtNs(r.rawNs), fmtNs(r.cNs), r.apiNs != null && r.rawNs != null ? fmtNs(r.apiNs - r.rawNs) : '', r.cNs != null ? fmtNs(r.rawNs - r.cNs) : '']),
      ['step', 'public API', 'raw N-API', 'C compute', 'JS layer', 'N-API + native overhead']));
    say(`N-API round trip (no work): ${fmtNs(b.steps.napiNoop.medianNs)}; scope.run (ALS): ${fmtNs(b.steps.alsRun.medianNs)}; Buffer.allocUnsafe(1040): ${fmtNs(b.steps.bufAlloc.medianNs)}`);
    const g = b.aesGcm;
    say(`AES-256-GCM seal 1 KiB (${g.implementation}): secret-scope ${fmtNs(g.apiNs)}, node:crypto (unprotected) ${fmtNs(g.nodeCryptoNs)}: ${fmtRatio(g.apiNs / g.nodeCryptoNs)}`);
  } else if (b) say(`\nbreakdown: ${b.error}`);

  const s = out.scaling;
  if (s && !s.error) {
    say('\n== Scaling ==');
    say(`baseline: ${s.baseline.vmas} VMAs, ${s.baseline.fds} fds, ${s.baseline.lockedBytes} locked bytes`);
    say(table(s.keysPerScope.map((r) => [r.keys, fmtNs(r.secretScopeNsPerScope), fmtNs(r.secretScopeNsPerKey), r.lockedBytes, r.regions, r.vmas, r.fds, r.sodiumNativeError ? 'skipped' : fmtNs(r.sodiumNativeNsPerScope), r.sodiumNativeVmas ?? ''].map((x) => x ?? r.secretScopeError ?? '')),
      ['keys/scope', 'time/scope', 'time/key', 'lockedBytes', 'regions', 'VMAs', 'fds', 'sodium-native time/scope', 'sodium-native VMAs']));
    say('');
    say(table(s.concurrentScopes.map((r) => [r.scopes, fmtNs(r.secretScopeNsPerScope), r.lockedBytes, r.regions, r.vmas, r.fds, r.regionsCreatedPer1000Scopes?.toFixed(1), r.sodiumNativeError ? 'skipped' : fmtNs(r.sodiumNativeNsPerScope), r.sodiumNativeVmas ?? ''].map((x) => x ?? r.secretScopeError ?? '')),
      ['concurrent scopes', 'time/scope', 'lockedBytes', 'regions', 'VMAs', 'fds', 'regions created /1000 scopes', 'sodium-native time/scope', 'sodium-native VMAs']));
    const ch = s.churn256;
    if (ch?.error) say(`\nregion churn, 256 concurrent scopes: ${ch.error}`);
    else if (ch) {
      say(`\nregion churn, 256 concurrent scopes, steady state (${ch.waves} waves, ${ch.scopesMeasured} scopes): ${ch.regionsCreatedPer1000Scopes.toFixed(2)} regions created / 1000 scopes (${ch.regionsCreated} created, ${ch.regionsReleased} released; peak ${ch.peakRegions} regions, ${fmtNs(ch.nsPerScope)} / scope)`);
      say(`  ${ch.pass ? 'PASS' : 'FAIL'}  at most ${ch.target} region created per 1,000 scopes at 256 concurrent (scaling.churn256.regionsCreatedPer1000Scopes)`);
      say(`  idle: ${ch.regionsRetained} regions / ${ch.lockedBytesRetained} locked bytes retained after the waves; ${ch.afterIdle.regions} regions / ${ch.afterIdle.lockedBytes} locked bytes ${ch.afterIdle.ms} ms later (idleReleaseMs ${ch.idleReleaseMs ?? 'n/a'})`);
    }
    for (const n of s.notes) say(`  ${n}`);
  } else if (s) say(`\nscaling: ${s.error}`);

  const g = out.signing;
  if (g && !g.error) {
    say('\n== Signing (median per signature; ratio is secret-scope / node:crypto) ==');
    say(`workload: ${g.workload}`);
    say(table(['es256', 'es384', 'ed25519'].map((id) => [id, fmtNs(g[id].results.secretScope.medianNs), fmtNs(g[id].results.nodeCrypto.medianNs), fmtRatio(g[id].ratio)]),
      ['algorithm', 'secret-scope', 'node:crypto', 'secret-scope / node']));
  } else if (g) say(`\nsigning: ${g.error}`);

  const hp = out.hpke;
  if (hp && !hp.error) {
    say('\n== HPKE (median per message; ratio is secret-scope / node:crypto) ==');
    say(`workload: ${hp.workload}`);
    say(table([['seal 1 KiB', fmtNs(hp.results.secretScope.medianNs), fmtNs(hp.results.nodeCrypto.medianNs), fmtRatio(hp.ratio)]],
      ['operation', 'secret-scope', 'node:crypto', 'secret-scope / node']));
  } else if (hp) say(`\nhpke: ${hp.error}`);

  const k = out.kms;
  if (k) {
    say('\n== KMS entropy policies (local endpoint, added latency) ==');
    if (k.skipped) say(`skipped: ${k.skipped}`);
    else if (k.error) say(`error: ${k.error}`);
    else {
      const policyTable = (results) =>
        table(Object.entries(results).map(([p, r]) => (r.error ? [p, 'error', '', r.error] : [p, fmtNs(r.addedP50Ns), fmtNs(r.addedP99Ns), r.kmsCallsPer1000.toFixed(0)])),
          ['policy', 'added p50', 'added p99', 'KMS calls / 1000 invocations']);
      say(`${k.latencyMs} ms added at the endpoint; ${k.invocations} invocations per policy, ${k.gapMs} ms idle between; bare handler p50 ${fmtNs(k.bare.p50Ns)}, p99 ${fmtNs(k.bare.p99Ns)}`);
      say(policyTable(k.results));
      const b2b = k.backToBack;
      say(`back to back (no idle): bare p50 ${fmtNs(b2b.bare.p50Ns)}, p99 ${fmtNs(b2b.bare.p99Ns)}`);
      say(policyTable(b2b.results));
      for (const n of k.notes) say(`  ${n}`);
    }
  }
  const iv = out.invocation;
  if (iv) {
    say('\n== Per invocation: what secret-scope adds (ratchet, one declared key awaited) ==');
    if (iv.skipped) say(`skipped: ${iv.skipped}`);
    else if (iv.error) say(`error: ${iv.error}`);
    else {
      const f = (v) => (v == null || Number.isNaN(v) ? 'n/a' : `${v.toFixed(2)} µs`);
      const rows = [['bare handler', f(iv.bare.p50Us.backToBack), f(iv.bare.p50Us.idle), '', '']];
      if (iv.middyBare) rows.push(['bare middy handler', f(iv.middyBare.p50Us.backToBack), f(iv.middyBare.p50Us.idle), '', '']);
      const label = { wrapper: 'withSecretScope', middy: 'secretScopeMiddy(middy(fn))', middyMiddleware: 'middy(fn).use(secretScopeMiddleware())' };
      for (const k of ['wrapper', 'middy', 'middyMiddleware']) {
        const r = iv[k];
        if (!r) continue;
        rows.push(r.error ? [label[k], 'error', r.error, '', ''] : [label[k], f(r.p50Us.backToBack), f(r.p50Us.idle), f(r.addedP50Us.backToBack), f(r.addedP50Us.idle)]);
      }
      say(table(rows, ['path', 'p50 back to back', `p50 after ${iv.gapMs} ms idle`, 'added (b2b)', 'added (idle)']));
      for (const [k, t] of Object.entries(iv.targets)) {
        say(`  ${t.pass == null ? 'SKIP' : t.pass ? 'PASS' : 'FAIL'}  invocation.addedP50Us.${k} <= ${INVOCATION_TARGETS[k]} µs: ${f(t.value)} (worst path: ${iv.worstPath[k]})`);
      }
      for (const [k, v] of Object.entries(iv.skippedPaths ?? {})) say(`  skipped ${k}: ${v}`);
      for (const n of iv.notes) say(`  ${n}`);
    }
  }
  const cs = out.coldStart;
  if (cs && !cs.error) {
    say('\n== Cold start ==');
    say(`fresh process (median of ${cs.runs}): node -e 0 ${fmtNs(cs.processWallMedianNs.bareNode)}; + require(addon) ${fmtNs(cs.processWallMedianNs.requireAddon)} (addon load ${fmtNs(cs.addonLoadNs)}); + require(dist/index.cjs) ${fmtNs(cs.processWallMedianNs.requireLibraryCjs)}`);
    const ip = cs.inProcessMedianNs;
    say(`in process: import library ${fmtNs(ip.importLibraryEsm)}; lazy addon load ${fmtNs(ip.addonLoadInLibrary)}; first scope (region creation) ${fmtNs(ip.firstScopeOpen)}; first invocation ${fmtNs(ip.firstInvocation)}; second ${fmtNs(ip.secondInvocation)}`);
    const fi = cs.firstInvocation;
    if (fi?.skipped) say(`first invocation: skipped: ${fi.skipped}`);
    else if (fi) {
      say(`process start to first response (median of ${fi.runs}, interleaved; local KMS endpoint):`);
      say(table(Object.entries(fi.medians).map(([k, v]) => [k, `${v.initMs.toFixed(2)} ms`, `${v.firstResponseMs.toFixed(2)} ms`]), ['handler', 'init done', 'first response']));
      say(`  added by secret-scope: ESM ${fi.addedMsByVariant.esm} ms, ESM ratchet ${fi.addedMsByVariant.esmRatchet} ms, CommonJS ${fi.addedMsByVariant.cjs} ms (same-round pairs: ${fi.pairedAddedMsByVariant.esm}, ${fi.pairedAddedMsByVariant.esmRatchet}, ${fi.pairedAddedMsByVariant.cjs} ms)`);
      say(`  ${fi.target.pass ? 'PASS' : 'FAIL'}  coldStart.addedMs <= ${COLD_START_TARGET_MS} ms: ${fi.addedMs} ms (worst variant)`);
    }
  } else if (cs) say(`\ncold start: ${cs.error}`);
  const sc = out.syscalls;
  if (sc) {
    say('\n== System calls per invocation after warm-up ==');
    if (sc.skipped) say(`skipped: ${sc.skipped}`);
    else {
      for (const [id, r] of Object.entries(sc.contenders)) {
        say(`${id}: ${r.memoryFdRandomPerInvocation} memory/fd/random syscalls per invocation (all: ${r.perInvocation}; ${Object.entries(r.bySyscall).map(([n, v]) => `${n} ${v}`).join(', ')})`);
      }
      if (sc.error) say(`error: ${sc.error}`);
    }
  }
  say(`\n(${(out.elapsedMs / 1000).toFixed(1)} s; --json for the machine-readable result)`);
}
