import { InvalidArgumentError } from '../errors/index.js';

const encoder = new TextEncoder();

/**
 * True when `buffer` was detached (transferred, or a lent key view that ended). Touching such a
 * view (subarray, a new view, set) throws a bare TypeError, so every byte input is checked first.
 */
export function isDetached(buffer: ArrayBufferLike): boolean {
  const flag = (buffer as { detached?: unknown }).detached; // ES2024: Node 22+
  if (typeof flag === 'boolean') return flag;
  if (buffer.byteLength !== 0) return false;
  try {
    new Uint8Array(buffer); // Node 20: only a detached buffer refuses a view
    return false;
  } catch {
    return true;
  }
}

/**
 * Typed error for a view over a detached buffer, so callers never see V8's TypeError.
 * `.buffer` is read only for an empty view: on a small on-heap Uint8Array, reading it
 * makes V8 move the bytes off-heap and leave the old copy behind (see kms-capture.ts).
 */
export function assertAttached(view: ArrayBufferView | ArrayBuffer, what: string): void {
  let empty: boolean;
  try {
    empty = view.byteLength === 0;
  } catch {
    empty = true; // a DataView over a detached buffer throws on byteLength
  }
  if (empty && isDetached(ArrayBuffer.isView(view) ? view.buffer : view)) {
    throw new InvalidArgumentError('ERR_INVALID_ARGUMENT', `${what} is a detached buffer (transferred, or a lent key view that has ended)`);
  }
}

/** Public (non-secret) inputs: labels, info, salt, messages, associated data. */
export function toBytes(value: unknown, what: string, optional = false): Uint8Array | undefined {
  if (value === undefined || value === null) {
    if (optional) return undefined;
    throw new InvalidArgumentError('ERR_INVALID_ARGUMENT', `${what} is required`);
  }
  if (typeof value === 'string') return encoder.encode(value);
  if (value instanceof Uint8Array) {
    if (value.byteLength === 0) assertAttached(value, what); // only an empty view can be a detached one
    return value;
  }
  if (ArrayBuffer.isView(value)) {
    assertAttached(value, what);
    return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  }
  if (value instanceof ArrayBuffer) {
    assertAttached(value, what);
    return new Uint8Array(value);
  }
  throw new InvalidArgumentError('ERR_INVALID_ARGUMENT', `${what} must be a Buffer, Uint8Array or string`);
}

export function onlyKnownOptions(options: object | undefined, allowed: readonly string[], where: string): void {
  if (options === undefined) return;
  if (options === null || typeof options !== 'object') {
    throw new InvalidArgumentError('ERR_INVALID_ARGUMENT', `${where}: options must be an object`);
  }
  // for-in allocates nothing: this runs on every call of the hot path. A known name needs
  // no own-property check; an unknown one is an error only if it is the object's own.
  for (const k in options) {
    if (!allowed.includes(k) && Object.hasOwn(options, k)) {
      throw new InvalidArgumentError('ERR_INVALID_ARGUMENT', `${where}: unknown option '${k}'`);
    }
  }
}
