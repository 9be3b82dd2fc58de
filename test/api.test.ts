/**
 * Behaviour of the public API: import/decode, exposeUnsafe, lending, release,
 * forged and foreign handles, scopes, canaries, HMAC tag lengths, option
 * checking, and error messages that never carry key bytes.
 *
 * The canary tests wipe the whole arena, so they run last (vitest runs the
 * tests of a file in order).
 */
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import {
  AuthenticationError,
  CanaryViolationError,
  ForeignHandleError,
  InvalidArgumentError,
  InvalidHandleError,
  Key,
  KeyLentError,
  KeyReleasedError,
  ScopeEndedError,
  SecretScopeError,
  UnsupportedAlgorithmError,
  aeadOpen,
  aeadSeal,
  configureSecretMemory,
  decodeKey,
  exposeUnsafe,
  hkdf,
  hkdfExpand,
  hkdfExpandMany,
  hkdfExtract,
  hmacSign,
  hmacVerify,
  importKey,
  importPrivateKey,
  KeyUsageError,
  open,
  openScope,
  protectionReport,
  randomKey,
  seal,
  verifyGuards,
  withScope,
  x25519KeyPair,
  x25519PublicKey,
  x25519SharedSecret,
  type AeadAlgorithm,
} from '../src/index.js';
import { testing } from '../src/testing.js';
import { errorFromCode } from '../src/errors/index.js';
import { native, type NativeAddon } from '../src/memory/native.js';
import { REPO_ROOT } from './helpers/restricted.js';

configureSecretMemory({ require: 'any' });

/** Distinctive, known key bytes (32 bytes) and a fresh copy of them. */
const KNOWN = createHash('sha256').update('secret-scope api.test known key').digest();
const known = () => Buffer.from(KNOWN);

function bytesOf(key: Key): Buffer {
  return exposeUnsafe(key, (v) => Buffer.from(v));
}

/** A second, independent instance of the addon (its own arena), loaded from a copy of the .node file. */
function secondInstance(dir: string, name: string): NativeAddon {
  const copy = join(dir, `${name}.node`);
  copyFileSync(join(REPO_ROOT, 'build', 'Release', 'secret_scope.node'), copy);
  const mod = { exports: {} as NativeAddon };
  process.dlopen(mod, copy);
  mod.exports.setErrorFactory(errorFromCode);
  return mod.exports;
}

function caught(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  throw new Error('expected the call to throw');
}

