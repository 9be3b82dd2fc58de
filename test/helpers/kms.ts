/**
 * Shared setup for the issue-3 tests (test/scope-*.test.ts): the local KMS
 * endpoint, a client config for it, and the "wiped" assertions every entry
 * point is checked with.
 */
import { expect } from 'vitest';
import type { KMSClientConfig } from '@aws-sdk/client-kms';
import { startKmsLocal, type KmsLocal, type KmsLocalOptions } from '../../src/kms-local/index.js';
import { hmacSign, protectionReport, KeyReleasedError, ScopeEndedError, type Key, type SecretScope } from '../../src/index.js';

export type { KmsLocal };

export const DUMMY_CREDENTIALS = { accessKeyId: 'AKIDLOCALTEST', secretAccessKey: 'local-secret' };
export const REGION = 'us-east-1';

/** Starts the local endpoint on loopback. */
export async function startKms(options: KmsLocalOptions = {}): Promise<KmsLocal> {
  return startKmsLocal({ recordIssued: true, ...options });
}

/** Client config for the endpoint: one attempt (no SDK retries), so fault tests are deterministic. */
export function clientConfig(kms: KmsLocal, extra: Partial<KMSClientConfig> = {}): KMSClientConfig {
  return {
    endpoint: kms.url,
    region: REGION,
    credentials: DUMMY_CREDENTIALS,
    maxAttempts: 1,
    ...extra,
  };
}

/**
 * Points the default client (the one secret-scope builds without kms.clientConfig)
 * at the endpoint through the environment. Returns a function that restores it.
 */
export function useKmsEnv(kms: KmsLocal): () => void {
  const names = ['AWS_ENDPOINT_URL_KMS', 'AWS_REGION', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_MAX_ATTEMPTS'] as const;
  const saved = Object.fromEntries(names.map((n) => [n, process.env[n]]));
  process.env.AWS_ENDPOINT_URL_KMS = kms.url;
  process.env.AWS_REGION = REGION;
  process.env.AWS_ACCESS_KEY_ID = DUMMY_CREDENTIALS.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY = DUMMY_CREDENTIALS.secretAccessKey;
  process.env.AWS_MAX_ATTEMPTS = '1';
  return () => {
    for (const n of names) {
      if (saved[n] === undefined) delete process.env[n];
      else process.env[n] = saved[n];
    }
  };
}

/** Calls of one operation the endpoint received. */
export function calls(kms: KmsLocal, operation: string): number {
  return kms.stats.calls[operation] ?? 0;
}

export interface Baseline {
  liveSlots: number;
  liveScopes: number;
}

export function baseline(): Baseline {
  const r = protectionReport();
  return { liveSlots: r.liveSlots, liveScopes: r.liveScopes };
}

/** A key is dead: not alive, and using it throws KeyReleasedError or ScopeEndedError. */
export function expectDead(key: Key): void {
  expect(key.alive).toBe(false);
  let err: unknown;
  try {
    hmacSign(key, 'probe');
  } catch (e) {
    err = e;
  }
  expect(err, 'using a wiped key must throw').toBeDefined();
  expect(err instanceof ScopeEndedError || err instanceof KeyReleasedError, `unexpected error ${String(err)}`).toBe(true);
}

/**
 * "Wiped": the scope ended, every handle captured during the invocation is dead,
 * and the arena's live slots and scopes are back to the baseline.
 */
export function expectWiped(base: Baseline, scope: SecretScope | undefined, keys: Key[]): void {
  expect(scope, 'the handler saw its scope').toBeDefined();
  expect(scope!.active).toBe(false);
  expect(keys.length, 'the invocation captured at least one key').toBeGreaterThan(0);
  for (const k of keys) expectDead(k);
  const r = protectionReport();
  expect(r.liveSlots).toBe(base.liveSlots);
  expect(r.liveScopes).toBe(base.liveScopes);
}

/** A promise with its resolve function outside. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (v: T) => void; reject: (e: unknown) => void } {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Settles to the error a function throws (or undefined). */
export function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  return undefined;
}

/** The error a promise rejects with; fails if it resolves. */
export async function rejection(p: Promise<unknown>): Promise<Error & Record<string, any>> {
  try {
    await p;
  } catch (error) {
    return error as Error & Record<string, any>;
  }
  throw new Error('expected the promise to reject');
}

/** Waits (event loop turns, not time) until cond() holds; fails after `turns` macrotasks. */
export async function until(cond: () => boolean, what: string, turns = 2000): Promise<void> {
  for (let i = 0; i < turns; i++) {
    if (cond()) return;
    await new Promise((r) => setTimeout(r, 1));
  }
  throw new Error(`condition never held: ${what}`);
}

/** The node major version (middy 7 needs >= 22). */
export const NODE_MAJOR = Number(process.versions.node.split('.')[0]);
