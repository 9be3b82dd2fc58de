/**
 * Loads the addon (a prebuild from prebuilds/<platform>-<arch>/ or the local
 * node-gyp build) once per thread. Importing this module has no side effect on
 * the process beyond loading the addon: no memory is mapped until first use.
 */
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AddonLoadError, errorFromCode } from '../errors/index.js';
import { processShared } from './process-state.js';

export interface NativeAddon {
  readonly libsodiumVersion: string;
  setErrorFactory(fn: (code: string, message: string) => Error): void;
  configure(options: object): NativeReport;
  report(): NativeReport;
  verify(): number;
  hardenProcess(): { dumpable: boolean; coreLimit: number };
  purge(): number;
  scopeOpen(): number;
  /** With ifOpen, a scope already gone (purge, canary violation) gives 0 instead of ScopeEndedError. */
  scopeClose(scope: number, ifOpen?: boolean): number;
  scopeAlive(scope: number): boolean;
  scopeKeyCount(scope: number): number;
  keyRelease(key: number): void;
  keyLength(key: number): number;
  keyAlive(key: number): boolean;
  keyRandom(length: number, scope: number, sealed?: boolean): number;
  keyImport(bytes: Uint8Array, scope: number, sealed?: boolean): number;
  keyDecode(bytes: Uint8Array, offset: number, length: number, encoding: number, scope: number, sealed?: boolean): number;
  hkdfExtract(hash: number, ikm: number | number[], salt: Uint8Array | undefined, scope: number): number;
  /** `use`: the derived key's use number (key.ts USE_IDS; default hkdf). */
  hkdfExpand(hash: number, prk: number, info: Uint8Array | undefined, length: number, scope: number, use?: number): number;
  /** Writes one handle per info into `ids`; returns how many. */
  hkdfExpandMany(hash: number, prk: number, infos: (Uint8Array | undefined)[], length: number, scope: number, ids: Float64Array, use?: number): number;
  hkdf(hash: number, ikm: number, salt: Uint8Array | undefined, info: Uint8Array | undefined, length: number, scope: number, use?: number): number;
  hmacSign(hash: number, key: number, message: Uint8Array, tagLength?: number, out?: Uint8Array): Buffer;
  hmacVerify(hash: number, key: number, message: Uint8Array, tag: Uint8Array): boolean;
  aeadSeal(alg: number, key: number, nonce: Uint8Array, plaintext: Uint8Array, aad?: Uint8Array, out?: Uint8Array): Buffer;
  aeadOpen(alg: number, key: number, nonce: Uint8Array, ciphertext: Uint8Array, aad?: Uint8Array, out?: Uint8Array): Buffer;
  x25519Generate(scope: number): [number, Buffer];
  x25519Public(key: number): Buffer;
  x25519Shared(key: number, peer: Uint8Array, scope: number): number;
  /** A private key of an asymmetric use (USE_IDS) and its raw public key. */
  keyGenerate(use: number, scope: number): [number, Buffer];
  /** Validates and copies a raw private key, then zeroes `bytes`. */
  keyImportPrivate(bytes: Uint8Array, use: number, scope: number): number;
  keyPublic(key: number): Buffer;
  /** The use the addon keeps on the key's slot. */
  keyUse(key: number): string;
  /** ECDSA (der: ASN.1 DER, else P1363 r || s) or Ed25519. */
  sign(key: number, message: Uint8Array, der: boolean): Buffer;
  /** X25519 or ECDH: the shared secret as a new key of use 'shared'. */
  agree(key: number, peer: Uint8Array, scope: number): number;
  /** HKDF-Extract(salt key or empty, prefix || ikm key): RFC 9180 LabeledExtract with a key as salt and/or IKM. */
  hpkeLabeledExtract(hash: number, salt: number | undefined, prefix: Uint8Array, ikm: number | undefined, scope: number): number;
  /** An HPKE context key (use hpke): LabeledExpand "key" (nk bytes) || LabeledExpand "base_nonce" (12 bytes). */
  hpkeContextKey(hash: number, secret: number, keyInfo: Uint8Array, nonceInfo: Uint8Array, nk: number, scope: number): number;
  /** The context's AEAD with nonce = base_nonce XOR seq, computed natively. */
  hpkeSeal(aead: number, contextKey: number, seq: number, plaintext: Uint8Array, aad?: Uint8Array, out?: Uint8Array): Buffer;
  hpkeOpen(aead: number, contextKey: number, seq: number, ciphertext: Uint8Array, aad?: Uint8Array, out?: Uint8Array): Buffer;
  /** DHKEM(P-256) DeriveKeyPair's rejection sampling: a key of use ecdh-p256. */
  hpkeDeriveP256(dkpPrk: number, candidatePrefix: Uint8Array, scope: number): number;
  /** JWE ECDH-ES Concat KDF (SHA-256) of a shared-secret key: a key of use aead. */
  concatKdf(z: number, otherInfo: Uint8Array, length: number, scope: number): number;
  exposeBegin(key: number): ArrayBuffer;
  exposeEnd(key: number): void;
  /** Zeroes this thread's stack below the event loop in the coming check phase, then calls back with the bytes zeroed. */
  stackScrubSoon(callback: (zeroed: number) => void): void;
  stackScrubReport(): { runs: number; lastBytes: number; depth: number; stackLow: bigint; lastSp: bigint };
  testCorrupt(key: number, offset: number): void;
  testBytesToRegionEnd(key: number): number;
  testSlotAddress(key: number): bigint;
  /**
   * Audit key channel (native/audit-channel.h): writes every live slot to the
   * auditor's descriptor; -1 and nothing written when the channel is off.
   */
  auditFlush(): number;
}

