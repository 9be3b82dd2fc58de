/**
 * The concurrent-isolation probe shared by the wrapper/decorator and middy suites: N
 * invocations in flight at once, each takes its scope's key, waits until all N have one,
 * tries another invocation's key (must be ScopeEndedError), and checks at every await,
 * timer and immediate that currentScope() is still its own scope and that a key made with
 * the default owner goes to it.
 */
import { expect } from 'vitest';
import { currentScope, hmacSign, randomKey, ScopeEndedError, type InvocationScope, type Key, type SecretScope } from '../../src/index.js';
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
      // a key made with the default owner belongs to this invocation's scope (wiped with it)
      if (randomKey(16).scope !== scope) mismatches.push(`${i}@${where}: default-owner key`);
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

  return { handler, verify, scopes };
}

interface Sighting {
  i: number;
  where: string;
  current: SecretScope | undefined;
  contextScope: unknown;
  key: Key;
}

/**
 * Middlewares around ours that try to reach a scope: at each one, currentScope(),
 * context.secretScope and the owner a key made with the default owner gets must be
 * this invocation's scope or nothing, never another invocation's. `sync` ones run in
 * whatever frame middy calls them from (for the first ones: the invoking frame).
 */
export function neighbourProbe() {
  const sightings: Sighting[] = [];
  const look = (where: string) => (request: { event: { i: number }; context: Record<string, unknown> }) => {
    const i = request.event.i;
    const contextScope = Object.getOwnPropertyDescriptor(request.context, 'secretScope') ? request.context.secretScope : undefined;
    sightings.push({ i, where, current: currentScope(), contextScope, key: randomKey(32) });
  };
  const middleware = (where: string, mode: 'sync' | 'async') => ({
    before:
      mode === 'sync'
        ? look(where)
        : async (request: { event: { i: number }; context: Record<string, unknown> }) => {
            await new Promise((r) => setImmediate(r));
            look(where)(request);
          },
  });

  /** After every invocation settled. `bound(where)`: whether that middleware must see its own scope (else none). */
  const verify = (scopes: InvocationScope[], bound: (where: string) => boolean) => {
    expect(sightings.length).toBeGreaterThan(0);
    const wrong: string[] = [];
    for (const s of sightings) {
      const own = scopes[s.i];
      const expected = bound(s.where) ? own : undefined;
      if (s.current !== expected) wrong.push(`${s.i}@${s.where}: currentScope() ${s.current ? (s.current === own ? 'own' : `scope of ${s.current.name}`) : 'none'}`);
      if (s.contextScope !== undefined && s.contextScope !== own) wrong.push(`${s.i}@${s.where}: context.secretScope of another invocation`);
      if (s.key.scope !== (expected ?? null)) wrong.push(`${s.i}@${s.where}: a default-owner key went to ${s.key.scope?.name ?? 'no scope'}`);
    }
    expect(wrong).toEqual([]);
    for (const s of sightings) if (s.key.scope === null) s.key.release(); // the probe's own unscoped keys
  };
  return { middleware, verify };
}
