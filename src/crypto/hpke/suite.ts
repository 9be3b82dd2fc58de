/**
 * HPKE (RFC 9180) cipher suites and the labels of its key schedule. Everything
 * here is public data: identifiers, suite_id strings, label prefixes, and the
 * LabeledExtract of public inputs (psk_id_hash, info_hash), which node:crypto may
 * compute because nothing secret goes in.
 */
import { createHmac } from 'node:crypto';
import { InvalidArgumentError, UnsupportedAlgorithmError } from '../../errors/index.js';
import { onlyKnownOptions } from '../../memory/bytes.js';
import { aeadId } from '../options.js';

/** DHKEM(X25519, HKDF-SHA256) (0x0020) and DHKEM(P-256, HKDF-SHA256) (0x0010). */
export type HpkeKem = 'dhkem-x25519-hkdf-sha256' | 'dhkem-p256-hkdf-sha256';
/** HKDF-SHA256 (0x0001). */
export type HpkeKdf = 'hkdf-sha256';
/** AES-128-GCM (0x0001), AES-256-GCM (0x0002), ChaCha20-Poly1305 (0x0003). */
export type HpkeAead = 'aes-128-gcm' | 'aes-256-gcm' | 'chacha20-poly1305';

/** A cipher suite; each member has a default: X25519, HKDF-SHA256, ChaCha20-Poly1305. */
export interface HpkeSuite {
  kem?: HpkeKem;
  kdf?: HpkeKdf;
  aead?: HpkeAead;
}

export interface KemParams {
  name: HpkeKem;
  id: number;
  /** The private-key use of this KEM's keys. */
  use: 'x25519' | 'ecdh-p256';
  /** Bytes of enc and of a serialized public key. */
  nEnc: number;
  /** "KEM" || I2OSP(kem_id, 2). */
  suiteId: Buffer;
}

export interface ResolvedSuite {
  kem: KemParams;
  aead: HpkeAead;
  /** The addon's AEAD number. */
  aeadNumber: number;
  /** Nk: AEAD key bytes. */
  nk: number;
  /** "HPKE" || I2OSP(kem_id, 2) || I2OSP(kdf_id, 2) || I2OSP(aead_id, 2). */
  suiteId: Buffer;
}

const i2osp2 = (n: number): Buffer => Buffer.from([n >> 8, n & 0xff]);

const KEMS: Record<HpkeKem, KemParams> = {
  'dhkem-x25519-hkdf-sha256': { name: 'dhkem-x25519-hkdf-sha256', id: 0x20, use: 'x25519', nEnc: 32, suiteId: Buffer.concat([Buffer.from('KEM'), i2osp2(0x20)]) },
  'dhkem-p256-hkdf-sha256': { name: 'dhkem-p256-hkdf-sha256', id: 0x10, use: 'ecdh-p256', nEnc: 65, suiteId: Buffer.concat([Buffer.from('KEM'), i2osp2(0x10)]) },
};
const AEADS: Record<HpkeAead, { id: number; nk: number }> = {
  'aes-128-gcm': { id: 1, nk: 16 },
  'aes-256-gcm': { id: 2, nk: 32 },
  'chacha20-poly1305': { id: 3, nk: 32 },
};

/** The KEM whose keys have this use, if any. */
export function kemForUse(use: string): HpkeKem | undefined {
  return (Object.keys(KEMS) as HpkeKem[]).find((k) => KEMS[k].use === use);
}

export function resolveSuite(suite: HpkeSuite | undefined, what: string, defaultKem?: HpkeKem): ResolvedSuite {
  if (suite !== undefined && (suite === null || typeof suite !== 'object')) {
    throw new InvalidArgumentError('ERR_INVALID_ARGUMENT', `${what}: suite must be an object { kem, kdf, aead }`);
  }
  onlyKnownOptions(suite, ['kem', 'kdf', 'aead'], `${what} suite`);
  const kemName = suite?.kem ?? defaultKem ?? 'dhkem-x25519-hkdf-sha256';
  const kem = KEMS[kemName];
  if (!kem) throw new UnsupportedAlgorithmError('ERR_UNSUPPORTED_ALGORITHM', `${what}: unknown HPKE KEM '${String(kemName)}' (${Object.keys(KEMS).join(', ')})`);
  if ((suite?.kdf ?? 'hkdf-sha256') !== 'hkdf-sha256') {
    throw new UnsupportedAlgorithmError('ERR_UNSUPPORTED_ALGORITHM', `${what}: unknown HPKE KDF '${String(suite?.kdf)}' (hkdf-sha256)`);
  }
  const aead = suite?.aead ?? 'chacha20-poly1305';
  const a = AEADS[aead];
  if (!a) throw new UnsupportedAlgorithmError('ERR_UNSUPPORTED_ALGORITHM', `${what}: unknown HPKE AEAD '${String(aead)}' (${Object.keys(AEADS).join(', ')})`);
  const suiteId = Buffer.concat([Buffer.from('HPKE'), i2osp2(kem.id), i2osp2(0x0001), i2osp2(a.id)]);
  return { kem, aead, aeadNumber: aeadId(aead), nk: a.nk, suiteId };
}

const HPKE_V1 = Buffer.from('HPKE-v1');

/** "HPKE-v1" || suite_id || label: what LabeledExtract puts before its IKM. */
export function labelPrefix(suiteId: Buffer, label: string): Buffer {
  return Buffer.concat([HPKE_V1, suiteId, Buffer.from(label)]);
}

/** I2OSP(L, 2) || "HPKE-v1" || suite_id || label || info: LabeledExpand's HKDF info. */
export function labeledInfo(suiteId: Buffer, label: string, info: Uint8Array, length: number): Buffer {
  return Buffer.concat([i2osp2(length), labelPrefix(suiteId, label), info]);
}

/** LabeledExtract("", label, ikm) of PUBLIC ikm only (psk_id_hash, info_hash). */
export function publicLabeledExtract(suiteId: Buffer, label: string, ikm: Uint8Array): Buffer {
  return createHmac('sha256', Buffer.alloc(0)).update(labelPrefix(suiteId, label)).update(ikm).digest();
}
