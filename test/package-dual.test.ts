/**
 * One library state per thread, whichever mix of `import` and `require` loads it
 * (issue 13, item 2): the ESM build (import 'secret-scope') and the CJS build
 * (require('secret-scope/middy')) share one addon instance, one Key class, one
 * async-context binding and one error identity. Run against the built dist
 * through the package's own `exports`, in a child process.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanupTempDirs } from './helpers/restricted.js';
import { ensureDist, makeApp } from './helpers/package-app.js';

const MIXED = `
import { createRequire } from 'node:module';
import middy from '@middy/core';
import * as esm from 'secret-scope';
const require = createRequire(import.meta.url);
const cjs = require('secret-scope');
const { secretScopeMiddleware } = require('secret-scope/middy');
const out = {};
const caught = (f) => { try { f(); } catch (e) { return e; } };
esm.configureSecretMemory({ require: 'any' });
out.sameKeyClass = esm.Key === cjs.Key;
const fromEsm = esm.randomKey(32);
const fromCjs = cjs.randomKey(32);
out.liveSlotsSeenByBoth = [esm.protectionReport().liveSlots, cjs.protectionReport().liveSlots];
out.cjsUsesEsmKey = cjs.hmacSign(fromEsm, 'm').length;
out.esmUsesCjsKey = esm.hmacSign(fromCjs, 'm').length;
out.instanceofAcross = fromCjs instanceof esm.Key && fromEsm instanceof cjs.Key;
fromEsm.release();
const e = caught(() => cjs.hmacSign(fromEsm, 'm'));
out.releasedError = [e?.code, e instanceof esm.KeyReleasedError, e instanceof cjs.KeyReleasedError, e instanceof esm.SecretScopeError, e instanceof esm.ScopeEndedError];
out.configureOnce = caught(() => cjs.configureSecretMemory({ require: 'any' }))?.code;
out.scopeAcross = await esm.withScope(async (s) => cjs.currentScope() === s && cjs.randomKey(32).scope === s);
const scope = new cjs.SecretScope();
out.scopeInstanceof = scope instanceof esm.SecretScope;
out.keyInCjsScopeFromEsm = esm.randomKey(32, { scope }).scope === scope;
out.wiped = scope.end();
const handler = middy(async (event, context) => {
  const key = await context.secretScope.key('s');
  return { current: esm.currentScope() === context.secretScope, tag: esm.hmacSign(key, 'm').length };
}).use(secretScopeMiddleware({ keys: { s: { use: 'hmac' } }, entropy: { source: 'local' } }));
out.middy = await handler({}, { awsRequestId: 'r1', getRemainingTimeInMillis: () => 10000 });
out.liveAfter = esm.protectionReport().liveSlots - 1; // fromCjs still held
console.log(JSON.stringify(out));
`;

let app = '';
beforeAll(() => {
  ensureDist();
  app = makeApp({ 'mixed.mjs': MIXED });
}, 180_000);
afterAll(() => cleanupTempDirs());

describe('ESM and CJS builds in one process', () => {
  it('share one addon, one Key class, one scope binding and one error identity', () => {
    const stdout = execFileSync(process.execPath, [join(app, 'mixed.mjs')], { cwd: app, encoding: 'utf8' });
    const out = JSON.parse(stdout.trim().split('\n').pop()!);
    expect(out).toEqual({
      sameKeyClass: true,
      liveSlotsSeenByBoth: [2, 2],
      cjsUsesEsmKey: 32,
      esmUsesCjsKey: 32,
      instanceofAcross: true,
      releasedError: ['ERR_KEY_RELEASED', true, true, true, false],
      configureOnce: 'ERR_INVALID_ARGUMENT',
      scopeAcross: true,
      scopeInstanceof: true,
      keyInCjsScopeFromEsm: true,
      wiped: 1,
      middy: { current: true, tag: 32 },
      liveAfter: 0,
    });
  });
});
