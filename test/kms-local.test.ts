import {
  DecryptCommand,
  EncryptCommand,
  GenerateDataKeyCommand,
  GenerateRandomCommand,
  KMSClient,
  type KMSClientConfig,
} from '@aws-sdk/client-kms';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { request as httpRequest } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runKmsLocalCli, startKmsLocal, type KmsLocal } from '../src/kms-local/index.js';
import { rejection } from './helpers/kms.js';

const credentials = { accessKeyId: 'AKIDLOCAL', secretAccessKey: 'local-secret' };

function client(local: KmsLocal, extra: Partial<KMSClientConfig> = {}): KMSClient {
  return new KMSClient({ endpoint: local.url, region: 'us-east-1', credentials, maxAttempts: 1, ...extra });
}

interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: any;
}

function raw(local: KmsLocal, headers: Record<string, string>, body = '{}'): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(local.url, { method: 'POST', headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode!, headers: res.headers, body: JSON.parse(Buffer.concat(chunks).toString()) }),
      );
    });
    req.on('error', reject);
    req.end(body);
  });
}

const wellFormedAuth = {
  Authorization: `AWS4-HMAC-SHA256 Credential=AKIDLOCAL/20240101/us-east-1/kms/aws4_request, SignedHeaders=host;x-amz-date, Signature=${'a'.repeat(64)}`,
  'X-Amz-Date': '20240101T000000Z',
  'Content-Type': 'application/x-amz-json-1.1',
};

