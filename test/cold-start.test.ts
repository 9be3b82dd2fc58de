/**
 * What loads when, for cold start (issue 11, goal 3). The figures are in the bench
 * (`npm run bench -- --only=coldstart`); these tests pin the behaviour behind them, in
 * fresh child processes against the built package (through its `exports`):
 *  - the main entry loads neither the local KMS endpoint, the auditor nor the CLI, and
 *    no undici (an ES module namespace over node:http loaded it on Node 22);
 *  - wrapping a handler that will need KMS starts importing @aws-sdk/client-kms then,
 *    not at the first invocation; a handler on local entropy never imports it;
 *  - an SDK that fails to load is still reported by the first invocation, with the
 *    typed error (ERR_KMS_SDK_MISSING here), not at wrap time and not as an unhandled rejection;
 *  - the addon is found without node-gyp-build, and it is the file node-gyp-build would pick;
 *  - the middy middleware alone (scopes that never call AsyncLocalStorage.run) binds
 *    each invocation's handler to its own scope, never the invoking frame.
 */
import { execFileSync } from 'node:child_process';
import { realpathSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanupTempDirs } from './helpers/restricted.js';
import { ensureDist, makeApp } from './helpers/package-app.js';

const LOADED = `
const loaded = () => ({
  files: Object.keys(require.cache).filter((p) => p.includes('/dist/')).map((p) => p.slice(p.lastIndexOf('/') + 1)),
  sdk: Object.keys(require.cache).some((p) => p.includes('@aws-sdk/client-kms')),
  undici: process.moduleLoadList.some((m) => m.includes('undici')),
});
`;

const CJS_MAIN = `${LOADED}
const lib = require('secret-scope');
const out = { afterRequire: loaded() };
const handler = lib.withSecretScope(async (event, context) => lib.hmacSign(await context.secretScope.key('k'), 'm').length,
  { keys: { k: { use: 'hmac' } }, entropy: { source: 'local' } });
handler({}, { awsRequestId: 'r1', getRemainingTimeInMillis: () => 10000 }).then((tag) => {
  out.tag = tag;
  out.afterInvocation = loaded();
  // The addon file it loaded without node-gyp-build is the one node-gyp-build picks.
  out.addon = Object.keys(require.cache).filter((p) => p.endsWith('.node'));
  out.nodeGypBuildLoaded = Object.keys(require.cache).some((p) => p.includes('node-gyp-build'));
  const pkg = require.resolve('secret-scope/package.json');
  out.nodeGypBuildPick = require('node:module').createRequire(pkg)('node-gyp-build').path(require('node:path').dirname(pkg));
  console.log(JSON.stringify(out));
});
`;

const ESM_SDK_AT_WRAP = `
import { createRequire } from 'node:module';
import { withSecretScope } from 'secret-scope';
const require = createRequire(import.meta.url);
const sdkLoaded = () => Object.keys(require.cache).some((p) => p.includes('@aws-sdk/client-kms'));
const out = { beforeWrap: sdkLoaded() };
withSecretScope(async () => 1, { keys: { k: { use: 'hmac' } }, entropy: { source: 'local' } });
for (let i = 0; i < 20; i++) await new Promise(setImmediate);
out.afterLocalWrap = sdkLoaded();
withSecretScope(async () => 1, { keys: { k: { use: 'hmac' } } });
for (let i = 0; i < 20 && !sdkLoaded(); i++) await new Promise((r) => setTimeout(r, 10));
out.afterKmsWrap = sdkLoaded();
console.log(JSON.stringify(out));
`;

