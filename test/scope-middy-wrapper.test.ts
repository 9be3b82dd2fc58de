/**
 * secretScopeMiddy(middy(handler), options), the wiring that owns the whole invocation,
 * with the real middy 6 and middy 7 (Node >= 22), standard and streaming execution
 * modes: on every path (success, throw, early response from any middleware, middy's
 * timeout, any onError throwing, streamed bodies that end, error, are cancelled by the
 * reader or are never consumed) the scope has ended by the first reaction to the
 * promise the runtime gets; every middleware and the handler see exactly their own
 * invocation's scope, also with 64 overlapping invocations.
 */
import { PassThrough, Readable, Writable } from 'node:stream';
import { beforeAll, describe, expect, it } from 'vitest';
import { currentScope, hmacSign, randomKey, secretScopeMiddy, InvocationScope, OptionsError, ScopeEndedError, type Key } from '../src/index.js';
import { baseline, deferred, expectWiped, thrown, until } from './helpers/kms.js';
import { concurrentIsolation, neighbourProbe } from './helpers/isolation.js';
import { OPTIONS, VERSIONS, keyedWriter, newRec, recordingHandler, settle, turns, useAwslambdaGlobal, type AnyFn, type Ctx, type Middy, type Request } from './helpers/middy.js';

useAwslambdaGlobal();

/** Settles p and records, in the first reaction to it, whether the scope was still live. */
async function settleWatching<T>(p: Promise<T>, scope: () => InvocationScope | undefined) {
  let liveAtSettle: boolean | undefined;
  const r = await settle(p.finally(() => void (liveAtSettle = scope()?.active)));
  return { ...r, liveAtSettle };
}

function collect(out: PassThrough): { text: () => string } {
  let text = '';
  out.on('data', (c: Buffer) => (text += c.toString()));
  out.on('error', () => undefined);
  return { text: () => text };
}

