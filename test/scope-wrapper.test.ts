/**
 * Issue 3: withSecretScope (async, callback-style, streaming) and @secretScoped
 * (TC39 standard decorator compiled by esbuild, and the legacy
 * (target, key, descriptor) form) wipe the invocation's scope on every path,
 * validate their options, and keep 64 concurrent invocations apart.
 *
 * Entropy is local here (KMS paths: scope-kms.test.ts) so that these tests are
 * about the entry points only.
 */
import { PassThrough, Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import {
  currentScope,
  hmacSign,
  randomKey,
  secretScoped,
  secretScopeMiddleware,
  withSecretScope,
  InvocationScope,
  OptionsError,
  ScopeEndedError,
  TimeoutError,
  type Key,
  type SecretScopeOptions,
} from '../src/index.js';
import { baseline, deferred, expectWiped, thrown, until } from './helpers/kms.js';
import { concurrentIsolation } from './helpers/isolation.js';

const OPTIONS: SecretScopeOptions = {
  entropy: { source: 'local' },
  keys: { mac: { use: 'hmac' }, enc: { use: 'aead' } },
};

type Ctx = Record<string, unknown> & { secretScope?: InvocationScope; getRemainingTimeInMillis?: () => number };
type AsyncHandler = (this: unknown, event: any, context: Ctx) => Promise<unknown> | unknown;
type CbHandler = (this: unknown, event: any, context: Ctx, cb: (err?: unknown, res?: unknown) => void) => void;
type Invoke = (event: unknown, context: Ctx) => Promise<unknown>;

interface Entry {
  name: string;
  async(h: AsyncHandler, options: SecretScopeOptions): Invoke;
  callback(h: CbHandler, options: SecretScopeOptions): Invoke;
}

// The handler class marks `this` so that the decorators are seen to keep it.
const THIS_MARK = 'handler-instance';

const ENTRIES: Entry[] = [
  {
    name: 'withSecretScope',
    async: (h, o) => withSecretScope(h, o) as Invoke,
    callback: (h, o) => {
      // a genuine 3-parameter function, as Lambda's callback handlers are
      const fn = function (this: unknown, event: unknown, context: Ctx, cb: (e?: unknown, r?: unknown) => void) {
        return h.call(this, event, context, cb);
      };
      return withSecretScope(fn, o) as Invoke;
    },
  },
  {
    name: '@secretScoped (standard decorator)',
    async: (h, o) => {
      class Handler {
        mark = THIS_MARK;
        @secretScoped(o)
        async handle(event: unknown, context: Ctx) {
          return h.call(this, event, context);
        }
      }
      const inst = new Handler();
      return (e, c) => inst.handle(e, c);
    },
    callback: (h, o) => {
      class Handler {
        mark = THIS_MARK;
        @secretScoped(o)
        handle(event: unknown, context: Ctx, cb: (e?: unknown, r?: unknown) => void) {
          return h.call(this, event, context, cb);
        }
      }
      const inst = new Handler();
      return (e, c) => (inst.handle as unknown as Invoke)(e, c);
    },
  },
  {
    name: '@secretScoped (legacy: decorator(target, key, descriptor))',
    async: (h, o) => {
      class Handler {
        mark = THIS_MARK;
        async handle(event: unknown, context: Ctx) {
          return h.call(this, event, context);
        }
      }
      const desc = Object.getOwnPropertyDescriptor(Handler.prototype, 'handle')!;
      const out = secretScoped(o)(Handler.prototype, 'handle', desc);
      Object.defineProperty(Handler.prototype, 'handle', out);
      const inst = new Handler();
      return (e, c) => inst.handle(e, c);
    },
    callback: (h, o) => {
      class Handler {
        mark = THIS_MARK;
        handle(event: unknown, context: Ctx, cb: (e?: unknown, r?: unknown) => void) {
          return h.call(this, event, context, cb);
        }
      }
      const desc = Object.getOwnPropertyDescriptor(Handler.prototype, 'handle')!;
      const out = secretScoped(o)(Handler.prototype, 'handle', desc);
      Object.defineProperty(Handler.prototype, 'handle', out);
      const inst = new Handler();
      return (e, c) => (inst.handle as unknown as Invoke)(e, c);
    },
  },
];

/** What a handler saw, for the assertions after the invocation settled. */
function recorder() {
  const rec = {
    scope: undefined as InvocationScope | undefined,
    keys: [] as Key[],
    sameScope: [] as boolean[],
    self: undefined as unknown,
  };
  /** Uses the scope the way a handler does: declared keys, a random key, an HMAC. */
  const use = async (self: unknown, context: Ctx) => {
    rec.self = self;
    rec.scope = context.secretScope;
    rec.sameScope.push(currentScope() === context.secretScope);
    const mac = await context.secretScope!.key('mac');
    rec.sameScope.push(currentScope() === context.secretScope);
    const enc = await context.secretScope!.key('enc');
    const extra = randomKey(32, { label: 'handler-random' });
    rec.keys.push(mac, enc, extra);
    expect(mac.alive && enc.alive && extra.alive).toBe(true);
    expect(extra.scope).toBe(context.secretScope);
    // declared keys carry their declared use and name
    expect([mac.use, mac.label, enc.use, enc.label]).toEqual(['hmac', 'mac', 'aead', 'enc']);
    return hmacSign(mac, 'payload').toString('hex');
  };
  return { rec, use };
}

const settle = <T>(p: Promise<T>) => p.then((value) => ({ ok: true as const, value }), (error: unknown) => ({ ok: false as const, error }));

for (const entry of ENTRIES) {
  describe(`${entry.name}: the scope is wiped on every path`, () => {
    it('success: wiped when the response comes back, keys usable before', async () => {
      const base = baseline();
      const { rec, use } = recorder();
      const h = entry.async(async function (this: unknown, _event, context) {
        const tag = await use(this, context);
        return { statusCode: 200, tag };
      }, OPTIONS);
      const res = (await h({ id: 1 }, { awsRequestId: 'req-success' })) as { tag: string };
      // synchronously, right after the response promise resolved:
      expectWiped(base, rec.scope, rec.keys);
      expect(res.tag).toMatch(/^[0-9a-f]{64}$/);
      expect(rec.sameScope).toEqual([true, true]);
      expect(rec.scope!.name).toBe('req-success');
      if (entry.name !== 'withSecretScope') expect((rec.self as { mark?: string }).mark).toBe(THIS_MARK);
      expect(await rec.scope!.key('mac').then(() => 'resolved', (e: unknown) => e)).toBeInstanceOf(ScopeEndedError);
    });

    it('async throw: wiped, and the handler error is what the caller gets', async () => {
      const base = baseline();
      const { rec, use } = recorder();
      const boom = new Error('handler failed');
      const h = entry.async(async function (this: unknown, _event, context) {
        await use(this, context);
        throw boom;
      }, OPTIONS);
      const r = await settle(h({}, {}));
      expectWiped(base, rec.scope, rec.keys);
      expect(r).toEqual({ ok: false, error: boom });
    });

    it('synchronous throw from a non-async handler: wiped', async () => {
      const base = baseline();
      const keys: Key[] = [];
      let scope: InvocationScope | undefined;
      const h = entry.async(function (_event, context) {
        scope = context.secretScope;
        keys.push(randomKey(32));
        throw new RangeError('sync');
      }, OPTIONS);
      const r = await settle(h({}, {}));
      expectWiped(base, scope, keys);
      expect(r.ok).toBe(false);
      expect((r as { error: unknown }).error).toBeInstanceOf(RangeError);
    });

    it('callback-style handler, callback(null, result) after an await: wiped', async () => {
      const base = baseline();
      const { rec, use } = recorder();
      const h = entry.callback(function (this: unknown, _event, context, cb) {
        void use(this, context).then((tag) => setTimeout(() => cb(null, { tag }), 1), cb);
      }, OPTIONS);
      const res = (await h({}, {})) as { tag: string };
      expectWiped(base, rec.scope, rec.keys);
      expect(res.tag).toMatch(/^[0-9a-f]{64}$/);
    });

    it('callback-style handler, callback(error): wiped and rejected', async () => {
      const base = baseline();
      const { rec, use } = recorder();
      const err = new Error('via callback');
      const h = entry.callback(function (this: unknown, _event, context, cb) {
        void use(this, context).then(() => setImmediate(() => cb(err)));
      }, OPTIONS);
      const r = await settle(h({}, {}));
      expectWiped(base, rec.scope, rec.keys);
      expect(r).toEqual({ ok: false, error: err });
    });

    it('timeoutEarlyInMillis: TimeoutError, wiped; the still-running handler cannot use or revive keys', async () => {
      const base = baseline();
      const { rec, use } = recorder();
      const gate = deferred();
      const after: Record<string, unknown> = {};
      const handlerDone = deferred();
      const h = entry.async(async function (this: unknown, _event, context) {
        await use(this, context);
        await gate.promise; // still running when the deadline passes
        const [mac] = rec.keys;
        after.use = thrown(() => hmacSign(mac!, 'late'));
        after.newKey = thrown(() => randomKey(32));
        after.derive = await context.secretScope!.key('enc').then(() => undefined, (e: unknown) => e);
        after.current = currentScope();
        handlerDone.resolve();
        return 'late result';
      }, { ...OPTIONS, timeoutEarlyInMillis: 30 });
      const r = await settle(h({}, { awsRequestId: 'tmo', getRemainingTimeInMillis: () => 45 }));
      expect(r.ok).toBe(false);
      const err = (r as { error: TimeoutError }).error;
      expect(err).toBeInstanceOf(TimeoutError);
      expect(err.code).toBe('ERR_TIMEOUT');
      expectWiped(base, rec.scope, rec.keys);

      gate.resolve();
      await handlerDone.promise;
      expect(after.use).toBeInstanceOf(ScopeEndedError);
      expect(after.newKey).toBeInstanceOf(ScopeEndedError);
      expect(after.derive).toBeInstanceOf(ScopeEndedError);
      expect(after.current).toBeUndefined(); // currentScope() names live scopes only
      // nothing was revived by the late handler
      expectWiped(base, rec.scope, rec.keys);
    });

    it('timeoutEarlyInMillis does not fire when the handler is fast enough', async () => {
      const base = baseline();
      const { rec, use } = recorder();
      const h = entry.async(async function (this: unknown, _event, context) {
        return use(this, context);
      }, { ...OPTIONS, timeoutEarlyInMillis: 10 });
      const tag = await h({}, { getRemainingTimeInMillis: () => 60_000 });
      expect(tag).toMatch(/^[0-9a-f]{64}$/);
      expectWiped(base, rec.scope, rec.keys);
    });
  });
}

describe('withSecretScope.streaming: wiped after the response stream finished, not before', () => {
  const collect = (s: PassThrough) => {
    const chunks: string[] = [];
    s.on('data', (c: Buffer) => chunks.push(c.toString()));
    return chunks;
  };

  it('a key used while streaming works mid-stream and is dead once the stream finished', async () => {
    const base = baseline();
    const keys: Key[] = [];
    let scope: InvocationScope | undefined;
    const midStream = deferred();
    const gate = deferred();
    const writerErrors: unknown[] = [];
    let settled = false;
    const h = withSecretScope.streaming(async (_event: unknown, stream: NodeJS.WritableStream, context: Ctx) => {
      scope = context.secretScope;
      const mac = await scope!.key('mac');
      keys.push(mac);
      // The writer keeps going after the handler returned (as streamed responses do).
      void (async () => {
        try {
          for (let i = 0; i < 5; i++) {
            if (i === 2) {
              midStream.resolve();
              await gate.promise;
            }
            stream.write(`${hmacSign(mac, `chunk ${i}`).toString('hex')}\n`);
            await new Promise((r) => setImmediate(r));
          }
          stream.end();
        } catch (e) {
          writerErrors.push(e);
          (stream as PassThrough).destroy(e as Error);
        }
      })();
      return 'returned before the body was written';
    }, OPTIONS);
    const out = new PassThrough();
    const chunks = collect(out);
    const p = h({}, out, {}).finally(() => {
      settled = true;
    });
    await midStream.promise;
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
    // mid-stream: the handler has returned, but the scope must still be alive
    expect(settled).toBe(false);
    expect(scope!.active).toBe(true);
    expect(keys[0]!.alive).toBe(true);
    gate.resolve();
    expect(await p).toBe('returned before the body was written');
    expectWiped(base, scope, keys);
    expect(writerErrors).toEqual([]);
    expect(chunks.join('').trim().split('\n')).toHaveLength(5);
    expect(chunks.join('')).toMatch(/^([0-9a-f]{64}\n){5}$/);
  });

  it('a slow Writable sink: not wiped while written data is still being flushed', async () => {
    const base = baseline();
    const keys: Key[] = [];
    let scope: InvocationScope | undefined;
    const pendingWrites: Array<() => void> = [];
    const received: string[] = [];
    const sink = new Writable({
      highWaterMark: 1,
      write(chunk: Buffer, _enc, cb) {
        received.push(chunk.toString());
        pendingWrites.push(() => cb());
      },
    });
    let settled = false;
    const h = withSecretScope.streaming(async (_event: unknown, stream: NodeJS.WritableStream, context: Ctx) => {
      scope = context.secretScope;
      const mac = await scope!.key('mac');
      keys.push(mac);
      for (let i = 0; i < 3; i++) stream.write(hmacSign(mac, `part ${i}`));
      stream.end();
      return 'ok';
    }, OPTIONS);
    const p = h({}, sink, {}).finally(() => {
      settled = true;
    });
    await until(() => pendingWrites.length === 1, 'first write reached the sink');
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
    expect(settled).toBe(false);
    expect(scope!.active).toBe(true);
    expect(keys[0]!.alive).toBe(true);
    // drain the sink one write at a time
    while (!sink.writableFinished) {
      const next = pendingWrites.shift();
      if (next) next();
      await new Promise((r) => setImmediate(r));
    }
    expect(await p).toBe('ok');
    expectWiped(base, scope, keys);
    expect(received).toHaveLength(3);
  });

  it('a handler that throws while streaming: wiped and rejected', async () => {
    const base = baseline();
    const keys: Key[] = [];
    let scope: InvocationScope | undefined;
    const h = withSecretScope.streaming(async (_event: unknown, stream: NodeJS.WritableStream, context: Ctx) => {
      scope = context.secretScope;
      const mac = await scope!.key('mac');
      keys.push(mac);
      stream.write(hmacSign(mac, 'first'));
      throw new Error('stream handler failed');
    }, OPTIONS);
    const out = new PassThrough();
    collect(out);
    const r = await settle(h({}, out, {}));
    expect(r.ok).toBe(false);
    expectWiped(base, scope, keys);
  });

  it('a response stream destroyed by the client: wiped', async () => {
    const base = baseline();
    const keys: Key[] = [];
    let scope: InvocationScope | undefined;
    const out = new PassThrough();
    collect(out);
    const h = withSecretScope.streaming(async (_event: unknown, stream: NodeJS.WritableStream, context: Ctx) => {
      scope = context.secretScope;
      keys.push(await scope!.key('mac'));
      stream.write('partial');
      setImmediate(() => out.destroy(new Error('client went away')));
      return 'ok';
    }, OPTIONS);
    await settle(h({}, out, {}));
    expectWiped(base, scope, keys);
  });
});

describe('options are validated at creation, by every entry point', () => {
  const noop = async () => undefined;
  const makers: Array<[string, (o: unknown) => unknown]> = [
    ['withSecretScope', (o) => withSecretScope(noop, o as SecretScopeOptions)],
    ['withSecretScope.streaming', (o) => withSecretScope.streaming(noop, o as SecretScopeOptions)],
    ['secretScopeMiddleware', (o) => secretScopeMiddleware(o as SecretScopeOptions)],
    ['secretScoped', (o) => secretScoped(o as SecretScopeOptions)],
  ];
  const expectOptionsError = (fn: () => unknown, mention: string | RegExp) => {
    const e = thrown(fn) as OptionsError;
    expect(e, 'must throw').toBeInstanceOf(OptionsError);
    expect(e.code).toBe('ERR_OPTIONS');
    if (typeof mention === 'string') expect(e.message).toContain(mention);
    else expect(e.message).toMatch(mention);
  };

  const unknownKeys: Array<[string, unknown, string]> = [
    ['top level', { keyz: {} }, 'keyz'],
    ['top level (typo of timeoutEarlyInMillis)', { timeoutEarlyMillis: 5 }, 'timeoutEarlyMillis'],
    ['entropy', { entropy: { sorce: 'kms' } }, 'sorce'],
    ['a key spec', { keys: { a: { use: 'hmac', lenght: 32 } } }, 'lenght'],
    ['kms', { kms: { endpoint: 'http://x' } }, 'endpoint'],
    ['root', { root: { ciphertextBlob: 'AAAA', keyARN: 'x' } }, 'keyARN'],
  ];
  const badValues: Array<[string, unknown, string | RegExp]> = [
    ['options not an object', 42, /object/],
    ['keys.a not an object', { keys: { a: 'hmac' } }, 'keys.a'],
    ['unknown use', { keys: { a: { use: 'rsa' } } }, 'keys.a.use'],
    ['length too short', { keys: { a: { use: 'hmac', length: 8 } } }, 'keys.a.length'],
    ['length not an integer', { keys: { a: { use: 'secret', length: 32.5 } } }, 'keys.a.length'],
    ['aead key of 24 bytes (AES-128-GCM keys are 16, the others 32)', { keys: { a: { use: 'aead', length: 24 } } }, 'keys.a'],
    ['x25519 key of 64 bytes', { keys: { a: { use: 'x25519', length: 64 } } }, 'keys.a'],
    ['bad from', { keys: { a: { use: 'hmac', from: 'env' } } }, 'keys.a.from'],
    ['from root without root', { keys: { a: { use: 'hmac', from: 'root' } } }, 'root'],
    ['context not a function', { keys: { a: { use: 'hmac', context: 'tenant' } } }, 'keys.a.context'],
    ['hash', { hash: 'md5' }, 'hash'],
    ['negative timeoutEarlyInMillis', { timeoutEarlyInMillis: -1 }, 'timeoutEarlyInMillis'],
    ['timeoutEarlyInMillis as a string', { timeoutEarlyInMillis: '5' }, 'timeoutEarlyInMillis'],
    ['entropy.source', { entropy: { source: 'urandom' } }, 'entropy.source'],
    ['entropy.policy', { entropy: { policy: 'sometimes' } }, 'entropy.policy'],
    ['entropy.kmsBytes too small', { entropy: { kmsBytes: 16 } }, 'entropy.kmsBytes'],
    ['entropy.kmsBytes too large', { entropy: { kmsBytes: 4096 } }, 'entropy.kmsBytes'],
    ['entropy.ratchetEveryInvocations 0', { entropy: { policy: 'ratchet', ratchetEveryInvocations: 0 } }, 'ratchetEveryInvocations'],
    ['entropy.ratchetEveryMs 0', { entropy: { policy: 'ratchet', ratchetEveryMs: 0 } }, 'ratchetEveryMs'],
    ['entropy.onKmsFailure', { entropy: { onKmsFailure: 'retry' } }, 'onKmsFailure'],
    ['root.ciphertextBlob a number', { root: { ciphertextBlob: 12 } }, 'ciphertextBlob'],
    ['root.keyId a number', { root: { ciphertextBlob: 'AAAA', keyId: 7 } }, 'keyId'],
  ];

  for (const [entryName, make] of makers) {
    describe(entryName, () => {
      it.each(unknownKeys)('unknown option in %s -> OptionsError naming it', (_where, opts, name) => {
        expectOptionsError(() => make(opts), `'${name}'`);
      });
      it.each(badValues)('%s -> OptionsError', (what, opts, mention) => {
        // secretScopeMiddleware(non-object): see the dedicated (currently failing) test below
        if (entryName === 'secretScopeMiddleware' && what === 'options not an object') return;
        expectOptionsError(() => make(opts), mention);
      });
      it('valid options are accepted', () => {
        // the middleware refuses timeoutEarlyInMillis (middy's own option): test/scope-middy.test.ts
        const timeout = entryName === 'secretScopeMiddleware' ? {} : { timeoutEarlyInMillis: 0 };
        expect(() =>
          make({
            ...timeout,
            keys: { a: { use: 'hmac', length: 64 }, b: { use: 'aead' }, c: { use: 'x25519', length: 32 }, d: { use: 'hkdf', context: () => 't' } },
            entropy: { source: 'local', policy: 'ratchet', kmsBytes: 64, ratchetEveryInvocations: 3, ratchetEveryMs: 1000, onKmsFailure: 'degrade-to-local' },
            hash: 'sha512',
            salt: 'app-salt',
            logger: { warn: () => undefined },
          }),
        ).not.toThrow();
      });
    });
  }

  // Regression: secretScopeMiddleware used to spread `opts` into the
  // defaults before validating, so a non-object (42, true) is silently accepted
  // as "no options" (regression).
  it('secretScopeMiddleware(non-object options) -> OptionsError', () => {
    expectOptionsError(() => secretScopeMiddleware(42 as unknown as SecretScopeOptions), /object/);
  });

  it('the standard decorator path is the TC39 one (esbuild passes a method context)', () => {
    const seen: unknown[] = [];
    const spy = (target: unknown, ctx: unknown) => {
      seen.push(ctx);
      return secretScoped(OPTIONS)(target, ctx);
    };
    class H {
      @spy
      async handle(_e: unknown, c: Ctx) {
        return c.secretScope instanceof InvocationScope;
      }
    }
    expect((seen[0] as { kind?: string }).kind).toBe('method');
    return expect(new H().handle({}, {})).resolves.toBe(true);
  });

  it('an undeclared key name -> OptionsError from scope.key(), naming it', async () => {
    const h = withSecretScope(async (_e: unknown, context: Ctx) => context.secretScope!.key('nope'), OPTIONS);
    const r = await settle(h({}, {}));
    expect((r as { error: OptionsError }).error).toBeInstanceOf(OptionsError);
    expect(String((r as { error: Error }).error.message)).toContain("'nope'");
  });

  it('a context function returning a non-string -> OptionsError; scope still wiped', async () => {
    const base = baseline();
    let scope: InvocationScope | undefined;
    const keys: Key[] = [];
    const h = withSecretScope(async (_e: unknown, context: Ctx) => {
      scope = context.secretScope;
      keys.push(randomKey(32));
      return scope!.key('t');
    }, { entropy: { source: 'local' }, keys: { t: { use: 'hmac', context: () => 42 as unknown as string } } });
    const r = await settle(h({}, {}));
    expect((r as { error: OptionsError }).error).toBeInstanceOf(OptionsError);
    expectWiped(base, scope, keys);
  });
});

describe('64 concurrent invocations in one process stay isolated', () => {
  const N = 64;
  for (const entry of ENTRIES) {
    it(`${entry.name}`, async () => {
      const probe = concurrentIsolation(N, 1);
      const h = entry.async(probe.handler, OPTIONS);
      const tags = (await Promise.all(Array.from({ length: N }, (_, i) => h({ i }, { awsRequestId: `req-${i}` })))) as string[];
      probe.verify(tags, (i) => `req-${i}`);
    });
  }
});

