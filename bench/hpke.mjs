// HPKE seal of 1 KiB on handles against node:crypto doing the same unprotected
// (issue 10): single-shot base mode, DHKEM(X25519, HKDF-SHA256), HKDF-SHA256,
// ChaCha20-Poly1305, a fresh ephemeral key per message in both. The node:crypto
// contender is RFC 9180 written out with createHmac/diffieHellman/createCipheriv
// (keys as JS Buffers). Each contender's output is first opened with hpkeOpen,
// so a fast wrong answer cannot win.
import { createCipheriv, createHmac, createPublicKey, diffieHellman, generateKeyPairSync, randomBytes } from 'node:crypto';
import { runRounds, syncSampler } from './harness.mjs';

const u16 = (n) => Buffer.from([n >> 8, n & 0xff]);
const KEM = Buffer.concat([Buffer.from('KEM'), u16(0x20)]);
const SUITE = Buffer.concat([Buffer.from('HPKE'), u16(0x20), u16(1), u16(3)]);
const V1 = Buffer.from('HPKE-v1');
const extract = (salt, id, label, ikm) => createHmac('sha256', salt).update(Buffer.concat([V1, id, Buffer.from(label), ikm])).digest();
const expand = (prk, id, label, info, L) => createHmac('sha256', prk).update(Buffer.concat([u16(L), V1, id, Buffer.from(label), info, Buffer.from([1])])).digest().subarray(0, L);
const EMPTY = Buffer.alloc(0);

/** RFC 9180 SealBase with node:crypto: every secret an ordinary Buffer. */
function nodeSeal(pkR, info, pt) {
  const e = generateKeyPairSync('x25519');
  const enc = Buffer.from(e.publicKey.export({ format: 'jwk' }).x, 'base64url');
  const dh = diffieHellman({ privateKey: e.privateKey, publicKey: createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x: pkR.toString('base64url') }, format: 'jwk' }) });
  const shared = expand(extract(EMPTY, KEM, 'eae_prk', dh), KEM, 'shared_secret', Buffer.concat([enc, pkR]), 32);
  const ksc = Buffer.concat([Buffer.from([0]), extract(EMPTY, SUITE, 'psk_id_hash', EMPTY), extract(EMPTY, SUITE, 'info_hash', info)]);
  const secret = extract(shared, SUITE, 'secret', EMPTY);
  const c = createCipheriv('chacha20-poly1305', expand(secret, SUITE, 'key', ksc, 32), expand(secret, SUITE, 'base_nonce', ksc, 12), { authTagLength: 16 });
  return { enc, ciphertext: Buffer.concat([c.update(pt), c.final(), c.getAuthTag()]) };
}

export async function runHpke({ lib, smoke }) {
  const pt = randomBytes(1024);
  const info = Buffer.from('bench');
  const { privateKey, publicKey } = lib.generateKeyPair('x25519', { scope: null });
  let out;
  const contenders = [
    { id: 'secretScope', name: 'secret-scope hpkeSeal', once: () => (out = lib.hpkeSeal(publicKey, pt, { info })) },
    { id: 'nodeCrypto', name: 'node:crypto HPKE seal (unprotected)', once: () => (out = nodeSeal(publicKey, info, pt)) },
  ];
  for (const c of contenders) {
    c.once();
    if (!lib.hpkeOpen(privateKey, out.enc, out.ciphertext, { info }).equals(pt)) throw new Error(`${c.id}: the HPKE message does not open`);
  }
  const results = await runRounds(contenders.map(syncSampler), { rounds: smoke ? 5 : 31, sampleMs: smoke ? 2 : 8, warmMs: smoke ? 20 : 200 });
  privateKey.release();
  return { workload: 'HPKE single-shot seal, 1 KiB, X25519 + HKDF-SHA256 + ChaCha20-Poly1305, fresh ephemeral key each', results, ratio: results.secretScope.medianNs / results.nodeCrypto.medianNs };
}
