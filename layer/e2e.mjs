#!/usr/bin/env node
// Lambda-like end-to-end run of a layer zip with one Node binary:
//
//   node layer/e2e.mjs --node .cache/node/arm64-22/bin/node [--zip layer/dist/secret-scope-layer-arm64.zip]
//                      [--repeat 3] [--invocations 2]
//
// Lays out a temporary root like Lambda's filesystem:
//   <root>/opt/nodejs/node_modules/secret-scope     the unzipped layer
//   <root>/var/task/index.mjs, core.cjs             examples/layer-function (+ node_modules/@middy -> repo)
//   <root>/var/runtime/node_modules/@aws-sdk        -> repo (the runtime's SDK)
// starts the local KMS endpoint (src/kms-local) and a Runtime API server
// (layer/runtime-api.mjs), and runs layer/bootstrap.mjs as the runtime with
// Lambda's NODE_PATH and AWS_ENDPOINT_URL_KMS; an arm64 Node runs under
// qemu-aarch64-static. Prints one JSON summary: responses, KMS calls, and the
// cold start (process start -> first GET .../invocation/next) of
//   - the example function (imports secret-scope/middy, @middy/core),
//   - a baseline function that imports nothing (same runtime, no layer use),
// with the layer's cost = the difference of the medians.
import { spawn } from 'node:child_process';
import { closeSync, cpSync, existsSync, mkdirSync, mkdtempSync, openSync, readSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { startRuntimeApi } from './runtime-api.mjs';
import { readZip } from './lib/zip.mjs';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const BOOTSTRAP = join(REPO, 'layer', 'bootstrap.mjs');

function elfArch(path) {
  const fd = openSync(path, 'r');
  try {
    const b = Buffer.alloc(20);
    readSync(fd, b, 0, 20, 0);
    const m = b.readUInt16LE(18);
    return m === 0x3e ? 'x64' : m === 0xb7 ? 'arm64' : String(m);
  } finally {
    closeSync(fd);
  }
}

function findInPath(name) {
  for (const d of (process.env.PATH ?? '').split(':')) {
    if (d && existsSync(join(d, name))) return join(d, name);
  }
  return undefined;
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? (s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2) : NaN;
}

/** Bundles src/kms-local into .cache/layer-e2e/kms-local.mjs (always current, no tsup needed). */
export async function loadKmsLocal() {
  const out = join(REPO, '.cache', 'layer-e2e', `kms-local-${process.pid}.mjs`);
  const esbuild = await import('esbuild');
  await esbuild.build({
    entryPoints: [join(REPO, 'src', 'kms-local', 'index.ts')],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    outfile: out,
    logLevel: 'warning',
  });
  try {
    return await import(pathToFileURL(out).href);
  } finally {
    rmSync(out, { force: true });
  }
}

export function layout(zipBuffer) {
  const root = mkdtempSync(join(tmpdir(), 'secret-scope-lambda-'));
  const opt = join(root, 'opt');
  for (const e of readZip(zipBuffer)) {
    const p = join(opt, e.name);
    if (!p.startsWith(opt + '/')) throw new Error(`zip entry escapes /opt: ${e.name}`);
    if (e.isDir) mkdirSync(p, { recursive: true });
    else {
      mkdirSync(dirname(p), { recursive: true });
      writeFileSync(p, e.data, { mode: e.mode || 0o644 });
    }
  }
  const task = join(root, 'var', 'task');
  mkdirSync(join(task, 'node_modules'), { recursive: true });
  cpSync(join(REPO, 'examples', 'layer-function'), task, { recursive: true });
  // In Lambda the function zip carries middy; here it is the repo's copy.
  symlinkSync(join(REPO, 'node_modules', '@middy'), join(task, 'node_modules', '@middy'));
  const baseline = join(root, 'var', 'baseline');
  mkdirSync(baseline, { recursive: true });
  writeFileSync(join(baseline, 'index.mjs'), 'export const handler = async (event) => ({ ok: true, echo: event ?? null });\n');
  const runtimeModules = join(root, 'var', 'runtime', 'node_modules');
  mkdirSync(runtimeModules, { recursive: true });
  symlinkSync(join(REPO, 'node_modules', '@aws-sdk'), join(runtimeModules, '@aws-sdk'));
  return { root, opt, task, baseline, runtimeModules };
}

/**
 * Starts the bootstrap for one function, waits until it polls for work, runs
 * `events`, and stops it. Returns { coldStartMs, responses, stderr }.
 */
async function runFunction({ node, emulator, env, taskRoot, handler, events, timeoutMs }) {
  const api = await startRuntimeApi();
  const argv = [...emulator, node, BOOTSTRAP];
  const t0 = performance.now();
  const child = spawn(argv[0], argv.slice(1), {
    cwd: taskRoot,
    env: { ...env, AWS_LAMBDA_RUNTIME_API: api.address, LAMBDA_TASK_ROOT: taskRoot, _HANDLER: handler },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  let stdout = '';
  child.stdout.setEncoding('utf8').on('data', (d) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
  const exited = new Promise((res) => child.on('exit', (code, signal) => res({ code, signal })));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  try {
    const readyAt = await Promise.race([
      api.ready,
      exited.then((x) => {
        throw new Error(`runtime exited before it was ready (${JSON.stringify(x)}): ${api.initError ? JSON.stringify(api.initError) : ''}\n${stderr}`);
      }),
    ]);
    const coldStartMs = readyAt - t0;
    const responses = [];
    for (const event of events) {
      responses.push(await Promise.race([api.invoke(event), exited.then((x) => ({ ok: false, error: { errorMessage: `runtime exited ${JSON.stringify(x)}`, stderr } }))]));
    }
    return { coldStartMs, responses, stderr, stdout };
  } finally {
    clearTimeout(timer);
    child.kill('SIGKILL');
    await exited;
    await api.close();
  }
}

/**
 * The environment Lambda gives a Node function of this major version: NODE_PATH over the
 * unpacked layer (/opt) and runtime, the region and credentials, the local KMS endpoint.
 * Shared by this runner and layer/ric-e2e.mjs (which adds the Runtime API's variables).
 */
export function lambdaEnv({ dirs, kms, major }) {
  return {
    PATH: '/usr/local/bin:/usr/bin:/bin',
    LANG: 'en_US.UTF-8',
    TZ: ':UTC',
    NODE_PATH: [
      join(dirs.opt, 'nodejs', `node${major}`, 'node_modules'),
      join(dirs.opt, 'nodejs', 'node_modules'),
      dirs.runtimeModules,
      join(dirs.root, 'var', 'runtime'),
      join(dirs.root, 'var', 'task'),
    ].join(':'),
    AWS_REGION: kms.region,
    AWS_DEFAULT_REGION: kms.region,
    AWS_ACCESS_KEY_ID: 'AKIDLOCAL',
    AWS_SECRET_ACCESS_KEY: 'local-secret',
    AWS_SESSION_TOKEN: 'local-session',
    AWS_ENDPOINT_URL_KMS: kms.url,
    AWS_LAMBDA_FUNCTION_NAME: 'secret-scope-example',
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '256',
    AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
    AWS_EXECUTION_ENV: `AWS_Lambda_nodejs${major}.x`,
    KMS_KEY_ID: kms.defaultKey?.arn ?? 'alias/secret-scope-local',
  };
}

export async function runE2E(opts) {
  const node = resolve(opts.node);
  const arch = elfArch(node);
  const emulator = arch === process.arch ? [] : arch === 'arm64' ? [findInPath('qemu-aarch64-static')] : undefined;
  if (!emulator || emulator.some((x) => !x)) throw new Error(`cannot run ${arch} binaries here (qemu-aarch64-static missing?)`);
  const layerArch = arch === 'x64' ? 'x86_64' : 'arm64';
  const zip = resolve(opts.zip ?? join(REPO, 'layer', 'dist', `secret-scope-layer-${layerArch}.zip`));
  const { readFileSync } = await import('node:fs');
  const dirs = layout(readFileSync(zip));
  const { startKmsLocal } = await loadKmsLocal();
  const kms = await startKmsLocal();
  const repeat = opts.repeat ?? 3;
  const invocations = opts.invocations ?? 2;
  const timeoutMs = opts.timeoutMs ?? (emulator.length ? 120_000 : 30_000);
  try {
    const versionMajor = await new Promise((res, rej) => {
      const c = spawn(emulator[0] ?? node, [...emulator.slice(1), ...(emulator.length ? [node] : []), '-p', 'process.versions.node.split(".")[0]'], { stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      c.stdout.on('data', (d) => (out += d));
      c.on('exit', (code) => (code === 0 ? res(out.trim()) : rej(new Error(`node -p failed (${code})`))));
    });
    const env = lambdaEnv({ dirs, kms, major: versionMajor });
    const events = Array.from({ length: invocations }, (_, i) => ({ message: `hello ${i}` }));
    const example = [];
    const baseline = [];
    for (let i = 0; i < repeat; i++) {
      // Alternate, so drift (caches, CPU frequency) hits both alike.
      baseline.push(await runFunction({ node, emulator, env, taskRoot: dirs.baseline, handler: 'index.handler', events: [{ n: i }], timeoutMs }));
      example.push(await runFunction({ node, emulator, env, taskRoot: dirs.task, handler: 'index.handler', events, timeoutMs }));
    }
    const core = await runFunction({ node, emulator, env, taskRoot: dirs.task, handler: 'core.handler', events: [{ tenant: 't1' }], timeoutMs });
    const exampleMs = example.map((r) => r.coldStartMs);
    const baselineMs = baseline.map((r) => r.coldStartMs);
    return {
      node: opts.node,
      arch,
      layerArch,
      zip,
      nodeMajor: versionMajor,
      emulated: emulator.length > 0,
      opt: dirs.opt,
      nodePath: env.NODE_PATH,
      kmsCalls: { ...kms.stats.calls },
      coldStart: {
        exampleMs: exampleMs.map((x) => Math.round(x)),
        baselineMs: baselineMs.map((x) => Math.round(x)),
        exampleMedianMs: Math.round(median(exampleMs)),
        baselineMedianMs: Math.round(median(baselineMs)),
        layerCostMs: Math.round(median(exampleMs) - median(baselineMs)),
      },
      firstInvocationMs: Math.round(median(example.map((r) => r.responses[0]?.ms ?? NaN))),
      warmInvocationMs: invocations > 1 ? Math.round(median(example.map((r) => r.responses.at(-1)?.ms ?? NaN))) : undefined,
      example: example[0].responses,
      exampleRuns: example.map((r) => r.responses.map((x) => (x.ok ? x.result.tag : null))),
      baseline: baseline[0].responses,
      core: core.responses,
      stderr: [...example, ...baseline, core].map((r) => r.stderr).filter(Boolean).join('\n').slice(0, 4000),
    };
  } finally {
    await kms.close();
    if (!opts.keep) rmSync(dirs.root, { recursive: true, force: true });
  }
}

function parseArgs(argv) {
  const o = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--node') o.node = argv[++i];
    else if (a === '--zip') o.zip = argv[++i];
    else if (a === '--repeat') o.repeat = Number(argv[++i]);
    else if (a === '--invocations') o.invocations = Number(argv[++i]);
    else if (a === '--keep') o.keep = true;
    else throw new Error(`unknown argument ${a}`);
  }
  o.node ??= process.execPath;
  return o;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  runE2E(parseArgs(process.argv.slice(2)))
    .then((s) => process.stdout.write(`${JSON.stringify(s)}\n`))
    .catch((e) => {
      process.stderr.write(`[layer e2e] ${e.stack ?? e}\n`);
      process.exit(1);
    });
}
