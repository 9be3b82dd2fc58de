/**
 * Issue 9, item 6: partial work releases every slot it took. Each multi-slot
 * path of the KMS layer is run with the arena filled so that exactly its last
 * allocation fails (ArenaExhaustedError); afterwards the arena holds exactly
 * what it held before, and the path works again once there is room.
 *
 * This file's process configures a small arena (one region of one page) before
 * any key exists; vitest runs each test file in a process of its own.
 * On the old code the ratchet's scope seed (seed made, next pool failed) and
 * the refresh's mixed key (mixed made, pool failed) stayed live, unowned,
 * until the process ended; and a capture repeated by an SDK retry dropped the
 * first attempt's key without releasing it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GenerateRandomCommand, KMSClient } from '@aws-sdk/client-kms';
import {
  configureSecretMemory,
  hmacSign,
  protectionReport,
  randomKey,
  sendCapturingPlaintext,
  ArenaExhaustedError,
  SecretScopeCore,
  type InvocationScope,
  type Key,
  type SecretScopeOptions,
} from '../src/index.js';
import { withCore } from '../src/lambda/wrapper.js';
import { clientConfig, startKms, type KmsLocal } from './helpers/kms.js';

let kms: KmsLocal;
beforeAll(async () => {
  configureSecretMemory({ regionPages: 1, maxRegions: 1, require: 'any' });
  kms = await startKms();
});
afterAll(async () => {
  await kms?.close();
});

const fillers: Key[] = [];

/** Fills the arena with 32-byte keys, then frees `free` of them: exactly `free` slots remain. */
function leaveFree(free: number): void {
  releaseFillers();
  for (;;) {
    try {
      fillers.push(randomKey(32, { scope: null, label: 'filler' }));
    } catch (e) {
      expect(e).toBeInstanceOf(ArenaExhaustedError);
      break;
    }
  }
  expect(fillers.length).toBeGreaterThan(free);
  for (let i = 0; i < free; i++) fillers.pop()!.release();
}

function releaseFillers(): void {
  for (const k of fillers.splice(0)) k.release();
}

const live = () => protectionReport().liveSlots;

function setup(extra: Partial<SecretScopeOptions>) {
  const core = new SecretScopeCore({ keys: { mac: { use: 'hmac' } }, kms: { clientConfig: clientConfig(kms) }, ...extra });
  const handler = withCore(async (_e: unknown, context: { secretScope?: InvocationScope }) => {
    return hmacSign(await context.secretScope!.key('mac'), 'm').length;
  }, core);
  return { core, invoke: () => handler({}, {}) };
}

describe('ArenaExhausted part-way through a multi-slot path leaves nothing behind', () => {
  it('ratchet: the scope seed is released when the next pool cannot be made; the pool still serves after', async () => {
    const { core, invoke } = setup({ entropy: { policy: 'ratchet', ratchetEveryInvocations: 1000 } });
    expect(await invoke()).toBe(32); // seeded: the pool is live
    leaveFree(1); // room for the scope seed, none for the next pool
    const before = live();
    await expect(invoke()).rejects.toBeInstanceOf(ArenaExhaustedError);
    expect(live()).toBe(before);
    releaseFillers();
    expect(await invoke()).toBe(32);
    core.dispose();
  });

  it('ratchet refresh: the mixed key is released when the new pool cannot be made', async () => {
    const { core, invoke } = setup({ entropy: { policy: 'ratchet' } });
    leaveFree(2); // room for the KMS bytes and the mixed key, none for the pool
    const before = live();
    await expect(invoke()).rejects.toBeInstanceOf(ArenaExhaustedError);
    expect(live()).toBe(before);
    releaseFillers();
    expect(await invoke()).toBe(32);
    core.dispose();
  });

  it('per-invocation: the KMS bytes and the local entropy are released when the PRK cannot be made', async () => {
    const { core, invoke } = setup({});
    leaveFree(2); // KMS bytes, local entropy; no room for the PRK
    const before = live();
    await expect(invoke()).rejects.toBeInstanceOf(ArenaExhaustedError);
    expect(live()).toBe(before);
    releaseFillers();
    expect(await invoke()).toBe(32);
    core.dispose();
  });
});

describe('a capture repeated by an SDK retry', () => {
  it('releases the key the first attempt captured', async () => {
    const client = new KMSClient(clientConfig(kms, { maxAttempts: 2 }));
    // After the capture (which sits at the end of the deserialize step), fail the first
    // attempt with an error the SDK retries: the capture runs again on the second attempt.
    let attempts = 0;
    client.middlewareStack.add(
      (next) => async (args) => {
        const out = await next(args);
        if (++attempts === 1) throw Object.assign(new Error('transient'), { $metadata: {}, $retryable: {}, name: 'TransientError' });
        return out;
      },
      { step: 'deserialize', priority: 'high', name: 'failFirstAttempt' },
    );
    const before = live();
    const { key } = await sendCapturingPlaintext(client, new GenerateRandomCommand({ NumberOfBytes: 32 }) as never, { scope: null });
    expect(attempts).toBe(2);
    expect(live()).toBe(before + 1); // the second attempt's key only
    key.release();
    expect(live()).toBe(before);
    client.destroy();
  });
});
