/**
 * HPKE (RFC 9180) base mode on handles: DHKEM(X25519 | P-256, HKDF-SHA256),
 * HKDF-SHA256, ChaCha20-Poly1305 / AES-128-GCM / AES-256-GCM, single-shot and
 * context APIs, and the secret export interface (exported secrets are Keys).
 */
import { InvalidArgumentError, KeyUsageError } from '../../errors/index.js';
import { keyId, type Key, type KeyOptions } from '../../memory/key.js';
import { onlyKnownOptions, toBytes } from '../../memory/bytes.js';
import type { Bytes } from '../options.js';
import { decap, deriveKeyPair, encap, recipientPublicKey as serializedRecipientKey } from './kem.js';
import { HpkeRecipientContext, HpkeSenderContext, keySchedule } from './context.js';
import { kemForUse, resolveSuite, type HpkeKem, type HpkeSuite } from './suite.js';

export { HpkeSenderContext, HpkeRecipientContext, type HpkeExportOptions } from './context.js';
export type { HpkeSuite, HpkeKem, HpkeKdf, HpkeAead } from './suite.js';

export interface HpkeContextOptions extends KeyOptions {
  suite?: HpkeSuite;
  /** Application info bound into the key schedule (default empty). */
  info?: Bytes;
}

export interface HpkeSenderOptions extends HpkeContextOptions {
  /**
   * The ephemeral private key to use instead of a random one: a fresh key used for this
   * one encapsulation only (e.g. declared in options.keys, derived from the invocation's
   * KMS entropy), or hpkeDeriveKeyPair(ikmE) for known-answer tests. Reusing an ephemeral
   * key for a second encapsulation breaks HPKE's security.
   */
  ephemeralKey?: Key;
}

export interface HpkeSealOptions {
  suite?: HpkeSuite;
  info?: Bytes;
  aad?: Bytes;
}

const CONTEXT_OPTS = ['suite', 'info', 'scope', 'label'];
const SEAL_OPTS = ['suite', 'info', 'aad'];

function infoOf(info: Bytes | undefined): Buffer {
  return Buffer.from(toBytes(info, 'info', true) ?? Buffer.alloc(0));
}

/** SetupBaseS: a sender context for the recipient's public key (raw; SPKI and compressed P-256 accepted). */
export function hpkeSenderContext(recipientPublicKey: Uint8Array, options: HpkeSenderOptions = {}): HpkeSenderContext {
  onlyKnownOptions(options, [...CONTEXT_OPTS, 'ephemeralKey'], 'hpkeSenderContext');
  const suite = resolveSuite(options.suite, 'hpkeSenderContext');
  if (!(recipientPublicKey instanceof Uint8Array)) {
    throw new InvalidArgumentError('ERR_INVALID_ARGUMENT', 'hpkeSenderContext: the recipient public key must be a Buffer or Uint8Array');
  }
  const pkRm = serializedRecipientKey(suite.kem, recipientPublicKey);
  const info = infoOf(options.info);
  const { shared, enc } = encap(suite.kem, pkRm, options.ephemeralKey);
  try {
    return new HpkeSenderContext(suite, keySchedule(suite, shared, info, options), enc);
  } finally {
    shared.release();
  }
}

/** SetupBaseR: a recipient context from the private key (a handle) and the sender's enc. */
export function hpkeRecipientContext(privateKey: Key, enc: Uint8Array, options: HpkeContextOptions = {}): HpkeRecipientContext {
  onlyKnownOptions(options, CONTEXT_OPTS, 'hpkeRecipientContext');
  keyId(privateKey, 'hpkeRecipientContext');
  const kem = kemForUse(privateKey.use);
  if (!kem) {
    throw new KeyUsageError('ERR_KEY_USAGE', `hpkeRecipientContext: this key's use is '${privateKey.use}'; HPKE takes an 'x25519' or 'ecdh-p256' private key`);
  }
  const suite = resolveSuite(options.suite, 'hpkeRecipientContext', kem);
  if (suite.kem.name !== kem) {
    throw new KeyUsageError('ERR_KEY_USAGE', `hpkeRecipientContext: a '${privateKey.use}' key does not fit the suite's KEM '${suite.kem.name}'`);
  }
  const info = infoOf(options.info);
  const shared = decap(suite.kem, privateKey, toBytes(enc, 'enc')!);
  try {
    return new HpkeRecipientContext(suite, keySchedule(suite, shared, info, options));
  } finally {
    shared.release();
  }
}

/** Single-shot Seal: one message to the recipient's public key. */
export function hpkeSeal(recipientPublicKey: Uint8Array, plaintext: Bytes, options: HpkeSealOptions = {}): { enc: Buffer; ciphertext: Buffer } {
  onlyKnownOptions(options, SEAL_OPTS, 'hpkeSeal');
  const ctx = hpkeSenderContext(recipientPublicKey, { suite: options.suite, info: options.info, scope: null });
  try {
    return { enc: ctx.enc, ciphertext: ctx.seal(plaintext, options.aad) };
  } finally {
    ctx.destroy();
  }
}

/** Single-shot Open with a private-key handle. AuthenticationError when it does not verify. */
export function hpkeOpen(privateKey: Key, enc: Uint8Array, ciphertext: Bytes, options: HpkeSealOptions = {}): Buffer {
  onlyKnownOptions(options, SEAL_OPTS, 'hpkeOpen');
  const ctx = hpkeRecipientContext(privateKey, enc, { suite: options.suite, info: options.info, scope: null });
  try {
    return ctx.open(ciphertext, options.aad);
  } finally {
    ctx.destroy();
  }
}

/** DeriveKeyPair(ikm) of the KEM (RFC 9180 7.1.3): a private key handle from an IKM key, and its public key. */
export function hpkeDeriveKeyPair(ikm: Key, options: KeyOptions & { kem?: HpkeKem } = {}): { privateKey: Key; publicKey: Buffer } {
  onlyKnownOptions(options, ['kem', 'scope', 'label'], 'hpkeDeriveKeyPair');
  const suite = resolveSuite({ kem: options.kem }, 'hpkeDeriveKeyPair');
  return deriveKeyPair(suite.kem, ikm, options);
}
