// careful.mjs as CommonJS.
const { GenerateRandomCommand, KMSClient } = require('@aws-sdk/client-kms');
const { createHmac, hkdfSync } = require('node:crypto');

const kms = new KMSClient({});

exports.handler = async (event) => {
  const { Plaintext } = await kms.send(new GenerateRandomCommand({ NumberOfBytes: 32 }));
  const key = Buffer.from(hkdfSync('sha256', Plaintext, 'app/v1', 'token', 32));
  Plaintext.fill(0);
  const tag = createHmac('sha256', key).update(JSON.stringify(event)).digest('base64url');
  key.fill(0);
  return { tag };
};
