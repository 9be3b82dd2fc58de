export * from './errors.js';
export {
  configureSecretMemory,
  protectionReport,
  verifyGuards,
  hardenProcess,
  purgeAllSecrets,
  type SecretMemoryOptions,
  type ProtectionReport,
  type Backend,
  type Requirement,
} from './memory.js';
export { Key, type KeyOptions, type KeyUse } from './key.js';
export {
  randomKey,
  importKey,
  decodeKey,
  hkdf,
  hkdfExtract,
  hkdfExpand,
  hmacSign,
  hmacVerify,
  aeadSeal,
  aeadOpen,
  seal,
  open,
  x25519KeyPair,
  x25519PublicKey,
  x25519SharedSecret,
  exposeUnsafe,
  type Hash,
  type AeadAlgorithm,
  type Encoding,
  type HkdfOptions,
  type HmacOptions,
  type AeadOptions,
  type DecodeOptions,
} from './crypto.js';
export { SecretScope, openScope, withScope, type ScopeOptions } from './scope.js';
export { currentScope } from './scope-context.js';
export { testing } from './testing.js';
