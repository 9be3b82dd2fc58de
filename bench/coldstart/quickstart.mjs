// Cold start (issue 11, goal 3): the README's first handler (ESM), from the build the bench measures
// (SECRET_SCOPE_BENCH_DIST; a user writes `import { withSecretScope, hmacSign } from 'secret-scope'`).
// SECRET_SCOPE_BENCH_POLICY: entropy policy ('per-invocation' is the default, as in the README).
const { withSecretScope, hmacSign } = await import(`${process.env.SECRET_SCOPE_BENCH_DIST}/index.js`);

const policy = process.env.SECRET_SCOPE_BENCH_POLICY;
export const handler = withSecretScope(async (event, context) => {
  const key = await context.secretScope.key('token'); // derived from this invocation's KMS entropy
  return { tag: hmacSign(key, JSON.stringify(event)).toString('base64url') };
}, { keys: { token: { use: 'hmac' } }, ...(policy ? { entropy: { policy } } : {}) });
