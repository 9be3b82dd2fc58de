/**
 * Key handles. A Key is an opaque object: its only content is a number that
 * names a slot in this thread's guarded arena and the serial the slot had when
 * the key was made. No method returns key bytes; `exposeUnsafe` lends them and
 * says so in its name.
 */
import { native } from './native.js';
import { ensureSecretMemory } from './policy.js';
import { ForeignHandleError, InvalidArgumentError, InvalidHandleError, ScopeEndedError } from '../errors/index.js';
import { SecretScope } from '../scope/scope.js';
import { scopeForNewKey, scopeGuard } from '../scope/context.js';
import { processShared } from './process-state.js';

const KEY_BRAND = Symbol.for('secret-scope.key');

export type KeyUse = 'secret' | 'hkdf' | 'hmac' | 'aead' | 'x25519' | 'root';

export interface KeyOptions {
  /** The scope that owns the key; default: the current scope (if any), else none (release it yourself). */
  scope?: SecretScope | null;
  /** Label kept with the handle for diagnostics (never key bytes). */
  label?: string;
}

let idOf: (k: unknown, what: string) => number;
let makeKey: (id: number, scope: SecretScope | null, length: number, use: KeyUse, label?: string) => Key;

class Key {
  #id: number;
  #scope: SecretScope | null;
  /** Length of the key in bytes (not secret). */
  readonly length: number;
  /** What the key was made for. */
  readonly use: KeyUse;
  readonly label: string | undefined;

  private constructor(id: number, scope: SecretScope | null, length: number, use: KeyUse, label?: string) {
    this.#id = id;
    this.#scope = scope;
    this.length = length;
    this.use = use;
    this.label = label;
  }

  static {
    idOf = (k: unknown, what: string): number => {
      if (typeof k === 'object' && k !== null && #id in k) {
        const key = k as Key;
        if (key.#scope) scopeGuard(key.#scope);
        return key.#id;
      }
      if (typeof k === 'object' && k !== null && (k as Record<symbol, unknown>)[KEY_BRAND] === true) {
        throw new ForeignHandleError(
          'ERR_FOREIGN_HANDLE',
          `${what}: this key belongs to another copy of secret-scope (another thread or module instance)`,
        );
      }
      throw new InvalidHandleError('ERR_INVALID_HANDLE', `${what}: expected a secret-scope Key`);
    };
    makeKey = (id, scope, length, use, label) => new Key(id, scope, length, use, label);
  }

  get [KEY_BRAND](): true {
    return true;
  }

  /** The owning scope, or null for keys the caller releases. */
  get scope(): SecretScope | null {
    return this.#scope;
  }

  /** False once released or once its scope ended. */
  get alive(): boolean {
    return native().keyAlive(this.#id);
  }

  /** Wipes and releases the key now. Using it afterwards throws KeyReleasedError. */
  release(): void {
    native().keyRelease(idOf(this, 'release'));
  }

  toString(): string {
    return `Key(${this.use}${this.label ? ` '${this.label}'` : ''}, ${this.length} bytes)`;
  }

  toJSON(): { key: string } {
    return { key: this.toString() };
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return this.toString();
  }
}

/**
 * The Key class of the first copy of this version loaded in the thread (ESM or CJS build):
 * handles of either copy pass the other's brand check, since both use one addon instance.
 */
const shared = processShared('key', () => ({ Key, idOf, makeKey }));
idOf = shared.idOf;
makeKey = shared.makeKey;
const SharedKey: typeof Key = shared.Key;
type SharedKey = Key;
export { SharedKey as Key };

/** Native id of a key (internal). Checks the brand and the scope. */
export function keyId(k: unknown, what: string): number {
  return idOf(k, what);
}

/** Native scope id for a new key, and the scope object that will own it (internal). */
export function ownerFor(options: KeyOptions | undefined): { scope: SecretScope | null; nativeScope: number } {
  ensureSecretMemory();
  if (options?.label !== undefined && typeof options.label !== 'string') {
    throw new InvalidArgumentError('ERR_INVALID_ARGUMENT', 'key label must be a string');
  }
  const scope = options?.scope === undefined ? (scopeForNewKey() as SecretScope | null) : options.scope;
  if (scope === null) return { scope: null, nativeScope: 0 };
  if (!(scope instanceof SecretScope)) {
    throw new InvalidArgumentError('ERR_INVALID_ARGUMENT', 'options.scope must be a SecretScope (or null for a key you release yourself)');
  }
  if (!scope.active) throw new ScopeEndedError('ERR_SCOPE_ENDED', 'cannot create a key in a scope that has ended');
  return { scope, nativeScope: scope.nativeId };
}

export function wrapKey(id: number, scope: SecretScope | null, length: number, use: KeyUse, label?: string): Key {
  return makeKey(id, scope, length, use, label);
}
