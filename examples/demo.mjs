// npm start: runs the examples through the wrapper and through middy against the
// embedded local KMS-compatible endpoint, and prints results, the protection
// report and per-scope timings.
import { randomBytes, createPublicKey, verify as nodeVerify } from 'node:crypto';
import { CipherSuite, DhkemX25519HkdfSha256, HkdfSha256 } from '@hpke/core';
import { Chacha20Poly1305 } from '@hpke/chacha20poly1305';
import { startKmsLocal } from 'secret-scope/kms-local';

const kms = await startKmsLocal();
process.env.AWS_ENDPOINT_URL_KMS = kms.url;
process.env.AWS_REGION ??= 'us-east-1';
process.env.AWS_ACCESS_KEY_ID = 'AKIDSECRETSCOPEDEMO';
process.env.AWS_SECRET_ACCESS_KEY = 'secret-scope-demo-not-a-secret';
// The root key of the envelope example, encrypted under the endpoint's default key.
process.env.ROOT_KEY_BLOB = kms
  .encryptForTest('alias/secret-scope-local', randomBytes(32), { purpose: 'secret-scope-demo' })
  .toString('base64');

const lib = await import('secret-scope');
const { protectionReport, currentScope } = lib;

const timings = [];
function lambdaContext(name) {
  const deadline = Date.now() + 10_000;
  return { awsRequestId: `${name}-${timings.length}`, getRemainingTimeInMillis: () => deadline - Date.now() };
}
async function run(label, handler, event) {
  const ctx = lambdaContext(label);
  const t0 = performance.now();
  const result = await handler(event, ctx);
  const total = performance.now() - t0;
  const scope = ctx.secretScope;
  timings.push({ example: label, totalMs: total, entropyReadyMs: scope?.timings.entropyReadyMs, scopeMs: scope?.timings.endedAfterMs, wipedKeys: scope?.wipedKeys, scopeActiveAfter: scope?.active });
  return result;
}
const show = (title, value) => console.log(`\n# ${title}\n${JSON.stringify(value, null, 2)}`);

const token = await import('./handlers/token-plain.mjs');
show('HMAC-signed token (plain handler, withSecretScope)', await run('token', token.handler, { user: 'alice' }));

const session = await import('./handlers/session-middy.mjs');
show('sealed record (secretScopeMiddy(middy(handler)))', await run('session-middy', session.handler, { record: { order: 1234 } }));

const envelope = await import('./handlers/envelope.mjs');
const sealedForAcme = await run('envelope', envelope.handler, { tenantId: 'acme', record: { invoice: 7, total: 99.5 } });
show('envelope encryption: per-tenant key from a KMS-decrypted root', sealedForAcme);
show('envelope encryption: opened in a later invocation', await run('envelope-open', envelope.handler, { tenantId: 'acme', sealed: sealedForAcme.sealed }));

const fs = await import('./handlers/forward-secret.mjs');
// The client's side, with an independent HPKE implementation (@hpke/core): its own
// X25519 key pair; it opens the handler's messages in order and the single-shot one.
const hpke = new CipherSuite({ kem: new DhkemX25519HkdfSha256(), kdf: new HkdfSha256(), aead: new Chacha20Poly1305() });
const client = await hpke.kem.generateKeyPair();
const clientPublicKey = Buffer.from(await hpke.kem.serializePublicKey(client.publicKey)).toString('base64');
const requestId = Buffer.from('request-1');
const response = await run('forward-secret', fs.handler, { clientPublicKey, requestId: requestId.toString() });
const recipient = await hpke.createRecipientContext({ recipientKey: client, enc: Buffer.from(response.enc, 'base64'), info: Buffer.from(fs.info) });
const opened = [];
for (const [i, c] of response.ciphertexts.entries()) {
  opened.push(JSON.parse(Buffer.from(await recipient.open(Buffer.from(c, 'base64'), i === 0 ? requestId : undefined)).toString()));
}
const single = await run('forward-secret-single', fs.handler, { clientPublicKey, requestId: requestId.toString(), oneShot: true });
const singleOpened = Buffer.from(await hpke.open({ recipientKey: client, enc: Buffer.from(single.enc, 'base64'), info: Buffer.from(fs.info) }, Buffer.from(single.ciphertext, 'base64'), requestId)).toString();
show('forward-secret response (HPKE X25519 + HKDF-SHA256 + ChaCha20-Poly1305), opened by the client with @hpke/core', { ...response, clientOpened: opened, singleShotOpened: JSON.parse(singleOpened) });

const seed = await import('./handlers/seed-p384-jwt.mjs');
const signed = await run('seed-p384-jwt', seed.handler, { user: 'alice' });
const [h, p, s] = signed.jwt.split('.');
const es384Valid = nodeVerify('sha384', Buffer.from(`${h}.${p}`), { key: createPublicKey({ key: signed.publicJwk, format: 'jwk' }), dsaEncoding: 'ieee-p1363' }, Buffer.from(s, 'base64url'));
show("the seed's program: 64 KMS bytes -> HKDF-SHA512(salt, GUID) -> P-384 key -> ES384 JWT (verified by node:crypto)", { ...signed, header: JSON.parse(Buffer.from(h, 'base64url')), payload: JSON.parse(Buffer.from(p, 'base64url')), es384Valid });

// Concurrency: 64 invocations at once, each with its own scope.
const t0 = performance.now();
const many = await Promise.all(Array.from({ length: 64 }, (_, i) => token.handler({ user: `u${i}` }, lambdaContext('concurrent'))));
show('64 concurrent invocations', { distinctTokens: new Set(many.map((r) => r.token)).size, allValid: many.every((r) => r.valid && !r.forgedAccepted), wallMs: +(performance.now() - t0).toFixed(2) });

const report = protectionReport();
show('protection report', report);
console.log('\n# per-scope timings (ms)');
console.table(timings.map((t) => ({ ...t, totalMs: +t.totalMs.toFixed(3), entropyReadyMs: t.entropyReadyMs && +t.entropyReadyMs.toFixed(3), scopeMs: t.scopeMs && +t.scopeMs.toFixed(3) })));
console.log(`KMS endpoint: ${JSON.stringify(kms.stats)}`);
console.log(`after all scopes: ${report.liveScopes} live scopes; ${report.liveSlots} container-lived key (the sealed root key of the envelope example); current scope: ${currentScope()?.name ?? 'none'}`);
await kms.close();
