// One invocation's crypto, done by each contender on the same inputs:
//   take 64 bytes of entropy from an input buffer (and wipe the input),
//   PRK = HKDF-Extract(salt, entropy); 4 keys of 32 bytes = HKDF-Expand(PRK, info_i),
//   HMAC-SHA256 over 1 KiB with key 0, seal 1 KiB with key 1, wipe everything.
// Every contender returns the same HMAC tag; the XChaCha20-Poly1305 contenders
// return the same sealed bytes (checked before timing).
import { createCipheriv, createHmac, hkdfSync } from 'node:crypto';
import { ENTROPY, INFO, KEYS, MSG, NONCE12, NONCE24, SALT } from './inputs.mjs';

/** secret-scope public API, scope passed explicitly (no AsyncLocalStorage); the 4 keys in one hkdfExpandMany. */
export function secretScopeContender(lib) {
  const { openScope, importKey, hkdfExtract, hkdfExpandMany, hmacSign, aeadSeal } = lib;
  const inbox = Buffer.alloc(64);
  const infos = INFO.slice(0, KEYS);
  let tag;
  let sealed;
  const once = () => {
    ENTROPY.copy(inbox);
    const scope = openScope();
    const ikm = importKey(inbox, { scope }); // copies into the arena, zeroes inbox
    const prk = hkdfExtract(ikm, { salt: SALT, scope });
    const [k0, k1] = hkdfExpandMany(prk, infos, { length: 32, scope, use: 'secret' });
    tag = hmacSign(k0, MSG);
    sealed = aeadSeal(k1, NONCE24, MSG);
    scope.end(); // wipes entropy, PRK and the 4 keys
  };
  return {
    id: 'secretScope',
    name: 'secret-scope',
    once,
    result: () => ({ tag, sealed }),
  };
}

/**
 * One invocation's work through the public API with its scope left open (the caller
 * ends it): the scaling section holds many at once, the cold-start and syscall
 * children end each one.
 */
export function openInvocation(lib) {
  const { openScope, importKey, hkdfExtract, hkdfExpandMany, hmacSign, aeadSeal } = lib;
  const inbox = Buffer.alloc(64);
  const infos = INFO.slice(0, KEYS);
  return () => {
    ENTROPY.copy(inbox);
    const scope = openScope();
    const prk = hkdfExtract(importKey(inbox, { scope }), { salt: SALT, scope });
    const [k0, k1] = hkdfExpandMany(prk, infos, { scope, use: 'secret' });
    hmacSign(k0, MSG);
    aeadSeal(k1, NONCE24, MSG);
    return scope;
  };
}

/** The same with one hkdfExpand call per key (HMAC keyed with the PRK for each). */
export function secretScopeEachContender(lib) {
  const { openScope, importKey, hkdfExtract, hkdfExpand, hmacSign, aeadSeal } = lib;
  const inbox = Buffer.alloc(64);
  let tag;
  let sealed;
  const once = () => {
    ENTROPY.copy(inbox);
    const scope = openScope();
    const ikm = importKey(inbox, { scope });
    const prk = hkdfExtract(ikm, { salt: SALT, scope });
    let k0;
    let k1;
    for (let i = 0; i < KEYS; i++) {
      const k = hkdfExpand(prk, { info: INFO[i], length: 32, scope, use: 'secret' });
      if (i === 0) k0 = k;
      else if (i === 1) k1 = k;
    }
    tag = hmacSign(k0, MSG);
    sealed = aeadSeal(k1, NONCE24, MSG);
    scope.end();
  };
  return { id: 'secretScopeEach', name: 'secret-scope, one hkdfExpand per key', once, result: () => ({ tag, sealed }) };
}

/** secret-scope the way the Lambda wrapper uses it: scope.run() (AsyncLocalStorage), keys owned implicitly. */
export function secretScopeRunContender(lib) {
  const { openScope, importKey, hkdfExtract, hkdfExpandMany, hmacSign, aeadSeal } = lib;
  const inbox = Buffer.alloc(64);
  const infos = INFO.slice(0, KEYS);
  let tag;
  let sealed;
  const body = () => {
    const ikm = importKey(inbox);
    const prk = hkdfExtract(ikm, { salt: SALT });
    const [k0, k1] = hkdfExpandMany(prk, infos, { length: 32, use: 'secret' });
    tag = hmacSign(k0, MSG);
    sealed = aeadSeal(k1, NONCE24, MSG);
  };
  const once = () => {
    ENTROPY.copy(inbox);
    const scope = openScope();
    scope.run(body);
    scope.end();
  };
  return { id: 'secretScopeRun', name: 'secret-scope, scope.run (ALS)', once, result: () => ({ tag, sealed }) };
}

