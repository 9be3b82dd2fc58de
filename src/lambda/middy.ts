/**
 * The middy middleware. `before` opens the scope and binds it to the request's
 * async context; the scope ends in `after`, in `onError` (which is also where
 * middy's timeoutEarlyInMillis race lands), when any middleware answers early
 * (middy then skips every later middleware, ours included), and, for streamed
 * bodies, when the body stream has been fully read.
 */
import type { Readable } from 'node:stream';
import { SecretScopeCore, secretScopeValidateOptions, type InvocationScope, type SecretScopeOptions } from './invocation.js';
import { scopeStorage } from '../scope/context.js';
import type { SecretScopeMiddlewareObj, SecretScopeMiddyRequest } from './types.js';

export type { SecretScopeMiddlewareObj, SecretScopeMiddyRequest };

export { secretScopeValidateOptions };
export type { SecretScopeOptions };

export const secretScopeDefaults: SecretScopeOptions = {
  entropy: { source: 'kms', policy: 'per-invocation', onKmsFailure: 'fail' },
};

type MiddyRequest = SecretScopeMiddyRequest<unknown>;

const SCOPE = Symbol('secret-scope');

function isNodeReadable(x: unknown): x is Readable {
  return !!x && typeof x === 'object' && typeof (x as Readable).on === 'function' && '_readableState' in (x as object);
}

/** Ends the scope once a streamed body has been fully consumed (or failed). */
function endAfterStream(response: unknown, scope: InvocationScope): unknown {
  const body = response && typeof response === 'object' && 'body' in (response as object) ? (response as { body: unknown }).body : response;
  if (isNodeReadable(body)) {
    let done = false;
    const end = () => {
      if (!done) {
        done = true;
        scope.end();
      }
    };
    body.once('end', end);
    body.once('close', end);
    body.once('error', end);
    return response;
  }
  if (typeof ReadableStream !== 'undefined' && body instanceof ReadableStream) {
    const wrapped = body.pipeThrough(new TransformStream({ flush: () => void scope.end() }));
    if (body === response) return wrapped;
    return { ...(response as object), body: wrapped };
  }
  scope.end();
  return response;
}

/**
 * Binds the handler to its invocation's scope with AsyncLocalStorage.run. Optional:
 * the middleware binds through enterWith and through context.secretScope, but
 * `middy(bindScope(handler))` is exact whatever middlewares run before ours.
 */
export function bindScope<E, C, A extends unknown[], R>(handler: (event: E, context: C, ...rest: A) => R): (event: E, context: C, ...rest: A) => R {
  return function (this: unknown, event: E, context: C, ...rest: A): R {
    const scope = (context as { secretScope?: InvocationScope } | undefined)?.secretScope;
    return scope ? scopeStorage.run(scope, () => handler.call(this, event, context, ...rest)) : handler.call(this, event, context, ...rest);
  };
}

/**
 * The middy middleware (middy 6 and 7). Typed as middy's `MiddlewareObj` with the context
 * `Context & ScopedContext`, so `middy(fn).use(secretScopeMiddleware(o))` keeps fn's event
 * and result types and the handler sees `context.secretScope`.
 */
export function secretScopeMiddleware<E = unknown>(opts: SecretScopeOptions<E> = {}): SecretScopeMiddlewareObj<E> {
  secretScopeValidateOptions(opts);
  const options = { ...secretScopeDefaults, ...opts } as SecretScopeOptions;
  const core = new SecretScopeCore(options);

  const before = (request: MiddyRequest): void => {
    const scope = core.open(request.event, request.context);
    const context = request.context as object;
    (request as unknown as Record<symbol, unknown>)[SCOPE] = scope;
    // Reading context.secretScope (re)binds the scope to the reader's async context. middy 6
    // runs before-middlewares in a nested async function: when an async middleware runs
    // ahead of ours, enterWith below cannot reach the context the handler is called in.
    Object.defineProperty(context, 'secretScope', {
      configurable: true,
      enumerable: false,
      get: () => {
        if (scope.active && scopeStorage.getStore() !== scope) scopeStorage.enterWith(scope);
        return scope;
      },
    });
    // Early responses skip our after/onError: watch for middy setting the response while
    // an earlyResponse is present, and end the scope right there, before it is returned.
    let response = request.response;
    Object.defineProperty(request, 'response', {
      configurable: true,
      enumerable: true,
      get: () => response,
      set: (v: unknown) => {
        response = v;
        if (Object.hasOwn(request, 'earlyResponse')) scope.end();
      },
    });
    // Bind the scope to this invocation's async context (the handler runs in it).
    scopeStorage.enterWith(scope);
  };

  const after = (request: MiddyRequest): void => {
    const scope = (request as unknown as Record<symbol, InvocationScope | undefined>)[SCOPE];
    if (!scope) return;
    request.response = endAfterStream(request.response, scope);
  };

  const onError = (request: MiddyRequest): void => {
    const scope = (request as unknown as Record<symbol, InvocationScope | undefined>)[SCOPE];
    scope?.end();
  };

  return { before, after, onError } as SecretScopeMiddlewareObj<E>;
}

export default secretScopeMiddleware;