describe('kms-local operations through the real SDK', () => {
  let local: KmsLocal;
  let kms: KMSClient;
  beforeAll(async () => {
    local = await startKmsLocal({ recordIssued: true });
    kms = client(local);
  });
  afterAll(async () => {
    kms.destroy();
    await local.close();
  });

  it('binds loopback on an ephemeral port by default', () => {
    expect(local.url).toBe(`http://127.0.0.1:${local.port}`);
    expect(local.port).toBeGreaterThan(0);
    expect(local.certificatePem).toBeUndefined();
  });

  it('Encrypt -> Decrypt round trips by alias, key id and ARN', async () => {
    const plaintext = Buffer.from('the quick brown fox');
    for (const keyId of ['alias/secret-scope-local', local.defaultKey.keyId, local.defaultKey.arn]) {
      const enc = await kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: plaintext }));
      expect(enc.KeyId).toBe(local.defaultKey.arn);
      expect(enc.EncryptionAlgorithm).toBe('SYMMETRIC_DEFAULT');
      expect(Buffer.from(enc.CiphertextBlob!).includes(plaintext)).toBe(false);
      const dec = await kms.send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob }));
      expect(Buffer.from(dec.Plaintext!)).toEqual(plaintext);
      expect(dec.KeyId).toBe(local.defaultKey.arn);
    }
  });

  it('GenerateDataKey -> Decrypt returns the same data key (AES_256, AES_128, NumberOfBytes)', async () => {
    for (const [input, length] of [
      [{ KeySpec: 'AES_256' as const }, 32],
      [{ KeySpec: 'AES_128' as const }, 16],
      [{ NumberOfBytes: 7 }, 7],
    ] as const) {
      const dk = await kms.send(new GenerateDataKeyCommand({ KeyId: 'alias/secret-scope-local', ...input }));
      expect(dk.Plaintext!.length).toBe(length);
      expect(dk.KeyId).toBe(local.defaultKey.arn);
      const dec = await kms.send(new DecryptCommand({ CiphertextBlob: dk.CiphertextBlob, KeyId: 'alias/secret-scope-local' }));
      expect(Buffer.from(dec.Plaintext!)).toEqual(Buffer.from(dk.Plaintext!));
    }
    const both = await rejection(
      kms.send(new GenerateDataKeyCommand({ KeyId: 'alias/secret-scope-local', KeySpec: 'AES_256', NumberOfBytes: 32 })),
    );
    expect(both.name).toBe('ValidationException');
  });

  it('binds the encryption context: a different or missing context is InvalidCiphertextException', async () => {
    const context = { tenant: 'a', purpose: 'test' };
    const enc = await kms.send(
      new EncryptCommand({ KeyId: 'alias/secret-scope-local', Plaintext: Buffer.from('x'), EncryptionContext: context }),
    );
    const ok = await kms.send(
      new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob, EncryptionContext: { purpose: 'test', tenant: 'a' } }),
    );
    expect(Buffer.from(ok.Plaintext!).toString()).toBe('x');
    const wrongContexts: Array<Record<string, string> | undefined> = [{ tenant: 'b', purpose: 'test' }, undefined, { tenant: 'a' }];
    for (const wrong of wrongContexts) {
      const err = await rejection(kms.send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob, EncryptionContext: wrong })));
      expect(err.name).toBe('InvalidCiphertextException');
      expect(err.$metadata.httpStatusCode).toBe(400);
    }
  });

  it('rejects a Decrypt naming another key, an unknown key and a tampered blob', async () => {
    const other = local.createKey({ alias: 'alias/other' });
    expect(other.arn).toBe(`arn:aws:kms:us-east-1:000000000000:key/${other.keyId}`);
    const blob = local.encryptForTest('alias/secret-scope-local', Buffer.from('secret'));
    const wrongKey = await rejection(kms.send(new DecryptCommand({ CiphertextBlob: blob, KeyId: 'alias/other' })));
    expect(wrongKey.name).toBe('IncorrectKeyException');
    const unknown = await rejection(kms.send(new EncryptCommand({ KeyId: 'alias/nope', Plaintext: Buffer.from('x') })));
    expect(unknown.name).toBe('NotFoundException');
    const tampered = Buffer.from(blob);
    tampered[tampered.length - 1]! ^= 1;
    expect((await rejection(kms.send(new DecryptCommand({ CiphertextBlob: tampered })))).name).toBe('InvalidCiphertextException');
    const garbage = await rejection(kms.send(new DecryptCommand({ CiphertextBlob: Buffer.from('not a blob') })));
    expect(garbage.name).toBe('InvalidCiphertextException');
    // encryptForTest blobs made under a created key decrypt through the SDK.
    const own = local.encryptForTest(other.arn, Buffer.from('mine'), { k: 'v' });
    const dec = await kms.send(new DecryptCommand({ CiphertextBlob: own, EncryptionContext: { k: 'v' } }));
    expect(Buffer.from(dec.Plaintext!).toString()).toBe('mine');
    expect(dec.KeyId).toBe(other.arn);
  });

  it('enforces GenerateRandom and Encrypt size bounds with ValidationException', async () => {
    for (const n of [1, 1024]) {
      expect((await kms.send(new GenerateRandomCommand({ NumberOfBytes: n }))).Plaintext!.length).toBe(n);
    }
    for (const n of [0, 1025]) {
      const err = await rejection(kms.send(new GenerateRandomCommand({ NumberOfBytes: n })));
      expect(err.name).toBe('ValidationException');
    }
    const big = await rejection(
      kms.send(new EncryptCommand({ KeyId: 'alias/secret-scope-local', Plaintext: Buffer.alloc(4097) })),
    );
    expect(big.name).toBe('ValidationException');
  });

  it('records exactly the plaintext bytes it returned', async () => {
    local.clearIssued();
    const random = await kms.send(new GenerateRandomCommand({ NumberOfBytes: 32 }));
    const dk = await kms.send(new GenerateDataKeyCommand({ KeyId: 'alias/secret-scope-local', KeySpec: 'AES_256' }));
    const dec = await kms.send(new DecryptCommand({ CiphertextBlob: dk.CiphertextBlob }));
    await kms.send(new EncryptCommand({ KeyId: 'alias/secret-scope-local', Plaintext: Buffer.from('not issued') }));
    expect(local.issued.map((e) => e.operation)).toEqual(['GenerateRandom', 'GenerateDataKey', 'Decrypt']);
    expect(local.issued[0]!.plaintext).toEqual(Buffer.from(random.Plaintext!));
    expect(local.issued[1]!.plaintext).toEqual(Buffer.from(dk.Plaintext!));
    expect(local.issued[2]!.plaintext).toEqual(Buffer.from(dec.Plaintext!));
    local.clearIssued();
    expect(local.issued).toHaveLength(0);
  });

  it('counts calls per operation', async () => {
    local.resetStats();
    await kms.send(new GenerateRandomCommand({ NumberOfBytes: 4 }));
    await kms.send(new GenerateRandomCommand({ NumberOfBytes: 4 }));
    await rejection(kms.send(new GenerateRandomCommand({ NumberOfBytes: 0 })));
    await kms.send(new EncryptCommand({ KeyId: 'alias/secret-scope-local', Plaintext: Buffer.from('x') }));
    expect(local.stats.calls).toEqual({ GenerateRandom: 3, Encrypt: 1 });
    expect(local.stats.errors).toEqual({ ValidationException: 1 });
  });
});

