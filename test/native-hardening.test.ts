/**
 * The native layer under hostile arguments (issue 9, item 8): JavaScript that
 * runs while the addon reads an argument (an array getter, a proxy) must not
 * be able to release a key or detach a buffer after it was validated, and
 * failures the addon survives are reported, never silent.
 */
import { describe, expect, it } from 'vitest';
import { configureSecretMemory, hkdfExtract, InvalidArgumentError, KeyReleasedError, protectionReport, randomKey, SecretScopeError, verifyGuards } from '../src/index.js';
import { keyId } from '../src/memory/key.js';
import { native } from '../src/memory/native.js';

configureSecretMemory({});

/** An array whose element `at` runs `fn` when read (after the elements before it). */
function withGetter<T>(values: T[], at: number, fn: () => void): T[] {
  const arr = [...values];
  Object.defineProperty(arr, at, {
    enumerable: true,
    get() {
      fn();
      return values[at];
    },
  });
  return arr;
}

describe('arguments read before they are validated', () => {
  it('hkdfExpandMany: an info getter that releases the PRK makes the call fail with KeyReleasedError (not a read of a freed slot)', () => {
    const prk = randomKey(32, { scope: null });
    const id = keyId(prk, 'test');
    const ids = new Float64Array(64);
    const infos = withGetter([Buffer.from('a'), Buffer.from('b'), Buffer.from('c')], 1, () => native().keyRelease(id));
    const before = protectionReport().liveSlots;
    expect(() => native().hkdfExpandMany(0, id, infos, 32, 0, ids)).toThrow(KeyReleasedError);
    expect(protectionReport().liveSlots).toBe(before - 1); // the PRK is gone, nothing was made
  });

  it('hkdfExpandMany: an info getter that detaches an earlier info buffer cannot make the addon read it', () => {
    const prk = randomKey(32, { scope: null });
    const id = keyId(prk, 'test');
    const ids = new Float64Array(64);
    const first = new Uint8Array(new ArrayBuffer(4096)).fill(7);
    const infos = withGetter([first, Buffer.from('b')], 1, () => structuredClone(first.buffer, { transfer: [first.buffer] }));
    // The getter ran before validation: the addon sees the detached info as empty, never its freed bytes.
    expect(native().hkdfExpandMany(0, id, infos, 32, 0, ids)).toBe(2);
    expect(first.byteLength).toBe(0);
    for (const k of [ids[0]!, ids[1]!]) native().keyRelease(k);
    prk.release();
  });

  it('hkdfExtract: a key-array getter that releases an earlier key makes the call fail, leaving nothing behind', () => {
    const a = randomKey(32, { scope: null });
    const b = randomKey(32, { scope: null });
    const ida = keyId(a, 'test');
    const idb = keyId(b, 'test');
    const before = protectionReport().liveSlots;
    const keys = withGetter([ida, idb], 1, () => native().keyRelease(ida));
    expect(() => native().hkdfExtract(0, keys, undefined, 0)).toThrow(KeyReleasedError);
    expect(protectionReport().liveSlots).toBe(before - 1);
    b.release();
  });

  it('a getter that throws surfaces its own error; a proxy array is refused', () => {
    const prk = randomKey(32, { scope: null });
    const id = keyId(prk, 'test');
    const boom = withGetter([Buffer.from('a'), Buffer.from('b')], 0, () => {
      throw new Error('getter threw');
    });
    expect(() => native().hkdfExpandMany(0, id, boom, 32, 0, new Float64Array(64))).toThrow('getter threw');
    // A proxy is not an array to the addon (V8's IsArray is false for proxies): refused up front.
    const proxy = new Proxy([Buffer.from('x'), Buffer.from('y')], {});
    expect(() => native().hkdfExpandMany(0, id, proxy, 32, 0, new Float64Array(64))).toThrow(InvalidArgumentError);
    prk.release();
  });

  it('the public hkdfExtract with a key array is unaffected', () => {
    const a = randomKey(32, { scope: null });
    const b = randomKey(32, { scope: null });
    const prk = hkdfExtract([a, b], { scope: null });
    expect(prk.length).toBe(32);
    for (const k of [a, b, prk]) k.release();
  });
});

describe('violations are reported', () => {
  it('the report carries vaultSealFailures and quarantinedSlots (zero here) and verifyGuards passes', () => {
    const r = protectionReport();
    expect(r.vaultSealFailures).toBe(0);
    expect(r.quarantinedSlots).toBe(0);
    expect(() => verifyGuards()).not.toThrow();
  });

  it('native errors on bad arrays are typed', () => {
    const prk = randomKey(32, { scope: null });
    const id = keyId(prk, 'test');
    const tooMany = Array.from({ length: 65 }, () => Buffer.from('i'));
    let e: unknown;
    try {
      native().hkdfExpandMany(0, id, tooMany, 32, 0, new Float64Array(64));
    } catch (x) {
      e = x;
    }
    expect(e).toBeInstanceOf(SecretScopeError);
    expect((e as SecretScopeError).code).toBe('ERR_INVALID_ARGUMENT');
    prk.release();
  });
});
