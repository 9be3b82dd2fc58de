/**
 * The middy middleware on its own (`middy(h).use(secretScopeMiddleware(o))`), with the
 * real middy 6 (@middy/core) and middy 7 (npm alias `middy7`, Node >= 22 only): the
 * scope is wiped on success, throw, early return (another middleware answers; middy
 * skips ours), the timeoutEarlyInMillis race, any other onError throwing (registered
 * before or after ours); streamed bodies, which a middleware cannot follow to their
 * end, are refused with a typed error naming secretScopeMiddy; 64 overlapping
 * invocations stay isolated whatever middlewares run around ours, and nothing binds
 * the invoking frame. The wrapper wiring (secretScopeMiddy) is in
 * test/scope-middy-wrapper.test.ts.
 */
import { PassThrough } from 'node:stream';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  currentScope,
  hmacSign,
  randomKey,
  secretScopeMiddleware,
  secretScopeMiddy,
  OptionsError,
  ScopeEndedError,
  type Key,
} from '../src/index.js';
import { baseline, deferred, expectWiped, thrown, until } from './helpers/kms.js';
import { concurrentIsolation, neighbourProbe } from './helpers/isolation.js';
import {
  OPTIONS,
  VERSIONS,
  keyedWriter,
  newRec,
  recordingHandler,
  settle,
  useAwslambdaGlobal,
  type AnyFn,
  type Ctx,
  type Middy,
  type Request,
} from './helpers/middy.js';

