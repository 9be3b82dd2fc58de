// quickstart.mjs as CommonJS (a user writes `require('secret-scope')`).
const { withSecretScope, hmacSign } = require(`${process.env.SECRET_SCOPE_BENCH_DIST}/index.cjs`);

const policy = process.env.SECRET_SCOPE_BENCH_POLICY;
exports.handler = withSecretScope(async (event, context) => {
  const key = await context.secretScope.key('token');
  return { tag: hmacSign(key, JSON.stringify(event)).toString('base64url') };
}, { keys: { token: { use: 'hmac' } }, ...(policy ? { entropy: { policy } } : {}) });
