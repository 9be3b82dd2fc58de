/**
 * Signature and key-agreement keys on handles: Ed25519, ECDSA and ECDH on P-256
 * and P-384, and X25519. Private keys live only in the arena; public keys, signatures
 * and encodings are ordinary Buffers. Shared secrets become Keys of use 'shared',
 * which HKDF accepts as input key material (and nothing else does).
 */
import { verify as nodeVerify, createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import { native } from '../memory/native.js';
import { InvalidArgumentError, KeyUsageError } from '../errors/index.js';
import { ASYMMETRIC_USES, Key, keyId, ownerFor, requireUse, wrapKey, USE_IDS, type AsymmetricUse, type KeyOptions } from '../memory/key.js';
import { onlyKnownOptions, toBytes } from '../memory/bytes.js';
import { secretInputLength, stage, unstage, type SecretInput } from './import.js';
import { encodePublicKey, peerPublicKey, rawFromJwk, spkiFromRaw, type PublicKeyFormat } from './public-keys.js';

export type { PublicKeyFormat } from './public-keys.js';
export type SignatureUse = 'ed25519' | 'ecdsa-p256' | 'ecdsa-p384';
export type AgreementUse = 'x25519' | 'ecdh-p256' | 'ecdh-p384';
/** ECDSA signature encoding: ASN.1 DER (node:crypto's default) or IEEE P1363 r || s (JOSE). */
export type SignatureFormat = 'der' | 'p1363';

const SIGNATURE_USES: readonly SignatureUse[] = ['ed25519', 'ecdsa-p256', 'ecdsa-p384'];
const AGREEMENT_USES: readonly AgreementUse[] = ['x25519', 'ecdh-p256', 'ecdh-p384'];
const KEY_OPTS = ['scope', 'label'];
const IMPORT_OPTS = [...KEY_OPTS, 'use'];
const PRIVATE_LENGTH: Record<AsymmetricUse, number> = {
  x25519: 32, ed25519: 32, 'ecdsa-p256': 32, 'ecdh-p256': 32, 'ecdsa-p384': 48, 'ecdh-p384': 48,
};
const HASH: Record<SignatureUse, string | null> = { ed25519: null, 'ecdsa-p256': 'sha256', 'ecdsa-p384': 'sha384' };

function asymmetricUse(use: unknown, what: string): AsymmetricUse {
  if (!ASYMMETRIC_USES.includes(use as AsymmetricUse)) {
    throw new InvalidArgumentError('ERR_INVALID_ARGUMENT', `${what}: use must be one of ${ASYMMETRIC_USES.join(', ')}`);
  }
  return use as AsymmetricUse;
}

/** A new private key of `use` (random) and its raw public key. EC scalars: FIPS 186-5 A.2.1 from 40/56 random bytes. */
export function generateKeyPair(use: AsymmetricUse, options?: KeyOptions): { privateKey: Key; publicKey: Buffer } {
  onlyKnownOptions(options, KEY_OPTS, 'generateKeyPair');
  const u = asymmetricUse(use, 'generateKeyPair');
  const { scope, nativeScope } = ownerFor(options);
  const [id, publicKey] = native().keyGenerate(USE_IDS[u], nativeScope);
  return { privateKey: wrapKey(id, scope, PRIVATE_LENGTH[u], u, options?.label), publicKey };
}

/**
 * Imports a raw private key (EC: the big-endian scalar, 1 <= d <= n - 1; Ed25519: the
 * 32-byte seed; X25519: the 32-byte scalar) and zeroes `bytes`, also when it is refused.
 */
export function importPrivateKey(bytes: SecretInput, options: KeyOptions & { use: AsymmetricUse }): Key {
  const length = secretInputLength(bytes, 'importPrivateKey: the private key');
  // Staged (and the caller's bytes zeroed) first: nothing allocates before (see stage()),
  // and a refused option, use or scope must not leave the key behind.
  const staged = stage(bytes, 0, length);
  try {
    onlyKnownOptions(options, IMPORT_OPTS, 'importPrivateKey');
    const u = asymmetricUse(options?.use, 'importPrivateKey');
    const { scope, nativeScope } = ownerFor(options);
    return wrapKey(native().keyImportPrivate(staged, USE_IDS[u], nativeScope), scope, PRIVATE_LENGTH[u], u, options.label);
  } finally {
    unstage(staged);
  }
}

function keyUse(key: Key, what: string): AsymmetricUse {
  keyId(key, what);
  requireUse(key, 'publicKey', what);
  return key.use as AsymmetricUse;
}

/**
 * The public key of a private key: 'raw' (SEC1 uncompressed point of 65/97 bytes for
 * P-256/P-384, 32 bytes for Ed25519/X25519), 'spki' (DER) or 'jwk' (never with "d").
 */
export function publicKey(key: Key, options?: { format?: 'raw' | 'spki' }): Buffer;
export function publicKey(key: Key, options: { format: 'jwk' }): JsonWebKey;
export function publicKey(key: Key, options: { format?: PublicKeyFormat } = {}): Buffer | JsonWebKey {
  onlyKnownOptions(options, ['format'], 'publicKey');
  const format = options.format ?? 'raw';
  if (format !== 'raw' && format !== 'spki' && format !== 'jwk') {
    throw new InvalidArgumentError('ERR_INVALID_ARGUMENT', "publicKey: format must be 'raw', 'spki' or 'jwk'");
  }
  const use = keyUse(key, 'publicKey');
  return encodePublicKey(use, native().keyPublic(keyId(key, 'publicKey')), format);
}

function signatureFormat(use: SignatureUse, format: unknown, what: string): boolean {
  if (use === 'ed25519') {
    if (format !== undefined) throw new InvalidArgumentError('ERR_INVALID_ARGUMENT', `${what}: Ed25519 signatures have one format; omit 'format'`);
    return false;
  }
  if (format === undefined || format === 'der') return true;
  if (format === 'p1363') return false;
  throw new InvalidArgumentError('ERR_INVALID_ARGUMENT', `${what}: format must be 'der' or 'p1363'`);
}

/**
 * Signs `message`: ECDSA P-256 with SHA-256, P-384 with SHA-384 (RFC 6979 deterministic
 * nonces; DER by default, 'p1363' for r || s as JOSE wants), or Ed25519 (RFC 8032).
 */
export function sign(key: Key, message: Uint8Array | string, options: { format?: SignatureFormat } = {}): Buffer {
  onlyKnownOptions(options, ['format'], 'sign');
  const id = keyId(key, 'sign');
  const use = key.use as SignatureUse;
  if (!SIGNATURE_USES.includes(use)) {
    throw new KeyUsageError('ERR_KEY_USAGE', `sign: this key's use is '${key.use}', not a signature use (${SIGNATURE_USES.join(', ')})`);
  }
  const der = signatureFormat(use, options.format, 'sign');
  return native().sign(id, toBytes(message, 'message')!, der);
}

/**
 * Verifies a signature with a public key (raw or SPKI bytes, or a public JWK) by
 * node:crypto. Returns false for a wrong or malformed signature; a malformed public
 * key throws InvalidPublicKeyError.
 */
export function verify(
  key: Uint8Array | JsonWebKey,
  message: Uint8Array | string,
  signature: Uint8Array,
  options: { use: SignatureUse; format?: SignatureFormat },
): boolean {
  onlyKnownOptions(options, ['use', 'format'], 'verify');
  const use = options?.use;
  if (!SIGNATURE_USES.includes(use)) {
    throw new InvalidArgumentError('ERR_INVALID_ARGUMENT', `verify: use must be one of ${SIGNATURE_USES.join(', ')}`);
  }
  const der = signatureFormat(use, options.format, 'verify');
  const raw = key instanceof Uint8Array ? peerPublicKey(use, key) : rawFromJwk(use, key);
  const keyObject: KeyObject = createPublicKey({ key: spkiFromRaw(use, raw), format: 'der', type: 'spki' });
  const sig = toBytes(signature, 'signature')!;
  const msg = toBytes(message, 'message')!;
  try {
    if (use === 'ed25519') return nodeVerify(null, msg, keyObject, sig);
    return nodeVerify(HASH[use]!, msg, { key: keyObject, dsaEncoding: der ? 'der' : 'ieee-p1363' }, sig);
  } catch {
    return false; // node:crypto throws on some malformed signatures: they are invalid
  }
}

/**
 * Key agreement: X25519, or ECDH on P-256/P-384 with full validation of the peer's
 * public key (raw SEC1 point, uncompressed or compressed, or SPKI; on the curve).
 * The shared secret (the x-coordinate for ECDH, as RFC 9180's DHKEM uses it) becomes
 * a Key of use 'shared': HKDF input only.
 */
export function sharedSecret(privateKey: Key, peerKey: Uint8Array, options?: KeyOptions): Key {
  onlyKnownOptions(options, KEY_OPTS, 'sharedSecret');
  const id = keyId(privateKey, 'sharedSecret');
  const use = privateKey.use as AgreementUse;
  if (!AGREEMENT_USES.includes(use)) {
    throw new KeyUsageError('ERR_KEY_USAGE', `sharedSecret: this key's use is '${privateKey.use}', not a key-agreement use (${AGREEMENT_USES.join(', ')})`);
  }
  const peer = peerPublicKey(use, toBytes(peerKey, 'peer public key')!);
  const { scope, nativeScope } = ownerFor(options);
  return wrapKey(native().agree(id, peer, nativeScope), scope, PRIVATE_LENGTH[use], 'shared', options?.label);
}


