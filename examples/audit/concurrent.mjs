// Audit fixture: concurrent invocations in one process (audit with --concurrency 64).
// Every invocation derives and uses its keys, then waits until `event.barrier`
// invocations hold live keys (at most 3 s), so the during-scope scan sees them all.
import * as lib from 'secret-scope';
import { fixtureOptions, useKeys, sleep } from './common.mjs';

export const auditConfig = { event: { barrier: 64, tenant: 'acme' } };

let arrived = 0;
let release;
let gate = new Promise((r) => (release = r));

async function barrier(n) {
  const mine = gate;
  if (++arrived >= n) {
    arrived = 0;
    release();
    gate = new Promise((r) => (release = r));
  }
  await Promise.race([mine, sleep(3000)]);
}

export function createHandler(env) {
  const options = fixtureOptions(env);
  const handler = lib.withSecretScope(async (event, context) => {
    const out = await useKeys(context.secretScope, lib, event);
    await barrier(Number(event?.barrier ?? 1));
    return { statusCode: 200, body: JSON.stringify(out) };
  }, options);
  return { handler, options };
}
