/**
 * Public-key encodings for the asymmetric uses: raw (SEC1 points, 32-byte
 * Curve25519 keys), SubjectPublicKeyInfo DER and JWK, and the validation of peer
 * points (length, coordinates below p, on the curve, compressed points expanded).
 * Everything here handles public data only; arithmetic is BigInt.
 */
import type { JsonWebKey } from 'node:crypto';
import { InvalidPublicKeyError } from '../errors/index.js';
import type { AsymmetricUse } from '../memory/key.js';

export type PublicKeyFormat = 'raw' | 'spki' | 'jwk';

interface Curve {
  name: 'P-256' | 'P-384';
  size: number;
  p: bigint;
  b: bigint;
  /** DER of SEQUENCE { id-ecPublicKey, namedCurve } inside the SPKI. */
  algorithm: string;
}

const P256: Curve = {
  name: 'P-256',
  size: 32,
  p: 2n ** 256n - 2n ** 224n + 2n ** 192n + 2n ** 96n - 1n,
  b: 0x5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604bn,
  algorithm: '301306072a8648ce3d020106082a8648ce3d030107',
};
const P384: Curve = {
  name: 'P-384',
  size: 48,
  p: 2n ** 384n - 2n ** 128n - 2n ** 96n + 2n ** 32n - 1n,
  b: 0xb3312fa7e23ee7e4988e056be3f82d19181d9c6efe8141120314088f5013875ac656398d8a2ed19d2a85c8edd3ec2aefn,
  algorithm: '301006072a8648ce3d020106052b81040022',
};

/** The curve of a NIST-curve use, or undefined for Ed25519 / X25519. */
export function curveOf(use: AsymmetricUse): Curve | undefined {
  if (use === 'ecdsa-p256' || use === 'ecdh-p256') return P256;
  if (use === 'ecdsa-p384' || use === 'ecdh-p384') return P384;
  return undefined;
}

const OKP_ALGORITHM: Partial<Record<AsymmetricUse, { crv: 'Ed25519' | 'X25519'; algorithm: string }>> = {
  ed25519: { crv: 'Ed25519', algorithm: '300506032b6570' },
  x25519: { crv: 'X25519', algorithm: '300506032b656e' },
};

function derLength(n: number): string {
  return n < 128 ? n.toString(16).padStart(2, '0') : `81${n.toString(16).padStart(2, '0')}`;
}

/** SEQUENCE { algorithm, BIT STRING (0 unused bits) raw }. */
function spkiOf(algorithmHex: string, raw: Uint8Array): Buffer {
  const bits = Buffer.concat([Buffer.from(`03${derLength(raw.length + 1)}00`, 'hex'), raw]);
  const body = Buffer.concat([Buffer.from(algorithmHex, 'hex'), bits]);
  return Buffer.concat([Buffer.from(`30${derLength(body.length)}`, 'hex'), body]);
}

function bad(message: string): never {
  throw new InvalidPublicKeyError('ERR_INVALID_PUBLIC_KEY', message);
}

const toBig = (b: Uint8Array): bigint => BigInt(`0x${Buffer.from(b).toString('hex') || '0'}`);
const fromBig = (v: bigint, size: number): Buffer => Buffer.from(v.toString(16).padStart(size * 2, '0'), 'hex');

function modPow(base: bigint, exp: bigint, m: bigint): bigint {
  let r = 1n;
  let b = base % m;
  for (let e = exp; e > 0n; e >>= 1n) {
    if (e & 1n) r = (r * b) % m;
    b = (b * b) % m;
  }
  return r;
}

/** y^2 = x^3 - 3x + b (mod p). */
function curveRhs(c: Curve, x: bigint): bigint {
  return (((x * x * x - 3n * x + c.b) % c.p) + c.p) % c.p;
}

/**
 * A validated uncompressed point (0x04 || X || Y) from a raw SEC1 point, uncompressed
 * or compressed. Rejects wrong lengths and prefixes, coordinates >= p, points off the
 * curve (the identity has no SEC1 encoding of these lengths).
 */
export function uncompressedPoint(c: Curve, raw: Uint8Array): Buffer {
  const n = c.size;
  if (raw.length === 2 * n + 1 && raw[0] === 0x04) {
    const x = toBig(raw.subarray(1, 1 + n));
    const y = toBig(raw.subarray(1 + n));
    if (x >= c.p || y >= c.p) bad(`${c.name} public key: a coordinate is not below the field prime`);
    if ((y * y) % c.p !== curveRhs(c, x)) bad(`${c.name} public key: the point is not on the curve`);
    return Buffer.from(raw);
  }
  if (raw.length === n + 1 && (raw[0] === 0x02 || raw[0] === 0x03)) {
    const x = toBig(raw.subarray(1));
    if (x >= c.p) bad(`${c.name} public key: x is not below the field prime`);
    const rhs = curveRhs(c, x);
    let y = modPow(rhs, (c.p + 1n) / 4n, c.p); // p = 3 mod 4 for both curves
    if ((y * y) % c.p !== rhs) bad(`${c.name} public key: no point on the curve has this x`);
    if (Number(y & 1n) !== (raw[0] & 1)) y = c.p - y;
    return Buffer.concat([Buffer.from([0x04]), fromBig(x, n), fromBig(y, n)]);
  }
  return bad(
    `${c.name} public key: expected a SEC1 point (${2 * n + 1} bytes starting 04, or ${n + 1} bytes starting 02/03)` +
      ` or its SubjectPublicKeyInfo; got ${raw.length} bytes`,
  );
}

