/**
 * Both SHA-2 engines give the same HMAC and HKDF as node:crypto: the host's
 * OpenSSL (the default where the node binary exports it) in this worker, and
 * libsodium's, forced in a second addon instance loaded from a copy of the
 * addon (configure() is once per instance).
 */
import { copyFileSync, mkdtempSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHmac, hkdfSync, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { configureSecretMemory, exposeUnsafe, hkdf, hmacSign, hmacVerify, importKey, protectionReport } from '../src/index.js';

const require = createRequire(import.meta.url);

function cases(n: number) {
  return Array.from({ length: n }, (_, i) => ({
    key: randomBytes(1 + ((i * 37) % 200)), // short, block-sized and longer-than-block keys
    msg: randomBytes((i * 101) % 3000),
    salt: i % 3 === 0 ? Buffer.alloc(0) : randomBytes((i * 13) % 150),
    info: randomBytes((i * 7) % 100),
    length: 1 + ((i * 53) % 700),
    hash: i % 2 === 0 ? ('sha256' as const) : ('sha512' as const),
  }));
}

describe('SHA-2 engines', () => {
  it('the default engine is the host OpenSSL here and matches node:crypto', () => {
    configureSecretMemory({ require: 'any' });
    expect(protectionReport().sha2).toBe('openssl (host)');
    for (const c of cases(300)) {
      const key = importKey(Buffer.from(c.key));
      const tag = hmacSign(key, c.msg, { hash: c.hash });
      expect(tag.equals(createHmac(c.hash, c.key).update(c.msg).digest())).toBe(true);
      expect(hmacVerify(key, c.msg, tag, { hash: c.hash })).toBe(true);
      const okm = hkdf(key, { hash: c.hash, salt: c.salt, info: c.info, length: c.length });
      const want = Buffer.from(hkdfSync(c.hash, c.key, c.salt, c.info, c.length));
      expect(exposeUnsafe(okm, (v) => Buffer.compare(Buffer.from(v), want))).toBe(0);
      key.release();
    }
  });

  it("sha2: 'libsodium' forces libsodium's SHA-2, with the same results", () => {
    const dir = mkdtempSync(join(tmpdir(), 'ss-sha2-'));
    const copy = join(dir, 'secret_scope.node');
    copyFileSync(join(__dirname, '..', 'build', 'Release', 'secret_scope.node'), copy);
    const n = require(copy);
    expect(n.configure({ require: 'any', sha2: 'libsodium' }).sha2).toBe('libsodium');
    for (const c of cases(300)) {
      const h = c.hash === 'sha256' ? 0 : 1;
      const key = n.keyImport(Buffer.from(c.key), 0);
      const tag: Buffer = n.hmacSign(h, key, c.msg);
      expect(tag.equals(createHmac(c.hash, c.key).update(c.msg).digest())).toBe(true);
      const okm = n.hkdf(h, key, c.salt, c.info, c.length, 0);
      const want = Buffer.from(hkdfSync(c.hash, c.key, c.salt, c.info, c.length));
      const view = new Uint8Array(n.exposeBegin(okm));
      expect(Buffer.compare(Buffer.from(view), want)).toBe(0);
      n.exposeEnd(okm);
      n.keyRelease(key);
    }
  });
});
