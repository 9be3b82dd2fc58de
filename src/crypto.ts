/**
 * Operations on keys. Outputs that are key material become new Keys (slots);
 * outputs that are public (tags, ciphertexts, plaintexts, public keys) are Buffers.
 */
import { randomFillSync } from 'node:crypto';
import { native } from './native.js';
import { InvalidArgumentError, UnsupportedAlgorithmError } from './errors.js';
import { Key, keyId, ownerFor, requireUse, wrapKey, USE_IDS, type KeyOptions, type KeyUse } from './key.js';
import { assertAttached, onlyKnownOptions, toBytes } from './bytes.js';

export type Hash = 'sha256' | 'sha512';
export type AeadAlgorithm = 'xchacha20-poly1305' | 'chacha20-poly1305' | 'aes-256-gcm';
export type Encoding = 'base64' | 'base64url' | 'hex';
type Bytes = Uint8Array | string;

const HASHES: Record<Hash, number> = { sha256: 0, sha512: 1 };
const AEADS: Record<AeadAlgorithm, number> = { 'xchacha20-poly1305': 0, 'chacha20-poly1305': 1, 'aes-256-gcm': 2 };
const NONCE: Record<AeadAlgorithm, number> = { 'xchacha20-poly1305': 24, 'chacha20-poly1305': 12, 'aes-256-gcm': 12 };
const ENCODINGS: Record<Encoding, number> = { base64: 0, base64url: 1, hex: 2 };
const KEY_OPTS = ['scope', 'label'] as const;
// Each function's accepted options, built once (not per call: these run on the hot path).
const DECODE_OPTS = [...KEY_OPTS, 'encoding', 'offset', 'length'];
const HKDF_OPTS = [...KEY_OPTS, 'hash', 'salt', 'info', 'length', 'use'];
const EXTRACT_OPTS = [...KEY_OPTS, 'hash', 'salt'];
const EXPAND_OPTS = [...KEY_OPTS, 'hash', 'info', 'length', 'use'];
const EXPAND_MANY_OPTS = [...KEY_OPTS, 'hash', 'length', 'use'];
const HMAC_OPTS = ['hash', 'tagLength'];
const VERIFY_OPTS = ['hash'];

function hashId(hash: unknown = 'sha256'): number {
  const id = HASHES[hash as Hash];
  if (id === undefined) throw new UnsupportedAlgorithmError('ERR_UNSUPPORTED_ALGORITHM', `unknown hash '${String(hash)}' (sha256 or sha512)`);
  return id;
}

function aeadId(alg: unknown = 'xchacha20-poly1305'): number {
  const id = AEADS[alg as AeadAlgorithm];
  if (id === undefined) {
    throw new UnsupportedAlgorithmError(
      'ERR_UNSUPPORTED_ALGORITHM',
      `unknown AEAD '${String(alg)}' (xchacha20-poly1305, chacha20-poly1305 or aes-256-gcm)`,
    );
  }
  return id;
}

function lengthOf(v: unknown, what: string, dflt: number): number {
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) {
    throw new InvalidArgumentError('ERR_INVALID_ARGUMENT', `${what} must be a positive integer`);
  }
  return v;
}

/**
 * Moves caller bytes into a fresh off-heap staging buffer and zeroes the
 * caller's range in place. A typed array of <= 64 bytes lives on the V8 heap;
 * handing it to native code would make V8 move it off-heap and leave the old
 * bytes behind, unzeroed. The native side zeroes the staging buffer after use.
 */
let stagingArea: Uint8Array | undefined;
const STAGING_BYTES = 4096;
// Views of the staging area by length, made once each (key material comes in a few sizes).
const stagingViews: Uint8Array[] = [];

export function stage(bytes: Uint8Array, offset: number, length: number): Uint8Array {
  // One reusable off-heap area (the native side zeroes what it read) for the common sizes.
  stagingArea ??= new Uint8Array(new ArrayBuffer(STAGING_BYTES));
  const staging = length <= STAGING_BYTES ? (stagingViews[length] ??= stagingArea.subarray(0, length)) : new Uint8Array(new ArrayBuffer(length));
  const range = offset === 0 && length === bytes.length ? bytes : bytes.subarray(offset, offset + length);
  staging.set(range);
  range.fill(0);
  return staging;
}

