/**
 * Compact JWE (RFC 7516) with "alg" 'dir' (the content-encryption key is an
 * 'aead' Key) and 'ECDH-ES' (P-256, X25519; direct key agreement, RFC 7518 4.6),
 * "enc" A256GCM (and A128GCM). The ECDH shared secret Z and the CEK from the Concat
 * KDF are Keys: the KDF runs in the addon (native concatKdf), so neither reaches
 * JavaScript. Shapes follow the `jose` package.
 */
import { randomFillSync, type JsonWebKey } from 'node:crypto';
import { AuthenticationError, InvalidArgumentError, JoseError, KeyUsageError } from '../../errors/index.js';
import { native } from '../../memory/native.js';
import { Key, keyId, wrapKey } from '../../memory/key.js';
import { aeadOpen, aeadSeal } from '../aead.js';
import { generateKeyPair, publicKey, sharedSecret } from '../asymmetric.js';
import { peerPublicKey, rawFromJwk } from '../public-keys.js';
import { b64u, decodeHeader, fromB64u, type JWEHeaderParameters } from './encoding.js';

type JweEnc = 'A256GCM' | 'A128GCM';
type AgreementUse = 'ecdh-p256' | 'x25519';
const ENC: Record<JweEnc, { algorithm: 'aes-256-gcm' | 'aes-128-gcm'; bytes: number }> = {
  A256GCM: { algorithm: 'aes-256-gcm', bytes: 32 },
  A128GCM: { algorithm: 'aes-128-gcm', bytes: 16 },
};

/** A recipient key for ECDH-ES: a public JWK (EC P-256 or OKP X25519) or raw bytes (65: P-256, 32: X25519). */
export type EncryptKey = Key | JsonWebKey | Uint8Array;

export interface KeyManagementParameters {
  apu?: Uint8Array;
  apv?: Uint8Array;
}

export interface DecryptOptions {
  keyManagementAlgorithms?: string[];
  contentEncryptionAlgorithms?: string[];
}

function encOf(enc: unknown, code: string): (typeof ENC)[JweEnc] {
  const e = ENC[enc as JweEnc];
  if (!e) throw new JoseError(code, `unsupported JWE "enc" '${String(enc)}' (A256GCM, A128GCM)`);
  return e;
}

const lengthPrefixed = (b: Uint8Array): Buffer => {
  const n = Buffer.alloc(4);
  n.writeUInt32BE(b.length);
  return Buffer.concat([n, b]);
};

/** RFC 7518 4.6.2 OtherInfo for direct key agreement: AlgorithmID is the "enc" value. */
function otherInfo(enc: string, apu: Uint8Array, apv: Uint8Array, bytes: number): Buffer {
  const bits = Buffer.alloc(4);
  bits.writeUInt32BE(bytes * 8);
  return Buffer.concat([lengthPrefixed(Buffer.from(enc)), lengthPrefixed(apu), lengthPrefixed(apv), bits]);
}

/** The CEK of ECDH-ES: Concat KDF of Z, in the addon; a Key of use 'aead' the caller releases. */
function deriveCek(z: Key, enc: string, apu: Uint8Array, apv: Uint8Array, bytes: number): Key {
  return wrapKey(native().concatKdf(keyId(z, 'ECDH-ES'), otherInfo(enc, apu, apv, bytes), bytes, 0), null, bytes, 'aead');
}

function recipientOf(key: EncryptKey): { use: AgreementUse; raw: Buffer } {
  if (key instanceof Uint8Array) {
    if (key.length === 32) return { use: 'x25519', raw: peerPublicKey('x25519', key) };
    return { use: 'ecdh-p256', raw: peerPublicKey('ecdh-p256', key) };
  }
  const jwk = key as JsonWebKey;
  if (jwk?.kty === 'OKP' && jwk.crv === 'X25519') return { use: 'x25519', raw: rawFromJwk('x25519', jwk) };
  if (jwk?.kty === 'EC' && jwk.crv === 'P-256') return { use: 'ecdh-p256', raw: rawFromJwk('ecdh-p256', jwk) };
  throw new JoseError('ERR_JOSE_NOT_SUPPORTED', 'ECDH-ES: the recipient key must be a P-256 or X25519 public key (JWK or raw bytes)');
}

