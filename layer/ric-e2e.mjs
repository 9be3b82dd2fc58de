// The layer run by AWS's own runtime interface client (npm aws-lambda-ric 4.x,
// built by scripts/build-ric.sh) instead of layer/bootstrap.mjs:
//
//   const s = await runRic({ node, ric, zip, handler: 'index.handler', events: [{ message: 'hi' }] });
//   const s = await runRic({ ..., handler: 'isolation.handler', managed: { workers: 4, concurrency: 64 }, events });
//
// Same filesystem layout as layer/e2e.mjs (the layer unzipped as <root>/opt,
// examples/layer-function as <root>/var/task, the runtime's @aws-sdk), the local
// KMS endpoint (recording every plaintext it serves), and the Runtime API of
// layer/runtime-api.mjs. The ric's index.mjs is the process entry point, as in
// the Lambda Node.js images; `--import layer/lib/register-node-path.mjs` gives ES
// modules Lambda's NODE_PATH lookup for layer packages.
//
// `managed` runs it in Lambda Managed Instances mode: AWS_LAMBDA_MAX_CONCURRENCY
// set, AWS_LAMBDA_NODEJS_WORKER_COUNT worker threads, each long-polling /next and
// running invocations concurrently. The events are sent only once every worker
// polls, all at once. `inspect(pid, kms)` runs after the last response while the
// runtime process is still alive (for out-of-process scans of its memory).
import { spawn } from 'node:child_process';
import { copyFileSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { lambdaEnv, layout, loadKmsLocal } from './e2e.mjs';
import { startRuntimeApi } from './runtime-api.mjs';

const REPO = resolve(fileURLToPath(new URL('..', import.meta.url)));
const REGISTER = pathToFileURL(join(REPO, 'layer', 'lib', 'register-node-path.mjs')).href;
export const ISOLATION_FIXTURE = join(REPO, 'test', 'fixtures', 'ric-isolation.mjs');

// What the ric needs beyond the function environment both runners set (layer/e2e.mjs).
function ricEnv({ dirs, kms, api, major, handler, extra }) {
  return {
    ...lambdaEnv({ dirs, kms, major }),
    AWS_LAMBDA_RUNTIME_API: api.address,
    LAMBDA_TASK_ROOT: dirs.task,
    LAMBDA_RUNTIME_DIR: join(dirs.root, 'var', 'runtime'),
    _HANDLER: handler,
    // The ric refuses to start without the function name, version, memory size and these two.
    AWS_LAMBDA_LOG_GROUP_NAME: '/aws/lambda/secret-scope-example',
    AWS_LAMBDA_LOG_STREAM_NAME: '2026/01/01/[$LATEST]local',
    ...extra,
  };
}

/**
 * Runs `events` through the ric serving `handler` from the example function's
 * task root (plus the isolation probe as isolation.mjs). Returns the responses
 * (in event order), the runtime's stdout/stderr, the Runtime API log, KMS call
 * counts and what `inspect` returned.
 */
export async function runRic(opts) {
  const node = resolve(opts.node);
  const ricIndex = join(resolve(opts.ric), 'index.mjs');
  const major = opts.major ?? process.versions.node.split('.')[0];
  const dirs = layout(readFileSync(resolve(opts.zip)));
  copyFileSync(ISOLATION_FIXTURE, join(dirs.task, 'isolation.mjs'));
  const { startKmsLocal } = await loadKmsLocal();
  const kms = await startKmsLocal({ recordIssued: true });
  // A generous deadline: middy fails an invocation 5 ms before it, and a loaded CI machine is slow.
  const api = await startRuntimeApi({ timeoutMs: opts.deadlineMs ?? 300_000, ...(opts.managed ? { fairPolls: opts.managed.workers } : {}) });
  const managed = opts.managed;
  const extra = {
    ...(managed
      ? {
          AWS_LAMBDA_MAX_CONCURRENCY: String(managed.concurrency),
          AWS_LAMBDA_NODEJS_WORKER_COUNT: String(managed.workers),
          // The native client long-polls /next inside a libuv threadpool task, one per
          // worker: with workers >= the pool (4 by default) every pool thread waits in
          // an idle poll and handlers' fs/dns/crypto-async/zlib work stalls until the
          // next invocation arrives (layer/RIC.md). Leave room for the handlers.
          UV_THREADPOOL_SIZE: String(managed.workers + 4),
        }
      : {}),
    ...opts.env,
  };
  const env = ricEnv({ dirs, kms, api, major, handler: opts.handler, extra });
  const child = spawn(node, ['--import', REGISTER, ricIndex], { cwd: dirs.task, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
  const exited = new Promise((res) => child.on('exit', (code, signal) => res({ code, signal })));
  let phase = 'init';
  let answered = 0;
  const died = exited.then((x) => {
    throw new Error(
      `the ric exited (${JSON.stringify(x)}) during ${phase}: ${answered}/${opts.events.length} answered, ${api.polling} polls waiting` +
        `${api.initError ? `, init error ${JSON.stringify(api.initError)}` : ''}\n${stderr.slice(-4000)}\n${stdout.slice(-2000)}`,
    );
  });
  died.catch(() => {});
  const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 300_000);
  try {
    await Promise.race([managed ? api.whenPolling(managed.workers) : api.ready, died]);
    phase = 'invocations';
    const responses = await Promise.race([Promise.all(opts.events.map((e) => api.invoke(e).finally(() => answered++))), died]);
    phase = 'inspect';
    const inspected = opts.inspect ? await opts.inspect(child.pid, kms) : undefined;
    const alive = child.exitCode === null && child.signalCode === null;
    return { responses, inspected, alive, pid: child.pid, stdout, stderr, apiLog: [...api.log], kmsCalls: { ...kms.stats.calls }, issued: kms.issued.length };
  } finally {
    clearTimeout(timer);
    child.kill('SIGKILL');
    await exited;
    await api.close();
    kms.clearIssued();
    await kms.close();
    if (!opts.keep) rmSync(dirs.root, { recursive: true, force: true });
  }
}