describe('kms-local request checks', () => {
  let local: KmsLocal;
  beforeAll(async () => {
    local = await startKmsLocal();
  });
  afterAll(() => local.close());

  it('rejects a request without Authorization as MissingAuthenticationTokenException', async () => {
    const res = await raw(local, { 'Content-Type': 'application/x-amz-json-1.1', 'X-Amz-Target': 'TrentService.GenerateRandom' }, '{"NumberOfBytes":8}');
    expect(res.status).toBe(400);
    expect(res.headers['x-amzn-errortype']).toBe('MissingAuthenticationTokenException');
    expect(res.body.__type).toBe('MissingAuthenticationTokenException');
    expect(res.body.Plaintext).toBeUndefined();
  });

  it('rejects malformed Authorization headers as IncompleteSignatureException', async () => {
    const target = { 'X-Amz-Target': 'TrentService.GenerateRandom' };
    const cases: Record<string, string>[] = [
      { ...wellFormedAuth, Authorization: 'Bearer abc' },
      { ...wellFormedAuth, Authorization: wellFormedAuth.Authorization.replace(/Signature=\w+/, 'Signature=XYZ') },
      { ...wellFormedAuth, Authorization: wellFormedAuth.Authorization.replace('host;x-amz-date', 'host') },
      { ...wellFormedAuth, Authorization: wellFormedAuth.Authorization.replace('/kms/aws4_request', '/kms') },
      { Authorization: wellFormedAuth.Authorization, 'Content-Type': wellFormedAuth['Content-Type'] }, // no X-Amz-Date
    ];
    for (const headers of cases) {
      const res = await raw(local, { ...headers, ...target }, '{"NumberOfBytes":8}');
      expect(res.status, JSON.stringify(headers)).toBe(400);
      expect(res.body.__type, JSON.stringify(headers)).toBe('IncompleteSignatureException');
    }
    const ok = await raw(local, { ...wellFormedAuth, ...target }, '{"NumberOfBytes":8}');
    expect(ok.status).toBe(200);
    expect(Buffer.from(ok.body.Plaintext, 'base64')).toHaveLength(8);
  });

  it('answers an unknown target with UnknownOperationException', async () => {
    const res = await raw(local, { ...wellFormedAuth, 'X-Amz-Target': 'TrentService.CreateGrant' });
    expect(res.status).toBe(400);
    expect(res.body.__type).toBe('UnknownOperationException');
  });

  it('rejects a credential scoped to another region', async () => {
    const kms = new KMSClient({ endpoint: local.url, region: 'eu-west-1', credentials, maxAttempts: 1 });
    const err = await rejection(kms.send(new GenerateRandomCommand({ NumberOfBytes: 8 })));
    expect(err.name).toBe('InvalidSignatureException');
    expect(err.message).toContain('us-east-1');
    kms.destroy();
  });

  it('verifySignature rejects a wrong secret or key id and accepts the right credentials', async () => {
    const strict = await startKmsLocal({ verifySignature: credentials });
    try {
      const good = client(strict);
      expect((await good.send(new GenerateRandomCommand({ NumberOfBytes: 16 }))).Plaintext).toHaveLength(16);
      const enc = await good.send(new EncryptCommand({ KeyId: 'alias/secret-scope-local', Plaintext: Buffer.from('body is signed') }));
      expect(enc.CiphertextBlob!.length).toBeGreaterThan(0);
      const wrongSecret = client(strict, { credentials: { ...credentials, secretAccessKey: 'wrong' } });
      const err = await rejection(wrongSecret.send(new GenerateRandomCommand({ NumberOfBytes: 16 })));
      expect(err.name).toBe('InvalidSignatureException');
      expect(err.$metadata.httpStatusCode).toBe(400);
      const wrongKey = client(strict, { credentials: { ...credentials, accessKeyId: 'OTHER' } });
      expect((await rejection(wrongKey.send(new GenerateRandomCommand({ NumberOfBytes: 16 })))).name).toBe(
        'UnrecognizedClientException',
      );
      // A well-formed but forged signature passes the shape check and fails verification.
      const amzDate = new Date().toISOString().replace(/[-:]|\.\d{3}/g, '');
      const forged = await raw(strict, {
        ...wellFormedAuth,
        Authorization: wellFormedAuth.Authorization.replace('20240101', amzDate.slice(0, 8)),
        'X-Amz-Date': amzDate,
        'X-Amz-Target': 'TrentService.GenerateRandom',
      });
      expect(forged.body.__type).toBe('InvalidSignatureException');
      expect(forged.body.message).toContain('does not match the signature you provided');
      [good, wrongSecret, wrongKey].forEach((c) => c.destroy());
    } finally {
      await strict.close();
    }
  });
});

