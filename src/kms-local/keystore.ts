/**
 * The endpoint's symmetric keys (AES-256 material held in this process), their
 * aliases, and the ciphertext blob format.
 *
 * Blob v1 layout (all of it authenticated):
 *   [0]      0x01 version
 *   [1]      n = length of the key id (ASCII, a UUID)
 *   [2..2+n) key id
 *   next 12  GCM IV
 *   next 16  GCM tag
 *   rest     AES-256-GCM ciphertext
 * AAD = version byte, key id length, key id, then the canonical encryption context.
 */
import { createCipheriv, createDecipheriv, randomBytes, randomUUID } from 'node:crypto';
import { incorrectKey, invalidCiphertext, notFound } from './errors.js';

export const BLOB_VERSION = 1;
const IV_BYTES = 12;
const TAG_BYTES = 16;

export type EncryptionContext = Record<string, string>;

export interface KeyRef {
  keyId: string;
  arn: string;
}

export interface CreateKeyOptions {
  /** An alias to point at the new key, e.g. `alias/my-app` (must start with `alias/`, not `alias/aws/`). */
  alias?: string;
  description?: string;
}

interface LocalKey extends KeyRef {
  readonly material: Buffer;
  readonly description: string;
}

/** Length-prefixed, key-sorted encoding so that {a:"bc"} and {ab:"c"} differ. */
export function encodeEncryptionContext(context: EncryptionContext | undefined): Buffer {
  const entries = Object.entries(context ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const parts: Buffer[] = [u32(entries.length)];
  for (const [k, v] of entries) {
    const kb = Buffer.from(k, 'utf8');
    const vb = Buffer.from(v, 'utf8');
    parts.push(u32(kb.length), kb, u32(vb.length), vb);
  }
  return Buffer.concat(parts);
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}

export class KeyStore {
  readonly region: string;
  readonly accountId: string;
  readonly #keys = new Map<string, LocalKey>();
  readonly #aliases = new Map<string, string>();

  constructor(region: string, accountId: string) {
    this.region = region;
    this.accountId = accountId;
  }

  createKey(options: CreateKeyOptions = {}): KeyRef {
    if (options.alias !== undefined) {
      if (!/^alias\/[a-zA-Z0-9/_-]{1,250}$/.test(options.alias) || options.alias.startsWith('alias/aws/')) {
        throw new TypeError(`createKey: alias must look like "alias/name" and not use the reserved "alias/aws/" prefix`);
      }
      if (this.#aliases.has(options.alias)) throw new TypeError(`createKey: alias ${options.alias} already exists`);
    }
    const keyId = randomUUID();
    const key: LocalKey = {
      keyId,
      arn: `arn:aws:kms:${this.region}:${this.accountId}:key/${keyId}`,
      material: randomBytes(32),
      description: options.description ?? '',
    };
    this.#keys.set(keyId, key);
    if (options.alias !== undefined) this.#aliases.set(options.alias, keyId);
    return { keyId, arn: key.arn };
  }

  /** Key id, key ARN, alias name or alias ARN -> key; NotFoundException otherwise. */
  resolve(reference: string): KeyRef {
    return this.#resolve(reference);
  }

  #resolve(reference: string): LocalKey {
    let id: string | undefined;
    const arn = /^arn:aws[a-z-]*:kms:([^:]*):([^:]*):((?:key|alias)\/.+)$/.exec(reference);
    const resource = arn ? arn[3]! : reference;
    if (arn && (arn[1] !== this.region || arn[2] !== this.accountId)) {
      throw notFound(`Key '${reference}' does not exist (this endpoint serves ${this.region}, account ${this.accountId})`);
    }
    if (resource.startsWith('alias/')) id = this.#aliases.get(resource);
    else if (resource.startsWith('key/')) id = resource.slice(4);
    else id = resource;
    const key = id === undefined ? undefined : this.#keys.get(id);
    if (!key) throw notFound(`Key '${reference}' does not exist`);
    return key;
  }

  encrypt(reference: string, plaintext: Uint8Array, context?: EncryptionContext): { blob: Buffer; key: KeyRef } {
    const key = this.#resolve(reference);
    const header = Buffer.concat([Buffer.from([BLOB_VERSION, key.keyId.length]), Buffer.from(key.keyId, 'ascii')]);
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', key.material, iv);
    cipher.setAAD(Buffer.concat([header, encodeEncryptionContext(context)]));
    const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    return { blob: Buffer.concat([header, iv, cipher.getAuthTag(), body]), key };
  }

  /**
   * Opens a blob. `expectedKey`, when given, must name the key the blob was made
   * under (IncorrectKeyException otherwise, as KMS does).
   */
  decrypt(blob: Buffer, context?: EncryptionContext, expectedKey?: string): { plaintext: Buffer; key: KeyRef } {
    const expected = expectedKey === undefined ? undefined : this.#resolve(expectedKey);
    if (blob.length < 2 || blob[0] !== BLOB_VERSION) throw invalidCiphertext('The ciphertext blob is not in a format this endpoint made');
    const idLength = blob[1]!;
    const bodyStart = 2 + idLength + IV_BYTES + TAG_BYTES;
    if (blob.length <= bodyStart) throw invalidCiphertext('The ciphertext blob is too short');
    const header = blob.subarray(0, 2 + idLength);
    const keyId = header.subarray(2).toString('ascii');
    const key = this.#keys.get(keyId);
    if (!key) throw invalidCiphertext('The ciphertext blob refers to a key this endpoint does not hold');
    if (expected && expected.keyId !== key.keyId) {
      throw incorrectKey();
    }
    const iv = blob.subarray(2 + idLength, 2 + idLength + IV_BYTES);
    const tag = blob.subarray(2 + idLength + IV_BYTES, bodyStart);
    const decipher = createDecipheriv('aes-256-gcm', key.material, iv);
    decipher.setAAD(Buffer.concat([header, encodeEncryptionContext(context)]));
    decipher.setAuthTag(tag);
    try {
      const plaintext = Buffer.concat([decipher.update(blob.subarray(bodyStart)), decipher.final()]);
      return { plaintext, key };
    } catch {
      throw invalidCiphertext();
    }
  }
}
