// The inputs of one invocation, identical for every contender (bench/floor.c
// builds the same bytes; keep them in step).
export const KEYS = 4;
export const MSG_LEN = 1024;
export const ENTROPY = Buffer.from(Array.from({ length: 64 }, (_, i) => (i * 7 + 3) & 0xff));
export const MSG = Buffer.from(Array.from({ length: MSG_LEN }, (_, i) => i & 0xff));
export const NONCE24 = Buffer.from(Array.from({ length: 24 }, (_, i) => 0xa0 + i));
/** node:crypto has no XChaCha20: its ChaCha20-Poly1305 takes the first 12 bytes of the nonce. */
export const NONCE12 = NONCE24.subarray(0, 12);
export const SALT = Buffer.from('secret-scope/bench/salt');
export const INFO = Array.from({ length: 256 }, (_, k) => Buffer.from(`secret-scope/bench/key/${k}`));
