/**
 * Who decides lifetimes: a SecretScope owns its keys and wipes them when it
 * ends; the async-context binding names the current scope; the exit purge wipes
 * everything on the way out.
 */
export { SecretScope, openScope, withScope, currentScope, type ScopeOptions } from './scope.js';
export { installExitPurge } from './exit.js';
