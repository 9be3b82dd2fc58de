// LEAK: a PRK made with hkdfExtract, copied out as raw bytes with Uint8Array.prototype.slice into a closure's array.
import { leakyHandler, lib } from './_leak.mjs';

export const plantedLeak = { finding: 'copy', kind: 'arena-hkdf', form: 'raw', place: 'sliced typed array' };
const remember = (() => {
  const kept = [];
  return (x) => kept.push(x);
})();

export function createHandler(env) {
  return leakyHandler(env, async (scope) => {
    const session = await scope.prk(); // the scope's PRK (an HKDF key: key separation refuses HKDF from the aead 'session')
    const prk = lib.hkdfExtract(session, { salt: Buffer.from('extract-salt') });
    lib.exposeUnsafe(prk, (v) => remember(v.slice()));
  });
}
