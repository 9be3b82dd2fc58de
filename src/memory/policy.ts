/**
 * Secret memory: what protection the process requires and what it actually got.
 * Nothing is mapped until the first key or an explicit configureSecretMemory().
 */
import { native, type NativeReport } from './native.js';
import { InvalidArgumentError, ProtectionUnavailableError } from '../errors/index.js';
import { bumpPurgeEpoch } from './epoch.js';
import { onlyKnownOptions } from './bytes.js';
import { processShared } from './process-state.js';

export type Backend = 'memfd_secret' | 'mlock' | 'plain';
export type Requirement = 'secret' | 'locked' | 'any';

export interface SecretMemoryOptions {
  /**
   * What the process requires; initialisation fails with ProtectionUnavailableError otherwise.
   * - `secret`: memfd_secret memory (not even root's /proc reads see it);
   * - `locked` (default): memfd_secret, or mmap'd memory locked with mlock;
   * - `any`: guarded mmap'd memory even where mlock fails (reported as `locked: false`).
   */
  require?: Requirement;
  /** Force a backend instead of the best available. `plain` needs `require: 'any'`. */
  backend?: 'auto' | Backend;
  /** Data pages per region (default 4: 255 keys of 32 bytes). */
  regionPages?: number;
  /** Regions the arena may grow to (default 256). */
  maxRegions?: number;
  /** Empty regions kept mapped for reuse, even when idle (default 2). */
  retainRegions?: number;
  /**
   * Region retention (default 1000 ms; 0 to 3,600,000). While scopes come and go, the arena
   * keeps the empty regions it recently needed (up to its recent high-water mark), so that
   * a burst of concurrent scopes does not map and unmap regions over and over. Empty
   * regions beyond `retainRegions` that were not needed for a whole period of this many ms
   * are unmapped (wiped, unlocked): an idle arena is back to `retainRegions` empty regions
   * at most `2 * idleReleaseMs` after its last scope ended. An unref'd timer of the thread's
   * event loop does it; it never keeps the process alive. `0`: unmap an empty region beyond
   * `retainRegions` at once (no retention). `protectionReport()` says what is retained
   * (`retainedRegions`, `idleReleasePending`, `regionsReleasedIdle`).
   */
  idleReleaseMs?: number;
  /**
   * SHA-2 engine for HMAC and HKDF: 'auto' (default) uses the SHA-256/512 that the
   * host Node binary exports (OpenSSL, with the CPU's SHA instructions) after a
   * known-answer check, else libsodium's; 'libsodium' forces libsodium's.
   * Either way the hash states live in the arena.
   */
  sha2?: 'auto' | 'libsodium';
  /**
   * AES-GCM engine: 'auto' (default) uses the CPU's AES instructions (AES-NI + PCLMULQDQ
   * on x64, the ARMv8 Crypto Extensions on arm64) when present, else BearSSL's portable
   * bitsliced code; 'portable' forces the latter. Both are constant time
   * (`protectionReport().aesGcm.implementation` says which one runs).
   */
  aes?: 'auto' | 'portable';
}

export type ProtectionReport = NativeReport & { arch: string; platform: string };

const ALLOWED = ['require', 'backend', 'regionPages', 'maxRegions', 'retainRegions', 'idleReleaseMs', 'sha2', 'aes'] as const;
/** Shared by the ESM and CJS builds, as the addon instance is. */
const policyState = processShared('policy', () => ({ configured: false }));

/** Initialises secret memory with an explicit policy. Call once, before the first key. */
export function configureSecretMemory(options: SecretMemoryOptions = {}): ProtectionReport {
  if (options === null || typeof options !== 'object') {
    throw new InvalidArgumentError('ERR_INVALID_ARGUMENT', 'configureSecretMemory() takes an options object');
  }
  onlyKnownOptions(options, ALLOWED, 'configureSecretMemory');
  if (policyState.configured || native().report().initialized) {
    throw new InvalidArgumentError(
      'ERR_INVALID_ARGUMENT',
      'secret memory is already initialised in this thread; call configureSecretMemory() before the first key',
    );
  }
  const report = native().configure(options);
  policyState.configured = true;
  return withPlatform(report);
}

/** Makes sure secret memory exists (default policy from SECRET_SCOPE_REQUIRE or 'locked'). */
export function ensureSecretMemory(): void {
  if (policyState.configured) return;
  const n = native();
  if (!n.report().initialized) {
    const env = process.env.SECRET_SCOPE_REQUIRE as Requirement | undefined;
    const require: Requirement = env === 'secret' || env === 'any' || env === 'locked' ? env : 'locked';
    n.configure({ require });
  }
  policyState.configured = true;
}

function withPlatform(r: NativeReport): ProtectionReport {
  return { ...r, arch: process.arch, platform: process.platform };
}

/** What this thread's secret memory actually is: backend, locking, limits, usage. */
export function protectionReport(): ProtectionReport {
  return withPlatform(native().report());
}

/** Checks every live key's canaries. Throws CanaryViolationError (after wiping everything) on damage. */
export function verifyGuards(): number {
  ensureSecretMemory();
  return native().verify();
}

/**
 * Opt-in process hardening: PR_SET_DUMPABLE 0 (no core dumps, no ptrace or /proc/<pid>/mem by
 * other non-root processes) and RLIMIT_CORE 0. Never done implicitly.
 */
export function hardenProcess(): { dumpable: boolean; coreLimit: number } {
  const r = native().hardenProcess();
  if (r.dumpable) {
    throw new ProtectionUnavailableError('ERR_PROTECTION_UNAVAILABLE', 'PR_SET_DUMPABLE did not take effect');
  }
  return r;
}

/** Wipes and releases every key and scope in this thread (fatal paths, exit). Returns keys wiped. */
export function purgeAllSecrets(): number {
  bumpPurgeEpoch();
  return native().purge();
}
