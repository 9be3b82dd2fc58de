// Where secret-scope's time goes: each step of the invocation alone, through
// the public API, through the raw N-API surface, and (from bench/floor.c
// "parts", the SHA-NI build) the C compute of that step with the primitives the addon calls. API - raw = the JS layer
// (option checks, Key/Scope objects, AsyncLocalStorage); raw - C = N-API call,
// argument checks, slot bookkeeping, canaries, burnStack, result Buffer.
import { execFileSync } from 'node:child_process';
import { createCipheriv } from 'node:crypto';
import { runRounds, syncSampler } from './harness.mjs';
import { INFO, MSG, NONCE24, SALT } from './inputs.mjs';

export async function runBreakdown({ lib, raw, floorExe, smoke }) {
  const { openScope, importKey, hkdfExtract, hkdfExpand, hmacSign, aeadSeal } = lib;
  const inbox = Buffer.alloc(64);
  // Long-lived inputs for the per-step measurements (released at the end).
  const apiScope = openScope();
  const apiIkm = importKey(Buffer.alloc(64, 7), { scope: apiScope });
  const apiPrk = hkdfExtract(apiIkm, { salt: SALT, scope: apiScope });
  const apiKey = hkdfExpand(apiPrk, { info: INFO[0], scope: apiScope, use: 'secret' });
  const rs = raw.scopeOpen();
  const rIkm = raw.keyImport(Buffer.alloc(64, 7), rs);
  const rPrk = raw.hkdfExtract(0, rIkm, SALT, rs);
  const rKey = raw.hkdfExpand(0, rPrk, INFO[0], 32, rs, 0);
  const boundScope = openScope();
  const NONCE12 = NONCE24.subarray(0, 12);
  const nodeAesKey = Buffer.alloc(32, 9);
  const nodeGcmSeal = () => {
    const c = createCipheriv('aes-256-gcm', nodeAesKey, NONCE12);
    return Buffer.concat([c.update(MSG), c.final(), c.getAuthTag()]);
  };

  const steps = [
    // [id, name, fn]
    ['napiNoop', 'N-API round trip (scopeAlive(0), no work)', () => raw.scopeAlive(0)],
    ['rawScope', 'raw scopeOpen + scopeClose', () => raw.scopeClose(raw.scopeOpen())],
    ['apiScope', 'API openScope() + end()', () => openScope().end()],
    ['rawImport', 'raw keyImport(64 B) + keyRelease', () => raw.keyRelease(raw.keyImport(inbox, 0))],
    ['apiImport', 'API importKey(64 B) + release()', () => importKey(inbox, { scope: null }).release()],
    ['rawExtract', 'raw hkdfExtract + keyRelease', () => raw.keyRelease(raw.hkdfExtract(0, rIkm, SALT, 0))],
    ['apiExtract', 'API hkdfExtract + release()', () => hkdfExtract(apiIkm, { salt: SALT, scope: null }).release()],
    ['rawExpand', 'raw hkdfExpand(32 B) + keyRelease', () => raw.keyRelease(raw.hkdfExpand(0, rPrk, INFO[0], 32, 0))],
    ['apiExpand', 'API hkdfExpand(32 B) + release()', () => hkdfExpand(apiPrk, { info: INFO[0], length: 32, scope: null }).release()],
    ['rawHmac', 'raw hmacSign(1 KiB)', () => raw.hmacSign(0, rKey, MSG, undefined, Buffer.allocUnsafe(32))],
    ['apiHmac', 'API hmacSign(1 KiB)', () => hmacSign(apiKey, MSG)],
    ['rawSeal', 'raw aeadSeal(XChaCha, 1 KiB)', () => raw.aeadSeal(0, rKey, NONCE24, MSG, undefined, Buffer.allocUnsafe(MSG.length + 16))],
    ['apiSeal', 'API aeadSeal(XChaCha, 1 KiB)', () => aeadSeal(apiKey, NONCE24, MSG)],
    ['rawSealGcm', 'raw aeadSeal(AES-256-GCM, 1 KiB)', () => raw.aeadSeal(2, rKey, NONCE12, MSG, undefined, Buffer.allocUnsafe(MSG.length + 16))],
    ['apiSealGcm', 'API aeadSeal(AES-256-GCM, 1 KiB)', () => aeadSeal(apiKey, NONCE12, MSG, { algorithm: 'aes-256-gcm' })],
    ['nodeSealGcm', 'node:crypto AES-256-GCM seal 1 KiB (unprotected)', nodeGcmSeal],
    ['alsRun', 'scope.run(() => 0) (AsyncLocalStorage)', () => boundScope.run(() => 0)],
    ['bufAlloc', 'Buffer.allocUnsafe(1040) (JS-side, for scale)', () => Buffer.allocUnsafe(1040)],
  ];
  const contenders = steps.map(([id, name, once]) => syncSampler({ id, name, once }));
  const results = await runRounds(contenders, smoke ? { rounds: 3, sampleMs: 1, warmMs: 5 } : { rounds: 21, sampleMs: 4, warmMs: 50 });

  apiScope.end();
  boundScope.end();
  raw.scopeClose(rs);

  let c = null;
  if (floorExe) {
    c = {};
    const out = execFileSync(floorExe, ['parts', ...(smoke ? ['5', '2000'] : ['31', '20000'])], { encoding: 'utf8' });
    for (const m of out.matchAll(/^(\w+) ([\d.]+)$/gm)) c[m[1]] = Number(m[2]);
  }
  const row = (label, apiId, rawId, cKey) => ({
    step: label,
    apiNs: apiId ? results[apiId].medianNs : null,
    rawNs: results[rawId].medianNs,
    cNs: c && cKey ? c[cKey] : null,
  });
  const table = [
    row('scope open + end', 'apiScope', 'rawScope', null),
    row('import 64 B entropy', 'apiImport', 'rawImport', null),
    row('HKDF-Extract', 'apiExtract', 'rawExtract', 'extract'),
    row('HKDF-Expand 32 B', 'apiExpand', 'rawExpand', 'expand'),
    row('HMAC-SHA256 1 KiB', 'apiHmac', 'rawHmac', 'hmac1k'),
    row('XChaCha20-Poly1305 seal 1 KiB', 'apiSeal', 'rawSeal', 'seal1k'),
    row('AES-256-GCM seal 1 KiB', 'apiSealGcm', 'rawSealGcm', null),
  ];
  const aesGcm = {
    implementation: raw.report().aesGcm?.implementation ?? null,
    apiNs: results.apiSealGcm.medianNs,
    nodeCryptoNs: results.nodeSealGcm.medianNs,
  };
  return { steps: results, floorParts: c, table, aesGcm };
}
