/**
 * HPKE (RFC 9180) base mode on handles: every Appendix A base-mode vector of the
 * suites we implement (DHKEM(X25519 | P-256, HKDF-SHA256), HKDF-SHA256,
 * AES-128-GCM | ChaCha20Poly1305), including DeriveKeyPair (ikmE, ikmR), every
 * sequence-numbered encryption and every exported value; round trips both ways with
 * @hpke/core for all six suites (AES-256-GCM too, which Appendix A lists only with
 * P-521); and the typed errors and key separation of the context keys.
 */
import { Aes128Gcm, Aes256Gcm, CipherSuite, DhkemP256HkdfSha256, DhkemX25519HkdfSha256, HkdfSha256 } from '@hpke/core';
import { Chacha20Poly1305 } from '@hpke/chacha20poly1305';
import { describe, expect, it } from 'vitest';
import {
  AuthenticationError,
  InvalidPublicKeyError,
  KeyUsageError,
  UnsupportedAlgorithmError,
  aeadSeal,
  configureSecretMemory,
  exposeUnsafe,
  generateKeyPair,
  hpkeDeriveKeyPair,
  hpkeOpen,
  hpkeRecipientContext,
  hpkeSeal,
  hpkeSenderContext,
  importKey,
  openScope,
  protectionReport,
  type HpkeAead,
  type HpkeKem,
  type Key,
} from '../src/index.js';
import { native } from '../src/memory/native.js';
import { keyId } from '../src/memory/key.js';
import { hpkeVectorsAvailable, loadHpkeVectors, type HpkeVector } from './helpers/hpke-vectors.js';
import { requireVectors } from './helpers/vectors.js';

configureSecretMemory({ require: 'any' });

const hex = (s: string | undefined): Buffer => Buffer.from(s ?? '', 'hex');
const bytesOf = (k: Key): string => exposeUnsafe(k, (v) => Buffer.from(v).toString('hex'));
const ikm = (s: string | undefined): Key => importKey(hex(s));

const KEM_IDS: Record<string, HpkeKem> = { '32': 'dhkem-x25519-hkdf-sha256', '16': 'dhkem-p256-hkdf-sha256' };
const AEAD_IDS: Record<string, HpkeAead> = { '1': 'aes-128-gcm', '2': 'aes-256-gcm', '3': 'chacha20-poly1305' };

function ours(v: HpkeVector): { kem: HpkeKem; aead: HpkeAead } | undefined {
  const s = v.setup;
  if (v.mode !== 'Base' || s.kdf_id !== '1') return undefined;
  const kem = KEM_IDS[s.kem_id!];
  const aead = AEAD_IDS[s.aead_id!];
  return kem && aead ? { kem, aead } : undefined;
}

describe('RFC 9180 Appendix A, base mode', () => {
  const available = hpkeVectorsAvailable();
  if (!available && requireVectors) throw new Error('CI=true but the HPKE vectors are absent (../shared/test-vectors)');
  const vectors = available ? loadHpkeVectors() : [];
  const mine = vectors.filter((v) => ours(v));

  it.skipIf(!available)('covers the four suites Appendix A lists for DHKEM(X25519/P-256) with HKDF-SHA256', () => {
    expect(mine.map((v) => v.suite).sort()).toEqual([
      'DHKEM(P-256, HKDF-SHA256), HKDF-SHA256, AES-128-GCM',
      'DHKEM(P-256, HKDF-SHA256), HKDF-SHA256, ChaCha20Poly1305',
      'DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-128-GCM',
      'DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, ChaCha20Poly1305',
    ]);
    for (const v of mine) {
      expect(v.encryptions.length).toBeGreaterThanOrEqual(6);
      expect(v.exports.length).toBe(3);
    }
  });

  for (const v of mine) {
    const { kem, aead } = ours(v)!;
    const s = v.setup;
    it(`${v.suite}: DeriveKeyPair, enc, every encryption and export, both directions`, () => {
      const scope = openScope();
      try {
        const e = hpkeDeriveKeyPair(ikm(s.ikmE), { kem });
        const r = hpkeDeriveKeyPair(ikm(s.ikmR), { kem });
        expect(e.publicKey.toString('hex')).toBe(s.pkEm);
        expect(r.publicKey.toString('hex')).toBe(s.pkRm);
        expect(bytesOf(hpkeDeriveKeyPair(ikm(s.ikmE), { kem }).privateKey)).toBe(s.skEm);
        expect(bytesOf(hpkeDeriveKeyPair(ikm(s.ikmR), { kem }).privateKey)).toBe(s.skRm);

        const suite = { kem, aead };
        const sender = hpkeSenderContext(r.publicKey, { suite, info: hex(s.info), ephemeralKey: e.privateKey });
        const recipient = hpkeRecipientContext(r.privateKey, sender.enc, { suite, info: hex(s.info) });
        expect(sender.enc.toString('hex')).toBe(s.enc);
        let checked = 0;
        for (const enc of v.encryptions) {
          const seq = Number(enc['sequence number']);
          // The vectors skip sequence numbers (0, 1, 2, 4, 255, 256): advance both contexts.
          while (sender.seq < seq) recipient.open(sender.seal(Buffer.from('skip')));
          const ct = sender.seal(hex(enc.pt), hex(enc.aad));
          expect(ct.toString('hex'), `seq ${seq}`).toBe(enc.ct);
          expect(recipient.open(hex(enc.ct), hex(enc.aad)).toString('hex')).toBe(enc.pt);
          checked++;
        }
        expect(checked).toBe(v.encryptions.length);
        for (const x of v.exports) {
          const L = Number(x.L);
          expect(bytesOf(sender.export(hex(x.exporter_context), L)), `export ${x.exporter_context}`).toBe(x.exported_value);
          expect(bytesOf(recipient.export(hex(x.exporter_context), L))).toBe(x.exported_value);
        }
      } finally {
        scope.end();
      }
    });
  }
});

