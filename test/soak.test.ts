/**
 * Soak and restricted-environment proofs (issue 4). Resource assertions only, no timing.
 *
 * Soak: 10,000 invocations of one withSecretScope handler in one child process (plain JS
 * on dist/: test/fixtures/soak-child.mjs), after a warm-up; the process's open fds
 * (/proc/self/fd), VMAs (/proc/self/smaps), VmLck and VmRSS (/proc/self/status) are
 * printed at the baseline (after warm-up) and after the soak, and must come back:
 * - fds: exactly (KMS mode: every non-socket fd exactly; the SDK's keep-alive sockets
 *   to the endpoint may differ by at most the concurrency — none did in practice);
 * - VMAs: exactly for every mapping secret-scope makes (arena data mappings with their
 *   guard pages; there must be one data mapping per arena region) and for every
 *   file-backed and special mapping. Other anonymous mappings are V8's heap pages (256
 *   KiB each, mapped and unmapped as the heap breathes: ±2 between runs with no leak);
 *   they are printed and bounded (|Δ| <= 16; 64 in KMS mode, where the SDK's garbage makes
 *   the heap breathe more: +5..+14 seen). The churn case makes the arena create and
 *   destroy a region ~900 times during the soak, so a per-region VMA leak would be far
 *   outside that bound, and the arena count itself is asserted exactly (that case pins
 *   idleReleaseMs 0, the policy before region retention; the case after it keeps the default
 *   idle release: regions kept while busy, so it creates a handful instead of ~900);
 * - baseline and after are both measured once the arena's idle release is done
 *   (test/fixtures/soak-child.mjs waits for protectionReport().idleReleasePending to clear);
 * - VmLck exactly (and the arena's lockedBytes), RSS within +64 MiB.
 *
 * Restricted: uid 65534, RLIMIT_MEMLOCK 64 KiB, with memfd_secret and with memfd_secret
 * denied by seccomp: 64 concurrent wrapped invocations, each deriving 6 keys, all alive
 * at once, then all wiped (test/fixtures/soak-restricted.mjs). And past the limit: the
 * invocations that do not fit fail with a typed ArenaExhaustedError, the others succeed,
 * and nothing is left afterwards.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, cleanupTempDirs, runNode, type RunResult } from './helpers/restricted.js';

const PIN_YOUNG_GEN = ['--min-semi-space-size=16', '--max-semi-space-size=16'];
import { startKmsLocal, type KmsLocal } from '../src/kms-local/index.js';
// @ts-expect-error plain JS helper shared with test/exit-purge.test.ts
import { ensureDist } from './fixtures/soak-dist.mjs';

const SOAK = join(REPO_ROOT, 'test', 'fixtures', 'soak-child.mjs');
const RESTRICTED = join(REPO_ROOT, 'test', 'fixtures', 'soak-restricted.mjs');
const MiB = 1 << 20;

interface Metrics {
  fds: { total: number; socket: number; pipe: number; anon: number; file: number; other: number };
  vmas: { total: number; arena: number; arenaData: number; file: number; special: number; anon: number };
  vmLck: number;
  vmRss: number;
  heapUsed: number;
  arena: {
    regions: number;
    lockedBytes: number;
    reservedBytes: number;
    liveSlots: number;
    liveScopes: number;
    cellsInUse: number;
    regionsCreated: number;
    regionsReleased: number;
    regionsReleasedIdle: number;
    retainedRegions: number;
    idleReleasePending: boolean;
  };
}
type Line = Record<string, any> & { stage: string };

const parse = (r: RunResult): Line[] =>
  r.stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Line);

function stage(r: RunResult, name: string): Line {
  const l = parse(r).find((x) => x.stage === name);
  if (!l) throw new Error(`child never reached '${name}' (code ${r.code}, signal ${r.signal})\n${r.stdout.slice(-2000)}\n${r.stderr.slice(-3000)}`);
  return l;
}

function table(title: string, base: Metrics, after: Metrics, extra: string): void {
  const row = (name: string, a: number, b: number, unit = '') => `  ${name.padEnd(26)} ${String(a).padStart(10)}${unit} ${String(b).padStart(10)}${unit} ${(b - a >= 0 ? '+' : '') + (b - a)}${unit}`;
  console.log(
    [
      `[soak] ${title}`,
      `  ${''.padEnd(26)} ${'baseline'.padStart(10)} ${'after'.padStart(10)}  delta`,
      row('open fds', base.fds.total, after.fds.total),
      row('  of which sockets', base.fds.socket, after.fds.socket),
      row('VMAs (/proc/self/maps)', base.vmas.total, after.vmas.total),
      row('  arena (data + guards)', base.vmas.arena, after.vmas.arena),
      row('  arena data mappings', base.vmas.arenaData, after.vmas.arenaData),
      row('  file-backed', base.vmas.file, after.vmas.file),
      row('  [special]', base.vmas.special, after.vmas.special),
      row('  other anon (V8 heap..)', base.vmas.anon, after.vmas.anon),
      row('VmLck', base.vmLck / 1024, after.vmLck / 1024, ' KiB'),
      row('VmRSS', Math.round(base.vmRss / MiB), Math.round(after.vmRss / MiB), ' MiB'),
      row('arena regions', base.arena.regions, after.arena.regions),
      row('arena regions created', base.arena.regionsCreated, after.arena.regionsCreated),
      row('arena lockedBytes', base.arena.lockedBytes, after.arena.lockedBytes),
      `  ${extra}`,
    ].join('\n'),
  );
}

async function soak(spec: Record<string, unknown>): Promise<{ base: Metrics; after: Metrics; config: Line; end: Line; samples: Line[] }> {
  // The young generation is pinned at its maximum from the start: otherwise V8 grows it
  // (64 more 256 KiB pages, once) whenever allocation gets fast enough, which is not a leak.
  const r = await runNode(SOAK, { nodeArgs: ['--expose-gc', ...PIN_YOUNG_GEN], args: [JSON.stringify(spec)], timeoutMs: 90_000 });
  expect(r.timedOut, r.stderr).toBe(false);
  expect({ code: r.code, signal: r.signal }, r.stderr.slice(-3000)).toEqual({ code: 0, signal: null });
  return {
    config: stage(r, 'config'),
    base: stage(r, 'baseline').metrics as Metrics,
    after: stage(r, 'after').metrics as Metrics,
    end: stage(r, 'after'),
    samples: parse(r).filter((l) => l.stage === 'sample'),
  };
}

/** What every soak must show, whatever the mode. */
function expectBackToBaseline(base: Metrics, after: Metrics, anonBound = 16) {
  // Nothing alive before or after.
  for (const m of [base, after]) {
    expect(m.arena.liveSlots).toBe(0);
    expect(m.arena.liveScopes).toBe(0);
    // One data mapping per arena region, found by its flags (secretmem, or locked + dontdump).
    expect(m.vmas.arenaData).toBe(m.arena.regions);
  }
  // Every mapping secret-scope makes, exactly.
  expect(after.arena.regions).toBe(base.arena.regions);
  expect(after.vmas.arena).toBe(base.vmas.arena);
  expect(after.vmas.arenaData).toBe(base.vmas.arenaData);
  expect(after.vmas.file).toBe(base.vmas.file);
  expect(after.vmas.special).toBe(base.vmas.special);
  // V8's heap pages breathe (±2 between identical local runs, up to +14 with the AWS SDK's garbage in
  // KMS mode); a leak per invocation (10,000) or per region (~900 in the churn case) would not fit here.
  expect(Math.abs(after.vmas.anon - base.vmas.anon)).toBeLessThanOrEqual(anonBound);
  // Locked memory, exactly.
  expect(after.vmLck).toBe(base.vmLck);
  expect(after.arena.lockedBytes).toBe(base.arena.lockedBytes);
  expect(after.vmLck).toBeGreaterThanOrEqual(after.arena.lockedBytes);
  // RSS: generous bound.
  expect(after.vmRss - base.vmRss).toBeLessThan(64 * MiB);
}

