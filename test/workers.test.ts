/**
 * The addon in several worker_threads at once: each worker configures its own
 * arena and runs HKDF/HMAC/AEAD/X25519 loops on the raw native API, checked
 * against node:crypto; scopes end; liveSlots returns to 0. Handles of one worker
 * are foreign in another. A Key posted to a worker arrives without its private
 * fields and is refused.
 *
 * Workers run plain JS (test/fixtures/worker-child.mjs). For the posted-Key check
 * the worker also imports src/ bundled by esbuild into a private .cache directory.
 */
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hmacSign, protectionReport, randomKey } from '../src/index.js';
import { REPO_ROOT } from './helpers/restricted.js';
import { bundleForChild, type Bundle } from './helpers/bundle.js';

const CHILD = join(REPO_ROOT, 'test', 'fixtures', 'worker-child.mjs');
const WORKERS = 4;
const ITERATIONS = 150;

let bundle: Bundle;

beforeAll(async () => {
  bundle = await bundleForChild('workers', { contents: "export * from './src/index.ts';" });
});

afterAll(() => bundle?.remove());

interface Done {
  type: 'done';
  index: number;
  failures: string[];
  counts: Record<string, number>;
  foreignCodes: string[];
  liveSlots: number;
  liveScopes: number;
  backend: string;
}

function startWorker(index: number, iterations: number): { worker: Worker; next: (type: string) => Promise<any> } {
  const worker = new Worker(CHILD, {
    workerData: { index, iterations, ikmHex: Buffer.alloc(22 + index, 0x0b + index).toString('hex') },
  });
  const queue: any[] = [];
  const waiters: Array<{ type: string; resolve: (m: any) => void; reject: (e: Error) => void }> = [];
  const deliver = () => {
    for (let w = 0; w < waiters.length; w++) {
      const i = queue.findIndex((m) => m.type === waiters[w]!.type);
      if (i >= 0) {
        const [m] = queue.splice(i, 1);
        waiters.splice(w, 1)[0]!.resolve(m);
        w--;
      }
    }
  };
  worker.on('message', (m) => {
    queue.push(m);
    deliver();
  });
  const fail = (e: Error) => waiters.splice(0).forEach((w) => w.reject(e));
  worker.on('error', fail);
  worker.on('exit', (code) => fail(new Error(`worker ${index} exited with ${code}`)));
  return {
    worker,
    next: (type) =>
      new Promise((resolve, reject) => {
        waiters.push({ type, resolve, reject });
        deliver();
      }),
  };
}

describe('worker_threads', () => {
  it(`${WORKERS} workers with their own arenas: HKDF/HMAC/AEAD/X25519 match node:crypto, scopes wipe, foreign handles refused`, async () => {
    const mainBefore = protectionReport().liveSlots;
    const mainKey = randomKey();
    const ws = Array.from({ length: WORKERS }, (_, i) => startWorker(i, ITERATIONS));
    try {
      const handles = await Promise.all(ws.map((w) => w.next('handle')));
      // Each worker gets the handle of the next one.
      const dones = ws.map((w) => w.next('done'));
      ws.forEach((w, i) => w.worker.postMessage({ type: 'foreign', id: handles[(i + 1) % WORKERS].id }));
      const results = (await Promise.all(dones)) as Done[];
      const aes = protectionReport().aes256gcm;
      for (const r of results) {
        expect(r.failures, `worker ${r.index}`).toEqual([]);
        expect(r.counts.hkdf).toBe(ITERATIONS);
        expect(r.counts.hmac).toBe(ITERATIONS);
        expect(r.counts.chacha).toBe(ITERATIONS);
        expect(r.counts.xchacha).toBe(ITERATIONS);
        expect(r.counts.aes).toBe(aes ? ITERATIONS : 0);
        expect(r.counts.x25519).toBe(Math.ceil(ITERATIONS / 10));
        expect(r.counts.scopes).toBe(ITERATIONS);
        expect(r.foreignCodes).toEqual(['ERR_FOREIGN_HANDLE', 'ERR_FOREIGN_HANDLE', 'ERR_FOREIGN_HANDLE']);
        expect(r.liveSlots).toBe(0);
        expect(r.liveScopes).toBe(0);
      }
      // Handle numbers differ between workers (independent serial ranges).
      expect(new Set(handles.map((h) => h.id)).size).toBe(WORKERS);
    } finally {
      await Promise.all(ws.map((w) => w.worker.terminate()));
    }
    // The main thread's arena was untouched by the workers.
    expect(hmacSign(mainKey, 'x').length).toBe(32);
    mainKey.release();
    expect(protectionReport().liveSlots).toBe(mainBefore);
  });

  it('a Key posted to a worker arrives without its private fields and is refused (InvalidHandleError)', async () => {
    const key = randomKey(32, { label: 'posted' });
    const w = startWorker(99, 0);
    try {
      await w.next('handle');
      const answer = w.next('key');
      w.worker.postMessage({ type: 'key', key, bundle: bundle.file });
      const r = await answer;
      // Structured clone keeps own enumerable fields only: no handle number, no brand.
      expect(r.ownKeys.sort()).toEqual(['label', 'length', 'use']);
      expect(r.isKey).toBe(false);
      expect(r.publicError).toEqual({ name: 'InvalidHandleError', code: 'ERR_INVALID_HANDLE', isInvalidHandle: true });
      expect(r.nativeCode).toBe('ERR_INVALID_HANDLE');
    } finally {
      await w.worker.terminate();
    }
    // The original is still a working key here.
    expect(key.alive).toBe(true);
    expect(hmacSign(key, 'x').length).toBe(32);
    key.release();
  });
});