// A resolve hook makes @aws-sdk/client-kms missing: the wrap-time import fails, silently; the first invocation reports it.
const ESM_SDK_MISSING = `
import { register } from 'node:module';
register('data:text/javascript,' + encodeURIComponent(\`export async function resolve(specifier, context, next) {
  if (specifier === '@aws-sdk/client-kms') {
    const e = new Error("Cannot find package '@aws-sdk/client-kms' (hidden by the test)");
    e.code = 'ERR_MODULE_NOT_FOUND';
    throw e;
  }
  return next(specifier, context);
}\`));
const { withSecretScope } = await import('secret-scope');
const out = { unhandled: [] };
process.on('unhandledRejection', (e) => out.unhandled.push(String(e)));
const handler = withSecretScope(async (event, context) => (await context.secretScope.key('k')).length, { keys: { k: { use: 'hmac' } } });
out.wrapped = true;
for (let i = 0; i < 10; i++) await new Promise((r) => setTimeout(r, 5));
try {
  await handler({}, { awsRequestId: 'r1', getRemainingTimeInMillis: () => 10000 });
  out.invocation = 'ok';
} catch (e) {
  out.invocation = { name: e.name, code: e.code };
}
console.log(JSON.stringify(out));
`;

// Nothing but the middleware opens scopes: no AsyncLocalStorage.run() before middy's continuations.
const MIDDY_ONLY = `
import middy from '@middy/core';
import { currentScope } from 'secret-scope';
import { secretScopeMiddleware } from 'secret-scope/middy';
const out = [];
const handler = middy(async (event, context) => {
  const own = currentScope() === context.secretScope;
  await context.secretScope.key('k');
  return own;
}).use(secretScopeMiddleware({ keys: { k: { use: 'hmac' } }, entropy: { source: 'local' } }));
for (let i = 0; i < 3; i++) {
  const own = await handler({}, { awsRequestId: 'r' + i, getRemainingTimeInMillis: () => 10000 });
  out.push({ own, callerSeesScope: currentScope() !== undefined });
}
console.log(JSON.stringify(out));
`;

let app = '';
beforeAll(() => {
  ensureDist();
  app = makeApp({ 'main.cjs': CJS_MAIN, 'sdk-at-wrap.mjs': ESM_SDK_AT_WRAP, 'sdk-missing.mjs': ESM_SDK_MISSING, 'middy-only.mjs': MIDDY_ONLY });
}, 180_000);
afterAll(() => cleanupTempDirs());

const run = (dir: string, file: string) =>
  JSON.parse(execFileSync(process.execPath, [join(dir, file)], { cwd: dir, encoding: 'utf8', env: { ...process.env, AWS_REGION: 'us-east-1' } }).trim().split('\n').pop()!);

describe('cold start: what loads when', () => {
  it('the main entry loads no local endpoint, auditor, CLI or undici, before or after an invocation', () => {
    const out = run(app, 'main.cjs');
    expect(out.tag).toBe(32);
    for (const phase of [out.afterRequire, out.afterInvocation]) {
      expect(phase.files).toContain('index.cjs');
      expect(phase.files.filter((f: string) => /kms-local|audit|cli/.test(f))).toEqual([]);
      expect(phase.undici).toBe(false);
      expect(phase.sdk).toBe(false); // local entropy: the SDK is never needed
    }
    expect(out.nodeGypBuildLoaded).toBe(false);
    expect(out.addon).toEqual([realpathSync(out.nodeGypBuildPick)]);
  });

  it('a handler that will need KMS starts importing the SDK when it is wrapped; one on local entropy does not', () => {
    expect(run(app, 'sdk-at-wrap.mjs')).toEqual({ beforeWrap: false, afterLocalWrap: false, afterKmsWrap: true });
  });

  it('an SDK that cannot load fails the first invocation with the typed error, not the wrap, and no rejection goes unhandled', () => {
    expect(run(app, 'sdk-missing.mjs')).toEqual({
      unhandled: [],
      wrapped: true,
      invocation: { name: 'KmsEntropyError', code: 'ERR_KMS_SDK_MISSING' },
    });
  });

  it('the middy middleware alone binds every invocation to its own scope and never the caller', () => {
    expect(run(app, 'middy-only.mjs')).toEqual([
      { own: true, callerSeesScope: false },
      { own: true, callerSeesScope: false },
      { own: true, callerSeesScope: false },
    ]);
  });
});
