/**
 * JWT (RFC 7519) on compact JWS with handle keys, in the `jose` package's shape:
 * `new SignJWT(payload).setProtectedHeader({ alg }).setIssuedAt().setExpirationTime('2h').sign(key)`
 * and `jwtVerify(jwt, key, options)` with the registered claim checks.
 */
import { InvalidArgumentError, JoseError } from '../../errors/index.js';
import type { Key } from '../../memory/key.js';
import type { JWSHeaderParameters } from './encoding.js';
import { signCompact, verifyCompact, type VerifyKey, type VerifyOptions } from './jws.js';

export interface JWTPayload {
  iss?: string;
  sub?: string;
  aud?: string | string[];
  jti?: string;
  nbf?: number;
  exp?: number;
  iat?: number;
  [claim: string]: unknown;
}

export interface JWTVerifyOptions extends VerifyOptions {
  issuer?: string | string[];
  audience?: string | string[];
  subject?: string;
  /** Expected "typ" header. */
  typ?: string;
  /** Seconds, or a time span such as '30s'. */
  clockTolerance?: string | number;
  /** Largest accepted age since "iat" (seconds or a span); requires "iat". */
  maxTokenAge?: string | number;
  currentDate?: Date;
  requiredClaims?: string[];
}

const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400, w: 604800, y: 31557600 };

/** Seconds of a time span: a number, or "<n> <unit>" (s, sec, m, min, h, hr, d, day, w, week, y, year; plurals, "ago"). */
export function secondsOf(span: string | number, what: string): number {
  if (typeof span === 'number' && Number.isFinite(span)) return span;
  const m = typeof span === 'string' ? /^(\+|-)? ?(\d+|\d+\.\d+) ?(seconds?|secs?|s|minutes?|mins?|m|hours?|hrs?|h|days?|d|weeks?|w|years?|yrs?|y)(?: (ago|from now))?$/i.exec(span) : null;
  if (!m) throw new InvalidArgumentError('ERR_INVALID_ARGUMENT', `${what}: invalid time span '${String(span)}'`);
  const unit = m[3]!.toLowerCase();
  const key = unit.startsWith('mi') || unit === 'm' ? 'm' : unit[0]!;
  const value = Math.round(Number(m[2]) * UNITS[key]!);
  return m[1] === '-' || m[4] === 'ago' ? -value : value;
}

const now = (): number => Math.floor(Date.now() / 1000);

/** A NumericDate: a Date, absolute seconds (number), or a span from now (string). */
function numericDate(input: number | string | Date, what: string): number {
  if (input instanceof Date) return Math.floor(input.getTime() / 1000);
  if (typeof input === 'number') {
    if (!Number.isFinite(input)) throw new InvalidArgumentError('ERR_INVALID_ARGUMENT', `${what}: not a finite number`);
    return input;
  }
  return now() + secondsOf(input, what);
}

/** `new SignJWT(payload)`: claims setters, then `sign(key)` with a handle key. */
export class SignJWT {
  readonly #payload: JWTPayload;
  #header: JWSHeaderParameters | undefined;

  constructor(payload: JWTPayload = {}) {
    if (payload === null || typeof payload !== 'object' || Array.isArray(payload)) {
      throw new InvalidArgumentError('ERR_INVALID_ARGUMENT', 'SignJWT: the payload must be an object');
    }
    this.#payload = { ...payload };
  }

  setProtectedHeader(header: JWSHeaderParameters): this {
    this.#header = header;
    return this;
  }
  setIssuer(iss: string): this {
    this.#payload.iss = iss;
    return this;
  }
  setSubject(sub: string): this {
    this.#payload.sub = sub;
    return this;
  }
  setAudience(aud: string | string[]): this {
    this.#payload.aud = aud;
    return this;
  }
  setJti(jti: string): this {
    this.#payload.jti = jti;
    return this;
  }
  setNotBefore(input: number | string | Date): this {
    this.#payload.nbf = numericDate(input, 'setNotBefore');
    return this;
  }
  setExpirationTime(input: number | string | Date): this {
    this.#payload.exp = numericDate(input, 'setExpirationTime');
    return this;
  }
  /** Now, or the given time. */
  setIssuedAt(input?: number | string | Date): this {
    this.#payload.iat = input === undefined ? now() : numericDate(input, 'setIssuedAt');
    return this;
  }

