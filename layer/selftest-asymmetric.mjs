// The asymmetric-key part of layer/selftest.mjs, on the raw Node-API surface:
// Wycheproof ECDH (ecpoint files: raw SEC1 points, which is what the addon takes),
// ECDSA signatures checked by node:crypto in both encodings and compared with an
// independent RFC 6979 computation, FIPS 186-5 A.2.1 derivation through hkdf with a
// use, and Ed25519 against node:crypto. Public key validation beyond the addon's own
// (compressed points, SPKI) is JavaScript and is tested by test/ecdh.test.ts.
import { createECDH, createHash, createHmac, createPrivateKey, createPublicKey, hkdfSync, randomBytes, sign as nodeSign, verify as nodeVerify } from 'node:crypto';

// Use numbers (src/memory/key.ts USE_IDS).
const USE = { x25519: 1, ed25519: 8, 'ecdsa-p256': 9, 'ecdsa-p384': 10, 'ecdh-p256': 11, 'ecdh-p384': 12 };
const CURVES = {
  p256: { n: 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n, size: 32, seed: 40, hash: 'sha256', node: 'prime256v1', crv: 'P-256' },
  p384: {
    n: 0xffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973n,
    size: 48,
    seed: 56,
    hash: 'sha384',
    node: 'secp384r1',
    crv: 'P-384',
  },
};
const big = (b) => BigInt(`0x${Buffer.from(b).toString('hex') || '0'}`);
const bytes = (v, size) => Buffer.from(v.toString(16).padStart(size * 2, '0'), 'hex');
const modPow = (b, e, m) => {
  let r = 1n;
  for (b %= m; e > 0n; e >>= 1n, b = (b * b) % m) if (e & 1n) r = (r * b) % m;
  return r;
};
const nodePublic = (c, d) => {
  const e = createECDH(c.node);
  e.setPrivateKey(bytes(d, c.size));
  return e.getPublicKey();
};

/** RFC 6979 r || s for private key d over msg (qlen = hlen for both curves). */
function rfc6979(c, d, msg) {
  const h1 = createHash(c.hash).update(msg).digest();
  const z = big(h1);
  const x = bytes(d, c.size);
  const h = bytes(z % c.n, c.size);
  const mac = (k, ...parts) => createHmac(c.hash, k).update(Buffer.concat(parts)).digest();
  let v = Buffer.alloc(h1.length, 1);
  let k = Buffer.alloc(h1.length, 0);
  k = mac(k, v, Buffer.from([0]), x, h);
  v = mac(k, v);
  k = mac(k, v, Buffer.from([1]), x, h);
  v = mac(k, v);
  let nonce;
  for (;;) {
    v = mac(k, v);
    nonce = big(v);
    if (nonce >= 1n && nonce < c.n) break;
    k = mac(k, v, Buffer.from([0]));
    v = mac(k, v);
  }
  const r = big(nodePublic(c, nonce).subarray(1, 1 + c.size)) % c.n;
  const s = (modPow(nonce, c.n - 2n, c.n) * ((z + r * d) % c.n)) % c.n;
  return Buffer.concat([bytes(r, c.size), bytes(s, c.size)]);
}

/**
 * Runs the checks with the selftest's helpers; returns { name: tally } entries.
 * `h` = { A, hex, readKey, loadVectors, tally, record, fail }.
 */
