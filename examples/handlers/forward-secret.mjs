// A forward-secret response: the handler makes an ephemeral X25519 key (derived
// from KMS entropy) in the scope, agrees on a secret with the client's public key, derives a response
// key with HKDF and encrypts the response to the client. When the scope ends the
// ephemeral private key and the shared secret are wiped: a later copy of this
// process's memory cannot decrypt the response.
import { withSecretScope, x25519PublicKey, x25519SharedSecret, hkdf, aeadSeal } from 'secret-scope';
import { randomBytes } from 'node:crypto';

/** @type {import('secret-scope').SecretScopeOptions<any>} */
export const options = { keys: { ephemeral: { use: 'x25519' } } };

export const handler = withSecretScope(async (event, context) => {
  const clientPublic = Buffer.from(event.clientPublicKey, 'base64');
  const privateKey = await context.secretScope.key('ephemeral');
  const publicKey = x25519PublicKey(privateKey);
  const shared = x25519SharedSecret(privateKey, clientPublic);
  const salt = Buffer.concat([publicKey, clientPublic]);
  const key = hkdf(shared, { salt, info: 'secret-scope-demo/response', length: 32 });
  const nonce = randomBytes(12);
  // chacha20-poly1305 (IETF) so that the client can open it with node:crypto.
  const ciphertext = aeadSeal(key, nonce, JSON.stringify({ balance: 42, currency: 'EUR' }), { algorithm: 'chacha20-poly1305' });
  return { serverPublicKey: publicKey.toString('base64'), nonce: nonce.toString('base64'), ciphertext: ciphertext.toString('base64') };
}, options);
