// Audit fixture: middy timeoutEarlyInMillis. The handler keeps running after
// middy answered with a timeout and then tries to use its key: the scope was
// wiped in onError, so the late use must fail with ScopeEndedError.
import middy from '@middy/core';
import * as lib from 'secret-scope';
import secretScopeMiddleware from 'secret-scope/middy';
import { fixtureOptions, useKeys, sleep } from './common.mjs';

// The harness's Lambda context reports 1500 ms left; middy answers 1000 ms early,
// i.e. about 500 ms into the invocation, while the handler is still at work.
// The timeout is the path under audit: declared, so it does not fail the audit.
export const auditConfig = { remainingTimeMs: 1500, expectedFailures: ['TimeoutError'] };

const late = [];
export async function createHandler(env) {
  await import('@aws-sdk/client-kms'); // warm the SDK load so that the keys exist well before the timeout
  const options = fixtureOptions(env);
  const handler = middy(
    async (event, context) => {
      const scope = context.secretScope;
      await useKeys(scope, lib, event);
      const session = await scope.key('session');
      const work = (async () => {
        await sleep(900); // still running when middy's timeout fires
        try {
          lib.seal(session, Buffer.from('too late'));
          return 'used';
        } catch (e) {
          return e.code ?? e.name;
        }
      })();
      late.push(work);
      return { statusCode: 200, body: await work };
    },
    { timeoutEarlyInMillis: 1000 },
  ).use(secretScopeMiddleware(options));
  return { handler, options };
}

/** Called by the harness after the invocations: what the late key uses saw. */
export async function auditDone() {
  return { lateUse: await Promise.all(late) };
}