export function asymmetricChecks(h) {
  const { A, hex, readKey, loadVectors, tally, record, fail } = h;
  const out = {};
  const own = (t, ok, label, s) => record(s, t, ok, label);

  for (const [file, use, c] of [['ecdh_secp256r1_ecpoint_test.json', 'ecdh-p256', CURVES.p256], ['ecdh_secp384r1_ecpoint_test.json', 'ecdh-p384', CURVES.p384]]) {
    const s = tally();
    for (const { t } of loadVectors(file)) {
      const priv = A.keyImportPrivate(bytes(big(hex(t.private)), c.size), USE[use], 0);
      let got;
      let code;
      try {
        got = readKey(A, A.agree(priv, hex(t.public), 0));
      } catch (e) {
        code = e.code;
      }
      A.keyRelease(priv);
      const uncompressed = t.public.startsWith('04') && t.public.length === 2 * (2 * c.size + 1);
      let ok;
      if (t.result === 'valid') ok = got !== undefined && got.equals(hex(t.shared));
      else if (t.result === 'invalid') ok = got === undefined && code === 'ERR_INVALID_PUBLIC_KEY';
      else ok = got !== undefined ? got.equals(hex(t.shared)) : code === 'ERR_INVALID_PUBLIC_KEY' && !uncompressed;
      if (got === undefined) s.refused++;
      own(t, ok, use, s);
    }
    out[file.replace('_test.json', '')] = s;
  }

  for (const [use, c] of [['ecdsa-p256', CURVES.p256], ['ecdsa-p384', CURVES.p384]]) {
    const s = { run: 0, passed: 0 };
    const check = (name, cond) => {
      s.run++;
      if (cond) s.passed++;
      else fail(`${use}: ${name}`);
    };
    for (let i = 0; i < 4; i++) {
      const d = (big(randomBytes(c.seed)) % (c.n - 1n)) + 1n;
      const k = A.keyImportPrivate(bytes(d, c.size), USE[use], 0);
      const msg = randomBytes(i * 33);
      const pub = A.keyPublic(k);
      const key = createPublicKey({ key: { kty: 'EC', crv: c.crv, x: pub.subarray(1, 1 + c.size).toString('base64url'), y: pub.subarray(1 + c.size).toString('base64url') }, format: 'jwk' });
      const p1363 = A.sign(k, msg, false);
      check('public key = node', pub.equals(nodePublic(c, d)));
      check('P1363 = RFC 6979', p1363.equals(rfc6979(c, d, msg)));
      check('DER verifies (node)', nodeVerify(c.hash, msg, key, A.sign(k, msg, true)));
      check('P1363 verifies (node)', nodeVerify(c.hash, msg, { key, dsaEncoding: 'ieee-p1363' }, p1363));
      A.keyRelease(k);
    }
    // FIPS 186-5 A.2.1 through hkdf with a use (SHA-512).
    const ikm = randomBytes(64);
    const ikmKey = A.keyImport(Buffer.from(ikm), 0);
    const derived = A.hkdf(1, ikmKey, Buffer.from('salt'), Buffer.from('guid'), c.size, 0, USE[use]);
    const want = (big(hkdfSync('sha512', ikm, 'salt', 'guid', c.seed)) % (c.n - 1n)) + 1n;
    check('A.2.1 derivation = node', A.keyPublic(derived).equals(nodePublic(c, want)));
    check('use kept on the slot', A.keyUse(derived) === use);
    check('refused for HMAC', (() => { try { A.hmacSign(0, derived, Buffer.from('m')); return false; } catch (e) { return e.code === 'ERR_KEY_USAGE'; } })());
    A.keyRelease(derived);
    A.keyRelease(ikmKey);
    out[use] = s;
  }

  const s = { run: 0, passed: 0 };
  const check = (name, cond) => {
    s.run++;
    if (cond) s.passed++;
    else fail(`ed25519: ${name}`);
  };
  const rfc = A.keyImportPrivate(hex('9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60'), USE.ed25519, 0);
  check('RFC 8032 test 1 public', A.keyPublic(rfc).toString('hex') === 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a');
  check(
    'RFC 8032 test 1 signature',
    A.sign(rfc, Buffer.alloc(0), false).toString('hex') ===
      'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b',
  );
  A.keyRelease(rfc);
  for (let i = 0; i < 4; i++) {
    const seed = randomBytes(32);
    const k = A.keyImportPrivate(Buffer.from(seed), USE.ed25519, 0);
    const msg = randomBytes(i * 40);
    const theirs = createPrivateKey({ key: Buffer.concat([hex('302e020100300506032b657004220420'), seed]), format: 'der', type: 'pkcs8' });
    check('signature = node', A.sign(k, msg, false).equals(nodeSign(null, msg, theirs)));
    A.keyRelease(k);
  }
  out.ed25519 = s;
  return out;
}
