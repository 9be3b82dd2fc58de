/**
 * Key separation: every operation accepts only keys of its use, with a
 * KeyUsageError (ERR_KEY_USAGE) naming the key's use and the operation; the addon
 * enforces the same table on its own (the JavaScript checks bypassed), from the use
 * it keeps on the slot. Before this, hmacSign(aeadKey) and seal(hmacKey) succeeded.
 */
import { describe, expect, it } from 'vitest';
import {
  KeyUsageError,
  aeadOpen,
  aeadSeal,
  configureSecretMemory,
  generateKeyPair,
  hkdf,
  hkdfExpand,
  hkdfExpandMany,
  hkdfExtract,
  hmacSign,
  hmacVerify,
  open,
  publicKey,
  randomKey,
  seal,
  sharedSecret,
  sign,
  x25519PublicKey,
  x25519SharedSecret,
  type Key,
  type KeyUse,
  type SecretScope,
} from '../src/index.js';
import { keyId, wrapKey } from '../src/memory/key.js';
import { native } from '../src/memory/native.js';
import { inScope } from './helpers/vector-cases.js';
import { thrown } from './helpers/vectors.js';

configureSecretMemory({ require: 'any' });

type Family = 'hkdf' | 'hmac' | 'aead' | 'x25519' | 'publicKey' | 'sign' | 'agree' | 'hpke';

/** The documented table (README "Key uses"): which families each use admits. */
const ALLOWED: Record<KeyUse, Family[]> = {
  secret: ['hkdf', 'hmac', 'aead'],
  hkdf: ['hkdf'],
  root: ['hkdf'],
  shared: ['hkdf'],
  hmac: ['hmac'],
  aead: ['aead'],
  x25519: ['x25519', 'publicKey', 'agree'],
  ed25519: ['publicKey', 'sign'],
  'ecdsa-p256': ['publicKey', 'sign'],
  'ecdsa-p384': ['publicKey', 'sign'],
  'ecdh-p256': ['publicKey', 'agree'],
  'ecdh-p384': ['publicKey', 'agree'],
  hpke: ['hpke'],
};

/** One key of every use, and a valid peer public key for each agreement use. */
function keysOfEveryUse(scope: SecretScope): { keys: Record<KeyUse, Key>; peers: Partial<Record<KeyUse, Buffer>> } {
  const secret = randomKey(32, { scope });
  const pair = (use: 'x25519' | 'ed25519' | 'ecdsa-p256' | 'ecdsa-p384' | 'ecdh-p256' | 'ecdh-p384') => generateKeyPair(use, { scope }).privateKey;
  const x = generateKeyPair('x25519', { scope });
  const p256 = generateKeyPair('ecdh-p256', { scope });
  // A sealed root key, made as the KMS capture makes one (sealed slot, use 'root').
  const root = wrapKey(native().keyRandom(32, scope.nativeId, true), scope, 32, 'root');
  const keys: Record<KeyUse, Key> = {
    secret,
    hkdf: hkdf(secret, { scope }),
    root,
    shared: sharedSecret(x.privateKey, generateKeyPair('x25519', { scope }).publicKey, { scope }),
    hmac: hkdf(secret, { use: 'hmac', scope }),
    aead: hkdf(secret, { use: 'aead', scope }),
    x25519: pair('x25519'),
    ed25519: pair('ed25519'),
    'ecdsa-p256': pair('ecdsa-p256'),
    'ecdsa-p384': pair('ecdsa-p384'),
    'ecdh-p256': pair('ecdh-p256'),
    'ecdh-p384': pair('ecdh-p384'),
    // An HPKE context's key (AEAD key || base_nonce), as src/crypto/hpke makes one.
    hpke: wrapKey(native().hpkeContextKey(0, keyId(hkdf(secret, { scope }), 'test'), Buffer.from('k'), Buffer.from('n'), 32, scope.nativeId), scope, 44, 'hpke'),
  };
  return { keys, peers: { x25519: x.publicKey, 'ecdh-p256': p256.publicKey, 'ecdh-p384': generateKeyPair('ecdh-p384', { scope }).publicKey } };
}

