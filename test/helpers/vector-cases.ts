/**
 * Running Wycheproof cases on handles: each case in its own scope (its keys are
 * wiped when it ends), counted in a Tally, with absent vectors skipped locally and
 * fatal under CI=true. Shared by the asymmetric-key suites (ecdsa, ecdh, ed25519).
 */
import { expect, type TestContext } from 'vitest';
import { exposeUnsafe, openScope, type Key, type SecretScope } from '../../src/index.js';
import { requireVectors, vectorsUnavailable, type Tally } from './vectors.js';

export function needVectors(ctx: TestContext): void {
  const missing = vectorsUnavailable();
  if (!missing) return;
  if (requireVectors) throw new Error(`CI=true but ${missing}`);
  console.warn(`[vectors] skipped: ${missing}`);
  ctx.skip(missing);
}

export function inScope<T>(fn: (scope: SecretScope) => T): T {
  const scope = openScope();
  try {
    return fn(scope);
  } finally {
    scope.end();
  }
}

/** A key's bytes, through the only door there is (the key is released afterwards). */
export function bytesOf(key: Key): Buffer {
  return exposeUnsafe(key, (v) => Buffer.from(v));
}

export function errName(e: unknown): string {
  return e instanceof Error ? `${e.constructor.name}(${(e as { code?: string }).code ?? ''}): ${e.message}` : String(e);
}

/** Every case checked as its result class requires, no failure listed. */
export function finish(t: Tally, label: string): void {
  if (t.failures.length) console.error(`[vectors] ${label} failures:\n  ${t.failures.join('\n  ')}`);
  console.info(`[vectors] ${label}: checked ${JSON.stringify(t.checked)} of ${JSON.stringify(t.byResult)}`);
  expect(t.failures).toEqual([]);
  expect(t.checked).toEqual(t.byResult);
}

/** A big-endian integer of `size` bytes (Wycheproof writes private keys as ASN.1 integers: a leading 00, or short). */
export function fixedWidth(hexInt: string, size: number): Buffer {
  const v = BigInt(`0x${hexInt || '0'}`);
  return Buffer.from(v.toString(16).padStart(size * 2, '0'), 'hex');
}
