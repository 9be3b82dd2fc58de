/**
 * The Lambda entry points: one invocation core and its three thin entry
 * points (function wrapper, middy middleware, class-method decorator).
 */
export { withSecretScope, withSecretScopeStreaming, TimeoutError, type ScopedContext } from './wrapper.js';
export { secretScopeMiddleware, secretScopeValidateOptions, bindScope } from './middy.js';
export { secretScopeMiddy } from './middy-wrapper.js';
export { secretScoped } from './decorator.js';
export type { ScopedLambdaContext, ScopedHandler, ScopedCallbackHandler, WrappedHandler, LambdaContext, SecretScopeMiddlewareObj, SecretScopeMiddyRequest } from './types.js';
export { InvocationScope, SecretScopeCore, type SecretScopeOptions, type KeySpec, type DeclaredUse } from './invocation.js';
