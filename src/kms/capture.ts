/**
 * Reads KMS plaintexts (GenerateRandom, Decrypt, GenerateDataKey) from the raw
 * HTTP body straight into guarded memory. The plaintext never becomes a JS
 * string or a Uint8Array of its own: a middleware at the SDK's deserialize step
 * takes the body before the deserializer, decodes the base64 `Plaintext` value
 * natively into a slot, zeroes every chunk it read, and hands the SDK a body
 * whose Plaintext is the empty string.
 */
import { Readable } from 'node:stream';
import type { KMSClient } from '@aws-sdk/client-kms';
import { native } from '../memory/native.js';
import { ensureSecretMemory } from '../memory/policy.js';
import { KmsEntropyError } from '../errors/index.js';
import { wrapKey, type Key, type KeyUse } from '../memory/key.js';
import type { SecretScope } from '../scope/scope.js';

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
 * Reads a response body into one buffer of our own (off the V8 heap, so that
 * zeroing it zeroes the only copy), zeroing every chunk read.
 */
async function readAndZero(body: unknown): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    if (body instanceof Uint8Array) {
      chunks.push(body);
      total = body.byteLength;
    } else if (body && typeof (body as AsyncIterable<unknown>)[Symbol.asyncIterator] === 'function') {
      for await (const chunk of body as AsyncIterable<Uint8Array | string>) {
        if (typeof chunk === 'string') throw new KmsEntropyError('ERR_KMS', 'KMS response body arrived as text');
        chunks.push(chunk);
        total += chunk.byteLength;
      }
    } else {
      throw new KmsEntropyError('ERR_KMS', 'KMS response has no readable body');
    }
    const out = Buffer.from(new ArrayBuffer(total));
    let o = 0;
    for (const c of chunks) {
      out.set(c, o);
      o += c.byteLength;
    }
    return out;
  } finally {
    for (const c of chunks) c.fill(0);
  }
}

function captureMiddleware(target: Captured, options: CaptureOptions) {
  return (next: (args: unknown) => Promise<{ response: unknown; output?: unknown }>) =>
    async (args: unknown) => {
      const result = await next(args);
      const response = result.response as { statusCode?: number; body?: unknown; headers?: Record<string, string> };
      if (!response || typeof response.statusCode !== 'number' || response.statusCode < 200 || response.statusCode >= 300) {
        return result;
      }
      let body: Buffer | undefined;
      try {
        body = await readAndZero(response.body);
        const range = findPlaintext(body);
        if (!range) {
          throw new KmsEntropyError('ERR_KMS_MALFORMED', 'KMS response is malformed: no base64 Plaintext field');
        }
        ensureSecretMemory();
        const nativeScope = options.scope ? options.scope.nativeId : 0;
        const id = native().keyDecode(body, range.start, range.end - range.start, 0, nativeScope, options.sealed === true);
        target.key = wrapKey(id, options.scope, native().keyLength(id), options.use ?? 'secret', options.label);
        const rest = Buffer.concat([body.subarray(0, range.start), body.subarray(range.end)]);
        response.body = Readable.from([rest]);
        if (response.headers) response.headers['content-length'] = String(rest.length);
        return result;
      } finally {
        body?.fill(0);
      }
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
