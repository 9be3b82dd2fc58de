import { InvalidArgumentError } from './errors.js';

const encoder = new TextEncoder();

/** Public (non-secret) inputs: labels, info, salt, messages, associated data. */
export function toBytes(value: unknown, what: string, optional = false): Uint8Array | undefined {
  if (value === undefined || value === null) {
    if (optional) return undefined;
    throw new InvalidArgumentError('ERR_INVALID_ARGUMENT', `${what} is required`);
  }
  if (value instanceof Uint8Array) return value;
  if (typeof value === 'string') return encoder.encode(value);
  if (ArrayBuffer.isView(value)) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  throw new InvalidArgumentError('ERR_INVALID_ARGUMENT', `${what} must be a Buffer, Uint8Array or string`);
}

export function onlyKnownOptions(options: object | undefined, allowed: readonly string[], where: string): void {
  if (options === undefined) return;
  if (options === null || typeof options !== 'object') {
    throw new InvalidArgumentError('ERR_INVALID_ARGUMENT', `${where}: options must be an object`);
  }
  // for-in allocates nothing: this runs on every call of the hot path.
  for (const k in options) {
    if (Object.hasOwn(options, k) && !allowed.includes(k)) {
      throw new InvalidArgumentError('ERR_INVALID_ARGUMENT', `${where}: unknown option '${k}'`);
    }
  }
}
