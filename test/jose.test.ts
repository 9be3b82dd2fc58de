/**
 * JOSE on handles, proved against the `jose` package and node:crypto in both
 * directions: JWS/JWT HS256, HS512, ES256, ES384, EdDSA signed with handle keys
 * verify in `jose` (with the public JWK we export, or the HMAC key's bytes) and in
 * node:crypto; tokens `jose` signs verify with ours; JWE 'dir' and 'ECDH-ES' (P-256,
 * X25519) with A256GCM decrypt across both; claim checks and typed errors.
 */
import { createPublicKey, randomBytes, verify as nodeVerify } from 'node:crypto';
import * as jose from 'jose';
import { describe, expect, it } from 'vitest';
import {
  CompactEncrypt,
  CompactSign,
  InvalidArgumentError,
  JoseError,
  KeyUsageError,
  SignJWT,
  compactDecrypt,
  compactVerify,
  configureSecretMemory,
  exportJWK,
  generateKeyPair,
  importKey,
  jwtVerify,
  protectionReport,
  type Key,
} from '../src/index.js';

configureSecretMemory({ require: 'any' });

const hmacKey = (n: number): { key: Key; raw: Buffer } => {
  const raw = randomBytes(n);
  return { key: importKey(Buffer.from(raw)), raw };
};

const ASYM = [
  { alg: 'ES256', use: 'ecdsa-p256', hash: 'sha256' },
  { alg: 'ES384', use: 'ecdsa-p384', hash: 'sha384' },
  { alg: 'EdDSA', use: 'ed25519', hash: null },
] as const;

