// Signing on handles against node:crypto doing the same unprotected (issue 10):
// ES256 (ECDSA P-256 + SHA-256), ES384 (P-384 + SHA-384) and Ed25519 over a
// 256-byte message, round-robin rounds as in crypto.mjs. Each signature is first
// checked with node:crypto's verify, so a fast wrong answer cannot win.
import { createPublicKey, generateKeyPairSync, randomBytes, sign as nodeSign, verify as nodeVerify } from 'node:crypto';
import { runRounds, syncSampler } from './harness.mjs';

const ALGS = [
  { id: 'es256', use: 'ecdsa-p256', hash: 'sha256', node: () => generateKeyPairSync('ec', { namedCurve: 'prime256v1' }) },
  { id: 'es384', use: 'ecdsa-p384', hash: 'sha384', node: () => generateKeyPairSync('ec', { namedCurve: 'secp384r1' }) },
  { id: 'ed25519', use: 'ed25519', hash: null, node: () => generateKeyPairSync('ed25519') },
];

export async function runSigning({ lib, smoke }) {
  const msg = randomBytes(256);
  const out = {};
  for (const a of ALGS) {
    const { privateKey } = lib.generateKeyPair(a.use, { scope: null });
    const ours = createPublicKey({ key: lib.publicKey(privateKey, { format: 'spki' }), format: 'der', type: 'spki' });
    const theirs = a.node();
    let sig;
    const contenders = [
      { id: 'secretScope', name: `secret-scope sign (${a.use})`, once: () => (sig = lib.sign(privateKey, msg)) },
      { id: 'nodeCrypto', name: `node:crypto sign (${a.use}, unprotected)`, once: () => (sig = nodeSign(a.hash, msg, theirs.privateKey)) },
    ];
    contenders[0].once();
    if (!nodeVerify(a.hash, msg, ours, sig)) throw new Error(`${a.id}: secret-scope's signature does not verify`);
    contenders[1].once();
    if (!nodeVerify(a.hash, msg, theirs.publicKey, sig)) throw new Error(`${a.id}: node's signature does not verify`);
    const results = await runRounds(contenders.map(syncSampler), { rounds: smoke ? 5 : 31, sampleMs: smoke ? 2 : 8, warmMs: smoke ? 20 : 200 });
    privateKey.release();
    out[a.id] = { results, ratio: results.secretScope.medianNs / results.nodeCrypto.medianNs };
  }
  return { workload: 'sign 256 B (DER for ECDSA, as node:crypto); keys made once', ...out };
}
