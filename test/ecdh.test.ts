/**
 * ECDH P-256/P-384 and X25519 through sharedSecret: Wycheproof ecdh (SPKI) and
 * ecdh_ecpoint (raw SEC1) vectors, invalid points refused with a typed error (by the
 * JavaScript validation and again by the addon), and agreement with node:crypto both ways.
 */
import { createECDH, createPublicKey, diffieHellman, generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  InvalidPublicKeyError,
  KeyUsageError,
  configureSecretMemory,
  generateKeyPair,
  hkdf,
  hmacSign,
  importPrivateKey,
  protectionReport,
  publicKey,
  sharedSecret,
  x25519KeyPair,
  x25519SharedSecret,
  type Key,
} from '../src/index.js';
import { keyId } from '../src/memory/key.js';
import { native } from '../src/memory/native.js';
import { Tally, hex, loadWycheproof, thrown } from './helpers/vectors.js';
import { bytesOf, errName, finish, fixedWidth, inScope, needVectors } from './helpers/vector-cases.js';

configureSecretMemory({ require: 'any' });

const CURVES = {
  'ecdh-p256': {
    size: 32,
    node: 'prime256v1',
    p: 2n ** 256n - 2n ** 224n + 2n ** 192n + 2n ** 96n - 1n,
    b: 0x5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604bn,
  },
  'ecdh-p384': {
    size: 48,
    node: 'secp384r1',
    p: 2n ** 384n - 2n ** 128n - 2n ** 96n + 2n ** 32n - 1n,
    b: 0xb3312fa7e23ee7e4988e056be3f82d19181d9c6efe8141120314088f5013875ac656398d8a2ed19d2a85c8edd3ec2aefn,
  },
} as const;
type EcdhUse = keyof typeof CURVES;
const baseline = () => protectionReport().liveSlots;

describe('Wycheproof ECDH', () => {
  const files: Array<[string, EcdhUse]> = [
    ['ecdh_secp256r1_test.json', 'ecdh-p256'],
    ['ecdh_secp256r1_ecpoint_test.json', 'ecdh-p256'],
    ['ecdh_secp384r1_test.json', 'ecdh-p384'],
    ['ecdh_secp384r1_ecpoint_test.json', 'ecdh-p384'],
  ];
  for (const [file, use] of files) {
    it(`${file}: valid shared secrets match; invalid public keys throw InvalidPublicKeyError; acceptable ones do either`, (ctx) => {
      needVectors(ctx);
      const j = loadWycheproof(file);
      const t = new Tally();
      const start = baseline();
      const refusedAcceptable: string[] = [];
      for (const g of j.testGroups) {
        for (const tc of g.tests) {
          t.expect(tc.result);
          const why = inScope((scope): string | undefined => {
            const priv = importPrivateKey(fixedWidth(tc.private as string, CURVES[use].size), { use, scope });
            let shared: Key;
            try {
              shared = sharedSecret(priv, hex(tc.public), { scope });
            } catch (e) {
              if (!(e instanceof InvalidPublicKeyError)) return `expected InvalidPublicKeyError, got ${errName(e)}`;
              if (tc.result === 'valid') return `valid case refused: ${e.message}`;
              if (tc.result === 'acceptable') refusedAcceptable.push(`${tc.tcId} (${tc.flags.join(',')})`);
              return undefined;
            }
            if (tc.result === 'invalid') return 'invalid public key accepted';
            if (shared.use !== 'shared' || shared.length !== CURVES[use].size) return `shared key is ${String(shared)}`;
            const got = bytesOf(shared);
            return got.equals(hex(tc.shared)) ? undefined : `shared mismatch: ${got.toString('hex')}`;
          });
          if (why) t.fail(tc.tcId, `${tc.result} ${tc.comment}: ${why}`);
          else t.pass(tc.result);
        }
      }
      finish(t, file);
      if (refusedAcceptable.length) console.info(`[vectors] ${file}: acceptable cases refused: ${refusedAcceptable.length}`);
      expect(t.total()).toBe(j.numberOfTests);
      expect(baseline()).toBe(start);
    });
  }
});