describe('JWS / JWT signed with handles verify in jose and node:crypto', () => {
  for (const { alg, use, hash } of ASYM) {
    it(`${alg}: SignJWT on a handle -> jose.jwtVerify(importJWK(exportJWK(handle))) and node:crypto`, async () => {
      const { privateKey } = generateKeyPair(use, { scope: null });
      const jwk = await exportJWK(privateKey);
      expect(jwk).not.toHaveProperty('d');
      const token = await new SignJWT({ sub: 'user-1', scope: 'read' })
        .setProtectedHeader({ alg, typ: 'JWT' })
        .setIssuedAt()
        .setIssuer('secret-scope')
        .setAudience('tests')
        .setExpirationTime('2h')
        .sign(privateKey);
      const theirs = await jose.jwtVerify(token, await jose.importJWK(jwk as jose.JWK, alg), { issuer: 'secret-scope', audience: 'tests' });
      expect(theirs.payload.sub).toBe('user-1');
      expect(theirs.payload.exp! - theirs.payload.iat!).toBe(7200);
      const [h, p, s] = token.split('.');
      const keyObject = createPublicKey({ key: jwk, format: 'jwk' });
      const sig = Buffer.from(s!, 'base64url');
      const input = Buffer.from(`${h}.${p}`);
      expect(hash ? nodeVerify(hash, input, { key: keyObject, dsaEncoding: 'ieee-p1363' }, sig) : nodeVerify(null, input, keyObject, sig)).toBe(true);
      // And with ours, from the public JWK and from the handle.
      expect((await jwtVerify(token, jwk, { issuer: 'secret-scope', audience: 'tests' })).payload.scope).toBe('read');
      expect((await jwtVerify(token, privateKey)).protectedHeader.alg).toBe(alg);
      // A flipped signature bit fails in both.
      const bad = `${h}.${p}.${Buffer.from(sig.map((b, i) => (i === 0 ? b ^ 1 : b))).toString('base64url')}`;
      await expect(jwtVerify(bad, jwk)).rejects.toMatchObject({ code: 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED' });
      await expect(jose.jwtVerify(bad, await jose.importJWK(jwk as jose.JWK, alg))).rejects.toThrow();
      privateKey.release();
    });

    it(`${alg}: jose signs, we verify with the public JWK`, async () => {
      const pair = await jose.generateKeyPair(alg, { extractable: true, ...(alg === 'EdDSA' ? { crv: 'Ed25519' } : {}) });
      const token = await new jose.SignJWT({ n: 1 }).setProtectedHeader({ alg }).setExpirationTime('1h').sign(pair.privateKey);
      const jwk = await jose.exportJWK(pair.publicKey);
      expect((await jwtVerify(token, jwk)).payload.n).toBe(1);
      const other = await jose.exportJWK((await jose.generateKeyPair(alg, { extractable: true, ...(alg === 'EdDSA' ? { crv: 'Ed25519' } : {}) })).publicKey);
      await expect(jwtVerify(token, other)).rejects.toMatchObject({ code: 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED' });
    });
  }

  for (const [alg, n] of [['HS256', 32], ['HS512', 64]] as const) {
    it(`${alg}: both ways with jose; verification with the handle`, async () => {
      const { key, raw } = hmacKey(n);
      const ours = await new SignJWT({ a: 1 }).setProtectedHeader({ alg }).setIssuedAt().setExpirationTime('5m').sign(key);
      expect((await jose.jwtVerify(ours, raw)).payload.a).toBe(1);
      const theirs = await new jose.SignJWT({ b: 2 }).setProtectedHeader({ alg }).setExpirationTime('5m').sign(raw);
      expect((await jwtVerify(theirs, key)).payload.b).toBe(2);
      // The same bytes, as jose signs them, from the handle: HMAC is deterministic.
      const payload = Buffer.from('{"x":true}');
      expect(await new CompactSign(payload).setProtectedHeader({ alg }).sign(key)).toBe(await new jose.CompactSign(payload).setProtectedHeader({ alg }).sign(raw));
      const other = hmacKey(n).key;
      await expect(jwtVerify(theirs, other)).rejects.toMatchObject({ code: 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED' });
      key.release();
      other.release();
    });
  }

  it('compactVerify returns the payload bytes; alg allowlist and key/alg mismatches are typed errors', async () => {
    const { key } = hmacKey(32);
    const jws = await new CompactSign(Buffer.from('payload')).setProtectedHeader({ alg: 'HS256' }).sign(key);
    expect((await compactVerify(jws, key)).payload.toString()).toBe('payload');
    await expect(compactVerify(jws, key, { algorithms: ['HS512'] })).rejects.toMatchObject({ code: 'ERR_JOSE_ALG_NOT_ALLOWED' });
    // alg "none" and unknown algs never verify.
    const none = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from('x').toString('base64url')}.`;
    await expect(compactVerify(none, key)).rejects.toMatchObject({ code: 'ERR_JOSE_ALG_NOT_ALLOWED' });
    await expect(compactVerify(none, key, { algorithms: ['none'] })).rejects.toBeInstanceOf(JoseError);
    // An ES256 key cannot sign ES384; a 16-byte HMAC key is too short for HS256; an ed25519 key cannot HS256.
    const p256 = generateKeyPair('ecdsa-p256', { scope: null }).privateKey;
    await expect(new CompactSign(Buffer.from('x')).setProtectedHeader({ alg: 'ES384' }).sign(p256)).rejects.toBeInstanceOf(KeyUsageError);
    await expect(new CompactSign(Buffer.from('x')).setProtectedHeader({ alg: 'HS256' }).sign(importKey(randomBytes(16)))).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(new CompactSign(Buffer.from('x')).setProtectedHeader({ alg: 'HS256' }).sign(generateKeyPair('ed25519', { scope: null }).privateKey)).rejects.toBeInstanceOf(KeyUsageError);
    await expect(compactVerify('a.b', key)).rejects.toMatchObject({ code: 'ERR_JWS_INVALID' });
    p256.release();
    key.release();
  });

  it('jwtVerify checks exp, nbf, iss, aud, typ and maxTokenAge (with clockTolerance)', async () => {
    const { key } = hmacKey(32);
    const t0 = Math.floor(Date.now() / 1000);
    const tok = (claims: Record<string, unknown>, header: Record<string, unknown> = {}) => new SignJWT(claims).setProtectedHeader({ alg: 'HS256', ...header }).sign(key);
    await expect(jwtVerify(await tok({ exp: t0 - 10 }), key)).rejects.toMatchObject({ code: 'ERR_JWT_EXPIRED', claim: 'exp' });
    expect((await jwtVerify(await tok({ exp: t0 - 10 }), key, { clockTolerance: '1m' })).payload.exp).toBe(t0 - 10);
    await expect(jwtVerify(await tok({ nbf: t0 + 3600 }), key)).rejects.toMatchObject({ code: 'ERR_JWT_CLAIM_VALIDATION_FAILED', claim: 'nbf' });
    await expect(jwtVerify(await tok({ iss: 'a' }), key, { issuer: 'b' })).rejects.toMatchObject({ claim: 'iss' });
    await expect(jwtVerify(await tok({ aud: ['x', 'y'] }), key, { audience: 'z' })).rejects.toMatchObject({ claim: 'aud' });
    expect((await jwtVerify(await tok({ aud: ['x', 'y'] }), key, { audience: 'y' })).payload.aud).toEqual(['x', 'y']);
    await expect(jwtVerify(await tok({}, { typ: 'JWT' }), key, { typ: 'at+jwt' })).rejects.toMatchObject({ claim: 'typ' });
    await expect(jwtVerify(await tok({ iat: t0 - 7200 }), key, { maxTokenAge: '1h' })).rejects.toMatchObject({ code: 'ERR_JWT_EXPIRED', claim: 'iat' });
    key.release();
  });
});

describe('JWE with handles interoperates with jose', () => {
  for (const crv of ['P-256', 'X25519'] as const) {
    const use = crv === 'P-256' ? 'ecdh-p256' : 'x25519';

    it(`ECDH-ES ${crv} + A256GCM: jose encrypts to our exported public JWK, we decrypt with the handle`, async () => {
      const { privateKey } = generateKeyPair(use, { scope: null });
      const jwk = await exportJWK(privateKey);
      const jwe = await new jose.CompactEncrypt(Buffer.from('to the handle'))
        .setProtectedHeader({ alg: 'ECDH-ES', enc: 'A256GCM' })
        .setKeyManagementParameters({ apu: Buffer.from('alice'), apv: Buffer.from('bob') })
        .encrypt(await jose.importJWK(jwk as jose.JWK, 'ECDH-ES'));
      const before = protectionReport().liveSlots;
      const { plaintext, protectedHeader } = await compactDecrypt(jwe, privateKey);
      expect(plaintext.toString()).toBe('to the handle');
      expect(protectedHeader.epk?.crv).toBe(crv);
      expect(protectionReport().liveSlots).toBe(before); // Z and the CEK were released
      const parts = jwe.split('.');
      parts[3] = Buffer.from(Buffer.from(parts[3]!, 'base64url').map((b, i) => (i === 0 ? b ^ 1 : b))).toString('base64url');
      await expect(compactDecrypt(parts.join('.'), privateKey)).rejects.toMatchObject({ code: 'ERR_JWE_DECRYPTION_FAILED' });
      privateKey.release();
    });

    it(`ECDH-ES ${crv} + A256GCM: we encrypt to a jose public key, jose decrypts`, async () => {
      const pair = await jose.generateKeyPair('ECDH-ES', { crv, extractable: true });
      const jwk = await jose.exportJWK(pair.publicKey);
      const before = protectionReport().liveSlots;
      const jwe = await new CompactEncrypt(Buffer.from('to jose')).setProtectedHeader({ alg: 'ECDH-ES', enc: 'A256GCM' })
        .setKeyManagementParameters({ apu: Buffer.from('u') }).encrypt(jwk);
      expect(protectionReport().liveSlots).toBe(before); // ephemeral key, Z and CEK released
      const { plaintext } = await jose.compactDecrypt(jwe, pair.privateKey);
      expect(Buffer.from(plaintext).toString()).toBe('to jose');
    });
  }

  it("'dir' + A128GCM both ways with the same 16 bytes", async () => {
    const raw = randomBytes(16);
    const key = importKey(Buffer.from(raw));
    const ours = await new CompactEncrypt(Buffer.from('short key')).setProtectedHeader({ alg: 'dir', enc: 'A128GCM' }).encrypt(key);
    expect(Buffer.from((await jose.compactDecrypt(ours, raw)).plaintext).toString()).toBe('short key');
    const theirs = await new jose.CompactEncrypt(Buffer.from('back')).setProtectedHeader({ alg: 'dir', enc: 'A128GCM' }).encrypt(raw);
    expect((await compactDecrypt(theirs, key)).plaintext.toString()).toBe('back');
    // The key length must match "enc".
    await expect(new CompactEncrypt(Buffer.from('x')).setProtectedHeader({ alg: 'dir', enc: 'A256GCM' }).encrypt(key)).rejects.toBeInstanceOf(InvalidArgumentError);
    key.release();
  });

  it("'dir' + A256GCM both ways with the same 32 bytes", async () => {
    const raw = randomBytes(32);
    const key = importKey(Buffer.from(raw));
    // importKey keys are generic ('secret'), which AEAD accepts.
    const ours = await new CompactEncrypt(Buffer.from('direct')).setProtectedHeader({ alg: 'dir', enc: 'A256GCM' }).encrypt(key);
    expect(Buffer.from((await jose.compactDecrypt(ours, raw)).plaintext).toString()).toBe('direct');
    const theirs = await new jose.CompactEncrypt(Buffer.from('back')).setProtectedHeader({ alg: 'dir', enc: 'A256GCM' }).encrypt(raw);
    expect((await compactDecrypt(theirs, key)).plaintext.toString()).toBe('back');
    await expect(compactDecrypt(theirs, importKey(randomBytes(32)))).rejects.toMatchObject({ code: 'ERR_JWE_DECRYPTION_FAILED' });
    await expect(compactDecrypt(theirs, key, { keyManagementAlgorithms: ['ECDH-ES'] })).rejects.toMatchObject({ code: 'ERR_JOSE_ALG_NOT_ALLOWED' });
    key.release();
  });

  it('exportJWK refuses symmetric keys (nothing secret is exported)', async () => {
    const { key } = hmacKey(32);
    await expect(exportJWK(key)).rejects.toBeInstanceOf(KeyUsageError);
    key.release();
  });
});
