/**
 * The types users write handlers against. The Lambda context type is
 * @types/aws-lambda's `Context` (a dependency, types only); the middleware is
 * typed as middy's own `MiddlewareObj` shape, declared here structurally so that
 * this package's types do not need @middy/core installed, and so that middy 6
 * and 7 (whose `.use()` infers the event and context from it) both keep the
 * handler's types.
 */
import type { Callback, Context } from 'aws-lambda';
import type { InvocationScope } from './invocation.js';

export type { Callback, Context as LambdaContext };

/**
 * What secret-scope adds to the Lambda context of a wrapped handler.
 *
 * `context.secretScope` is this invocation's scope (the same object `currentScope()`
 * returns inside the invocation): `await context.secretScope.key('name')` derives a
 * key declared in `options.keys`; every key of the scope is wiped when the
 * invocation ends. It is not enumerable (loggers that print the context skip it).
 */
export interface ScopedContext {
  readonly secretScope: InvocationScope<any>;
}

/** The context a scoped handler receives: Lambda's context plus `secretScope`. */
export type ScopedLambdaContext = Context & ScopedContext;

/** An async (or sync) handler under secret-scope. */
export type ScopedHandler<E = any, R = any> = (event: E, context: ScopedLambdaContext) => R | Promise<R>;

/** A callback-style handler under secret-scope. */
export type ScopedCallbackHandler<E = any, R = any> = (event: E, context: ScopedLambdaContext, callback: Callback<R>) => void;

/** What the wrappers return: assignable to `Handler<E, R>` from @types/aws-lambda. */
export type WrappedHandler<E = any, R = any> = (event: E, context: Context) => Promise<R>;

/** middy's `Request` (middy 6 and 7), as the middleware sees it. */
export interface SecretScopeMiddyRequest<E = any> {
  event: E;
  context: ScopedLambdaContext;
  response: any;
  earlyResponse?: any;
  error: Error | null;
  internal: {};
}

/** middy's `MiddlewareObj` (middy 6 and 7): `middy(fn).use(secretScopeMiddleware(o))` keeps fn's types. */
export interface SecretScopeMiddlewareObj<E = any> {
  before: (request: SecretScopeMiddyRequest<E>) => void;
  after: (request: SecretScopeMiddyRequest<E>) => void;
  onError: (request: SecretScopeMiddyRequest<E>) => void;
  name?: string;
}