let kms: KmsLocal;

beforeAll(async () => {
  const what = await ensureDist();
  console.log(`[soak] ${what}`);
  kms = await startKmsLocal();
}, 180_000);

afterAll(async () => {
  await kms?.close();
  cleanupTempDirs();
});

describe('soak: 10,000 invocations in one process, resources back to baseline', () => {
  const N = 10_000;

  it('local entropy, default backend, 64 concurrent invocations', async () => {
    const { base, after, config, end } = await soak({ mode: 'local', invocations: N, warmup: 10_000, concurrency: 64 });
    table(`local entropy, ${config.backend}, concurrency 64, ${N} invocations (${end.ms} ms)`, base, after, `thrown on purpose: ${end.thrown}; sources ${JSON.stringify(end.sources)}`);
    expectBackToBaseline(base, after);
    expect(after.fds.total).toBe(base.fds.total);
    expect(after.fds).toEqual(base.fds);
    expect(end.thrown).toBe(N / 10);
    expect(end.sources).toEqual({ local: N - N / 10 });
  });

  // 1-page regions, none retained when idle, 64 at once: the arena needs new regions all the time.
  const CHURN_SOAK = { mode: 'local', invocations: N, warmup: 10_000, concurrency: 64, backend: 'mlock', regionPages: 1, retainRegions: 0 } as const;

  it('local entropy, mlock backend, 1-page regions, retainRegions 0 and idleReleaseMs 0 (the arena creates and destroys regions all the time)', async () => {
    const { base, after, config, end } = await soak({ ...CHURN_SOAK, idleReleaseMs: 0 });
    const churn = after.arena.regionsCreated - base.arena.regionsCreated;
    table(`local entropy, ${config.backend}, regionPages 1, retainRegions 0, idleReleaseMs 0, concurrency 64`, base, after, `regions created during the soak: ${churn}`);
    expect(config.backend).toBe('mlock');
    expect(churn).toBeGreaterThan(100);
    expect(after.arena.regionsReleased - base.arena.regionsReleased).toBe(churn);
    expectBackToBaseline(base, after);
    expect(after.fds).toEqual(base.fds);
    expect(end.sources).toEqual({ local: N - N / 10 });
  });

  it('the same with the default idle release: empty regions kept while busy, and after idle VmLck, VMAs and regions back to baseline', async () => {
    const { base, after, config, samples } = await soak({ ...CHURN_SOAK, samples: 1000 });
    const created = after.arena.regionsCreated - base.arena.regionsCreated;
    table(`local entropy, ${config.backend}, regionPages 1, retainRegions 0, default idle release, concurrency 64`, base, after, `regions created during the soak: ${created}; released when idle: ${after.arena.regionsReleasedIdle - base.arena.regionsReleasedIdle}`);
    expect(config.backend).toBe('mlock');
    // Both measured once the idle release was done: nothing retained, only region 0 (retainRegions 0).
    for (const m of [base, after]) {
      expect(m.arena.idleReleasePending).toBe(false);
      expect(m.arena.retainedRegions).toBe(0);
      expect(m.arena.regions).toBe(1);
    }
    // Busy: the arena grew once (it starts the soak at 1 region) and then reused its regions. The case
    // above (idleReleaseMs 0) creates hundreds; a regression to that would be far above this bound.
    const grown = Math.max(...samples.map((l) => l.metrics.arena.regions));
    expect(grown).toBeGreaterThan(2);
    expect(created).toBeLessThanOrEqual(grown + N / 1000);
    // Idle: the kept regions were unmapped by the idle path, and everything is back.
    expect(after.arena.regionsReleasedIdle - base.arena.regionsReleasedIdle).toBeGreaterThan(0);
    expect(after.arena.regionsReleased - base.arena.regionsReleased).toBe(created);
    expectBackToBaseline(base, after);
    expect(after.fds).toEqual(base.fds);
  });

  it('KMS entropy per invocation from the local endpoint, 4 concurrent invocations', async () => {
    kms.resetStats();
    const concurrency = 4;
    const warmup = 1_000;
    const { base, after, config, end } = await soak({ mode: 'kms', invocations: N, warmup, concurrency, kmsUrl: kms.url });
    table(
      `KMS per-invocation, ${config.backend}, concurrency ${concurrency}, ${N} invocations (${end.ms} ms)`,
      base,
      after,
      `GenerateRandom calls: ${kms.stats.calls.GenerateRandom}; keep-alive sockets to the endpoint at baseline/after: ${base.fds.socket}/${after.fds.socket}`,
    );
    expectBackToBaseline(base, after, 64);
    // Every fd but the SDK agent's keep-alive sockets, exactly; those may differ by at most one per concurrent request.
    expect({ ...after.fds, socket: 0, total: 0 }).toEqual({ ...base.fds, socket: 0, total: 0 });
    expect(Math.abs(after.fds.socket - base.fds.socket)).toBeLessThanOrEqual(concurrency);
    expect(after.fds.socket).toBeLessThanOrEqual(concurrency + base.fds.socket);
    expect(end.sources).toEqual({ kms: N - N / 10 });
    expect(kms.stats.calls.GenerateRandom).toBe(N + warmup);
  });
});

