// The same layer used from CommonJS with the core API only (no middy, no KMS):
// require('secret-scope') resolves through NODE_PATH to the layer's index.cjs.
'use strict';
const { randomKey, hkdf, seal, open, withScope, protectionReport } = require('secret-scope');

exports.handler = async (event) =>
  withScope(async () => {
    const root = randomKey(32);
    const key = hkdf(root, { info: `example/${event?.tenant ?? 'default'}`, length: 32, use: 'aead' });
    const sealed = seal(key, 'core api');
    return {
      roundTrip: open(key, sealed).toString('utf8'),
      sealedBytes: sealed.length,
      backend: protectionReport().backend,
      arch: process.arch,
      node: process.version,
      secretScope: require.resolve('secret-scope'),
    };
  });
