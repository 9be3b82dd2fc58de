/**
 * Reads KMS plaintexts (GenerateRandom, Decrypt, GenerateDataKey) from the raw
 * HTTP body straight into guarded memory. The plaintext never becomes a JS
 * string or a Uint8Array of its own: a middleware at the SDK's deserialize step
 * takes the body before the deserializer, decodes the base64 `Plaintext` value
 * natively into a slot, zeroes every chunk it read (each chunk as the HTTP
 * parser made it, whatever the transfer encoding or the number of reads), and
 * hands the SDK a body whose Plaintext is the empty string.
 */
import { Readable } from 'node:stream';
import type { KMSClient } from '@aws-sdk/client-kms';
import { native } from '../memory/native.js';
import { ensureSecretMemory } from '../memory/policy.js';
import { KmsEntropyError } from '../errors/index.js';
import { wrapKey, type Key, type KeyUse } from '../memory/key.js';
import type { SecretScope } from '../scope/scope.js';
import { afterStackScrub } from '../memory/stack.js';

export interface CaptureOptions {
  scope: SecretScope | null;
  /** Keep the key in a vault region that is PROT_NONE between uses (root keys). */
  sealed?: boolean;
  use?: KeyUse;
  label?: string;
}

interface Captured {
  key?: Key;
}

const FIELD = Buffer.from('"Plaintext"');

/** Finds the value range of the top-level "Plaintext" string in a KMS JSON body. */
export function findPlaintext(body: Buffer): { start: number; end: number } | undefined {
  // Never touch `.buffer` of a view that may live on the V8 heap: V8 would move its
  // bytes off-heap and leave the old copy behind, unzeroed.
  const at = body.indexOf(FIELD);
  if (at < 0) return undefined;
  let i = at + FIELD.length;
  const ws = (c: number) => c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;
  while (i < body.length && ws(body[i]!)) i++;
  if (body[i] !== 0x3a /* : */) return undefined;
  i++;
  while (i < body.length && ws(body[i]!)) i++;
  if (body[i] !== 0x22 /* " */) return undefined;
  const start = i + 1;
  let end = start;
  while (end < body.length && body[end] !== 0x22) {
    if (body[end] === 0x5c /* backslash: base64 never needs escapes */) return undefined;
    end++;
  }
  if (end >= body.length) return undefined;
  return { start, end };
}

/**
 * One growing buffer of our own, off the V8 heap (an ArrayBuffer's backing
 * store: zeroing it zeroes the only copy). Outgrown buffers are zeroed before
 * they are dropped.
 */
class OffHeapBody {
  #buf: Buffer;
  #length = 0;

  constructor(sizeHint: number) {
    this.#buf = Buffer.from(new ArrayBuffer(Math.max(256, sizeHint)));
  }

