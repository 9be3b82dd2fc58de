/**
 * Key material into guarded memory: fresh random keys, raw bytes (the caller's
 * copy zeroed) and encoded text decoded natively (never a JS string).
 */
import { native } from '../memory/native.js';
import { InvalidArgumentError } from '../errors/index.js';
import { Key, ownerFor, wrapKey, type KeyOptions } from '../memory/key.js';
import { assertAttached, onlyKnownOptions } from '../memory/bytes.js';
import { DECODE_OPTS, ENCODINGS, KEY_OPTS, lengthOf, type Encoding } from './options.js';

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
