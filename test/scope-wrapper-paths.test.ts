/**
 * Issue 9 paths of the plain entry points (withSecretScope, its streaming mode,
 * @secretScoped): a buffered response carrying a stream nobody will read, a response
 * stream the client abandons while the handler still runs, the streaming deadline, a
 * Lambda context handed to two overlapping invocations, and the invoking frame, which
 * never sees a scope.
 */
import { PassThrough, Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import {
  currentScope,
  hmacSign,
  randomKey,
  secretScoped,
  withSecretScope,
  InvocationScope,
  OptionsError,
  ScopeEndedError,
  TimeoutError,
  type Key,
  type SecretScopeOptions,
} from '../src/index.js';
import { baseline, deferred, expectWiped, thrown, until } from './helpers/kms.js';
import { keyedWriter, settle } from './helpers/middy.js';

const OPTIONS: SecretScopeOptions = {
  entropy: { source: 'local' },
  keys: { mac: { use: 'hmac' }, enc: { use: 'aead' } },
};
type Ctx = Record<string, unknown> & { secretScope?: InvocationScope };

class DecoratedHandler {
  @secretScoped(OPTIONS)
  async handle(event: { run: (context: Ctx) => Promise<unknown> }, context: Ctx): Promise<unknown> {
    return event.run(context);
  }
}
const decorated = new DecoratedHandler();

const ENTRIES: Array<[string, (run: (context: Ctx) => Promise<unknown>, context: Ctx) => Promise<unknown>]> = [
  ['withSecretScope', (run, context) => withSecretScope(async (_e: unknown, c: Ctx) => run(c), OPTIONS)({}, context)],
  ['@secretScoped', (run, context) => decorated.handle({ run }, context)],
];

describe('a buffered response that carries a stream nobody will read', () => {
  for (const [name, invoke] of ENTRIES) {
    for (const kind of ['node', 'web'] as const) {
      // Regression (issue 9): the body was returned with its scope ended under it (node) or
      // kept a producer running with dead keys; nothing said the wiring was wrong.
      it(`${name}, ${kind} body: refused with OptionsError naming the streaming entry points, stream stopped, wiped`, async () => {
        const base = baseline();
        const keys: Key[] = [];
        let scope: InvocationScope | undefined;
        let body: Readable | ReadableStream | undefined;
        const r = await settle(
          invoke(async (context) => {
            scope = context.secretScope;
            const mac = await scope!.key('mac');
            keys.push(mac);
            body = keyedWriter(kind, mac, new Promise(() => undefined), () => undefined, []);
            return { statusCode: 200, body };
          }, {}),
        );
        const err = (r as { error: OptionsError }).error;
        expect(err).toBeInstanceOf(OptionsError);
        expect(err.message).toContain('streamifyResponse');
        if (body instanceof Readable) expect(body.destroyed).toBe(true);
        expectWiped(base, scope, keys);
      });
    }

    it(`${name}: a stream body that already finished is returned as it is`, async () => {
      const base = baseline();
      const body = Readable.from(['done']);
      for await (const _ of body) void _;
      let scope: InvocationScope | undefined;
      const res = (await invoke(async (context) => {
        scope = context.secretScope;
        return { statusCode: 200, body };
      }, {})) as { body: unknown };
      expect(res.body).toBe(body);
      expect(scope!.active).toBe(false);
      expect(baseline()).toEqual(base);
    });
  }
});

describe('withSecretScope.streaming: the response stream ends the scope however it finishes', () => {
  // Regression (issue 9): the scope outlived a destroyed response stream for as long as
  // the handler kept running (keys usable with nobody to receive the response).
  it('destroyed by the client while the handler still runs: ended at once, the handler\'s later key use fails', async () => {
    const base = baseline();
    const keys: Key[] = [];
    let scope: InvocationScope | undefined;
    const gate = deferred();
    const inHandler = deferred();
    const late = deferred<unknown>();
    const out = new PassThrough();
    out.on('error', () => undefined);
    const h = withSecretScope.streaming(async (_e: unknown, stream: NodeJS.WritableStream, context: Ctx) => {
      scope = context.secretScope;
      const mac = await scope!.key('mac');
      keys.push(mac);
      stream.write('partial\n');
      inHandler.resolve();
      await gate.promise;
      late.resolve(thrown(() => hmacSign(mac, 'late')));
      return 'ok';
    }, OPTIONS);
    const p = settle(h({}, out, {}));
    await inHandler.promise;
    out.destroy(new Error('client went away'));
    await until(() => scope?.active === false, 'scope ended when the response stream was destroyed');
    expectWiped(base, scope, keys);
    gate.resolve();
    expect(await late.promise).toBeInstanceOf(ScopeEndedError);
    await p;
    expectWiped(base, scope, keys);
  });

  // Issue 13: an option an entry point silently ignored. The streaming wrapper now honours it.
  it('timeoutEarlyInMillis: TimeoutError, the response stream destroyed, wiped', async () => {
    const base = baseline();
    const keys: Key[] = [];
    let scope: InvocationScope | undefined;
    const out = new PassThrough();
    out.on('error', () => undefined);
    const h = withSecretScope.streaming(async (_e: unknown, stream: NodeJS.WritableStream, context: Ctx) => {
      scope = context.secretScope;
      keys.push(await scope!.key('mac'));
      stream.write('partial\n');
      await new Promise(() => undefined); // never finishes
    }, { ...OPTIONS, timeoutEarlyInMillis: 30 });
    const r = await settle(h({}, out, { getRemainingTimeInMillis: () => 45 }));
    expect((r as { error: unknown }).error).toBeInstanceOf(TimeoutError);
    expect(out.destroyed).toBe(true);
    expectWiped(base, scope, keys);
  });
});

describe('one Lambda context, two overlapping invocations', () => {
  // Regression (issue 9): the second invocation replaced context.secretScope, so the
  // first one's handler then read (and could use) the second one's scope.
  for (const [name, invoke] of ENTRIES) {
    it(`${name}: the second is refused with OptionsError; the first keeps its own scope`, async () => {
      const base = baseline();
      const ctx: Ctx = {};
      const gate = deferred();
      let first: InvocationScope | undefined;
      let firstLater: unknown;
      const p1 = invoke(async (context) => {
        first = context.secretScope;
        await gate.promise;
        firstLater = context.secretScope;
        return 'ok';
      }, ctx);
      await until(() => first !== undefined, 'first invocation in its handler');
      const r2 = await settle(invoke(async () => 'second', ctx));
      expect((r2 as { error: unknown }).error).toBeInstanceOf(OptionsError);
      gate.resolve();
      expect(await p1).toBe('ok');
      expect(firstLater).toBe(first);
      expect(baseline()).toEqual(base);
    });
  }
});

describe('the invoking frame', () => {
  for (const [name, invoke] of ENTRIES) {
    it(`${name}: sees no scope during or after an invocation; a key made there is the caller's own`, async () => {
      const base = baseline();
      const gate = deferred();
      const p = invoke(async (context) => {
        await context.secretScope!.key('mac');
        await gate.promise;
        return 'ok';
      }, {});
      const during = { current: currentScope(), key: randomKey(32) };
      gate.resolve();
      expect(await p).toBe('ok');
      expect(during.current).toBeUndefined();
      expect(during.key.scope).toBeNull();
      during.key.release();
      expect(currentScope()).toBeUndefined();
      expect(baseline()).toEqual(base);
    });
  }
});
