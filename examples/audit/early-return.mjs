// Audit fixture: middy early return. A middleware after secret-scope's answers the
// request itself (a cache hit, an auth rejection) with a tag made from a key;
// middy then skips the handler and every later middleware.
import middy from '@middy/core';
import * as lib from 'secret-scope';
import secretScopeMiddleware from 'secret-scope/middy';
import { fixtureOptions, useKeys } from './common.mjs';

export function createHandler(env) {
  const options = fixtureOptions(env);
  const earlyAnswer = {
    before: async (request) => {
      const out = await useKeys(request.context.secretScope, lib, request.event);
      return { statusCode: 304, body: out.tag };
    },
  };
  const handler = middy(async () => ({ statusCode: 200, body: 'not reached' }))
    .use(secretScopeMiddleware(options))
    .use(earlyAnswer);
  return { handler, options };
}