/** The raw public key inside bytes that are either raw or an SPKI of exactly this use's algorithm. */
function unwrapSpki(algorithmHex: string, bytes: Uint8Array): Uint8Array | undefined {
  if (bytes.length < 2 || bytes[0] !== 0x30) return undefined;
  const alg = Buffer.from(algorithmHex, 'hex');
  // SEQUENCE len | algorithm | 03 len 00 | key: rebuilt from the key length, compared whole.
  for (const keyLen of [bytes.length - alg.length - 5, bytes.length - alg.length - 6]) {
    if (keyLen <= 0) continue;
    const key = bytes.subarray(bytes.length - keyLen);
    if (spkiOf(algorithmHex, key).equals(bytes)) return key;
  }
  return bad('public key: a DER SubjectPublicKeyInfo, but not one of this key use\'s algorithm with a named curve');
}

/** A peer's public key for `use`, raw or SPKI, as the addon takes it (validated, uncompressed). */
export function peerPublicKey(use: AsymmetricUse, bytes: Uint8Array): Buffer {
  const c = curveOf(use);
  const algorithm = c ? c.algorithm : OKP_ALGORITHM[use]!.algorithm;
  // A raw P-256/P-384 point never starts with 0x30; a 32-byte Curve25519 key may: only a length other than 32 is DER.
  const raw = (c || bytes.length !== 32) ? unwrapSpki(algorithm, bytes) ?? bytes : bytes;
  if (c) return uncompressedPoint(c, raw);
  if (raw.length !== 32) bad(`${use} public key: expected 32 bytes or its SubjectPublicKeyInfo; got ${raw.length} bytes`);
  return Buffer.from(raw);
}

/** Encodes a raw public key of `use` (as the addon returns it). */
export function encodePublicKey(use: AsymmetricUse, raw: Buffer, format: PublicKeyFormat): Buffer | JsonWebKey {
  const c = curveOf(use);
  if (format === 'raw') return raw;
  if (format === 'spki') return spkiOf(c ? c.algorithm : OKP_ALGORITHM[use]!.algorithm, raw);
  if (c) {
    return {
      kty: 'EC',
      crv: c.name,
      x: raw.subarray(1, 1 + c.size).toString('base64url'),
      y: raw.subarray(1 + c.size).toString('base64url'),
    };
  }
  return { kty: 'OKP', crv: OKP_ALGORITHM[use]!.crv, x: raw.toString('base64url') };
}

/** The raw public key of a public JWK of `use` (checked: kty, crv, no private part). */
export function rawFromJwk(use: AsymmetricUse, jwk: JsonWebKey): Buffer {
  if (jwk === null || typeof jwk !== 'object') bad('public key: a JWK must be an object');
  if (jwk.d !== undefined) bad('public key: this JWK carries a private key ("d"); pass the public JWK');
  const c = curveOf(use);
  const b64 = (v: unknown, what: string): Buffer => {
    if (typeof v !== 'string' || !/^[A-Za-z0-9_-]*$/.test(v)) bad(`public key: JWK "${what}" must be base64url`);
    return Buffer.from(v, 'base64url');
  };
  if (c) {
    if (jwk.kty !== 'EC' || jwk.crv !== c.name) bad(`public key: expected a JWK with kty "EC" and crv "${c.name}"`);
    const x = b64(jwk.x, 'x');
    const y = b64(jwk.y, 'y');
    if (x.length !== c.size || y.length !== c.size) bad(`public key: JWK coordinates of ${c.name} are ${c.size} bytes`);
    return uncompressedPoint(c, Buffer.concat([Buffer.from([0x04]), x, y]));
  }
  const okp = OKP_ALGORITHM[use]!;
  if (jwk.kty !== 'OKP' || jwk.crv !== okp.crv) bad(`public key: expected a JWK with kty "OKP" and crv "${okp.crv}"`);
  const x = b64(jwk.x, 'x');
  if (x.length !== 32) bad(`public key: an ${okp.crv} JWK "x" is 32 bytes`);
  return x;
}

/** SPKI DER of a raw public key of `use` (node:crypto takes it for verification). */
export function spkiFromRaw(use: AsymmetricUse, raw: Uint8Array): Buffer {
  const c = curveOf(use);
  return spkiOf(c ? c.algorithm : OKP_ALGORITHM[use]!.algorithm, raw);
}