const KEMS = {
  'dhkem-x25519-hkdf-sha256': () => new DhkemX25519HkdfSha256(),
  'dhkem-p256-hkdf-sha256': () => new DhkemP256HkdfSha256(),
} as const;
const AEADS = {
  'aes-128-gcm': () => new Aes128Gcm(),
  'aes-256-gcm': () => new Aes256Gcm(),
  'chacha20-poly1305': () => new Chacha20Poly1305(),
} as const;
const USE = { 'dhkem-x25519-hkdf-sha256': 'x25519', 'dhkem-p256-hkdf-sha256': 'ecdh-p256' } as const;

describe('interop with @hpke/core', () => {
  for (const kem of Object.keys(KEMS) as HpkeKem[]) {
    for (const aead of Object.keys(AEADS) as HpkeAead[]) {
      const theirs = () => new CipherSuite({ kem: KEMS[kem](), kdf: new HkdfSha256(), aead: AEADS[aead]() });
      const info = Buffer.from('secret-scope interop');

      it(`${kem} + ${aead}: @hpke/core seals, we open (single-shot and context, exports equal)`, async () => {
        const suite = theirs();
        const { privateKey, publicKey } = generateKeyPair(USE[kem], { scope: null });
        try {
          const sender = await suite.createSenderContext({ recipientPublicKey: await suite.kem.deserializePublicKey(publicKey), info });
          const enc = Buffer.from(sender.enc);
          const c0 = Buffer.from(await sender.seal(Buffer.from('first'), Buffer.from('aad0')));
          const c1 = Buffer.from(await sender.seal(Buffer.from('second')));
          const exported = Buffer.from(await sender.export(Buffer.from('ctx'), 32)).toString('hex');
          expect(hpkeOpen(privateKey, enc, c0, { suite: { kem, aead }, info, aad: Buffer.from('aad0') }).toString()).toBe('first');
          const r = hpkeRecipientContext(privateKey, enc, { suite: { kem, aead }, info, scope: null });
          expect(r.open(c0, Buffer.from('aad0')).toString()).toBe('first');
          expect(r.open(c1).toString()).toBe('second');
          expect(bytesOf(r.export(Buffer.from('ctx'), 32, { scope: null }))).toBe(exported);
          r.destroy();
        } finally {
          privateKey.release();
        }
      });

      it(`${kem} + ${aead}: we seal, @hpke/core opens (single-shot and context, exports equal)`, async () => {
        const suite = theirs();
        const pair = await suite.kem.generateKeyPair();
        const pk = Buffer.from(await suite.kem.serializePublicKey(pair.publicKey));
        const one = hpkeSeal(pk, 'hello', { suite: { kem, aead }, info, aad: 'x' });
        expect(Buffer.from(await suite.open({ recipientKey: pair, enc: one.enc, info }, one.ciphertext, Buffer.from('x'))).toString()).toBe('hello');
        const s = hpkeSenderContext(pk, { suite: { kem, aead }, info, scope: null });
        const r = await suite.createRecipientContext({ recipientKey: pair, enc: s.enc, info });
        for (let i = 0; i < 3; i++) {
          expect(Buffer.from(await r.open(s.seal(`m${i}`))).toString()).toBe(`m${i}`);
        }
        expect(bytesOf(s.export('ctx', 48, { scope: null }))).toBe(Buffer.from(await r.export(Buffer.from('ctx'), 48)).toString('hex'));
        s.destroy();
      });
    }
  }
});