useAwslambdaGlobal();

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

    // Regression (issue 9): middy stops running onError at the first throw; ours, later in
    // the chain, never ran and the scope stayed live after the invocation settled.
    for (const position of ['registered after ours (runs first)', 'registered before ours (runs after)'] as const) {
      it(`another onError that throws, ${position}: wiped before the error reaches the caller`, async () => {
        const base = baseline();
        const rec = newRec();
        const boom = new Error('handler failed');
        const reporter = { onError: (r: Request) => { throw r.error; } };
        let activeAtSettle: boolean | undefined;
        const h = middy(recordingHandler(rec, () => { throw boom; }));
        if (position.startsWith('registered after')) h.use(secretScopeMiddleware(OPTIONS)).use(reporter);
        else h.use(reporter).use(secretScopeMiddleware(OPTIONS));
        const r = await settle(h({}, {}).finally(() => void (activeAtSettle = rec.scope?.active)));
        expect(r.ok).toBe(false);
        expect((r as { error: unknown }).error).toBe(boom);
        expect(activeAtSettle).toBe(false);
        expectWiped(base, rec.scope, rec.keys);
      });
    }

    it("middy's timeout race with an onError that throws (error reporting): wiped, the late handler cannot use keys", async () => {
      const base = baseline();
      const rec = newRec();
      const gate = deferred();
      const late = deferred<unknown>();
      const h = middy(
        async (_e: unknown, context: Ctx) => {
          rec.scope = context.secretScope;
          const mac = await context.secretScope!.key('mac');
          rec.keys.push(mac);
          await gate.promise;
          late.resolve(thrown(() => hmacSign(mac, 'late')));
          return 'too late';
        },
        { timeoutEarlyInMillis: 30 },
      )
        .use(secretScopeMiddleware(OPTIONS))
        .use({ onError: (r: Request) => { throw r.error; } });
      const r = await settle(h({}, { getRemainingTimeInMillis: () => 45 }));
      expect((r as { error: Error }).error.name).toBe('TimeoutError');
      expectWiped(base, rec.scope, rec.keys);
      gate.resolve();
      expect(await late.promise).toBeInstanceOf(ScopeEndedError);
    });

    // Regression (issue 9): the middleware watched only a TransformStream flush (web) and
    // end/close/error (Node); a body errored, cancelled, replaced or never read kept the
    // scope live. A middleware cannot see middy or the runtime abandon a body: refused.
    for (const kind of ['node', 'web'] as const) {
      for (const mode of ['buffered', 'streamifyResponse'] as const) {
        it(`a streamed ${kind === 'node' ? 'Node Readable' : 'web ReadableStream'} body (${mode}): refused with OptionsError naming secretScopeMiddy, stream stopped, wiped`, async () => {
          const base = baseline();
          const rec = newRec();
          const errors: unknown[] = [];
          const handler = async (_e: unknown, context: Ctx) => {
            rec.scope = context.secretScope;
            const mac = await context.secretScope!.key('mac');
            rec.keys.push(mac);
            return { statusCode: 200, body: keyedWriter(kind, mac, Promise.resolve(), () => undefined, errors) };
          };
          const h = (mode === 'buffered' ? middy(handler) : streamify(handler, middy)).use(secretScopeMiddleware(OPTIONS));
          const r = await settle(mode === 'buffered' ? h({}, {}) : h({}, new PassThrough(), {}));
          expect(r.ok).toBe(false);
          const err = (r as { error: OptionsError }).error;
          expect(err).toBeInstanceOf(OptionsError);
          expect(err.message).toContain('secretScopeMiddy');
          expectWiped(base, rec.scope, rec.keys);
        });
      }
    }

    it('streamifyResponse mode with a string body (middy writes it): wiped when the invocation settles', async () => {
      const base = baseline();
      const rec = newRec();
      const h = streamify(recordingHandler(rec, (tag) => ({ statusCode: 200, body: tag })), middy).use(secretScopeMiddleware(OPTIONS));
      const out = new PassThrough();
      let text = '';
      out.on('data', (c: Buffer) => (text += c.toString()));
      let activeAtSettle: boolean | undefined;
      await h({}, out, {}).finally(() => void (activeAtSettle = rec.scope?.active));
      expect(activeAtSettle).toBe(false);
      expect(text).toMatch(/^[0-9a-f]{64}$/);
      expectWiped(base, rec.scope, rec.keys);
    });

    it('secretScopeMiddleware({ timeoutEarlyInMillis }) is refused, pointing to middy\'s own option', () => {
      const e = thrown(() => secretScopeMiddleware({ ...OPTIONS, timeoutEarlyInMillis: 50 })) as OptionsError;
      expect(e).toBeInstanceOf(OptionsError);
      expect(e.message).toContain('middy(handler, { timeoutEarlyInMillis })');
    });

    it('inside secretScopeMiddy the middleware is refused at the first invocation (one scope per invocation), wiped', async () => {
      const base = baseline();
      const h = secretScopeMiddy(middy(async () => 'ok').use(secretScopeMiddleware(OPTIONS)), OPTIONS);
      const r = await settle(h({}, {}));
      expect((r as { error: OptionsError }).error).toBeInstanceOf(OptionsError);
      expect((r as { error: OptionsError }).error.message).toContain('remove the middleware');
      expect(baseline()).toEqual(base);
    });

    it('one context object passed to two overlapping invocations: the second is refused, the first keeps its scope', async () => {
      const base = baseline();
      const gate = deferred();
      const seen: unknown[] = [];
      const h = middy(async (_e: unknown, context: Ctx) => {
        seen.push(context.secretScope);
        await gate.promise;
        return 'ok';
      }).use(secretScopeMiddleware(OPTIONS));
      const ctx = {};
      const first = h({}, ctx);
      await until(() => seen.length === 1, 'first invocation in its handler');
      const second = await settle(h({}, ctx));
      expect((second as { error: unknown }).error).toBeInstanceOf(OptionsError);
      gate.resolve();
      expect(await first).toBe('ok');
      expect(seen).toHaveLength(1);
      expect(baseline()).toEqual(base);
    });

    const concurrent = (neighbours: 'none' | 'sync' | 'async') => async () => {
      const N = 64;
      const probe = concurrentIsolation(N, 7);
      const around = neighbourProbe();
      const h = middy(probe.handler);
      if (neighbours !== 'none') h.use(around.middleware('ahead', neighbours));
      h.use(secretScopeMiddleware(OPTIONS));
      if (neighbours !== 'none') h.use(around.middleware('after', neighbours));
      const tags: string[] = await Promise.all(Array.from({ length: N }, (_, i) => h({ i }, { awsRequestId: `c-${i}` })));
      // ahead of ours: no scope exists yet for this invocation, and none of another's is visible
      if (neighbours !== 'none') around.verify(probe.scopes, (where) => where === 'after');
      probe.verify(tags, (i) => `c-${i}`);
    };

    it('64 overlapping invocations stay isolated (secretScopeMiddleware alone)', concurrent('none'));
    // Regression (issue 9): a synchronous before-middleware ahead of ours ran in the
    // invoking frame, which our enterWith had bound to the previous invocation's scope:
    // it saw that live scope through currentScope() and its default-owner keys went to it.
    it('64 overlapping invocations stay isolated (synchronous middlewares ahead of and after ours)', concurrent('sync'));
    it('64 overlapping invocations stay isolated (asynchronous middlewares ahead of and after ours)', concurrent('async'));

    // Regression (issue 9): reading context.secretScope bound the reader's async context to
    // that scope. Code of invocation B holding invocation A's context object (a logger or
    // cache that keeps the last context) was rebound to A's scope and could use A's keys.
    for (const wiring of ['secretScopeMiddleware', 'secretScopeMiddy'] as const) {
      it(`${wiring}: code of another invocation that reads this invocation's context.secretScope is not bound to it`, async () => {
        const base = baseline();
        let contextA: Ctx | undefined;
        let keyA: Key | undefined;
        const aReady = deferred();
        const aRelease = deferred();
        const body = async (event: { role: 'a' | 'b' }, context: Ctx) => {
          if (event.role === 'a') {
            contextA = context;
            keyA = await context.secretScope!.key('mac');
            aReady.resolve();
            await aRelease.promise;
            return 'a';
          }
          await aReady.promise;
          const own = context.secretScope;
          void contextA!.secretScope; // B reads A's context object
          return { currentIsOwn: currentScope() === own, useA: thrown(() => hmacSign(keyA!, 'from B')), newKeyScope: randomKey(32).scope === own };
        };
        const h = wiring === 'secretScopeMiddleware' ? middy(body).use(secretScopeMiddleware(OPTIONS)) : secretScopeMiddy(middy(body), OPTIONS);
        const a = h({ role: 'a' }, { awsRequestId: 'a' });
        const b = await h({ role: 'b' }, { awsRequestId: 'b' });
        aRelease.resolve();
        expect(await a).toBe('a');
        expect(b.currentIsOwn).toBe(true);
        expect(b.useA).toBeInstanceOf(ScopeEndedError);
        expect(b.newKeyScope).toBe(true);
        expect(baseline()).toEqual(base);
      });
    }

    // Regression (issue 9): middy's request.event/request.context getters bind the reader;
    // they rebound any context, so code of invocation B reading a request object another
    // middleware kept from invocation A was bound to A's scope and could use A's keys.
    it("code of another invocation that reads this invocation's request (kept by a middleware) is not bound to its scope", async () => {
      const base = baseline();
      let requestA: Request | undefined;
      let keyA: Key | undefined;
      const aReady = deferred();
      const aRelease = deferred();
      const keepRequest = { before: (request: Request) => {
        if ((request.event as { role: string }).role === 'a') requestA = request;
      } };
      const h = middy(async (event: { role: 'a' | 'b' }, context: Ctx) => {
        if (event.role === 'a') {
          keyA = await context.secretScope!.key('mac');
          aReady.resolve();
          await aRelease.promise;
          return 'a';
        }
        await aReady.promise;
        const own = context.secretScope;
        void requestA!.event;
        void requestA!.context;
        return { currentIsOwn: currentScope() === own, useA: thrown(() => hmacSign(keyA!, 'from B')) };
      }).use(secretScopeMiddleware(OPTIONS)).use(keepRequest);
      const a = h({ role: 'a' }, { awsRequestId: 'a' });
      const b = await h({ role: 'b' }, { awsRequestId: 'b' });
      aRelease.resolve();
      expect(await a).toBe('a');
      expect(b.currentIsOwn).toBe(true);
      expect(b.useA).toBeInstanceOf(ScopeEndedError);
      expect(baseline()).toEqual(base);
    });

    // Regression (issue 9): enterWith bound the invoking frame, so the caller (the runtime,
    // or a host running several invocations) saw the scope of the invocation it started.
    it('the invoking frame is never bound: during and after the invocation the caller sees no scope', async () => {
      const base = baseline();
      const gate = deferred();
      const h = middy(async (_e: unknown, context: Ctx) => {
        await context.secretScope!.key('mac');
        await gate.promise;
        return 'ok';
      }).use(secretScopeMiddleware(OPTIONS));
      const p = h({}, {});
      const during = { current: currentScope(), key: randomKey(32) };
      gate.resolve();
      expect(await p).toBe('ok');
      expect(during.current).toBeUndefined();
      expect(during.key.scope).toBeNull();
      during.key.release();
      expect(currentScope()).toBeUndefined();
      expect(baseline()).toEqual(base);
    });
  });
}
