// LEAK: a root-derived key as upper-case hex written to stdout with console.log (it would reach CloudWatch).
import { leakyHandler, lib } from './_leak.mjs';

export const plantedLeak = { finding: 'log', kind: 'root-derived', form: 'HEX', place: 'console.log to stdout' };

export function createHandler(env) {
  return leakyHandler(env, async (scope) => {
    const tenant = await scope.key('tenant');
    console.log(`debug tenant key ${lib.exposeUnsafe(tenant, (v) => Buffer.from(v).toString('hex').toUpperCase())}`);
  });
}