export interface NativeReport {
  initialized: boolean;
  backend: 'memfd_secret' | 'mlock' | 'plain' | 'none';
  require: 'secret' | 'locked' | 'any';
  locked: boolean;
  dontdump: boolean;
  dontfork: boolean;
  guardPages: boolean;
  memfdSecret: { tried: boolean; used: boolean; errno?: number; error?: string };
  mlock: { failures: number; errno?: number; error?: string };
  memlockLimit: number | null;
  lockedBytes: number;
  reservedBytes: number;
  pageSize: number;
  regionPages: number;
  regions: number;
  regionsCreated: number;
  /** Times a vault region (root keys) could not be re-sealed after use (it stayed readable). */
  vaultSealFailures: number;
  /** Keys whose lent view could not be detached: wiped, memory never reused. */
  quarantinedSlots: number;
  regionsReleased: number;
  /** Empty regions kept mapped, even when idle (configureSecretMemory retainRegions). */
  retainRegions: number;
  /** Surplus empty regions are unmapped after this many idle ms; 0: at once (no retention). */
  idleReleaseMs: number;
  /** Empty regions mapped now, kept for reuse (zeroed, locked like the others). */
  retainedRegions: number;
  /** True while empty regions beyond retainRegions wait for the idle release. */
  idleReleasePending: boolean;
  /** Of regionsReleased: regions unmapped by the idle release. */
  regionsReleasedIdle: number;
  liveSlots: number;
  liveScopes: number;
  cellsInUse: number;
  cellsTotal: number;
  kernel: string;
  machine: string;
  libsodium: string;
  sha2: string;
  /** Always true since AES-GCM has a constant-time portable fallback (kept for compatibility). */
  aes256gcm: boolean;
  aesGcm: AesGcmReport;
  dumpable: boolean;
  coreLimit: number | null;
  notes: string[];
}

/** AES-GCM in this instance: both key sizes everywhere; which constant-time code runs them. */
export interface AesGcmReport {
  'aes-128-gcm': boolean;
  'aes-256-gcm': boolean;
  /** 'aes-ni+pclmul' (x64), 'armv8-ce' (arm64) or 'bearssl-ct64' (portable: no AES instructions, or forced). */
  implementation: 'aes-ni+pclmul' | 'armv8-ce' | 'bearssl-ct64';
  /** Whether this CPU has the AES and carry-less multiply instructions the fast engines need. */
  hardware: boolean;
}

/**
 * This module's own file. A bundler may leave `import.meta.url` empty (ESM source bundled
 * to CJS) or point it at the bundle; neither may throw here: the loader reports instead.
 */
