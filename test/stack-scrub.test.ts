/**
 * Issue 9, item 5: the copy of an HTTPS response that Node's TLS read leaves on
 * the native stack, and the addon's scrub that removes it.
 *
 * Node's TLSWrap::ClearOut decrypts each record into a 16 KiB array on the
 * event loop thread's stack and never zeroes it. The child
 * (test/fixtures/tls-read-child.mjs) reads one HTTPS response the way
 * secret-scope's KMS client does (every cleartext buffer and body chunk
 * zeroed), then runs the addon's stack scrub with the depth given (0: none)
 * and stops; this process, the server, then reads the child's memory from
 * outside (/proc/<pid>/mem, the auditor's scanner) for the body's secret.
 * - without the scrub the base64 secret is on the child's [stack], a fixed
 *   distance below the libuv check callback's frame (printed: where it is);
 * - with the scrub (the depth the KMS capture uses) it is nowhere.
 * Then: the scrubber on a worker thread (its own loop and stack) closes its
 * libuv handles when the worker ends, and the KMS agent sets
 * SSL_OP_CLEANSE_PLAINTEXT.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Worker } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NeedleIndex, needlesFor } from '../src/audit/patterns.js';
import { scanProcess } from '../src/audit/scanner.js';
import { createSelfSignedCertificate } from '../src/kms-local/cert.js';
import { ZeroingHttpsAgent } from '../src/index.js';
import { SSL_OP_CLEANSE_PLAINTEXT } from '../src/kms/agents.js';
import { afterStackScrub, stackScrubReport } from '../src/memory/stack.js';
import { REPO_ROOT } from './helpers/restricted.js';

const CHILD = join(REPO_ROOT, 'test', 'fixtures', 'tls-read-child.mjs');
const cert = createSelfSignedCertificate({ altNames: ['localhost', '127.0.0.1'] });
let server: https.Server;
let url: string;
let secret: Buffer;

beforeAll(async () => {
  server = https.createServer({ key: cert.privateKeyPem, cert: cert.certificatePem }, (_req, res) => {
    // Shaped like a KMS GenerateRandom answer.
    const body = Buffer.from(JSON.stringify({ KeyId: 'local', Plaintext: secret.toString('base64') }));
    res.writeHead(200, { 'content-type': 'application/x-amz-json-1.1', 'content-length': body.length });
    res.end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  url = `https://127.0.0.1:${(server.address() as AddressInfo).port}/`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

interface Stopped {
  bytes: number;
  zeroed: number;
  lastSp: string;
  depth: number;
}

/** Runs the child with the scrub depth given; scans it while it is stopped. */
async function readInChild(depth: number | undefined) {
  secret = randomBytes(32);
  const child = spawn(process.execPath, [CHILD, JSON.stringify({ url, ca: cert.certificatePem, depth, cleanse: true })], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  try {
    const line = await new Promise<string>((res, rej) => {
      createInterface({ input: child.stdout! }).once('line', res);
      child.once('exit', (code) => rej(new Error(`child exited (${code}) before stopping`)));
    });
    const stopped = JSON.parse(line) as Stopped;
    const index = new NeedleIndex(needlesFor({ id: 0, kind: 'kms-entropy', lifetime: 'scope', label: 'response secret', bytes: secret }));
    const { hits, stats } = scanProcess(child.pid!, index);
    return {
      stopped,
      scannedBytes: stats.scannedBytes,
      hits: hits.map((h) => ({
        mapping: h.mapping.kind,
        form: index.needles[h.needle]!.form,
        belowCheckFrame: Number(BigInt(stopped.lastSp) - BigInt(h.address)),
      })),
    };
  } finally {
    child.stdin!.end('go\n');
    await new Promise((r) => child.once('exit', r));
  }
}

describe('the TLS read leaves the response on the stack; the scrub from the check phase removes it', () => {
  it('without a scrub: the base64 secret is on [stack], within the scrub depth below the check callback', async () => {
    const r = await readInChild(0);
    expect(r.stopped.bytes).toBeGreaterThan(40);
    expect(r.stopped.zeroed).toBe(0);
    const onStack = r.hits.filter((h) => h.mapping === 'stack');
    console.log(`[stack-scrub] without a scrub: ${r.hits.length} copies: ${r.hits.map((h) => `${h.mapping} ${h.form} ${h.belowCheckFrame} bytes below the check callback's frame`).join(', ')}`);
    expect(onStack.length).toBeGreaterThanOrEqual(1);
    expect(r.hits.filter((h) => h.mapping !== 'stack')).toEqual([]); // the buffers and chunks were zeroed
    for (const h of onStack) {
      expect(h.belowCheckFrame).toBeGreaterThan(0);
      expect(h.belowCheckFrame).toBeLessThan(r.stopped.depth / 2); // the default depth has a margin of 2x or more
    }
  });

  it('with the scrub the KMS capture runs: no copy anywhere readable', async () => {
    const r = await readInChild(undefined);
    expect(r.stopped.zeroed).toBe(r.stopped.depth);
    expect(r.scannedBytes).toBeGreaterThan(1 << 20);
    expect(r.hits).toEqual([]);
  });
});

describe('the scrubber', () => {
  it('runs on this thread: resolves with the bytes zeroed and reports its frame inside the stack', async () => {
    const zeroed = await afterStackScrub();
    const r = stackScrubReport();
    expect(zeroed).toBe(r.depth);
    expect(r.runs).toBeGreaterThanOrEqual(1);
    expect(r.lastSp).toBeGreaterThan(r.stackLow);
  });

  it('runs on a worker thread, and the worker ends cleanly with its handles closed (armed or not)', async () => {
    const code = `
      const { parentPort } = require('node:worker_threads');
      const addon = require('node-gyp-build')(${JSON.stringify(REPO_ROOT)});
      addon.stackScrubSoon((zeroed) => {
        const r = addon.stackScrubReport();
        // armed again and never run: the worker's cleanup must close the handles anyway
        addon.stackScrubSoon(() => {});
        parentPort.postMessage({ zeroed, depth: r.depth, inside: r.lastSp > r.stackLow });
        process.exit(0);
      });`;
    const worker = new Worker(code, { eval: true });
    const msg = await new Promise<{ zeroed: number; depth: number; inside: boolean }>((res, rej) => {
      worker.once('message', res);
      worker.once('error', rej);
    });
    const exit = await new Promise<number>((res) => worker.once('exit', res));
    expect(msg.inside).toBe(true);
    expect(msg.zeroed).toBeGreaterThan(0);
    expect(exit).toBe(0);
  });

  it('a callback that arrives while armed waits for the same scrub; the depth is bounded', async () => {
    const both = await Promise.all([afterStackScrub(), afterStackScrub()]);
    expect(both[0]).toBe(both[1]);
    const { native } = await import('../src/memory/native.js');
    expect(() => native().stackScrubSoon(() => undefined, 1 << 30)).toThrow(/depth must be an integer/);
    expect(() => (native().stackScrubSoon as (x: unknown) => void)(42)).toThrow(/callback/);
  });
});

describe('the KMS HTTPS agent', () => {
  it('asks OpenSSL to cleanse decrypted records (SSL_OP_CLEANSE_PLAINTEXT), keeping options given', () => {
    const agent = new ZeroingHttpsAgent({ keepAlive: true, secureOptions: 0x4 });
    const options = (agent as unknown as { options: { secureOptions: number } }).options;
    expect(options.secureOptions & SSL_OP_CLEANSE_PLAINTEXT).toBe(SSL_OP_CLEANSE_PLAINTEXT);
    expect(options.secureOptions & 0x4).toBe(0x4);
    agent.destroy();
  });
});
