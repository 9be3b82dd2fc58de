/**
 * The local KMS-compatible endpoint: an HTTP(S) server on loopback that the
 * real `@aws-sdk/client-kms` can talk to (`endpoint: local.url`).
 *
 * Pipeline per request: body -> SigV4 checks -> faults (latency, then at most one
 * terminal fault, and a faulted call never runs its operation) -> operation.
 */
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { isIP, type AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { createSelfSignedCertificate } from './cert.js';
import { KmsProtocolError } from './errors.js';
import { FAULT_KINDS, FaultPlan, type FaultKind, type KmsFaults, type TerminalFault } from './faults.js';
import { KeyStore, type CreateKeyOptions, type EncryptionContext, type KeyRef } from './keystore.js';
import { isOperation, runOperation, type IssuingOperation } from './operations.js';
import {
  parseJsonObject,
  readBody,
  resetConnection,
  sendError,
  sendJson,
  sendJsonInPieces,
  sendMalformedJson,
  sendTruncated,
  targetOperation,
} from './protocol.js';
import { parseAuthorization, verifySignature, type SigV4Credentials } from './sigv4.js';

export const DEFAULT_ALIAS = 'alias/secret-scope-local';
export const DEFAULT_ACCOUNT_ID = '000000000000';

/** Where the endpoint writes one line per request and per fault. Never given plaintext or key bytes. */
export interface KmsLocalLogger {
  debug?(message: string): void;
  info?(message: string): void;
  warn?(message: string): void;
  error?(message: string): void;
}

export interface KmsLocalOptions {
  /** TCP port; 0 (default) picks a free one. */
  port?: number;
  /** Interface to bind; default 127.0.0.1. Anything but loopback must be asked for. */
  host?: string;
  /** Serve HTTPS with a self-signed certificate made at start (see `certificatePem`). */
  https?: boolean;
  /** Region in key ARNs, and the only region SigV4 credential scopes may name. Default us-east-1. */
  region?: string;
  /** Account id in key ARNs. Default 000000000000. */
  accountId?: string;
  /**
   * Faults to inject from the first call (see {@link KmsFaults}). When absent, the JSON in
   * the environment variable SECRET_SCOPE_KMS_LOCAL_FAULTS is used, so that an endpoint
   * started by another tool (the residue auditor) can be given faults too.
   */
  faults?: KmsFaults;
  /** Keep a copy of every plaintext returned, in `issued` (for residue audits). Default false. */
  recordIssued?: boolean;
  /** Recompute SigV4 signatures with these credentials and reject mismatches. */
  verifySignature?: SigV4Credentials;
  logger?: KmsLocalLogger;
  /** Random source for fault probabilities and jitter (tests); default Math.random. */
  random?: () => number;
}

export interface IssuedPlaintext {
  operation: IssuingOperation;
  /** A copy of exactly the bytes returned base64-encoded in `Plaintext`. */
  plaintext: Buffer;
}

export interface KmsLocalStats {
  /** Requests per operation named in X-Amz-Target (faulted and rejected ones included). */
  calls: Record<string, number>;
  /** Faults injected, per kind. */
  faults: Record<FaultKind, number>;
  /** Error answers per `__type` (injected throttles and 5xx included). */
  errors: Record<string, number>;
}

export interface KmsLocal {
  /** Base URL for `endpoint` / `AWS_ENDPOINT_URL_KMS`, e.g. `http://127.0.0.1:40123`. */
  readonly url: string;
  readonly port: number;
  readonly region: string;
  /** With `https: true`: the self-signed certificate to trust (https.Agent `ca`, NODE_EXTRA_CA_CERTS). */
  readonly certificatePem?: string;
  /** The key behind `alias/secret-scope-local`. */
  readonly defaultKey: KeyRef;
  readonly stats: KmsLocalStats;
  /**
   * Every plaintext returned by GenerateRandom, Decrypt and GenerateDataKey, in order.
   * Throws unless the endpoint was started with `recordIssued: true`.
   */
  readonly issued: ReadonlyArray<IssuedPlaintext>;
  /** Empties `issued` and zero-fills the recorded copies (copy what you still need first). */
  clearIssued(): void;
  /** Zeroes `stats` (calls, faults, errors). */
  resetStats(): void;
  /** Replaces all faults and their counters; `undefined` removes them. */
  setFaults(faults: KmsFaults | undefined): void;
  /** A new AES-256 key held by the endpoint. */
  createKey(options?: CreateKeyOptions): KeyRef;
  /** A CiphertextBlob for Decrypt, made without a round trip (key by id, ARN or alias). */
  encryptForTest(keyId: string, plaintext: Uint8Array, encryptionContext?: EncryptionContext): Buffer;
  close(): Promise<void>;
}

function emptyStats(): KmsLocalStats {
  return {
    calls: {},
    faults: Object.fromEntries(FAULT_KINDS.map((k) => [k, 0])) as Record<FaultKind, number>,
    errors: {},
  };
}

function urlHost(host: string): string {
  return isIP(host) === 6 ? `[${host}]` : host;
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\./.test(host);
}

export async function startKmsLocal(options: KmsLocalOptions = {}): Promise<KmsLocal> {
  const host = options.host ?? '127.0.0.1';
  const region = options.region ?? 'us-east-1';
  const logger = options.logger ?? {};
  const keys = new KeyStore(region, options.accountId ?? DEFAULT_ACCOUNT_ID);
  const defaultKey = keys.createKey({ alias: DEFAULT_ALIAS, description: 'secret-scope local default key' });
  const recordIssued = options.recordIssued ?? false;
  const issued: IssuedPlaintext[] = [];
  const random = options.random ?? Math.random;
  let plan = new FaultPlan(options.faults ?? faultsFromEnvironment(), random);
  let stats = emptyStats();

  const countError = (type: string) => {
    stats.errors[type] = (stats.errors[type] ?? 0) + 1;
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = Date.now();
    const operation = targetOperation(req);
    const label = operation ?? '(no target)';
    const fail = (error: KmsProtocolError) => {
      countError(error.type);
      sendError(res, error);
      logger.debug?.(`kms-local ${label} ${error.status} ${error.type} ${Date.now() - started}ms`);
    };
    try {
      if (req.method !== 'POST') throw new KmsProtocolError('UnknownOperationException', 'Only POST is supported', 405);
      const body = await readBody(req);
      if (operation !== undefined) stats.calls[operation] = (stats.calls[operation] ?? 0) + 1;
      const auth = parseAuthorization(req.headers, region);
      if (options.verifySignature) {
        verifySignature({ method: req.method, url: req.url ?? '/', headers: req.headers, body }, auth, options.verifySignature);
      }
      if ((req.url ?? '/').split('?')[0] !== '/') {
        throw new KmsProtocolError('UnknownOperationException', 'Requests go to the path /', 404);
      }
      if (operation === undefined || !isOperation(operation)) {
        throw new KmsProtocolError(
          'UnknownOperationException',
          operation === undefined ? 'X-Amz-Target must be TrentService.<Operation>' : `Operation ${operation} is not supported by kms-local`,
        );
      }
      const decision = plan.decide(operation);
      if (decision.delayMs > 0) {
        stats.faults.latency++;
        await sleep(decision.delayMs);
      }
      if (decision.terminal) {
        stats.faults[decision.terminal.kind]++;
        logger.info?.(`kms-local ${operation}: injected ${describe(decision.terminal)}`);
        injectFault(decision.terminal, req, res, countError);
        return;
      }
      const input = parseJsonObject(body);
      const output = runOperation(operation, input, {
        keys,
        issue(op, plaintext) {
          if (recordIssued) issued.push({ operation: op, plaintext: Buffer.from(plaintext) });
        },
      });
      if (decision.delivery) {
        stats.faults[decision.delivery.kind]++;
        logger.info?.(`kms-local ${operation}: answering in pieces (${decision.delivery.kind})`);
        await sendJsonInPieces(res, output, decision.delivery);
      } else {
        sendJson(res, output);
      }
      logger.debug?.(`kms-local ${operation} 200 ${Date.now() - started}ms`);
    } catch (error) {
      if (error instanceof KmsProtocolError) return fail(error);
      logger.error?.(`kms-local ${label}: internal error: ${(error as Error)?.message ?? String(error)}`);
      if (!res.headersSent) fail(new KmsProtocolError('KMSInternalException', 'kms-local internal error', 500));
      else res.destroy();
    }
  }

  let certificatePem: string | undefined;
  let server: Server;
  const listener = (req: IncomingMessage, res: ServerResponse) => void handle(req, res);
  if (options.https) {
    const altNames = ['localhost', '127.0.0.1', '::1', host];
    const cert = createSelfSignedCertificate({ altNames });
    certificatePem = cert.certificatePem;
    server = createHttpsServer({ key: cert.privateKeyPem, cert: cert.certificatePem }, listener) as unknown as Server;
  } else {
    server = createHttpServer(listener);
  }
  server.on('clientError', (_err, socket) => socket.destroy());

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const url = `${options.https ? 'https' : 'http'}://${urlHost(host)}:${port}`;
  if (!isLoopback(host)) logger.warn?.(`kms-local is listening on ${host}, which is not a loopback address`);
  logger.info?.(`kms-local listening on ${url} (region ${region}, default key ${DEFAULT_ALIAS})`);

  let closed: Promise<void> | undefined;
  return {
    url,
    port,
    region,
    certificatePem,
    defaultKey,
    get stats() {
      return stats;
    },
    get issued(): ReadonlyArray<IssuedPlaintext> {
      if (!recordIssued) throw new Error('kms-local: start the endpoint with recordIssued: true to read issued');
      return issued;
    },
    clearIssued() {
      for (const entry of issued) entry.plaintext.fill(0);
      issued.length = 0;
    },
    resetStats() {
      stats = emptyStats();
    },
    setFaults(faults) {
      plan = new FaultPlan(faults, random);
    },
    createKey: (createOptions) => keys.createKey(createOptions),
    encryptForTest(keyId, plaintext, encryptionContext) {
      try {
        return keys.encrypt(keyId, plaintext, encryptionContext).blob;
      } catch (error) {
        if (error instanceof KmsProtocolError) throw new Error(`encryptForTest: ${error.message}`);
        throw error;
      }
    },
    close() {
      closed ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closed;
    },
  };
}

export const FAULTS_ENV = 'SECRET_SCOPE_KMS_LOCAL_FAULTS';

function faultsFromEnvironment(): KmsFaults | undefined {
  const text = process.env[FAULTS_ENV];
  if (text === undefined || text.trim() === '') return undefined;
  try {
    return JSON.parse(text) as KmsFaults;
  } catch {
    throw new TypeError(`${FAULTS_ENV} must hold the faults option as JSON`);
  }
}

function describe(fault: TerminalFault): string {
  return fault.kind === 'serverError' ? `serverError ${fault.status}` : fault.kind;
}

function injectFault(
  fault: TerminalFault,
  req: IncomingMessage,
  res: ServerResponse,
  countError: (type: string) => void,
): void {
  switch (fault.kind) {
    case 'connectionReset':
      return resetConnection(req.socket);
    case 'truncatedBody':
      return sendTruncated(res);
    case 'malformedJson':
      return sendMalformedJson(res);
    case 'throttle':
      countError('ThrottlingException');
      return sendError(res, new KmsProtocolError('ThrottlingException', 'Rate exceeded'));
    case 'serverError': {
      const error =
        fault.status === 503
          ? new KmsProtocolError('DependencyTimeoutException', 'The system timed out while trying to fulfill the request', 503)
          : new KmsProtocolError('KMSInternalException', 'The request was rejected because an internal exception occurred', 500);
      countError(error.type);
      return sendError(res, error);
    }
  }
}
