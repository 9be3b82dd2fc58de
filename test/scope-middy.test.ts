/**
 * Issue 3: the middy middleware, with the real middy 6 (@middy/core) and middy 7
 * (npm alias `middy7`, Node >= 22 only): the scope is wiped on success, throw,
 * early return (another middleware answers; middy skips ours), the
 * timeoutEarlyInMillis race, streamed bodies (Node Readable and web
 * ReadableStream, buffered and streamifyResponse mode); 64 concurrent
 * invocations stay isolated.
 */
import { PassThrough, Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import middy6 from '@middy/core';
import {
  currentScope,
  hmacSign,
  randomKey,
  secretScopeMiddleware,
  InvocationScope,
  ScopeEndedError,
  type Key,
  type SecretScopeOptions,
} from '../src/index.js';
import { baseline, deferred, expectWiped, NODE_MAJOR, thrown, until } from './helpers/kms.js';
import { concurrentIsolation } from './helpers/isolation.js';

const OPTIONS: SecretScopeOptions = {
  entropy: { source: 'local' },
  keys: { mac: { use: 'hmac' }, enc: { use: 'aead' } },
};

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyFn = (...args: any[]) => any;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Middy = any;
type Ctx = Record<string, unknown> & { secretScope?: InvocationScope };
interface Request {
  event: unknown;
  context: Ctx;
  response: unknown;
  error: unknown;
}

interface MiddyVersion {
  name: string;
  skip?: string;
  load(): Promise<{ middy: AnyFn; streamify: (handler: AnyFn, middy: AnyFn) => Middy }>;
}

const VERSIONS: MiddyVersion[] = [
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
const httpMeta: unknown[] = [];
const g = globalThis as unknown as { awslambda?: unknown };
let savedAwslambda: unknown;
beforeAll(() => {
  savedAwslambda = g.awslambda;
  g.awslambda = {
    streamifyResponse: (fn: AnyFn) => fn,
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

const settle = <T>(p: Promise<T>) => p.then((value) => ({ ok: true as const, value }), (error: unknown) => ({ ok: false as const, error }));
const turns = async (n: number) => {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
};

/** Handler that uses its scope; records the scope and every key it saw. */
function recordingHandler(rec: { scope?: InvocationScope; keys: Key[]; same: boolean[] }, result: (tag: string) => unknown) {
  return async (_event: unknown, context: Ctx) => {
    rec.scope = context.secretScope;
    rec.same.push(currentScope() === context.secretScope);
    const mac = await context.secretScope!.key('mac');
    rec.same.push(currentScope() === context.secretScope);
    rec.keys.push(mac, await context.secretScope!.key('enc'), randomKey(32));
    return result(hmacSign(mac, 'payload').toString('hex'));
  };
}
const newRec = () => ({ scope: undefined as InvocationScope | undefined, keys: [] as Key[], same: [] as boolean[] });

/** A body stream written by the handler's own async work, using `mac` for every chunk. */
function keyedWriter(kind: 'node' | 'web', mac: Key, gate: Promise<void>, midStream: () => void, errors: unknown[]) {
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

async function readAll(body: unknown): Promise<string> {
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

for (const version of VERSIONS) {
  describe.skipIf(!!version.skip)(`${version.name}${version.skip ? ` (skipped: ${version.skip})` : ''}`, () => {
    let middy: AnyFn;
    let streamify: (h: AnyFn, m: AnyFn) => Middy;
    beforeAll(async () => {
      ({ middy, streamify } = await version.load());
    });

    it('success: wiped when the response comes back', async () => {
      const base = baseline();
      const rec = newRec();
      const h = middy(recordingHandler(rec, (tag) => ({ statusCode: 200, tag }))).use(secretScopeMiddleware(OPTIONS));
      const res = await h({}, { awsRequestId: 'm-1' });
      expectWiped(base, rec.scope, rec.keys);
      expect(res.tag).toMatch(/^[0-9a-f]{64}$/);
      expect(rec.same).toEqual([true, true]);
      expect(rec.scope!.name).toBe('m-1');
    });

    it('throw without an error handler: wiped, the error reaches the caller', async () => {
      const base = baseline();
      const rec = newRec();
      const boom = new Error('handler failed');
      const h = middy(recordingHandler(rec, () => {
        throw boom;
      })).use(secretScopeMiddleware(OPTIONS));
      const r = await settle(h({}, {}));
      expectWiped(base, rec.scope, rec.keys);
      expect(r.ok).toBe(false);
      expect((r as { error: unknown }).error).toBe(boom);
    });

    it('throw handled by an error middleware that runs after ours: wiped', async () => {
      const base = baseline();
      const rec = newRec();
      const errorHandler = {
        onError: (request: Request) => {
          request.response = { statusCode: 500 };
        },
      };
      const h = middy(recordingHandler(rec, () => {
        throw new Error('x');
      }))
        .use(errorHandler)
        .use(secretScopeMiddleware(OPTIONS));
      expect(await h({}, {})).toEqual({ statusCode: 500 });
      expectWiped(base, rec.scope, rec.keys);
    });

    it('throw answered early by an onError middleware that runs before ours (ours is skipped): wiped', async () => {
      const base = baseline();
      const rec = newRec();
      let activeAtEnd: boolean | undefined;
      const h = middy(recordingHandler(rec, () => {
        throw new Error('x');
      }), { requestEnd: () => void (activeAtEnd = rec.scope?.active) })
        .use(secretScopeMiddleware(OPTIONS))
        .use({ onError: () => ({ statusCode: 502 }) });
      expect(await h({}, {})).toEqual({ statusCode: 502 });
      expect(activeAtEnd).toBe(false);
      expectWiped(base, rec.scope, rec.keys);
    });

    it('early return from a later before-middleware (handler and our after are skipped): ended before the response came back', async () => {
      const base = baseline();
      const rec = newRec();
      let handlerCalled = false;
      let scopeAtRequestEnd: { active?: boolean; keysDead?: boolean } = {};
      const cache = {
        before: async (request: Request) => {
          rec.scope = request.context.secretScope;
          rec.keys.push(await rec.scope!.key('mac'), randomKey(32));
          hmacSign(rec.keys[0]!, 'cache key');
          return { statusCode: 304, cached: true };
        },
      };
      const h = middy(
        async () => {
          handlerCalled = true;
          return { statusCode: 200 };
        },
        {
          requestEnd: () => {
            scopeAtRequestEnd = { active: rec.scope?.active, keysDead: rec.keys.every((k) => !k.alive) };
          },
        },
      )
        .use(secretScopeMiddleware(OPTIONS))
        .use(cache);
      const res = await h({}, {});
      expect(res).toEqual({ statusCode: 304, cached: true });
      expect(handlerCalled).toBe(false);
      expect(scopeAtRequestEnd).toEqual({ active: false, keysDead: true });
      expectWiped(base, rec.scope, rec.keys);
    });

    it('early return from an after-middleware that runs before ours: wiped', async () => {
      const base = baseline();
      const rec = newRec();
      const h = middy(recordingHandler(rec, (tag) => ({ statusCode: 200, tag })))
        .use(secretScopeMiddleware(OPTIONS))
        .use({ after: () => ({ statusCode: 203, replaced: true }) });
      expect(await h({}, {})).toEqual({ statusCode: 203, replaced: true });
      expectWiped(base, rec.scope, rec.keys);
    });

    it('early return from a before-middleware that runs before ours: no scope is ever opened', async () => {
      const base = baseline();
      let handlerCalled = false;
      const h = middy(async () => {
        handlerCalled = true;
      })
        .use({ before: () => ({ statusCode: 401 }) })
        .use(secretScopeMiddleware(OPTIONS));
      expect(await h({}, {})).toEqual({ statusCode: 401 });
      expect(handlerCalled).toBe(false);
      expect(baseline()).toEqual(base);
    });

    it("timeoutEarlyInMillis race: middy's TimeoutError, wiped; the still-running handler cannot use or revive keys", async () => {
      const base = baseline();
      const rec = newRec();
      const gate = deferred();
      const handlerDone = deferred();
      const late: Record<string, unknown> = {};
      const h = middy(
        async (_e: unknown, context: Ctx) => {
          rec.scope = context.secretScope;
          const mac = await context.secretScope!.key('mac');
          rec.keys.push(mac, randomKey(32));
          await gate.promise;
          late.use = thrown(() => hmacSign(mac, 'late'));
          late.newKey = thrown(() => randomKey(32));
          late.derive = await context.secretScope!.key('enc').then(() => undefined, (e: unknown) => e);
          handlerDone.resolve();
          return 'too late';
        },
        { timeoutEarlyInMillis: 30 },
      ).use(secretScopeMiddleware(OPTIONS));
      const r = await settle(h({}, { getRemainingTimeInMillis: () => 45 }));
      expect(r.ok).toBe(false);
      expect((r as { error: Error }).error.name).toBe('TimeoutError');
      expectWiped(base, rec.scope, rec.keys);
      gate.resolve();
      await handlerDone.promise;
      expect(late.use).toBeInstanceOf(ScopeEndedError);
      expect(late.newKey).toBeInstanceOf(ScopeEndedError);
      expect(late.derive).toBeInstanceOf(ScopeEndedError);
      expectWiped(base, rec.scope, rec.keys);
    });

    for (const kind of ['node', 'web'] as const) {
      for (const shape of ['response.body', 'response'] as const) {
        it(`streamed body (${kind === 'node' ? 'Node Readable' : 'web ReadableStream'} as ${shape}): alive mid-stream, wiped once the body was read`, async () => {
          const base = baseline();
          const rec = newRec();
          const gate = deferred();
          const mid = deferred();
          const errors: unknown[] = [];
          const h = middy(async (_e: unknown, context: Ctx) => {
            rec.scope = context.secretScope;
            const mac = await context.secretScope!.key('mac');
            rec.keys.push(mac);
            const body = keyedWriter(kind, mac, gate.promise, () => mid.resolve(), errors);
            return shape === 'response' ? body : { statusCode: 200, body };
          }).use(secretScopeMiddleware(OPTIONS));
          const res = await h({}, {});
          // the response is back but the body is not: the scope must still be alive
          expect(rec.scope!.active).toBe(true);
          expect(rec.keys[0]!.alive).toBe(true);
          const body = shape === 'response' ? res : res.body;
          const reading = readAll(body);
          await mid.promise;
          await turns(5);
          expect(rec.scope!.active).toBe(true);
          expect(rec.keys[0]!.alive).toBe(true);
          gate.resolve();
          const text = await reading;
          expect(errors).toEqual([]);
          expect(text).toMatch(/^([0-9a-f]{64}\n){5}$/);
          expectWiped(base, rec.scope, rec.keys);
        });
      }
    }

    it('streamifyResponse mode: the key works while middy pipes the body, wiped when the response promise resolves', async () => {
      const base = baseline();
      const rec = newRec();
      const gate = deferred();
      const mid = deferred();
      const errors: unknown[] = [];
      let settled = false;
      const h = streamify(
        async (_e: unknown, context: Ctx) => {
          rec.scope = context.secretScope;
          const mac = await context.secretScope!.key('mac');
          rec.keys.push(mac);
          return { statusCode: 200, headers: { 'content-type': 'text/plain' }, body: keyedWriter('node', mac, gate.promise, () => mid.resolve(), errors) };
        },
        middy,
      ).use(secretScopeMiddleware(OPTIONS));
      const out = new PassThrough();
      let text = '';
      out.on('data', (c: Buffer) => (text += c.toString()));
      const p = h({}, out, {}).finally(() => {
        settled = true;
      });
      await mid.promise;
      await turns(5);
      expect(settled).toBe(false);
      expect(rec.scope!.active).toBe(true);
      expect(rec.keys[0]!.alive).toBe(true);
      gate.resolve();
      await p;
      expectWiped(base, rec.scope, rec.keys);
      expect(errors).toEqual([]);
      expect(text).toMatch(/^([0-9a-f]{64}\n){5}$/);
      expect(httpMeta.length).toBeGreaterThan(0);
    });

    it('a streamed body that errors: wiped', async () => {
      const base = baseline();
      const rec = newRec();
      const h = middy(async (_e: unknown, context: Ctx) => {
        rec.scope = context.secretScope;
        rec.keys.push(await context.secretScope!.key('mac'));
        const body = new PassThrough();
        setImmediate(() => body.destroy(new Error('upstream broke')));
        return { statusCode: 200, body };
      }).use(secretScopeMiddleware(OPTIONS));
      const res = await h({}, {});
      await readAll(res.body).catch(() => undefined);
      await until(() => rec.scope?.active === false, 'scope ended after the body errored');
      expectWiped(base, rec.scope, rec.keys);
    });

    const concurrent = (asyncBeforeAhead: boolean) => async () => {
      const N = 64;
      const probe = concurrentIsolation(N, 7);
      const h = middy(probe.handler);
      // a typical async middleware (parser, ssm, secrets) registered ahead of ours
      if (asyncBeforeAhead) h.use({ before: async () => undefined });
      h.use(secretScopeMiddleware(OPTIONS));
      const tags: string[] = await Promise.all(Array.from({ length: N }, (_, i) => h({ i }, { awsRequestId: `c-${i}` })));
      probe.verify(tags, (i) => `c-${i}`);
    };

    it('64 concurrent invocations stay isolated (secretScopeMiddleware first)', concurrent(false));

    // Regression: with middy 6 and an async before-middleware ahead of ours, our `before`
    // runs inside middy's nested runMiddlewares() continuation, where enterWith() cannot
    // reach the handler's context; reading context.secretScope rebinds it there.
    it('64 concurrent invocations stay isolated (an async before-middleware ahead of ours)', concurrent(true));

    // middy calls `before` synchronously from the invoking code, so enterWith()
    // also rebinds the caller's async context. Documented behaviour
    // (src/scope/context.ts): currentScope() names live scopes only, and a key
    // created there fails closed (ScopeEndedError) instead of becoming a key
    // nobody wipes.
    it("after the invocation the caller sees no live scope; a key made there fails closed", async () => {
      const base = baseline();
      const h = middy(async () => 'ok').use(secretScopeMiddleware(OPTIONS));
      const probe = async () => {
        expect(await h({}, {})).toBe('ok');
        return { current: currentScope(), newKey: thrown(() => randomKey(32)) };
      };
      const r = await probe();
      expect(r.current).toBeUndefined();
      expect(r.newKey).toBeInstanceOf(ScopeEndedError);
      expect(baseline()).toEqual(base);
    });
  });
}
