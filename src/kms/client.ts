/** The only module that creates KMS clients and commands (loaded lazily: @aws-sdk/client-kms is a peer). */
import type { KMSClient, KMSClientConfig } from '@aws-sdk/client-kms';
import { KmsEntropyError } from '../errors/index.js';
import { ZeroingHttpAgent, ZeroingHttpsAgent } from './agents.js';

type KmsModule = typeof import('@aws-sdk/client-kms');
let kmsModule: Promise<KmsModule> | undefined;

/** Says why the SDK did not load: not installed, or installed but broken (often by a bundler). */
function sdkLoadError(e: unknown): KmsEntropyError {
  const err = e as { code?: string; message?: string } | undefined;
  const why = String(err?.message ?? e).split('\n')[0];
  const notFound = (err?.code === 'ERR_MODULE_NOT_FOUND' || err?.code === 'MODULE_NOT_FOUND') && why.includes('@aws-sdk/client-kms');
  if (notFound) {
    return new KmsEntropyError(
      'ERR_KMS_SDK_MISSING',
      '@aws-sdk/client-kms is not installed (the Lambda Node runtime provides it; add it for local runs) or pass kms.client',
      { cause: e },
    );
  }
  return new KmsEntropyError(
    'ERR_KMS_SDK_LOAD',
    `@aws-sdk/client-kms failed to load: ${why}` +
      (why.includes('Dynamic require') ? ' (an ESM bundle without a require shim: mark @aws-sdk/* external, or add a createRequire banner)' : ''),
    { cause: e },
  );
}

/** An import started at wrap time, not yet asked for: the first loadKms() takes its outcome. */
let early: Promise<KmsModule> | undefined;

/**
 * Starts importing the SDK now (at wrap time, during the function's init) so that the
 * first invocation does not wait for it (issue 11). Its failure is not reported here:
 * the first loadKms() gets it as the same typed error it would have met itself.
 */
export function startLoadingKms(): void {
  if (kmsModule || early) return;
  early = import('@aws-sdk/client-kms');
  early.catch(() => undefined); // observed by the first loadKms()
}

export function loadKms(): Promise<KmsModule> {
  if (!kmsModule) {
    const started = early ?? import('@aws-sdk/client-kms');
    early = undefined;
    kmsModule = started.catch((e: unknown) => {
      kmsModule = undefined; // the next caller tries again
      throw sdkLoadError(e);
    });
  }
  return kmsModule;
}

export interface KmsOptions {
  /** A KMSClient of your own (its endpoint, credentials, retries). */
  client?: KMSClient;
  /** Config for the client secret-scope creates when none is given (endpoint from AWS_ENDPOINT_URL_KMS). */
  clientConfig?: KMSClientConfig;
}

export class KmsAccess {
  #client: KMSClient | undefined;
  readonly #config: KMSClientConfig | undefined;
  calls = 0;

  constructor(options: KmsOptions = {}) {
    this.#client = options.client;
    this.#config = options.clientConfig;
  }

  async client(): Promise<KMSClient> {
    if (this.#client) return this.#client;
    const { KMSClient } = await loadKms();
    const config: KMSClientConfig = { ...(this.#config ?? {}) };
    // Our agents zero the socket buffers that held KMS responses (see kms-agents.ts).
    // A caller's own requestHandler is used as given.
    config.requestHandler ??= {
      httpAgent: new ZeroingHttpAgent({ keepAlive: true }),
      httpsAgent: new ZeroingHttpsAgent({ keepAlive: true }),
    } as KMSClientConfig['requestHandler'];
    this.#client ??= new KMSClient(config);
    return this.#client;
  }
}
