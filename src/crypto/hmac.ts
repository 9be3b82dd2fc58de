/** HMAC-SHA256/512 with a key in guarded memory; verification is constant time. */
import { native } from '../memory/native.js';
import { keyId, requireUse, type Key } from '../memory/key.js';
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

/** Constant-time HMAC check; a truncated tag (>= 16 bytes) is compared on its length. */
export function hmacVerify(key: Key, message: Bytes, tag: Uint8Array, options: Omit<HmacOptions, 'tagLength'> = {}): boolean {
  onlyKnownOptions(options, VERIFY_OPTS, 'hmacVerify');
  const id = keyId(key, 'hmacVerify');
  requireUse(key, 'hmac', 'hmacVerify');
  return native().hmacVerify(hashId(options.hash), id, toBytes(message, 'message')!, toBytes(tag, 'tag')!);
}