describe('importKey and decodeKey', () => {
  it('importKey copies the bytes into a key and zeroes the caller buffer', () => {
    const buf = known();
    const key = importKey(buf);
    expect(buf.equals(Buffer.alloc(32))).toBe(true);
    expect(key.length).toBe(32);
    expect(bytesOf(key).equals(KNOWN)).toBe(true);
  });

  it('importKey zeroes only the view it was given, not the rest of the ArrayBuffer', () => {
    const backing = Buffer.alloc(48, 0xee);
    KNOWN.copy(backing, 8);
    const view = new Uint8Array(backing.buffer, backing.byteOffset + 8, 32);
    const key = importKey(view);
    expect(backing.subarray(8, 40).equals(Buffer.alloc(32))).toBe(true);
    expect(backing.subarray(0, 8).equals(Buffer.alloc(8, 0xee))).toBe(true);
    expect(backing.subarray(40).equals(Buffer.alloc(8, 0xee))).toBe(true);
    expect(bytesOf(key).equals(KNOWN)).toBe(true);
  });

  it('importKey refuses empty, oversized and non-byte material', () => {
    expect(() => importKey(Buffer.alloc(0))).toThrow(InvalidArgumentError);
    expect(() => importKey(Buffer.alloc(16321))).toThrow(InvalidArgumentError);
    expect(() => importKey('abc' as unknown as Uint8Array)).toThrow(InvalidArgumentError);
    expect(() => importKey([1, 2, 3] as unknown as Uint8Array)).toThrow(InvalidArgumentError);
  });

  it('a refused import (bad option, ended scope) leaves the caller\'s bytes as they were, in every container', () => {
    // The input is staged and zeroed before the options are checked (nothing may allocate
    // while a small on-heap array still holds it): a refusal must put it back.
    const ended = openScope();
    ended.end();
    const containers = (): Array<[string, Uint8Array | DataView | ArrayBuffer, () => Buffer]> => {
      const small = new Uint8Array(32);
      small.set(KNOWN);
      const ab = new ArrayBuffer(40);
      new Uint8Array(ab).set(KNOWN, 8);
      const dv = new DataView(ab.slice(0), 8, 32);
      return [
        ['Uint8Array(32)', small, () => Buffer.from(small)],
        ['ArrayBuffer', ab.slice(8), () => Buffer.alloc(0)],
        ['DataView', dv, () => Buffer.from(dv.buffer, 8, 32)],
      ];
    };
    const refusals: Array<[string, object]> = [
      ['unknown option', { colour: 'red' }],
      ['label not a string', { label: 7 }],
      ['ended scope', { scope: ended }],
      ['scope not a scope', { scope: {} }],
    ];
    for (const [why, options] of refusals) {
      for (const [name, input, now] of containers()) {
        expect(caught(() => importKey(input, options as never)), `${why}, ${name}`).toBeInstanceOf(SecretScopeError);
        const after = input instanceof ArrayBuffer ? Buffer.from(input) : now();
        expect(after.equals(KNOWN), `${why}, ${name}: bytes put back`).toBe(true);
      }
      const text = Buffer.from(`<${KNOWN.toString('hex')}>`);
      expect(caught(() => decodeKey(text, { encoding: 'hex', offset: 1, length: 64, ...options } as never)), `decodeKey, ${why}`).toBeInstanceOf(SecretScopeError);
      expect(text.toString(), `decodeKey, ${why}: text put back`).toBe(`<${KNOWN.toString('hex')}>`);
    }
    // And the same input imports afterwards, then reads zero.
    const small = new Uint8Array(32);
    small.set(KNOWN);
    expect(bytesOf(importKey(small)).equals(KNOWN)).toBe(true);
    expect(small.every((b) => b === 0)).toBe(true);
  });

  it('an option getter that imports a key while one is staged gets its own staging: both keys come out right', () => {
    const inner = new Uint8Array(32).fill(0x5a);
    let innerKey: Key | undefined;
    const options = {
      get label() {
        innerKey ??= importKey(inner);
        return 'outer';
      },
    };
    const outer = new Uint8Array(32);
    outer.set(KNOWN);
    const outerKey = importKey(outer, options);
    expect(bytesOf(outerKey).equals(KNOWN)).toBe(true);
    expect(bytesOf(innerKey!).equals(Buffer.alloc(32, 0x5a))).toBe(true);
    expect(outer.every((b) => b === 0) && inner.every((b) => b === 0)).toBe(true);
  });

  for (const encoding of ['base64', 'base64url', 'hex'] as const) {
    it(`decodeKey(${encoding}) decodes into a key equal to the bytes and zeroes exactly the encoded range`, () => {
      const text = Buffer.from(KNOWN.toString(encoding));
      const before = Buffer.from('PREFIX:');
      const after = Buffer.from(':SUFFIX\n');
      const buf = Buffer.concat([before, text, after]);
      const key = decodeKey(buf, { encoding, offset: before.length, length: text.length });
      expect(key.length).toBe(32);
      expect(buf.subarray(before.length, before.length + text.length).equals(Buffer.alloc(text.length))).toBe(true);
      expect(buf.subarray(0, before.length).equals(before)).toBe(true);
      expect(buf.subarray(before.length + text.length).equals(after)).toBe(true);
      expect(bytesOf(key).equals(KNOWN)).toBe(true);
    });
  }

  it('decodeKey accepts padded base64url and unpadded base64url, and decodes to the whole buffer by default', () => {
    const odd = KNOWN.subarray(0, 31); // 31 bytes: base64 needs one '='
    const padded = Buffer.from(odd.toString('base64').replace(/\+/g, '-').replace(/\//g, '_'));
    expect(padded.includes('=')).toBe(true);
    expect(bytesOf(decodeKey(padded, { encoding: 'base64url' })).equals(odd)).toBe(true);
    expect(padded.equals(Buffer.alloc(padded.length))).toBe(true);
    const unpadded = Buffer.from(odd.toString('base64url'));
    expect(unpadded.includes('=')).toBe(false);
    expect(bytesOf(decodeKey(unpadded, { encoding: 'base64url' })).equals(odd)).toBe(true);
    expect(bytesOf(decodeKey(Buffer.from(KNOWN.toString('hex').toUpperCase()), { encoding: 'hex' })).equals(KNOWN)).toBe(true);
  });

  it('decodeKey refuses malformed text with InvalidArgumentError (and still wipes the range)', () => {
    const bad: Array<[string, 'base64' | 'base64url' | 'hex']> = [
      ['zz' + KNOWN.toString('hex').slice(2), 'hex'], // non-hex digit
      [KNOWN.toString('hex').slice(1), 'hex'], // odd length
      ['AAAA\n', 'base64'], // whitespace
      ['AA*A', 'base64'], // bad character
      ['AAA', 'base64'], // unpadded standard base64
      ['A===', 'base64'], // too much padding
      ['A', 'base64url'], // impossible length
      ['AB==', 'base64'], // non-zero trailing bits
      ['AA-_AA+/', 'base64'], // url alphabet in standard base64
      ['AA+/', 'base64url'], // standard alphabet in base64url
      ['', 'hex'], // empty
    ];
    for (const [text, encoding] of bad) {
      const buf = Buffer.from(`<${text}>`);
      const e = caught(() => decodeKey(buf, { encoding, offset: 1, length: text.length }));
      expect(e, `${encoding} '${text}'`).toBeInstanceOf(InvalidArgumentError);
      expect(buf[0]).toBe('<'.charCodeAt(0));
      expect(buf[buf.length - 1]).toBe('>'.charCodeAt(0));
      if (text.length > 0) expect(buf.subarray(1, 1 + text.length).every((b) => b === 0), `${encoding} '${text}' wiped`).toBe(true);
    }
    expect(() => decodeKey(Buffer.from('00'), { encoding: 'utf8' as 'hex' })).toThrow(InvalidArgumentError);
    expect(() => decodeKey(Buffer.from('0000'), { encoding: 'hex', offset: -1 })).toThrow(InvalidArgumentError);
    expect(() => decodeKey(Buffer.from('0000'), { encoding: 'hex', offset: 1.5 })).toThrow(InvalidArgumentError);
    expect(() => decodeKey(Buffer.from('0000'), { encoding: 'hex', offset: 2, length: 4 })).toThrow(InvalidArgumentError);
    expect(() => decodeKey('0000' as unknown as Uint8Array, { encoding: 'hex' })).toThrow(InvalidArgumentError);
  });
});

describe('exposeUnsafe', () => {
  it('lends the key bytes; afterwards the view is detached and the key is dead', () => {
    const key = importKey(known());
    let view: Uint8Array | undefined;
    const out = exposeUnsafe(key, (v) => {
      view = v;
      expect(Buffer.from(v).equals(KNOWN)).toBe(true);
      return 'result';
    });
    expect(out).toBe('result');
    expect(view!.byteLength).toBe(0);
    expect(key.alive).toBe(false);
    expect(() => hmacSign(key, 'x')).toThrow(KeyReleasedError);
    expect(() => exposeUnsafe(key, () => 0)).toThrow(KeyReleasedError);
  });

  it('with an async fn: the view is detached and the key dead once the promise settles', async () => {
    const key = importKey(known());
    let view: Uint8Array | undefined;
    const p = exposeUnsafe(key, async (v) => {
      view = v;
      await new Promise((r) => setImmediate(r));
      return Buffer.from(v).equals(KNOWN);
    });
    expect(await p).toBe(true);
    expect(view!.byteLength).toBe(0);
    expect(key.alive).toBe(false);
    expect(() => hmacSign(key, 'x')).toThrow(KeyReleasedError);
  });

  it('with an async fn that rejects: the rejection propagates and the key is dead', async () => {
    const key = importKey(known());
    let view: Uint8Array | undefined;
    await expect(
      exposeUnsafe(key, async (v) => {
        view = v;
        await Promise.resolve();
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(view!.byteLength).toBe(0);
    expect(() => hmacSign(key, 'x')).toThrow(KeyReleasedError);
  });

  it('with a throwing fn: the error propagates, the view is detached and the key dead', () => {
    const key = importKey(known());
    let view: Uint8Array | undefined;
    expect(() =>
      exposeUnsafe(key, (v) => {
        view = v;
        throw new TypeError('inner');
      }),
    ).toThrow(TypeError);
    expect(view!.byteLength).toBe(0);
    expect(key.alive).toBe(false);
    expect(() => hmacSign(key, 'x')).toThrow(KeyReleasedError);
  });

  it('while lent, every use of the key throws KeyLentError', () => {
    const key = importKey(known());
    const other = randomKey();
    exposeUnsafe(key, () => {
      expect(() => hmacSign(key, 'x')).toThrow(KeyLentError);
      expect(() => hmacVerify(key, 'x', Buffer.alloc(32))).toThrow(KeyLentError);
      expect(() => hkdf(key)).toThrow(KeyLentError);
      expect(() => hkdfExtract(key)).toThrow(KeyLentError);
      expect(() => hkdfExpand(key)).toThrow(KeyLentError);
      expect(() => aeadSeal(key, Buffer.alloc(24), 'x')).toThrow(KeyLentError);
      expect(() => seal(key, 'x')).toThrow(KeyLentError);
      expect(() => exposeUnsafe(key, () => 0)).toThrow(KeyLentError);
      expect(() => testing.corruptAt(key, 0)).toThrow(KeyLentError);
      // Other keys are unaffected.
      expect(hmacSign(other, 'x').length).toBe(32);
    });
    other.release();
    // An X25519 key (a 'secret' key is not one: key separation) while lent.
    const xkey = importPrivateKey(known(), { use: 'x25519' });
    exposeUnsafe(xkey, () => {
      expect(() => x25519PublicKey(xkey)).toThrow(KeyLentError);
      expect(() => x25519SharedSecret(xkey, Buffer.alloc(32, 9))).toThrow(KeyLentError);
    });
  });
});

describe('release and forged handles', () => {
  it('use after release and double release throw KeyReleasedError', () => {
    const key = randomKey();
    expect(key.alive).toBe(true);
    key.release();
    expect(key.alive).toBe(false);
    expect(() => hmacSign(key, 'x')).toThrow(KeyReleasedError);
    expect(() => hkdf(key)).toThrow(KeyReleasedError);
    expect(() => aeadOpen(key, Buffer.alloc(24), Buffer.alloc(16))).toThrow(KeyReleasedError);
    expect(() => key.release()).toThrow(KeyReleasedError);
  });

  it('a released handle stays dead when its slot is reused', () => {
    const a = randomKey();
    a.release();
    const b = randomKey(); // likely reuses a's slot with a new serial
    expect(() => hmacSign(a, 'x')).toThrow(KeyReleasedError);
    expect(hmacSign(b, 'x').length).toBe(32);
    b.release();
  });

  it('forged handles are refused with InvalidHandleError or ForeignHandleError', () => {
    const brand = Symbol.for('secret-scope.key');
    const fakes: Array<[unknown, typeof SecretScopeError]> = [
      [{}, InvalidHandleError],
      [{ id: 1048577, length: 32 }, InvalidHandleError],
      [{ '#id': 1048577 }, InvalidHandleError],
      [1048577, InvalidHandleError],
      [0, InvalidHandleError],
      [NaN, InvalidHandleError],
      ['key', InvalidHandleError],
      [null, InvalidHandleError],
      [undefined, InvalidHandleError],
      [[1048577], InvalidHandleError],
      [Buffer.alloc(32), InvalidHandleError],
      [{ [brand]: true }, ForeignHandleError],
      [Object.create(Key.prototype), ForeignHandleError],
    ];
    for (const [fake, Cls] of fakes) {
      for (const call of [
        () => hmacSign(fake as Key, 'x'),
        () => hkdf(fake as Key),
        () => aeadSeal(fake as Key, Buffer.alloc(24), 'x'),
        () => exposeUnsafe(fake as Key, () => 0),
        () => Key.prototype.release.call(fake as Key),
      ]) {
        const e = caught(call);
        expect(e, inspect(fake)).toBeInstanceOf(Cls);
      }
    }
  });

  it('the raw native API refuses forged numbers', () => {
    const n = native();
    const key = randomKey();
    for (const bad of [0, -1, 1.5, NaN, Infinity, 2 ** 53, 12345, Number.MAX_SAFE_INTEGER]) {
      const e = caught(() => n.hmacSign(0, bad, Buffer.from('x')));
      expect(e, String(bad)).toBeInstanceOf(SecretScopeError);
      expect(['ERR_INVALID_HANDLE', 'ERR_FOREIGN_HANDLE', 'ERR_KEY_RELEASED']).toContain((e as SecretScopeError).code);
      expect(n.keyAlive(bad)).toBe(false);
    }
    expect(caught(() => n.hmacSign(0, 'x' as unknown as number, Buffer.from('x')))).toBeInstanceOf(InvalidHandleError);
    key.release();
  });
});

describe('foreign addon instance', () => {
  const dir = mkdtempSync(join(tmpdir(), 'secret-scope-foreign-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('handles of one instance are ERR_FOREIGN_HANDLE in the other, both ways', () => {
    const other = secondInstance(dir, 'secret_scope_copy');
    const mine = native();
    expect(other).not.toBe(mine);
    const report = other.configure({ require: 'any' });
    expect(report.initialized).toBe(true);

    const ownKey = randomKey();
    const otherKey = other.keyRandom(32, 0);
    const otherScope = other.scopeOpen();
    const myId = (() => {
      // The raw id of ownKey is private; make a raw key in this instance instead.
      return mine.keyRandom(32, 0);
    })();

    // other -> mine
    for (const call of [
      () => mine.hmacSign(0, otherKey, Buffer.from('x')),
      () => mine.keyRelease(otherKey),
      () => mine.keyLength(otherKey),
      () => mine.exposeBegin(otherKey),
      () => mine.scopeClose(otherScope),
      () => mine.keyRandom(32, otherScope),
    ]) {
      const e = caught(call);
      expect(e).toBeInstanceOf(ForeignHandleError);
      expect((e as SecretScopeError).code).toBe('ERR_FOREIGN_HANDLE');
    }
    // mine -> other
    for (const call of [() => other.hmacSign(0, myId, Buffer.from('x')), () => other.keyRelease(myId), () => other.hkdf(0, myId, undefined, undefined, 32, 0)]) {
      const e = caught(call);
      expect((e as SecretScopeError).code).toBe('ERR_FOREIGN_HANDLE');
    }
    expect(mine.keyAlive(otherKey)).toBe(false);
    expect(other.keyAlive(myId)).toBe(false);

    // Both still work on their own handles.
    expect(other.hmacSign(0, otherKey, Buffer.from('x')).length).toBe(32);
    expect(mine.hmacSign(0, myId, Buffer.from('x')).length).toBe(32);
    expect(other.scopeClose(otherScope)).toBe(0);
    other.keyRelease(otherKey);
    expect(other.report().liveSlots).toBe(0);
    mine.keyRelease(myId);
    ownKey.release();
  });
});

describe('scopes', () => {
  it('ending a scope wipes all its keys: liveSlots returns to baseline, every handle dead', () => {
    const base = protectionReport().liveSlots;
    const scope = openScope();
    const keys: Key[] = [];
    for (let i = 0; i < 20; i++) keys.push(randomKey(16 + i, { scope }));
    keys.push(importKey(known(), { scope }));
    keys.push(hkdf(keys[0]!, { scope, length: 64 }));
    keys.push(x25519KeyPair({ scope }).privateKey);
    keys.push(hkdfExtract([keys[1]!, keys[2]!], { scope }));
    expect(scope.keyCount).toBe(keys.length);
    expect(protectionReport().liveSlots).toBe(base + keys.length);
    expect(scope.end()).toBe(keys.length);
    expect(scope.active).toBe(false);
    expect(protectionReport().liveSlots).toBe(base);
    for (const k of keys) {
      expect(k.alive).toBe(false);
      expect(() => hmacSign(k, 'x')).toThrow(ScopeEndedError);
    }
    expect(scope.end()).toBe(0); // idempotent
    expect(() => randomKey(32, { scope })).toThrow(ScopeEndedError);
  });

  it('withScope wipes its keys when fn settles, even on throw', async () => {
    const base = protectionReport().liveSlots;
    let leaked: Key | undefined;
    await expect(
      withScope(async () => {
        leaked = randomKey();
        await Promise.resolve();
        throw new Error('fail');
      }),
    ).rejects.toThrow('fail');
    expect(leaked!.alive).toBe(false);
    expect(protectionReport().liveSlots).toBe(base);
  });

  it('a key of a bound scope used from another scope\'s async context throws ScopeEndedError', async () => {
    let fromA: Key | undefined;
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => (release = r));
    const a = withScope(async () => {
      fromA = randomKey();
      await gate; // scope A stays open while B runs
      return hmacSign(fromA, 'x').length;
    });
    const b = withScope(async () => {
      await Promise.resolve();
      expect(fromA).toBeDefined();
      expect(() => hmacSign(fromA!, 'x')).toThrow(ScopeEndedError);
      expect(() => hkdf(fromA!)).toThrow(ScopeEndedError);
      return 'b';
    });
    expect(await b).toBe('b');
    // Outside any scope as well.
    expect(() => hmacSign(fromA!, 'x')).toThrow(ScopeEndedError);
    release();
    expect(await a).toBe(32); // inside its own context it still works
    expect(fromA!.alive).toBe(false);
  });

  it('scope.run binds a scope; its keys are refused in a nested other scope', () => {
    const a = openScope();
    const b = openScope();
    const k = a.run(() => randomKey());
    expect(k.scope).toBe(a);
    expect(a.run(() => hmacSign(k, 'x')).length).toBe(32);
    expect(() => b.run(() => hmacSign(k, 'x'))).toThrow(ScopeEndedError);
    expect(() => a.run(() => b.run(() => hmacSign(k, 'x')))).toThrow(ScopeEndedError);
    b.end();
    a.end();
  });
});

describe('hkdfExpandMany', () => {
  it('each key equals hkdfExpand of its info (sha256/sha512, one- and multi-block lengths); use and label kept', () => {
    const scope = openScope();
    for (const hash of ['sha256', 'sha512'] as const) {
      const prk = hkdfExtract(randomKey(64, { scope }), { hash, salt: 'salt', scope });
      for (const length of [16, 32, 100]) {
        const infos = ['a', Buffer.from('b'), undefined, new Uint8Array([1, 2, 3])];
        const many = hkdfExpandMany(prk, infos, { hash, length, scope, use: 'aead', label: 'batch' });
        expect(many).toHaveLength(4);
        many.forEach((k, i) => {
          expect([k.length, k.use, k.label, k.scope]).toEqual([length, 'aead', 'batch', scope]);
          const one = hkdfExpand(prk, { hash, info: infos[i], length, scope });
          expect(exposeUnsafe(k, (b) => Buffer.from(b).toString('hex')), `${hash} ${length} #${i}`).toBe(
            exposeUnsafe(one, (b) => Buffer.from(b).toString('hex')),
          );
        });
      }
    }
    scope.end();
  });

  it('bad input: typed errors, and no key is left behind', () => {
    const prk = randomKey(32);
    const before = protectionReport().liveSlots;
    const refusals: [string, () => unknown, RegExp][] = [
      ['empty', () => hkdfExpandMany(prk, []), /1 to 64 infos/],
      ['65 infos', () => hkdfExpandMany(prk, Array(65).fill('x')), /1 to 64 infos/],
      ['not an array', () => hkdfExpandMany(prk, 'abc' as never), /1 to 64 infos/],
      ['a bad info after good ones', () => hkdfExpandMany(prk, ['a', 'b', 42 as never]), /info must be/],
      ['too long for the hash', () => hkdfExpandMany(prk, ['a', 'b'], { length: 255 * 32 + 1 }), /HKDF/],
      ['unknown option', () => hkdfExpandMany(prk, ['a'], { info: 'x' } as never), /unknown option 'info'/],
      ['short PRK', () => hkdfExpandMany(randomKey(16, { scope: null }), ['a']), /pseudorandom key/],
    ];
    for (const [name, call, message] of refusals) {
      const thrown = caught(call);
      expect(thrown, name).toBeInstanceOf(InvalidArgumentError);
      expect((thrown as Error).message, name).toMatch(message);
    }
    // The short PRK of the last case is the only key those calls made.
    expect(protectionReport().liveSlots).toBe(before + 1);
    prk.release();
  });
});

describe('hkdfExpandMany on a nearly full arena (a second addon instance limited to one region)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'secret-scope-many-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('all or nothing: when the arena runs out part-way, no key of the batch is left and the others are intact', () => {
    const small = secondInstance(dir, 'secret_scope_many');
    small.configure({ require: 'any', regionPages: 4, maxRegions: 1 });
    const prk = small.keyRandom(32, 0);
    const held: number[] = [];
    // Fill the one region until fewer than 8 cells are free.
    for (;;) {
      const free = small.report().cellsTotal - small.report().liveSlots;
      if (free < 8) break;
      held.push(small.keyRandom(32, 0));
    }
    const live = small.report().liveSlots;
    const ids = new Float64Array(64);
    const infos = Array.from({ length: 20 }, (_, i) => Buffer.from(`info ${i}`));
    const thrown = caught(() => small.hkdfExpandMany(0, prk, infos, 32, 0, ids));
    expect((thrown as { code?: string }).code).toBe('ERR_ARENA_EXHAUSTED');
    expect(small.report().liveSlots).toBe(live);
    expect([...ids.subarray(0, 20)].every((v) => v === 0)).toBe(true);
    // A batch that fits still works, and every earlier key is intact.
    expect(small.hkdfExpandMany(0, prk, infos.slice(0, 3), 32, 0, ids)).toBe(3);
    expect(small.verify()).toBeTruthy();
    for (const id of [prk, ...held, ...ids.subarray(0, 3)]) small.keyRelease(id);
    expect(small.report().liveSlots).toBe(0);
  });
});

describe('HMAC tag lengths', () => {
  it('a truncated tag verifies only when tagLength asks for exactly its length; other lengths are invalid', () => {
    for (const [hash, hl] of [
      ['sha256', 32],
      ['sha512', 64],
    ] as const) {
      const key = importKey(known());
      const full = hmacSign(key, 'message', { hash });
      expect(full.length).toBe(hl);
      for (const n of [16, 17, hl - 1, hl]) {
        expect(hmacVerify(key, 'message', full.subarray(0, n), { hash, tagLength: n }), `${hash} ${n}`).toBe(true);
        // Without tagLength only the full tag verifies: every truncation of a valid tag is refused.
        expect(hmacVerify(key, 'message', full.subarray(0, n), { hash }), `${hash} ${n} untruncated`).toBe(n === hl);
        // A longer or shorter tag than asked for is invalid, even a prefix of the valid one.
        if (n > 16) expect(hmacVerify(key, 'message', full.subarray(0, n - 1), { hash, tagLength: n })).toBe(false);
        if (n < hl) expect(hmacVerify(key, 'message', full.subarray(0, n + 1), { hash, tagLength: n })).toBe(false);
        const bad = Buffer.from(full.subarray(0, n));
        bad[n - 1]! ^= 1;
        expect(hmacVerify(key, 'message', bad, { hash, tagLength: n })).toBe(false);
        expect(hmacSign(key, 'message', { hash, tagLength: n }).equals(full.subarray(0, n))).toBe(true);
      }
      for (const n of [0, 1, 8, 15, hl + 1, hl * 2]) {
        expect(hmacVerify(key, 'message', Buffer.alloc(n), { hash }), `${hash} verify ${n}`).toBe(false);
        expect(() => hmacVerify(key, 'message', full, { hash, tagLength: n }), `${hash} verify tagLength ${n}`).toThrow(InvalidArgumentError);
        expect(() => hmacSign(key, 'message', { hash, tagLength: n }), `${hash} sign ${n}`).toThrow(InvalidArgumentError);
      }
      expect(() => hmacVerify(key, 'message', full, { hash, tagLength: 16.5 })).toThrow(InvalidArgumentError);
      expect(() => hmacSign(key, 'message', { hash, tagLength: 16.5 })).toThrow(InvalidArgumentError);
      key.release();
    }
  });
});

describe('options and arguments', () => {
  it('unknown options are refused with InvalidArgumentError', () => {
    const key = randomKey();
    const x = { bogus: 1 } as never;
    const calls: Array<() => unknown> = [
      () => randomKey(32, x),
      () => importKey(Buffer.alloc(32, 1), x),
      () => decodeKey(Buffer.from('00'), { encoding: 'hex', bogus: 1 } as never),
      () => hkdf(key, x),
      () => hkdf(key, { hash: 'sha256', lenght: 32 } as never),
      () => hkdfExtract(key, x),
      () => hkdfExtract(key, { info: 'x' } as never),
      () => hkdfExpand(key, { salt: 'x' } as never),
      () => hmacSign(key, 'm', x),
      () => hmacVerify(key, 'm', Buffer.alloc(32), { tagLenght: 16 } as never),
      () => aeadSeal(key, Buffer.alloc(24), 'm', x),
      () => aeadOpen(key, Buffer.alloc(24), Buffer.alloc(16), x),
      () => x25519KeyPair(x),
      () => x25519SharedSecret(key, Buffer.alloc(32, 9), x),
      () => configureSecretMemory({ regionPage: 4 } as never),
      () => hkdf(key, 'sha256' as never),
      () => hmacSign(key, 'm', null as never),
    ];
    calls.forEach((c, i) => expect(caught(c), `call ${i}`).toBeInstanceOf(InvalidArgumentError));
    key.release();
  });

  it('bad algorithms, lengths and nonces have typed errors', () => {
    const key = randomKey();
    expect(() => hkdf(key, { hash: 'md5' as never })).toThrow(UnsupportedAlgorithmError);
    expect(() => aeadSeal(key, Buffer.alloc(24), 'm', { algorithm: 'rot13' as never })).toThrow(UnsupportedAlgorithmError);
    expect(() => hkdf(key, { length: 0 })).toThrow(InvalidArgumentError);
    expect(() => hkdf(key, { length: 255 * 32 + 1 })).toThrow(InvalidArgumentError);
    expect(() => hkdf(key, { length: 1.5 })).toThrow(InvalidArgumentError);
    expect(() => hkdf(key, { use: 'root' as never })).toThrow(/use must be one of/);
    expect(() => hkdfExpand(key, { use: 'signing' as never })).toThrow(InvalidArgumentError);
    const labelled = [hkdf(key), hkdf(key, { use: 'hmac' }), hkdfExpand(key, { use: 'aead' })];
    expect(labelled.map((k) => k.use)).toEqual(['hkdf', 'hmac', 'aead']);
    expect(String(labelled[1])).toBe('Key(hmac, 32 bytes)');
    for (const k of labelled) k.release();
    expect(() => randomKey(0)).toThrow(InvalidArgumentError);
    expect(() => randomKey(16321)).toThrow(InvalidArgumentError);
    expect(() => aeadSeal(key, Buffer.alloc(12), 'm')).toThrow(InvalidArgumentError);
    expect(() => aeadSeal(key, Buffer.alloc(24), 'm', { algorithm: 'chacha20-poly1305' })).toThrow(InvalidArgumentError);
    expect(() => aeadOpen(key, Buffer.alloc(24), Buffer.alloc(15))).toThrow(AuthenticationError);
    expect(() => open(key, Buffer.alloc(39))).toThrow(InvalidArgumentError);
    expect(() => aeadSeal(key, 'nonce' as never, 'm')).toThrow(InvalidArgumentError);
    expect(() => hmacSign(key, 42 as never)).toThrow(InvalidArgumentError);
    const { privateKey: xkey } = x25519KeyPair();
    expect(() => x25519SharedSecret(xkey, Buffer.alloc(31))).toThrow(InvalidArgumentError);
    xkey.release();
    // A 16-byte generic key is not an X25519 key (before key separation: a length error).
    expect(() => x25519PublicKey(randomKey(16))).toThrow(KeyUsageError);
    const short = randomKey(16);
    expect(() => hkdfExpand(short)).toThrow(InvalidArgumentError);
    expect(() => aeadSeal(short, Buffer.alloc(24), 'm')).toThrow(InvalidArgumentError);
    short.release();
    key.release();
  });

  it('detached buffers (transferred, or an ended lent view) get InvalidArgumentError, never a bare TypeError', () => {
    const detached = () => {
      const b = new Uint8Array(32);
      structuredClone(b.buffer, { transfer: [b.buffer] });
      expect(b.byteLength).toBe(0);
      return b;
    };
    const lentThenEnded = (() => {
      let v!: Uint8Array;
      exposeUnsafe(randomKey(), (bytes) => {
        v = bytes;
      });
      return v;
    })();
    const key = randomKey();
    const { privateKey } = x25519KeyPair();
    const cases: [string, () => unknown][] = [
      ['importKey', () => importKey(detached())],
      ['importKey (ended lent view)', () => importKey(lentThenEnded)],
      ['decodeKey', () => decodeKey(detached(), { encoding: 'hex' })],
      ['hmacSign message', () => hmacSign(key, detached())],
      ['hmacVerify tag', () => hmacVerify(key, 'm', detached())],
      ['hkdf salt', () => hkdf(key, { salt: detached() })],
      ['aeadSeal nonce', () => aeadSeal(key, detached(), 'm')],
      ['aeadSeal plaintext', () => aeadSeal(key, Buffer.alloc(24), detached())],
      ['aeadOpen ciphertext', () => aeadOpen(key, Buffer.alloc(24), detached())],
      ['open', () => open(key, detached())],
      ['seal aad', () => seal(key, 'm', { aad: detached() })],
      ['x25519SharedSecret', () => x25519SharedSecret(privateKey, detached())],
      ['hmacSign DataView', () => {
        const ab = new ArrayBuffer(8);
        const dv = new DataView(ab);
        structuredClone(ab, { transfer: [ab] });
        return hmacSign(key, dv as never);
      }],
      ['hmacSign ArrayBuffer', () => {
        const ab = new ArrayBuffer(8);
        structuredClone(ab, { transfer: [ab] });
        return hmacSign(key, ab as never);
      }],
    ];
    for (const [name, call] of cases) {
      const thrown = caught(call);
      expect(thrown, name).toBeInstanceOf(InvalidArgumentError);
      expect((thrown as Error).message, name).toMatch(/detached/);
    }
    // Nothing was lost: the key still works.
    expect(hmacVerify(key, 'm', hmacSign(key, 'm'))).toBe(true);
    key.release();
    privateKey.release();
  });

  it('seal/open round-trips for every algorithm and refuses tampering', () => {
    const key = randomKey();
    const key16 = randomKey(16);
    const algs: AeadAlgorithm[] = ['xchacha20-poly1305', 'chacha20-poly1305', 'aes-256-gcm', 'aes-128-gcm'];
    for (const algorithm of algs) {
      const k = algorithm === 'aes-128-gcm' ? key16 : key;
      const s = seal(k, 'hello', { algorithm, aad: 'ctx' });
      expect(open(k, s, { algorithm, aad: 'ctx' }).toString()).toBe('hello');
      expect(() => open(k, s, { algorithm, aad: 'other' })).toThrow(AuthenticationError);
      const t = Buffer.from(s);
      t[t.length - 1]! ^= 1;
      expect(() => open(k, t, { algorithm, aad: 'ctx' })).toThrow(AuthenticationError);
    }
    key.release();
    key16.release();
  });
});

describe('error messages never contain key bytes', () => {
  it('collects the messages of many failing calls and checks them for the key in hex/base64', async () => {
    const errors: unknown[] = [];
    const attempt = (fn: () => unknown) => {
      try {
        fn();
        errors.push(new Error('(call did not throw)'));
      } catch (e) {
        errors.push(e);
      }
    };
    const key = importKey(known(), { label: 'known' });
    const key16 = importKey(known().subarray(0, 16));
    attempt(() => hmacVerify(key, 'm', Buffer.alloc(8), { tagLength: 8 }));
    attempt(() => hmacSign(key, 'm', { tagLength: 99 }));
    attempt(() => aeadOpen(key, Buffer.alloc(24), Buffer.alloc(40)));
    attempt(() => aeadOpen(key, Buffer.alloc(12), Buffer.alloc(40), { algorithm: 'chacha20-poly1305' }));
    attempt(() => aeadSeal(key, Buffer.alloc(7), 'm'));
    attempt(() => aeadSeal(key16, Buffer.alloc(24), 'm'));
    attempt(() => aeadSeal(key, Buffer.alloc(12), 'm', { algorithm: 'aes-128-gcm' }));
    attempt(() => aeadOpen(key16, Buffer.alloc(12), Buffer.alloc(40), { algorithm: 'aes-128-gcm' }));
    attempt(() => hkdfExpand(key16));
    attempt(() => hkdf(key, { length: 100000 }));
    attempt(() => hkdf(key, { hash: 'sha1' as never }));
    const xkey = importPrivateKey(known(), { use: 'x25519' });
    attempt(() => x25519SharedSecret(key, KNOWN)); // a 'secret' key: KeyUsageError
    attempt(() => x25519SharedSecret(xkey, Buffer.alloc(32))); // low-order point
    attempt(() => x25519SharedSecret(xkey, KNOWN)); // the key as a peer public key: fine, release the result
    attempt(() => x25519PublicKey(key16));
    attempt(() => hmacSign(key, 'm', { bogus: KNOWN.toString('hex') } as never));
    // The key's own text, malformed: the message must not echo the input.
    attempt(() => decodeKey(Buffer.from(KNOWN.toString('hex') + 'z'), { encoding: 'hex' }));
    attempt(() => decodeKey(Buffer.from(KNOWN.toString('hex').slice(0, 62) + 'zz'), { encoding: 'hex' }));
    attempt(() => decodeKey(Buffer.from(KNOWN.toString('base64') + '!'), { encoding: 'base64' }));
    attempt(() => decodeKey(Buffer.from(KNOWN.toString('base64url') + '*'), { encoding: 'base64url' }));
    attempt(() => decodeKey(Buffer.from(KNOWN.toString('base64').slice(0, -1)), { encoding: 'base64' }));
    exposeUnsafe(key16, () => attempt(() => hmacSign(key16, 'm')));
    attempt(() => hmacSign(key16, 'm')); // released
    attempt(() => key16.release());
    await withScope(async () => {
      const scoped = importKey(known());
      await withScope(async () => attempt(() => hmacSign(scoped, 'm')));
    });
    // Canary violation, last: it wipes every key.
    const victim = importKey(known());
    testing.corruptAt(victim, victim.length);
    attempt(() => verifyGuards());
    attempt(() => hmacSign(key, 'm'));

    expect(errors.length).toBeGreaterThan(20);
    // The x25519 call with KNOWN as peer succeeds; every other one must have thrown a SecretScopeError.
    const notOurs = errors.filter((e) => !(e instanceof SecretScopeError));
    expect(notOurs.map(String)).toEqual(['Error: (call did not throw)']);

    const needles = [
      KNOWN.toString('hex'),
      KNOWN.toString('hex').toUpperCase(),
      KNOWN.toString('base64'),
      KNOWN.toString('base64url'),
      KNOWN.toString('latin1'),
      KNOWN.subarray(0, 16).toString('base64'),
    ];
    // Also any 6-byte window of the key in hex (no truncated forms either).
    for (let i = 0; i + 6 <= KNOWN.length; i++) needles.push(KNOWN.subarray(i, i + 6).toString('hex'));
    const haystacks = errors.flatMap((e) => [String(e), (e as Error).stack ?? '', inspect(e), JSON.stringify(e)]);
    haystacks.push(String(key), inspect(key), JSON.stringify(key), inspect({ key }));
    for (const h of haystacks) {
      const lower = h.toLowerCase();
      for (const n of needles) expect(lower.includes(n.toLowerCase()), `found key bytes in: ${h.slice(0, 200)}`).toBe(false);
    }
  });
});

describe('canaries (last: they wipe the arena)', () => {
  it('verifyGuards() detects a corrupted trailing canary; every other key is dead afterwards', () => {
    const others = [randomKey(), randomKey(64), importKey(known())];
    const scope = openScope();
    const scoped = randomKey(32, { scope });
    const victim = randomKey();
    expect(verifyGuards()).toBeGreaterThanOrEqual(5);
    testing.corruptAt(victim, victim.length);
    expect(() => verifyGuards()).toThrow(CanaryViolationError);
    for (const k of [...others, victim]) {
      expect(k.alive).toBe(false);
      expect(() => hmacSign(k, 'x')).toThrow(KeyReleasedError);
    }
    expect(scoped.alive).toBe(false);
    expect(protectionReport().liveSlots).toBe(0);
    expect(protectionReport().liveScopes).toBe(0);
    // The arena is usable again with fresh canaries.
    const fresh = randomKey();
    expect(verifyGuards()).toBe(1);
    fresh.release();
  });

  it('release() of a key with a corrupted canary throws CanaryViolationError and kills every other key', () => {
    const others = [randomKey(), randomKey(100)];
    const victim = randomKey(48);
    testing.corruptAt(victim, victim.length);
    expect(() => victim.release()).toThrow(CanaryViolationError);
    for (const k of [...others, victim]) expect(k.alive).toBe(false);
    expect(protectionReport().liveSlots).toBe(0);
    expect(verifyGuards()).toBe(0);
  });

  it('ending a scope with a corrupted key throws CanaryViolationError', () => {
    const outside = randomKey();
    const scope = openScope();
    const victim = randomKey(32, { scope });
    testing.corruptAt(victim, victim.length);
    expect(() => scope.end()).toThrow(CanaryViolationError);
    expect(outside.alive).toBe(false);
    expect(protectionReport().liveSlots).toBe(0);
  });
});
