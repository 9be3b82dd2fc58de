// LEAK: an entropy-derived HMAC key as base64url inside a JSON string kept in a response cache.
import { leakyHandler, lib } from './_leak.mjs';

export const plantedLeak = { finding: 'copy', kind: 'arena-hmac', form: 'base64url', place: 'JSON cache' };
const responseCache = new Map();

export function createHandler(env) {
  return leakyHandler(
    env,
    async (scope, event) => {
      const mac = await scope.key('mac');
      const jwk = { kty: 'oct', k: lib.exposeUnsafe(mac, (v) => Buffer.from(v).toString('base64url')) };
      responseCache.set(String(event?.tenant), JSON.stringify({ jwk }));
    },
    { keys: { mac: { use: 'hmac' } } },
  );
}
