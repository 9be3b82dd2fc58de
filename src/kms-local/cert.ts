/**
 * A self-signed X.509 v3 certificate for the local endpoint's HTTPS mode,
 * built with node:crypto and the DER encoder in ./der.ts (no third-party
 * dependency). ECDSA P-256 with SHA-256; valid from one hour ago for 30 days.
 */
import { generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { isIP } from 'node:net';
import * as der from './der.js';

const OID_ECDSA_WITH_SHA256 = '1.2.840.10045.4.3.2';
const OID_COMMON_NAME = '2.5.4.3';
const OID_SUBJECT_ALT_NAME = '2.5.29.17';
const OID_BASIC_CONSTRAINTS = '2.5.29.19';
const OID_KEY_USAGE = '2.5.29.15';
const OID_EXT_KEY_USAGE = '2.5.29.37';
const OID_SERVER_AUTH = '1.3.6.1.5.5.7.3.1';

export interface SelfSignedCertificate {
  /** PEM of the certificate: give it to a client as `ca` (or NODE_EXTRA_CA_CERTS). */
  certificatePem: string;
  /** PEM (PKCS#8) of the private key, for the TLS server only. */
  privateKeyPem: string;
}

export interface CertificateOptions {
  commonName?: string;
  /** DNS names and IP addresses for the subjectAltName extension. */
  altNames?: string[];
  validDays?: number;
  now?: Date;
}

function ipBytes(address: string): Buffer {
  if (isIP(address) === 4) return Buffer.from(address.split('.').map(Number));
  // IPv6: expand "::" then write eight 16-bit groups.
  const [head, tail] = address.includes('::') ? address.split('::') : [address, undefined];
  const headGroups = head ? head.split(':') : [];
  const tailGroups = tail ? tail.split(':') : [];
  const groups =
    tail === undefined
      ? headGroups
      : [...headGroups, ...new Array<string>(8 - headGroups.length - tailGroups.length).fill('0'), ...tailGroups];
  const out = Buffer.alloc(16);
  groups.forEach((group, i) => out.writeUInt16BE(parseInt(group || '0', 16), i * 2));
  return out;
}

function name(commonName: string): Buffer {
  return der.sequence(der.set(der.sequence(der.oid(OID_COMMON_NAME), der.utf8String(commonName))));
}

function extension(id: string, critical: boolean, value: Buffer): Buffer {
  return critical
    ? der.sequence(der.oid(id), der.boolean(true), der.octetString(value))
    : der.sequence(der.oid(id), der.octetString(value));
}

function subjectAltNames(names: string[]): Buffer {
  const general = names.map((n) =>
    isIP(n) ? der.implicitPrimitive(7, ipBytes(n)) : der.implicitPrimitive(2, Buffer.from(n, 'ascii')),
  );
  return der.sequence(...general);
}

export function createSelfSignedCertificate(options: CertificateOptions = {}): SelfSignedCertificate {
  const commonName = options.commonName ?? 'localhost';
  const altNames = [...new Set(options.altNames ?? ['localhost', '127.0.0.1', '::1'])];
  const now = options.now ?? new Date();
  const notBefore = new Date(now.getTime() - 60 * 60 * 1000);
  const notAfter = new Date(now.getTime() + (options.validDays ?? 30) * 24 * 60 * 60 * 1000);

  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  const serial = randomBytes(16);
  serial[0] = serial[0]! & 0x7f; // positive and at most 20 octets (RFC 5280 4.1.2.2)
  const signatureAlgorithm = der.sequence(der.oid(OID_ECDSA_WITH_SHA256));

  // keyUsage: digitalSignature (bit 0) + keyCertSign (bit 5): one unused-bits byte of 2.
  const keyUsage = der.tlv(0x03, Buffer.from([0x02, 0x84]));
  const extensions = der.sequence(
    // CA:TRUE lets the same self-signed certificate be the client's trust anchor and the server's leaf.
    extension(OID_BASIC_CONSTRAINTS, true, der.sequence(der.boolean(true))),
    extension(OID_KEY_USAGE, true, keyUsage),
    extension(OID_EXT_KEY_USAGE, false, der.sequence(der.oid(OID_SERVER_AUTH))),
    extension(OID_SUBJECT_ALT_NAME, false, subjectAltNames(altNames)),
  );

  const tbs = der.sequence(
    der.explicit(0, der.smallInteger(2)), // v3
    der.unsignedInteger(serial),
    signatureAlgorithm,
    name(commonName),
    der.sequence(der.utcTime(notBefore), der.utcTime(notAfter)),
    name(commonName),
    spki,
    der.explicit(3, extensions),
  );
  const signature = sign('sha256', tbs, privateKey); // DER ECDSA-Sig-Value
  const certificate = der.sequence(tbs, signatureAlgorithm, der.bitString(signature));

  return {
    certificatePem: toPem('CERTIFICATE', certificate),
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
  };
}

function toPem(label: string, body: Buffer): string {
  const lines = body.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}
