/**
 * The Lambda layer (npm run build:layer -> layer/build.mjs) and a Lambda-like
 * end-to-end run of it (layer/e2e.mjs: layer unzipped into a temp /opt,
 * layer/bootstrap.mjs driving examples/layer-function through the Runtime API
 * of layer/runtime-api.mjs, entropy from the local KMS endpoint), on this Node,
 * Node 22 and 24 (x64) and Node 22 arm64 under qemu-user.
 * Outside CI a missing Node binary or qemu skips its case with the reason;
 * under CI=true it fails. Timings are printed, never asserted.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PREBUILD_FILE } from '../layer/lib/prebuild-info.mjs';
import { readZip } from '../layer/lib/zip.mjs';
import { runE2E } from '../layer/e2e.mjs';
import { REPO_ROOT, cleanupTempDirs, makeTempDir, nodeMatrix } from './helpers/restricted.js';

const CI = process.env.CI === 'true';
const LAYERS = { x86_64: 'x64', arm64: 'arm64' } as const;
type LayerArch = keyof typeof LAYERS;
const PKG = 'nodejs/node_modules/secret-scope/';

let outDir = '';
let buildStdout = '';
let buildStderr = '';
const zips: Record<string, { name: string; data: Buffer; mode: number; isDir: boolean }[]> = {};

beforeAll(() => {
  outDir = makeTempDir('secret-scope-layer-');
  const r = execFileSync(process.execPath, [join(REPO_ROOT, 'layer', 'build.mjs'), '--out', outDir], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  buildStdout = r;
  for (const arch of Object.keys(LAYERS)) {
    zips[arch] = readZip(readFileSync(join(outDir, `secret-scope-layer-${arch}.zip`)));
  }
}, 120_000);

afterAll(() => cleanupTempDirs());

describe('layer zips (layer/build.mjs)', () => {
  it('prints the size of each zip', () => {
    for (const arch of Object.keys(LAYERS)) {
      const line = buildStdout.split('\n').find((l) => l.startsWith(`${arch}\t`));
      expect(line, buildStdout + buildStderr).toBeDefined();
      const bytes = Number(line!.split('\t')[1]);
      expect(bytes).toBe(readFileSync(join(outDir, `secret-scope-layer-${arch}.zip`)).length);
      console.log(`[layer] secret-scope-layer-${arch}.zip: ${bytes} bytes (${(bytes / 1024).toFixed(1)} KiB)`);
    }
  });

  describe.each(Object.entries(LAYERS))('secret-scope-layer-%s.zip', (layerArch, arch) => {
    const files = () => zips[layerArch].filter((e) => !e.isDir).map((e) => e.name);
    const file = (rel: string) => zips[layerArch].find((e) => e.name === PKG + rel)?.data;

    it('holds only nodejs/node_modules/secret-scope with bundles, package.json and this arch prebuild', () => {
      const names = files();
      expect(names.every((n) => n.startsWith(PKG))).toBe(true);
      const rel = names.map((n) => n.slice(PKG.length)).sort();
      const chunks = rel.filter((n) => /^dist\/chunk-[A-Z0-9]+\.js$/.test(n));
      expect(rel).toEqual(
        [
          'THIRD-PARTY-NOTICES',
          'dist/index.cjs',
          'dist/index.js',
          'dist/middy.cjs',
          'dist/middy.js',
          'dist/secret-scope.cjs',
          ...chunks,
          'package.json',
          `prebuilds/linux-${arch}/SOURCES.sha256`,
          `prebuilds/linux-${arch}/${PREBUILD_FILE}`,
        ].sort(),
      );
      // Nothing to build, nothing the runtime provides, no sources or tests.
      expect(rel.some((n) => /node_modules|@aws-sdk|binding\.gyp|^native\/|\.ts$|\.map$|test/.test(n))).toBe(false);
      const other = arch === 'x64' ? 'arm64' : 'x64';
      expect(rel.some((n) => n.includes(`linux-${other}`))).toBe(false);
    });

    it('carries the committed prebuild byte for byte', () => {
      const committed = readFileSync(join(REPO_ROOT, 'prebuilds', `linux-${arch}`, PREBUILD_FILE));
      expect(file(`prebuilds/linux-${arch}/${PREBUILD_FILE}`)?.equals(committed)).toBe(true);
    });

    it('has a package.json exports map with ESM and CJS entry points and no install step', () => {
      const pkg = JSON.parse(file('package.json')!.toString('utf8'));
      expect(pkg.name).toBe('secret-scope');
      expect(pkg.exports['.']).toEqual({ import: './dist/index.js', require: './dist/index.cjs' });
      expect(pkg.exports['./middy']).toEqual({ import: './dist/middy.js', require: './dist/middy.cjs' });
      expect(pkg.scripts).toBeUndefined();
      expect(pkg.dependencies).toBeUndefined();
      expect(pkg.gypfile).toBeUndefined();
      for (const target of [...Object.values(pkg.exports as Record<string, unknown>)].flatMap((v) => (typeof v === 'string' ? [v] : Object.values(v as object)))) {
        expect(file(String(target).slice(2)), String(target)).toBeDefined();
      }
    });

    it('bundles node-gyp-build and leaves @aws-sdk and @middy/core to the runtime and the function', () => {
      const js = files()
        .filter((n) => /\.(c?js)$/.test(n))
        .map((n) => zips[layerArch].find((e) => e.name === n)!.data.toString('utf8'))
        .join('\n');
      expect(js).not.toMatch(/require\(["']node-gyp-build["']\)/);
      expect(js).not.toMatch(/from ["']node-gyp-build["']/);
      expect(js).toContain('No native build was found'); // node-gyp-build's loader is inside
      expect(js).toMatch(/["']@aws-sdk\/client-kms["']/); // loaded lazily from the runtime
      expect(js).not.toMatch(/from ["']@smithy\//);
    });

    it('is a valid zip for unzip(1) when it is installed', () => {
      let unzip: string | undefined;
      try {
        unzip = execFileSync('sh', ['-c', 'command -v unzip'], { encoding: 'utf8' }).trim();
      } catch {
        unzip = undefined;
      }
      if (!unzip) return; // readZip above already checked every CRC
      const out = execFileSync(unzip, ['-t', join(outDir, `secret-scope-layer-${layerArch}.zip`)], { encoding: 'utf8' });
      expect(out).toMatch(/No errors detected/);
    });
  });
});

interface Invocation {
  ok: boolean;
  result?: Record<string, unknown>;
  error?: unknown;
}

describe('Lambda-like end-to-end (layer/bootstrap.mjs + layer/runtime-api.mjs + local KMS)', () => {
  for (const m of nodeMatrix()) {
    const layerArch: LayerArch = m.arch === 'x64' ? 'x86_64' : 'arm64';
    const title = `${m.name}: example function on secret-scope-layer-${layerArch}.zip`;
    if (m.reason && !CI) {
      it.skip(`${title} (skipped: ${m.reason})`, () => {});
      continue;
    }
    it(title, { timeout: 240_000 }, async () => {
      expect(m.bin, m.reason).toBeDefined();
      const repeat = m.arch === 'arm64' ? 2 : 3;
      const s = await runE2E({ node: m.bin!, zip: join(outDir, `secret-scope-layer-${layerArch}.zip`), repeat, invocations: 2 });
      const major = m.name.split('-')[1];
      expect(s.arch).toBe(m.arch);
      expect(s.nodeMajor).toBe(major);
      expect(s.nodePath.split(':').slice(0, 2)).toEqual([join(s.opt, 'nodejs', `node${major}`, 'node_modules'), join(s.opt, 'nodejs', 'node_modules')]);

      const example = s.example as Invocation[];
      expect(example.map((r) => r.error)).toEqual([undefined, undefined]);
      for (const r of example) {
        expect(r.ok).toBe(true);
        const res = r.result!;
        expect(res.tagBytes).toBe(32);
        expect(res.verified).toBe(true);
        expect(res.roundTrip).toBe(true);
        expect(res.arch).toBe(m.arch);
        expect(String(res.node).startsWith(`v${major}.`)).toBe(true);
        expect(res.locked).toBe(true);
        // The package came from the unzipped layer, not the repository.
        expect(String(res.secretScope)).toBe(`file://${join(s.opt, PKG, 'dist', 'index.js')}`);
        if (m.arch === 'arm64') expect(res.backend).toBe('mlock'); // qemu: memfd_secret is ENOSYS
        else expect(['memfd_secret', 'mlock']).toContain(res.backend);
      }
      // Fresh KMS entropy per invocation: every token key differs.
      const tags = (s.exampleRuns as (string | null)[][]).flat();
      expect(tags.every((t) => typeof t === 'string')).toBe(true);
      expect(new Set(tags).size).toBe(tags.length);
      expect(s.kmsCalls.GenerateRandom).toBeGreaterThanOrEqual(tags.length);

      const core = (s.core as Invocation[])[0];
      expect(core.error).toBeUndefined();
      expect(core.result?.roundTrip).toBe('core api');
      expect(core.result?.secretScope).toBe(join(s.opt, PKG, 'dist', 'index.cjs'));
      expect((s.baseline as Invocation[])[0].ok).toBe(true);

      const cs = s.coldStart;
      for (const x of [...cs.exampleMs, ...cs.baselineMs]) expect(Number.isFinite(x) && x > 0).toBe(true);
      console.log(
        `[layer e2e] ${m.name}${s.emulated ? ' (qemu)' : ''}: cold start (process start -> handler ready) ` +
          `with layer ${cs.exampleMedianMs} ms, without ${cs.baselineMedianMs} ms, layer cost ${cs.layerCostMs} ms ` +
          `(runs ${cs.exampleMs.join('/')} vs ${cs.baselineMs.join('/')}); first invocation ${s.firstInvocationMs} ms, warm ${s.warmInvocationMs} ms`,
      );
    });
  }
});
