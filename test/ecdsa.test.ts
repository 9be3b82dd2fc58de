/**
 * ECDSA P-256/P-384 on handles: Wycheproof verify vectors (DER and P1363), RFC 6979
 * nonces recomputed independently, FIPS 186-5 A.2.1 derivation recomputed with
 * node:crypto, private-key import bounds, and signatures both ways with node:crypto.
 */
import { createECDH, createHash, createHmac, createPublicKey, hkdfSync, randomBytes, sign as nodeSign, verify as nodeVerify, generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  InvalidArgumentError,
  OptionsError,
  ScopeEndedError,
  openScope,
  configureSecretMemory,
  generateKeyPair,
  hkdf,
  hkdfExpand,
  hkdfExpandMany,
  hkdfExtract,
  importKey,
  importPrivateKey,
  protectionReport,
  publicKey,
  sign,
  verify,
  withSecretScope,
  type InvocationScope,
} from '../src/index.js';
import { Tally, hex, loadWycheproof, thrown } from './helpers/vectors.js';
import { bytesOf, errName, finish, inScope, needVectors } from './helpers/vector-cases.js';

configureSecretMemory({ require: 'any' });

// SEC 2 curve orders, written here independently of the addon (BearSSL's tables).
const CURVES = {
  'ecdsa-p256': {
    n: 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n,
    size: 32,
    seed: 40,
    hash: 'sha256',
    node: 'prime256v1',
    crv: 'P-256',
  },
  'ecdsa-p384': {
    n: 0xffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973n,
    size: 48,
    seed: 56,
    hash: 'sha384',
    node: 'secp384r1',
    crv: 'P-384',
  },
} as const;
type EcdsaUse = keyof typeof CURVES;
const USES = Object.keys(CURVES) as EcdsaUse[];

const big = (b: Uint8Array): bigint => BigInt(`0x${Buffer.from(b).toString('hex') || '0'}`);
const bytes = (v: bigint, size: number): Buffer => Buffer.from(v.toString(16).padStart(size * 2, '0'), 'hex');
const baseline = () => protectionReport().liveSlots;

function modPow(b: bigint, e: bigint, m: bigint): bigint {
  let r = 1n;
  for (b %= m; e > 0n; e >>= 1n, b = (b * b) % m) if (e & 1n) r = (r * b) % m;
  return r;
}

/** d*G by node:crypto (OpenSSL), uncompressed. */
function nodePublic(use: EcdsaUse, d: bigint): Buffer {
  const c = CURVES[use];
  const ecdh = createECDH(c.node);
  ecdh.setPrivateKey(bytes(d, c.size));
  return ecdh.getPublicKey();
}

/** FIPS 186-5 A.2.1 in BigInt: d = (c mod (n - 1)) + 1. */
const a21 = (use: EcdsaUse, c: Uint8Array): bigint => (big(c) % (CURVES[use].n - 1n)) + 1n;

/** RFC 6979 section 3.2 with HMAC from node:crypto (qlen = hlen for both curves here): r || s. */
function rfc6979Signature(use: EcdsaUse, d: bigint, msg: Buffer): Buffer {
  const { n, size, hash } = CURVES[use];
  const h1 = createHash(hash).update(msg).digest();
  const z = big(h1);
  const x = bytes(d, size);
  const h = bytes(z % n, size); // bits2octets
  const mac = (k: Buffer, ...parts: Uint8Array[]) => createHmac(hash, k).update(Buffer.concat(parts)).digest();
  let v = Buffer.alloc(h1.length, 1);
  let k = Buffer.alloc(h1.length, 0);
  k = mac(k, v, Buffer.from([0]), x, h);
  v = mac(k, v);
  k = mac(k, v, Buffer.from([1]), x, h);
  v = mac(k, v);
  let nonce: bigint;
  for (;;) {
    v = mac(k, v);
    nonce = big(v);
    if (nonce >= 1n && nonce < n) break;
    k = mac(k, v, Buffer.from([0]));
    v = mac(k, v);
  }
  const r = big(nodePublic(use, nonce).subarray(1, 1 + size)) % n;
  const s = (modPow(nonce, n - 2n, n) * ((z + r * d) % n)) % n;
  return Buffer.concat([bytes(r, size), bytes(s, size)]);
}

