// Audit fixture: the success path (plain wrapper, async handler returns).
import * as lib from 'secret-scope';
import { fixtureOptions, useKeys } from './common.mjs';

export function createHandler(env) {
  const options = fixtureOptions(env);
  const handler = lib.withSecretScope(async (event, context) => {
    const out = await useKeys(context.secretScope, lib, event);
    return { statusCode: 200, body: JSON.stringify(out) };
  }, options);
  return { handler, options };
}
