// A forward-secret response with HPKE (RFC 9180, base mode): the client sends its
// X25519 public key; the handler seals the response to it with
// DHKEM(X25519, HKDF-SHA256) + HKDF-SHA256 + ChaCha20-Poly1305. The ephemeral private
// key is derived from this invocation's KMS entropy; it, the DH output, the key
// schedule and the AEAD key live only in guarded memory and are wiped when the scope
// ends: a later copy of this process's memory cannot decrypt the response. Any HPKE
// implementation opens it (the demo client uses @hpke/core).
import { withSecretScope, hpkeSeal, hpkeSenderContext } from 'secret-scope';

/** @type {import('secret-scope').SecretScopeOptions<any>} */
export const options = { keys: { ephemeral: { use: 'x25519' } } };
/** @type {import('secret-scope').HpkeSuite} */
export const suite = { kem: 'dhkem-x25519-hkdf-sha256', kdf: 'hkdf-sha256', aead: 'chacha20-poly1305' };
export const info = 'secret-scope-demo/response';

export const handler = withSecretScope(async (event, context) => {
  const clientPublic = Buffer.from(event.clientPublicKey, 'base64');
  const body = JSON.stringify({ balance: 42, currency: 'EUR' });
  if (event.oneShot) {
    // Single-shot: hpkeSeal makes its own random ephemeral key.
    const { enc, ciphertext } = hpkeSeal(clientPublic, body, { suite, info, aad: event.requestId });
    return { enc: enc.toString('base64'), ciphertext: ciphertext.toString('base64') };
  }
  // One context for several messages; its ephemeral key comes from this invocation's KMS entropy
  // (a fresh key per invocation, used for this one encapsulation only).
  const sender = hpkeSenderContext(clientPublic, { suite, info, ephemeralKey: await context.secretScope.key('ephemeral') });
  const ciphertexts = [sender.seal(body, event.requestId), sender.seal(JSON.stringify({ done: true }))];
  return { enc: sender.enc.toString('base64'), ciphertexts: ciphertexts.map((c) => c.toString('base64')) };
}, options);
