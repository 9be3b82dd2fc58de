// Audit fixture: the seed's program (examples/handlers/seed-p384-jwt.mjs) with the
// fixtures' declared keys added, so that `secret-scope audit` checks it the way it checks
// every path: 64 KMS bytes -> HKDF-SHA512(salt, GUID) -> P-384 scalar -> ES384 JWT.
// The P-384 scalar is made in the addon; an audit that learns every key the native layer
// creates (the audit branch's key channel) searches for it and must find 0 copies.
import * as lib from 'secret-scope';
import { fixtureOptions, useKeys } from './common.mjs';
import { signSeedJwt } from '../handlers/seed-p384-jwt.mjs';

export function createHandler(env) {
  const options = fixtureOptions(env, { entropy: { kmsBytes: 64 } });
  const handler = lib.withSecretScope(async (event, context) => {
    await useKeys(context.secretScope, lib, event);
    const out = await signSeedJwt(await context.secretScope.prk(), String(event?.guid ?? '6f1c2a4e-0b7d-4c1e-9a55-3d2f8e7b9c10'), 'audit');
    return { statusCode: 200, body: JSON.stringify(out) };
  }, options);
  return { handler, options };
}
