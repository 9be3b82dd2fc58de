// npm start: runs the examples through the wrapper and through middy against the
// embedded local KMS-compatible endpoint, and prints results, the protection
// report and per-scope timings.
import { randomBytes, createPrivateKey, createPublicKey, diffieHellman, generateKeyPairSync, hkdfSync, createDecipheriv } from 'node:crypto';
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
const client = generateKeyPairSync('x25519');
const clientPublic = client.publicKey.export({ format: 'der', type: 'spki' }).subarray(-32);
const response = await run('forward-secret', fs.handler, { clientPublicKey: clientPublic.toString('base64') });
// The client's side, with plain node:crypto.
const serverPublic = Buffer.from(response.serverPublicKey, 'base64');
const serverKey = createPublicKey({ key: Buffer.concat([Buffer.from('302a300506032b656e032100', 'hex'), serverPublic]), format: 'der', type: 'spki' });
const shared = diffieHellman({ privateKey: client.privateKey, publicKey: serverKey });
const key = Buffer.from(hkdfSync('sha256', shared, Buffer.concat([serverPublic, clientPublic]), 'secret-scope-demo/response', 32));
const ct = Buffer.from(response.ciphertext, 'base64');
const d = createDecipheriv('chacha20-poly1305', key, Buffer.from(response.nonce, 'base64'), { authTagLength: 16 });
d.setAuthTag(ct.subarray(ct.length - 16));
const plaintext = Buffer.concat([d.update(ct.subarray(0, ct.length - 16)), d.final()]).toString();
show('forward-secret response (X25519 + HKDF + ChaCha20-Poly1305), opened by the client', { ...response, clientOpened: JSON.parse(plaintext) });

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
