// A plain handler (no middy) that issues an HMAC-signed token and verifies one.
// The signing key is derived per invocation from KMS entropy; it never leaves guarded memory.
import { withSecretScope, hmacSign, hmacVerify } from 'secret-scope';

/** @type {import('secret-scope').SecretScopeOptions<any>} */
export const options = {
  keys: { token: { use: 'hmac' } },
};

export const handler = withSecretScope(async (event, context) => {
  const key = await context.secretScope.key('token');
  const claims = Buffer.from(JSON.stringify({ sub: event.user ?? 'anonymous', iat: 1_700_000_000 })).toString('base64url');
  const tag = hmacSign(key, claims).toString('base64url');
  const token = `${claims}.${tag}`;
  // Verify it in the same scope (a service that both issues and checks tokens).
  const [c, t] = token.split('.');
  const valid = hmacVerify(key, c, Buffer.from(t, 'base64url'));
  const forged = hmacVerify(key, c + 'x', Buffer.from(t, 'base64url'));
  return { token, valid, forgedAccepted: forged };
}, options);