  /** The compact JWT. Async like `jose`'s (the work is synchronous). */
  async sign(key: Key): Promise<string> {
    if (this.#header?.b64 === false) throw new JoseError('ERR_JWT_INVALID', 'JWTs cannot use unencoded payloads');
    return signCompact(this.#header as JWSHeaderParameters, Buffer.from(JSON.stringify(this.#payload)), key, 'SignJWT');
  }
}

function claimFail(message: string, claim: string, code = 'ERR_JWT_CLAIM_VALIDATION_FAILED'): never {
  throw new JoseError(code, message, claim);
}

/** Parses and checks the claims of a verified JWT payload (RFC 7519 4.1). */
export function checkClaims(header: JWSHeaderParameters, bytes: Buffer, options: JWTVerifyOptions): JWTPayload {
  let payload: unknown;
  try {
    payload = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new JoseError('ERR_JWT_INVALID', 'JWT payload is not JSON');
  }
  if (payload === null || typeof payload !== 'object' || Array.isArray(payload)) throw new JoseError('ERR_JWT_INVALID', 'JWT payload must be a JSON object');
  const p = payload as JWTPayload;
  const t = options.currentDate ? Math.floor(options.currentDate.getTime() / 1000) : now();
  const tol = options.clockTolerance === undefined ? 0 : secondsOf(options.clockTolerance, 'clockTolerance');
  if (options.typ !== undefined && header.typ !== options.typ) claimFail('unexpected "typ" JWT header value', 'typ');
  for (const c of options.requiredClaims ?? []) if (!(c in p)) claimFail(`missing required "${c}" claim`, c);
  for (const c of ['iat', 'nbf', 'exp'] as const) {
    if (p[c] !== undefined && typeof p[c] !== 'number') claimFail(`"${c}" claim must be a number`, c);
  }
  if (options.issuer !== undefined) {
    const ok = Array.isArray(options.issuer) ? options.issuer : [options.issuer];
    if (typeof p.iss !== 'string' || !ok.includes(p.iss)) claimFail('unexpected "iss" claim value', 'iss');
  }
  if (options.subject !== undefined && p.sub !== options.subject) claimFail('unexpected "sub" claim value', 'sub');
  if (options.audience !== undefined) {
    const want = Array.isArray(options.audience) ? options.audience : [options.audience];
    const got = typeof p.aud === 'string' ? [p.aud] : Array.isArray(p.aud) ? p.aud : [];
    if (!got.some((a) => want.includes(a))) claimFail('unexpected "aud" claim value', 'aud');
  }
  if (p.nbf !== undefined && p.nbf > t + tol) claimFail('"nbf" claim timestamp check failed', 'nbf');
  if (p.exp !== undefined && p.exp <= t - tol) claimFail('"exp" claim timestamp check failed', 'exp', 'ERR_JWT_EXPIRED');
  if (options.maxTokenAge !== undefined) {
    if (p.iat === undefined) claimFail('missing required "iat" claim', 'iat');
    if (t - p.iat > secondsOf(options.maxTokenAge, 'maxTokenAge') + tol) claimFail('"iat" claim timestamp check failed (too far in the past)', 'iat', 'ERR_JWT_EXPIRED');
  }
  return p;
}

/** `jwtVerify(jwt, key, options)`, as in `jose`: HS* with the HMAC key's handle; ES/EdDSA with a public key or handle. */
export async function jwtVerify(jwt: string | Uint8Array, key: VerifyKey, options: JWTVerifyOptions = {}): Promise<{ payload: JWTPayload; protectedHeader: JWSHeaderParameters }> {
  const { payload, protectedHeader } = verifyCompact(jwt, key, options, 'jwtVerify');
  return { payload: checkClaims(protectedHeader, payload, options), protectedHeader };
}
