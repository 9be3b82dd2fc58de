/**
 * Which invocation a Lambda context belongs to, and the streamed bodies a response
 * may carry. Shared by every entry point (wrapper, decorator, middy middleware and
 * middy wrapper).
 */
import type { Readable } from 'node:stream';
import { OptionsError } from '../errors/index.js';
import type { InvocationScope } from './invocation.js';

/**
 * Set on the Lambda context by earlier versions (with `secretScope`), and still read: a
 * context claimed by one of them is owned too. This version claims a context with the
 * non-enumerable `secretScope` property alone: one defineProperty per invocation
 * instead of two (each costs several µs on a cache-cold CPU).
 */
export const CONTEXT_OWNER = Symbol.for('secret-scope.context-owner');

/** The live scope that owns a context, if any: its `secretScope` (or an earlier version's owner mark). */
export function contextOwner(context: unknown): InvocationScope | undefined {
  if (!context || typeof context !== 'object') return undefined;
  const c = context as Record<string | symbol, unknown>;
  const owner = (Object.hasOwn(c, 'secretScope') ? c.secretScope : c[CONTEXT_OWNER]) as { active?: unknown } | undefined;
  return owner && typeof owner === 'object' && owner.active === true ? (owner as InvocationScope) : undefined;
}

/**
 * Claims the context for one invocation's scope and exposes the scope at context.secretScope
 * (non-enumerable: loggers that serialise the context do not carry it). A context that already
 * carries a live scope is refused: two entry points wrap one handler, or the host passed one
 * context object to two overlapping invocations (the second would otherwise read the first's scope).
 */
export function attachScope(context: unknown, scope: InvocationScope, entry: string): void {
  if (!context || typeof context !== 'object') return;
  if (contextOwner(context)) {
    throw new OptionsError(
      'ERR_OPTIONS',
      `${entry}: this Lambda context already carries a live secret scope. Either two secret-scope entry points wrap one handler ` +
        '(e.g. .use(secretScopeMiddleware(...)) inside secretScopeMiddy: remove the middleware, the wrapper opens the scope) ' +
        'or the host passed one context object to two overlapping invocations',
    );
  }
  Object.defineProperty(context, 'secretScope', { value: scope, configurable: true, enumerable: false, writable: true });
}

export function isNodeReadable(x: unknown): x is Readable {
  return !!x && typeof x === 'object' && typeof (x as Readable).on === 'function' && '_readableState' in (x as object);
}

function isWebStream(x: unknown): x is ReadableStream {
  return typeof ReadableStream !== 'undefined' && x instanceof ReadableStream;
}

/** The streamed body of a response (the response itself, or its `body`), if any. */
export function streamedBody(response: unknown): Readable | ReadableStream | undefined {
  // Most responses are plain data: no stream checks (a cold ReadableStream lookup per invocation).
  if (response === null || typeof response !== 'object') return undefined;
  const body = 'body' in response ? (response as { body: unknown }).body : undefined;
  for (const x of [response, body]) if (isNodeReadable(x) || isWebStream(x)) return x;
  return undefined;
}

/** Whether a Node body stream has finished in any way (a web stream shows no state without a reader). */
export function streamFinished(s: Readable | ReadableStream): boolean {
  return isNodeReadable(s) ? s.readableEnded || s.destroyed : false;
}

/** Stops a stream nobody will read: its producer must not keep running with the invocation's keys. */
export function abandonStream(s: Readable | ReadableStream, reason: Error): void {
  if (isNodeReadable(s)) {
    s.on('error', () => undefined);
    s.destroy(reason);
  } else if (!s.locked) {
    s.cancel(reason).catch(() => undefined);
  }
}

/**
 * A buffered (non-streaming) response is serialised by the runtime when the invocation
 * settles; nothing reads a stream in it after that, and its scope has ended. Such a
 * body is stopped and the invocation fails, naming the streaming entry points.
 */
export function refuseUnfinishedStream(response: unknown, entry: string): void {
  const body = streamedBody(response);
  if (!body || streamFinished(body)) return;
  const err = new OptionsError(
    'ERR_OPTIONS',
    `${entry}: the response carries a streamed body, but a buffered invocation ends (and wipes its scope) when it returns; ` +
      'nothing would read the stream. Use response streaming: secretScopeMiddy(middy(fn, { streamifyResponse: true }), options) ' +
      '(middy 7: executionMode: executionModeStreamifyResponse) or awslambda.streamifyResponse(withSecretScope.streaming(fn, options))',
  );
  abandonStream(body, err);
  throw err;
}
