/**
 * Region retention (issue 11, goal 4): the arena keeps the empty regions it recently needed,
 * so that a workload oscillating around N regions does not map and unmap regions over and
 * over, and gives the surplus back once idle (configureSecretMemory idleReleaseMs;
 * native/region-pool.cc). Behaviour only, no timing: every case runs in a child process
 * with a fresh arena on the raw addon (test/fixtures/retention-child.mjs), which waits
 * (bounded) for the idle release where a case needs it.
 *
 * - steady state: 256 concurrent scopes in waves, 10,240 scopes after a warm-up: at most
 *   1 region created per 1,000 scopes (before: ~20, every wave unmapped and mapped again
 *   all regions beyond retainRegions);
 * - idle: after a burst, VmLck (/proc/self/status) and the region count return to the
 *   baseline; right after the burst the regions are still there (retained);
 * - the idle release never unmaps a region holding a live key (a scope's, an unscoped one
 *   in the last region, a sealed vault key), and the keys keep their bytes;
 * - teardown: workers that end or are terminated with a release pending free their arena
 *   (the process's VmLck is the main arena's alone afterwards), and the process exits with
 *   a release pending an hour away (the timer is unref'd);
 * - fallbacks: the mlock backend under RLIMIT_MEMLOCK 64 KiB with memfd_secret denied, and
 *   bad idleReleaseMs values are typed errors.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { configureSecretMemory, InvalidArgumentError, protectionReport } from '../src/index.js';
import { REPO_ROOT, runNode, type RunResult } from './helpers/restricted.js';

const CHILD = join(REPO_ROOT, 'test', 'fixtures', 'retention-child.mjs');

interface State {
  vmLck: number;
  regions: number;
  lockedBytes: number;
  regionsCreated: number;
  regionsReleased: number;
  regionsReleasedIdle: number;
  retainedRegions: number;
  idleReleasePending: boolean;
  idleReleaseMs: number;
  retainRegions: number;
  liveSlots: number;
  liveScopes: number;
}
type Line = Record<string, any> & { stage: string };

async function child(spec: Record<string, unknown>, restrict: Parameters<typeof runNode>[1] = {}): Promise<Line[]> {
  const r: RunResult = await runNode(CHILD, { args: [JSON.stringify(spec)], timeoutMs: 60_000, ...restrict });
  expect(r.timedOut, r.stderr).toBe(false);
  expect({ code: r.code, signal: r.signal }, r.stderr.slice(-3000)).toEqual({ code: 0, signal: null });
  const lines = r.stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Line);
  expect(lines.at(-1)?.stage, r.stdout.slice(-2000)).toBe('done');
  return lines;
}

const stage = (lines: Line[], name: string) => lines.filter((l) => l.stage === name);

describe('region retention', () => {
  it('steady state, 256 concurrent scopes in waves: at most 1 region created per 1,000 scopes (default policy)', async () => {
    const [s] = stage(await child({ test: 'steady' }), 'steady');
    const created = s!.after.regionsCreated - s!.before.regionsCreated;
    const per1000 = (1000 * created) / s!.scopes;
    console.log(`[retention] ${s!.scopes} scopes in waves of 256: peak ${s!.peak} regions, ${created} created (${per1000.toFixed(2)} / 1000 scopes)`);
    expect(s!.scopes).toBe(10_240);
    expect(s!.peak).toBeGreaterThan(3); // more than region 0 + retainRegions: the old policy unmapped some every wave
    expect(per1000).toBeLessThanOrEqual(1);
    expect(s!.after.liveSlots).toBe(0);
  });

  it('idle: after a burst, VmLck and the region count return to the baseline (retainRegions 0)', async () => {
    const lines = await child({ test: 'idle', rounds: 2, config: { idleReleaseMs: 50, retainRegions: 0 } });
    for (const l of stage(lines, 'idle')) {
      const { baseline, retained, after } = l as unknown as { baseline: State; retained: State; after: State };
      console.log(`[retention] round ${l.round}: baseline ${baseline.regions} regions / VmLck ${baseline.vmLck}; after the burst ${retained.regions} / ${retained.vmLck}; after idle ${after.regions} / ${after.vmLck}`);
      expect(baseline.regions).toBe(1);
      // Right after the burst: kept for reuse, release pending.
      expect(l.peak).toBeGreaterThan(3);
      expect(retained.regions).toBe(l.peak);
      expect(retained.retainedRegions).toBe(l.peak - 1);
      expect(retained.idleReleasePending).toBe(true);
      expect(retained.vmLck).toBeGreaterThan(baseline.vmLck);
      // Idle: back to the baseline, by the idle path.
      expect(after.idleReleasePending).toBe(false);
      expect(after.regions).toBe(baseline.regions);
      expect(after.vmLck).toBe(baseline.vmLck);
      expect(after.lockedBytes).toBe(baseline.lockedBytes);
      expect(after.retainedRegions).toBe(0);
      expect(after.regionsReleasedIdle - baseline.regionsReleasedIdle).toBe(l.peak - 1);
      expect(after.liveSlots).toBe(0);
    }
  });

  it('idle with the defaults (retainRegions 2, idleReleaseMs 1000): back to the baseline after every burst', async () => {
    const lines = await child({ test: 'idle', rounds: 1, baselineAfterBurst: true });
    for (const l of stage(lines, 'idle')) {
      const { baseline, retained, after } = l as unknown as { baseline: State; retained: State; after: State };
      expect(baseline.idleReleaseMs).toBe(1000);
      expect(baseline.regions).toBe(1 + 2);
      expect(retained.regions).toBeGreaterThan(baseline.regions);
      expect(after.regions).toBe(baseline.regions);
      expect(after.vmLck).toBe(baseline.vmLck);
      expect(after.retainedRegions).toBe(2);
    }
  });

  it('the idle release never unmaps a region with a live key, and those keys keep their bytes', async () => {
    const [l] = stage(await child({ test: 'live', config: { idleReleaseMs: 50, retainRegions: 0, regionPages: 1 } }), 'live');
    const { grown, retained, after, end } = l as unknown as Record<string, State>;
    console.log(`[retention] live keys: grown ${grown.regions} regions, after idle ${after.regions} (${after.regionsReleasedIdle} released), end ${end.regions}`);
    expect(grown.regions).toBeGreaterThan(5);
    expect(retained.idleReleasePending).toBe(true);
    // The idle path ran and released the empty ones...
    expect(after.idleReleasePending).toBe(false);
    expect(after.regionsReleasedIdle).toBeGreaterThan(0);
    expect(after.retainedRegions).toBe(0);
    // ...but not region 0, the regions of the live scope, of the last key, or the vault region.
    expect(after.regions).toBeGreaterThanOrEqual(4);
    expect(after.liveSlots).toBe(retained.liveSlots);
    expect(l!.verified).toBe(after.liveSlots);
    expect(l!.keptIntact).toBe(true);
    expect(l!.lastIntact).toBe(true);
    expect(l!.lastSameSlot).toBe(true);
    expect(l!.vaultUsable).toBe(true);
    // Once they are released too, idle brings the arena back to region 0.
    expect(end.liveSlots).toBe(0);
    expect(end.regions).toBe(1);
    expect(end.vmLck).toBe(grown.vmLck - (grown.lockedBytes - end.lockedBytes));
  });

  it('teardown with a release pending: workers free their arenas, the process exits (unref\'d timer)', async () => {
    const [l] = stage(await child({ test: 'teardown' }), 'teardown');
    expect(l!.ended).toMatchObject({ pending: true, exitCode: 0 });
    expect(l!.terminated).toMatchObject({ pending: true, exitCode: 1 });
    expect(l!.ended.regions).toBeGreaterThan(3);
    expect(l!.main.idleReleasePending).toBe(true);
    // Both workers' regions are gone: the process's locked memory is the main arena's alone.
    expect(l!.main.vmLck).toBe(l!.main.lockedBytes);
  });

  const root = process.getuid?.() === 0;
  it.skipIf(!root)('fallback: mlock backend, uid 65534, RLIMIT_MEMLOCK 64 KiB, memfd_secret denied: retained, then back to baseline', async () => {
    const lines = await child(
      { test: 'idle', burst: 48, config: { idleReleaseMs: 50, retainRegions: 0 } },
      { asUser: 65534, memlock: 65536, denyMemfdSecret: true },
    );
    const [l] = stage(lines, 'idle');
    const { baseline, retained, after } = l as unknown as { baseline: State; retained: State; after: State };
    expect(stage(lines, 'config')[0]).toMatchObject({ regions: 1 });
    expect(retained.regions).toBeGreaterThan(1);
    expect(retained.idleReleasePending).toBe(true);
    expect(retained.vmLck).toBeLessThanOrEqual(65536);
    expect(after.regions).toBe(1);
    expect(after.vmLck).toBe(baseline.vmLck);
  });

  const pressure = (l: Line) => {
    console.log(`[retention] pressure: full (${l.full}) at ${l.grown.regions} regions / ${l.keys} keys; retained ${l.retained.retainedRegions}; then ${JSON.stringify(l.made)}`);
    expect(l.full).toBe('ERR_ARENA_EXHAUSTED');
    expect(l.retained.retainedRegions).toBe(l.grown.regions - 1);
    expect(l.retained.idleReleasePending).toBe(true);
    // Kept regions give way: a sealed vault key and a key larger than a region still fit.
    expect(l.made).toEqual({ vault: 'ok', large: 'ok' });
    expect(l.after.liveSlots).toBe(0);
  };

  it('a full arena of kept empty regions makes room for a vault key and a large key (maxRegions)', async () => {
    const [l] = stage(await child({ test: 'pressure', config: { idleReleaseMs: 3600000, regionPages: 1, maxRegions: 6 } }), 'pressure');
    pressure(l!);
    expect(l!.grown.regions).toBe(6);
  });

  it.skipIf(!root)('fallback: the same at RLIMIT_MEMLOCK 64 KiB, mlock backend (memfd_secret denied), uid 65534', async () => {
    const [l] = stage(
      await child({ test: 'pressure', config: { idleReleaseMs: 3600000, regionPages: 1 } }, { asUser: 65534, memlock: 65536, denyMemfdSecret: true }),
      'pressure',
    );
    pressure(l!);
    expect(l!.grown.vmLck).toBeLessThanOrEqual(65536);
  });

  it('bad idleReleaseMs values are typed errors; the report says the policy', () => {
    for (const v of [-1, 0.5, NaN, Infinity, 3_600_001, '100', null]) {
      expect(() => configureSecretMemory({ idleReleaseMs: v as number })).toThrow(InvalidArgumentError);
    }
    const r = configureSecretMemory({ idleReleaseMs: 250, retainRegions: 1 });
    expect(r).toMatchObject({ idleReleaseMs: 250, retainRegions: 1, retainedRegions: 0, idleReleasePending: false, regionsReleasedIdle: 0 });
    expect(protectionReport().idleReleaseMs).toBe(250);
  });
});
