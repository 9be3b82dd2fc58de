// Audit fixture: a streamed response (awslambda.streamifyResponse + withSecretScope.streaming).
// The scope ends after the handler settled and the response stream finished.
import * as lib from 'secret-scope';
import { fixtureOptions, useKeys, sleep } from './common.mjs';

export function createHandler(env) {
  const options = fixtureOptions(env);
  const inner = lib.withSecretScope.streaming(async (event, responseStream, context) => {
    const out = await useKeys(context.secretScope, lib, event);
    responseStream.write(out.sealed);
    await sleep(5);
    responseStream.write(out.tag);
    // The key is still usable while the stream is open.
    const session = await context.secretScope.key('session');
    responseStream.end(lib.seal(session, Buffer.from('last chunk')).toString('base64'));
  }, options);
  // eslint-disable-next-line no-undef -- provided by the Lambda runtime (and by the audit harness)
  const handler = awslambda.streamifyResponse(inner);
  return { handler, options };
}
