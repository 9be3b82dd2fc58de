// A stand-in for the Lambda Node.js runtime's bootstrap (the runtime interface
// client): loads the handler named by _HANDLER from LAMBDA_TASK_ROOT during
// init, then loops on the Runtime API at AWS_LAMBDA_RUNTIME_API:
// GET .../invocation/next -> handler(event, context) -> POST .../response or
// .../error, and POST .../init/error when the handler fails to load.
//
// Module resolution as on Lambda: CommonJS finds layer packages through
// NODE_PATH (/opt/nodejs/node22/node_modules:/opt/nodejs/node_modules:
// /var/runtime/node_modules:...); Lambda also resolves ES module imports from
// layers (Node.js 18 and later), which plain Node does not do for NODE_PATH, so
// a module.register() resolve hook (layer/lib/node-path-hooks.mjs) retries a
// failed bare import against each NODE_PATH directory.
import { register } from 'node:module';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { request } from 'node:http';

const api = process.env.AWS_LAMBDA_RUNTIME_API;
const taskRoot = process.env.LAMBDA_TASK_ROOT ?? process.cwd();
const handlerName = process.env._HANDLER ?? 'index.handler';
if (!api) {
  process.stderr.write('bootstrap: AWS_LAMBDA_RUNTIME_API is not set\n');
  process.exit(1);
}

const nodePath = (process.env.NODE_PATH ?? '').split(':').filter(Boolean);
register(new URL('./lib/node-path-hooks.mjs', import.meta.url), { data: { nodePath } });

function call(method, path, body, headers = {}) {
  return new Promise((res, rej) => {
    const [host, port] = api.split(':');
    const data = body === undefined ? undefined : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
    const req = request(
      { host, port: Number(port), method, path, headers: { ...(data ? { 'content-type': 'application/json', 'content-length': data.length } : {}), ...headers } },
      (r) => {
        const chunks = [];
        r.on('data', (c) => chunks.push(c));
        r.on('end', () => res({ status: r.statusCode, headers: r.headers, body: Buffer.concat(chunks).toString('utf8') }));
        r.on('error', rej);
      },
    );
    req.on('error', rej);
    req.end(data);
  });
}

function errorPayload(e) {
  const err = e instanceof Error ? e : new Error(String(e));
  return {
    errorType: err.name === 'Error' && err.code ? String(err.code) : err.name,
    errorMessage: err.message,
    trace: String(err.stack ?? '').split('\n'),
  };
}

async function loadHandler() {
  const dot = handlerName.lastIndexOf('.');
  const modPath = handlerName.slice(0, dot);
  const fnPath = handlerName.slice(dot + 1);
  const base = resolve(taskRoot, modPath);
  const file = ['.mjs', '.js', '.cjs'].map((ext) => base + ext).find((f) => existsSync(f));
  if (!file) throw Object.assign(new Error(`Cannot find module '${modPath}'`), { name: 'Runtime.ImportModuleError' });
  const mod = await import(pathToFileURL(file).href);
  const fn = fnPath.split('.').reduce((o, k) => (o == null ? undefined : o[k]), mod) ?? mod.default?.[fnPath];
  if (typeof fn !== 'function') throw Object.assign(new Error(`${handlerName} is undefined or not exported`), { name: 'Runtime.HandlerNotFound' });
  return fn;
}

let handler;
try {
  handler = await loadHandler();
} catch (e) {
  const p = errorPayload(e);
  await call('POST', '/2018-06-01/runtime/init/error', p, { 'Lambda-Runtime-Function-Error-Type': p.errorType });
  process.exit(1);
}

const functionName = process.env.AWS_LAMBDA_FUNCTION_NAME ?? 'secret-scope-example';
for (;;) {
  const next = await call('GET', '/2018-06-01/runtime/invocation/next');
  const requestId = next.headers['lambda-runtime-aws-request-id'];
  const deadline = Number(next.headers['lambda-runtime-deadline-ms']);
  if (next.headers['lambda-runtime-trace-id']) process.env._X_AMZN_TRACE_ID = next.headers['lambda-runtime-trace-id'];
  const context = {
    awsRequestId: requestId,
    invokedFunctionArn: next.headers['lambda-runtime-invoked-function-arn'],
    functionName,
    functionVersion: process.env.AWS_LAMBDA_FUNCTION_VERSION ?? '$LATEST',
    memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE ?? '128',
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: 'local',
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
  };
  try {
    const event = JSON.parse(next.body);
    const result = await handler(event, context);
    await call('POST', `/2018-06-01/runtime/invocation/${encodeURIComponent(requestId)}/response`, JSON.stringify(result ?? null));
  } catch (e) {
    const p = errorPayload(e);
    await call('POST', `/2018-06-01/runtime/invocation/${encodeURIComponent(requestId)}/error`, p, {
      'Lambda-Runtime-Function-Error-Type': p.errorType,
    });
  }
}
