/**
 * The CLI as a new user meets it (issue 13, item 5): `root-key create` makes a root key
 * blob with KMS GenerateDataKeyWithoutPlaintext (served by the local endpoint too, through
 * the real SDK), so the plaintext never reaches the CLI; `--version`; `report` with one
 * value column.
 */
import { DecryptCommand, GenerateDataKeyWithoutPlaintextCommand, KMSClient } from '@aws-sdk/client-kms';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startKmsLocal, type KmsLocal } from '../src/kms-local/index.js';
import { rejection } from './helpers/kms.js';
import { REPO_ROOT } from './helpers/restricted.js';
import { ensureDist } from './helpers/package-app.js';

const BIN = join(REPO_ROOT, 'bin', 'secret-scope.cjs');
const credentials = { accessKeyId: 'AKIDLOCAL', secretAccessKey: 'local-secret' };
const KEY = 'alias/secret-scope-local';

let local: KmsLocal;
let kms: KMSClient;
beforeAll(async () => {
  ensureDist();
  local = await startKmsLocal({ recordIssued: true });
  kms = new KMSClient({ endpoint: local.url, region: 'us-east-1', credentials, maxAttempts: 1 });
}, 180_000);
afterAll(async () => {
  kms.destroy();
  await local.close();
});

/** Runs the bin asynchronously (the local endpoint answers from this process's event loop). */
function cli(args: string[], env: Record<string, string> = {}): Promise<{ status: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], {
    encoding: 'utf8',
    env: {
      PATH: process.env.PATH!,
      AWS_ENDPOINT_URL_KMS: local.url,
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
      ...env,
    },
    }, (err, stdout, stderr) => resolve({ status: err ? Number((err as { code?: unknown }).code ?? 1) : 0, stdout, stderr }));
  });
}

describe('GenerateDataKeyWithoutPlaintext on the local endpoint (real SDK)', () => {
  it('returns only a CiphertextBlob, which Decrypt opens with the same encryption context only', async () => {
    const before = local.issued.length;
    const out = await kms.send(new GenerateDataKeyWithoutPlaintextCommand({ KeyId: KEY, KeySpec: 'AES_256', EncryptionContext: { app: 'a' } }));
    expect((out as Record<string, unknown>).Plaintext).toBeUndefined();
    expect(out.KeyId).toMatch(/^arn:aws:kms:/);
    expect(local.issued.length).toBe(before); // no plaintext left the endpoint
    const dk = await kms.send(new DecryptCommand({ CiphertextBlob: out.CiphertextBlob, EncryptionContext: { app: 'a' } }));
    expect(dk.Plaintext!.length).toBe(32);
    expect((await rejection(kms.send(new DecryptCommand({ CiphertextBlob: out.CiphertextBlob, EncryptionContext: { app: 'b' } })))).name).toBe(
      'InvalidCiphertextException',
    );
    const e = await rejection(kms.send(new GenerateDataKeyWithoutPlaintextCommand({ KeyId: KEY, KeySpec: 'AES_256', NumberOfBytes: 32 })));
    expect(e.name).toBe('ValidationException');
  });
});

describe('secret-scope root-key create', () => {
  it('prints a blob that decrypts to a 32-byte key under the given encryption context; no plaintext was issued', async () => {
    const before = local.issued.length;
    const r = await cli(['root-key', 'create', '--key-id', KEY, '--encryption-context', 'app=orders', '--encryption-context', 'stage=prod']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const blob = r.stdout.trim();
    expect(blob).toMatch(/^[A-Za-z0-9+/]+=*$/);
    expect(local.issued.length).toBe(before);
    const dk = await kms.send(new DecryptCommand({ CiphertextBlob: Buffer.from(blob, 'base64'), EncryptionContext: { app: 'orders', stage: 'prod' } }));
    expect(dk.Plaintext!.length).toBe(32);
    const e = await rejection(kms.send(new DecryptCommand({ CiphertextBlob: Buffer.from(blob, 'base64') })));
    expect(e.name).toBe('InvalidCiphertextException');
  });

  it('--json names the key and context; bad arguments are usage errors', async () => {
    const r = await cli(['root-key', 'create', '--key-id', KEY, '--json']);
    expect(r.status).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(Object.keys(j).sort()).toEqual(['ciphertextBlob', 'encryptionContext', 'keyId']);
    expect(j.keyId).toMatch(/^arn:aws:kms:/);
    const bad = await cli(['root-key', 'create']);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/--key-id is required/);
    expect((await cli(['root-key', 'create', '--key-id', KEY, '--encryption-context', 'novalue'])).stderr).toMatch(/name=value/);
  });
});

describe('CLI basics', () => {
  it('--version prints the package version', async () => {
    const r = await cli(['--version']);
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toBe(JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')).version);
  });

  it('report: every value starts in one column', async () => {
    const r = await cli(['report', '--require', 'any']);
    expect(r.status).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines.length).toBeGreaterThan(8);
    const columns = new Set(lines.map((l) => /^\S+(?: \S+)*? {2,}/.exec(l)![0].length));
    expect([...columns]).toHaveLength(1);
  });

});
