// Shared by the planted-leak fixtures: each fixture is a handler that makes a
// copy of one kind of key (or keeps a scope or key alive) in one hiding place,
// and declares in `plantedLeak` what the auditor must report. The corpus test
// (test/audit-corpus.test.ts) audits every fixture and checks that finding.
import * as lib from 'secret-scope';
import { fixtureOptions } from '../common.mjs';

export { lib };

/** A handler made with withSecretScope around `leak(scope, event)`; returns 200 after planting. */
export function leakyHandler(env, leak, extra = {}) {
  const options = fixtureOptions(env, extra);
  const handler = lib.withSecretScope(async (event, context) => {
    await leak(context.secretScope, event);
    return { statusCode: 200, body: 'ok' };
  }, options);
  return { handler, options };
}

/** The key's bytes as a Buffer copy (the escape hatch every leak starts from). */
export const bytesOf = (key) => lib.exposeUnsafe(key, (v) => Buffer.from(v));
