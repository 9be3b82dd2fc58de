/**
 * The middy middleware, for `middy(handler).use(secretScopeMiddleware(options))`.
 *
 * The one wiring that owns the whole invocation is secretScopeMiddy (middy-wrapper.ts):
 * a middleware only sees the phases middy lets it see. This one closes every path of
 * middy 6 and 7 it can observe, and refuses the ones it cannot:
 *  - lifetime: the scope ends in `after`, when middy enters its error path (it assigns
 *    request.error before any onError runs, so an onError that throws, ahead of ours
 *    or not, and the timeoutEarlyInMillis race cannot skip it), and when any middleware
 *    answers early (middy assigns request.response; later middlewares are skipped);
 *  - streamed bodies: a middleware cannot see when middy or the runtime abandons a
 *    body (replaced by a later middleware, never read), so a streamed body is refused
 *    with OptionsError naming secretScopeMiddy, and the stream is destroyed;
 *  - binding: never AsyncLocalStorage.enterWith in the invoking code's frame (that
 *    leaked the scope into the caller and so into overlapping invocations). `before`
 *    returns a promise, so middy runs everything after it in a continuation of this
 *    invocation; the scope is bound there when middy reads request.event/context to
 *    call the next middleware or the handler. Reading context.secretScope binds nothing
 *    (another invocation holding this context object must not be rebound to this scope).
 */
import { SecretScopeCore, secretScopeValidateOptions, type InvocationScope, type SecretScopeOptions } from './invocation.js';
import { scopeStorage } from '../scope/context.js';
import type { SecretScopeMiddlewareObj, SecretScopeMiddyRequest } from './types.js';

export type { SecretScopeMiddlewareObj, SecretScopeMiddyRequest };
import { OptionsError } from '../errors/index.js';
import { abandonStream, attachScope, contextOwner, streamedBody, streamFinished } from './ownership.js';

export { secretScopeValidateOptions };
export type { SecretScopeOptions };

export const secretScopeDefaults: SecretScopeOptions = {
  entropy: { source: 'kms', policy: 'per-invocation', onKmsFailure: 'fail' },
};

interface MiddyRequest {
  event: unknown;
  context: Record<string | symbol, unknown>;
  response: unknown;
  error: unknown;
  internal: Record<string, unknown>;
}

const SCOPE = Symbol('secret-scope');

/**
 * Options the middy entry points do not honour, and where they belong. middy has its own
 * timeoutEarlyInMillis (default 5 ms); its TimeoutError lands in middy's error path,
 * which ends the scope.
 */
export function rejectUnhonouredMiddyOptions(options: SecretScopeOptions | undefined, entry: string): void {
  if (options && typeof options === 'object' && Object.hasOwn(options, 'timeoutEarlyInMillis')) {
    throw new OptionsError(
      'ERR_OPTIONS',
      `${entry}: 'timeoutEarlyInMillis' is not an option here; set middy's own: middy(handler, { timeoutEarlyInMillis }). ` +
        "middy's timeout lands in its error path, which ends the scope",
    );
  }
}

/**
 * Binds the handler to its invocation's scope with AsyncLocalStorage.run. Not needed
 * any more (the middleware binds the handler's continuation, secretScopeMiddy binds the
 * whole invocation); kept for handlers written against earlier versions.
 */
export function bindScope<E, C, A extends unknown[], R>(handler: (event: E, context: C, ...rest: A) => R): (event: E, context: C, ...rest: A) => R {
  return function (this: unknown, event: E, context: C, ...rest: A): R {
    const scope = contextOwner(context);
    return scope ? scopeStorage.run(scope, () => handler.call(this, event, context, ...rest)) : handler.call(this, event, context, ...rest);
  };
}

/** Redefines request[name] so that reading it binds the scope (never in the invoking frame), writing it runs onSet. */
function bindingProperty(request: MiddyRequest, name: 'event' | 'context' | 'response' | 'error', bind: () => void, onSet?: (v: unknown) => void): void {
  let value = request[name];
  Object.defineProperty(request, name, {
    configurable: true,
    enumerable: true,
    get: () => {
      bind();
      return value;
    },
    set: (v: unknown) => {
      value = v;
      onSet?.(v);
    },
  });
}

