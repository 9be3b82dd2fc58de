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
export { Key, type KeyOptions, type KeyUse, type AsymmetricUse } from './key.js';
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
  randomKey,
  importKey,
  decodeKey,
  hkdf,
  hkdfExtract,
  hkdfExpand,
  hkdfExpandMany,
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
  type DerivedUse,
  type HmacOptions,
  type AeadOptions,
  type DecodeOptions,
} from './crypto.js';
export { SecretScope, openScope, withScope, type ScopeOptions } from './scope.js';
export { currentScope } from './scope-context.js';
export { testing } from './testing.js';
export { withSecretScope, withSecretScopeStreaming, TimeoutError, type ScopedContext } from './wrapper.js';
export { secretScopeMiddleware, secretScopeValidateOptions, bindScope } from './middy.js';
export { secretScoped } from './decorator.js';
export { InvocationScope, SecretScopeCore, type SecretScopeOptions, type KeySpec, type DeclaredUse } from './invocation.js';
export { EntropySource, type EntropyOptions, type EntropyPolicy, type EntropyStats } from './entropy.js';
export { KmsAccess, type KmsOptions } from './kms-client.js';
export { ZeroingHttpAgent, ZeroingHttpsAgent } from './kms-agents.js';
export { decryptRootKey, generateRootKey, type RootKeyOptions } from './root-keys.js';
export { sendCapturingPlaintext, findPlaintext } from './kms-capture.js';
export { installExitPurge } from './exit.js';
