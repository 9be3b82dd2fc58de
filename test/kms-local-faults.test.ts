import { DecryptCommand, EncryptCommand, GenerateRandomCommand, KMSClient } from '@aws-sdk/client-kms';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { FAULTS_ENV, parseKmsLocalArgs, startKmsLocal, type KmsLocal } from '../src/kms-local/index.js';
import { rejection } from './helpers/kms.js';

const credentials = { accessKeyId: 'AKIDLOCAL', secretAccessKey: 'local-secret' };

interface SeenResponse {
  headers: Record<string, string | undefined>;
  /** The body as the HTTP parser delivered it, one string per chunk. */
  chunks: string[];
}

/**
 * Records how each response of the client reaches the SDK: headers, and the body
 * chunk by chunk (a middleware at the deserialize step, before the SDK reads it).
 */

function observeResponses(client: KMSClient, seen: SeenResponse[]): void {
  client.middlewareStack.addRelativeTo(
    (next: (a: unknown) => Promise<{ response: any }>) => async (args: unknown) => {
      const result = await next(args);
      const res = result.response;
      const entry: SeenResponse = { headers: { ...res.headers }, chunks: [] };
      seen.push(entry);
      // 'data' events, not an async iterator: that would concatenate chunks that wait together.
      const chunks: Buffer[] = [];
      await new Promise<void>((resolve, reject) => {
        (res.body as Readable).on('data', (c: Buffer) => chunks.push(Buffer.from(c)));
        (res.body as Readable).once('end', resolve).once('error', reject);
      });
      entry.chunks = chunks.map((c) => c.toString('latin1'));
      res.body = Readable.from([Buffer.concat(chunks)]);
      return result;
    },
    { relation: 'after', toMiddleware: 'deserializerMiddleware', name: 'observeResponses' },
  );
}