describe('HPKE keys stay on handles; errors are typed', () => {
  it('the context key (AEAD key || base_nonce) is a key of use hpke that no other operation accepts', () => {
    const { privateKey, publicKey } = generateKeyPair('x25519', { scope: null });
    const scope = openScope();
    const before = protectionReport().liveSlots;
    const s = hpkeSenderContext(publicKey, { scope });
    // Two keys per context: the context key and the exporter secret; the temporaries are gone.
    expect(protectionReport().liveSlots - before).toBe(2);
    const ctxKey = (s as unknown as Record<string, unknown>);
    expect(Object.keys(ctxKey)).toEqual(['enc']);
    // The addon refuses an hpke key for plain AEAD, and the HPKE AEAD refuses an aead key.
    const fake = importKey(Buffer.alloc(44, 1), { scope });
    expect(() => native().hpkeSeal(1, keyId(fake, 't'), 0, Buffer.from('x'))).toThrow(KeyUsageError);
    const aeadKey = generateKeyPair('x25519', { scope }).privateKey;
    expect(() => aeadSeal(aeadKey, Buffer.alloc(12), 'x', { algorithm: 'chacha20-poly1305' })).toThrow(KeyUsageError);
    scope.end();
    expect(() => s.seal('after end')).toThrow();
    privateKey.release();
  });

  it('a tampered ciphertext fails with AuthenticationError and leaves seq unchanged', () => {
    const { privateKey, publicKey } = generateKeyPair('x25519', { scope: null });
    const s = hpkeSenderContext(publicKey, { scope: null });
    const r = hpkeRecipientContext(privateKey, s.enc, { scope: null });
    const c0 = s.seal('zero');
    const bad = Buffer.from(c0);
    bad[0] ^= 1;
    expect(() => r.open(bad)).toThrow(AuthenticationError);
    expect(r.seq).toBe(0);
    expect(r.open(c0).toString()).toBe('zero');
    expect(r.seq).toBe(1);
    // Out of order: message 2 opened as message 1 fails (the nonce differs).
    const c1 = s.seal('one');
    const c2 = s.seal('two');
    expect(() => r.open(c2)).toThrow(AuthenticationError);
    expect(r.open(c1).toString()).toBe('one');
    s.destroy();
    r.destroy();
    privateKey.release();
  });

  it('wrong key use, KEM mismatch, malformed enc and unknown algorithms are typed errors', () => {
    const sig = generateKeyPair('ed25519', { scope: null }).privateKey;
    const x = generateKeyPair('x25519', { scope: null });
    expect(() => hpkeOpen(sig, Buffer.alloc(32), Buffer.alloc(16))).toThrow(KeyUsageError);
    expect(() => hpkeOpen(x.privateKey, Buffer.alloc(32), Buffer.alloc(16), { suite: { kem: 'dhkem-p256-hkdf-sha256' } })).toThrow(KeyUsageError);
    expect(() => hpkeOpen(x.privateKey, Buffer.alloc(31), Buffer.alloc(16))).toThrow(InvalidPublicKeyError);
    expect(() => hpkeSeal(x.publicKey, 'm', { suite: { aead: 'xchacha20-poly1305' as HpkeAead } })).toThrow(UnsupportedAlgorithmError);
    expect(() => hpkeSeal(x.publicKey, 'm', { suite: { kdf: 'hkdf-sha512' as 'hkdf-sha256' } })).toThrow(UnsupportedAlgorithmError);
    // A fixed ephemeral key must be of the KEM's use.
    expect(() => hpkeSenderContext(x.publicKey, { ephemeralKey: sig, scope: null })).toThrow(KeyUsageError);
    const p = generateKeyPair('ecdh-p256', { scope: null });
    const notOnCurve = Buffer.from(p.publicKey);
    notOnCurve[64] ^= 1;
    expect(() => hpkeSeal(notOnCurve, 'm', { suite: { kem: 'dhkem-p256-hkdf-sha256' } })).toThrow(InvalidPublicKeyError);
    expect(() => hpkeOpen(p.privateKey, notOnCurve, Buffer.alloc(16), {})).toThrow(InvalidPublicKeyError);
    for (const k of [sig, x.privateKey, p.privateKey]) k.release();
  });

  it('single-shot seal and open leave no key behind', () => {
    const { privateKey, publicKey } = generateKeyPair('ecdh-p256', { scope: null });
    const before = protectionReport().liveSlots;
    const { enc, ciphertext } = hpkeSeal(publicKey, 'payload', { suite: { kem: 'dhkem-p256-hkdf-sha256', aead: 'aes-256-gcm' } });
    expect(hpkeOpen(privateKey, enc, ciphertext, { suite: { aead: 'aes-256-gcm' } }).toString()).toBe('payload');
    expect(protectionReport().liveSlots).toBe(before);
    privateKey.release();
  });
});
