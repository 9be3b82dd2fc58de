// The seed's program, end to end: take 64 bytes of KMS entropy, HKDF-SHA512 them with
// a salt and a GUID as info, derive a SECP384R1 private key from the output (FIPS 186-5
// A.2.1: 56 bytes c, d = (c mod (n - 1)) + 1), sign an ES384 JWT with it, and scrub
// everything before the function returns.
//
// The 64 KMS bytes (GenerateRandom) land in guarded memory and are stirred with 32
// local random bytes into the scope's key (a stray copy of the KMS bytes alone gives
// nothing); HKDF-SHA512(salt, that key, GUID) is computed in the arena and turned into
// the P-384 scalar there. JavaScript only ever holds handles, the JWT and the public key.
// withSecretScope ends the scope (wiping the scalar, the PRK and the entropy) before the
// response leaves the handler.
import { randomUUID } from 'node:crypto';
import { withSecretScope, hkdf, SignJWT, exportJWK } from 'secret-scope';

export const SALT = 'seed-p384-jwt/v1';
export const options = { entropy: { kmsBytes: 64 } };

/** HKDF-SHA512(SALT, entropyKey, guid) -> P-384 private key (a handle) -> ES384 JWT and public JWK. */
export async function signSeedJwt(entropyKey, guid, user) {
  const signingKey = hkdf(entropyKey, { hash: 'sha512', salt: SALT, info: guid, use: 'ecdsa-p384', label: 'p384' });
  const jwt = await new SignJWT({ sub: user, guid })
    .setProtectedHeader({ alg: 'ES384', typ: 'JWT' })
    .setIssuedAt()
    .setIssuer('secret-scope/seed')
    .setExpirationTime('5m')
    .sign(signingKey);
  // The public JWK goes out so that the client (or a test) can verify; "d" never exists in JS.
  return { jwt, publicJwk: await exportJWK(signingKey), guid };
}

export const handler = withSecretScope(async (event, context) => {
  const guid = typeof event?.guid === 'string' ? event.guid : randomUUID();
  return signSeedJwt(await context.secretScope.prk(), guid, String(event?.user ?? 'anonymous'));
}, options);
