/**
 * Who talks to KMS: the client, the capture that decodes plaintext off the V8
 * heap straight into guarded memory, zeroing socket agents, entropy policies
 * and root keys.
 */
export { EntropySource, type EntropyOptions, type EntropyPolicy, type EntropyStats } from './entropy.js';
export { KmsAccess, type KmsOptions } from './client.js';
export { ZeroingHttpAgent, ZeroingHttpsAgent } from './agents.js';
export { decryptRootKey, generateRootKey, type RootKeyOptions } from './root-keys.js';
export { sendCapturingPlaintext, findPlaintext } from './capture.js';
