/**
 * secret-scope/kms-local: a KMS-compatible endpoint for local runs and tests.
 *
 * ```ts
 * const local = await startKmsLocal();
 * const kms = new KMSClient({ endpoint: local.url, region: 'us-east-1',
 *   credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
 * ```
 */
export { startKmsLocal, DEFAULT_ALIAS, DEFAULT_ACCOUNT_ID, FAULTS_ENV } from './server.js';
export type { KmsLocal, KmsLocalOptions, KmsLocalStats, KmsLocalLogger, IssuedPlaintext } from './server.js';
export type { KmsFaults, FaultSet, FaultTrigger, LatencyFault, ServerErrorFault, DeliveryFault, FaultKind } from './faults.js';
export type { CreateKeyOptions, EncryptionContext, KeyRef } from './keystore.js';
export type { KmsOperationName, IssuingOperation } from './operations.js';
export type { SigV4Credentials } from './sigv4.js';
export { createSelfSignedCertificate, type SelfSignedCertificate, type CertificateOptions } from './cert.js';
export { runKmsLocalCli, parseKmsLocalArgs, type KmsLocalCliIo, type KmsLocalCliArgs } from './cli.js';