for (const version of VERSIONS) {
  describe.skipIf(!!version.skip)(`secretScopeMiddy, ${version.name}${version.skip ? ` (skipped: ${version.skip})` : ''}`, () => {
    let middy: AnyFn;
    let streamify: (h: AnyFn, m: AnyFn) => Middy;
    beforeAll(async () => {
      ({ middy, streamify } = await version.load());
    });

    it('success: every middleware and the handler see this scope; ended before the response reaches the caller', async () => {
      const base = baseline();
      const rec = newRec();
      const seen: boolean[] = [];
      const look = (r: Request) => void seen.push(currentScope() === r.context.secretScope && currentScope() !== undefined);
      const h = secretScopeMiddy(middy(recordingHandler(rec, (tag) => ({ statusCode: 200, tag }))), OPTIONS)
        .use({ before: look, after: look })
        .use({ before: async (r: Request) => look(r) });
      const r = await settleWatching(h({}, { awsRequestId: 'w-1' }), () => rec.scope);
      expect(r.ok).toBe(true);
      expect(r.liveAtSettle).toBe(false);
      expect(seen).toEqual([true, true, true]);
      expect(rec.same).toEqual([true, true]);
      expect(rec.scope!.name).toBe('w-1');
      expectWiped(base, rec.scope, rec.keys);
    });

    it('throw: wiped, the error reaches the caller', async () => {
      const base = baseline();
      const rec = newRec();
      const boom = new Error('handler failed');
      const h = secretScopeMiddy(middy(recordingHandler(rec, () => { throw boom; })), OPTIONS);
      const r = await settleWatching(h({}, {}), () => rec.scope);
      expect((r as { error: unknown }).error).toBe(boom);
      expect(r.liveAtSettle).toBe(false);
      expectWiped(base, rec.scope, rec.keys);
    });

    for (const phase of ['before', 'after', 'onError'] as const) {
      it(`early response from a${phase === 'after' ? 'n' : ''} ${phase} middleware: wiped before it is returned`, async () => {
        const base = baseline();
        const rec = newRec();
        const handler = recordingHandler(rec, (tag) => {
          if (phase === 'onError') throw new Error('x');
          return { statusCode: 200, tag };
        });
        const early = async (r: Request) => {
          const scope = r.context.secretScope!;
          rec.scope ??= scope;
          rec.keys.push(await scope.key('enc'));
          return { statusCode: 299, early: phase };
        };
        const h = secretScopeMiddy(middy(handler), OPTIONS).use({ [phase]: early });
        const r = await settleWatching(h({}, {}), () => rec.scope);
        expect((r as { value: unknown }).value).toEqual({ statusCode: 299, early: phase });
        expect(r.liveAtSettle).toBe(false);
        expectWiped(base, rec.scope, rec.keys);
      });
    }

    for (const position of ['first', 'last'] as const) {
      it(`an onError that throws (registered ${position}): wiped before the error reaches the caller`, async () => {
        const base = baseline();
        const rec = newRec();
        const boom = new Error('handler failed');
        const reporter = { onError: (r: Request) => { throw r.error; } };
        const m = middy(recordingHandler(rec, () => { throw boom; }));
        if (position === 'first') m.use(reporter).use({ onError: () => undefined });
        else m.use({ onError: () => undefined }).use(reporter);
        const r = await settleWatching(secretScopeMiddy(m, OPTIONS)({}, {}), () => rec.scope);
        expect((r as { error: unknown }).error).toBe(boom);
        expect(r.liveAtSettle).toBe(false);
        expectWiped(base, rec.scope, rec.keys);
      });
    }

    it("middy's timeout with an onError that throws: wiped; the still-running handler cannot use or revive keys", async () => {
      const base = baseline();
      const rec = newRec();
      const gate = deferred();
      const late = deferred<unknown[]>();
      const h = secretScopeMiddy(
        middy(async (_e: unknown, context: Ctx) => {
          rec.scope = context.secretScope;
          const mac = await context.secretScope!.key('mac');
          rec.keys.push(mac);
          await gate.promise;
          late.resolve([thrown(() => hmacSign(mac, 'late')), thrown(() => randomKey(32)), await context.secretScope!.key('enc').catch((e: unknown) => e)]);
          return 'too late';
        }, { timeoutEarlyInMillis: 30 }).use({ onError: (r: Request) => { throw r.error; } }),
        OPTIONS,
      );
      const r = await settleWatching(h({}, { getRemainingTimeInMillis: () => 45 }), () => rec.scope);
      expect((r as { error: Error }).error.name).toBe('TimeoutError');
      expect(r.liveAtSettle).toBe(false);
      expectWiped(base, rec.scope, rec.keys);
      gate.resolve();
      for (const e of await late.promise) expect(e).toBeInstanceOf(ScopeEndedError);
      expectWiped(base, rec.scope, rec.keys);
    });

    for (const kind of ['node', 'web'] as const) {
      it(`buffered mode, a streamed ${kind} body nothing will read: refused with OptionsError, stream stopped, wiped`, async () => {
        const base = baseline();
        const rec = newRec();
        const errors: unknown[] = [];
        let body: Readable | ReadableStream | undefined;
        const h = secretScopeMiddy(
          middy(async (_e: unknown, context: Ctx) => {
            rec.scope = context.secretScope;
            const mac = await context.secretScope!.key('mac');
            rec.keys.push(mac);
            body = keyedWriter(kind, mac, new Promise(() => undefined), () => undefined, errors);
            return { statusCode: 200, body };
          }),
          OPTIONS,
        );
        const r = await settleWatching(h({}, {}), () => rec.scope);
        expect((r as { error: unknown }).error).toBeInstanceOf(OptionsError);
        expect(r.liveAtSettle).toBe(false);
        if (body instanceof Readable) expect(body.destroyed).toBe(true);
        else expect(await (body as ReadableStream).getReader().read().then(() => 'read', () => 'cancelled')).toBe('read'); // cancelled: done
        expectWiped(base, rec.scope, rec.keys);
      });

      it(`streaming mode, ${kind} body: keys work while middy pipes it, wiped when the invocation settles`, async () => {
        const base = baseline();
        const rec = newRec();
        const gate = deferred();
        const mid = deferred();
        const errors: unknown[] = [];
        let settled = false;
        const h = secretScopeMiddy(
          streamify(async (_e: unknown, context: Ctx) => {
            rec.scope = context.secretScope;
            const mac = await context.secretScope!.key('mac');
            rec.keys.push(mac);
            return { statusCode: 200, body: keyedWriter(kind, mac, gate.promise, () => mid.resolve(), errors) };
          }, middy),
          OPTIONS,
        );
        const out = new PassThrough();
        const sink = collect(out);
        const p = h({}, out, {}).finally(() => void (settled = true));
        await mid.promise;
        await turns(5);
        expect(settled).toBe(false);
        expect(rec.scope!.active).toBe(true);
        gate.resolve();
        const r = await settleWatching(p, () => rec.scope);
        expect(r.ok).toBe(true);
        expect(r.liveAtSettle).toBe(false);
        expect(errors).toEqual([]);
        expect(sink.text()).toMatch(/^([0-9a-f]{64}\n){5}$/);
        expectWiped(base, rec.scope, rec.keys);
      });

      it(`streaming mode, ${kind} body that errors mid-way: wiped, rejected`, async () => {
        const base = baseline();
        const rec = newRec();
        const h = secretScopeMiddy(
          streamify(async (_e: unknown, context: Ctx) => {
            rec.scope = context.secretScope;
            const mac = await context.secretScope!.key('mac');
            rec.keys.push(mac);
            const errors: unknown[] = [];
            const body = keyedWriter(kind, mac, Promise.resolve(), () => undefined, errors);
            const fail = new Error('upstream broke');
            setImmediate(() => (body instanceof Readable ? body.destroy(fail) : void body.cancel(fail).catch(() => undefined)));
            if (body instanceof Readable) return { statusCode: 200, body };
            // a web body that errors: the producer's controller errors
            return { statusCode: 200, body: body.pipeThrough(new TransformStream({ transform: (c, ctl) => { ctl.enqueue(c); ctl.error(fail); } })) };
          }, middy),
          OPTIONS,
        );
        const out = new PassThrough();
        collect(out);
        const r = await settleWatching(h({}, out, {}), () => rec.scope);
        expect(r.ok).toBe(false);
        expect(r.liveAtSettle).toBe(false);
        expectWiped(base, rec.scope, rec.keys);
      });

      it(`streaming mode, ${kind} body, the reader goes away mid-way: ended when the response stream closed, not later`, async () => {
        const base = baseline();
        const rec = newRec();
        const mid = deferred();
        const gate = deferred();
        const errors: unknown[] = [];
        const h = secretScopeMiddy(
          streamify(async (_e: unknown, context: Ctx) => {
            rec.scope = context.secretScope;
            const mac = await context.secretScope!.key('mac');
            rec.keys.push(mac);
            return { statusCode: 200, body: keyedWriter(kind, mac, gate.promise, () => mid.resolve(), errors) };
          }, middy),
          OPTIONS,
        );
        const out = new PassThrough();
        collect(out);
        const p = settleWatching(h({}, out, {}), () => rec.scope);
        await mid.promise;
        out.destroy(new Error('client went away'));
        await until(() => rec.scope?.active === false, 'scope ended when the response stream was destroyed');
        gate.resolve();
        const r = await p;
        expect(r.liveAtSettle).toBe(false);
        expectWiped(base, rec.scope, rec.keys);
      });

      it(`streaming mode, ${kind} body replaced by a later middleware (never consumed): wiped when the invocation settles, its producer fails closed`, async () => {
        const base = baseline();
        const rec = newRec();
        const errors: unknown[] = [];
        const gate = deferred();
        const h = secretScopeMiddy(
          streamify(async (_e: unknown, context: Ctx) => {
            rec.scope = context.secretScope;
            const mac = await context.secretScope!.key('mac');
            rec.keys.push(mac);
            const body = keyedWriter(kind, mac, gate.promise, () => undefined, errors);
            if (body instanceof Readable) body.on('error', () => undefined); // abandoned: nobody else listens
            return { statusCode: 200, body };
          }, middy).use({ after: (r: Request) => void ((r.response as { body: unknown }).body = Readable.from(['replaced\n'])) }),
          OPTIONS,
        );
        const out = new PassThrough();
        const sink = collect(out);
        const r = await settleWatching(h({}, out, {}), () => rec.scope);
        expect(r.ok).toBe(true);
        expect(r.liveAtSettle).toBe(false);
        expect(sink.text()).toBe('replaced\n');
        expectWiped(base, rec.scope, rec.keys);
        gate.resolve();
        await until(() => errors.length > 0, 'the abandoned producer tried its key');
        expect(errors[0]).toBeInstanceOf(ScopeEndedError);
      });
    }

    it('streaming mode, the reader goes away while the handler still runs: ended at once, the later key use fails', async () => {
      const base = baseline();
      const rec = newRec();
      const gate = deferred();
      const inHandler = deferred();
      const late = deferred<unknown>();
      const h = secretScopeMiddy(
        streamify(async (_e: unknown, context: Ctx) => {
          rec.scope = context.secretScope;
          const mac = await context.secretScope!.key('mac');
          rec.keys.push(mac);
          inHandler.resolve();
          await gate.promise;
          late.resolve(thrown(() => hmacSign(mac, 'late')));
          return { statusCode: 200, body: 'late' };
        }, middy),
        OPTIONS,
      );
      const out = new PassThrough();
      collect(out);
      const p = settleWatching(h({}, out, {}), () => rec.scope);
      await inHandler.promise;
      out.destroy(new Error('client went away'));
      await until(() => rec.scope?.active === false, 'scope ended when the response stream was destroyed');
      expectWiped(base, rec.scope, rec.keys);
      gate.resolve();
      expect(await late.promise).toBeInstanceOf(ScopeEndedError);
      expect((await p).liveAtSettle).toBe(false);
    });

    // Regression (issue 9): a client that neither reads nor goes away stalled middy's
    // pipeline, so the invocation never settled and the scope stayed live (middy's own
    // timeout races only the handler).
    it('streaming mode, a client that never reads and never goes away: wiped at the Lambda deadline, the stream destroyed', async () => {
      const base = baseline();
      const rec = newRec();
      const stalled = new Writable({ highWaterMark: 1, write: () => undefined }); // never calls back
      stalled.on('error', () => undefined);
      const h = secretScopeMiddy(
        streamify(async (_e: unknown, context: Ctx) => {
          rec.scope = context.secretScope;
          const mac = await context.secretScope!.key('mac');
          rec.keys.push(mac);
          const body = Readable.from((function* () {
            for (let i = 0; ; i++) yield hmacSign(mac, `chunk ${i}`);
          })());
          return { statusCode: 200, body };
        }, middy),
        OPTIONS,
      );
      const r = await settle(h({}, stalled, { getRemainingTimeInMillis: () => 40 }));
      expect(r.ok).toBe(false);
      expect(stalled.destroyed).toBe(true);
      expectWiped(base, rec.scope, rec.keys);
    });

    it('chaining continues after the wrap; the streaming marker of awslambda.streamifyResponse is kept', () => {
      const m = streamify(async () => ({ statusCode: 200, body: '' }), middy);
      const h = secretScopeMiddy(m, OPTIONS);
      expect(h.use({ before: () => undefined })).toBe(h);
      expect(h.before(() => undefined)).toBe(h);
      expect((h as unknown as Record<symbol, unknown>)[Symbol.for('aws.lambda.runtime.handler.streaming')]).toBe('response');
      expect(h.length).toBe(3);
      expect(secretScopeMiddy(middy(async () => 'ok'), OPTIONS).length).toBe(2);
    });

    it('options it does not honour are refused: timeoutEarlyInMillis points to middy; a non-middy handler is refused', () => {
      const e = thrown(() => secretScopeMiddy(middy(async () => 'ok'), { ...OPTIONS, timeoutEarlyInMillis: 5 })) as OptionsError;
      expect(e).toBeInstanceOf(OptionsError);
      expect(e.message).toContain('middy(handler, { timeoutEarlyInMillis })');
      expect(thrown(() => secretScopeMiddy((async () => 'ok') as never, OPTIONS))).toBeInstanceOf(TypeError);
    });

    for (const mode of ['sync', 'async'] as const) {
      it(`64 overlapping invocations stay isolated (${mode} middlewares ahead of and after the handler; handler timers)`, async () => {
        const N = 64;
        const probe = concurrentIsolation(N, 5);
        const around = neighbourProbe();
        const h = secretScopeMiddy(middy(probe.handler), OPTIONS).use(around.middleware('ahead', mode)).use(around.middleware('after', mode));
        const tags: string[] = await Promise.all(Array.from({ length: N }, (_, i) => h({ i }, { awsRequestId: `w-${i}` })));
        around.verify(probe.scopes, () => true); // the wrapper binds every middleware to its own invocation
        probe.verify(tags, (i) => `w-${i}`);
      });
    }

    it('the invoking frame is never bound, during or after an invocation', async () => {
      const gate = deferred();
      const keys: Key[] = [];
      const h = secretScopeMiddy(middy(async (_e: unknown, context: Ctx) => {
        keys.push(await context.secretScope!.key('mac'));
        await gate.promise;
        return 'ok';
      }), OPTIONS);
      const p = h({}, {});
      expect(currentScope()).toBeUndefined();
      gate.resolve();
      expect(await p).toBe('ok');
      expect(currentScope()).toBeUndefined();
      expect(keys[0]!.alive).toBe(false);
    });
  });
}
