/**
 * The KMS operations the endpoint serves. Each takes the parsed JSON request
 * and returns the JSON response; `issue` is told of every plaintext handed out.
 */
import { randomBytes } from 'node:crypto';
import { serialization, validation } from './errors.js';
import type { EncryptionContext, KeyStore } from './keystore.js';

export const OPERATIONS = ['GenerateRandom', 'Encrypt', 'Decrypt', 'GenerateDataKey', 'GenerateDataKeyWithoutPlaintext'] as const;
export type KmsOperationName = (typeof OPERATIONS)[number];

/** Operations that return plaintext (the ones `recordIssued` records). */
export type IssuingOperation = 'GenerateRandom' | 'Decrypt' | 'GenerateDataKey';

export interface OperationContext {
  keys: KeyStore;
  /** Called with the exact bytes about to be returned base64-encoded as `Plaintext`. */
  issue(operation: IssuingOperation, plaintext: Buffer): void;
}

type Input = Record<string, unknown>;
type Output = Record<string, unknown>;

const ALGORITHM = 'SYMMETRIC_DEFAULT';
const MAX_RANDOM_BYTES = 1024;
const MAX_PLAINTEXT_BYTES = 4096;
const MAX_CIPHERTEXT_BYTES = 6144;

export function isOperation(name: string): name is KmsOperationName {
  return (OPERATIONS as readonly string[]).includes(name);
}

export function runOperation(name: KmsOperationName, input: Input, ctx: OperationContext): Output {
  switch (name) {
    case 'GenerateRandom':
      return generateRandom(input, ctx);
    case 'Encrypt':
      return encrypt(input, ctx);
    case 'Decrypt':
      return decrypt(input, ctx);
    case 'GenerateDataKey':
      return generateDataKey(input, ctx);
    case 'GenerateDataKeyWithoutPlaintext':
      return generateDataKeyWithoutPlaintext(input, ctx);
  }
}

function generateRandom(input: Input, ctx: OperationContext): Output {
  const n = byteCount(input, 'NumberOfBytes', MAX_RANDOM_BYTES, true)!;
  return { Plaintext: handOut('GenerateRandom', randomBytes(n), ctx) };
}

function encrypt(input: Input, ctx: OperationContext): Output {
  const keyId = requiredString(input, 'KeyId');
  const plaintext = blob(input, 'Plaintext', MAX_PLAINTEXT_BYTES);
  const context = encryptionContext(input);
  const { blob: ciphertext, key } = ctx.keys.encrypt(keyId, plaintext, context);
  plaintext.fill(0);
  return { CiphertextBlob: ciphertext.toString('base64'), KeyId: key.arn, EncryptionAlgorithm: ALGORITHM };
}

function decrypt(input: Input, ctx: OperationContext): Output {
  const ciphertext = blob(input, 'CiphertextBlob', MAX_CIPHERTEXT_BYTES);
  const keyId = optionalString(input, 'KeyId');
  const context = encryptionContext(input);
  const algorithm = optionalString(input, 'EncryptionAlgorithm');
  if (algorithm !== undefined && algorithm !== ALGORITHM) {
    throw validation(`EncryptionAlgorithm ${algorithm} is not supported by this endpoint (only ${ALGORITHM})`);
  }
  const { plaintext, key } = ctx.keys.decrypt(ciphertext, context, keyId);
  return { Plaintext: handOut('Decrypt', plaintext, ctx), KeyId: key.arn, EncryptionAlgorithm: ALGORITHM };
}

/** A new data key encrypted under KeyId (GenerateDataKey and GenerateDataKeyWithoutPlaintext share it). */
function newDataKey(input: Input, ctx: OperationContext): { dataKey: Buffer; ciphertext: Buffer; arn: string } {
  const keyId = requiredString(input, 'KeyId');
  const spec = optionalString(input, 'KeySpec');
  const count = byteCount(input, 'NumberOfBytes', MAX_RANDOM_BYTES, false);
  if ((spec === undefined) === (count === undefined)) {
    throw validation('Specify either KeySpec or NumberOfBytes, but not both');
  }
  let n = count;
  if (spec !== undefined) {
    if (spec !== 'AES_256' && spec !== 'AES_128') throw validation(`KeySpec must be AES_256 or AES_128, not ${spec}`);
    n = spec === 'AES_256' ? 32 : 16;
  }
  const dataKey = randomBytes(n!);
  const { blob: ciphertext, key } = ctx.keys.encrypt(keyId, dataKey, encryptionContext(input));
  return { dataKey, ciphertext, arn: key.arn };
}

function generateDataKey(input: Input, ctx: OperationContext): Output {
  const { dataKey, ciphertext, arn } = newDataKey(input, ctx);
  const key = { arn };
  return {
    CiphertextBlob: ciphertext.toString('base64'),
    Plaintext: handOut('GenerateDataKey', dataKey, ctx),
    KeyId: key.arn,
  };
}

/** The same data key, returned only encrypted: no plaintext leaves the endpoint. */
function generateDataKeyWithoutPlaintext(input: Input, ctx: OperationContext): Output {
  const { dataKey, ciphertext, arn } = newDataKey(input, ctx);
  dataKey.fill(0);
  return { CiphertextBlob: ciphertext.toString('base64'), KeyId: arn };
}

/** Base64 of the bytes, after which our copy is wiped (the recorder keeps its own). */
function handOut(operation: IssuingOperation, plaintext: Buffer, ctx: OperationContext): string {
  ctx.issue(operation, plaintext);
  const encoded = plaintext.toString('base64');
  plaintext.fill(0);
  return encoded;
}

function requiredString(input: Input, field: string): string {
  const value = optionalString(input, field);
  if (value === undefined || value.length === 0) throw validation(`${field} is required`);
  return value;
}

function optionalString(input: Input, field: string): string | undefined {
  const value = input[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw serialization(`${field} must be a string`);
  return value;
}

function byteCount(input: Input, field: string, max: number, required: boolean): number | undefined {
  const value = input[field];
  if (value === undefined || value === null) {
    if (required) throw validation(`${field} is required`);
    return undefined;
  }
  if (typeof value !== 'number' || !Number.isInteger(value)) throw serialization(`${field} must be an integer`);
  if (value < 1 || value > max) {
    throw validation(`1 validation error detected: Value '${value}' at '${lowerFirst(field)}' failed to satisfy constraint: Member must have value between 1 and ${max}`);
  }
  return value;
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function blob(input: Input, field: string, max: number): Buffer {
  const value = requiredString(input, field);
  if (!BASE64.test(value)) throw serialization(`${field} is not valid base64`);
  const bytes = Buffer.from(value, 'base64');
  if (bytes.length < 1 || bytes.length > max) {
    throw validation(`1 validation error detected: Value at '${lowerFirst(field)}' failed to satisfy constraint: Member must have length between 1 and ${max}`);
  }
  return bytes;
}

function encryptionContext(input: Input): EncryptionContext | undefined {
  const value = input.EncryptionContext;
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'object' || Array.isArray(value)) throw serialization('EncryptionContext must be a map of strings');
  for (const v of Object.values(value)) {
    if (typeof v !== 'string') throw serialization('EncryptionContext values must be strings');
  }
  return value as EncryptionContext;
}

function lowerFirst(s: string): string {
  return s.charAt(0).toLowerCase() + s.slice(1);
}
