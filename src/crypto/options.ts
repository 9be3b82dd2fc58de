/**
 * Names and option lists shared by the operation families: hashes, AEADs,
 * encodings, and the checks that turn them into the addon's numeric ids.
 */
import { InvalidArgumentError, UnsupportedAlgorithmError } from '../errors/index.js';

export type Hash = 'sha256' | 'sha512';
/** AES-128-GCM takes a 16-byte key; the others a 32-byte key. */
export type AeadAlgorithm = 'xchacha20-poly1305' | 'chacha20-poly1305' | 'aes-256-gcm' | 'aes-128-gcm';
export type Encoding = 'base64' | 'base64url' | 'hex';
export type Bytes = Uint8Array | string;

const HASHES: Record<Hash, number> = { sha256: 0, sha512: 1 };
const AEADS: Record<AeadAlgorithm, number> = { 'xchacha20-poly1305': 0, 'chacha20-poly1305': 1, 'aes-256-gcm': 2, 'aes-128-gcm': 3 };
export const NONCE: Record<AeadAlgorithm, number> = { 'xchacha20-poly1305': 24, 'chacha20-poly1305': 12, 'aes-256-gcm': 12, 'aes-128-gcm': 12 };
export const ENCODINGS: Record<Encoding, number> = { base64: 0, base64url: 1, hex: 2 };
export const KEY_OPTS = ['scope', 'label'] as const;
// Each function's accepted options, built once (not per call: these run on the hot path).
export const DECODE_OPTS = [...KEY_OPTS, 'encoding', 'offset', 'length'];
export const HKDF_OPTS = [...KEY_OPTS, 'hash', 'salt', 'info', 'length', 'use'];
export const EXTRACT_OPTS = [...KEY_OPTS, 'hash', 'salt'];
export const EXPAND_OPTS = [...KEY_OPTS, 'hash', 'info', 'length', 'use'];
export const EXPAND_MANY_OPTS = [...KEY_OPTS, 'hash', 'length', 'use'];
export const HMAC_OPTS = ['hash', 'tagLength'];
export const VERIFY_OPTS = ['hash', 'tagLength'];

export function hashId(hash: unknown = 'sha256'): number {
  const id = HASHES[hash as Hash];
  if (id === undefined) throw new UnsupportedAlgorithmError('ERR_UNSUPPORTED_ALGORITHM', `unknown hash '${String(hash)}' (sha256 or sha512)`);
  return id;
}

export function aeadId(alg: unknown = 'xchacha20-poly1305'): number {
  const id = AEADS[alg as AeadAlgorithm];
  if (id === undefined) {
    throw new UnsupportedAlgorithmError(
      'ERR_UNSUPPORTED_ALGORITHM',
      `unknown AEAD '${String(alg)}' (xchacha20-poly1305, chacha20-poly1305, aes-256-gcm or aes-128-gcm)`,
    );
  }
  return id;
}

export function lengthOf(v: unknown, what: string, dflt: number): number {
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) {
    throw new InvalidArgumentError('ERR_INVALID_ARGUMENT', `${what} must be a positive integer`);
  }
  return v;
}