function checkRange(bytes: Uint8Array, offset: unknown, length: unknown, what: string): void {
  const ok = (v: unknown) => typeof v === 'number' && Number.isInteger(v) && v >= 0;
  if (!ok(offset) || !ok(length) || (offset as number) + (length as number) > bytes.length) {
    throw new InvalidArgumentError('ERR_INVALID_ARGUMENT', `${what}: offset and length must lie inside the buffer`);
  }
}

/** A fresh random key from getrandom, written straight into guarded memory. */
export function randomKey(length = 32, options?: KeyOptions): Key {
  onlyKnownOptions(options, KEY_OPTS, 'randomKey');
  const n = lengthOf(length, 'key length', 32);
  const { scope, nativeScope } = ownerFor(options);
  return wrapKey(native().keyRandom(n, nativeScope), scope, n, 'secret', options?.label);
}

/** Copies key bytes into guarded memory and zeroes the caller's buffer. */
export function importKey(bytes: Uint8Array, options?: KeyOptions): Key {
  onlyKnownOptions(options, KEY_OPTS, 'importKey');
  if (!(bytes instanceof Uint8Array)) {
    throw new InvalidArgumentError('ERR_INVALID_ARGUMENT', 'importKey: key material must be a Buffer or Uint8Array');
  }
  assertAttached(bytes, 'importKey: key material');
  const { scope, nativeScope } = ownerFor(options);
  const length = bytes.length;
  const staged = stage(bytes, 0, length);
  try {
    return wrapKey(native().keyImport(staged, nativeScope), scope, length, 'secret', options?.label);
  } finally {
    staged.fill(0); // the native side zeroed it on success; this covers every failure
  }
}

export interface DecodeOptions extends KeyOptions {
  encoding: Encoding;
  /** Start of the encoded text in `bytes` (default 0). */
  offset?: number;
  /** Length of the encoded text (default: to the end). */
  length?: number;
}

/**
 * Decodes base64/base64url/hex key material from a byte buffer straight into
 * guarded memory, then zeroes the encoded range. The text never becomes a JS string.
 */
export function decodeKey(bytes: Uint8Array, options: DecodeOptions): Key {
  onlyKnownOptions(options, DECODE_OPTS, 'decodeKey');
  if (!(bytes instanceof Uint8Array)) {
    throw new InvalidArgumentError('ERR_INVALID_ARGUMENT', 'decodeKey: encoded key material must be a Buffer or Uint8Array');
  }
  assertAttached(bytes, 'decodeKey: encoded key material');
  const enc = ENCODINGS[options?.encoding];
  if (enc === undefined) throw new InvalidArgumentError('ERR_INVALID_ARGUMENT', "decodeKey: encoding must be 'base64', 'base64url' or 'hex'");
  const offset = options.offset ?? 0;
  const length = options.length ?? bytes.length - offset;
  checkRange(bytes, offset, length, 'decodeKey');
  const { scope, nativeScope } = ownerFor(options);
  const staged = stage(bytes, offset, length);
  try {
    const id = native().keyDecode(staged, 0, length, enc, nativeScope);
    return wrapKey(id, scope, native().keyLength(id), 'secret', options.label);
  } finally {
    staged.fill(0);
  }
}

export interface HkdfOptions extends KeyOptions {
  hash?: Hash;
  salt?: Bytes | undefined;
  info?: Bytes | undefined;
  /** Output length in bytes (default 32). */
  length?: number;
  /**
   * What the derived key is for, kept on the handle (`key.use`) and in the addon; every
   * operation accepts only keys of its use (default 'hkdf': a key for further HKDF).
   * Private-key uses imply the length (32 bytes; 48 for P-384); EC scalars are derived
   * from nlen/8 + 8 bytes of HKDF output as FIPS 186-5 A.2.1 specifies.
   */
  use?: DerivedUse;
}

/** The uses a derived key may be labelled with. */
export type DerivedUse = 'hkdf' | 'hmac' | 'aead' | 'secret' | 'x25519' | 'ed25519' | 'ecdsa-p256' | 'ecdsa-p384' | 'ecdh-p256' | 'ecdh-p384';
export const DERIVED_USES: readonly DerivedUse[] = [
  'hkdf', 'hmac', 'aead', 'secret', 'x25519', 'ed25519', 'ecdsa-p256', 'ecdsa-p384', 'ecdh-p256', 'ecdh-p384',
];

