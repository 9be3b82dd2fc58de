/** Public entry point `secret-scope/kms-local`: the KMS-compatible local endpoint. */
export * from './kms-local/index.js';