describe('key separation in the public API', () => {
  it('every operation refuses keys of every other use with KeyUsageError naming the use and the operation', () => {
    inScope((scope) => {
      const { keys, peers } = keysOfEveryUse(scope);
      const peerFor = (use: KeyUse) => peers[use] ?? peers.x25519!;
      const ops: Array<[string, Family, (k: Key, use: KeyUse) => unknown]> = [
        ['hkdf', 'hkdf', (k) => hkdf(k, { scope })],
        ['hkdfExtract', 'hkdf', (k) => hkdfExtract(k, { scope })],
        ['hkdfExpand', 'hkdf', (k) => hkdfExpand(k, { scope })],
        ['hkdfExpandMany', 'hkdf', (k) => hkdfExpandMany(k, ['a', 'b'], { scope })],
        ['hmacSign', 'hmac', (k) => hmacSign(k, 'm')],
        ['hmacVerify', 'hmac', (k) => hmacVerify(k, 'm', Buffer.alloc(32))],
        ['aeadSeal', 'aead', (k) => aeadSeal(k, Buffer.alloc(24), 'm')],
        ['aeadOpen', 'aead', (k) => aeadOpen(k, Buffer.alloc(24), Buffer.alloc(40))],
        ['seal', 'aead', (k) => seal(k, 'm')],
        ['open', 'aead', (k) => open(k, Buffer.alloc(60))],
        ['x25519PublicKey', 'x25519', (k) => x25519PublicKey(k)],
        ['x25519SharedSecret', 'x25519', (k) => x25519SharedSecret(k, peers.x25519!, { scope })],
        ['publicKey', 'publicKey', (k) => publicKey(k)],
        ['sign', 'sign', (k) => sign(k, 'm')],
        ['sharedSecret', 'agree', (k, use) => sharedSecret(k, peerFor(use), { scope })],
      ];
      let refused = 0;
      let admitted = 0;
      for (const [use, key] of Object.entries(keys) as Array<[KeyUse, Key]>) {
        for (const [name, family, op] of ops) {
          const e = thrown(() => op(key, use));
          if (ALLOWED[use].includes(family)) {
            expect(e instanceof KeyUsageError, `${name} must accept a '${use}' key: ${String(e)}`).toBe(false);
            admitted++;
          } else {
            expect(e, `${name} must refuse a '${use}' key`).toBeInstanceOf(KeyUsageError);
            expect((e as KeyUsageError).code).toBe('ERR_KEY_USAGE');
            expect((e as Error).message).toContain(`'${use}'`);
            expect((e as Error).message).toContain(name);
            refused++;
          }
        }
      }
      expect(refused + admitted).toBe(13 * ops.length);
      expect(refused).toBeGreaterThan(130);
    });
  });

  it("the issue's two examples: hmacSign(aeadKey) and seal(hmacKey) now throw", () => {
    inScope((scope) => {
      const secret = randomKey(32, { scope });
      expect(thrown(() => hmacSign(hkdf(secret, { use: 'aead', scope }), 'm'))).toBeInstanceOf(KeyUsageError);
      expect(thrown(() => seal(hkdf(secret, { use: 'hmac', scope }), 'm'))).toBeInstanceOf(KeyUsageError);
    });
  });
});

