import { describe, expect, it } from 'vitest';
import { hkdf, hmacSign, importKey, protectionReport, randomKey, withScope, seal, open, KeyReleasedError, ScopeEndedError } from '../src/index.js';

describe('smoke', () => {
  it('derives RFC 5869 test case 1 and wipes the scope', async () => {
    let leaked: ReturnType<typeof randomKey> | undefined;
    const tag = await withScope(() => {
      const ikm = importKey(Buffer.from('0b'.repeat(22), 'hex'));
      const okm = hkdf(ikm, { salt: Buffer.from('000102030405060708090a0b0c', 'hex'), info: Buffer.from('f0f1f2f3f4f5f6f7f8f9', 'hex'), length: 42, use: 'hmac' });
      leaked = okm;
      const k = randomKey();
      expect(open(k, seal(k, 'hi')).toString()).toBe('hi');
      return hmacSign(okm, 'x');
    });
    expect(tag.length).toBe(32);
    expect(() => hmacSign(leaked!, 'x')).toThrow(ScopeEndedError);
    expect(protectionReport().liveSlots).toBe(0);
    expect(KeyReleasedError).toBeDefined();
  });
});

describe('purge', () => {
  it('after purgeAllSecrets() every open scope reports itself ended and its keys are dead', async () => {
    const { openScope, randomKey: rk, purgeAllSecrets, KeyReleasedError: KR } = await import('../src/index.js');
    const scope = openScope();
    const k = rk(32, { scope });
    expect(scope.active).toBe(true);
    purgeAllSecrets();
    expect(scope.active).toBe(false);
    expect(k.alive).toBe(false);
    expect(() => hmacSign(k, 'x')).toThrow(ScopeEndedError);
    expect(scope.end()).toBe(0);
    expect(KR).toBeDefined();
  });
});
