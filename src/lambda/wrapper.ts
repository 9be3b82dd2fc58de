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
import { attachScope, refuseUnfinishedStream } from './ownership.js';

export class TimeoutError extends SecretScopeError {}

type Callback = (err?: unknown, result?: unknown) => void;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyHandler = (this: any, event: any, context: any, callback?: any) => any;

export type { ScopedContext } from './types.js';

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
      attachScope(context, scope, 'withSecretScope');
      const result = scopeStorage.run(scope, () => invoke(handler, this, event, context));
      const response = await withDeadline(result, context, early, scope);
      refuseUnfinishedStream(response, 'withSecretScope');
      return response as Awaited<ReturnType<H>>;
    } finally {
      scope.end();
    }
  };
}

/**
 * Ends the scope as soon as the response stream can no longer deliver anything (the
 * client went away, the runtime destroyed it, a write failed), even while the handler
 * still runs: its later key use then fails with ScopeEndedError. Returns a detach function.
 */
export function endWhenStreamAborted(responseStream: NodeJS.WritableStream, scope: InvocationScope): () => void {
  const s = responseStream as NodeJS.WritableStream & { writableFinished?: boolean; destroyed?: boolean };
  if (typeof s.on !== 'function') return () => undefined;
  const onClose = (): void => {
    if (!s.writableFinished) scope.end();
  };
  const onError = (): void => void scope.end();
  s.on('close', onClose);
  s.on('error', onError);
  if (s.destroyed && !s.writableFinished) scope.end();
  return () => {
    s.removeListener('close', onClose);
    s.removeListener('error', onError);
  };
}

/**
 * For response streaming (`awslambda.streamifyResponse(withSecretScope.streaming(fn, options))`):
 * the scope ends after the handler settled AND the response stream finished, as soon as
 * the response stream is destroyed or fails, and (timeoutEarlyInMillis) that many ms
 * before the Lambda deadline, which also destroys the response stream.
 */
export function withSecretScopeStreaming<E = any, R = any>(
  handler: (event: E, responseStream: NodeJS.WritableStream, context: ScopedLambdaContext) => R | Promise<R>,
  options: SecretScopeOptions<E> = {},
): (event: E, responseStream: NodeJS.WritableStream, context: LambdaContext) => Promise<Awaited<R>> {
  if (typeof handler !== 'function') throw new TypeError('withSecretScope.streaming: handler must be a function');
  const core = new SecretScopeCore(options as SecretScopeOptions);
  const early = core.options.timeoutEarlyInMillis ?? 0;
  return async function secretScopedStream(this: unknown, event: E, responseStream: NodeJS.WritableStream, context: LambdaContext): Promise<Awaited<R>> {
    const scope = core.open(event, context);
    const detach = endWhenStreamAborted(responseStream, scope);
    try {
      attachScope(context, scope, 'withSecretScope.streaming');
      const s = responseStream as NodeJS.WritableStream & { writableFinished?: boolean; destroyed?: boolean; destroy?: (e?: Error) => void };
      const run = (async () => {
        const result = await scopeStorage.run(scope, () => handler.call(this, event, responseStream, context as ScopedLambdaContext));
        if (!s.writableFinished && !s.destroyed) await finished(s).catch(() => undefined);
        return result;
      })();
      try {
        return (await withDeadline(run, context, early, scope)) as Awaited<R>;
      } catch (e) {
        if (e instanceof TimeoutError && !s.destroyed) s.destroy?.(e);
        throw e;
      }
    } finally {
      detach();
      scope.end();
    }
  };
}

withSecretScope.streaming = withSecretScopeStreaming;
