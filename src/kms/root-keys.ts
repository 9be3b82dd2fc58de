/**
 * Root keys for stable derivation (envelope encryption). A root key comes from
 * KMS Decrypt of a ciphertext blob (or GenerateDataKey), is decoded from the
 * HTTP body into a vault slot that is PROT_NONE between uses, and lives as long
 * as the container. Scopes derive per-tenant or per-record keys from it.
 */
import { KmsEntropyError, OptionsError } from '../errors/index.js';
import type { Key } from '../memory/key.js';
import { loadKms, type KmsAccess } from './client.js';
import { sendCapturingPlaintext } from './capture.js';

export interface RootKeyOptions {
  /** The encrypted root key (base64 string or bytes), as stored beside the function. */
  ciphertextBlob: string | Uint8Array;
  /** Expected KMS key id or ARN (recommended: KMS then refuses a blob of another key). */
  keyId?: string;
  encryptionContext?: Record<string, string>;
}

export function validateRootOptions(o: RootKeyOptions | undefined): RootKeyOptions | undefined {
  if (o === undefined) return undefined;
  if (o === null || typeof o !== 'object') throw new OptionsError('ERR_OPTIONS', 'root must be an object');
  for (const k of Object.keys(o)) {
    if (!['ciphertextBlob', 'keyId', 'encryptionContext'].includes(k)) throw new OptionsError('ERR_OPTIONS', `root: unknown option '${k}'`);
  }
  if (typeof o.ciphertextBlob !== 'string' && !(o.ciphertextBlob instanceof Uint8Array)) {
    throw new OptionsError('ERR_OPTIONS', 'root.ciphertextBlob must be a base64 string or bytes');
  }
  if (o.keyId !== undefined && typeof o.keyId !== 'string') throw new OptionsError('ERR_OPTIONS', 'root.keyId must be a string');
  return o;
}

/** Decrypts a root key into a sealed, container-lived slot. */
export async function decryptRootKey(kms: KmsAccess, options: RootKeyOptions): Promise<Key> {
  const client = await kms.client();
  const { DecryptCommand } = await loadKms();
  const blob = typeof options.ciphertextBlob === 'string' ? Buffer.from(options.ciphertextBlob, 'base64') : options.ciphertextBlob;
  kms.calls++;
  const command = new DecryptCommand({
    CiphertextBlob: blob,
    KeyId: options.keyId,
    EncryptionContext: options.encryptionContext,
  });
  const { key } = await sendCapturingPlaintext(client, command as never, { scope: null, sealed: true, use: 'root', label: 'root' });
  return key;
}

/** Makes a new root key with GenerateDataKey: the key sealed in memory, and its blob to store. */
export async function generateRootKey(
  kms: KmsAccess,
  options: { keyId: string; encryptionContext?: Record<string, string> },
): Promise<{ key: Key; ciphertextBlob: string }> {
  const client = await kms.client();
  const { GenerateDataKeyCommand } = await loadKms();
  kms.calls++;
  const command = new GenerateDataKeyCommand({ KeyId: options.keyId, KeySpec: 'AES_256', EncryptionContext: options.encryptionContext });
  const { key, output } = await sendCapturingPlaintext<{ CiphertextBlob?: Uint8Array }>(client, command as never, {
    scope: null,
    sealed: true,
    use: 'root',
    label: 'root',
  });
  if (!output.CiphertextBlob) {
    key.release();
    throw new KmsEntropyError('ERR_KMS', 'GenerateDataKey returned no CiphertextBlob');
  }
  return { key, ciphertextBlob: Buffer.from(output.CiphertextBlob).toString('base64') };
}

/** Container-lived root key: decrypted once, retried on the next use after a failure. */
export class RootKeyHolder {
  #key: Promise<Key> | undefined;
  constructor(
    private readonly kms: KmsAccess,
    private readonly options: RootKeyOptions,
  ) {}

  get(): Promise<Key> {
    if (!this.#key) {
      const p = decryptRootKey(this.kms, this.options);
      this.#key = p;
      p.catch(() => {
        if (this.#key === p) this.#key = undefined;
      });
    }
    return this.#key;
  }

  dispose(): void {
    const p = this.#key;
    this.#key = undefined;
    p?.then((k) => k.alive && k.release()).catch(() => undefined);
  }
}
