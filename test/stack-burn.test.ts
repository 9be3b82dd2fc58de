/**
 * Stack burns sized to what each primitive uses (issue 11, goal 1): every HMAC/HKDF
 * and AEAD operation zeroes the stack its primitives used below its own frame. The
 * addon measures each primitive's depth once per process (host OpenSSL or libsodium
 * SHA-2, libsodium's ChaCha20-Poly1305) and burns that much plus a margin; this test
 * paints the stack below a call with a pattern, runs the operation and checks that
 * nothing but the operation's own frame is left: the deepest byte that is neither
 * the pattern nor zero lies within a few hundred bytes of the caller.
 * (A fixed 2 KiB burn left the host's SHA-512 frames, ~3.4 KiB deep, behind: that
 * is what the residue check for the 512-bit families catches.)
 */
import { describe, expect, it } from 'vitest';
import { configureSecretMemory } from '../src/index.js';
import { native } from '../src/memory/native.js';

configureSecretMemory({});

interface StackUse {
  touched: number;
  residue: number;
  hashEngine: string;
  burnHash: number;
  burnChaCha: number;
}
const stackUse = (family: string, engine: 'host' | 'libsodium'): StackUse =>
  (native() as unknown as { testStackUse(f: string, e: string): StackUse }).testStackUse(family, engine);

// The operation's own frame and the measuring frames above it (no primitive frame is this shallow).
const OWN_FRAMES = 1024;

describe('stack burns', () => {
  for (const engine of ['host', 'libsodium'] as const) {
    describe(`${engine} SHA-2`, () => {
      it('each hash burn covers what the hash itself was measured to use', () => {
        const s256 = stackUse('sha256', engine);
        const s512 = stackUse('sha512', engine);
        expect(s256.touched).toBeGreaterThan(0);
        expect(s512.touched).toBeGreaterThan(0);
        expect(stackUse('hmacSign', engine).burnHash).toBeGreaterThanOrEqual(s256.touched);
        expect(stackUse('hmacSign512', engine).burnHash).toBeGreaterThanOrEqual(s512.touched);
      });
      for (const family of ['hkdfExtract', 'hkdfExtract512', 'hkdfExpandMany', 'hkdfExpandMany512', 'hmacSign', 'hmacSign512']) {
        it(`${family} leaves nothing below its own frame`, () => {
          const u = stackUse(family, engine);
          // The call went deeper than its own frame (the primitives and the burn ran there) ...
          expect(u.touched).toBeGreaterThan(OWN_FRAMES);
          // ... and left nothing but zeros and the untouched pattern below its frame.
          expect(u.residue).toBeLessThanOrEqual(OWN_FRAMES);
        });
      }
    });
  }

  it("the ChaCha burn covers libsodium's (X)ChaCha20-Poly1305, and a seal leaves nothing below its frame", () => {
    const raw = stackUse('chacha', 'host');
    const seal = stackUse('aeadSeal', 'host');
    expect(seal.burnChaCha).toBeGreaterThanOrEqual(raw.touched);
    expect(seal.touched).toBeGreaterThan(OWN_FRAMES);
    expect(seal.residue).toBeLessThanOrEqual(OWN_FRAMES);
  });

  it('an AES-GCM seal leaves nothing below its frame', () => {
    const u = stackUse('aesGcmSeal', 'host');
    expect(u.touched).toBeGreaterThan(OWN_FRAMES);
    expect(u.residue).toBeLessThanOrEqual(OWN_FRAMES);
  });

  it('a raw primitive without a burn does leave its frames (the check can fail)', () => {
    const raw = stackUse('chacha', 'host');
    expect(raw.residue).toBeGreaterThan(OWN_FRAMES);
  });

  it('unknown families are a typed error', () => {
    expect(() => stackUse('nope', 'host')).toThrow(/unknown stack-use family/);
  });
});
