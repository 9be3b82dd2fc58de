// LEAK: a key made outside any scope (scope: null) and kept in a module cache: it outlives every invocation.
import { leakyHandler, lib } from './_leak.mjs';

export const plantedLeak = { finding: 'live-key', place: 'a key owned by no scope in a module cache' };
const cache = {};

export function createHandler(env) {
  return leakyHandler(env, async (scope) => {
    const session = await scope.prk(); // the scope's PRK (an HKDF key: key separation refuses HKDF from the aead 'session')
    cache.key ??= lib.hkdf(session, { info: 'cached', length: 32, scope: null });
  });
}
