/**
 * The current scope, bound with AsyncLocalStorage so that concurrent
 * invocations in one process never see each other's keys.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { ScopeEndedError } from '../errors/index.js';
import { processShared } from '../memory/process-state.js';

/** What the binding needs of a scope. SecretScope (scope.ts) implements it; this module
 * does not import scope.ts back, so the two stay free of an import cycle. */
export interface BoundScope {
  readonly active: boolean;
  readonly bound: boolean;
}

/** One binding per thread: a scope opened by the CJS build is current for the ESM build too. */
export const scopeStorage = processShared('scopeStorage', () => new AsyncLocalStorage<BoundScope>());

export function scopeForNewKey(): BoundScope | null {
  return scopeStorage.getStore() ?? null;
}

/**
 * A key of a bound scope may be used only inside that scope's async context:
 * not from another invocation, and not after the scope ended.
 */
export function scopeGuard(owner: BoundScope): void {
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