/** `new CompactEncrypt(plaintext).setProtectedHeader({ alg, enc }).encrypt(key)`, as in `jose`. */
export class CompactEncrypt {
  readonly #plaintext: Uint8Array;
  #header: JWEHeaderParameters | undefined;
  #kmp: KeyManagementParameters = {};

  constructor(plaintext: Uint8Array) {
    if (!(plaintext instanceof Uint8Array)) throw new InvalidArgumentError('ERR_INVALID_ARGUMENT', 'CompactEncrypt: plaintext must be a Uint8Array');
    this.#plaintext = plaintext;
  }

  setProtectedHeader(header: JWEHeaderParameters): this {
    this.#header = header;
    return this;
  }

  /** ECDH-ES PartyUInfo / PartyVInfo (put into the header as "apu" / "apv"). */
  setKeyManagementParameters(parameters: KeyManagementParameters): this {
    this.#kmp = parameters;
    return this;
  }

  /** 'dir': `key` is the CEK (an 'aead' Key). 'ECDH-ES': the recipient's public key. */
  async encrypt(key: EncryptKey): Promise<string> {
    const h = this.#header;
    if (!h || typeof h !== 'object') throw new JoseError('ERR_JWE_INVALID', 'CompactEncrypt: setProtectedHeader({ alg, enc }) first');
    if (h.zip !== undefined || h.crit !== undefined) throw new JoseError('ERR_JOSE_NOT_SUPPORTED', 'CompactEncrypt: "zip" and "crit" are not supported');
    const e = encOf(h.enc, 'ERR_JOSE_NOT_SUPPORTED');
    if (h.alg === 'dir') {
      if (!(key instanceof Key)) throw new InvalidArgumentError('ERR_INVALID_ARGUMENT', "CompactEncrypt: 'dir' encrypts with an 'aead' Key");
      return seal({ ...h }, e, key, this.#plaintext);
    }
    if (h.alg !== 'ECDH-ES') throw new JoseError('ERR_JOSE_NOT_SUPPORTED', `CompactEncrypt: unsupported "alg" '${String(h.alg)}' (dir, ECDH-ES)`);
    if (key instanceof Key) throw new InvalidArgumentError('ERR_INVALID_ARGUMENT', "CompactEncrypt: 'ECDH-ES' encrypts to the recipient's public key (JWK or raw bytes)");
    const { use, raw } = recipientOf(key);
    const apu = this.#kmp.apu ?? Buffer.alloc(0);
    const apv = this.#kmp.apv ?? Buffer.alloc(0);
    const eph = generateKeyPair(use, { scope: null });
    try {
      const header: JWEHeaderParameters = { ...h, epk: publicKey(eph.privateKey, { format: 'jwk' }) as JWEHeaderParameters['epk'] };
      if (apu.length) header.apu = b64u(apu);
      if (apv.length) header.apv = b64u(apv);
      const z = sharedSecret(eph.privateKey, raw, { scope: null });
      const cek = (() => {
        try {
          return deriveCek(z, h.enc, apu, apv, e.bytes);
        } finally {
          z.release();
        }
      })();
      try {
        return seal(header, e, cek, this.#plaintext);
      } finally {
        cek.release();
      }
    } finally {
      eph.privateKey.release();
    }
  }
}

function seal(header: JWEHeaderParameters, e: (typeof ENC)[JweEnc], cek: Key, plaintext: Uint8Array): string {
  if (cek.length !== e.bytes) throw new InvalidArgumentError('ERR_INVALID_ARGUMENT', `CompactEncrypt: ${header.enc} needs a ${e.bytes}-byte key; this key has ${cek.length}`);
  const protectedHeader = b64u(JSON.stringify(header));
  const iv = randomFillSync(Buffer.alloc(12));
  const out = aeadSeal(cek, iv, plaintext, { algorithm: e.algorithm, aad: Buffer.from(protectedHeader) });
  return `${protectedHeader}..${b64u(iv)}.${b64u(out.subarray(0, out.length - 16))}.${b64u(out.subarray(out.length - 16))}`;
}

/** `compactDecrypt(jwe, key, options)`, as in `jose`: 'dir' with the CEK's handle, 'ECDH-ES' with the private key's handle. */
export async function compactDecrypt(jwe: string | Uint8Array, key: Key, options: DecryptOptions = {}): Promise<{ plaintext: Buffer; protectedHeader: JWEHeaderParameters }> {
  const text = jwe instanceof Uint8Array ? Buffer.from(jwe).toString('utf8') : jwe;
  if (typeof text !== 'string') throw new JoseError('ERR_JWE_INVALID', 'compactDecrypt: a compact JWE must be a string');
  const parts = text.split('.');
  if (parts.length !== 5) throw new JoseError('ERR_JWE_INVALID', 'compactDecrypt: a compact JWE has five parts');
  const header = decodeHeader<JWEHeaderParameters>(parts[0]!, 'ERR_JWE_INVALID');
  const algs = options.keyManagementAlgorithms ?? ['dir', 'ECDH-ES'];
  const encs = options.contentEncryptionAlgorithms ?? ['A256GCM', 'A128GCM'];
  if (!algs.includes(header.alg)) throw new JoseError('ERR_JOSE_ALG_NOT_ALLOWED', `compactDecrypt: "alg" ${header.alg} is not allowed`);
  if (!encs.includes(header.enc)) throw new JoseError('ERR_JOSE_ALG_NOT_ALLOWED', `compactDecrypt: "enc" ${String(header.enc)} is not allowed`);
  if (header.zip !== undefined) throw new JoseError('ERR_JOSE_NOT_SUPPORTED', 'compactDecrypt: "zip" is not supported');
  const e = encOf(header.enc, 'ERR_JOSE_NOT_SUPPORTED');
  if (parts[1] !== '') throw new JoseError('ERR_JWE_INVALID', `compactDecrypt: ${header.alg} has an empty encrypted key`);
  const iv = fromB64u(parts[2], 'iv', 'ERR_JWE_INVALID');
  const ct = fromB64u(parts[3], 'ciphertext', 'ERR_JWE_INVALID');
  const tag = fromB64u(parts[4], 'tag', 'ERR_JWE_INVALID');
  if (iv.length !== 12 || tag.length !== 16) throw new JoseError('ERR_JWE_INVALID', 'compactDecrypt: AES-GCM takes a 96-bit iv and a 128-bit tag');
  keyId(key, 'compactDecrypt');
  const open = (cek: Key): Buffer => {
    if (cek.length !== e.bytes) throw new InvalidArgumentError('ERR_INVALID_ARGUMENT', `compactDecrypt: ${header.enc} needs a ${e.bytes}-byte key`);
    try {
      return aeadOpen(cek, iv, Buffer.concat([ct, tag]), { algorithm: e.algorithm, aad: Buffer.from(parts[0]!) });
    } catch (err) {
      if (err instanceof AuthenticationError) throw new JoseError('ERR_JWE_DECRYPTION_FAILED', 'compactDecrypt: decryption failed');
      throw err;
    }
  };
  if (header.alg === 'dir') return { plaintext: open(key), protectedHeader: header };
  if (header.alg !== 'ECDH-ES') throw new JoseError('ERR_JOSE_NOT_SUPPORTED', `compactDecrypt: unsupported "alg" '${header.alg}'`);
  if (key.use !== 'ecdh-p256' && key.use !== 'x25519') {
    throw new KeyUsageError('ERR_KEY_USAGE', `compactDecrypt: ECDH-ES needs an 'ecdh-p256' or 'x25519' private key; this key's use is '${key.use}'`);
  }
  if (!header.epk || typeof header.epk !== 'object') throw new JoseError('ERR_JWE_INVALID', 'compactDecrypt: ECDH-ES needs an "epk" header');
  const epk = rawFromJwk(key.use, header.epk as JsonWebKey);
  const apu = header.apu === undefined ? Buffer.alloc(0) : fromB64u(header.apu, 'apu', 'ERR_JWE_INVALID');
  const apv = header.apv === undefined ? Buffer.alloc(0) : fromB64u(header.apv, 'apv', 'ERR_JWE_INVALID');
  const z = sharedSecret(key, epk, { scope: null });
  let cek: Key;
  try {
    cek = deriveCek(z, header.enc, apu, apv, e.bytes);
  } finally {
    z.release();
  }
  try {
    return { plaintext: open(cek), protectedHeader: header };
  } finally {
    cek.release();
  }
}