describe('kms-local over HTTPS', () => {
  it('serves a self-signed certificate the SDK trusts through an https.Agent ca', async () => {
    const local = await startKmsLocal({ https: true });
    try {
      expect(local.url).toBe(`https://127.0.0.1:${local.port}`);
      expect(local.certificatePem).toMatch(/^-----BEGIN CERTIFICATE-----\n/);
      const trusted = client(local, {
        requestHandler: new NodeHttpHandler({ httpsAgent: new HttpsAgent({ ca: local.certificatePem }) }),
      });
      const out = await trusted.send(new GenerateRandomCommand({ NumberOfBytes: 24 }));
      expect(out.Plaintext).toHaveLength(24);
      trusted.destroy();
      // Without the certificate the TLS handshake must fail: the trust comes from `ca`.
      const untrusted = client(local, { requestHandler: new NodeHttpHandler({ httpsAgent: new HttpsAgent() }) });
      const err = await rejection(untrusted.send(new GenerateRandomCommand({ NumberOfBytes: 24 })));
      expect(String(err.code ?? err.message)).toMatch(/SELF_SIGNED|UNABLE_TO_VERIFY|CERT/);
      untrusted.destroy();
    } finally {
      await local.close();
    }
  });
});

describe('kms-local CLI', () => {
  it('prints the URL and export lines, serves, and stops on abort', async () => {
    let out = '';
    const logs: string[] = [];
    const controller = new AbortController();
    const running = runKmsLocalCli(['--port', '0', '--latency', '1', '--verbose'], {
      stdout: { write: (t: string) => (out += t) },
      stderr: { write: (t: string) => logs.push(t) },
      signal: controller.signal,
    });
    await expect.poll(() => out, { timeout: 5000 }).toContain('export AWS_ENDPOINT_URL_KMS=');
    const url = /export AWS_ENDPOINT_URL_KMS=(\S+)/.exec(out)![1]!;
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(out).toContain('export AWS_ACCESS_KEY_ID=');
    const kms = new KMSClient({ endpoint: url, region: 'us-east-1', credentials, maxAttempts: 1 });
    const random = await kms.send(new GenerateRandomCommand({ NumberOfBytes: 32 }));
    const b64 = Buffer.from(random.Plaintext!).toString('base64');
    kms.destroy();
    controller.abort();
    await running;
    expect(out).toContain('kms-local stopped');
    expect(logs.join('')).toContain('GenerateRandom 200');
    expect(logs.join('')).not.toContain(b64); // request logs never carry plaintexts
  });

  it('rejects unknown flags and out-of-range rates with the usage text', async () => {
    await expect(runKmsLocalCli(['--bogus'])).rejects.toThrow(/unknown option --bogus[\s\S]*Usage/);
    await expect(runKmsLocalCli(['--throttle-rate', '2'])).rejects.toThrow(/--throttle-rate expects a number in 0\.\.1/);
  });
});
