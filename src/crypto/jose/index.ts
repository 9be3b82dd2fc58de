/**
 * JOSE on handles, in the `jose` package's vocabulary: compact JWS and JWT
 * (HS256, HS512, ES256, ES384, EdDSA), compact JWE ('dir', 'ECDH-ES'; A256GCM,
 * A128GCM) and public JWKs exported from private-key handles.
 */
import type { JsonWebKey } from 'node:crypto';
import { KeyUsageError } from '../../errors/index.js';
import type { Key } from '../../memory/key.js';
import { publicKey } from '../asymmetric.js';

export { CompactSign, compactVerify, type VerifyKey, type VerifyOptions } from './jws.js';
export { SignJWT, jwtVerify, type JWTPayload, type JWTVerifyOptions } from './jwt.js';
export { CompactEncrypt, compactDecrypt, type EncryptKey, type KeyManagementParameters, type DecryptOptions } from './jwe.js';
export type { JWSHeaderParameters, JWEHeaderParameters, JwsAlgorithm } from './encoding.js';

/** `exportJWK(key)`, as in `jose`, for a private-key handle: its PUBLIC JWK only (never "d"). */
export async function exportJWK(key: Key): Promise<JsonWebKey> {
  if (!['ed25519', 'ecdsa-p256', 'ecdsa-p384', 'ecdh-p256', 'ecdh-p384', 'x25519'].includes(key?.use)) {
    throw new KeyUsageError('ERR_KEY_USAGE', `exportJWK: only the public part of a private key is exported; this key's use is '${String(key?.use)}'`);
  }
  return publicKey(key, { format: 'jwk' });
}
