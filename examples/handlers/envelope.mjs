// Envelope encryption: a root key decrypted by KMS once per container (sealed,
// PROT_NONE between uses) and per-tenant keys derived from it inside the scope.
// The same tenant gets the same key in every invocation, so records sealed now
// open later; another tenant's key opens nothing.
import { withSecretScope, seal, open, AuthenticationError } from 'secret-scope';

/** @type {import('secret-scope').SecretScopeOptions<any>} */
export const options = {
  root: { ciphertextBlob: process.env.ROOT_KEY_BLOB ?? '', encryptionContext: { purpose: 'secret-scope-demo' } },
  keys: {
    tenant: { use: 'aead', from: 'root', context: (event) => `tenant:${event.tenantId}` },
    other: { use: 'aead', from: 'root', context: () => 'tenant:someone-else' },
  },
};

export const handler = withSecretScope(async (event, context) => {
  const scope = context.secretScope;
  const key = await scope.key('tenant');
  if (event.sealed) {
    return { opened: open(key, Buffer.from(event.sealed, 'base64'), { aad: event.tenantId }).toString() };
  }
  const sealed = seal(key, JSON.stringify(event.record), { aad: event.tenantId });
  let crossTenant = 'opened (BAD)';
  try {
    open(await scope.key('other'), sealed, { aad: event.tenantId });
  } catch (e) {
    crossTenant = e instanceof AuthenticationError ? 'rejected' : `error ${(/** @type {Error} */ (e)).name}`;
  }
  return { sealed: sealed.toString('base64'), crossTenant };
}, options);
