// What importing secret-scope costs once everything it shares with a KMS-using handler is loaded
// (issue 11, goal 3): fresh processes that import @aws-sdk/client-kms and then the library, and
// print the median time of the second import. Another build (a directory with index.js, e.g. a
// one-file esbuild bundle) can be given to compare, in alternating processes.
//   node bench/coldstart/import-after-sdk.mjs [runs=12] [other dist dir]
import { spawnSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { DIST, ROOT } from '../lib.mjs';
import { median } from '../stats.mjs';

const runs = Number(process.argv[2] ?? 12);
const dists = [DIST, ...(process.argv[3] ? [resolve(process.argv[3])] : [])];
const child = `
  const { createRequire } = await import('node:module');
  const require = createRequire(${JSON.stringify(join(ROOT, 'package.json'))});
  await import(pathToFileURL(require.resolve('@aws-sdk/client-kms')).href);
  const t = process.hrtime.bigint();
  await import(process.argv[1]);
  process.stdout.write(String(Number(process.hrtime.bigint() - t) / 1e6));
`;
const times = dists.map(() => []);
for (let r = 0; r < runs; r++) {
  dists.forEach((d, i) => {
    const p = spawnSync(process.execPath, ['--input-type=module', '-e', `import { pathToFileURL } from 'node:url';${child}`, pathToFileURL(join(d, 'index.js')).href], { encoding: 'utf8' });
    if (p.status !== 0) throw new Error(p.stderr);
    times[i].push(Number(p.stdout));
  });
}
dists.forEach((d, i) => console.log(`${median(times[i]).toFixed(2)} ms  import ${d}/index.js after the AWS SDK (median of ${runs})`));
