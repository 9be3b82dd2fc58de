/**
 * The layer run by AWS's real runtime interface client, npm aws-lambda-ric 4.x
 * (built by scripts/build-ric.sh for the Node running this file, cached under
 * .cache/ric), against layer/runtime-api.mjs and the local KMS endpoint, with
 * the ric's native Runtime API client (rapid-client.node, curl):
 *   - one invocation at a time: examples/layer-function (secretScopeMiddy + middy);
 *   - Lambda Managed Instances mode (AWS_LAMBDA_MAX_CONCURRENCY): 4 worker
 *     threads x 16 invocations in flight each (test/fixtures/ric-isolation.mjs),
 *     then an out-of-process scan of the runtime process for the KMS plaintexts.
 * aws-lambda-ric needs Node >= 22: on Node 20 the cases are skipped (CI runs
 * this file again on Node 22 and 24). Timings are printed, never asserted.
 */
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, request } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runRic } from '../layer/ric-e2e.mjs';
import { startRuntimeApi } from '../layer/runtime-api.mjs';
import { NeedleIndex, needlesFor, type Secret } from '../src/audit/patterns.js';
import { scanProcess } from '../src/audit/scanner.js';
import { REPO_ROOT, cleanupTempDirs, makeTempDir } from './helpers/restricted.js';

const MAJOR = Number(process.versions.node.split('.')[0]);
const supported = MAJOR >= 22 && process.arch === 'x64';
const WORKERS = 4;
const PER_WORKER = 16;
const TOTAL = WORKERS * PER_WORKER;
const PKG_INDEX = 'nodejs/node_modules/secret-scope/dist/index.js';

let zip = '';
let ric = '';

interface Result {
  ok: boolean;
  requestId: string;
  result?: Record<string, any>;
  error?: unknown;
}

beforeAll(() => {
  if (!supported) return;
  const out = makeTempDir('secret-scope-ric-layer-');
  execFileSync(process.execPath, [join(REPO_ROOT, 'layer', 'build.mjs'), '--out', out, '--arch', 'x86_64'], { stdio: ['ignore', 'pipe', 'pipe'] });
  zip = join(out, 'secret-scope-layer-x86_64.zip');
  // From nothing this builds curl, aws-lambda-cpp and the addon (minutes); cached it prints a path.
  ric = execFileSync('bash', [join(REPO_ROOT, 'scripts', 'build-ric.sh'), String(MAJOR)], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    timeout: 1_200_000,
  }).trim();
}, 1_300_000);

afterAll(() => cleanupTempDirs());

/**
 * Serves one fixed /next answer (with or without Content-Type) to the ric's
 * native client and reports how the runtime process ended and what it posted.
 */
async function nativeClientAgainst(withContentType: boolean): Promise<{ signal: string | null; posted: string[]; stderr: string }> {
  const task = makeTempDir('secret-scope-ric-task-');
  writeFileSync(join(task, 'index.mjs'), 'export const handler = async () => ({ ok: true });\n');
  const posted: string[] = [];
  const server = createServer((req, res) => {
    if (req.method === 'GET') {
      res.writeHead(200, {
        ...(withContentType ? { 'content-type': 'application/json' } : {}),
        'lambda-runtime-aws-request-id': 'req-1',
        'lambda-runtime-deadline-ms': String(Date.now() + 60_000),
      });
      res.end('{}');
    } else {
      posted.push(`${req.method} ${req.url}`);
      res.writeHead(202, { 'content-type': 'application/json' });
      res.end('{}');
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  const child = spawn(process.execPath, [join(ric, 'index.mjs')], {
    env: {
      PATH: '/usr/bin:/bin',
      AWS_LAMBDA_RUNTIME_API: `127.0.0.1:${port}`,
      LAMBDA_TASK_ROOT: task,
      _HANDLER: 'index.handler',
      AWS_LAMBDA_FUNCTION_NAME: 'f',
      AWS_LAMBDA_FUNCTION_VERSION: '1',
      AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '128',
      AWS_LAMBDA_LOG_GROUP_NAME: 'g',
      AWS_LAMBDA_LOG_STREAM_NAME: 's',
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d) => (stderr += d));
  const ended = new Promise<string | null>((r) => child.on('exit', (_code, signal) => r(signal)));
  // With Content-Type the runtime keeps serving (the same answer, again and again) until stopped.
  const stop = setTimeout(() => child.kill('SIGTERM'), 5_000);
  const signal = await ended;
  clearTimeout(stop);
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
  return { signal, posted, stderr };
}

function ask(address: string, method: 'GET' | 'POST', path: string): Promise<{ status: number; headers: Record<string, unknown> }> {
  const [host, port] = address.split(':');
  return new Promise((resolve, reject) => {
    const req = request({ host, port: Number(port), method, path }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers }));
    });
    req.on('error', reject);
    req.end(method === 'POST' ? '{}' : undefined);
  });
}

