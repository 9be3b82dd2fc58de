/**
 * ASan + UBSan (issue 4): the addon built with -fsanitize=address,undefined
 * (+float-cast-overflow) by scripts/build-asan.sh, driven at the native level by
 * test/fixtures/soak-asan-native.mjs in child processes: Wycheproof sample, arena
 * grow/shrink (vault and oversized slots too), scope open/close churn, canary
 * detection, exposeBegin/End, bad inputs (configure, sizes, handles, encodings), and a
 * random-call fuzz loop. Every section runs in its own child, so a report in one
 * section does not hide the others.
 *
 * How node runs a sanitized addon (node itself is not instrumented):
 * - LD_PRELOAD="$(gcc -print-file-name=libasan.so) $(gcc -print-file-name=libubsan.so)":
 *   the ASan runtime must be the first DSO loaded; node's own malloc/free then go
 *   through ASan too, which works with detect_leaks=0 (V8 keeps memory alive at exit).
 * - ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:allow_user_segv_handler=0 — node
 *   installs its own SIGSEGV handler (V8's WebAssembly trap handler); without
 *   allow_user_segv_handler=0 it replaces ASan's and a wild access in the addon is a
 *   silent exit 139 instead of an "ERROR: AddressSanitizer: SEGV" report. The
 *   sanitizerControl case below proves the report path works.
 * - UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 (the build also uses
 *   -fno-sanitize-recover=all, so the first report aborts).
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, runNode, type RunResult } from './helpers/restricted.js';

const SCRIPT = join(REPO_ROOT, 'scripts', 'build-asan.sh');
const FIXTURE = join(REPO_ROOT, 'test', 'fixtures', 'soak-asan-native.mjs');
const OUT = join(REPO_ROOT, 'build-asan', 'secret_scope.node');

function sh(file: string, args: string[], env: Record<string, string> = {}): Promise<{ stdout: string; stderr: string }> {
  return new Promise((res, rej) => {
    execFile(file, args, { cwd: REPO_ROOT, env: { ...process.env, ...env }, maxBuffer: 32 << 20, timeout: 300_000 }, (err, stdout, stderr) => {
      if (err) rej(new Error(`${file} ${args.join(' ')}: ${err.message}\n${stdout}\n${stderr}`));
      else res({ stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

const mtime = (p: string) => (existsSync(p) ? statSync(p).mtimeMs : -1);

function stale(): string | null {
  const built = mtime(OUT);
  if (built < 0) return 'build-asan/secret_scope.node is missing';
  const sources = [
    ...readdirSync(join(REPO_ROOT, 'native'), { recursive: true, encoding: 'utf8' }).map((f) => join(REPO_ROOT, 'native', f)),
    join(REPO_ROOT, 'binding.gyp'),
    SCRIPT,
  ];
  const newer = sources.filter((p) => mtime(p) > built);
  return newer.length ? `older than ${newer.map((p) => p.slice(REPO_ROOT.length + 1)).join(', ')}` : null;
}

let runtime: { libasan: string; libubsan: string } | undefined;
let unavailable: string | undefined;

beforeAll(async () => {
  const lib = async (name: string) => (await sh('gcc', [`-print-file-name=${name}`])).stdout.trim();
  const libasan = await lib('libasan.so');
  const libubsan = await lib('libubsan.so');
  if (!libasan.startsWith('/') || !libubsan.startsWith('/')) {
    unavailable = `gcc has no sanitizer runtime (libasan.so: ${libasan}, libubsan.so: ${libubsan})`;
    if (process.env.CI === 'true') throw new Error(unavailable);
    return;
  }
  runtime = { libasan, libubsan };
  const why = stale();
  if (why) {
    const { stdout } = await sh(SCRIPT, []);
    const path = stdout.trim().split('\n').pop();
    expect(path).toBe(OUT);
    console.log(`[asan] built ${OUT} (${why})`);
  }
  const { stdout: syms } = await sh('nm', ['-D', OUT]);
  expect(syms, 'the build is instrumented by ASan').toContain('__asan_init');
  expect(syms, 'the build is instrumented by UBSan').toMatch(/__ubsan_handle_/);
}, 300_000);

function sanitized(options: Record<string, unknown>): Promise<RunResult> {
  return runNode(FIXTURE, {
    args: [JSON.stringify(options)],
    timeoutMs: 120_000,
    env: {
      LD_PRELOAD: `${runtime!.libasan} ${runtime!.libubsan}`,
      ASAN_OPTIONS: 'detect_leaks=0:abort_on_error=1:allow_user_segv_handler=0',
      UBSAN_OPTIONS: 'halt_on_error=1:print_stacktrace=1',
      SECRET_SCOPE_ADDON_PATH: OUT,
    },
  });
}

type Line = Record<string, any> & { section: string };
const lines = (r: RunResult): Line[] =>
  r.stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Line);

/** The first sanitizer report in stderr, with a few lines of context, or ''. */
function firstReport(stderr: string): string {
  const at = stderr.search(/ERROR: AddressSanitizer|runtime error:/);
  return at < 0 ? '' : stderr.slice(Math.max(0, stderr.lastIndexOf('\n', at) + 1), at + 1500);
}