function selfFile(): string | undefined {
  try {
    const url = import.meta.url;
    if (typeof url === 'string' && url.startsWith('file:')) return fileURLToPath(url);
  } catch {
    // fall through
  }
  // No __filename fallback: naming it makes tsup's ESM shim derive it from import.meta.url at
  // import time, which throws in exactly the bundles this guards against.
  return undefined;
}

function here(): string {
  const file = selfFile();
  return file ? dirname(file) : process.cwd();
}

/** The package root: the nearest directory above this file with binding.gyp or prebuilds/ (undefined when bundled). */
function findPackageRoot(): string | undefined {
  let dir = here();
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, 'binding.gyp')) || existsSync(join(dir, 'prebuilds'))) return dir;
    const up = dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  return undefined;
}

export function packageRoot(): string {
  return findPackageRoot() ?? join(here(), '..');
}

const SUPPORTED = ['linux-x64', 'linux-arm64'];

export const ADDON_REMEDY =
  'secret-scope has a native addon and cannot be bundled: mark it external (esbuild --external:secret-scope; ' +
  'SAM Metadata.BuildProperties.External; CDK bundling.externalModules) and install it in node_modules or deploy ' +
  'the secret-scope Lambda layer (/opt/nodejs/node_modules), or set SECRET_SCOPE_ADDON_PATH to its secret_scope.node';

/**
 * The file node-gyp-build would pick in the usual layouts (a local build, else the glibc
 * prebuild of this platform), found with one or two stats instead of loading
 * node-gyp-build and reading directories and package.json files: several ms of every
 * cold start (issue 11). Undefined whenever one of node-gyp-build's own overrides is set
 * (or on musl), so that it decides.
 */
function knownAddonPath(root: string): string | undefined {
  const env = process.env;
  if (env.PREBUILDS_ONLY || env.SECRET_SCOPE_PREBUILD || env.npm_config_arch || env.npm_config_platform || env.LIBC || env.ARM_VERSION) return undefined;
  const local = join(root, 'build', 'Release', 'secret_scope.node');
  if (existsSync(local)) return local;
  if (existsSync(join(root, 'build', 'Debug')) || existsSync('/etc/alpine-release')) return undefined;
  const prebuild = join(root, 'prebuilds', `${process.platform}-${process.arch}`, 'node.napi.glibc.node');
  return existsSync(prebuild) ? prebuild : undefined;
}

function loadAddon(): NativeAddon {
  const platform = `${process.platform}-${process.arch}`;
  const explicit = process.env.SECRET_SCOPE_ADDON_PATH;
  if (!explicit && !SUPPORTED.includes(platform)) {
    throw new AddonLoadError('ERR_ADDON_LOAD', `secret-scope runs on Linux x64 and arm64 only (this is ${platform}): it needs memfd_secret/mlock and ships prebuilds for those two`);
  }
  const root = findPackageRoot();
  try {
    const require = createRequire(selfFile() ?? join(process.cwd(), 'index.js'));
    if (explicit) return require(explicit) as NativeAddon;
    if (!root) throw new Error(`no package directory (binding.gyp or prebuilds/) above ${here()}: secret-scope was bundled`);
    const known = knownAddonPath(root);
    if (known) {
      try {
        return require(known) as NativeAddon;
      } catch {
        // let node-gyp-build look everywhere it looks, and say why nothing loads
      }
    }
    return require('node-gyp-build')(root) as NativeAddon;
  } catch (e) {
    const why = e instanceof Error ? e.message.split('\n')[0] : String(e);
    const what = explicit ? `SECRET_SCOPE_ADDON_PATH=${explicit}` : `the prebuild for ${platform}`;
    throw new AddonLoadError('ERR_ADDON_LOAD', `secret-scope could not load ${what} (${why}). ${ADDON_REMEDY}`, { cause: e });
  }
}

let addon: NativeAddon | undefined;

/** The addon of this thread: loaded once, shared by the ESM and CJS builds (process-state.ts). */
export function native(): NativeAddon {
  if (addon) return addon;
  addon = processShared('addon', () => {
    const loaded = loadAddon();
    loaded.setErrorFactory(errorFromCode);
    return loaded;
  });
  return addon;
}
