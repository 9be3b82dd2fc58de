/**
 * Operations on keys, one module per family. Outputs that are key material
 * become new Keys (slots); outputs that are public (tags, ciphertexts,
 * plaintexts, public keys) are Buffers.
 */
export { type Hash, type AeadAlgorithm, type Encoding, type Bytes } from './options.js';
export { randomKey, importKey, decodeKey, type DecodeOptions } from './import.js';
export { hkdf, hkdfExtract, hkdfExpand, hkdfExpandMany, MAX_EXPAND_MANY, DERIVED_USES, IMPLIED_LENGTH, type HkdfOptions, type DerivedUse } from './hkdf.js';
export { hmacSign, hmacVerify, type HmacOptions } from './hmac.js';
export { aeadSeal, aeadOpen, seal, open, type AeadOptions } from './aead.js';
export { x25519KeyPair, x25519PublicKey, x25519SharedSecret } from './x25519.js';
export { exposeUnsafe } from './expose.js';
export {
  generateKeyPair,
  importPrivateKey,
  publicKey,
  sign,
  verify,
  sharedSecret,
  type SignatureUse,
  type AgreementUse,
  type SignatureFormat,
  type PublicKeyFormat,
} from './asymmetric.js';
export {
  hpkeSeal,
  hpkeOpen,
  hpkeSenderContext,
  hpkeRecipientContext,
  hpkeDeriveKeyPair,
  HpkeSenderContext,
  HpkeRecipientContext,
  type HpkeSuite,
  type HpkeKem,
  type HpkeKdf,
  type HpkeAead,
  type HpkeContextOptions,
  type HpkeSenderOptions,
  type HpkeSealOptions,
  type HpkeExportOptions,
} from './hpke/index.js';
export {
  CompactSign,
  compactVerify,
  SignJWT,
  jwtVerify,
  CompactEncrypt,
  compactDecrypt,
  exportJWK,
  type VerifyKey,
  type VerifyOptions,
  type JWTPayload,
  type JWTVerifyOptions,
  type EncryptKey,
  type KeyManagementParameters,
  type DecryptOptions,
  type JWSHeaderParameters,
  type JWEHeaderParameters,
  type JwsAlgorithm,
} from './jose/index.js';
