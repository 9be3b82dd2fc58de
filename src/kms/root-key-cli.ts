/**
 * `secret-scope root-key create --key-id <id>`: makes the root key blob a function's
 * `root.ciphertextBlob` option takes, with KMS GenerateDataKeyWithoutPlaintext: KMS
 * generates a 256-bit data key and returns it only encrypted under the KMS key, so the
 * plaintext never reaches this machine. Only a function allowed kms:Decrypt (with the
 * same encryption context) ever sees the key, and only in guarded memory.
 */
import { KmsEntropyError, OptionsError } from '../errors/index.js';
import { KmsAccess } from './client.js';
import { loadKms } from './client.js';

export const ROOT_KEY_USAGE = `usage: secret-scope root-key create --key-id <key id, ARN or alias> [--encryption-context name=value ...] [--region R] [--json]
  Prints the base64 CiphertextBlob of a new 256-bit root key (KMS GenerateDataKeyWithoutPlaintext:
  the plaintext never leaves KMS). Store it beside the function (e.g. env ROOT_KEY_BLOB) and pass
  root: { ciphertextBlob, keyId, encryptionContext } with the same encryption context.
  The endpoint follows the SDK's configuration (AWS_REGION, AWS_ENDPOINT_URL_KMS, credentials).`;

export interface RootKeyBlob {
  ciphertextBlob: string;
  keyId: string;
  encryptionContext: Record<string, string>;
}

/** A new root key, returned only as its KMS ciphertext blob (base64). */
export async function createRootKeyBlob(
  kms: KmsAccess,
  options: { keyId: string; encryptionContext?: Record<string, string> },
): Promise<RootKeyBlob> {
  const client = await kms.client();
  const { GenerateDataKeyWithoutPlaintextCommand } = await loadKms();
  kms.calls++;
  const out = await client.send(
    new GenerateDataKeyWithoutPlaintextCommand({ KeyId: options.keyId, KeySpec: 'AES_256', EncryptionContext: options.encryptionContext }),
  );
  if (!out.CiphertextBlob) throw new KmsEntropyError('ERR_KMS', 'GenerateDataKeyWithoutPlaintext returned no CiphertextBlob');
  return {
    ciphertextBlob: Buffer.from(out.CiphertextBlob).toString('base64'),
    keyId: out.KeyId ?? options.keyId,
    encryptionContext: options.encryptionContext ?? {},
  };
}

function parse(argv: string[]): { keyId: string; encryptionContext: Record<string, string>; region?: string; json: boolean } {
  let keyId: string | undefined;
  let region: string | undefined;
  let json = false;
  const encryptionContext: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined || v.startsWith('--')) throw new OptionsError('ERR_OPTIONS', `${a} needs a value\n${ROOT_KEY_USAGE}`);
      return v;
    };
    if (a === '--key-id') keyId = value();
    else if (a === '--region') region = value();
    else if (a === '--json') json = true;
    else if (a === '--encryption-context') {
      const pair = value();
      const eq = pair.indexOf('=');
      if (eq <= 0) throw new OptionsError('ERR_OPTIONS', `--encryption-context takes name=value, not '${pair}'`);
      encryptionContext[pair.slice(0, eq)] = pair.slice(eq + 1);
    } else throw new OptionsError('ERR_OPTIONS', `unknown argument '${a}'\n${ROOT_KEY_USAGE}`);
  }
  if (!keyId) throw new OptionsError('ERR_OPTIONS', `--key-id is required\n${ROOT_KEY_USAGE}`);
  return { keyId, encryptionContext, region, json };
}

export async function runRootKeyCli(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === undefined || sub === '--help' || sub === '-h') {
    process.stdout.write(ROOT_KEY_USAGE + '\n');
    return sub ? 0 : 1;
  }
  if (sub !== 'create') {
    process.stderr.write(`secret-scope root-key: unknown subcommand '${sub}'\n${ROOT_KEY_USAGE}\n`);
    return 1;
  }
  const o = parse(rest);
  const kms = new KmsAccess({ clientConfig: o.region ? { region: o.region } : {} });
  const blob = await createRootKeyBlob(kms, { keyId: o.keyId, encryptionContext: o.encryptionContext });
  process.stdout.write(o.json ? JSON.stringify(blob, null, 2) + '\n' : blob.ciphertextBlob + '\n');
  return 0;
}
