// Where an invocation's time goes back to back and after idle (issue 11, goal 2), one stage at
// a time: the steps a ratchet invocation takes on the public API (open a scope, local random
// bytes, HKDF-Extract from the ratchet key, HKDF-Expand of the next keys, end the scope), next to
// two references that have nothing to do with secret-scope: an empty JS call and node:crypto's
// randomFillSync of 32 bytes (one getrandom, like keyRandom). If the references slow down after
// idle by the same factor as the stages, the machine (caches, TLB, a descheduled vCPU) is what
// the idle figure measures.
//   node bench/idle-stages.mjs [--runs=150] [--idle-ms=15]
import { randomFillSync } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { loadLibrary } from './lib.mjs';
import { median } from './stats.mjs';

const arg = (name, dflt) => Number(process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? dflt);
const runs = arg('runs', 150);
const idleMs = arg('idle-ms', 15);

const api = await loadLibrary();
const ratchetKey = api.randomKey(32, { scope: null });
const buf = Buffer.alloc(32);
const now = () => process.hrtime.bigint();
const STAGES = ['js call (reference)', 'randomFillSync 32 B (reference)', 'openScope', 'randomKey 32 B', 'hkdfExtract', 'hkdfExpandMany x2', 'scope.end', 'all of it'];

function step() {
  const t0 = now();
  (function empty() {})();
  const t1 = now();
  randomFillSync(buf);
  const t2 = now();
  const scope = api.openScope();
  const t3 = now();
  const local = api.randomKey(32, { scope });
  const t4 = now();
  const prk = api.hkdfExtract(ratchetKey, { salt: undefined, scope });
  const t5 = now();
  api.hkdfExpandMany(prk, ['next', 'mac'], { length: 32, scope });
  const t6 = now();
  scope.end();
  const t7 = now();
  void local;
  return [t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4, t6 - t5, t7 - t6, t7 - t0].map(Number);
}

async function measure(idle) {
  const samples = STAGES.map(() => []);
  for (let i = 0; i < runs; i++) {
    if (idle) await sleep(idleMs);
    else if (i % 50 === 0) await sleep(0);
    step().forEach((v, j) => samples[j].push(v));
  }
  return samples.map((s) => median(s) / 1e3);
}

for (let i = 0; i < 300; i++) step(); // warm
const backToBack = await measure(false);
const idle = await measure(true);
const rows = STAGES.map((name, i) => [name, backToBack[i], idle[i], idle[i] / backToBack[i]]);
const w = Math.max(...STAGES.map((s) => s.length));
console.log(`${'stage'.padEnd(w)}  ${'p50 b2b'.padStart(10)}  ${`p50 ${idleMs} ms idle`.padStart(16)}  ${'factor'.padStart(7)}`);
for (const [name, b, d, f] of rows) console.log(`${name.padEnd(w)}  ${`${b.toFixed(2)} µs`.padStart(10)}  ${`${d.toFixed(2)} µs`.padStart(16)}  ${`${f.toFixed(1)}x`.padStart(7)}`);
console.log(`\n${runs} steps each; node ${process.version}`);