describe('ECDH against node:crypto', () => {
  for (const use of Object.keys(CURVES) as EcdhUse[]) {
    const c = CURVES[use];
    it(`${use}: our shared secret equals node's computeSecret, both ways, for raw, compressed and SPKI public keys`, () => {
      const start = baseline();
      inScope((scope) => {
        for (let i = 0; i < 5; i++) {
          const ours = generateKeyPair(use, { scope });
          const theirs = createECDH(c.node);
          theirs.generateKeys();
          const expected = theirs.computeSecret(ours.publicKey);
          for (const form of ['uncompressed', 'compressed'] as const) {
            const s = sharedSecret(ours.privateKey, theirs.getPublicKey(undefined, form), { scope });
            expect([s.use, s.length]).toEqual(['shared', c.size]);
            expect(bytesOf(s).equals(expected)).toBe(true);
          }
          const spki = publicKey(ours.privateKey, { format: 'spki' });
          expect(spki.subarray(-ours.publicKey.length).equals(ours.publicKey)).toBe(true);
          const viaKeyObject = generateKeyPairSync('ec', { namedCurve: c.node });
          const theirSpki = viaKeyObject.publicKey.export({ format: 'der', type: 'spki' });
          const s = sharedSecret(ours.privateKey, theirSpki, { scope });
          const nodeSide = diffieHellman({ privateKey: viaKeyObject.privateKey, publicKey: spkiKey(spki) });
          expect(bytesOf(s).equals(nodeSide)).toBe(true);
        }
      });
      expect(baseline()).toBe(start);
    });
  }

  it('x25519 through sharedSecret and generateKeyPair agrees with node:crypto both ways; x25519KeyPair keys work with it too', () => {
    inScope((scope) => {
      for (const make of [() => generateKeyPair('x25519', { scope }), () => x25519KeyPair({ scope })]) {
        const ours = make();
        const theirs = generateKeyPairSync('x25519');
        const theirRaw = Buffer.from(theirs.publicKey.export({ format: 'der', type: 'spki' })).subarray(-32);
        const nodeSide = diffieHellman({ privateKey: theirs.privateKey, publicKey: spkiKey(publicKey(ours.privateKey, { format: 'spki' })) });
        expect(bytesOf(sharedSecret(ours.privateKey, theirRaw, { scope })).equals(nodeSide)).toBe(true);
        expect(bytesOf(x25519SharedSecret(ours.privateKey, theirRaw, { scope })).equals(nodeSide)).toBe(true);
        expect(bytesOf(sharedSecret(ours.privateKey, theirs.publicKey.export({ format: 'der', type: 'spki' }), { scope })).equals(nodeSide)).toBe(true);
        expect(publicKey(ours.privateKey, { format: 'jwk' })).toEqual({ kty: 'OKP', crv: 'X25519', x: ours.publicKey.toString('base64url') });
      }
    });
  });

  it('a shared secret is HKDF input and nothing else (use "shared")', () => {
    inScope((scope) => {
      const a = generateKeyPair('ecdh-p256', { scope });
      const b = generateKeyPair('ecdh-p256', { scope });
      const s = sharedSecret(a.privateKey, b.publicKey, { scope });
      expect(hkdf(s, { info: 'dhkem', use: 'aead', scope }).use).toBe('aead');
      expect(thrown(() => hmacSign(s, 'm'))).toBeInstanceOf(KeyUsageError);
      expect(thrown(() => sharedSecret(s, b.publicKey, { scope }))).toBeInstanceOf(KeyUsageError);
    });
  });
});

/** A node KeyObject from SPKI DER. */
const spkiKey = (der: Buffer) => createPublicKey({ key: der, format: 'der', type: 'spki' });

describe('invalid peer public keys', () => {
  for (const use of Object.keys(CURVES) as EcdhUse[]) {
    const c = CURVES[use];
    it(`${use}: off-curve, out-of-range, malformed and wrong-curve keys throw InvalidPublicKeyError, in JavaScript and in the addon`, () => {
      inScope((scope) => {
        const { privateKey, publicKey: good } = generateKeyPair(use, { scope });
        const n = c.size;
        const offCurve = Buffer.from(good);
        offCurve[offCurve.length - 1]! ^= 1;
        const xTooBig = Buffer.concat([Buffer.from([4]), Buffer.from(c.p.toString(16), 'hex'), good.subarray(1 + n)]);
        const other = use === 'ecdh-p256' ? 'secp384r1' : 'prime256v1';
        const otherCurve = generateKeyPairSync('ec', { namedCurve: other }).publicKey.export({ format: 'der', type: 'spki' });
        const otherRaw = createECDH(other);
        otherRaw.generateKeys();
        const cases: Array<[string, Uint8Array]> = [
          ['off the curve', offCurve],
          ['x = p', xTooBig],
          ['the identity (00)', Buffer.from([0])],
          ['empty', Buffer.alloc(0)],
          ['truncated', good.subarray(0, good.length - 1)],
          ['hybrid prefix 06', Buffer.concat([Buffer.from([6]), good.subarray(1)])],
          ['zero point', Buffer.concat([Buffer.from([4]), Buffer.alloc(2 * n)])],
          ['another curve (SPKI)', otherCurve],
          ['another curve (raw)', otherRaw.getPublicKey()],
          ['compressed, x not on the curve', nonResidueX(use)],
        ];
        for (const [what, peer] of cases) {
          const e = thrown(() => sharedSecret(privateKey, peer, { scope }));
          expect(e, `${what}: ${errName(e)}`).toBeInstanceOf(InvalidPublicKeyError);
        }
        // The addon checks again when JavaScript is bypassed.
        for (const [what, peer] of [['off the curve', offCurve], ['x = p', xTooBig], ['zero point', Buffer.concat([Buffer.from([4]), Buffer.alloc(2 * n)])], ['compressed', Buffer.alloc(n + 1, 2)]] as const) {
          const e = thrown(() => native().agree(keyId(privateKey, 'test'), peer, 0));
          expect((e as { code?: string }).code, `${what}: ${errName(e)}`).toBe('ERR_INVALID_PUBLIC_KEY');
          expect(e).toBeInstanceOf(InvalidPublicKeyError);
        }
      });
    });
  }
});

/** A compressed point (02 || x) whose x has no y on the curve (Euler's criterion, in BigInt). */
function nonResidueX(use: EcdhUse): Buffer {
  const { p, b, size } = CURVES[use];
  const pow = (x: bigint, e: bigint): bigint => {
    let r = 1n;
    for (x %= p; e > 0n; e >>= 1n, x = (x * x) % p) if (e & 1n) r = (r * x) % p;
    return r;
  };
  for (let x = 1n; ; x++) {
    const rhs = (((x * x * x - 3n * x + b) % p) + p) % p;
    if (pow(rhs, (p - 1n) / 2n) === p - 1n) return Buffer.concat([Buffer.from([2]), Buffer.from(x.toString(16).padStart(2 * size, '0'), 'hex')]);
  }
}
