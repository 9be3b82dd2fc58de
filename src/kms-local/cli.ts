/**
 * `secret-scope kms-local [flags]`: starts the endpoint and prints how to point
 * the AWS SDK at it; runs until SIGINT/SIGTERM (or `io.signal` aborts).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KmsFaults } from './faults.js';
import { DEFAULT_ALIAS, FAULTS_ENV, startKmsLocal, type KmsLocalOptions } from './server.js';

export interface KmsLocalCliIo {
  /** Where the URL and export lines go (default process.stdout). */
  stdout?: { write(text: string): unknown };
  /** Where request and fault logs go (default process.stderr). */
  stderr?: { write(text: string): unknown };
  /** Stops the endpoint when aborted (in addition to SIGINT/SIGTERM). */
  signal?: AbortSignal;
}

export interface KmsLocalCliArgs {
  options: KmsLocalOptions;
  printEnvOnly: boolean;
  verbose: boolean;
  help: boolean;
}

export const KMS_LOCAL_USAGE = `Usage: secret-scope kms-local [options]

Starts a local KMS-compatible endpoint (GenerateRandom, Encrypt, Decrypt, GenerateDataKey, GenerateDataKeyWithoutPlaintext).

  --port N                 port to listen on (default: a free port)
  --host H                 interface to bind (default 127.0.0.1)
  --https                  serve HTTPS with a self-signed certificate (written to a temp file)
  --region R               region of key ARNs and of accepted SigV4 scopes (default us-east-1)
  --latency MS             add MS milliseconds to every call
  --jitter MS              add up to MS random milliseconds more
  --throttle-rate P        answer ThrottlingException with probability P (0..1)
  --error-rate P           answer 500 KMSInternalException with probability P
  --unavailable-rate P     answer 503 DependencyTimeoutException with probability P
  --reset-rate P           reset the connection with probability P
  --truncate-rate P        send a truncated body with probability P
  --malformed-rate P       send a body that is not JSON with probability P
  --chunked-rate P         answer in chunked transfer-encoding with probability P
  --split-rate P           answer in 3 writes 5 ms apart, cut inside the Plaintext, with probability P
  --verify-signature K:S   verify SigV4 signatures made with access key K and secret S
  --print-env              print only the export lines on stdout
  --verbose                log every request on stderr (never plaintexts or keys)
  --help                   this text
`;

function usageError(message: string): Error {
  return new Error(`kms-local: ${message}\n\n${KMS_LOCAL_USAGE}`);
}

/** Parses the flags after `kms-local`; throws with the usage text on a bad flag. */
export function parseKmsLocalArgs(argv: readonly string[]): KmsLocalCliArgs {
  const options: KmsLocalOptions = {};
  const faults: KmsFaults = {};
  let latency: number | undefined;
  let jitter: number | undefined;
  let printEnvOnly = false;
  let verbose = false;
  let help = false;

  for (let i = 0; i < argv.length; i++) {
    const raw = argv[i]!;
    const eq = raw.indexOf('=');
    const flag = raw.startsWith('--') && eq > 0 ? raw.slice(0, eq) : raw;
    const inline = raw.startsWith('--') && eq > 0 ? raw.slice(eq + 1) : undefined;
    const value = (): string => {
      const v = inline ?? argv[++i];
      if (v === undefined || (inline === undefined && v.startsWith('--'))) throw usageError(`${flag} needs a value`);
      return v;
    };
    const number = (min: number, max: number, integer = false): number => {
      const text = value();
      const n = Number(text);
      if (text.trim() === '' || !Number.isFinite(n) || n < min || n > max || (integer && !Number.isInteger(n))) {
        throw usageError(`${flag} expects ${integer ? 'an integer' : 'a number'} in ${min}..${max}, got ${text}`);
      }
      return n;
    };
    const rate = () => ({ probability: number(0, 1) });
    switch (flag) {
      case '--port':
        options.port = number(0, 65535, true);
        break;
      case '--host':
        options.host = value();
        break;
      case '--https':
        options.https = true;
        break;
      case '--region':
        options.region = value();
        break;
      case '--latency':
        latency = number(0, 600_000);
        break;
      case '--jitter':
        jitter = number(0, 600_000);
        break;
      case '--throttle-rate':
        faults.throttle = rate();
        break;
      case '--error-rate':
        faults.serverError = { ...rate(), status: 500 };
        break;
      case '--unavailable-rate':
        faults.serverError = { ...rate(), status: 503 };
        break;
      case '--reset-rate':
        faults.connectionReset = rate();
        break;
      case '--truncate-rate':
        faults.truncatedBody = rate();
        break;
      case '--malformed-rate':
        faults.malformedJson = rate();
        break;
      case '--chunked-rate':
        faults.chunkedBody = rate();
        break;
      case '--split-rate':
        faults.splitWrites = rate();
        break;
      case '--verify-signature': {
        const v = value();
        const colon = v.indexOf(':');
        if (colon <= 0 || colon === v.length - 1) throw usageError('--verify-signature expects ACCESS_KEY_ID:SECRET');
        options.verifySignature = { accessKeyId: v.slice(0, colon), secretAccessKey: v.slice(colon + 1) };
        break;
      }
      case '--print-env':
        printEnvOnly = true;
        break;
      case '--verbose':
        verbose = true;
        break;
      case '--help':
      case '-h':
        help = true;
        break;
      default:
        throw usageError(`unknown option ${raw}`);
    }
  }
  if (latency !== undefined || jitter !== undefined) faults.latencyMs = { ms: latency ?? 0, jitterMs: jitter };
  if (Object.keys(faults).length > 0) options.faults = faults;
  return { options, printEnvOnly, verbose, help };
}

