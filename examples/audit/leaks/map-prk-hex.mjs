// LEAK: the scope's PRK as hex in a Map keyed by request id.
import { leakyHandler, lib } from './_leak.mjs';

export const plantedLeak = { finding: 'copy', kind: 'arena-hkdf', form: 'hex', place: 'Map' };
const byRequest = new Map();

export function createHandler(env) {
  return leakyHandler(env, async (scope) => {
    const prk = await scope.prk();
    byRequest.set(`req-${byRequest.size}`, lib.exposeUnsafe(prk, (v) => Buffer.from(v).toString('hex')));
  });
}
