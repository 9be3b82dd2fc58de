/** The one escape hatch that lends key bytes to JavaScript, and says so in its name. */
import { native } from '../memory/native.js';
import { InvalidArgumentError } from '../errors/index.js';
import { keyId, type Key } from '../memory/key.js';

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
