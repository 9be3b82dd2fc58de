/** HKDF (RFC 5869) on handles: the PRK and HMAC state exist only in the arena. */
import { native } from '../memory/native.js';
import { InvalidArgumentError } from '../errors/index.js';
import { Key, keyId, nameSet, ownerFor, requireUse, wrapKey, USE_IDS, type KeyOptions } from '../memory/key.js';
import { onlyKnownOptions, toBytes } from '../memory/bytes.js';
import { EXPAND_MANY_OPTS, EXPAND_OPTS, EXTRACT_OPTS, HKDF_OPTS, hashId, lengthOf, type Bytes, type Hash } from './options.js';

export interface HkdfOptions extends KeyOptions {
  hash?: Hash;
  salt?: Bytes | undefined;
  info?: Bytes | undefined;
  /** Output length in bytes (default 32). */
  length?: number;
  /**
   * What the derived key is for, kept on the handle (`key.use`) and in the addon; every
   * operation accepts only keys of its use (default 'hkdf': a key for further HKDF).
   * Private-key uses imply the length (32 bytes; 48 for P-384); EC scalars are derived
   * from nlen/8 + 8 bytes of HKDF output as FIPS 186-5 A.2.1 specifies.
   */
  use?: DerivedUse;
}

/** The uses a derived key may be labelled with. */
export type DerivedUse = 'hkdf' | 'hmac' | 'aead' | 'secret' | 'x25519' | 'ed25519' | 'ecdsa-p256' | 'ecdsa-p384' | 'ecdh-p256' | 'ecdh-p384';
export const DERIVED_USES: readonly DerivedUse[] = [
  'hkdf', 'hmac', 'aead', 'secret', 'x25519', 'ed25519', 'ecdsa-p256', 'ecdsa-p384', 'ecdh-p256', 'ecdh-p384',
];

/** The key length a use implies (private keys), or undefined (symmetric uses take any length). */
export const IMPLIED_LENGTH: Readonly<Partial<Record<DerivedUse, number>>> = {
  x25519: 32,
  ed25519: 32,
  'ecdsa-p256': 32,
  'ecdh-p256': 32,
  'ecdsa-p384': 48,
  'ecdh-p384': 48,
};

const IS_DERIVED_USE = nameSet(DERIVED_USES);

function derivedUse(use: unknown, what: string): DerivedUse {
  if (use === undefined) return 'hkdf';
  if (typeof use !== 'string' || IS_DERIVED_USE[use] !== true) {
    throw new InvalidArgumentError('ERR_INVALID_ARGUMENT', `${what}: use must be one of ${DERIVED_USES.join(', ')}`);
  }
  return use as DerivedUse;
}

/** The derived key's length: the use's own for private keys (an explicit other length is refused). */
function derivedLength(use: DerivedUse, length: unknown, what: string): number {
  const implied = IMPLIED_LENGTH[use];
  if (implied === undefined) return lengthOf(length, 'HKDF length', 32);
  if (length !== undefined && length !== implied) {
    throw new InvalidArgumentError('ERR_INVALID_ARGUMENT', `${what}: a ${use} key is ${implied} bytes; length ${String(length)} does not fit`);
  }
  return implied;
}

/** HKDF (RFC 5869) extract-and-expand; the PRK exists only in the arena's scratch slot. */
export function hkdf(ikm: Key, options: HkdfOptions = {}): Key {
  onlyKnownOptions(options, HKDF_OPTS, 'hkdf');
  const use = derivedUse(options.use, 'hkdf');
  const h = hashId(options.hash);
  const length = derivedLength(use, options.length, 'hkdf');
  const ikmId = keyId(ikm, 'hkdf');
  requireUse(ikm, 'hkdf', 'hkdf');
  const { scope, nativeScope } = ownerFor(options);
  const id = native().hkdf(h, ikmId, toBytes(options.salt, 'salt', true), toBytes(options.info, 'info', true), length, nativeScope, USE_IDS[use]);
  return wrapKey(id, scope, length, use, options.label);
}