describe('key separation in the addon (JavaScript bypassed)', () => {
  it('the slot carries the use, and every native operation refuses a wrong-use handle with ERR_KEY_USAGE', () => {
    inScope((scope) => {
      const { keys, peers } = keysOfEveryUse(scope);
      const n = native();
      const ops: Array<[string, Family, (id: number, use: KeyUse) => unknown]> = [
        ['hkdf', 'hkdf', (id) => n.hkdf(0, id, undefined, undefined, 32, scope.nativeId)],
        ['hkdfExtract', 'hkdf', (id) => n.hkdfExtract(0, [id], undefined, scope.nativeId)],
        ['hkdfExpand', 'hkdf', (id) => n.hkdfExpand(0, id, undefined, 32, scope.nativeId)],
        ['hkdfExpandMany', 'hkdf', (id) => n.hkdfExpandMany(0, id, [undefined], 32, scope.nativeId, new Float64Array(1))],
        ['hmacSign', 'hmac', (id) => n.hmacSign(0, id, Buffer.from('m'))],
        ['hmacVerify', 'hmac', (id) => n.hmacVerify(0, id, Buffer.from('m'), Buffer.alloc(32))],
        ['aeadSeal', 'aead', (id) => n.aeadSeal(0, id, Buffer.alloc(24), Buffer.from('m'))],
        ['aeadOpen', 'aead', (id) => n.aeadOpen(0, id, Buffer.alloc(24), Buffer.alloc(40))],
        ['x25519Public', 'x25519', (id) => n.x25519Public(id)],
        ['x25519Shared', 'x25519', (id) => n.x25519Shared(id, peers.x25519!, scope.nativeId)],
        ['keyPublic', 'publicKey', (id) => n.keyPublic(id)],
        ['sign', 'sign', (id) => n.sign(id, Buffer.from('m'), true)],
        ['agree', 'agree', (id, use) => n.agree(id, peers[use] ?? peers.x25519!, scope.nativeId)],
        ['hpkeLabeledExtract (salt)', 'hkdf', (id) => n.hpkeLabeledExtract(0, id, Buffer.from('p'), undefined, scope.nativeId)],
        ['hpkeLabeledExtract (ikm)', 'hkdf', (id) => n.hpkeLabeledExtract(0, undefined, Buffer.from('p'), id, scope.nativeId)],
        ['hpkeContextKey', 'hkdf', (id) => n.hpkeContextKey(0, id, Buffer.from('k'), Buffer.from('n'), 32, scope.nativeId)],
        ['hpkeDeriveP256', 'hkdf', (id) => n.hpkeDeriveP256(id, Buffer.from('c'), scope.nativeId)],
        ['concatKdf', 'hkdf', (id) => n.concatKdf(id, Buffer.from('o'), 32, scope.nativeId)],
        ['hpkeSeal', 'hpke', (id) => n.hpkeSeal(3, id, 0, Buffer.from('m'))],
        ['hpkeOpen', 'hpke', (id) => n.hpkeOpen(3, id, 0, Buffer.alloc(17))],
      ];
      for (const [use, key] of Object.entries(keys) as Array<[KeyUse, Key]>) {
        const id = keyId(key, 'test');
        expect(n.keyUse(id)).toBe(use);
        for (const [name, family, op] of ops) {
          const e = thrown(() => op(id, use));
          const code = (e as { code?: string } | undefined)?.code;
          if (ALLOWED[use].includes(family)) expect(code, `${name} on '${use}': ${String(e)}`).not.toBe('ERR_KEY_USAGE');
          else expect(code, `${name} on '${use}'`).toBe('ERR_KEY_USAGE');
        }
      }
      // Derived keys carry the use asked for; an unknown use number is refused.
      const secret = keyId(keys.secret, 'test');
      for (const [use, num] of [['hmac', 4], ['aead', 5], ['ecdsa-p384', 10], ['ed25519', 8]] as const) {
        expect(n.keyUse(n.hkdf(0, secret, undefined, undefined, use === 'ecdsa-p384' ? 48 : 32, scope.nativeId, num))).toBe(use);
      }
      for (const bad of [2, 6, 13, 14, -1, 1.5, Number.NaN]) {
        expect((thrown(() => n.hkdf(0, secret, undefined, undefined, 32, scope.nativeId, bad)) as { code?: string }).code).toBe('ERR_INVALID_ARGUMENT');
      }
    });
  });
});
