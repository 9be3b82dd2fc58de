import { X509Certificate, createPrivateKey, createPublicKey } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import * as der from '../src/kms-local/der.js';
import { createSelfSignedCertificate } from '../src/kms-local/index.js';

describe('DER encoder', () => {
  it('encodes OIDs, integers and long lengths per X.690', () => {
    expect(der.oid('1.2.840.10045.4.3.2').toString('hex')).toBe('06082a8648ce3d040302');
    expect(der.oid('2.5.29.17').toString('hex')).toBe('0603551d11');
    expect(der.smallInteger(0).toString('hex')).toBe('020100');
    expect(der.smallInteger(2).toString('hex')).toBe('020102');
    expect(der.unsignedInteger(Buffer.from([0x80])).toString('hex')).toBe('02020080');
    expect(der.unsignedInteger(Buffer.from([0, 0, 1])).toString('hex')).toBe('020101');
    expect(der.octetString(Buffer.alloc(200)).subarray(0, 3).toString('hex')).toBe('0481c8');
    expect(der.octetString(Buffer.alloc(300)).subarray(0, 4).toString('hex')).toBe('0482012c');
    expect(der.utcTime(new Date(Date.UTC(2025, 0, 2, 3, 4, 5))).toString('ascii', 2)).toBe('250102030405Z');
  });
});

describe('self-signed certificate', () => {
  it('is a valid v3 certificate for localhost and 127.0.0.1, signed by its own P-256 key', () => {
    const { certificatePem, privateKeyPem } = createSelfSignedCertificate();
    const cert = new X509Certificate(certificatePem);
    expect(cert.subject).toBe('CN=localhost');
    expect(cert.issuer).toBe('CN=localhost');
    expect(cert.subjectAltName).toContain('DNS:localhost');
    expect(cert.subjectAltName).toContain('IP Address:127.0.0.1');
    expect(cert.checkHost('localhost')).toBe('localhost');
    expect(cert.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(cert.verify(cert.publicKey)).toBe(true);
    expect(cert.publicKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    expect(new Date(cert.validFrom).getTime()).toBeLessThanOrEqual(Date.now());
    expect(new Date(cert.validTo).getTime()).toBeGreaterThan(Date.now() + 24 * 3600 * 1000);
    // The private key matches the certificate's public key.
    const derivedPublic = createPublicKey(createPrivateKey(privateKeyPem)).export({ type: 'spki', format: 'der' });
    expect(derivedPublic.equals(cert.publicKey.export({ type: 'spki', format: 'der' }))).toBe(true);
  });
});
