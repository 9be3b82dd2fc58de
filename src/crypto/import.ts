/**
 * Key material into guarded memory: fresh random keys, raw bytes (the caller's
 * copy zeroed) and encoded text decoded natively (never a JS string).
 */
import { native } from '../memory/native.js';
import { InvalidArgumentError } from '../errors/index.js';
import { Key, ownerFor, wrapKey, type KeyOptions } from '../memory/key.js';
import { assertAttached, onlyKnownOptions } from '../memory/bytes.js';
import { DECODE_OPTS, ENCODINGS, KEY_OPTS, lengthOf, type Encoding } from './options.js';

/** Byte containers key material may arrive in. */
export type SecretInput = Uint8Array | DataView | ArrayBuffer;

/**
 * Moves caller bytes into an off-heap staging buffer and zeroes the caller's range
 * in place. A typed array of <= 64 bytes lives on the V8 heap, where a collection
 * may move it and leave the old bytes behind, unzeroed; handing it to native code,
 * or making any new view of it (subarray, .buffer), moves it too. So small arrays
 * are copied element by element and zeroed through the caller's own view, and
 * nothing on this path allocates before they are zeroed: the staging area and its
 * views for those sizes exist from module load, and callers stage before they check
 * options (a refusal puts the bytes back with `unstage(..., restoreTo)`). The native
 * side zeroes what it read; `unstage` zeroes the rest.
 */
// V8 keeps typed arrays of up to this many bytes on its heap (typed_array_max_size_in_heap).
const MAX_ON_HEAP = 64;
const STAGING_BYTES = 4096;
const stagingArea = new Uint8Array(new ArrayBuffer(STAGING_BYTES));
// Views of the staging area by length: every on-heap size up front, larger ones made once each.
const stagingViews: Uint8Array[] = [];
for (let n = 0; n <= MAX_ON_HEAP; n++) stagingViews.push(stagingArea.subarray(0, n));
// A getter or proxy among the options may import a key while one is staged: it gets its own buffer.
let stagingBusy = false;

export function stage(bytes: SecretInput, offset: number, length: number): Uint8Array {
  let staging: Uint8Array;
  if (length <= MAX_ON_HEAP && !stagingBusy) staging = stagingViews[length]!;
  else if (length <= STAGING_BYTES && !stagingBusy) staging = stagingViews[length] ??= stagingArea.subarray(0, length);
  else staging = new Uint8Array(new ArrayBuffer(length));
  if (stagingViews[length] === staging) stagingBusy = true;
  if (bytes instanceof DataView) {
    // A DataView's buffer already exists (off-heap): read and zero through the view itself.
    for (let i = 0; i < length; i++) staging[i] = bytes.getUint8(offset + i);
    for (let i = 0; i < length; i++) bytes.setUint8(offset + i, 0);
  } else if (bytes instanceof Uint8Array && bytes.length <= MAX_ON_HEAP) {
    for (let i = 0; i < length; i++) staging[i] = bytes[offset + i]!;
    bytes.fill(0, offset, offset + length);
  } else {
    // Off-heap already (large typed arrays, ArrayBuffers): views cost no copy.
    const view = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
    staging.set(offset === 0 && length === view.length ? view : view.subarray(offset, offset + length));
    view.fill(0, offset, offset + length);
  }
  return staging;
}

/** Releases a staging buffer the native side has already zeroed. */
function release(staged: Uint8Array): void {
  if (stagingViews[staged.length] === staged) stagingBusy = false;
}

/**
 * Zeroes and releases a staging buffer. With `restoreTo`, the staged bytes go back
 * to the caller's range first: the call was refused before anything used them.
 */
export function unstage(staged: Uint8Array, restoreTo?: { bytes: SecretInput; offset: number }): void {
  if (restoreTo !== undefined) {
    const { bytes, offset } = restoreTo;
    if (bytes instanceof DataView) {
      for (let i = 0; i < staged.length; i++) bytes.setUint8(offset + i, staged[i]!);
    } else {
      const view = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
      for (let i = 0; i < staged.length; i++) view[offset + i] = staged[i]!;
    }
  }
  staged.fill(0);
  release(staged);
}

/** Checks a key-material argument; returns its byte length. */
export function secretInputLength(bytes: unknown, what: string): number {
  if (bytes instanceof Uint8Array || bytes instanceof DataView || bytes instanceof ArrayBuffer) {
    assertAttached(bytes, what);
    return bytes.byteLength;
  }
  throw new InvalidArgumentError('ERR_INVALID_ARGUMENT', `${what} must be a Buffer, Uint8Array, DataView or ArrayBuffer`);
}

function checkRange(byteLength: number, offset: unknown, length: unknown, what: string): void {
  const ok = (v: unknown) => typeof v === 'number' && Number.isInteger(v) && v >= 0;
  if (!ok(offset) || !ok(length) || (offset as number) + (length as number) > byteLength) {
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

/** Copies key bytes into guarded memory and zeroes the caller's buffer (left as it was if the call is refused). */
export function importKey(bytes: SecretInput, options?: KeyOptions): Key {
  const length = secretInputLength(bytes, 'importKey: key material');
  const staged = stage(bytes, 0, length); // first: see stage()
  let owner: ReturnType<typeof ownerFor>;
  try {
    onlyKnownOptions(options, KEY_OPTS, 'importKey');
    owner = ownerFor(options);
  } catch (e) {
    unstage(staged, { bytes, offset: 0 });
    throw e;
  }
  let id: number;
  try {
    id = native().keyImport(staged, owner.nativeScope); // zeroes the staging bytes once it copied them
  } catch (e) {
    unstage(staged); // a failure before the copy left them: zero them here
    throw e;
  }
  release(staged);
  return wrapKey(id, owner.scope, length, 'secret', options?.label);
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
export function decodeKey(bytes: SecretInput, options: DecodeOptions): Key {
  const byteLength = secretInputLength(bytes, 'decodeKey: encoded key material');
  const enc = ENCODINGS[options?.encoding];
  if (enc === undefined) throw new InvalidArgumentError('ERR_INVALID_ARGUMENT', "decodeKey: encoding must be 'base64', 'base64url' or 'hex'");
  const offset = options.offset ?? 0;
  const length = options.length ?? byteLength - offset;
  checkRange(byteLength, offset, length, 'decodeKey');
  const staged = stage(bytes, offset, length); // before the remaining checks: see stage()
  let owner: ReturnType<typeof ownerFor>;
  try {
    onlyKnownOptions(options, DECODE_OPTS, 'decodeKey');
    owner = ownerFor(options);
  } catch (e) {
    unstage(staged, { bytes, offset });
    throw e;
  }
  try {
    const id = native().keyDecode(staged, 0, length, enc, owner.nativeScope);
    return wrapKey(id, owner.scope, native().keyLength(id), 'secret', options.label);
  } finally {
    unstage(staged);
  }
}
