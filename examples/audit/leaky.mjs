// Audit fixture, deliberately LEAKY: copies a root-derived key into a JS string
// through the escape hatch. The auditor must flag it (exit 1), in the V8 heap.
import * as lib from 'secret-scope';
import { fixtureOptions } from './common.mjs';

export function createHandler(env) {
  const options = fixtureOptions(env);
  const handler = lib.withSecretScope(async (event, context) => {
    const tenant = await context.secretScope.key('tenant');
    // DON'T DO THIS: the hex string is an ordinary V8 string no scope can wipe.
    lib.exposeUnsafe(tenant, (v) => (globalThis.leak = Buffer.from(v).toString('hex')));
    return { statusCode: 200, body: 'ok' };
  }, options);
  return { handler, options };
}
