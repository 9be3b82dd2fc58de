// Shared by the audit fixtures: the options every fixture declares, so that each
// path is audited with both a KMS-entropy key (default per-invocation policy)
// and a root-derived key (KMS Decrypt of the root blob the auditor made).
export function fixtureOptions(env, extra = {}) {
  return {
    keys: {
      // entropy-derived: KMS GenerateRandom || local randomness, per invocation
      session: { use: 'aead' },
      // root-derived: stable per tenant, recomputable by whoever holds the root key
      tenant: { use: 'hmac', from: 'root', context: (event) => String(event?.tenant ?? 'default') },
    },
    root: { ciphertextBlob: env.rootCiphertextBlob, keyId: env.rootKeyId, encryptionContext: env.rootEncryptionContext },
    ...extra,
  };
}

/** Uses both keys the way a real handler would: seal a value, MAC the event. */
export async function useKeys(scope, lib, event) {
  const session = await scope.key('session');
  const tenant = await scope.key('tenant');
  const sealed = lib.seal(session, Buffer.from(`payload for ${event?.tenant ?? 'default'}`));
  const opened = lib.open(session, sealed);
  const tag = lib.hmacSign(tenant, Buffer.from(JSON.stringify(event ?? {})));
  return { sealed: sealed.toString('base64'), opened: opened.toString('utf8'), tag: tag.toString('hex') };
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
