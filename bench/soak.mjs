#!/usr/bin/env node
// Standalone soak run: prints open fds, VMAs, VmLck and RSS at the baseline (after a
// warm-up) and after N invocations of one withSecretScope handler in one process, for
// local entropy (default backend; mlock with region churn) and for KMS entropy per
// invocation against the local endpoint. The same worker as test/soak.test.ts
// (test/fixtures/soak-child.mjs), without the assertions; timings are informational.
//
//   node bench/soak.mjs [--invocations 10000] [--only local|churn|retain|kms] [--concurrency N] [--json]
//
// churn: 1-page regions, retainRegions 0 and idleReleaseMs 0 (every empty region unmapped at
// once); retain: the same with the default idle release (empty regions kept while busy,
// unmapped after idleReleaseMs). Baseline and after are both taken once the idle release is done.
//
// Needs dist/ (built with `npx tsup` when missing or older than src/).
import { spawn } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({
  options: {
    invocations: { type: 'string', default: '10000' },
    only: { type: 'string' },
    concurrency: { type: 'string' },
    json: { type: 'boolean', default: false },
  },
});
const N = Number(values.invocations);
if (!Number.isInteger(N) || N < 1) throw new Error('--invocations must be a positive integer');

const { ensureDist } = await import(pathToFileURL(join(root, 'test', 'fixtures', 'soak-dist.mjs')).href);
process.stderr.write(`[soak] ${await ensureDist()}\n`);
const { startKmsLocal } = await import(pathToFileURL(join(root, 'dist', 'kms-local.js')).href);

const runs = [
  { name: 'local', spec: { mode: 'local', warmup: 10_000, concurrency: 64 } },
  { name: 'churn', spec: { mode: 'local', warmup: 10_000, concurrency: 64, backend: 'mlock', regionPages: 1, retainRegions: 0, idleReleaseMs: 0 } },
  { name: 'retain', spec: { mode: 'local', warmup: 10_000, concurrency: 64, backend: 'mlock', regionPages: 1, retainRegions: 0 } },
  { name: 'kms', spec: { mode: 'kms', warmup: 1_000, concurrency: 4 } },
].filter((r) => !values.only || r.name === values.only);

function child(spec) {
  return new Promise((res, rej) => {
    const p = spawn(process.execPath, ['--expose-gc', '--min-semi-space-size=16', '--max-semi-space-size=16', join(root, 'test', 'fixtures', 'soak-child.mjs'), JSON.stringify(spec)], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    p.stdout.setEncoding('utf8').on('data', (d) => (out += d));
    p.stderr.setEncoding('utf8').on('data', (d) => (err += d));
    p.on('error', rej);
    p.on('close', (code, signal) => {
      const lines = out.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
      if (code !== 0) return rej(new Error(`soak child failed (code ${code}, signal ${signal})\n${err.slice(-3000)}`));
      res(lines);
    });
  });
}

const fmt = (n) => String(n).padStart(10);
function print(title, base, after, extra) {
  const rows = [
    ['open fds', base.fds.total, after.fds.total],
    ['  sockets', base.fds.socket, after.fds.socket],
    ['VMAs', base.vmas.total, after.vmas.total],
    ['  arena (data + guards)', base.vmas.arena, after.vmas.arena],
    ['  file-backed', base.vmas.file, after.vmas.file],
    ['  other anon (V8 heap..)', base.vmas.anon, after.vmas.anon],
    ['VmLck KiB', base.vmLck / 1024, after.vmLck / 1024],
    ['VmRSS MiB', Math.round(base.vmRss / 2 ** 20), Math.round(after.vmRss / 2 ** 20)],
    ['arena regions', base.arena.regions, after.arena.regions],
    ['regions created', base.arena.regionsCreated, after.arena.regionsCreated],
    ['  released when idle', base.arena.regionsReleasedIdle ?? 0, after.arena.regionsReleasedIdle ?? 0],
    ['live slots / scopes', `${base.arena.liveSlots}/${base.arena.liveScopes}`, `${after.arena.liveSlots}/${after.arena.liveScopes}`],
  ];
  console.log(`\n${title}`);
  console.log(`  ${''.padEnd(24)}${fmt('baseline')}${fmt('after')}     delta`);
  for (const [name, a, b] of rows) {
    const d = typeof a === 'number' ? `${b - a >= 0 ? '+' : ''}${b - a}` : '';
    console.log(`  ${name.padEnd(24)}${fmt(a)}${fmt(b)}${d.padStart(10)}`);
  }
  console.log(`  ${extra}`);
}

const kms = runs.some((r) => r.spec.mode === 'kms') ? await startKmsLocal() : undefined;
const results = [];
try {
  for (const r of runs) {
    const spec = { ...r.spec, invocations: N, ...(values.concurrency ? { concurrency: Number(values.concurrency) } : {}), ...(r.spec.mode === 'kms' ? { kmsUrl: kms.url } : {}) };
    kms?.resetStats();
    const lines = await child(spec);
    const config = lines.find((l) => l.stage === 'config');
    const base = lines.find((l) => l.stage === 'baseline').metrics;
    const end = lines.find((l) => l.stage === 'after');
    results.push({ name: r.name, spec, backend: config.backend, baseline: base, after: end.metrics, ms: end.ms, sources: end.sources, thrown: end.thrown });
    if (!values.json) {
      print(
        `${r.name}: ${N} invocations, ${spec.mode} entropy, backend ${config.backend}, concurrency ${spec.concurrency}, warm-up ${spec.warmup} (${end.ms} ms)`,
        base,
        end.metrics,
        `sources ${JSON.stringify(end.sources)}, thrown on purpose ${end.thrown}${r.spec.mode === 'kms' ? `, GenerateRandom calls ${kms.stats.calls.GenerateRandom}` : ''}`,
      );
    }
  }
} finally {
  await kms?.close();
}
if (values.json) console.log(JSON.stringify(results, null, 2));