function expectClean(r: RunResult, section: string) {
  const report = firstReport(r.stderr);
  expect(report, `sanitizer report in '${section}'`).toBe('');
  expect(r.stderr).not.toContain('ERROR: AddressSanitizer');
  expect(r.stderr).not.toContain('runtime error:');
  expect(r.timedOut).toBe(false);
  expect({ code: r.code, signal: r.signal }, r.stderr.slice(-3000)).toEqual({ code: 0, signal: null });
  const ls = lines(r);
  const conf = ls.find((l) => l.section === 'configure');
  expect(conf, r.stderr).toMatchObject({ ok: true, asanLoaded: true, ubsanLoaded: true, addon: OUT });
  expect(ls.find((l) => l.section === section), r.stderr).toMatchObject({ ok: true });
  expect(ls.find((l) => l.section === 'done')).toMatchObject({ ok: true, report: { liveSlots: 0, liveScopes: 0 } });
  return ls.find((l) => l.section === section)!;
}

const BACKENDS = ['mlock', 'memfd_secret'] as const;
const SECTIONS = ['vectors', 'arena', 'scopes', 'canaries', 'expose', 'nullSalt', 'nanSizes', 'asymmetric', 'badInputs', 'fuzz'] as const;

describe('addon under ASan + UBSan', () => {
  it('positive control: a wild write into a guard page is reported by ASan (the runtime and its SEGV handler are live)', async (ctx) => {
    if (unavailable) return ctx.skip(unavailable);
    const r = await sanitized({ backend: 'mlock', sections: ['sanitizerControl'] });
    expect(lines(r).find((l) => l.section === 'configure')).toMatchObject({ asanLoaded: true, ubsanLoaded: true });
    expect(lines(r).find((l) => l.section === 'sanitizerControl')).toMatchObject({ about: 'writing into the guard page now' });
    expect(r.stderr).toContain('ERROR: AddressSanitizer: SEGV');
    expect(r.stderr).toMatch(/TestCorrupt/);
    expect(r.signal ?? r.code).not.toBe(0);
  });

  it('refused configurations (NaN, infinite, huge, fractional numbers) are clean', async (ctx) => {
    if (unavailable) return ctx.skip(unavailable);
    const r = await sanitized({ backend: 'mlock', sections: ['badConfigure'] });
    const l = lines(r).find((x) => x.section === 'badConfigure');
    expect(firstReport(r.stderr), 'sanitizer report in badConfigure').toBe('');
    expect(l).toMatchObject({ ok: true });
    expect({ code: r.code, signal: r.signal }).toEqual({ code: 0, signal: null });
  });

  for (const backend of BACKENDS) {
    describe(backend, () => {
      it.each(SECTIONS)('%s', async (section, ctx) => {
        if (unavailable) return ctx.skip(unavailable);
        const r = await sanitized({ backend, sections: [section], fuzzCalls: 5000, seed: backend === 'mlock' ? 17 : 29 });
        if (backend === 'memfd_secret' && /memfd_secret is unavailable/.test(r.stderr)) return ctx.skip('memfd_secret unavailable here');
        const result = expectClean(r, section);
        if (section === 'fuzz') {
          console.log(`[asan] ${backend} fuzz: ${JSON.stringify(result.codes)}`);
          expect(result.calls).toBe(5000);
          expect(result.codes.ok).toBeGreaterThan(500);
        }
        if (section === 'arena') expect(result.grown).toBeGreaterThan(result.shrunk);
      });
    });
  }
});
