// Audit fixture: the HPKE forward-secret response (examples/handlers/forward-secret.mjs)
// with the fixtures' declared keys added. The ephemeral X25519 key (from KMS entropy),
// the DH output, eae_prk, the shared secret, the key schedule's secret, the context key
// (AEAD key || base_nonce) and the exporter secret all exist only in the arena; an audit
// that learns every key the native layer creates (the audit branch's key channel)
// must find 0 copies of each after the scope.
import { generateKeyPairSync } from 'node:crypto';
import * as lib from 'secret-scope';
import { fixtureOptions, useKeys } from './common.mjs';
import { info, suite } from '../handlers/forward-secret.mjs';

const client = generateKeyPairSync('x25519');
const clientPublic = Buffer.from(client.publicKey.export({ format: 'jwk' }).x, 'base64url');

export function createHandler(env) {
  const base = fixtureOptions(env);
  const options = { ...base, keys: { ...base.keys, ephemeral: { use: 'x25519' } } };
  const handler = lib.withSecretScope(async (event, context) => {
    await useKeys(context.secretScope, lib, event);
    const sender = lib.hpkeSenderContext(clientPublic, { suite, info, ephemeralKey: await context.secretScope.key('ephemeral') });
    const ct = sender.seal(JSON.stringify({ balance: 42 }));
    const exported = sender.export('audit', 32);
    return { statusCode: 200, body: JSON.stringify({ enc: sender.enc.toString('base64'), ct: ct.toString('base64'), exportedUse: exported.use }) };
  }, options);
  return { handler, options };
}
