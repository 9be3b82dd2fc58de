/**
 * Compact JWS (RFC 7515) with handle keys: HS256/HS512 by HMAC on the arena key,
 * ES256/ES384 (ECDSA, RFC 6979 nonces, r || s) and EdDSA (Ed25519) by the private
 * key's handle. Verification: HMAC with a Key; ES and EdDSA with a public key (JWK,
 * raw or SPKI bytes) or the private key's handle. Shapes follow the `jose` package.
 */
import type { JsonWebKey } from 'node:crypto';
import { InvalidArgumentError, JoseError, KeyUsageError } from '../../errors/index.js';
import { Key } from '../../memory/key.js';
import { hmacSign, hmacVerify } from '../hmac.js';
import { publicKey as publicOf, sign, verify } from '../asymmetric.js';
import { algorithmsFor, b64u, decodeHeader, fromB64u, jwsAlgorithm, type JWSHeaderParameters } from './encoding.js';

/** A verification key: a handle (HS*: the HMAC key; ES/EdDSA: the private key), or a public JWK / raw / SPKI bytes. */
export type VerifyKey = Key | JsonWebKey | Uint8Array;

export interface VerifyOptions {
  /** Accepted "alg" values (default: the ones the key can verify). */
  algorithms?: string[];
}

const HASH_BYTES = { sha256: 32, sha512: 64 } as const;

function checkHeader(header: unknown, what: string): JWSHeaderParameters {
  if (header === null || typeof header !== 'object' || Array.isArray(header)) {
    throw new JoseError('ERR_JWS_INVALID', `${what}: setProtectedHeader({ alg }) first`);
  }
  const h = header as JWSHeaderParameters;
  if (h.b64 !== undefined || h.crit !== undefined) throw new JoseError('ERR_JOSE_NOT_SUPPORTED', `${what}: "b64" and "crit" are not supported`);
  jwsAlgorithm(h.alg);
  return h;
}

/** The JWS Signing Input signed with a handle key; `header.alg` decides how. */
export function signCompact(header: JWSHeaderParameters, payload: Uint8Array, key: Key, what: string): string {
  const h = checkHeader(header, what);
  const info = jwsAlgorithm(h.alg);
  if (!(key instanceof Key)) throw new InvalidArgumentError('ERR_INVALID_ARGUMENT', `${what}: the key must be a secret-scope Key`);
  const input = `${b64u(JSON.stringify(h))}.${b64u(payload)}`;
  let signature: Buffer;
  if (info.hash) {
    // RFC 7518 3.2: an HMAC key at least as long as the hash output.
    if (key.length < HASH_BYTES[info.hash]) {
      throw new InvalidArgumentError('ERR_INVALID_ARGUMENT', `${what}: ${h.alg} needs a key of at least ${HASH_BYTES[info.hash]} bytes; this key has ${key.length}`);
    }
    signature = hmacSign(key, input, { hash: info.hash });
  } else {
    if (key.use !== info.use) throw new KeyUsageError('ERR_KEY_USAGE', `${what}: ${h.alg} signs with an '${info.use}' key; this key's use is '${key.use}'`);
    signature = info.use === 'ed25519' ? sign(key, input) : sign(key, input, { format: 'p1363' });
  }
  return `${input}.${b64u(signature)}`;
}

/** Verifies a compact JWS; returns its header, payload and the decoded parts. */
export function verifyCompact(jws: unknown, key: VerifyKey, options: VerifyOptions, what: string): { payload: Buffer; protectedHeader: JWSHeaderParameters } {
  const text = jws instanceof Uint8Array ? Buffer.from(jws).toString('utf8') : jws;
  if (typeof text !== 'string') throw new JoseError('ERR_JWS_INVALID', `${what}: a compact JWS must be a string`);
  const parts = text.split('.');
  if (parts.length !== 3) throw new JoseError('ERR_JWS_INVALID', `${what}: a compact JWS has three parts`);
  const header = decodeHeader<JWSHeaderParameters>(parts[0]!, 'ERR_JWS_INVALID');
  if (header.b64 !== undefined) throw new JoseError('ERR_JOSE_NOT_SUPPORTED', `${what}: "b64" is not supported`);
  const allowed = options.algorithms ?? algorithmsFor(key as Key);
  if (!allowed.includes(header.alg)) throw new JoseError('ERR_JOSE_ALG_NOT_ALLOWED', `${what}: "alg" ${header.alg} is not allowed (${allowed.join(', ') || 'none for this key'})`);
  const info = jwsAlgorithm(header.alg, 'ERR_JOSE_ALG_NOT_ALLOWED');
  const payload = fromB64u(parts[1], 'payload', 'ERR_JWS_INVALID');
  const signature = fromB64u(parts[2], 'signature', 'ERR_JWS_INVALID');
  const input = Buffer.from(`${parts[0]}.${parts[1]}`);
  let ok: boolean;
  if (info.hash) {
    if (!(key instanceof Key)) throw new InvalidArgumentError('ERR_INVALID_ARGUMENT', `${what}: ${header.alg} verifies with the HMAC key's handle`);
    ok = signature.length === HASH_BYTES[info.hash] && hmacVerify(key, input, signature, { hash: info.hash });
  } else {
    let pub: JsonWebKey | Uint8Array;
    if (key instanceof Key) {
      if (key.use !== info.use) throw new KeyUsageError('ERR_KEY_USAGE', `${what}: ${header.alg} needs an '${info.use}' key; this key's use is '${key.use}'`);
      pub = publicOf(key);
    } else pub = key;
    ok = info.use === 'ed25519' ? verify(pub, input, signature, { use: info.use }) : verify(pub, input, signature, { use: info.use as 'ecdsa-p256' | 'ecdsa-p384', format: 'p1363' });
  }
  if (!ok) throw new JoseError('ERR_JWS_SIGNATURE_VERIFICATION_FAILED', `${what}: signature verification failed`);
  return { payload, protectedHeader: header };
}

/** `new CompactSign(payload).setProtectedHeader({ alg }).sign(key)`, as in `jose`. */
export class CompactSign {
  readonly #payload: Uint8Array;
  #header: JWSHeaderParameters | undefined;

  constructor(payload: Uint8Array) {
    if (!(payload instanceof Uint8Array)) throw new InvalidArgumentError('ERR_INVALID_ARGUMENT', 'CompactSign: payload must be a Uint8Array');
    this.#payload = payload;
  }

  setProtectedHeader(header: JWSHeaderParameters): this {
    if (this.#header) throw new JoseError('ERR_JWS_INVALID', 'setProtectedHeader can only be called once');
    this.#header = header;
    return this;
  }

  /** Signs with a handle key; the key's use must fit "alg". Async like `jose`'s (the work is synchronous). */
  async sign(key: Key): Promise<string> {
    return signCompact(this.#header as JWSHeaderParameters, this.#payload, key, 'CompactSign');
  }
}

/** `compactVerify(jws, key, { algorithms })`, as in `jose`. */
export async function compactVerify(jws: string | Uint8Array, key: VerifyKey, options: VerifyOptions = {}): Promise<{ payload: Buffer; protectedHeader: JWSHeaderParameters }> {
  return verifyCompact(jws, key, options, 'compactVerify');
}