describe('restricted: uid 65534, RLIMIT_MEMLOCK 64 KiB, 64 concurrent scopes through withSecretScope', () => {
  const root = process.getuid?.() === 0;

  async function restricted(denyMemfdSecret: boolean, keysPerScope: number) {
    const r = await runNode(RESTRICTED, {
      asUser: 65534,
      memlock: 65536,
      denyMemfdSecret,
      args: [JSON.stringify({ scopes: 64, keysPerScope })],
      timeoutMs: 60_000,
    });
    expect(r.timedOut, r.stderr).toBe(false);
    const res = stage(r, 'result');
    console.log(
      `[restricted] memfd_secret ${denyMemfdSecret ? 'denied by seccomp' : 'allowed'}, ${keysPerScope} keys/scope: backend ${res.backend}, ` +
        `peak ${res.peak?.liveScopes} scopes / ${res.peak?.liveSlots} slots / ${res.peak?.regions} regions / VmLck ${res.peak?.vmLck} B; ` +
        `ok ${res.ok}, failed ${res.failedCount} ${JSON.stringify(res.failedCodes)}; after: ${JSON.stringify(res.after)}`,
    );
    expect({ code: r.code, signal: r.signal }, r.stderr).toEqual({ code: 0, signal: null });
    expect(res.uid).toBe(65534);
    expect(res.memlockLimit).toBe(65536);
    expect(res.locked).toBe(true);
    if (denyMemfdSecret) {
      expect(res.backend).toBe('mlock');
      expect(res.memfdSecret).toMatchObject({ tried: true, used: false });
    }
    // All 64 scopes were alive at once, within the limit.
    expect(res.peak).toMatchObject({ liveScopes: 64 });
    expect(res.peak.vmLck).toBeLessThanOrEqual(65536);
    expect(res.peak.lockedBytes).toBeLessThanOrEqual(65536);
    // ...then all wiped.
    expect(res.after).toMatchObject({ liveSlots: 0, liveScopes: 0 });
    expect(res.handlesAliveAfter).toBe(0);
    return res;
  }

  for (const deny of [false, true]) {
    it.skipIf(!root)(`${deny ? 'memfd_secret denied (seccomp)' : 'memfd_secret allowed'}: 64 scopes x 6 keys all succeed, then all wiped`, async () => {
      const res = await restricted(deny, 6);
      expect(res.ok).toBe(64);
      expect(res.failedCount).toBe(0);
      expect(res.peak.liveSlots).toBe(64 * 7); // 6 keys + the scope's PRK
      expect(res.keysPerInvocation).toEqual([7]);
      expect(res.distinctTags).toBe(64); // every scope derived its own keys
      expect(res.roundTrips).toBe(64);
      expect(res.sources).toEqual(['local']);
      expect(res.handles).toBe(64 * 6);
    });

    it.skipIf(!root)(`${deny ? 'memfd_secret denied (seccomp)' : 'memfd_secret allowed'}: past the limit, typed ArenaExhaustedError, the rest succeed, nothing left`, async () => {
      const res = await restricted(deny, 16);
      expect(res.failedCount).toBeGreaterThan(0);
      expect(res.ok).toBeGreaterThan(0);
      expect(res.ok + res.failedCount).toBe(64);
      expect(res.failedCodes).toEqual(['ERR_ARENA_EXHAUSTED']);
      expect(res.distinctTags).toBe(res.ok);
    });
  }
});