/** The raw N-API surface of the addon: the floor of what any JS API over it can cost. */
export function rawNapiContender(n) {
  const inbox = Buffer.alloc(64);
  const infos = INFO.slice(0, KEYS);
  const ids = new Float64Array(KEYS);
  let tag;
  let sealed;
  const once = () => {
    ENTROPY.copy(inbox);
    const s = n.scopeOpen();
    const ikm = n.keyImport(inbox, s);
    const prk = n.hkdfExtract(0, ikm, SALT, s);
    n.hkdfExpandMany(0, prk, infos, 32, s, ids, 0); // use 0: generic secret (one key serves HMAC, one AEAD)
    // Outputs from Node's Buffer pool, as the public API passes them (no native Buffer allocation).
    tag = n.hmacSign(0, ids[0], MSG, undefined, Buffer.allocUnsafe(32));
    sealed = n.aeadSeal(0, ids[1], NONCE24, MSG, undefined, Buffer.allocUnsafe(MSG.length + 16));
    n.scopeClose(s);
  };
  return { id: 'rawNapi', name: 'secret-scope raw N-API (no JS layer)', once, result: () => ({ tag, sealed }) };
}

/**
 * node:crypto, unprotected. Node has no XChaCha20-Poly1305: this seals with
 * ChaCha20-Poly1305 (12-byte nonce; XChaCha adds one HChaCha20 block on top).
 * Node has no HKDF-Expand without Extract, so the 4 keys are one hkdfSync of
 * 128 bytes cut in four: the same compression-function work as Extract + 4
 * Expands of 32 bytes, and key 0 is bit-identical to the others' key 0.
 */
export function nodeCryptoContender() {
  const inbox = Buffer.alloc(64);
  let tag;
  let sealed;
  const once = () => {
    ENTROPY.copy(inbox);
    const okm = new Uint8Array(hkdfSync('sha256', inbox, SALT, INFO[0], 32 * KEYS));
    const k0 = okm.subarray(0, 32);
    const k1 = okm.subarray(32, 64);
    tag = createHmac('sha256', k0).update(MSG).digest();
    const c = createCipheriv('chacha20-poly1305', k1, NONCE12, { authTagLength: 16 });
    const body = c.update(MSG);
    c.final();
    sealed = Buffer.concat([body, c.getAuthTag()]);
    okm.fill(0); // the buffers we own are zeroed; OpenSSL's and V8's internal copies are not ours to wipe
    inbox.fill(0);
  };
  return { id: 'nodeCrypto', name: 'node:crypto (unprotected, chacha20-poly1305)', once, result: () => ({ tag, sealed }) };
}

/**
 * sodium-native, the protected peer: every secret (entropy copy, PRK, 4 keys)
 * in its own sodium_malloc allocation (guard pages, mlock, canary), freed with
 * sodium_free. sodium-native has no HMAC-SHA256, so HMAC is built here on
 * crypto_hash_sha256_*; its pads, hash state and inner hash live in one
 * sodium_malloc'd scratch buffer allocated once (as secret-scope's scratch slot).
 */
export function sodiumNativeContender(S) {
  const B = S.crypto_hash_sha256_BYTES;
  const SB = S.crypto_hash_sha256_STATEBYTES;
  const scratch = S.sodium_malloc(64 + SB + B);
  const pad = scratch.subarray(0, 64);
  const st = scratch.subarray(64, 64 + SB);
  const inner = scratch.subarray(64 + SB, 64 + SB + B);
  const one = Buffer.from([1]);
  const inbox = Buffer.alloc(64);
  let tag;
  let sealed;

  // HMAC-SHA256(key, a || b) into out; key up to 64 bytes (all keys here are).
  const hmac = (key, a, b, out) => {
    S.sodium_memzero(pad);
    key.copy(pad);
    for (let i = 0; i < 64; i++) pad[i] ^= 0x36;
    S.crypto_hash_sha256_init(st);
    S.crypto_hash_sha256_update(st, pad);
    S.crypto_hash_sha256_update(st, a);
    if (b) S.crypto_hash_sha256_update(st, b);
    S.crypto_hash_sha256_final(st, inner);
    for (let i = 0; i < 64; i++) pad[i] ^= 0x36 ^ 0x5c;
    S.crypto_hash_sha256_init(st);
    S.crypto_hash_sha256_update(st, pad);
    S.crypto_hash_sha256_update(st, inner);
    S.crypto_hash_sha256_final(st, out);
    S.sodium_memzero(scratch);
  };

  const once = () => {
    ENTROPY.copy(inbox);
    const ikm = S.sodium_malloc(64);
    inbox.copy(ikm);
    S.sodium_memzero(inbox);
    const prk = S.sodium_malloc(32);
    hmac(SALT, ikm, null, prk);
    const keys = [];
    for (let i = 0; i < KEYS; i++) {
      const k = S.sodium_malloc(32);
      hmac(prk, INFO[i], one, k);
      keys.push(k);
    }
    tag = Buffer.allocUnsafe(32);
    hmac(keys[0], MSG, null, tag);
    sealed = Buffer.allocUnsafe(MSG.length + S.crypto_aead_xchacha20poly1305_ietf_ABYTES);
    S.crypto_aead_xchacha20poly1305_ietf_encrypt(sealed, MSG, null, null, NONCE24, keys[1]);
    for (const k of keys) S.sodium_free(k); // sodium_free zeroes before unmapping
    S.sodium_free(prk);
    S.sodium_free(ikm);
  };
  return { id: 'sodiumNative', name: 'sodium-native (sodium_malloc per secret)', once, result: () => ({ tag, sealed }) };
}
