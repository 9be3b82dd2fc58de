// Where the cold start goes (issue 11, goal 3): runs the careful handler and the quick-start
// handler once each under --cpu-prof (the same child and local KMS endpoint as the bench) and
// sorts every sample of each process into: secret-scope's code (the nearest non-Node frame is
// in dist/), the AWS SDK and other packages, the module loader, Node's other internals, GC,
// idle. Then, for secret-scope, the functions with the most time under them.
//   node bench/coldstart/profile.mjs [quickstart.mjs|quickstart.cjs] [--interval-us=100]
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { DIST } from '../lib.mjs';
import { coldStartEnv } from '../process.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const ours = process.argv.slice(2).find((a) => !a.startsWith('--')) ?? 'quickstart.mjs';
const careful = ours.endsWith('.cjs') ? 'careful.cjs' : 'careful.mjs';
const interval = process.argv.find((a) => a.startsWith('--interval-us='))?.split('=')[1] ?? '100';

const { startKmsLocal } = await import(pathToFileURL(join(DIST, 'kms-local.js')).href);
const local = await startKmsLocal({});
const env = coldStartEnv(local);

async function profile(handler) {
  const dir = mkdtempSync(join(tmpdir(), 'ss-coldprof-'));
  try {
    const args = ['--cpu-prof', `--cpu-prof-dir=${dir}`, '--cpu-prof-interval', interval, join(HERE, 'first-invocation.mjs'), join(HERE, handler)];
    const out = await new Promise((resolve, reject) => {
      const p = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'inherit'] });
      let o = '';
      p.stdout.on('data', (d) => (o += d));
      p.on('close', (code) => (code === 0 ? resolve(o) : reject(new Error(`${handler} exited ${code}`))));
    });
    const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
    return { times: JSON.parse(out), profile: JSON.parse(readFileSync(join(dir, file), 'utf8')) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const distUrl = pathToFileURL(DIST).href;
function analyse({ nodes, samples, timeDeltas }) {
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const stack = (id) => {
    const s = [];
    for (let at = id; at !== undefined; at = parent.get(at)) s.push(byId.get(at).callFrame);
    return s;
  };
  const name = (f) => `${f.functionName || '(anonymous)'} ${f.url.split('/').slice(-2).join('/')}:${f.lineNumber + 1}`;
  const buckets = new Map();
  const underOurs = new Map();
  for (let i = 0; i < samples.length; i++) {
    const ms = (timeDeltas[i + 1] ?? 0) / 1e3;
    const frames = stack(samples[i]);
    const top = frames[0].functionName;
    let bucket = top === '(garbage collector)' ? 'gc' : top === '(idle)' ? 'idle' : top === '(program)' ? 'program' : null;
    if (bucket === null) {
      const owner = frames.find((f) => f.url.startsWith(distUrl) || f.url.startsWith(DIST) || f.url.includes('/node_modules/'));
      if (owner) bucket = owner.url.includes('/node_modules/') ? 'packages (AWS SDK, ...)' : 'secret-scope';
      else bucket = frames.some((f) => /internal\/modules\//.test(f.url)) ? 'module loader' : 'node internals';
    }
    buckets.set(bucket, (buckets.get(bucket) ?? 0) + ms);
    if (bucket === 'secret-scope') {
      const seen = new Set();
      for (const f of frames) {
        const k = name(f);
        if (!seen.has(k)) underOurs.set(k, (underOurs.get(k) ?? 0) + ms);
        seen.add(k);
      }
    }
  }
  return { buckets, underOurs };
}

try {
  const results = {};
  for (const h of [careful, ours]) results[h] = await profile(h);
  const a = Object.fromEntries(Object.entries(results).map(([h, r]) => [h, analyse(r.profile)]));
  const keys = [...new Set(Object.values(a).flatMap((x) => [...x.buckets.keys()]))].sort();
  console.log(`${'ms of CPU samples'.padEnd(26)}${[careful, ours].map((h) => h.padStart(16)).join('')}`);
  for (const k of keys) console.log(`${k.padEnd(26)}${[careful, ours].map((h) => (a[h].buckets.get(k) ?? 0).toFixed(1).padStart(16)).join('')}`);
  console.log(`${'first response at'.padEnd(26)}${[careful, ours].map((h) => `${results[h].times.firstResponseMs.toFixed(1)} ms`.padStart(16)).join('')}`);
  console.log(`\nsecret-scope (${ours}): most time under`);
  for (const [k, v] of [...a[ours].underOurs].sort((x, y) => y[1] - x[1]).slice(0, 25)) console.log(`${v.toFixed(2).padStart(8)} ms  ${k}`);
  console.log('\n(one process each, profiled: absolute times are inflated; compare the columns)');
} finally {
  await local.close();
}
