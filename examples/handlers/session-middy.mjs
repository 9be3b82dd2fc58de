// A middy handler: a per-invocation AEAD key seals the record it returns.
import middy from '@middy/core';
import { secretScopeMiddy } from 'secret-scope/middy';
import { seal, open } from 'secret-scope';

/** @type {import('secret-scope').SecretScopeOptions<any>} */
export const options = {
  keys: { session: { use: 'aead' } },
};

const base = async (event, context) => {
  const key = await context.secretScope.key('session');
  const sealed = seal(key, JSON.stringify(event.record ?? { hello: 'world' }), { aad: 'record/v1' });
  const roundTrip = open(key, sealed, { aad: 'record/v1' }).toString();
  return { sealedBytes: sealed.length, roundTrip };
};

// The wrapper owns the whole invocation: every middleware added with .use() (before or
// after this line) and the handler see this invocation's scope; it ends when middy settles.
export const handler = secretScopeMiddy(middy(base), options);