/** The key length a use implies (private keys), or undefined (symmetric uses take any length). */
export const IMPLIED_LENGTH: Readonly<Partial<Record<DerivedUse, number>>> = {
  x25519: 32,
  ed25519: 32,
  'ecdsa-p256': 32,
  'ecdh-p256': 32,
  'ecdsa-p384': 48,
  'ecdh-p384': 48,
};

function derivedUse(use: unknown, what: string): DerivedUse {
  if (use === undefined) return 'hkdf';
  if (!DERIVED_USES.includes(use as DerivedUse)) {
    throw new InvalidArgumentError('ERR_INVALID_ARGUMENT', `${what}: use must be one of ${DERIVED_USES.join(', ')}`);
  }
  return use as DerivedUse;
}

/** The derived key's length: the use's own for private keys (an explicit other length is refused). */
function derivedLength(use: DerivedUse, length: unknown, what: string): number {
  const implied = IMPLIED_LENGTH[use];
  if (implied === undefined) return lengthOf(length, 'HKDF length', 32);
  if (length !== undefined && length !== implied) {
    throw new InvalidArgumentError('ERR_INVALID_ARGUMENT', `${what}: a ${use} key is ${implied} bytes; length ${String(length)} does not fit`);
  }
  return implied;
}

/** HKDF (RFC 5869) extract-and-expand; the PRK exists only in the arena's scratch slot. */
export function hkdf(ikm: Key, options: HkdfOptions = {}): Key {
  onlyKnownOptions(options, HKDF_OPTS, 'hkdf');
  const use = derivedUse(options.use, 'hkdf');
  const h = hashId(options.hash);
  const length = derivedLength(use, options.length, 'hkdf');
  const ikmId = keyId(ikm, 'hkdf');
  requireUse(ikm, 'hkdf', 'hkdf');
  const { scope, nativeScope } = ownerFor(options);
  const id = native().hkdf(h, ikmId, toBytes(options.salt, 'salt', true), toBytes(options.info, 'info', true), length, nativeScope, USE_IDS[use]);
  return wrapKey(id, scope, length, use, options.label);
}

/** HKDF-Extract. Several input keys are hashed in order (e.g. KMS entropy then local entropy). */
export function hkdfExtract(ikm: Key | Key[], options: Omit<HkdfOptions, 'info' | 'length'> = {}): Key {
  onlyKnownOptions(options, EXTRACT_OPTS, 'hkdfExtract');
  const h = hashId(options.hash);
  const ids = Array.isArray(ikm) ? ikm.map((k) => keyId(k, 'hkdfExtract')) : keyId(ikm, 'hkdfExtract');
  for (const k of Array.isArray(ikm) ? ikm : [ikm]) requireUse(k, 'hkdf', 'hkdfExtract');
  const { scope, nativeScope } = ownerFor(options);
  const id = native().hkdfExtract(h, ids, toBytes(options.salt, 'salt', true), nativeScope);
  return wrapKey(id, scope, h === 0 ? 32 : 64, 'hkdf', options.label);
}

/** HKDF-Expand from a pseudorandom key into a new key. */
export function hkdfExpand(prk: Key, options: Omit<HkdfOptions, 'salt'> = {}): Key {
  onlyKnownOptions(options, EXPAND_OPTS, 'hkdfExpand');
  const use = derivedUse(options.use, 'hkdfExpand');
  const h = hashId(options.hash);
  const length = derivedLength(use, options.length, 'hkdfExpand');
  const prkId = keyId(prk, 'hkdfExpand');
  requireUse(prk, 'hkdf', 'hkdfExpand');
  const { scope, nativeScope } = ownerFor(options);
  const id = native().hkdfExpand(h, prkId, toBytes(options.info, 'info', true), length, nativeScope, USE_IDS[use]);
  return wrapKey(id, scope, length, use, options.label);
}

/** Most keys one hkdfExpandMany call makes (the addon's limit). */
export const MAX_EXPAND_MANY = 64;
// Receives the handles of hkdfExpandMany (numbers only: no key bytes pass through it).
const expandIds = new Float64Array(MAX_EXPAND_MANY);

/**
 * Several HKDF-Expand outputs of one PRK, one per info, in one call: HMAC is keyed
 * with the PRK once for all of them. All or nothing: if any key cannot be made, none is.
 * Each key equals `hkdfExpand(prk, { info: infos[i], ...options })`.
 */
