/**
 * Issue 9, item 6: purges recover. After every key of the thread was wiped at
 * once (purgeAllSecrets(), a canary violation, the exit purge on an uncaught
 * exception the process survives), the container-lived state of a wrapped
 * handler — the root key from KMS Decrypt, the ratchet pool, a prefetched
 * entropy value — is found dead on the next use and made again (Decrypt
 * again, KMS entropy again), with a log line through the configured logger
 * and a count in the core's report. On the old code every later invocation
 * failed with ERR_KEY_RELEASED, forever.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  hmacSign,
  protectionReport,
  purgeAllSecrets,
  randomKey,
  verifyGuards,
  CanaryViolationError,
  SecretScopeCore,
  type InvocationScope,
  type SecretScopeOptions,
} from '../src/index.js';
import { testing } from '../src/testing.js';
import { withCore } from '../src/lambda/wrapper.js';
import { calls, clientConfig, startKms, until, type KmsLocal } from './helpers/kms.js';
// @ts-expect-error plain JS helper shared with test/soak.test.ts
import { ensureDist, REPO_ROOT } from './fixtures/soak-dist.mjs';

let kms: KmsLocal;
let blob: string;
beforeAll(async () => {
  kms = await startKms();
  blob = kms.encryptForTest(kms.defaultKey.keyId, Buffer.alloc(32, 3)).toString('base64');
});
afterAll(async () => {
  await kms?.close();
});
beforeEach(() => {
  kms.setFaults(undefined);
  kms.clearIssued();
});

type Ctx = { secretScope?: InvocationScope };

/** A wrapped handler over a core of its own: returns the HMAC tag of each declared key, and the entropy source. */
function setup(keys: SecretScopeOptions['keys'], extra: Partial<SecretScopeOptions> = {}) {
  const warnings: string[] = [];
  const core = new SecretScopeCore({
    keys,
    root: { ciphertextBlob: blob },
    kms: { clientConfig: clientConfig(kms) },
    logger: { warn: (m) => warnings.push(m) },
    ...extra,
  });
  const handler = withCore(async (_e: unknown, context: Ctx) => {
    const scope = context.secretScope!;
    const out: Record<string, string> = {};
    for (const name of Object.keys(keys ?? {})) out[name] = hmacSign(await scope.key(name), 'm').toString('hex');
    out.source = String(scope.entropySource);
    return out;
  }, core);
  const invoke = () => handler({}, {}) as Promise<Record<string, string>>;
  return { core, invoke, warnings };
}

/** The ways every key of the thread gets wiped at once, in this process. */
const purges: Array<[string, () => void]> = [
  ['purgeAllSecrets()', () => expect(purgeAllSecrets()).toBeGreaterThan(0)],
  [
    'a canary violation (verifyGuards finds a damaged canary and wipes everything)',
    () => {
      const victim = randomKey(32, { scope: null });
      testing.corruptAt(victim, -1);
      expect(() => verifyGuards()).toThrow(CanaryViolationError);
    },
  ],
];

describe.each(purges)('after %s', (_name, purge) => {
  it('the root key is decrypted again on next use (same derived keys), logged and counted', async () => {
    const { core, invoke, warnings } = setup({ stable: { use: 'hmac', from: 'root' } });
    const before = calls(kms, 'Decrypt');
    const first = await invoke();
    purge();
    const second = await invoke();
    expect(second.stable).toBe(first.stable); // the same root key, from KMS again
    expect(calls(kms, 'Decrypt') - before).toBe(2);
    expect(core.report().root).toEqual({ decrypts: 2, purgesRecovered: 1 });
    expect(warnings.join('\n')).toMatch(/root key was wiped by a purge; decrypting it again/);
    // and it stays recovered: no further Decrypt
    expect((await invoke()).stable).toBe(first.stable);
    expect(calls(kms, 'Decrypt') - before).toBe(2);
    core.dispose();
  });

  it('the ratchet pool is re-seeded from KMS on next use, logged and counted', async () => {
    const { core, invoke, warnings } = setup({ mac: { use: 'hmac' } }, { entropy: { policy: 'ratchet', ratchetEveryInvocations: 1000 } });
    const before = calls(kms, 'GenerateRandom');
    expect((await invoke()).source).toBe('ratchet');
    expect(calls(kms, 'GenerateRandom') - before).toBe(1);
    purge();
    const after = await invoke();
    expect(after.source).toBe('ratchet');
    expect(calls(kms, 'GenerateRandom') - before).toBe(2); // re-seeded
    expect(core.report().entropy.purgesRecovered).toBe(1);
    expect(warnings.join('\n')).toMatch(/ratchet pool was wiped by a purge; fetching fresh entropy from KMS/);
    expect((await invoke()).source).toBe('ratchet');
    expect(calls(kms, 'GenerateRandom') - before).toBe(2);
    core.dispose();
  });

  it('a prefetched entropy value is fetched again on next use, logged and counted', async () => {
    const { core, invoke, warnings } = setup({ mac: { use: 'hmac' } }, { entropy: { policy: 'prefetch' } });
    const base = protectionReport().liveSlots;
    expect((await invoke()).source).toBe('kms');
    await until(() => protectionReport().liveSlots === base + 1, 'the next scope\'s entropy prefetched');
    purge();
    expect((await invoke()).source).toBe('kms');
    expect(core.report().entropy.purgesRecovered).toBe(1);
    expect(warnings.join('\n')).toMatch(/prefetched KMS entropy was wiped by a purge/);
    expect((await invoke()).source).toBe('kms');
    core.dispose();
  });
});

describe('after the exit purge of an uncaught exception the process survives', () => {
  beforeAll(async () => {
    await ensureDist();
  }, 180_000);

  it('the next invocation decrypts the root key and re-seeds the ratchet again (child process)', async () => {
    const out = await new Promise<string>((res, rej) =>
      execFile(process.execPath, [join(REPO_ROOT as string, 'test', 'fixtures', 'purge-uncaught-child.mjs')], { timeout: 60_000 }, (err, stdout, stderr) =>
        err ? rej(new Error(`${err.message}\n${stderr}`)) : res(stdout),
      ),
    );
    const r = JSON.parse(out.trim().split('\n').at(-1)!);
    expect(r.caught).toBe('boom');
    expect(r.purged).toBe(true); // the exit purge ran: the first invocation's root key died
    expect(r.first.ok).toBe(true);
    expect(r.second).toEqual({ ok: true, stable: r.first.stable, source: 'ratchet' });
    expect(r.report.root).toEqual({ decrypts: 2, purgesRecovered: 1 });
    expect(r.report.entropy.purgesRecovered).toBe(1);
    expect(r.warnings).toHaveLength(2);
  });
});
