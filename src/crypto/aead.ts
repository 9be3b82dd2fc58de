/** AEAD (XChaCha20-Poly1305, ChaCha20-Poly1305, AES-GCM) with a key in guarded memory. */
import { randomFillSync } from 'node:crypto';
import { native } from '../memory/native.js';
import { InvalidArgumentError } from '../errors/index.js';
import { keyId, requireUse, type Key } from '../memory/key.js';
import { onlyKnownOptions, toBytes } from '../memory/bytes.js';
import { NONCE, aeadId, type AeadAlgorithm, type Bytes } from './options.js';

export interface AeadOptions {
  algorithm?: AeadAlgorithm;
  aad?: Bytes;
}

const AEAD_OPTS = ['algorithm', 'aad'] as const;

// The checked public functions below share these; each validates its options once.
function sealTo(what: string, key: Key, nonce: Uint8Array, plaintext: Bytes, options: AeadOptions, prefix: number): Buffer {
  const id = keyId(key, what);
  requireUse(key, 'aead', what);
  const pt = toBytes(plaintext, 'plaintext')!;
  // One Buffer from Node's pool holds `prefix` bytes (seal's nonce) then ciphertext || tag.
  const out = Buffer.allocUnsafe(prefix + pt.length + 16);
  if (prefix) out.set(nonce, 0);
  native().aeadSeal(aeadId(options.algorithm), id, toBytes(nonce, 'nonce')!, pt, toBytes(options.aad, 'aad', true), prefix ? out.subarray(prefix) : out);
  return out;
}

function openFrom(what: string, key: Key, nonce: Uint8Array, ciphertext: Uint8Array, options: AeadOptions): Buffer {
  const id = keyId(key, what);
  requireUse(key, 'aead', what);
  const ct = toBytes(ciphertext, 'ciphertext')!;
  const out = ct.length >= 16 ? Buffer.allocUnsafe(ct.length - 16) : undefined;
  return native().aeadOpen(aeadId(options.algorithm), id, toBytes(nonce, 'nonce')!, ct, toBytes(options.aad, 'aad', true), out);
}

/** AEAD with an explicit nonce. Returns ciphertext || 16-byte tag. */
export function aeadSeal(key: Key, nonce: Uint8Array, plaintext: Bytes, options: AeadOptions = {}): Buffer {
  onlyKnownOptions(options, AEAD_OPTS, 'aeadSeal');
  return sealTo('aeadSeal', key, nonce, plaintext, options, 0);
}

/** AEAD open with an explicit nonce. Throws AuthenticationError on any mismatch. */
export function aeadOpen(key: Key, nonce: Uint8Array, ciphertext: Uint8Array, options: AeadOptions = {}): Buffer {
  onlyKnownOptions(options, AEAD_OPTS, 'aeadOpen');
  return openFrom('aeadOpen', key, nonce, ciphertext, options);
}

/** Seals with a fresh random nonce: returns nonce || ciphertext || tag (XChaCha20-Poly1305 by default). */
export function seal(key: Key, plaintext: Bytes, options: AeadOptions = {}): Buffer {
  onlyKnownOptions(options, AEAD_OPTS, 'seal');
  const alg = options.algorithm ?? 'xchacha20-poly1305';
  aeadId(alg);
  const nonce = randomFillSync(Buffer.allocUnsafe(NONCE[alg]));
  return sealTo('seal', key, nonce, plaintext, options, nonce.length);
}

/** Opens what seal() produced. */
export function open(key: Key, sealed: Uint8Array, options: AeadOptions = {}): Buffer {
  onlyKnownOptions(options, AEAD_OPTS, 'open');
  const alg = options.algorithm ?? 'xchacha20-poly1305';
  aeadId(alg);
  const bytes = toBytes(sealed, 'sealed message')!;
  const n = NONCE[alg];
  if (bytes.length < n + 16) {
    throw new InvalidArgumentError('ERR_INVALID_ARGUMENT', `sealed message is shorter than nonce + tag (${n + 16} bytes)`);
  }
  return openFrom('open', key, bytes.subarray(0, n), bytes.subarray(n), options);
}