describe('Wycheproof ECDSA verify', () => {
  const files: Array<[string, EcdsaUse, 'der' | 'p1363']> = [
    ['ecdsa_secp256r1_sha256_test.json', 'ecdsa-p256', 'der'],
    ['ecdsa_secp256r1_sha256_p1363_test.json', 'ecdsa-p256', 'p1363'],
    ['ecdsa_secp384r1_sha384_test.json', 'ecdsa-p384', 'der'],
    ['ecdsa_secp384r1_sha384_p1363_test.json', 'ecdsa-p384', 'p1363'],
  ];
  for (const [file, use, format] of files) {
    it(`${file}: valid verify, invalid do not (no acceptable cases in these files)`, (ctx) => {
      needVectors(ctx);
      const j = loadWycheproof(file);
      const t = new Tally();
      for (const g of j.testGroups) {
        const pk = g.publicKey as { uncompressed: string };
        const jwk = g.publicKeyJwk as Record<string, string> | undefined;
        for (const tc of g.tests) {
          t.expect(tc.result);
          let why: string | undefined;
          try {
            const ok = verify(hex(pk.uncompressed), hex(tc.msg), hex(tc.sig), { use, format });
            // The same public key as a JWK gives the same answer.
            if (jwk && verify({ kty: 'EC', crv: jwk.crv, x: jwk.x, y: jwk.y }, hex(tc.msg), hex(tc.sig), { use, format }) !== ok) why = 'JWK and raw keys disagree';
            if (tc.result === 'valid' && !ok) why = 'valid signature refused';
            if (tc.result === 'invalid' && ok) why = 'invalid signature accepted';
          } catch (e) {
            why = errName(e);
          }
          if (why) t.fail(tc.tcId, `${tc.result} ${tc.comment}: ${why}`);
          else t.pass(tc.result);
        }
      }
      finish(t, file);
      expect(t.total()).toBe(j.numberOfTests);
    });
  }
});

