// LEAK: the handler opens a scope of its own, derives a key in it, and never ends it.
import { leakyHandler, lib } from './_leak.mjs';

export const plantedLeak = { finding: 'live-scope', place: 'a scope never ended' };
const open = [];

export function createHandler(env) {
  return leakyHandler(env, async (scope) => {
    const session = await scope.key('session');
    const own = lib.openScope();
    open.push(own);
    lib.hkdf(session, { info: 'kept', length: 32, scope: own });
  });
}