/**
 * The middy middleware (middy 6 and 7). Typed as middy's `MiddlewareObj` with the context
 * `Context & ScopedContext`, so `middy(fn).use(secretScopeMiddleware(o))` keeps fn's event
 * and result types and the handler sees `context.secretScope`.
 */
export function secretScopeMiddleware<E = unknown>(opts: SecretScopeOptions<E> = {}): SecretScopeMiddlewareObj<E> {
  secretScopeValidateOptions(opts);
  rejectUnhonouredMiddyOptions(opts as SecretScopeOptions, 'secretScopeMiddleware');
  const options = { ...secretScopeDefaults, ...opts } as SecretScopeOptions;
  const core = new SecretScopeCore(options);

  const before = (request: MiddyRequest): Promise<void> => {
    const scope = core.open(request.event, request.context);
    try {
      attachScope(request.context, scope, 'secretScopeMiddleware');
    } catch (e) {
      scope.end();
      throw e;
    }
    (request as unknown as Record<symbol, unknown>)[SCOPE] = scope;
    // The frame that called middy (the runtime's, or every invocation's in a
    // multi-concurrency host): binding there would hand the scope to the caller and to
    // every invocation it starts next, so nothing here binds in this frame.
    // Microtasks run only once that frame's stack has unwound, and this one is queued
    // before middy's continuation: from then on every read is in a continuation of
    // this invocation. (Not executionAsyncId(): with AsyncContextFrame, Node's default
    // from 24, promise continuations keep the invoking frame's id.)
    let inInvokingFrame = true;
    queueMicrotask(() => {
      inInvokingFrame = false;
    });
    // Binds only a context that has no scope yet: middy's own reads (to call the next
    // middleware or the handler) happen in such a continuation. A context already bound to
    // another scope (code of another invocation holding this request, a withScope inside
    // the handler) is never rebound to this one.
    const bind = (): void => {
      if (!inInvokingFrame && scope.active && scopeStorage.getStore() === undefined) scopeStorage.enterWith(scope);
    };
    // Reading context.secretScope never binds: the context object outlives the call (loggers
    // keep it), and a read from another invocation's code would rebind that code to this
    // scope and let it use this invocation's keys. middy's own reads of request.event and
    // request.context (to call the next middleware or the handler) do the binding.
    bindingProperty(request, 'event', bind);
    bindingProperty(request, 'context', bind);
    // Early responses skip our after/onError: middy assigns request.response while an
    // earlyResponse is present; end the scope right there, before it is returned.
    bindingProperty(request, 'response', () => undefined, () => {
      if (Object.hasOwn(request, 'earlyResponse')) scope.end();
    });
    // middy assigns request.error when it enters its error path (a throw, its timeout
    // race, an after-middleware failing) and again when an onError throws. Whichever
    // onError middlewares run, and whether they throw, the scope is over from here.
    bindingProperty(request, 'error', () => undefined, () => void scope.end());
    // A promise: middy awaits it, so every later middleware and the handler run in a
    // continuation of this invocation, not in the invoking frame.
    return Promise.resolve();
  };

  const after = (request: MiddyRequest): void => {
    const scope = (request as unknown as Record<symbol, InvocationScope | undefined>)[SCOPE];
    if (!scope) return;
    const body = streamedBody(request.response);
    scope.end();
    if (body && !streamFinished(body)) {
      const err = new OptionsError(
        'ERR_OPTIONS',
        'secretScopeMiddleware cannot follow a streamed body to its end (middy or the runtime may abandon it); ' +
          'wrap the handler instead: export const handler = secretScopeMiddy(middy(fn, { streamifyResponse: true }), options)',
      );
      abandonStream(body, err);
      throw err;
    }
  };

  const onError = (request: MiddyRequest): void => {
    const scope = (request as unknown as Record<symbol, InvocationScope | undefined>)[SCOPE];
    scope?.end();
  };

  return { before, after, onError } as unknown as SecretScopeMiddlewareObj<E>;
}

export default secretScopeMiddleware;