export function hkdfExpandMany(prk: Key, infos: readonly (Bytes | undefined)[], options: Omit<HkdfOptions, 'salt' | 'info'> = {}): Key[] {
  onlyKnownOptions(options, EXPAND_MANY_OPTS, 'hkdfExpandMany');
  if (!Array.isArray(infos) || infos.length < 1 || infos.length > MAX_EXPAND_MANY) {
    throw new InvalidArgumentError('ERR_INVALID_ARGUMENT', `hkdfExpandMany: infos must be an array of 1 to ${MAX_EXPAND_MANY} infos`);
  }
  const use = derivedUse(options.use, 'hkdfExpandMany');
  const h = hashId(options.hash);
  const length = derivedLength(use, options.length, 'hkdfExpandMany');
  const prkId = keyId(prk, 'hkdfExpandMany');
  requireUse(prk, 'hkdf', 'hkdfExpandMany');
  const bytes = infos.map((info) => toBytes(info, 'info', true));
  const { scope, nativeScope } = ownerFor(options);
  const n = native().hkdfExpandMany(h, prkId, bytes, length, nativeScope, expandIds, USE_IDS[use]);
  const keys = new Array<Key>(n);
  for (let k = 0; k < n; k++) keys[k] = wrapKey(expandIds[k]!, scope, length, use, options.label);
  expandIds.fill(0, 0, n);
  return keys;
}

export interface HmacOptions {
  hash?: Hash;
  /** Truncated tag length in bytes (16..HashLen; default HashLen). */
  tagLength?: number;
}

export function hmacSign(key: Key, message: Bytes, options: HmacOptions = {}): Buffer {
  onlyKnownOptions(options, HMAC_OPTS, 'hmacSign');
  const id = keyId(key, 'hmacSign');
  requireUse(key, 'hmac', 'hmacSign');
  const h = hashId(options.hash);
  const t = options.tagLength;
  const tagLength = t === undefined ? (h === 0 ? 32 : 64) : t;
  // The tag goes into a Buffer from Node's pool (cheaper than a native allocation).
  const out = Number.isInteger(tagLength) && tagLength >= 16 && tagLength <= 64 ? Buffer.allocUnsafe(tagLength) : undefined;
  return native().hmacSign(h, id, toBytes(message, 'message')!, t, out);
}

/** Constant-time HMAC check; a truncated tag (>= 16 bytes) is compared on its length. */
export function hmacVerify(key: Key, message: Bytes, tag: Uint8Array, options: Omit<HmacOptions, 'tagLength'> = {}): boolean {
  onlyKnownOptions(options, VERIFY_OPTS, 'hmacVerify');
  const id = keyId(key, 'hmacVerify');
  requireUse(key, 'hmac', 'hmacVerify');
  return native().hmacVerify(hashId(options.hash), id, toBytes(message, 'message')!, toBytes(tag, 'tag')!);
}

export interface AeadOptions {
  algorithm?: AeadAlgorithm;
  aad?: Bytes;
}

const AEAD_OPTS = ['algorithm', 'aad'] as const;

// The checked public functions below share these; each validates its options once.
function sealTo(what: string, key: Key, nonce: Uint8Array, plaintext: Bytes, options: AeadOptions, prefix: number): Buffer {
  const id = keyId(key, what);
  requireUse(key, 'aead', what);
  const pt = toBytes(plaintext, 'plaintext')!;
  // One Buffer from Node's pool holds `prefix` bytes (seal's nonce) then ciphertext || tag.
  const out = Buffer.allocUnsafe(prefix + pt.length + 16);
  if (prefix) out.set(nonce, 0);
  native().aeadSeal(aeadId(options.algorithm), id, toBytes(nonce, 'nonce')!, pt, toBytes(options.aad, 'aad', true), out.subarray(prefix));
  return out;
}

function openFrom(what: string, key: Key, nonce: Uint8Array, ciphertext: Uint8Array, options: AeadOptions): Buffer {
  const id = keyId(key, what);
  requireUse(key, 'aead', what);
  const ct = toBytes(ciphertext, 'ciphertext')!;
  const out = ct.length >= 16 ? Buffer.allocUnsafe(ct.length - 16) : undefined;
  return native().aeadOpen(aeadId(options.algorithm), id, toBytes(nonce, 'nonce')!, ct, toBytes(options.aad, 'aad', true), out);
}

/** AEAD with an explicit nonce. Returns ciphertext || 16-byte tag. */
export function aeadSeal(key: Key, nonce: Uint8Array, plaintext: Bytes, options: AeadOptions = {}): Buffer {
  onlyKnownOptions(options, AEAD_OPTS, 'aeadSeal');
  return sealTo('aeadSeal', key, nonce, plaintext, options, 0);
}

