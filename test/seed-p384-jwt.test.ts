/**
 * The seed's program (issue 10, item 5), examples/handlers/seed-p384-jwt.mjs, run
 * against the local KMS endpoint: it asks KMS for 64 bytes, returns an ES384 JWT that
 * node:crypto and `jose` verify with the returned public JWK, and its scope has ended
 * (every key wiped) when the response comes back. Its derivation is recomputed
 * independently: HKDF-SHA512(salt, IKM, GUID) with node:crypto, then FIPS 186-5 A.2.1
 * with BigInt, gives the public key the handler's key signs for.
 */
import { execFileSync } from 'node:child_process';
import { createECDH, createPublicKey, hkdfSync, randomBytes, randomUUID, verify as nodeVerify } from 'node:crypto';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import * as jose from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startKms, useKmsEnv, calls, type KmsLocal } from './helpers/kms.js';

const ROOT = resolve(__dirname, '..');
const DIST = join(ROOT, 'dist', 'index.js');
const N384 = 0xffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973n;

function newest(dir: string): number {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return t;
}

// The example imports 'secret-scope' (the package itself: dist/), as a user's handler does.
type Example = {
  handler: (event: unknown, context: Record<string, any>) => Promise<{ jwt: string; publicJwk: jose.JWK; guid: string }>;
  signSeedJwt: (key: unknown, guid: string, user: string) => Promise<{ jwt: string; publicJwk: jose.JWK }>;
  SALT: string;
};
let kms: KmsLocal;
let restore: () => void;
let example: Example;
let lib: Record<string, any>;
beforeAll(async () => {
  if (!existsSync(DIST) || statSync(DIST).mtimeMs < newest(join(ROOT, 'src'))) execFileSync('npx', ['tsup'], { cwd: ROOT, stdio: 'ignore' });
  kms = await startKms();
  restore = useKmsEnv(kms);
  example = await import(join(ROOT, 'examples', 'handlers', 'seed-p384-jwt.mjs'));
  lib = await import('secret-scope');
}, 180_000);
afterAll(async () => {
  restore?.();
  await kms?.close();
});

function es384Valid(jwt: string, jwk: jose.JWK): boolean {
  const [h, p, s] = jwt.split('.');
  const key = createPublicKey({ key: jwk as any, format: 'jwk' });
  return nodeVerify('sha384', Buffer.from(`${h}.${p}`), { key, dsaEncoding: 'ieee-p1363' }, Buffer.from(s!, 'base64url'));
}

describe("the seed's program", () => {
  it('64 bytes of KMS entropy in, an ES384 JWT out that node:crypto and jose verify; the scope is wiped before return', async () => {
    const before = calls(kms, 'GenerateRandom');
    kms.clearIssued();
    const context: Record<string, any> = { awsRequestId: 'seed-1', getRemainingTimeInMillis: () => 10_000 };
    const guid = randomUUID();
    const out = await example.handler({ user: 'alice', guid }, context);
    expect(calls(kms, 'GenerateRandom')).toBe(before + 1);
    expect(kms.issued.filter((i) => i.operation === 'GenerateRandom').map((i) => i.plaintext.length)).toEqual([64]);

    expect(out.publicJwk).toMatchObject({ kty: 'EC', crv: 'P-384' });
    expect(out.publicJwk).not.toHaveProperty('d');
    expect(es384Valid(out.jwt, out.publicJwk)).toBe(true);
    const { payload, protectedHeader } = await jose.jwtVerify(out.jwt, await jose.importJWK(out.publicJwk, 'ES384'), { issuer: 'secret-scope/seed' });
    expect(protectedHeader).toEqual({ alg: 'ES384', typ: 'JWT' });
    expect(payload).toMatchObject({ sub: 'alice', guid });
    // The response left after the scope ended: the PRK and the P-384 key are wiped.
    expect(context.secretScope.active).toBe(false);
    expect(context.secretScope.wipedKeys).toBeGreaterThanOrEqual(2);
    // A second invocation: fresh entropy, a different key.
    const again = await example.handler({ user: 'alice', guid }, { awsRequestId: 'seed-2', getRemainingTimeInMillis: () => 10_000 });
    expect(again.publicJwk.x).not.toBe(out.publicJwk.x);
  });

  it('its derivation equals HKDF-SHA512(salt, IKM, GUID) + FIPS 186-5 A.2.1 recomputed with node:crypto', async () => {
    for (let i = 0; i < 4; i++) {
      const ikm = randomBytes(64);
      const guid = randomUUID();
      const key = lib.importKey(Buffer.from(ikm));
      const out = await example.signSeedJwt(key, guid, 'bob');
      key.release();
      const c = Buffer.from(hkdfSync('sha512', ikm, example.SALT, guid, 56));
      const d = (BigInt(`0x${c.toString('hex')}`) % (N384 - 1n)) + 1n;
      const ecdh = createECDH('secp384r1');
      ecdh.setPrivateKey(Buffer.from(d.toString(16).padStart(96, '0'), 'hex'));
      const pub = ecdh.getPublicKey();
      expect(out.publicJwk.x).toBe(pub.subarray(1, 49).toString('base64url'));
      expect(out.publicJwk.y).toBe(pub.subarray(49).toString('base64url'));
      expect(es384Valid(out.jwt, out.publicJwk)).toBe(true);
    }
  });
});