  append(chunk: Uint8Array): void {
    const need = this.#length + chunk.byteLength;
    if (need > this.#buf.length) {
      const grown = Buffer.from(new ArrayBuffer(Math.max(need, this.#buf.length * 2)));
      grown.set(this.#buf.subarray(0, this.#length));
      this.#buf.fill(0);
      this.#buf = grown;
    }
    this.#buf.set(chunk, this.#length);
    this.#length = need;
  }

  get bytes(): Buffer {
    return this.#buf.subarray(0, this.#length);
  }

  wipe(): void {
    this.#buf.fill(0);
    this.#length = 0;
  }
}

function notBytes(): KmsEntropyError {
  return new KmsEntropyError('ERR_KMS', 'KMS response body arrived as text');
}

/**
 * Takes every chunk of a Node stream as the stream emits it ('data' in flowing
 * mode hands over each chunk the HTTP parser pushed, never a concatenation of
 * several), copies it into `into` and zeroes it at once. Chunks that arrived
 * while the event loop was busy wait in the stream's buffer as separate
 * chunks and are taken the same way.
 */
function drainStream(body: Readable, into: OffHeapBody): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let failure: unknown;
    const onData = (chunk: unknown) => {
      if (!(chunk instanceof Uint8Array)) {
        failure ??= notBytes();
        return;
      }
      try {
        if (failure === undefined) into.append(chunk);
      } finally {
        chunk.fill(0);
      }
    };
    const done = (error?: unknown) => {
      body.off('data', onData);
      body.off('end', onEnd);
      body.off('error', onError);
      body.off('close', onClose);
      if (error !== undefined || failure !== undefined) reject(error ?? failure);
      else resolve();
    };
    const onEnd = () => done();
    const onError = (e: unknown) => done(e);
    const onClose = () => {
      // 'close' without 'end': the body was cut off (destroyed without an error object).
      if (!body.readableEnded) done(body.errored ?? new KmsEntropyError('ERR_KMS', 'KMS response body ended early'));
    };
    if (body.readableEnded) return resolve();
    if (body.destroyed) return reject(body.errored ?? new KmsEntropyError('ERR_KMS', 'KMS response body was destroyed'));
    body.on('data', onData);
    body.once('end', onEnd);
    body.once('error', onError);
    body.once('close', onClose);
    body.resume();
  });
}

/**
 * Reads a response body into one buffer of our own, zeroing every chunk as it
 * is consumed: a Node stream (what the SDK's Node handler returns) chunk by
 * chunk, any other async iterable (web streams) per yielded chunk.
 */
async function readAndZero(body: unknown, sizeHint: number): Promise<OffHeapBody> {
  const out = new OffHeapBody(sizeHint);
  try {
    if (body instanceof Uint8Array) {
      try {
        out.append(body);
      } finally {
        body.fill(0);
      }
    } else if (body instanceof Readable) {
      await drainStream(body, out);
    } else if (body && typeof (body as AsyncIterable<unknown>)[Symbol.asyncIterator] === 'function') {
      for await (const chunk of body as AsyncIterable<unknown>) {
        if (!(chunk instanceof Uint8Array)) throw notBytes();
        try {
          out.append(chunk);
        } finally {
          chunk.fill(0);
        }
      }
    } else {
      throw new KmsEntropyError('ERR_KMS', 'KMS response has no readable body');
    }
    return out;
  } catch (e) {
    out.wipe();
    throw e;
  }
}

function contentLength(headers: Record<string, string> | undefined): number {
  const n = Number(headers?.['content-length'] ?? 0);
  return Number.isSafeInteger(n) && n > 0 && n <= 1 << 20 ? n : 0;
}

function captureMiddleware(target: Captured, options: CaptureOptions) {
  return (next: (args: unknown) => Promise<{ response: unknown; output?: unknown }>) =>
    async (args: unknown) => {
      const result = await next(args);
      const response = result.response as { statusCode?: number; body?: unknown; headers?: Record<string, string> };
      if (!response || typeof response.statusCode !== 'number' || response.statusCode < 200 || response.statusCode >= 300) {
        return result;
      }
      let body: OffHeapBody | undefined;
      let failed = false;
      let failure: unknown;
      try {
        body = await readAndZero(response.body, contentLength(response.headers));
        const bytes = body.bytes;
        const range = findPlaintext(bytes);
        if (!range) {
          throw new KmsEntropyError('ERR_KMS_MALFORMED', 'KMS response is malformed: no base64 Plaintext field');
        }
        ensureSecretMemory();
        // A retried attempt (the SDK's retry middleware sits outside this step) replaces
        // the key an earlier attempt captured: release that one, nobody else will.
        if (target.key?.alive) target.key.release();
        target.key = undefined;
        const nativeScope = options.scope ? options.scope.nativeId : 0;
        const id = native().keyDecode(bytes, range.start, range.end - range.start, 0, nativeScope, options.sealed === true);
        target.key = wrapKey(id, options.scope, native().keyLength(id), options.use ?? 'secret', options.label);
        const rest = Buffer.concat([bytes.subarray(0, range.start), bytes.subarray(range.end)]);
        response.body = Readable.from([rest]);
        if (response.headers) response.headers['content-length'] = String(rest.length);
      } catch (e) {
        failed = true;
        failure = e;
      } finally {
        body?.wipe();
      }
      // Continue (or fail) only once the transport's traces on the native stack are
      // gone: the TLS layer decrypted this body (or the part that came) into a stack
      // array below the event loop, and whatever runs next (the handler, the end of
      // the scope, a residue scan) must not run while that frame still holds it
      // (see memory/stack.ts).
      await afterStackScrub();
      if (failed) throw failure;
      return result;
    };
}

/**
 * Sends a KMS command whose response carries a Plaintext and returns that
 * plaintext as a Key, plus the rest of the SDK output (Plaintext emptied).
 */
export async function sendCapturingPlaintext<O>(
  client: KMSClient,
  command: { middlewareStack: { add: (mw: never, opts: object) => void } },
  options: CaptureOptions,
): Promise<{ key: Key; output: O }> {
  const target: Captured = {};
  command.middlewareStack.add(captureMiddleware(target, options) as never, {
    step: 'deserialize',
    priority: 'low',
    name: 'secretScopePlaintextCapture',
    override: true,
  });
  let output: O;
  try {
    output = (await client.send(command as never)) as O;
  } catch (e) {
    if (target.key?.alive) target.key.release();
    if (e instanceof KmsEntropyError) throw e;
    const err = e as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } };
    const wrapped = new KmsEntropyError(
      'ERR_KMS',
      `KMS request failed: ${err?.name ?? 'Error'}: ${err?.message ?? String(e)}`,
      { cause: e },
    );
    (wrapped as KmsEntropyError & { kmsErrorName?: string }).kmsErrorName = err?.name;
    throw wrapped;
  }
  if (!target.key) throw new KmsEntropyError('ERR_KMS', 'KMS response carried no plaintext');
  const plain = (output as { Plaintext?: Uint8Array }).Plaintext;
  if (plain && plain.length) plain.fill(0);
  return { key: target.key, output };
}
