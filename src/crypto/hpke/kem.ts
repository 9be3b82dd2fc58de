/**
 * DHKEM (RFC 9180 4.1) over X25519 and P-256 with HKDF-SHA256, on handles: the
 * ephemeral and recipient private keys, the DH output, eae_prk and the KEM shared
 * secret are Keys; DeriveKeyPair's dkp_prk and candidates never leave the arena.
 */
import { InvalidPublicKeyError } from '../../errors/index.js';
import { native } from '../../memory/native.js';
import { keyId, ownerFor, requireUse, wrapKey, type Key, type KeyOptions } from '../../memory/key.js';
import { generateKeyPair, publicKey, sharedSecret } from '../asymmetric.js';
import { peerPublicKey } from '../public-keys.js';
import { hkdfExpand } from '../hkdf.js';
import { labeledInfo, labelPrefix, type KemParams } from './suite.js';

const SHA256 = 0;
const N_SECRET = 32;

/** A temporary key the caller releases (no scope). */
function temporary(id: number, length: number): Key {
  return wrapKey(id, null, length, 'hkdf');
}

/** ExtractAndExpand(dh, kem_context): the KEM shared secret (use hkdf, no scope: the caller releases it). */
function extractAndExpand(kem: KemParams, dh: Key, kemContext: Buffer): Key {
  const eae = temporary(native().hpkeLabeledExtract(SHA256, undefined, labelPrefix(kem.suiteId, 'eae_prk'), keyId(dh, 'hpke'), 0), 32);
  try {
    return hkdfExpand(eae, { info: labeledInfo(kem.suiteId, 'shared_secret', kemContext, N_SECRET), length: N_SECRET, scope: null });
  } finally {
    eae.release();
  }
}

/** SerializePublicKey of a recipient key given as raw bytes (or SPKI / compressed P-256, normalised). */
export function recipientPublicKey(kem: KemParams, bytes: Uint8Array): Buffer {
  return peerPublicKey(kem.use, bytes);
}

/** Encap(pkR): the shared secret (caller releases it) and enc. `ephemeral` only for known-answer tests. */
export function encap(kem: KemParams, pkRm: Buffer, ephemeral?: Key): { shared: Key; enc: Buffer } {
  if (ephemeral !== undefined) requireUse(ephemeral, kem.use, 'hpke ephemeralKey');
  const pair = ephemeral ? { privateKey: ephemeral, publicKey: publicKey(ephemeral) } : generateKeyPair(kem.use, { scope: null });
  try {
    const dh = sharedSecret(pair.privateKey, pkRm, { scope: null });
    try {
      const enc = pair.publicKey;
      return { shared: extractAndExpand(kem, dh, Buffer.concat([enc, pkRm])), enc };
    } finally {
      dh.release();
    }
  } finally {
    if (!ephemeral) pair.privateKey.release();
  }
}

/** Decap(enc, skR): the shared secret (caller releases it). */
export function decap(kem: KemParams, skR: Key, enc: Uint8Array): Key {
  if (!(enc instanceof Uint8Array) || enc.length !== kem.nEnc || (kem.use === 'ecdh-p256' && enc[0] !== 0x04)) {
    throw new InvalidPublicKeyError('ERR_INVALID_PUBLIC_KEY', `hpke: enc must be the ${kem.nEnc}-byte serialized ephemeral public key of ${kem.name}`);
  }
  const pkRm = publicKey(skR);
  const dh = sharedSecret(skR, enc, { scope: null });
  try {
    return extractAndExpand(kem, dh, Buffer.concat([enc, pkRm]));
  } finally {
    dh.release();
  }
}

/** DeriveKeyPair(ikm) (RFC 9180 7.1.3): X25519 by LabeledExpand "sk"; P-256 by rejection sampling, natively. */
export function deriveKeyPair(kem: KemParams, ikm: Key, options?: KeyOptions): { privateKey: Key; publicKey: Buffer } {
  const ikmId = keyId(ikm, 'hpkeDeriveKeyPair');
  requireUse(ikm, 'hkdf', 'hpkeDeriveKeyPair');
  const { scope, nativeScope } = ownerFor(options);
  const dkp = temporary(native().hpkeLabeledExtract(SHA256, undefined, labelPrefix(kem.suiteId, 'dkp_prk'), ikmId, 0), 32);
  try {
    let privateKey: Key;
    if (kem.use === 'x25519') {
      privateKey = hkdfExpand(dkp, { info: labeledInfo(kem.suiteId, 'sk', Buffer.alloc(0), 32), use: 'x25519', scope, label: options?.label });
    } else {
      const prefix = labeledInfo(kem.suiteId, 'candidate', Buffer.alloc(0), 32);
      privateKey = wrapKey(native().hpkeDeriveP256(keyId(dkp, 'hpkeDeriveKeyPair'), prefix, nativeScope), scope, 32, 'ecdh-p256', options?.label);
    }
    return { privateKey, publicKey: publicKey(privateKey) };
  } finally {
    dkp.release();
  }
}