/**
 * Runs the CLI with the arguments after `kms-local` (not node's own argv).
 * Resolves once the endpoint has closed after SIGINT/SIGTERM or `io.signal`.
 */
export async function runKmsLocalCli(argv: string[], io: KmsLocalCliIo = {}): Promise<void> {
  const stdout = io.stdout ?? process.stdout;
  const stderr = io.stderr ?? process.stderr;
  const args = parseKmsLocalArgs(argv);
  if (args.help) {
    stdout.write(KMS_LOCAL_USAGE);
    return;
  }
  const line = (text: string) => `${text}\n`;
  const local = await startKmsLocal({
    ...args.options,
    logger: {
      debug: args.verbose ? (m) => stderr.write(line(m)) : undefined,
      info: args.verbose ? (m) => stderr.write(line(m)) : undefined,
      warn: (m) => stderr.write(line(`warning: ${m}`)),
      error: (m) => stderr.write(line(`error: ${m}`)),
    },
  });

  let certDir: string | undefined;
  const exports = [
    `export AWS_ENDPOINT_URL_KMS=${local.url}`,
    `export AWS_REGION=${local.region}`,
    `export AWS_ACCESS_KEY_ID=${args.options.verifySignature?.accessKeyId ?? 'local'}`,
    args.options.verifySignature
      ? '# set AWS_SECRET_ACCESS_KEY to the secret given to --verify-signature'
      : 'export AWS_SECRET_ACCESS_KEY=local',
  ];
  if (local.certificatePem) {
    certDir = mkdtempSync(join(tmpdir(), 'kms-local-'));
    const certPath = join(certDir, 'kms-local-ca.pem');
    writeFileSync(certPath, local.certificatePem);
    exports.push(`export NODE_EXTRA_CA_CERTS=${certPath}`);
  }
  if (args.printEnvOnly) {
    stdout.write(exports.map(line).join(''));
  } else {
    stdout.write(
      [
        `kms-local listening on ${local.url}`,
        `default key: ${DEFAULT_ALIAS} (${local.defaultKey.arn})`,
        args.options.faults
          ? `faults: ${JSON.stringify(args.options.faults)}`
          : process.env[FAULTS_ENV]
            ? `faults (from ${FAULTS_ENV}): ${process.env[FAULTS_ENV]}`
            : 'faults: none',
        '',
        'Point the AWS SDK at it (any credentials are accepted unless --verify-signature is set):',
        ...exports.map((e) => `  ${e}`),
        '',
        'Stop with Ctrl-C.',
      ]
        .map(line)
        .join(''),
    );
  }

  await new Promise<void>((resolve) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      io.signal?.removeEventListener('abort', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
    if (io.signal?.aborted) stop();
    else io.signal?.addEventListener('abort', stop, { once: true });
  });
  await local.close();
  if (certDir) rmSync(certDir, { recursive: true, force: true });
  if (!args.printEnvOnly) stdout.write(line('kms-local stopped'));
}
