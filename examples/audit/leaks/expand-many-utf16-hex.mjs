// LEAK: a key from hkdfExpandMany as hex inside a two-byte (UTF-16) V8 string kept in a global.
import { leakyHandler, lib } from './_leak.mjs';

export const plantedLeak = { finding: 'copy', kind: 'arena-hkdf', form: 'utf16-hex', place: 'UTF-16 string in a global' };

export function createHandler(env) {
  return leakyHandler(env, async (scope) => {
    const prk = await scope.prk();
    const [, second] = lib.hkdfExpandMany(prk, ['a', 'b', 'c'], { length: 32 });
    // the '€' makes V8 store the string as two bytes per character; decoding it
    // from UTF-16LE makes one flat two-byte string (not a rope of a one-byte part)
    const note = `€ key ${lib.exposeUnsafe(second, (v) => Buffer.from(v).toString('hex'))}`;
    globalThis.lastKeyNote = Buffer.from(note, 'utf16le').toString('utf16le');
  });
}
