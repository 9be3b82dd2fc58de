// LEAK: an entropy-derived key (KMS GenerateRandom || local randomness) as base64 in a module-level cache.
import { leakyHandler, lib } from './_leak.mjs';

export const plantedLeak = { finding: 'copy', kind: 'arena-aead', form: 'base64', place: 'module cache' };
const cache = {};

export function createHandler(env) {
  return leakyHandler(env, async (scope) => {
    const session = await scope.key('session');
    cache.sessionKey = lib.exposeUnsafe(session, (v) => Buffer.from(v).toString('base64'));
  });
}