describe('layer/runtime-api.mjs answers as the native ric client needs', () => {
  it('every answer carries Content-Type (/next, response, unknown request id, unknown path)', async () => {
    const api = await startRuntimeApi();
    try {
      const invoked = api.invoke({ x: 1 });
      const next = await ask(api.address, 'GET', '/2018-06-01/runtime/invocation/next');
      const id = String(next.headers['lambda-runtime-aws-request-id']);
      const unknown = await ask(api.address, 'POST', '/2018-06-01/runtime/invocation/nope/response');
      const posted = await ask(api.address, 'POST', `/2018-06-01/runtime/invocation/${id}/response`);
      const missing = await ask(api.address, 'GET', '/2018-06-01/runtime/nothing');
      const answers = [next, unknown, posted, missing];
      expect(answers.map((r) => r.status)).toEqual([200, 400, 202, 404]);
      for (const r of answers) expect(r.headers['content-type']).toBe('application/json');
      expect((await invoked).ok).toBe(true);
    } finally {
      await api.close();
    }
  });
});

describe.skipIf(!supported)(`aws-lambda-ric 4.x on Node ${MAJOR} ${process.arch}${supported ? '' : ' (skipped: the ric needs Node >= 22; x64 only, see layer/RIC.md)'}`, () => {
  it('is aws-lambda-ric 4.x with its native client built for this Node', () => {
    const pkg = JSON.parse(readFileSync(join(ric, 'package.json'), 'utf8'));
    expect(pkg.name).toBe('aws-lambda-ric');
    expect(pkg.version).toMatch(/^4\./);
    // Loads in this Node (the addon's static client reads AWS_LAMBDA_RUNTIME_API on load).
    const loaded = execFileSync(process.execPath, ['-e', 'process.dlopen(m = { exports: {} }, process.argv[1]); console.log(Object.keys(m.exports).sort().join())', join(ric, 'rapid-client.node')], {
      encoding: 'utf8',
      env: { ...process.env, AWS_LAMBDA_RUNTIME_API: '127.0.0.1:9' },
    });
    expect(loaded.trim()).toBe('done,error,next');
  });

  it('root cause of the reported SIGSEGV: the native client dies on a /next answer without Content-Type', { timeout: 60_000 }, async () => {
    // aws-lambda-cpp runtime::get_next(): resp.set_content_type(CURLINFO_CONTENT_TYPE),
    // i.e. std::string = (const char*)NULL -> strlen(NULL) on a libuv thread.
    const without = await nativeClientAgainst(false);
    expect(without.signal).toBe('SIGSEGV');
    expect(without.posted).toEqual([]);
    const withIt = await nativeClientAgainst(true);
    expect(withIt.signal).toBe('SIGTERM'); // still serving when stopped
    expect(withIt.posted[0]).toBe('POST /2018-06-01/runtime/invocation/req-1/response');
  });

  it('runs the example function (secretScopeMiddy(middy(...)) from the layer) one invocation at a time', { timeout: 120_000 }, async () => {
    const events = [{ message: 'one' }, { message: 'two' }, { message: 'three' }];
    const s = await runRic({ node: process.execPath, ric, zip, major: String(MAJOR), handler: 'index.handler', events });
    expect(s.alive, s.stderr).toBe(true);
    const responses = s.responses as Result[];
    expect(responses.map((r) => r.error)).toEqual([undefined, undefined, undefined]);
    for (const r of responses) {
      expect(r.ok).toBe(true);
      expect(r.result!.tagBytes).toBe(32);
      expect(r.result!.verified).toBe(true);
      expect(r.result!.roundTrip).toBe(true);
      expect(r.result!.locked).toBe(true);
      expect(String(r.result!.node).startsWith(`v${MAJOR}.`)).toBe(true);
      expect(String(r.result!.secretScope)).toMatch(new RegExp(`/opt/${PKG_INDEX.replace(/[/.]/g, '\\$&')}$`));
    }
    expect(new Set(responses.map((r) => r.result!.tag)).size).toBe(3);
    expect(s.kmsCalls.GenerateRandom).toBe(3);
    // The ric (not our bootstrap) posted them: its native client is curl.
    expect(s.apiLog.filter((l: string) => l.endsWith('/response'))).toHaveLength(3);
    expect(s.stderr).not.toMatch(/Error|Segmentation/);
  });

  it(`Managed Instances: ${WORKERS} worker threads x ${PER_WORKER} concurrent invocations, isolated, wiped before posting, 0 KMS plaintexts left`, { timeout: 400_000 }, async () => {
    const seed = `canary-${process.pid}-${Date.now()}`;
    const canary = (await import('node:crypto')).createHash('sha256').update(seed).digest();
    const events = Array.from({ length: TOTAL }, (_, i) => ({ i }));
    const s = await runRic({
      node: process.execPath,
      ric,
      zip,
      major: String(MAJOR),
      handler: 'isolation.handler',
      managed: { workers: WORKERS, concurrency: TOTAL },
      events,
      env: { RIC_TEST_TOTAL: String(TOTAL), RIC_SCAN_CANARY_SEED: seed },
      inspect: async (pid: number, kms: { issued: ReadonlyArray<{ operation: string; plaintext: Buffer }> }) => {
        const secrets: Secret[] = kms.issued.map((x, id) => ({ id, kind: 'kms-entropy', lifetime: 'scope', label: `${x.operation} #${id}`, bytes: Buffer.from(x.plaintext) }));
        const control: Secret = { id: secrets.length, kind: 'kms-entropy', lifetime: 'scope', label: 'canary', bytes: canary };
        const index = new NeedleIndex([...secrets, control].flatMap((x) => needlesFor(x)));
        const { hits, stats } = scanProcess(pid, index);
        const labels = hits.map((h) => `${index.needles[h.needle]!.secret.label} (${index.needles[h.needle]!.form}) in ${h.mapping.kind} ${h.mapping.path}`);
        return { plaintexts: secrets.length, leaks: labels.filter((l) => !l.startsWith('canary')), canaryHits: labels.filter((l) => l.startsWith('canary')).length, scannedBytes: stats.scannedBytes };
      },
    });
    expect(s.alive, s.stderr).toBe(true);
    const responses = s.responses as Result[];
    expect(responses.filter((r) => !r.ok).map((r) => r.error)).toEqual([]);
    const results = responses.map((r) => r.result!);

    // Every invocation answered its own request, with a tag from its own key.
    results.forEach((x, i) => {
      expect(x.requestId).toBe(responses[i]!.requestId);
      expect(x.scopeName).toBe(responses[i]!.requestId);
      expect(x.tagConsistent).toBe(true);
    });
    expect(new Set(results.map((x) => x.tag)).size).toBe(TOTAL);
    expect(s.kmsCalls.GenerateRandom).toBe(TOTAL); // one KMS draw per invocation, none shared

    // 4 worker threads (never the main thread), the addon loaded in each, 16 in flight in each at once.
    expect(results.every((x) => x.isMainThread === false && x.addonInitialized === true)).toBe(true);
    const perWorker = new Map<number, Record<string, any>[]>();
    for (const x of results) perWorker.set(x.threadId, [...(perWorker.get(x.threadId) ?? []), x]);
    expect(perWorker.size).toBe(WORKERS);
    for (const [, xs] of perWorker) {
      expect(xs).toHaveLength(PER_WORKER);
      expect(Math.max(...xs.map((x) => x.inFlightAtBarrier))).toBe(PER_WORKER);
      // One addon instance per worker: at the barrier its arena held this worker's 16 scopes, not all 64.
      expect(Math.max(...xs.map((x) => x.liveScopesAtBarrier))).toBe(PER_WORKER);
    }
    expect(results.every((x) => x.barrier === 'all')).toBe(true); // all 64 held keys at the same time

    // Isolation: at every await, timer and immediate the current scope was its own; from a
    // timer, every other live invocation's key of the same worker was refused.
    expect(results.flatMap((x) => x.mismatches)).toEqual([]);
    for (const x of results) {
      expect(x.cross.used).toBe(0);
      expect(x.cross.otherErrors).toEqual([]);
      expect(x.cross.refused).toBe(x.cross.attempts);
    }
    expect(results.reduce((n, x) => n + x.cross.attemptsOnLive, 0)).toBeGreaterThanOrEqual(TOTAL * (PER_WORKER - 1) / 2);

    // Wiped before posting: measured after secretScopeMiddy finished, before the ric serialized the result.
    for (const x of results) {
      expect(x.beforePost).toEqual({ scopeActive: false, keyCount: 0, wipedKeys: x.beforePost.wipedKeys, keyAfterEnd: 'ERR_SCOPE_ENDED' });
      expect(x.beforePost.wipedKeys).toBeGreaterThanOrEqual(1);
    }

    // Out-of-process residue scan of the runtime process (all workers share its memory).
    const scan = s.inspected;
    expect(scan.plaintexts).toBe(TOTAL);
    expect(scan.canaryHits, 'the scan must see a worker heap').toBeGreaterThanOrEqual(1);
    expect(scan.leaks).toEqual([]);
    console.log(
      `[ric] Node ${process.version}: ${WORKERS} workers x ${PER_WORKER} in flight, ${TOTAL} invocations ok, ` +
        `backend ${results[0]!.backend}, residue scan of ${(scan.scannedBytes / 1048576).toFixed(0)} MiB: 0 of ${scan.plaintexts} KMS plaintexts`,
    );
  });
});
