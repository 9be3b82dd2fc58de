// LEAK: an X25519 shared secret as hex in the message of an Error that is caught and kept.
import { leakyHandler, lib } from './_leak.mjs';

export const plantedLeak = { finding: 'copy', kind: 'arena-shared', form: 'hex', place: 'caught Error message' };
const errors = [];

export function createHandler(env) {
  return leakyHandler(env, async () => {
    const mine = lib.x25519KeyPair();
    const peer = lib.x25519KeyPair();
    const shared = lib.x25519SharedSecret(mine.privateKey, peer.publicKey);
    try {
      throw new Error(`handshake check failed for ${lib.exposeUnsafe(shared, (v) => Buffer.from(v).toString('hex'))}`);
    } catch (e) {
      errors.push(e);
    }
  });
}
