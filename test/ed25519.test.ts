/**
 * Ed25519 on handles: Wycheproof verify vectors, signatures byte-identical to
 * node:crypto's for the same seed (Ed25519 is deterministic), the RFC 8032 seed
 * derived by HKDF recomputed with node:crypto, and seed import.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, hkdfSync, randomBytes, sign as nodeSign, verify as nodeVerify } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  InvalidArgumentError,
  InvalidPublicKeyError,
  configureSecretMemory,
  generateKeyPair,
  hkdf,
  importKey,
  importPrivateKey,
  publicKey,
  sign,
  verify,
} from '../src/index.js';
import { Tally, hex, loadWycheproof, thrown } from './helpers/vectors.js';
import { bytesOf, errName, finish, inScope, needVectors } from './helpers/vector-cases.js';

configureSecretMemory({ require: 'any' });

/** node:crypto's private key for a 32-byte seed (PKCS #8 of RFC 8410). */
const nodePrivate = (seed: Buffer) =>
  createPrivateKey({ key: Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), seed]), format: 'der', type: 'pkcs8' });

describe('Wycheproof Ed25519 verify', () => {
  it('ed25519_test.json: valid signatures verify, invalid ones do not (raw and JWK public keys)', (ctx) => {
    needVectors(ctx);
    const j = loadWycheproof('ed25519_test.json');
    const t = new Tally();
    for (const g of j.testGroups) {
      const pk = hex((g.publicKey as { pk: string }).pk);
      const jwk = g.publicKeyJwk as Record<string, string> | undefined;
      for (const tc of g.tests) {
        t.expect(tc.result);
        let why: string | undefined;
        try {
          const ok = verify(pk, hex(tc.msg), hex(tc.sig), { use: 'ed25519' });
          if (jwk && verify({ kty: 'OKP', crv: 'Ed25519', x: jwk.x }, hex(tc.msg), hex(tc.sig), { use: 'ed25519' }) !== ok) why = 'JWK and raw keys disagree';
          if (tc.result === 'valid' && !ok) why = 'valid signature refused';
          if (tc.result === 'invalid' && ok) why = 'invalid signature accepted';
        } catch (e) {
          why = errName(e);
        }
        if (why) t.fail(tc.tcId, `${tc.result} ${tc.comment}: ${why}`);
        else t.pass(tc.result);
      }
    }
    finish(t, 'ed25519');
    expect(t.total()).toBe(j.numberOfTests);
  });
});

describe('Ed25519 signing', () => {
  it('RFC 8032 test 1: the public key and signature of the published seed', () => {
    inScope((scope) => {
      const key = importPrivateKey(hex('9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60'), { use: 'ed25519', scope });
      expect(publicKey(key).toString('hex')).toBe('d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a');
      expect(sign(key, Buffer.alloc(0)).toString('hex')).toBe(
        'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b',
      );
    });
  });

  it('signatures equal node:crypto\'s for the same seed, byte for byte; both verify each other\'s', () => {
    inScope((scope) => {
      for (let i = 0; i < 10; i++) {
        const seed = randomBytes(32);
        const key = importPrivateKey(Buffer.from(seed), { use: 'ed25519', scope });
        const theirs = nodePrivate(seed);
        const pub = publicKey(key);
        expect(pub.equals(Buffer.from(createPublicKey(theirs).export({ format: 'der', type: 'spki' })).subarray(-32))).toBe(true);
        expect(publicKey(key, { format: 'jwk' })).toEqual({ kty: 'OKP', crv: 'Ed25519', x: pub.toString('base64url') });
        const msg = randomBytes(i * 41);
        const sig = sign(key, msg);
        expect(sig.toString('hex')).toBe(nodeSign(null, msg, theirs).toString('hex'));
        expect(nodeVerify(null, msg, createPublicKey({ key: publicKey(key, { format: 'spki' }), format: 'der', type: 'spki' }), sig)).toBe(true);
        expect(verify(pub, msg, nodeSign(null, msg, theirs), { use: 'ed25519' })).toBe(true);
      }
      const other = generateKeyPairSync('ed25519');
      const msg = Buffer.from('from node');
      expect(verify(other.publicKey.export({ format: 'jwk' }), msg, nodeSign(null, msg, other.privateKey), { use: 'ed25519' })).toBe(true);
      const { privateKey, publicKey: raw } = generateKeyPair('ed25519', { scope });
      expect([privateKey.use, privateKey.length, raw.length]).toEqual(['ed25519', 32, 32]);
      expect(verify(raw, 'x', sign(privateKey, 'x'), { use: 'ed25519' })).toBe(true);
    });
  });

  it('an HKDF-derived Ed25519 key is the RFC 8032 seed = HKDF output (recomputed with node:crypto)', () => {
    inScope((scope) => {
      const ikm = randomBytes(64);
      const salt = randomBytes(16);
      const key = hkdf(importKey(Buffer.from(ikm), { scope }), { hash: 'sha512', salt, info: 'ed', use: 'ed25519', scope });
      const seed = Buffer.from(hkdfSync('sha512', ikm, salt, 'ed', 32));
      expect(sign(key, 'm').equals(nodeSign(null, Buffer.from('m'), nodePrivate(seed)))).toBe(true);
      expect(bytesOf(key).equals(seed)).toBe(true);
    });
  });

  it('format is refused for Ed25519, wrong seed lengths and bad public keys are typed errors', () => {
    inScope((scope) => {
      const { privateKey, publicKey: raw } = generateKeyPair('ed25519', { scope });
      expect(thrown(() => sign(privateKey, 'm', { format: 'der' }))).toBeInstanceOf(InvalidArgumentError);
      expect(thrown(() => verify(raw, 'm', Buffer.alloc(64), { use: 'ed25519', format: 'p1363' }))).toBeInstanceOf(InvalidArgumentError);
      const short = randomBytes(31);
      expect(thrown(() => importPrivateKey(short, { use: 'ed25519', scope }))).toBeInstanceOf(InvalidArgumentError);
      expect(short.every((b) => b === 0)).toBe(true);
      expect(thrown(() => verify(raw.subarray(1), 'm', Buffer.alloc(64), { use: 'ed25519' }))).toBeInstanceOf(InvalidPublicKeyError);
      expect(thrown(() => verify({ kty: 'OKP', crv: 'X25519', x: raw.toString('base64url') }, 'm', Buffer.alloc(64), { use: 'ed25519' }))).toBeInstanceOf(InvalidPublicKeyError);
      expect(thrown(() => verify({ kty: 'OKP', crv: 'Ed25519', x: raw.toString('base64url'), d: 'AAAA' }, 'm', Buffer.alloc(64), { use: 'ed25519' }))).toBeInstanceOf(InvalidPublicKeyError);
      expect(verify(raw, 'm', Buffer.alloc(63), { use: 'ed25519' })).toBe(false);
    });
  });
});
