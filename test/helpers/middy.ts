/**
 * Shared setup for the middy suites (test/scope-middy*.test.ts): both middy versions
 * (middy 7 only on Node >= 22), Lambda's streaming globals, handlers that record the
 * scope and keys they saw, and keyed body streams.
 */
import { PassThrough, type Readable } from 'node:stream';
import { afterAll, beforeAll } from 'vitest';
import middy6 from '@middy/core';
import { currentScope, hmacSign, randomKey, type InvocationScope, type Key, type SecretScopeOptions } from '../../src/index.js';
import { NODE_MAJOR } from './kms.js';

export const OPTIONS: SecretScopeOptions = {
  entropy: { source: 'local' },
  keys: { mac: { use: 'hmac' }, enc: { use: 'aead' } },
};

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyFn = (...args: any[]) => any;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Middy = any;
export type Ctx = Record<string, unknown> & { secretScope?: InvocationScope };
export interface Request {
  event: unknown;
  context: Ctx;
  response: unknown;
  error: unknown;
}

export interface MiddyVersion {
  name: string;
  skip?: string;
  load(): Promise<{ middy: AnyFn; streamify: (handler: AnyFn, middy: AnyFn) => Middy }>;
}

export const VERSIONS: MiddyVersion[] = [
  {
    name: 'middy 6',
    load: async () => ({ middy: middy6 as unknown as AnyFn, streamify: (h, m) => m(h, { streamifyResponse: true }) }),
  },
  {
    name: 'middy 7',
    skip: NODE_MAJOR >= 22 ? undefined : `middy 7 requires Node >= 22; this is Node ${process.versions.node}`,
    load: async () => {
      const m7 = 'middy7';
      const mod = (await import(/* @vite-ignore */ m7)) as { default: AnyFn };
      const sm = (await import(/* @vite-ignore */ `${m7}/StreamifyResponse`)) as { executionModeStreamifyResponse: AnyFn };
      return { middy: mod.default, streamify: (h, m) => m(h, { executionMode: sm.executionModeStreamifyResponse }) };
    },
  },
];

// Lambda's streaming globals, as the Node runtime provides them (middy's streamifyResponse mode uses them).
export const httpMeta: unknown[] = [];
const g = globalThis as unknown as { awslambda?: unknown };
let savedAwslambda: unknown;
/**
 * Installs the awslambda global for the calling suite (beforeAll/afterAll); streamifyResponse
 * marks the handler the way aws-lambda-ric's does (a symbol the runtime reads).
 */
export function useAwslambdaGlobal(): void {
  beforeAll(() => {
    savedAwslambda = g.awslambda;
    g.awslambda = {
      streamifyResponse: (fn: AnyFn) => Object.assign(fn, { [Symbol.for('aws.lambda.runtime.handler.streaming')]: 'response' }),
      HttpResponseStream: {
        from: (stream: NodeJS.WritableStream, meta: unknown) => {
          httpMeta.push(meta);
          return stream;
        },
      },
    };
  });
  afterAll(() => {
    g.awslambda = savedAwslambda;
  });
}

export const settle = <T>(p: Promise<T>) => p.then((value) => ({ ok: true as const, value }), (error: unknown) => ({ ok: false as const, error }));
export const turns = async (n: number) => {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
};

/** Handler that uses its scope; records the scope and every key it saw. */
export function recordingHandler(rec: { scope?: InvocationScope; keys: Key[]; same: boolean[] }, result: (tag: string) => unknown) {
  return async (_event: unknown, context: Ctx) => {
    rec.scope = context.secretScope;
    rec.same.push(currentScope() === context.secretScope);
    const mac = await context.secretScope!.key('mac');
    rec.same.push(currentScope() === context.secretScope);
    rec.keys.push(mac, await context.secretScope!.key('enc'), randomKey(32));
    return result(hmacSign(mac, 'payload').toString('hex'));
  };
}
export const newRec = () => ({ scope: undefined as InvocationScope | undefined, keys: [] as Key[], same: [] as boolean[] });

/** A body stream written by the handler's own async work, using `mac` for every chunk. */
export function keyedWriter(kind: 'node' | 'web', mac: Key, gate: Promise<void>, midStream: () => void, errors: unknown[]) {
  const chunks = 5;
  const produce = async (write: (s: string) => void, end: () => void, fail: (e: Error) => void) => {
    try {
      for (let i = 0; i < chunks; i++) {
        if (i === 2) {
          midStream();
          await gate;
        }
        write(`${hmacSign(mac, `chunk ${i}`).toString('hex')}\n`);
        await new Promise((r) => setImmediate(r));
      }
      end();
    } catch (e) {
      errors.push(e);
      fail(e as Error);
    }
  };
  if (kind === 'node') {
    const body = new PassThrough();
    void produce((s) => body.write(s), () => body.end(), (e) => body.destroy(e));
    return body;
  }
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  const body = new ReadableStream<Uint8Array>({
    start(c) {
      controller = c;
    },
  });
  void produce((s) => controller.enqueue(new TextEncoder().encode(s)), () => controller.close(), (e) => controller.error(e));
  return body;
}

export async function readAll(body: unknown): Promise<string> {
  if (body instanceof ReadableStream) {
    let s = '';
    const dec = new TextDecoder();
    for await (const c of body as unknown as AsyncIterable<Uint8Array>) s += dec.decode(c);
    return s;
  }
  let s = '';
  for await (const c of body as Readable) s += c.toString();
  return s;
}

