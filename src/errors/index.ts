/**
 * Typed errors. Every error has a stable `code`; messages never contain key
 * bytes (not even truncated or hashed).
 */
export class SecretScopeError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }

  /**
   * `instanceof` holds across the ESM and CJS builds of the package (both may be loaded in one
   * process, and the addon throws the classes of the copy that loaded it first): an error of
   * the other copy passes when a class of the same name is on its prototype chain.
   */
  static [Symbol.hasInstance](value: unknown): boolean {
    if (Function.prototype[Symbol.hasInstance].call(this, value)) return true;
    if (typeof value !== 'object' || value === null || typeof (value as { code?: unknown }).code !== 'string') return false;
    let sawBase = false;
    let matches = false;
    for (let p = Object.getPrototypeOf(value); p && p !== Error.prototype; p = Object.getPrototypeOf(p)) {
      const name = (p as { constructor?: { name?: string } }).constructor?.name;
      if (name === this.name) matches = true;
      if (name === 'SecretScopeError') sawBase = true;
    }
    return sawBase && matches;
  }
}

/** The platform cannot give the protection the caller required (memfd_secret, mlock). */
export class ProtectionUnavailableError extends SecretScopeError {}
/** A value that is not a key handle was passed where a key was expected. */
export class InvalidHandleError extends SecretScopeError {}
/** A key handle from another addon instance (thread, copy of the library) or a forged one. */
export class ForeignHandleError extends SecretScopeError {}
/** The key was released, or its scope ended. */
export class KeyReleasedError extends SecretScopeError {}
/** The scope has ended, or a key was used outside the scope that owns it. */
export class ScopeEndedError extends SecretScopeError {}
/** The arena cannot grow (memory lock limit, maxRegions) or handles are exhausted. */
export class ArenaExhaustedError extends SecretScopeError {}
/** A guard canary next to a key was overwritten; the whole arena has been wiped. */
export class CanaryViolationError extends SecretScopeError {}
/** AEAD open or MAC check failed. */
export class AuthenticationError extends SecretScopeError {}
/** The algorithm is unknown or not available here. */
export class UnsupportedAlgorithmError extends SecretScopeError {}
/** X25519 with a low-order public key (all-zero shared secret). */
export class WeakPublicKeyError extends SecretScopeError {}
/** The key's use does not admit the operation (a key serves one purpose: see the README's key-use table). */
export class KeyUsageError extends SecretScopeError {}
/** A peer's public key is malformed or not a valid point of its curve. */
export class InvalidPublicKeyError extends SecretScopeError {}
/** Bad sizes, types or options. */
export class InvalidArgumentError extends SecretScopeError {}
/** The key is lent to JavaScript through exposeUnsafe and cannot be used until returned. */
export class KeyLentError extends SecretScopeError {}
/** Secret memory is not initialised (internal ordering problem). */
export class NotInitializedError extends SecretScopeError {}
/** KMS could not provide entropy or a root key; nothing of the scope was created. */
export class KmsEntropyError extends SecretScopeError {}
/** Options passed to a wrapper or middleware are invalid. */
export class OptionsError extends SecretScopeError {}
/** The native addon could not be loaded (bundled copy, unsupported platform); the message names the remedy. */
export class AddonLoadError extends SecretScopeError {}
/**
 * A JWS, JWT or JWE was malformed, failed verification or decryption, or a claim check
 * failed. Codes as the `jose` package names them: ERR_JWS_INVALID, ERR_JWE_INVALID,
 * ERR_JWT_INVALID, ERR_JWS_SIGNATURE_VERIFICATION_FAILED, ERR_JWE_DECRYPTION_FAILED,
 * ERR_JWT_EXPIRED, ERR_JWT_CLAIM_VALIDATION_FAILED, ERR_JOSE_ALG_NOT_ALLOWED, ERR_JOSE_NOT_SUPPORTED.
 */
export class JoseError extends SecretScopeError {
  /** The claim that failed (ERR_JWT_EXPIRED, ERR_JWT_CLAIM_VALIDATION_FAILED). */
  readonly claim?: string;
  constructor(code: string, message: string, claim?: string) {
    super(code, message);
    if (claim !== undefined) this.claim = claim;
  }
}

import { bumpPurgeEpoch } from '../memory/epoch.js';

const byCode: Record<string, new (code: string, message: string) => SecretScopeError> = {
  ERR_PROTECTION_UNAVAILABLE: ProtectionUnavailableError,
  ERR_INVALID_HANDLE: InvalidHandleError,
  ERR_FOREIGN_HANDLE: ForeignHandleError,
  ERR_KEY_RELEASED: KeyReleasedError,
  ERR_SCOPE_ENDED: ScopeEndedError,
  ERR_ARENA_EXHAUSTED: ArenaExhaustedError,
  ERR_CANARY_VIOLATION: CanaryViolationError,
  ERR_AUTHENTICATION_FAILED: AuthenticationError,
  ERR_UNSUPPORTED_ALGORITHM: UnsupportedAlgorithmError,
  ERR_WEAK_PUBLIC_KEY: WeakPublicKeyError,
  ERR_INVALID_ARGUMENT: InvalidArgumentError,
  ERR_KEY_LENT: KeyLentError,
  ERR_KEY_USAGE: KeyUsageError,
  ERR_INVALID_PUBLIC_KEY: InvalidPublicKeyError,
  ERR_NOT_INITIALIZED: NotInitializedError,
};

/** Builds the typed error for a native error code (the addon calls this). */
export function errorFromCode(code: string, message: string): SecretScopeError {
  if (code === 'ERR_CANARY_VIOLATION') bumpPurgeEpoch(); // the addon wiped every key
  const Cls = byCode[code] ?? SecretScopeError;
  return new Cls(code, message);
}