describe('kms-local fault injection seen through the real SDK', () => {
  let local: KmsLocal;
  let kms: KMSClient;
  const seen: SeenResponse[] = [];
  const random = () => kms.send(new GenerateRandomCommand({ NumberOfBytes: 16 }));

  beforeAll(async () => {
    local = await startKmsLocal({ recordIssued: true });
    kms = new KMSClient({ endpoint: local.url, region: 'us-east-1', credentials, maxAttempts: 1 });
    observeResponses(kms, seen);
  });
  afterAll(async () => {
    kms.destroy();
    await local.close();
  });
  beforeEach(() => {
    seen.length = 0;
    local.setFaults(undefined);
    local.resetStats();
    local.clearIssued();
  });

  it('throttle -> ThrottlingException (400, retryable as throttling)', async () => {
    local.setFaults({ throttle: true });
    const err = await rejection(random());
    expect(err.name).toBe('ThrottlingException');
    expect(err.$metadata.httpStatusCode).toBe(400);
    expect(local.stats.faults.throttle).toBe(1);
    expect(local.issued).toHaveLength(0); // a faulted call never runs its operation
  });

  it('serverError -> KMSInternalException (500) or DependencyTimeoutException (503)', async () => {
    local.setFaults({ serverError: true });
    const e500 = await rejection(random());
    expect(e500.name).toBe('KMSInternalException');
    expect(e500.$metadata.httpStatusCode).toBe(500);
    expect(e500.$fault).toBe('server');
    local.setFaults({ serverError: { status: 503 } });
    const e503 = await rejection(random());
    expect(e503.name).toBe('DependencyTimeoutException');
    expect(e503.$metadata.httpStatusCode).toBe(503);
    expect(local.stats.faults.serverError).toBe(2);
  });

  it('malformedJson -> a deserialization error (SyntaxError) on a 200', async () => {
    local.setFaults({ malformedJson: true });
    const err = await rejection(random());
    expect(err.name).toBe('SyntaxError');
    expect(err.message).toMatch(/Deserialization error/);
    expect(err.$metadata.httpStatusCode).toBe(200);
  });

  it('truncatedBody -> an ECONNRESET "aborted" error', async () => {
    local.setFaults({ truncatedBody: true });
    const err = await rejection(random());
    expect(err.code).toBe('ECONNRESET');
    expect(err.message).toMatch(/aborted/);
    expect(local.stats.faults.truncatedBody).toBe(1);
  });

  it('connectionReset -> ECONNRESET with no response (the SDK names it TimeoutError)', async () => {
    local.setFaults({ connectionReset: true });
    const err = await rejection(random());
    expect(err.code).toBe('ECONNRESET');
    expect(err.$metadata?.httpStatusCode).toBeUndefined();
    expect(local.stats.faults.connectionReset).toBe(1);
    local.setFaults(undefined);
    expect((await random()).Plaintext).toHaveLength(16); // the client recovers on a new connection
  });

  it('latencyMs delays the answer by at least the added time (bounded)', async () => {
    const t0 = performance.now();
    await random();
    const base = performance.now() - t0;
    local.setFaults({ latencyMs: { ms: 150, jitterMs: 20 } });
    const t1 = performance.now();
    await random();
    const delayed = performance.now() - t1;
    expect(delayed).toBeGreaterThanOrEqual(150 - 2); // timers may fire a hair early
    expect(delayed).toBeLessThan(150 + 20 + base + 1000);
    expect(local.stats.faults.latency).toBe(1);
  });

  it('count, everyNth and per-operation faults are deterministic', async () => {
    local.setFaults({ throttle: { count: 2 } });
    const outcomes: string[] = [];
    for (let i = 0; i < 4; i++) outcomes.push(await random().then(() => 'ok', (e: Error) => e.name));
    expect(outcomes).toEqual(['ThrottlingException', 'ThrottlingException', 'ok', 'ok']);

    local.setFaults({ serverError: { everyNth: 3 } });
    outcomes.length = 0;
    for (let i = 0; i < 6; i++) outcomes.push(await random().then(() => 'ok', (e: Error) => e.name));
    expect(outcomes).toEqual(['ok', 'ok', 'KMSInternalException', 'ok', 'ok', 'KMSInternalException']);

    local.setFaults({ operations: { Decrypt: { throttle: true } } });
    const enc = await kms.send(new EncryptCommand({ KeyId: 'alias/secret-scope-local', Plaintext: Buffer.from('x') }));
    expect((await rejection(kms.send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob })))).name).toBe(
      'ThrottlingException',
    );
    expect((await random()).Plaintext).toHaveLength(16);
  });

  it('probability uses the injected random source', async () => {
    let next = 0.3;
    const seeded = await startKmsLocal({ random: () => next, faults: { throttle: { probability: 0.5 } } });
    const c = new KMSClient({ endpoint: seeded.url, region: 'us-east-1', credentials, maxAttempts: 1 });
    try {
      expect((await rejection(c.send(new GenerateRandomCommand({ NumberOfBytes: 8 })))).name).toBe('ThrottlingException');
      next = 0.7;
      expect((await c.send(new GenerateRandomCommand({ NumberOfBytes: 8 }))).Plaintext).toHaveLength(8);
      seeded.setFaults({ throttle: { probability: 0 } });
      next = 0;
      expect((await c.send(new GenerateRandomCommand({ NumberOfBytes: 8 }))).Plaintext).toHaveLength(8);
    } finally {
      c.destroy();
      await seeded.close();
    }
  });

  it('the SDK retries injected 5xx faults and then succeeds (default retry strategy)', async () => {
    local.setFaults({ serverError: { count: 2 } });
    const retrying = new KMSClient({ endpoint: local.url, region: 'us-east-1', credentials, maxAttempts: 3 });
    const out = await retrying.send(new GenerateRandomCommand({ NumberOfBytes: 8 }));
    expect(out.Plaintext).toHaveLength(8);
    expect(local.stats.calls.GenerateRandom).toBe(3);
    expect(local.stats.faults.serverError).toBe(2);
    expect(local.issued).toHaveLength(1);
    retrying.destroy();
  });

  it('chunkedBody: the answer travels in chunked transfer-encoding, cut around the Plaintext; the SDK reads it whole', async () => {
    local.setFaults({ chunkedBody: true });
    const out = await random();
    expect(Buffer.from(out.Plaintext!)).toEqual(local.issued[0]!.plaintext);
    expect(seen.at(-1)!.headers['transfer-encoding']).toBe('chunked');
    expect(seen.at(-1)!.headers['content-length']).toBeUndefined();
    // prefix | base64 Plaintext | suffix: the Plaintext value is a chunk of its own. Chunks that
    // reach the client in one read can arrive as one 'data' event (Node 24's parser, a busy
    // loop): then there is nothing to split, and only the whole body is checked.
    const chunks = seen.at(-1)!.chunks;
    expect(chunks.join('')).toContain(local.issued[0]!.plaintext.toString('base64'));
    if (chunks.length === 3) {
      expect(chunks[1]).toBe(local.issued[0]!.plaintext.toString('base64'));
    }
    expect(local.stats.faults.chunkedBody).toBe(1);
  });

  it('splitWrites: a Content-Length answer in 3 writes apart, cut inside the Plaintext (no piece holds all of it)', async () => {
    local.setFaults({ operations: { GenerateRandom: { splitWrites: { delayMs: 20 } } } });
    const out = await random();
    expect(Buffer.from(out.Plaintext!)).toEqual(local.issued[0]!.plaintext);
    const last = seen.at(-1)!;
    expect(last.headers['content-length']).toBe(String(last.chunks.join('').length));
    expect(last.chunks).toHaveLength(3);
    const b64 = local.issued[0]!.plaintext.toString('base64');
    expect(last.chunks.some((c) => c.includes(b64))).toBe(false);
    expect(last.chunks.join('')).toContain(b64);
    expect(local.stats.faults.splitWrites).toBe(1);
  });

  it('delivery faults with a fixed piece size, count, and a terminal fault winning over them', async () => {
    local.setFaults({ chunkedBody: { cut: 10, count: 1 } });
    await random();
    expect(seen.at(-1)!.headers['transfer-encoding']).toBe('chunked');
    const pieces = seen.at(-1)!.chunks;
    // (chunks of one read can reach the client coalesced: see above; when each came on its own,
    // each is at most 10 bytes)
    if (pieces.length === Math.ceil(pieces.join('').length / 10)) expect(pieces.every((c) => c.length <= 10)).toBe(true);
    await random();
    expect(seen.at(-1)!.headers['transfer-encoding']).toBeUndefined(); // count: 1 is spent
    local.setFaults({ chunkedBody: true, throttle: true });
    expect((await rejection(random())).name).toBe('ThrottlingException');
    expect(local.stats.faults.chunkedBody).toBe(1);
  });

  it(`an endpoint started without faults takes them from ${FAULTS_ENV} (JSON), and refuses bad JSON`, async () => {
    const saved = process.env[FAULTS_ENV];
    process.env[FAULTS_ENV] = JSON.stringify({ throttle: { count: 1 } });
    try {
      const fromEnv = await startKmsLocal();
      const c = new KMSClient({ endpoint: fromEnv.url, region: 'us-east-1', credentials, maxAttempts: 1 });
      expect((await rejection(c.send(new GenerateRandomCommand({ NumberOfBytes: 8 })))).name).toBe('ThrottlingException');
      expect((await c.send(new GenerateRandomCommand({ NumberOfBytes: 8 }))).Plaintext).toHaveLength(8);
      c.destroy();
      await fromEnv.close();
      process.env[FAULTS_ENV] = '{not json';
      await expect(startKmsLocal()).rejects.toThrow(new RegExp(`${FAULTS_ENV} must hold the faults option as JSON`));
    } finally {
      if (saved === undefined) delete process.env[FAULTS_ENV];
      else process.env[FAULTS_ENV] = saved;
    }
  });

  it('the CLI sets the delivery faults (--chunked-rate, --split-rate)', () => {
    expect(parseKmsLocalArgs(['--chunked-rate', '1', '--split-rate', '0.5']).options.faults).toEqual({
      chunkedBody: { probability: 1 },
      splitWrites: { probability: 0.5 },
    });
  });

  it('rejects invalid fault options with a clear message', async () => {
    expect(() => local.setFaults({ throttle: { probability: 2 } })).toThrow(/faults\.throttle\.probability/);
    expect(() => local.setFaults({ operations: { Decrypt: { serverError: { everyNth: 0 } } } })).toThrow(
      /faults\.operations\.Decrypt\.serverError\.everyNth/,
    );
    expect(() => local.setFaults({ chunkedBody: { cut: 0 } })).toThrow(/faults\.chunkedBody\.cut must be/);
    expect(() => local.setFaults({ splitWrites: { delayMs: -1 } })).toThrow(/faults\.splitWrites\.delayMs must be >= 0/);
    expect(() => local.setFaults({ splitWrites: 5 as never })).toThrow(/faults\.splitWrites: expected true, false or an object/);
  });
});
