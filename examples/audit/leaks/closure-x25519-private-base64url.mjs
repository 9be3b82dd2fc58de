// LEAK: an X25519 private key as base64url captured by a closure that outlives the invocation.
import { leakyHandler, lib } from './_leak.mjs';

export const plantedLeak = { finding: 'copy', kind: 'arena-x25519-private', form: 'base64url', place: 'closure' };
const callbacks = [];

export function createHandler(env) {
  return leakyHandler(env, async () => {
    const { privateKey } = lib.x25519KeyPair();
    const text = lib.exposeUnsafe(privateKey, (v) => Buffer.from(v).toString('base64url'));
    callbacks.push(() => text.length);
  });
}
