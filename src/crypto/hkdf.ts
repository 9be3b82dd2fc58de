/** HKDF (RFC 5869) on handles: the PRK and HMAC state exist only in the arena. */
import { native } from '../memory/native.js';
import { InvalidArgumentError } from '../errors/index.js';
import { Key, keyId, ownerFor, wrapKey, type KeyOptions } from '../memory/key.js';
import { onlyKnownOptions, toBytes } from '../memory/bytes.js';
import { EXPAND_MANY_OPTS, EXPAND_OPTS, EXTRACT_OPTS, HKDF_OPTS, hashId, lengthOf, type Bytes, type Hash } from './options.js';

export interface HkdfOptions extends KeyOptions {
  hash?: Hash;
  salt?: Bytes | undefined;
  info?: Bytes | undefined;
  /** Output length in bytes (default 32). */
  length?: number;
  /** What the derived key is for, kept on the handle as `key.use` (diagnostics; default 'hkdf'). */
  use?: DerivedUse;
}

/** The uses a derived key may be labelled with. */
export type DerivedUse = 'hkdf' | 'hmac' | 'aead' | 'x25519' | 'secret';
export const DERIVED_USES: readonly DerivedUse[] = ['hkdf', 'hmac', 'aead', 'x25519', 'secret'];

function derivedUse(use: unknown, what: string): DerivedUse {
  if (use === undefined) return 'hkdf';
  if (!DERIVED_USES.includes(use as DerivedUse)) {
    throw new InvalidArgumentError('ERR_INVALID_ARGUMENT', `${what}: use must be one of ${DERIVED_USES.join(', ')}`);
  }
  return use as DerivedUse;
}

/** HKDF (RFC 5869) extract-and-expand; the PRK exists only in the arena's scratch slot. */
export function hkdf(ikm: Key, options: HkdfOptions = {}): Key {
  onlyKnownOptions(options, HKDF_OPTS, 'hkdf');
  const use = derivedUse(options.use, 'hkdf');
  const h = hashId(options.hash);
  const length = lengthOf(options.length, 'HKDF length', 32);
  const ikmId = keyId(ikm, 'hkdf');
  const { scope, nativeScope } = ownerFor(options);
  const id = native().hkdf(h, ikmId, toBytes(options.salt, 'salt', true), toBytes(options.info, 'info', true), length, nativeScope);
  return wrapKey(id, scope, length, use, options.label);
}

/** HKDF-Extract. Several input keys are hashed in order (e.g. KMS entropy then local entropy). */
export function hkdfExtract(ikm: Key | Key[], options: Omit<HkdfOptions, 'info' | 'length'> = {}): Key {
  onlyKnownOptions(options, EXTRACT_OPTS, 'hkdfExtract');
  const h = hashId(options.hash);
  const ids = Array.isArray(ikm) ? ikm.map((k) => keyId(k, 'hkdfExtract')) : keyId(ikm, 'hkdfExtract');
  const { scope, nativeScope } = ownerFor(options);
  const id = native().hkdfExtract(h, ids, toBytes(options.salt, 'salt', true), nativeScope);
  return wrapKey(id, scope, h === 0 ? 32 : 64, 'hkdf', options.label);
}

/** HKDF-Expand from a pseudorandom key into a new key. */
export function hkdfExpand(prk: Key, options: Omit<HkdfOptions, 'salt'> = {}): Key {
  onlyKnownOptions(options, EXPAND_OPTS, 'hkdfExpand');
  const use = derivedUse(options.use, 'hkdfExpand');
  const h = hashId(options.hash);
  const length = lengthOf(options.length, 'HKDF length', 32);
  const prkId = keyId(prk, 'hkdfExpand');
  const { scope, nativeScope } = ownerFor(options);
  const id = native().hkdfExpand(h, prkId, toBytes(options.info, 'info', true), length, nativeScope);
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
  const length = lengthOf(options.length, 'HKDF length', 32);
  const prkId = keyId(prk, 'hkdfExpandMany');
  const bytes = infos.map((info) => toBytes(info, 'info', true));
  const { scope, nativeScope } = ownerFor(options);
  const n = native().hkdfExpandMany(h, prkId, bytes, length, nativeScope, expandIds);
  const keys = new Array<Key>(n);
  for (let k = 0; k < n; k++) keys[k] = wrapKey(expandIds[k]!, scope, length, use, options.label);
  expandIds.fill(0, 0, n);
  return keys;
}
