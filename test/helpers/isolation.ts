/**
 * The concurrent-isolation probe shared by the wrapper/decorator and middy suites: N
 * invocations in flight at once, each takes its scope's key, waits until all N have one,
 * tries another invocation's key (must be ScopeEndedError), and checks at every await,
 * timer and immediate that currentScope() is still its own scope.
 */
import { expect } from 'vitest';
import { currentScope, hmacSign, ScopeEndedError, type InvocationScope, type Key } from '../../src/index.js';
import { baseline, deferred, expectDead, thrown } from './kms.js';

export function concurrentIsolation(N: number, crossOffset: number) {
  const base = baseline();
  const registry: Key[] = new Array(N);
  const scopes: InvocationScope[] = new Array(N);
  const crossErrors: unknown[] = new Array(N);
  const mismatches: string[] = [];
  let arrived = 0;
  const allHaveKeys = deferred();

  const handler = async (event: { i: number }, context: { secretScope?: InvocationScope }): Promise<string> => {
    const i = event.i;
    const scope = context.secretScope!;
    scopes[i] = scope;
    const check = (where: string) => {
      if (currentScope() !== scope) mismatches.push(`${i}@${where}`);
    };
    check('start');
    await new Promise((r) => setTimeout(r, i % 4));
    check('after timer');
    const mac = await scope.key('mac');
    check('after key');
    registry[i] = mac;
    if (++arrived === N) allHaveKeys.resolve();
    await allHaveKeys.promise; // every invocation is in flight at once
    check('after barrier');
    crossErrors[i] = thrown(() => hmacSign(registry[(i + crossOffset) % N]!, 'cross'));
    await new Promise<void>((r) =>
      setTimeout(() => {
        check('in timer callback');
        r();
      }, 0),
    );
    await new Promise((r) => setImmediate(r));
    check('after setImmediate');
    return hmacSign(mac, 'same message for everyone').toString('hex');
  };

  /** After all N resolved with `tags`: isolated, distinct, all ended, nothing left. */
  const verify = (tags: string[], requestId: (i: number) => string) => {
    expect(mismatches).toEqual([]);
    expect(new Set(scopes).size).toBe(N);
    for (let i = 0; i < N; i++) {
      expect(scopes[i]!.name).toBe(requestId(i));
      expect(crossErrors[i], `invocation ${i} used invocation ${(i + crossOffset) % N}'s key`).toBeInstanceOf(ScopeEndedError);
    }
    expect(new Set(tags).size).toBe(N); // derived keys differ across invocations
    for (const s of scopes) expect(s.active).toBe(false);
    for (const k of registry) expectDead(k);
    expect(baseline()).toEqual(base);
  };

  return { handler, verify };
}
