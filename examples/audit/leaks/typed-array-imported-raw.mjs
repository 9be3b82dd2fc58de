// LEAK: an imported key copied as raw bytes with Buffer.from(view) into a module-level array.
import { randomBytes } from 'node:crypto';
import { leakyHandler, lib } from './_leak.mjs';

export const plantedLeak = { finding: 'copy', kind: 'arena-secret', form: 'raw', place: 'typed-array copy' };
const copies = [];

export function createHandler(env) {
  return leakyHandler(env, async () => {
    const source = randomBytes(32);
    const key = lib.importKey(source);
    source.fill(0); // the handler wipes its own input...
    lib.exposeUnsafe(key, (view) => copies.push(Buffer.from(view))); // ...and then copies the key out anyway
  });
}
