/**
 * withSecretScope(handler, options): the plain-handler entry point. The scope
 * ends before the wrapper's promise settles, on every path: return, throw,
 * callback, early timeout; for streamed responses, after the stream finished.
 */
import { finished } from 'node:stream/promises';
import { SecretScopeError } from '../errors/index.js';
import { SecretScopeCore, type InvocationScope, type SecretScopeOptions } from './invocation.js';
import { scopeStorage } from '../scope/context.js';
import type { LambdaContext, ScopedCallbackHandler, ScopedHandler, ScopedLambdaContext, WrappedHandler } from './types.js';

export class TimeoutError extends SecretScopeError {}

type Callback = (err?: unknown, result?: unknown) => void;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyHandler = (this: any, event: any, context: any, callback?: any) => any;

export type { ScopedContext } from './types.js';

function attach(context: unknown, scope: InvocationScope<any>): unknown {
  if (context && typeof context === 'object') {
    Object.defineProperty(context, 'secretScope', { value: scope, configurable: true, enumerable: false, writable: true });
  }
  return context;
}

/** Calls a handler that may be async or callback-style and returns its result as a promise. */
function invoke(handler: AnyHandler, self: unknown, event: unknown, context: unknown): Promise<unknown> {
  if (handler.length >= 3) {
    return new Promise((resolve, reject) => {
      const cb: Callback = (err, result) => (err ? reject(err) : resolve(result));
      try {
        const r = handler.call(self, event, context, cb);
        if (r && typeof r.then === 'function') r.then(resolve, reject);
      } catch (e) {
        reject(e);
      }
    });
  }
  try {
    return Promise.resolve(handler.call(self, event, context));
  } catch (e) {
    return Promise.reject(e);
  }
}

function withDeadline(p: Promise<unknown>, context: unknown, earlyMs: number, scope: InvocationScope): Promise<unknown> {
  const ctx = context as { getRemainingTimeInMillis?: () => number } | undefined;
  if (!earlyMs || typeof ctx?.getRemainingTimeInMillis !== 'function') return p;
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      scope.end();
      reject(new TimeoutError('ERR_TIMEOUT', `handler did not finish ${earlyMs} ms before the Lambda deadline; its scope was wiped`));
    }, Math.max(0, ctx.getRemainingTimeInMillis!() - earlyMs));
  });
  return Promise.race([p, deadline]).finally(() => clearTimeout(timer));
}

/**
 * Wraps an async or callback-style handler; the handler finds its scope at context.secretScope.
 * Generic over the event `E` (annotate the handler's event parameter: `keys.x.context` then
 * receives an `E`) and the result `R`; the result is assignable to `Handler<E, R>`.
 */
export function withSecretScope<E = any, R = any>(handler: ScopedHandler<E, R>, options?: SecretScopeOptions<E>): WrappedHandler<E, Awaited<R>>;
export function withSecretScope<E = any, R = any>(handler: ScopedCallbackHandler<E, R>, options?: SecretScopeOptions<E>): WrappedHandler<E, R>;
export function withSecretScope(handler: AnyHandler, options: SecretScopeOptions<any> = {}): WrappedHandler {
  if (typeof handler !== 'function') throw new TypeError('withSecretScope: handler must be a function');
  const core = new SecretScopeCore(options);
  return withCore(handler, core);
}

export function withCore<H extends AnyHandler>(handler: H, core: SecretScopeCore) {
  const early = core.options.timeoutEarlyInMillis ?? 0;
  return async function secretScoped(this: unknown, event: Parameters<H>[0], context: Parameters<H>[1]): Promise<Awaited<ReturnType<H>>> {
    const scope = core.open(event, context);
    try {
      attach(context, scope);
      const result = scopeStorage.run(scope, () => invoke(handler, this, event, context));
      return (await withDeadline(result, context, early, scope)) as Awaited<ReturnType<H>>;
    } finally {
      scope.end();
    }
  };
}

/**
 * For response streaming (`awslambda.streamifyResponse(withSecretScope.streaming(fn, options))`):
 * the scope ends after the handler settled AND the response stream finished.
 */
export function withSecretScopeStreaming<E = any, R = any>(
  handler: (event: E, responseStream: NodeJS.WritableStream, context: ScopedLambdaContext) => R | Promise<R>,
  options: SecretScopeOptions<E> = {},
): (event: E, responseStream: NodeJS.WritableStream, context: LambdaContext) => Promise<Awaited<R>> {
  if (typeof handler !== 'function') throw new TypeError('withSecretScope.streaming: handler must be a function');
  const core = new SecretScopeCore(options);
  return async function secretScopedStream(this: unknown, event: E, responseStream: NodeJS.WritableStream, context: LambdaContext): Promise<Awaited<R>> {
    const scope = core.open(event, context);
    try {
      attach(context, scope);
      const result = await scopeStorage.run(scope, () => handler.call(this, event, responseStream, context as ScopedLambdaContext));
      const s = responseStream as NodeJS.WritableStream & { writableFinished?: boolean; destroyed?: boolean };
      if (!s.writableFinished && !s.destroyed) await finished(s).catch(() => undefined);
      return result;
    } finally {
      scope.end();
    }
  };
}

withSecretScope.streaming = withSecretScopeStreaming;
