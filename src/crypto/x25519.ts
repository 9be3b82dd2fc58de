/** X25519: the private key and the shared secret stay in guarded memory. */
import { native } from '../memory/native.js';
import { keyId, ownerFor, requireUse, wrapKey, type Key, type KeyOptions } from '../memory/key.js';
import { onlyKnownOptions, toBytes } from '../memory/bytes.js';
import { KEY_OPTS } from './options.js';

/** An X25519 key pair: the private key stays in guarded memory. */
export function x25519KeyPair(options?: KeyOptions): { privateKey: Key; publicKey: Buffer } {
  onlyKnownOptions(options, KEY_OPTS, 'x25519KeyPair');
  const { scope, nativeScope } = ownerFor(options);
  const [id, publicKey] = native().x25519Generate(nativeScope);
  return { privateKey: wrapKey(id, scope, 32, 'x25519', options?.label), publicKey };
}

export function x25519PublicKey(privateKey: Key): Buffer {
  const id = keyId(privateKey, 'x25519PublicKey');
  requireUse(privateKey, 'x25519', 'x25519PublicKey');
  return native().x25519Public(id);
}

/**
 * X25519 shared secret into a new key of use 'shared' (input for HKDF only); an all-zero
 * result (low-order point) throws WeakPublicKeyError.
 */
export function x25519SharedSecret(privateKey: Key, peerPublicKey: Uint8Array, options?: KeyOptions): Key {
  onlyKnownOptions(options, KEY_OPTS, 'x25519SharedSecret');
  const id = keyId(privateKey, 'x25519SharedSecret');
  requireUse(privateKey, 'x25519', 'x25519SharedSecret');
  const { scope, nativeScope } = ownerFor(options);
  const shared = native().x25519Shared(id, toBytes(peerPublicKey, 'peer public key')!, nativeScope);
  return wrapKey(shared, scope, 32, 'shared', options?.label);
}