describe('ECDSA signing', () => {
  for (const use of USES) {
    const c = CURVES[use];
    it(`${use}: signatures verify under node:crypto (DER and ieee-p1363) and node's verify under ours`, () => {
      const start = baseline();
      inScope((scope) => {
        const { privateKey, publicKey: raw } = generateKeyPair(use, { scope });
        expect(privateKey.use).toBe(use);
        expect(privateKey.length).toBe(c.size);
        expect(raw.length).toBe(2 * c.size + 1);
        const spki = publicKey(privateKey, { format: 'spki' });
        const jwk = publicKey(privateKey, { format: 'jwk' });
        expect(jwk).toEqual({ kty: 'EC', crv: c.crv, x: raw.subarray(1, 1 + c.size).toString('base64url'), y: raw.subarray(1 + c.size).toString('base64url') });
        expect('d' in jwk).toBe(false);
        const nodeKey = createPublicKey({ key: spki, format: 'der', type: 'spki' });
        expect(nodeKey.export({ format: 'jwk' })).toEqual(jwk);
        for (let i = 0; i < 8; i++) {
          const msg = randomBytes(i * 37);
          const der = sign(privateKey, msg);
          const p1363 = sign(privateKey, msg, { format: 'p1363' });
          expect(p1363.length).toBe(2 * c.size);
          expect(nodeVerify(c.hash, msg, nodeKey, der)).toBe(true);
          expect(nodeVerify(c.hash, msg, { key: nodeKey, dsaEncoding: 'ieee-p1363' }, p1363)).toBe(true);
          expect(verify(raw, msg, der, { use })).toBe(true);
          expect(verify(jwk, msg, p1363, { use, format: 'p1363' })).toBe(true);
          expect(verify(raw, Buffer.concat([msg, Buffer.from([1])]), der, { use })).toBe(false);
        }
        // node's signatures under our verify
        const theirs = generateKeyPairSync('ec', { namedCurve: c.node });
        const theirRaw = Buffer.from(theirs.publicKey.export({ format: 'der', type: 'spki' })).subarray(-(2 * c.size + 1));
        const msg = randomBytes(100);
        expect(verify(theirRaw, msg, nodeSign(c.hash, msg, theirs.privateKey), { use })).toBe(true);
        expect(verify(theirs.publicKey.export({ format: 'jwk' }), msg, nodeSign(c.hash, msg, { key: theirs.privateKey, dsaEncoding: 'ieee-p1363' }), { use, format: 'p1363' })).toBe(true);
        expect(verify(theirs.publicKey.export({ format: 'der', type: 'spki' }), msg, nodeSign(c.hash, msg, theirs.privateKey), { use })).toBe(true);
      });
      expect(baseline()).toBe(start);
    });

    it(`${use}: nonces are RFC 6979 deterministic (recomputed here with node:crypto HMAC and BigInt)`, () => {
      inScope((scope) => {
        for (let i = 0; i < 6; i++) {
          const d = (big(randomBytes(c.seed)) % (c.n - 1n)) + 1n;
          const key = importPrivateKey(bytes(d, c.size), { use, scope });
          const msg = randomBytes(i * 50);
          const sig = sign(key, msg, { format: 'p1363' });
          expect(sig.toString('hex')).toBe(rfc6979Signature(use, d, msg).toString('hex'));
          expect(sign(key, msg, { format: 'p1363' }).equals(sig)).toBe(true);
          // DER carries the same r and s
          const der = sign(key, msg);
          expect(nodeVerify(c.hash, msg, { key: createPublicKey({ key: publicKey(key, { format: 'jwk' }), format: 'jwk' }), dsaEncoding: 'der' }, der)).toBe(true);
        }
      });
    });

    it(`${use}: keys derived by hkdf, hkdfExpand and hkdfExpandMany follow FIPS 186-5 A.2.1 (recomputed with node:crypto)`, () => {
      const start = baseline();
      inScope((scope) => {
        for (const hash of ['sha256', 'sha512'] as const) {
          const ikmBytes = randomBytes(64);
          const salt = randomBytes(16);
          const info = `request ${randomBytes(8).toString('hex')}`;
          const ikm = importKey(Buffer.from(ikmBytes), { scope });
          const okm = Buffer.from(hkdfSync(hash, ikmBytes, salt, info, c.seed));
          const expected = a21(use, okm);
          const derived = hkdf(ikm, { hash, salt, info, use, scope });
          expect([derived.use, derived.length]).toEqual([use, c.size]);
          expect(publicKey(derived).equals(nodePublic(use, expected))).toBe(true);
          expect(big(bytesOf(derived))).toBe(expected);

          const prk = hkdfExtract(ikm, { hash, salt, scope });
          const viaExpand = hkdfExpand(prk, { hash, info, use, scope });
          expect(publicKey(viaExpand).equals(nodePublic(use, expected))).toBe(true);
          const infos = [info, 'second', 'third'];
          const many = hkdfExpandMany(prk, infos, { hash, use, scope });
          infos.forEach((inf, i) => {
            const want = a21(use, Buffer.from(hkdfSync(hash, ikmBytes, salt, inf, c.seed)));
            expect(publicKey(many[i]!).equals(nodePublic(use, want)), `expandMany ${i}`).toBe(true);
          });
        }
        // The length is implied by the use: an explicit other length is refused, its own accepted.
        const ikm = importKey(randomBytes(32), { scope });
        expect(thrown(() => hkdf(ikm, { use, length: c.seed, scope }))).toBeInstanceOf(InvalidArgumentError);
        expect(thrown(() => hkdfExpandMany(hkdfExtract(ikm, { scope }), ['x'], { use, length: c.size + 1, scope }))).toBeInstanceOf(InvalidArgumentError);
        expect(hkdf(ikm, { use, length: c.size, scope }).length).toBe(c.size);
      });
      expect(baseline()).toBe(start);
    });

    it(`${use}: importPrivateKey takes 1..n-1 and refuses 0, n, larger values and wrong lengths, zeroing the input every time`, () => {
      inScope((scope) => {
        for (const d of [1n, 2n, c.n - 1n, c.n - 2n]) {
          const input = bytes(d, c.size);
          const key = importPrivateKey(input, { use, scope });
          expect(input.every((b) => b === 0)).toBe(true);
          expect(publicKey(key).equals(nodePublic(use, d))).toBe(true);
        }
        const refused = [bytes(0n, c.size), bytes(c.n, c.size), bytes(c.n + 1n, c.size), Buffer.alloc(c.size, 0xff), randomBytes(c.size - 1), randomBytes(c.size + 1)];
        for (const input of refused) {
          const e = thrown(() => importPrivateKey(input, { use, scope }));
          expect(e, errName(e)).toBeInstanceOf(InvalidArgumentError);
          expect(input.every((b) => b === 0)).toBe(true);
        }
        const unknownUse = randomBytes(c.size);
        expect(thrown(() => importPrivateKey(unknownUse, { use: 'rsa' as never, scope }))).toBeInstanceOf(InvalidArgumentError);
        expect(unknownUse.every((b) => b === 0)).toBe(true);
        const ended = openScope();
        ended.end();
        const late = randomBytes(c.size);
        expect(thrown(() => importPrivateKey(late, { use, scope: ended }))).toBeInstanceOf(ScopeEndedError);
        expect(late.every((b) => b === 0)).toBe(true);
      });
    });
  }

  it("the seed's program: 64 bytes of entropy, HKDF-SHA512 with a salt and a GUID, a P-384 key, ES384 verified by node:crypto", async () => {
    const guid = '7d9f6a52-2c1e-4b8e-9a57-3f0b2d1c9e44';
    const entropy = randomBytes(64);
    const salt = Buffer.from('seed-program-salt');
    let sig: Buffer | undefined;
    let pub: Buffer | undefined;
    inScope((scope) => {
      const key = hkdf(importKey(Buffer.from(entropy), { scope }), { hash: 'sha512', salt, info: guid, use: 'ecdsa-p384', scope });
      sig = sign(key, 'payload', { format: 'p1363' });
      pub = publicKey(key);
    });
    const d = a21('ecdsa-p384', Buffer.from(hkdfSync('sha512', entropy, salt, guid, 56)));
    expect(pub!.equals(nodePublic('ecdsa-p384', d))).toBe(true);
    const jwk = { kty: 'EC', crv: 'P-384', x: pub!.subarray(1, 49).toString('base64url'), y: pub!.subarray(49).toString('base64url') };
    expect(nodeVerify('sha384', Buffer.from('payload'), { key: createPublicKey({ key: jwk, format: 'jwk' }), dsaEncoding: 'ieee-p1363' }, sig!)).toBe(true);
  });

  it('declared keys: options.keys accepts the signature uses (length implied; a wrong one is an OptionsError at wrap time)', async () => {
    expect(() => withSecretScope(async () => 0, { entropy: { source: 'local' }, keys: { k: { use: 'ecdsa-p384', length: 32 } } })).toThrow(OptionsError);
    expect(() => withSecretScope(async () => 0, { entropy: { source: 'local' }, keys: { k: { use: 'ed25519', length: 64 } } })).toThrow(OptionsError);
    const h = withSecretScope(
      async (_e: unknown, context: { secretScope?: InvocationScope }) => {
        const { es256, es384, ed } = await context.secretScope!.keys();
        expect([es256!.use, es256!.length, es384!.use, es384!.length, ed!.use, ed!.length]).toEqual(['ecdsa-p256', 32, 'ecdsa-p384', 48, 'ed25519', 32]);
        return [es256!, es384!].map((k) => ({ jwk: publicKey(k, { format: 'jwk' }), sig: sign(k, 'declared').toString('base64') }));
      },
      { entropy: { source: 'local' }, keys: { es256: { use: 'ecdsa-p256' }, es384: { use: 'ecdsa-p384', length: 48 }, ed: { use: 'ed25519' } } },
    );
    const out = (await h({}, {})) as Array<{ jwk: object; sig: string }>;
    const hashes = ['sha256', 'sha384'];
    out.forEach((o, i) => expect(nodeVerify(hashes[i]!, Buffer.from('declared'), createPublicKey({ key: o.jwk as never, format: 'jwk' }), Buffer.from(o.sig, 'base64'))).toBe(true));
  });
});
