// One invocation's crypto, side by side: the contenders run interleaved in
// rounds (A B C D, B C D A, ...), each sample many iterations, medians of the
// per-iteration times. Ratios are secret-scope's median over the other's.
import {
  nodeCryptoContender,
  rawNapiContender,
  secretScopeContender,
  secretScopeRunContender,
  secretScopeEachContender,
  sodiumNativeContender,
} from './contenders.mjs';
import { runRounds, syncSampler } from './harness.mjs';
import { median } from './stats.mjs';
import { buildFloor, floorCheck, floorContender } from './floor.mjs';
import { rmSync } from 'node:fs';

export const TARGETS = {
  vsNodeCrypto: { max: 0.5, text: 'secret-scope <= 0.5x node:crypto' },
  vsSodiumNative: { max: 0.2, text: 'secret-scope >= 5x faster than sodium-native (<= 0.2x)' },
  vsFloor: { max: 2, text: 'secret-scope <= 2x the compute floor (libsodium SHA-256; history)' },
  vsShaNiFloor: { max: 1.5, text: 'secret-scope <= 1.5x the SHA-NI floor (the primitives the addon calls)' },
};

function same(a, b) {
  return Buffer.compare(Buffer.from(a), Buffer.from(b)) === 0;
}

export async function runCrypto({ lib, raw, sodium, smoke, log }) {
  const sampleMs = smoke ? 2 : 8;
  const rounds = smoke ? 5 : 41;
  const warmMs = smoke ? 20 : 300;

  const contenders = [];
  const skipped = {};
  contenders.push(syncSampler(secretScopeContender(lib)));
  contenders.push(syncSampler(nodeCryptoContender()));
  if (sodium.sodium) contenders.push(syncSampler(sodiumNativeContender(sodium.sodium)));
  else skipped.sodiumNative = sodium.error;
  const floorBuild = buildFloor();
  let floorRef;
  if (floorBuild.error) {
    skipped.floor = floorBuild.error;
  } else {
    floorRef = floorCheck(floorBuild.exe);
    contenders.push(floorContender(floorBuild.exe));
  }
  const shaNiBuild = buildFloor({ variant: 'shani' });
  let shaNiRef;
  if (shaNiBuild.error) {
    skipped.shaNiFloor = shaNiBuild.error;
  } else {
    shaNiRef = floorCheck(shaNiBuild.exe);
    contenders.push(floorContender(shaNiBuild.exe, { id: 'shaNiFloor', name: 'SHA-NI floor (C: OpenSSL SHA256 + libsodium, static buffers)' }));
  }
  let verify;
  let results;
  try {
    // Informational: where secret-scope's time goes.
    contenders.push(syncSampler(secretScopeEachContender(lib)));
    contenders.push(syncSampler(secretScopeRunContender(lib)));
    contenders.push(syncSampler(rawNapiContender(raw)));

    // Correctness first: the same tag everywhere, the same XChaCha20-Poly1305 bytes where that cipher is used.
    const checks = {};
    for (const c of contenders) {
      if (!c.once) continue;
      c.once();
      checks[c.id] = c.result();
    }
    const ref = checks.secretScope;
    verify = {};
    for (const [id, r] of Object.entries(checks)) {
      verify[id] = { tag: same(r.tag, ref.tag), sealed: id === 'nodeCrypto' ? 'chacha20-poly1305 (not comparable)' : same(r.sealed, ref.sealed) };
    }
    if (floorRef) verify.floor = { tag: same(floorRef.tag, ref.tag), sealed: same(floorRef.sealed, ref.sealed) };
    if (shaNiRef) verify.shaNiFloor = { tag: same(shaNiRef.tag, ref.tag), sealed: same(shaNiRef.sealed, ref.sealed) };
    const mismatched = Object.entries(verify).filter(([, v]) => v.tag !== true || v.sealed === false);
    if (mismatched.length) throw new Error(`contenders disagree on the output: ${JSON.stringify(verify)}`);

    results = await runRounds(contenders, { rounds, sampleMs, warmMs });
    for (const c of contenders) if (c.close) results[c.id].selfReportedMedianNs = await c.close();
  } finally {
    // Also when a check or a round fails: the floor servers would keep the process alive.
    for (const c of contenders) if (c.close) await c.close().catch(() => null);
    for (const b of [floorBuild, shaNiBuild]) if (b.dir) rmSync(b.dir, { recursive: true, force: true });
  }

  const ssMed = results.secretScope.medianNs;
  const ratio = (id) => (results[id] ? ssMed / results[id].medianNs : null);
  const ratios = {
    vsNodeCrypto: ratio('nodeCrypto'),
    vsSodiumNative: ratio('sodiumNative'),
    vsFloor: ratio('floor'),
    vsShaNiFloor: ratio('shaNiFloor'),
  };
  // Noise check: the median over rounds of (secret-scope's sample / the other's sample in the same round).
  const paired = (id) => {
    if (!results[id]) return null;
    const a = results.secretScope.samplesNs;
    const b = results[id].samplesNs;
    return median(a.map((x, i) => x / b[i]));
  };
  const pairedRatios = {
    vsNodeCrypto: paired('nodeCrypto'),
    vsSodiumNative: paired('sodiumNative'),
    vsFloor: paired('floor'),
    vsShaNiFloor: paired('shaNiFloor'),
  };
  const targets = {};
  for (const [k, t] of Object.entries(TARGETS)) {
    targets[k] = { target: t.text, ratio: ratios[k], pass: ratios[k] == null ? null : ratios[k] <= t.max };
  }
  return {
    method: { rounds, sampleMs, warmMs, order: 'round-robin, rotated each round', clock: 'process.hrtime.bigint (floor: CLOCK_MONOTONIC in C)' },
    workload:
      'take 64 B entropy (wipe input), HKDF-SHA256 Extract + 4x Expand to 32 B keys, HMAC-SHA256 1 KiB, AEAD seal 1 KiB (XChaCha20-Poly1305; node: ChaCha20-Poly1305), wipe',
    floorBuild: floorBuild.error ? { error: floorBuild.error } : { cmd: floorBuild.cmd, libsodium: floorRef?.libsodium },
    shaNiFloorBuild: shaNiBuild.error ? { error: shaNiBuild.error } : { cmd: shaNiBuild.cmd, floor: shaNiRef?.floor },
    outputCheck: verify,
    skipped,
    results,
    ratios,
    pairedRatios,
    targets,
  };
}
