/**
 * JOSE compact serialization: base64url, protected headers, and the algorithm
 * table (which key use and which operation each `alg` names). Public data only.
 */
import { JoseError } from '../../errors/index.js';
import type { Key } from '../../memory/key.js';

export type JwsAlgorithm = 'HS256' | 'HS512' | 'ES256' | 'ES384' | 'EdDSA' | 'Ed25519';

export interface JWSHeaderParameters {
  alg: string;
  typ?: string;
  kid?: string;
  cty?: string;
  crit?: string[];
  b64?: boolean;
  [parameter: string]: unknown;
}

export interface JWEHeaderParameters {
  alg: string;
  enc: string;
  kid?: string;
  typ?: string;
  cty?: string;
  epk?: { kty: string; crv: string; x: string; y?: string };
  apu?: string;
  apv?: string;
  zip?: string;
  crit?: string[];
  [parameter: string]: unknown;
}

export interface JwsAlgorithmInfo {
  /** The private-key use ES and EdDSA sign with; HS keys are 'hmac' (or generic 'secret'). */
  use: 'hmac' | 'ecdsa-p256' | 'ecdsa-p384' | 'ed25519';
  hash?: 'sha256' | 'sha512';
}

export const JWS_ALGORITHMS: Readonly<Record<JwsAlgorithm, JwsAlgorithmInfo>> = {
  HS256: { use: 'hmac', hash: 'sha256' },
  HS512: { use: 'hmac', hash: 'sha512' },
  ES256: { use: 'ecdsa-p256' },
  ES384: { use: 'ecdsa-p384' },
  EdDSA: { use: 'ed25519' },
  Ed25519: { use: 'ed25519' },
};

export const b64u = (b: Uint8Array | string): string => Buffer.from(b).toString('base64url');

export function fromB64u(s: unknown, what: string, code: string): Buffer {
  if (typeof s !== 'string' || !/^[A-Za-z0-9_-]*$/.test(s)) throw new JoseError(code, `${what} is not base64url`);
  return Buffer.from(s, 'base64url');
}

export function decodeHeader<T>(part: string, code: string): T {
  let header: unknown;
  try {
    header = JSON.parse(fromB64u(part, 'protected header', code).toString('utf8'));
  } catch (e) {
    if (e instanceof JoseError) throw e;
    throw new JoseError(code, 'protected header is not JSON');
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) throw new JoseError(code, 'protected header must be a JSON object');
  const h = header as Record<string, unknown>;
  if (typeof h.alg !== 'string') throw new JoseError(code, 'protected header has no "alg"');
  if (h.crit !== undefined) throw new JoseError('ERR_JOSE_NOT_SUPPORTED', 'protected header "crit" is not supported');
  return header as T;
}

export function jwsAlgorithm(alg: unknown, code = 'ERR_JOSE_NOT_SUPPORTED'): JwsAlgorithmInfo {
  const info = JWS_ALGORITHMS[alg as JwsAlgorithm];
  if (!info) throw new JoseError(code, `unsupported JWS "alg" '${String(alg)}' (${Object.keys(JWS_ALGORITHMS).join(', ')})`);
  return info;
}

/** The JWS algorithms a key can verify or sign with, for the default `algorithms` allowlist. */
export function algorithmsFor(key: Key | { kty?: unknown; crv?: unknown }): JwsAlgorithm[] {
  const use = (key as Key).use;
  if (use === 'hmac' || use === 'secret') return ['HS256', 'HS512'];
  const k = key as { kty?: unknown; crv?: unknown };
  if (k.crv === 'P-256' || use === 'ecdsa-p256') return ['ES256'];
  if (k.crv === 'P-384' || use === 'ecdsa-p384') return ['ES384'];
  if (k.crv === 'Ed25519' || use === 'ed25519') return ['EdDSA', 'Ed25519'];
  return [];
}
