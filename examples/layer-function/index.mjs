// Example Lambda function for the secret-scope layer (template.yaml).
//
// secret-scope comes from the layer (/opt/nodejs/node_modules/secret-scope);
// @middy/core is the function's own dependency (it ships in the function zip);
// @aws-sdk/client-kms comes from the Lambda runtime. Per invocation, the
// wrapper draws entropy from KMS GenerateRandom (AWS_ENDPOINT_URL_KMS may
// point it elsewhere), derives the declared keys into guarded memory, and wipes
// them when the response is on its way.
import middy from '@middy/core';
import { secretScopeMiddy } from 'secret-scope/middy';
import { hmacSign, hmacVerify, seal, open, protectionReport } from 'secret-scope';

export const options = {
  keys: { session: { use: 'aead' }, token: { use: 'hmac' } },
  entropy: { source: 'kms' },
};

async function base(event, context) {
  const scope = context.secretScope;
  const message = typeof event?.message === 'string' ? event.message : 'hello';

  const k = await scope.key('token');
  const tag = hmacSign(k, message);

  const session = await scope.key('session');
  const sealed = seal(session, JSON.stringify({ message, requestId: context.awsRequestId }), { aad: 'layer-example/v1' });
  const roundTrip = JSON.parse(open(session, sealed, { aad: 'layer-example/v1' }).toString('utf8'));

  const report = protectionReport();
  return {
    tag: tag.toString('base64url'),
    tagBytes: tag.length,
    verified: hmacVerify(k, message, tag),
    sealedBytes: sealed.length,
    roundTrip: roundTrip.message === message && roundTrip.requestId === context.awsRequestId,
    backend: report.backend,
    locked: report.locked,
    arch: process.arch,
    node: process.version,
    secretScope: import.meta.resolve?.('secret-scope'),
  };
}

export const handler = secretScopeMiddy(middy(base), options);
