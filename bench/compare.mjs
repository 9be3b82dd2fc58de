#!/usr/bin/env node
// Two builds side by side (issue 11's "how it gets there" record): this one (dist/, or
// SECRET_SCOPE_BENCH_DIST) against another (e.g. a build of an earlier commit):
//   node bench/compare.mjs <other dist> [rounds=3] [invocations=150] [coldStartRuns=15]
// - invocation: bench/invocation.mjs in child processes, alternating the builds round by round
//   (a machine that gets busier slows both); medians of the rounds' added p50s.
// - coldstart: one interleaved loop over both builds' quick-start handlers and the careful user's.
// Both builds should load the same addon file (a local build in build/Release, or SECRET_SCOPE_ADDON_PATH).
import { execFileSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const [otherArg, roundsArg, invocationsArg, coldArg] = process.argv.slice(2);
if (process.argv[2] === '--child') {
  const [, , , dist, n] = process.argv;
  const { runInvocation } = await import('./invocation.mjs');
  const lib = await import(pathToFileURL(join(dist, 'index.js')).href);
  process.stdout.write(JSON.stringify(await runInvocation({ lib, smoke: false, invocations: Number(n) })));
  process.exit(0);
}
if (!otherArg) {
  process.stderr.write('usage: node bench/compare.mjs <other dist> [rounds] [invocations] [coldStartRuns]\n');
  process.exit(2);
}
const other = resolve(otherArg);
const mine = process.env.SECRET_SCOPE_BENCH_DIST ? resolve(process.env.SECRET_SCOPE_BENCH_DIST) : join(here, '..', 'dist');
const rounds = Number(roundsArg ?? 3);
const n = String(invocationsArg ?? 150);
const builds = { other, this: mine };
const res = { other: [], this: [] };
for (let r = 0; r < rounds; r++) {
  for (const name of r % 2 ? ['this', 'other'] : ['other', 'this']) {
    const out = execFileSync(process.execPath, [join(here, 'compare.mjs'), '--child', builds[name], n], {
      env: { ...process.env, SECRET_SCOPE_BENCH_DIST: builds[name] },
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    res[name].push(JSON.parse(out));
  }
}
const med = (a) => {
  const s = [...a].sort((x, y) => x - y);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
console.log(`node ${process.version}; ${rounds} rounds x ${n} invocations per handler; added p50 in µs (median of rounds)`);
console.log(['build', 'wrapper b2b', 'wrapper idle', 'middy b2b', 'middy idle', 'middleware b2b', 'middleware idle', 'bare idle p50'].join(' | '));
for (const [name, list] of Object.entries(res)) {
  const cells = [];
  for (const p of ['wrapper', 'middy', 'middyMiddleware']) for (const k of ['backToBack', 'idle']) cells.push(med(list.map((x) => x[p].addedP50Us[k])).toFixed(1));
  cells.push(med(list.map((x) => x.bare.p50Us.idle)).toFixed(1));
  console.log([`${name} (${builds[name]})`, ...cells].join(' | '));
}
process.env.SECRET_SCOPE_BENCH_DIST = mine;
const { runFirstInvocation } = await import('./process.mjs');
const cold = await runFirstInvocation({ smoke: false, runs: Number(coldArg ?? 15), compareDist: other });
console.log(`cold start, process start to first response, ${cold.runs} interleaved runs; added ms over the careful handler (difference of medians / median of same-round pairs):`);
const v = (k) => `${cold.addedMsByVariant[k]} / ${cold.pairedAddedMsByVariant[k]}`;
console.log(`this: ESM ${v('esm')}, CommonJS ${v('cjs')}; other: ESM ${v('otherEsm')}, CommonJS ${v('otherCjs')}`);
console.log(JSON.stringify(cold.medians));
