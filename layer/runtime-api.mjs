// A small local implementation of the Lambda Runtime API (2018-06-01), enough
// to drive a runtime the way Lambda does:
//
//   GET  /2018-06-01/runtime/invocation/next              long-polls for the next event
//   POST /2018-06-01/runtime/invocation/{id}/response     the handler's result
//   POST /2018-06-01/runtime/invocation/{id}/error        a handler error
//   POST /2018-06-01/runtime/init/error                   an init (import) error
//
// const api = await startRuntimeApi();
// api.address            // "127.0.0.1:PORT" for AWS_LAMBDA_RUNTIME_API
// await api.ready        // resolves at the runtime's first GET .../next (init done)
// await api.whenPolling(4) // resolves once 4 GET .../next wait at the same time
// const r = await api.invoke({ hello: 1 })   // { requestId, ok, result | error, ms }
// await api.close()
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';

const PREFIX = '/2018-06-01/runtime';

export async function startRuntimeApi(options = {}) {
  const functionArn = options.functionArn ?? 'arn:aws:lambda:us-east-1:000000000000:function:secret-scope-example';
  const timeoutMs = options.timeoutMs ?? 30_000;
  // Test fairness for Managed Instances runs with N runtime workers (each has at
  // most one /next outstanding): hand out invocations only while N polls wait,
  // one to each, so every worker gets the same share. Default: first come, first served.
  const fairPolls = options.fairPolls ?? 1;
  const queue = []; // events waiting for a /next
  const waiting = []; // /next requests waiting for an event
  const pending = new Map(); // requestId -> { resolve, started }
  const log = [];
  const pollWatchers = []; // { n, resolve } for whenPolling(n)
  let initError;
  let readyResolve;
  let readyReject;
  const ready = new Promise((res, rej) => {
    readyResolve = res;
    readyReject = rej;
  });
  ready.catch(() => {});

  function deliver(res, inv) {
    inv.started = performance.now();
    res.writeHead(200, {
      'content-type': 'application/json',
      'lambda-runtime-aws-request-id': inv.requestId,
      'lambda-runtime-deadline-ms': String(Date.now() + timeoutMs),
      'lambda-runtime-invoked-function-arn': functionArn,
      'lambda-runtime-trace-id': `Root=1-${Math.floor(Date.now() / 1000).toString(16)}-${randomUUID().replace(/-/g, '').slice(0, 24)};Sampled=0`,
    });
    res.end(JSON.stringify(inv.event));
  }

  function dispatch() {
    while (queue.length > 0 && waiting.length >= fairPolls) {
      for (const res of waiting.splice(0, fairPolls)) {
        const inv = queue.shift();
        if (inv) deliver(res, inv);
        else waiting.push(res);
      }
    }
  }

  function readBody(req) {
    return new Promise((res, rej) => {
      const chunks = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => res(Buffer.concat(chunks)));
      req.on('error', rej);
    });
  }

  function accepted(res) {
    res.writeHead(202, { 'content-type': 'application/json' });
    res.end('{"status":"OK"}');
  }

  const server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://runtime');
    const path = url.pathname;
    log.push(`${req.method} ${path}`);
    try {
      if (req.method === 'GET' && path === `${PREFIX}/invocation/next`) {
        readyResolve(performance.now());
        if (fairPolls === 1 && queue.length > 0) deliver(res, queue.shift());
        else {
          // Managed Instances: several runtime workers long-poll at once, each
          // /next gets its own invocation; a poll whose client went away is dropped.
          waiting.push(res);
          res.on('close', () => {
            const i = waiting.indexOf(res);
            if (i >= 0 && !res.headersSent) waiting.splice(i, 1);
          });
          for (const w of pollWatchers.filter((x) => waiting.length >= x.n)) {
            pollWatchers.splice(pollWatchers.indexOf(w), 1);
            w.resolve(waiting.length);
          }
          dispatch();
        }
        return;
      }
      const m = /^\/2018-06-01\/runtime\/invocation\/([^/]+)\/(response|error)$/.exec(path);
      if (req.method === 'POST' && m) {
        const body = await readBody(req);
        const inv = pending.get(decodeURIComponent(m[1]));
        if (!inv) {
          res.writeHead(400, { 'content-type': 'application/json' });
          res.end('{"errorMessage":"unknown request id","errorType":"InvalidRequestID"}');
          return;
        }
        pending.delete(inv.requestId);
        accepted(res);
        const ms = performance.now() - inv.started;
        if (m[2] === 'response') {
          let result;
          try {
            result = JSON.parse(body.toString('utf8'));
          } catch {
            result = body.toString('utf8');
          }
          inv.resolve({ requestId: inv.requestId, ok: true, result, ms });
        } else {
          let error;
          try {
            error = JSON.parse(body.toString('utf8'));
          } catch {
            error = { errorMessage: body.toString('utf8') };
          }
          error.errorTypeHeader = req.headers['lambda-runtime-function-error-type'];
          inv.resolve({ requestId: inv.requestId, ok: false, error, ms });
        }
        return;
      }
      if (req.method === 'POST' && path === `${PREFIX}/init/error`) {
        const body = await readBody(req);
        try {
          initError = JSON.parse(body.toString('utf8'));
        } catch {
          initError = { errorMessage: body.toString('utf8') };
        }
        accepted(res);
        readyReject(Object.assign(new Error(`init error: ${initError.errorType}: ${initError.errorMessage}`), { initError }));
        for (const inv of pending.values()) inv.resolve({ requestId: inv.requestId, ok: false, error: initError, ms: 0 });
        return;
      }
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end('{"errorMessage":"not found","errorType":"NotFound"}');
    } catch (e) {
      // Every answer carries Content-Type, as Lambda's does: the ric's native
      // client (aws-lambda-cpp runtime::get_next) assigns CURLINFO_CONTENT_TYPE
      // to a std::string unchecked, and a /next answer without one is a NULL
      // strlen -> SIGSEGV in the runtime (layer/RIC.md, test/ric.test.ts).
      res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ errorMessage: String(e), errorType: 'InternalError' }));
    }
  });

  await new Promise((res) => server.listen(0, '127.0.0.1', res));
  const { port } = server.address();

  return {
    address: `127.0.0.1:${port}`,
    ready,
    log,
    get initError() {
      return initError;
    },
    /** GET .../next requests waiting for an invocation right now. */
    get polling() {
      return waiting.length;
    },
    /** Resolves once `n` GET .../next requests wait at the same time (all runtime workers are ready). */
    whenPolling(n) {
      if (waiting.length >= n) return Promise.resolve(waiting.length);
      return new Promise((resolve) => pollWatchers.push({ n, resolve }));
    },
    invoke(event) {
      return new Promise((resolve) => {
        const inv = { requestId: randomUUID(), event, resolve, started: 0 };
        pending.set(inv.requestId, inv);
        queue.push(inv);
        queueMicrotask(dispatch); // invocations sent together are handed out together
      });
    },
    async close() {
      for (const res of waiting.splice(0)) res.destroy();
      server.closeAllConnections?.();
      await new Promise((res) => server.close(() => res()));
    },
  };
}
