/**
 * A SecretScope owns every key created in it. Ending it wipes and releases all
 * of them in one native call; afterwards every handle of the scope is dead.
 */
import { native } from '../memory/native.js';
import { ensureSecretMemory } from '../memory/policy.js';
import { scopeStorage } from './context.js';
import { purgeEpoch } from '../memory/epoch.js';
import { InvalidArgumentError } from '../errors/index.js';
import { onlyKnownOptions } from '../memory/bytes.js';
import { PACKAGE_VERSION } from '../memory/process-state.js';

/** Brands scopes of this version whichever build (ESM or CJS) made them: they share one addon. */
const SCOPE_BRAND = Symbol.for(`secret-scope@${PACKAGE_VERSION}/scope`);

const SCOPE_OPTS = ['bound', 'name'] as const;

export interface ScopeOptions {
  /** Bind the scope to the async context it runs in (default true for run()/withScope()). */
  bound?: boolean;
  /** Diagnostic name (e.g. the request id). */
  name?: string;
}

export class SecretScope {
  /** Native scope handle (a number, not a secret). */
  readonly nativeId: number;
  readonly name: string | undefined;
  #bound: boolean;
  #active = true;
  readonly #epoch = purgeEpoch();
  #wiped = 0;
  #onEnd: Array<() => void> | undefined; // made on the first onEnd(): most scopes register none

  constructor(options?: ScopeOptions) {
    let name: string | undefined;
    let bound = false;
    if (options !== undefined && options !== null) {
      onlyKnownOptions(options, SCOPE_OPTS, 'SecretScope');
      name = options.name;
      if (name !== undefined && typeof name !== 'string') {
        throw new InvalidArgumentError('ERR_INVALID_ARGUMENT', 'scope name must be a string');
      }
      bound = options.bound ?? false;
    }
    ensureSecretMemory();
    this.nativeId = native().scopeOpen();
    this.#bound = bound;
    this.name = name;
  }

  /** True for a SecretScope of this build (a private-field brand check: no prototype walk). */
  static isOwn(value: unknown): value is SecretScope {
    return typeof value === 'object' && value !== null && #active in value;
  }

  /** False once ended, and once every key of the thread was wiped (purge, canary violation). */
  get active(): boolean {
    return this.#active && this.#epoch === purgeEpoch();
  }

  /** Whether keys of this scope may only be used inside its async context. */
  get bound(): boolean {
    return this.#bound;
  }

  /** Keys currently owned by the scope. */
  get keyCount(): number {
    return this.active ? native().scopeKeyCount(this.nativeId) : 0;
  }

  /** Keys wiped when the scope ended. */
  get wipedKeys(): number {
    return this.#wiped;
  }

  /** Runs fn with this scope as the current scope (AsyncLocalStorage) and binds the scope. */
  run<T>(fn: () => T): T {
    if (typeof fn !== 'function') throw new InvalidArgumentError('ERR_INVALID_ARGUMENT', 'scope.run() takes a function');
    this.#bound = true;
    return scopeStorage.run(this, fn);
  }

  /** Registers cleanup that runs when the scope ends (before the keys are wiped). */
  onEnd(fn: () => void): void {
    if (typeof fn !== 'function') throw new InvalidArgumentError('ERR_INVALID_ARGUMENT', 'scope.onEnd() takes a function');
    (this.#onEnd ??= []).push(fn);
  }

  /** Wipes and releases every key of the scope. Idempotent; returns keys wiped by this call. */
  end(): number {
    if (!this.#active) return 0;  // (after a purge end() still runs its onEnd callbacks once)
    this.#active = false;
    let firstError: unknown;
    const onEnd = this.#onEnd;
    if (onEnd !== undefined) {
      this.#onEnd = undefined;
      for (const fn of onEnd) {
        try {
          fn();
        } catch (e) {
          firstError ??= e;
        }
      }
    }
    // After a canary violation or purgeAllSecrets() the native scope is already gone:
    // scopeClose(id, true) then wipes nothing and says 0 (one native call either way).
    const wiped = native().scopeClose(this.nativeId, true);
    this.#wiped = wiped;
    if (firstError) throw firstError;
    return wiped;
  }

  [Symbol.dispose](): void {
    this.end();
  }

  get [SCOPE_BRAND](): true {
    return true;
  }

  /** A scope made by the other build (ESM/CJS) of this version is a SecretScope too. */
  static [Symbol.hasInstance](value: unknown): boolean {
    if (Function.prototype[Symbol.hasInstance].call(this, value)) return true;
    return this === SecretScope && typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[SCOPE_BRAND] === true;
  }
}

/** Opens a scope that the caller ends with scope.end(). */
export function openScope(options?: ScopeOptions): SecretScope {
  return new SecretScope(options);
}

/**
 * Runs fn inside a fresh bound scope and ends the scope when fn settles,
 * whatever happens (the shape of Go's secret.Do).
 */
export async function withScope<T>(fn: (scope: SecretScope) => T | Promise<T>, options: ScopeOptions = {}): Promise<T> {
  if (typeof fn !== 'function') throw new InvalidArgumentError('ERR_INVALID_ARGUMENT', 'withScope() takes a function');
  const scope = new SecretScope({ ...(options ?? {}), bound: true });
  try {
    return await scope.run(() => fn(scope));
  } finally {
    scope.end();
  }
}

/**
 * The scope bound to the code running (AsyncLocalStorage), or undefined outside any
 * live scope. Entry points bind with AsyncLocalStorage.run, or (the middy middleware)
 * enterWith only inside a continuation of the invocation itself, never in the frame
 * that invoked the handler: code of an overlapping invocation cannot be handed this one.
 */
export function currentScope(): SecretScope | undefined {
  const s = scopeStorage.getStore();
  return s?.active ? (s as SecretScope) : undefined;
}
