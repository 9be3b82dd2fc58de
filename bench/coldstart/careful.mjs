// Cold-start baseline (issue 11, goal 3): a careful user's handler without secret-scope. It pays the
// AWS SDK like secret-scope's does, asks KMS GenerateRandom for 32 bytes, derives a key with
// node:crypto's hkdfSync, MACs the event and zero-fills what it can (the SDK's and OpenSSL's
// copies stay). The endpoint comes from AWS_ENDPOINT_URL_KMS, as for secret-scope.
import { GenerateRandomCommand, KMSClient } from '@aws-sdk/client-kms';
import { createHmac, hkdfSync } from 'node:crypto';

const kms = new KMSClient({});

export const handler = async (event) => {
  const { Plaintext } = await kms.send(new GenerateRandomCommand({ NumberOfBytes: 32 }));
  const key = Buffer.from(hkdfSync('sha256', Plaintext, 'app/v1', 'token', 32));
  Plaintext.fill(0);
  const tag = createHmac('sha256', key).update(JSON.stringify(event)).digest('base64url');
  key.fill(0);
  return { tag };
};
