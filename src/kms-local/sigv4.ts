/**
 * SigV4 checks. Every request must carry a well-formed
 * `Authorization: AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...`
 * header and `X-Amz-Date`, as real KMS requires; with credentials configured
 * the signature itself is recomputed and compared.
 *
 * Error types follow AWS: no Authorization header -> MissingAuthenticationTokenException,
 * a malformed one -> IncompleteSignatureException, a wrong signature ->
 * InvalidSignatureException, an unknown access key -> UnrecognizedClientException.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { KmsProtocolError } from './errors.js';

export interface SigV4Credentials {
  accessKeyId: string;
  secretAccessKey: string;
}

export interface ParsedAuthorization {
  accessKeyId: string;
  date: string;
  region: string;
  service: string;
  signedHeaders: string[];
  signature: string;
  amzDate: string;
}

export interface SignedRequest {
  method: string;
  /** Path and query exactly as received (e.g. `/` or `/?a=b`). */
  url: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

const ALGORITHM = 'AWS4-HMAC-SHA256';
const MAX_SKEW_MS = 15 * 60 * 1000;

const incomplete = (message: string) => new KmsProtocolError('IncompleteSignatureException', message);
const invalid = (message: string) => new KmsProtocolError('InvalidSignatureException', message);

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value.join(',') : value;
}

/** Checks the shape of the Authorization header against the endpoint's region; throws a KmsProtocolError. */
export function parseAuthorization(headers: IncomingHttpHeaders, region: string): ParsedAuthorization {
  const authorization = header(headers, 'authorization');
  if (authorization === undefined || authorization.trim() === '') {
    throw new KmsProtocolError('MissingAuthenticationTokenException', 'Missing Authentication Token');
  }
  if (!authorization.startsWith(`${ALGORITHM} `)) {
    throw incomplete(`Authorization header must use the ${ALGORITHM} algorithm`);
  }
  const fields = new Map<string, string>();
  for (const part of authorization.slice(ALGORITHM.length + 1).split(',')) {
    const eq = part.indexOf('=');
    if (eq > 0) fields.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
  }
  const missing = ['Credential', 'SignedHeaders', 'Signature'].filter((f) => !fields.get(f));
  if (missing.length > 0) {
    throw incomplete(missing.map((f) => `Authorization header requires '${f}' parameter.`).join(' '));
  }
  const credential = fields.get('Credential')!.split('/');
  if (
    credential.length !== 5 ||
    !credential[0] ||
    !/^\d{8}$/.test(credential[1]!) ||
    !credential[2] ||
    credential[4] !== 'aws4_request'
  ) {
    throw incomplete(`Credential must have the form <access key>/<yyyymmdd>/<region>/kms/aws4_request`);
  }
  const [accessKeyId, date, credentialRegion, service] = credential as [string, string, string, string];
  if (service !== 'kms') throw invalid(`Credential should be scoped to correct service: 'kms', not '${service}'`);
  if (credentialRegion !== region) {
    throw invalid(
      `Credential should be scoped to a valid region: this endpoint serves '${region}', not '${credentialRegion}' (set the client's region or the endpoint's region option)`,
    );
  }
  const signedHeaders = fields.get('SignedHeaders')!.split(';');
  if (signedHeaders.some((h) => !/^[a-z0-9-]+$/.test(h))) {
    throw incomplete('SignedHeaders must be a semicolon-separated list of lowercase header names');
  }
  for (const required of ['host', 'x-amz-date']) {
    if (!signedHeaders.includes(required)) throw incomplete(`SignedHeaders must include '${required}'`);
  }
  for (const name of signedHeaders) {
    if (header(headers, name) === undefined) throw incomplete(`Signed header '${name}' is not in the request`);
  }
  const signature = fields.get('Signature')!;
  if (!/^[0-9a-f]{64}$/.test(signature)) throw incomplete('Signature must be 64 lowercase hexadecimal characters');
  const amzDate = header(headers, 'x-amz-date');
  if (amzDate === undefined) {
    throw incomplete(`Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.`);
  }
  if (!/^\d{8}T\d{6}Z$/.test(amzDate)) throw incomplete(`X-Amz-Date must have the form yyyyMMddTHHmmssZ`);
  if (amzDate.slice(0, 8) !== date) {
    throw invalid(`Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '${date}' != '${amzDate.slice(0, 8)}'`);
  }
  return { accessKeyId, date, region: credentialRegion, service, signedHeaders, signature, amzDate };
}

/** Recomputes the signature with `credentials`; throws on an unknown key, a stale date or a mismatch. */
export function verifySignature(
  request: SignedRequest,
  auth: ParsedAuthorization,
  credentials: SigV4Credentials,
  now = Date.now(),
): void {
  if (auth.accessKeyId !== credentials.accessKeyId) {
    throw new KmsProtocolError('UnrecognizedClientException', 'The security token included in the request is invalid.');
  }
  const signedAt = Date.parse(
    `${auth.amzDate.slice(0, 4)}-${auth.amzDate.slice(4, 6)}-${auth.amzDate.slice(6, 8)}T${auth.amzDate.slice(9, 11)}:${auth.amzDate.slice(11, 13)}:${auth.amzDate.slice(13, 15)}Z`,
  );
  if (!Number.isFinite(signedAt) || Math.abs(now - signedAt) > MAX_SKEW_MS) {
    throw invalid(`Signature expired or not yet valid: ${auth.amzDate} is more than 15 minutes from the endpoint's clock`);
  }
  const expected = computeSignature(request, auth, credentials.secretAccessKey);
  if (!timingSafeEqual(Buffer.from(expected, 'ascii'), Buffer.from(auth.signature, 'ascii'))) {
    throw invalid(
      'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.',
    );
  }
}

export function computeSignature(request: SignedRequest, auth: ParsedAuthorization, secretAccessKey: string): string {
  const [path, query = ''] = splitOnce(request.url, '?');
  const canonicalHeaders = auth.signedHeaders
    .map((name) => `${name}:${(header(request.headers, name) ?? '').trim().replace(/\s+/g, ' ')}\n`)
    .join('');
  const canonicalRequest = [
    request.method.toUpperCase(),
    path || '/',
    canonicalQuery(query),
    canonicalHeaders,
    auth.signedHeaders.join(';'),
    sha256Hex(request.body),
  ].join('\n');
  const scope = `${auth.date}/${auth.region}/${auth.service}/aws4_request`;
  const stringToSign = [ALGORITHM, auth.amzDate, scope, sha256Hex(canonicalRequest)].join('\n');
  let key: Buffer = hmac(`AWS4${secretAccessKey}`, auth.date);
  for (const part of [auth.region, auth.service, 'aws4_request']) key = hmac(key, part);
  return hmac(key, stringToSign).toString('hex');
}

function canonicalQuery(query: string): string {
  if (!query) return '';
  return query
    .split('&')
    .filter(Boolean)
    .map((pair) => {
      const [k, v = ''] = splitOnce(pair, '=');
      return [uriEncode(decode(k)), uriEncode(decode(v))] as const;
    })
    .sort(([ak, av], [bk, bv]) => (ak < bk ? -1 : ak > bk ? 1 : av < bv ? -1 : av > bv ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
}

function decode(s: string): string {
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    return s;
  }
}

function uriEncode(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

function splitOnce(s: string, sep: string): [string, string | undefined] {
  const i = s.indexOf(sep);
  return i < 0 ? [s, undefined] : [s.slice(0, i), s.slice(i + 1)];
}

function sha256Hex(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

function hmac(key: string | Buffer, data: string): Buffer {
  return createHmac('sha256', key).update(data, 'utf8').digest();
}