/** AEAD open with an explicit nonce. Throws AuthenticationError on any mismatch. */
export function aeadOpen(key: Key, nonce: Uint8Array, ciphertext: Uint8Array, options: AeadOptions = {}): Buffer {
  onlyKnownOptions(options, AEAD_OPTS, 'aeadOpen');
  return openFrom('aeadOpen', key, nonce, ciphertext, options);
}

/** Seals with a fresh random nonce: returns nonce || ciphertext || tag (XChaCha20-Poly1305 by default). */
export function seal(key: Key, plaintext: Bytes, options: AeadOptions = {}): Buffer {
  onlyKnownOptions(options, AEAD_OPTS, 'seal');
  const alg = options.algorithm ?? 'xchacha20-poly1305';
  aeadId(alg);
  const nonce = randomFillSync(Buffer.allocUnsafe(NONCE[alg]));
  return sealTo('seal', key, nonce, plaintext, options, nonce.length);
}

/** Opens what seal() produced. */
export function open(key: Key, sealed: Uint8Array, options: AeadOptions = {}): Buffer {
  onlyKnownOptions(options, AEAD_OPTS, 'open');
  const alg = options.algorithm ?? 'xchacha20-poly1305';
  aeadId(alg);
  const bytes = toBytes(sealed, 'sealed message')!;
  const n = NONCE[alg];
  if (bytes.length < n + 16) {
    throw new InvalidArgumentError('ERR_INVALID_ARGUMENT', `sealed message is shorter than nonce + tag (${n + 16} bytes)`);
  }
  return openFrom('open', key, bytes.subarray(0, n), bytes.subarray(n), options);
}

/** An X25519 key pair: the private key stays in guarded memory. */
export function x25519KeyPair(options?: KeyOptions): { privateKey: Key; publicKey: Buffer } {
  onlyKnownOptions(options, KEY_OPTS, 'x25519KeyPair');
  const { scope, nativeScope } = ownerFor(options);
  const [id, publicKey] = native().x25519Generate(nativeScope);
  return { privateKey: wrapKey(id, scope, 32, 'x25519', options?.label), publicKey };
}

export function x25519PublicKey(privateKey: Key): Buffer {
  const id = keyId(privateKey, 'x25519PublicKey');
  requireUse(privateKey, 'x25519', 'x25519PublicKey');
  return native().x25519Public(id);
}

/**
 * X25519 shared secret into a new key of use 'shared' (input for HKDF only); an all-zero
 * result (low-order point) throws WeakPublicKeyError.
 */
export function x25519SharedSecret(privateKey: Key, peerPublicKey: Uint8Array, options?: KeyOptions): Key {
  onlyKnownOptions(options, KEY_OPTS, 'x25519SharedSecret');
  const id = keyId(privateKey, 'x25519SharedSecret');
  requireUse(privateKey, 'x25519', 'x25519SharedSecret');
  const { scope, nativeScope } = ownerFor(options);
  const shared = native().x25519Shared(id, toBytes(peerPublicKey, 'peer public key')!, nativeScope);
  return wrapKey(shared, scope, 32, 'shared', options?.label);
}

/**
 * UNSAFE: lends the key's bytes to `fn` as a zero-copy view into guarded memory.
 * Whatever `fn` copies out (a string, a Buffer, a log line) is outside every
 * protection this library gives. When `fn` returns (or its promise settles) the
 * view is detached, and the key is wiped and released; the view is unusable after.
 */
export function exposeUnsafe<T>(key: Key, fn: (bytes: Uint8Array) => T): T {
  const id = keyId(key, 'exposeUnsafe');
  if (typeof fn !== 'function') throw new InvalidArgumentError('ERR_INVALID_ARGUMENT', 'exposeUnsafe() takes a function');
  const n = native();
  const view = new Uint8Array(n.exposeBegin(id));
  let result: T;
  try {
    result = fn(view);
  } catch (e) {
    if (n.keyAlive(id)) n.exposeEnd(id);
    throw e;
  }
  if (result && typeof (result as { then?: unknown }).then === 'function') {
    return (result as unknown as Promise<unknown>).finally(() => {
      if (n.keyAlive(id)) n.exposeEnd(id);
    }) as unknown as T;
  }
  if (n.keyAlive(id)) n.exposeEnd(id);
  return result;
}
