// Audit fixture: the throw path (the handler uses its keys, then throws).
import * as lib from 'secret-scope';
import { fixtureOptions, useKeys } from './common.mjs';

// The failure is the path under audit: declared, so it does not fail the audit.
export const auditConfig = { expectedFailures: ['Error'] };

export function createHandler(env) {
  const options = fixtureOptions(env);
  const handler = lib.withSecretScope(async (event, context) => {
    await useKeys(context.secretScope, lib, event);
    throw new Error('handler failed after using its keys');
  }, options);
  return { handler, options };
}