/** HKDF-Extract. Several input keys are hashed in order (e.g. KMS entropy then local entropy). */
export function hkdfExtract(ikm: Key | Key[], options: Omit<HkdfOptions, 'info' | 'length'> = {}): Key {
  onlyKnownOptions(options, EXTRACT_OPTS, 'hkdfExtract');
  const h = hashId(options.hash);
  let ids: number | number[];
  if (Array.isArray(ikm)) {
    ids = ikm.map((k) => keyId(k, 'hkdfExtract'));
    for (const k of ikm) requireUse(k, 'hkdf', 'hkdfExtract');
  } else {
    ids = keyId(ikm, 'hkdfExtract');
    requireUse(ikm, 'hkdf', 'hkdfExtract');
  }
  const { scope, nativeScope } = ownerFor(options);
  const id = native().hkdfExtract(h, ids, toBytes(options.salt, 'salt', true), nativeScope);
  return wrapKey(id, scope, h === 0 ? 32 : 64, 'hkdf', options.label);
}

/** HKDF-Expand from a pseudorandom key into a new key. */
export function hkdfExpand(prk: Key, options: Omit<HkdfOptions, 'salt'> = {}): Key {
  onlyKnownOptions(options, EXPAND_OPTS, 'hkdfExpand');
  const use = derivedUse(options.use, 'hkdfExpand');
  const h = hashId(options.hash);
  const length = derivedLength(use, options.length, 'hkdfExpand');
  const prkId = keyId(prk, 'hkdfExpand');
  requireUse(prk, 'hkdf', 'hkdfExpand');
  const { scope, nativeScope } = ownerFor(options);
  const id = native().hkdfExpand(h, prkId, toBytes(options.info, 'info', true), length, nativeScope, USE_IDS[use]);
  return wrapKey(id, scope, length, use, options.label);
}

/** Most keys one hkdfExpandMany call makes (the addon's limit). */
export const MAX_EXPAND_MANY = 64;
// Receives the handles of hkdfExpandMany (numbers only: no key bytes pass through it).
const expandIds = new Float64Array(MAX_EXPAND_MANY);

/**
 * Several HKDF-Expand outputs of one PRK, one per info, in one call: HMAC is keyed
 * with the PRK once for all of them. All or nothing: if any key cannot be made, none is.
 * Each key equals `hkdfExpand(prk, { info: infos[i], ...options })`.
 */
export function hkdfExpandMany(prk: Key, infos: readonly (Bytes | undefined)[], options: Omit<HkdfOptions, 'salt' | 'info'> = {}): Key[] {
  onlyKnownOptions(options, EXPAND_MANY_OPTS, 'hkdfExpandMany');
  if (!Array.isArray(infos) || infos.length < 1 || infos.length > MAX_EXPAND_MANY) {
    throw new InvalidArgumentError('ERR_INVALID_ARGUMENT', `hkdfExpandMany: infos must be an array of 1 to ${MAX_EXPAND_MANY} infos`);
  }
  const use = derivedUse(options.use, 'hkdfExpandMany');
  const h = hashId(options.hash);
  const length = derivedLength(use, options.length, 'hkdfExpandMany');
  const prkId = keyId(prk, 'hkdfExpandMany');
  requireUse(prk, 'hkdf', 'hkdfExpandMany');
  const bytes = new Array<Uint8Array | undefined>(infos.length);
  for (let k = 0; k < infos.length; k++) bytes[k] = toBytes(infos[k], 'info', true);
  const { scope, nativeScope } = ownerFor(options);
  const n = native().hkdfExpandMany(h, prkId, bytes, length, nativeScope, expandIds, USE_IDS[use]);
  const keys = new Array<Key>(n);
  for (let k = 0; k < n; k++) keys[k] = wrapKey(expandIds[k]!, scope, length, use, options.label);
  expandIds.fill(0, 0, n);
  return keys;
}
