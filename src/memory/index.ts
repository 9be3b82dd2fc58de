/**
 * Where key bytes live: the addon loader, the guarded-memory policy and its
 * protection report, Key handles, and the checks on byte inputs.
 */
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
} from './policy.js';
export { Key, type KeyOptions, type KeyUse, type AsymmetricUse } from './key.js';
