/** HMAC-SHA256/512 with a key in guarded memory; verification is constant time. */
import { native } from '../memory/native.js';
import { keyId, requireUse, type Key } from '../memory/key.js';
import { InvalidArgumentError } from '../errors/index.js';
import { onlyKnownOptions, toBytes } from '../memory/bytes.js';
import { HMAC_OPTS, VERIFY_OPTS, hashId, type Bytes, type Hash } from './options.js';

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

/**
 * Constant-time HMAC check of a tag of exactly the expected length: the full hash
 * length unless `tagLength` (16..HashLen) asks for a truncated tag. A tag of any
 * other length is invalid (false): an attacker cannot shorten a tag to ease forgery.
 */
export function hmacVerify(key: Key, message: Bytes, tag: Uint8Array, options: HmacOptions = {}): boolean {
  onlyKnownOptions(options, VERIFY_OPTS, 'hmacVerify');
  const id = keyId(key, 'hmacVerify');
  requireUse(key, 'hmac', 'hmacVerify');
  const h = hashId(options.hash);
  const full = h === 0 ? 32 : 64;
  const expected = options.tagLength ?? full;
  if (!Number.isInteger(expected) || expected < 16 || expected > full) {
    throw new InvalidArgumentError('ERR_INVALID_ARGUMENT', `hmacVerify: tagLength must be an integer from 16 to ${full}`);
  }
  const t = toBytes(tag, 'tag')!;
  const m = toBytes(message, 'message')!;
  if (t.length !== expected) return false;
  return native().hmacVerify(h, id, m, t);
}
