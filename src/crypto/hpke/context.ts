/**
 * HPKE base-mode encryption contexts (RFC 9180 5.1-5.3). The key schedule runs
 * on handles: `secret` is a LabeledExtract keyed by the KEM shared secret, the
 * AEAD key and base_nonce share one slot of use 'hpke' (the addon computes each
 * nonce = base_nonce XOR seq, so base_nonce never reaches JavaScript), and the
 * exporter secret is a Key from which `export` derives Keys.
 */
import { InvalidArgumentError } from '../../errors/index.js';
import { native } from '../../memory/native.js';
import { keyId, ownerFor, requireUse, wrapKey, type Key, type KeyOptions } from '../../memory/key.js';
import { onlyKnownOptions, toBytes } from '../../memory/bytes.js';
import { hkdfExpand, type DerivedUse } from '../hkdf.js';
import type { Bytes } from '../options.js';
import { labeledInfo, labelPrefix, publicLabeledExtract, type ResolvedSuite } from './suite.js';

const SHA256 = 0;
const NN = 12;
const MODE_BASE = Buffer.from([0x00]);

export interface HpkeExportOptions extends KeyOptions {
  /** The exported key's use (default 'secret'); private-key uses imply the length. */
  use?: DerivedUse;
}

/** The keys of one context: AEAD key || base_nonce (use 'hpke') and the exporter secret (use 'hkdf'). */
export interface ContextKeys {
  contextKey: Key;
  exporterSecret: Key;
}

/** KeySchedule(mode_base, shared_secret, info, "", ""): `shared` stays the caller's to release. */
export function keySchedule(suite: ResolvedSuite, shared: Key, info: Uint8Array, options: KeyOptions | undefined): ContextKeys {
  const ksc = Buffer.concat([
    MODE_BASE,
    publicLabeledExtract(suite.suiteId, 'psk_id_hash', Buffer.alloc(0)),
    publicLabeledExtract(suite.suiteId, 'info_hash', info),
  ]);
  const { scope, nativeScope } = ownerFor(options);
  const secretId = native().hpkeLabeledExtract(SHA256, keyId(shared, 'hpke'), labelPrefix(suite.suiteId, 'secret'), undefined, 0);
  const secret = wrapKey(secretId, null, 32, 'hkdf');
  try {
    const keyInfo = labeledInfo(suite.suiteId, 'key', ksc, suite.nk);
    const nonceInfo = labeledInfo(suite.suiteId, 'base_nonce', ksc, NN);
    const contextKey = wrapKey(native().hpkeContextKey(SHA256, secretId, keyInfo, nonceInfo, suite.nk, nativeScope), scope, suite.nk + NN, 'hpke', options?.label);
    try {
      const exporterSecret = hkdfExpand(secret, { info: labeledInfo(suite.suiteId, 'exp', ksc, 32), length: 32, scope, label: options?.label });
      return { contextKey, exporterSecret };
    } catch (e) {
      contextKey.release();
      throw e;
    }
  } finally {
    secret.release();
  }
}

/** What sender and recipient contexts share: the sequence number, export and destroy. */
abstract class HpkeContext {
  readonly #suite: ResolvedSuite;
  readonly #keys: ContextKeys;
  #seq = 0;

  protected constructor(suite: ResolvedSuite, keys: ContextKeys) {
    this.#suite = suite;
    this.#keys = keys;
  }

  /** The sequence number of the next message (starts at 0; +1 per successful seal/open). */
  get seq(): number {
    return this.#seq;
  }

  /** The suite's AEAD. */
  get aead(): string {
    return this.#suite.aead;
  }

  protected crypt(what: 'seal' | 'open', input: Bytes, aad: Bytes | undefined): Buffer {
    const id = keyId(this.#keys.contextKey, `hpke ${what}`);
    requireUse(this.#keys.contextKey, 'hpke', `hpke ${what}`);
    if (this.#seq >= Number.MAX_SAFE_INTEGER) {
      throw new InvalidArgumentError('ERR_INVALID_ARGUMENT', `hpke ${what}: message limit reached (sequence number 2^53 - 1)`);
    }
    const data = toBytes(input, what === 'seal' ? 'plaintext' : 'ciphertext')!;
    const a = toBytes(aad, 'aad', true);
    const out = what === 'seal'
      ? native().hpkeSeal(this.#suite.aeadNumber, id, this.#seq, data, a)
      : native().hpkeOpen(this.#suite.aeadNumber, id, this.#seq, data, a);
    this.#seq++; // only after success: a failed open leaves the context where it was (RFC 9180 5.2)
    return out;
  }

  /** Export(exporter_context, L) (RFC 9180 5.3): a new Key of `length` bytes, never bytes. */
  export(exporterContext: Bytes, length: number, options: HpkeExportOptions = {}): Key {
    onlyKnownOptions(options, ['use', 'scope', 'label'], 'hpke export');
    if (!Number.isInteger(length) || length < 1 || length > 255 * 32) {
      throw new InvalidArgumentError('ERR_INVALID_ARGUMENT', 'hpke export: length must be an integer from 1 to 8160');
    }
    const ctx = toBytes(exporterContext, 'exporter context')!;
    return hkdfExpand(this.#keys.exporterSecret, {
      info: labeledInfo(this.#suite.suiteId, 'sec', ctx, length),
      length,
      use: options.use ?? 'secret',
      ...(options.scope !== undefined ? { scope: options.scope } : {}),
      label: options.label,
    });
  }

  /** Wipes the context's keys now (ending their scope does the same). */
  destroy(): void {
    for (const k of [this.#keys.contextKey, this.#keys.exporterSecret]) if (k.alive) k.release();
  }
}

/** The sender's context: `enc` goes to the recipient with the ciphertexts. */
export class HpkeSenderContext extends HpkeContext {
  readonly enc: Buffer;

  /** @internal use hpkeSenderContext() */
  constructor(suite: ResolvedSuite, keys: ContextKeys, enc: Buffer) {
    super(suite, keys);
    this.enc = enc;
  }

  /** Seals the next message (nonce = base_nonce XOR seq). Returns ciphertext || tag. */
  seal(plaintext: Bytes, aad?: Bytes): Buffer {
    return this.crypt('seal', plaintext, aad);
  }
}

/** The recipient's context: opens messages in the order they were sealed. */
export class HpkeRecipientContext extends HpkeContext {
  /** @internal use hpkeRecipientContext() */
  constructor(suite: ResolvedSuite, keys: ContextKeys) {
    super(suite, keys);
  }

  /** Opens the next message; AuthenticationError (and seq unchanged) when it does not verify. */
  open(ciphertext: Bytes, aad?: Bytes): Buffer {
    return this.crypt('open', ciphertext, aad);
  }
}
