/**
 * The current scope, bound with AsyncLocalStorage so that concurrent
 * invocations in one process never see each other's keys.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { SecretScope } from './scope.js';
import { ScopeEndedError } from './errors.js';

export const scopeStorage = new AsyncLocalStorage<SecretScope>();

/**
 * The scope of the current invocation, or undefined outside any live scope.
 * (After a middy invocation the invoking context may still name the ended scope:
 * middy gives a middleware no way to bind the handler's context other than
 * AsyncLocalStorage.enterWith. Creating a key there fails closed with
 * ScopeEndedError rather than making a key nobody will wipe.)
 */
export function currentScope(): SecretScope | undefined {
  const s = scopeStorage.getStore();
  return s?.active ? s : undefined;
}

export function scopeForNewKey(): SecretScope | null {
  return scopeStorage.getStore() ?? null;
}

/**
 * A key of a bound scope may be used only inside that scope's async context:
 * not from another invocation, and not after the scope ended.
 */
export function scopeGuard(owner: SecretScope): void {
  if (!owner.active) {
    throw new ScopeEndedError('ERR_SCOPE_ENDED', 'this key belongs to a scope that has ended; its bytes are gone');
  }
  if (owner.bound) {
    const current = scopeStorage.getStore();
    if (current !== owner) {
      throw new ScopeEndedError(
        'ERR_SCOPE_ENDED',
        current
          ? 'this key belongs to another invocation\'s scope and cannot be used here'
          : 'this key belongs to a scope and cannot be used outside it',
      );
    }
  }
}
