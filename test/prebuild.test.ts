/**
 * The committed prebuilds (prebuilds/linux-x64, prebuilds/linux-arm64):
 * - built from exactly the current binding.gyp + native/ + layer/compat
 *   (SOURCES.sha256 recomputed here; the binary embeds SHA-256 of that file);
 * - loadable on Amazon Linux 2023: every GLIBC_ version <= 2.34, no libstdc++ /
 *   libgcc_s version requirement, stripped (readelf);
 * - found by node-gyp-build 4.8 for every Node version (node.napi.glibc.node);
 * - pass the raw-API self-test (layer/selftest.mjs: Wycheproof vectors and
 *   arena checks) under every Node binary available: this Node (20), the
 *   .cache/node ones (scripts/fetch-node.sh), arm64 under qemu-user.
 * Outside CI a missing Node binary or qemu skips its case with the reason;
 * under CI=true it fails.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  MAX_GLIBC,
  PREBUILD_FILE,
  compareVersions,
  digestOf,
  elfReport,
  embeddedDigest,
  sourceManifest,
} from '../layer/lib/prebuild-info.mjs';
import { REPO_ROOT, cleanupTempDirs, makeTempDir, nodeMatrix, runNode } from './helpers/restricted.js';
import { WYCHEPROOF_DIR, vectorsUnavailable } from './helpers/vectors.js';

const CI = process.env.CI === 'true';
const SELFTEST = join(REPO_ROOT, 'layer', 'selftest.mjs');
const ARCHES = ['x64', 'arm64'] as const;
type Arch = (typeof ARCHES)[number];
const prebuildPath = (arch: Arch) => join(REPO_ROOT, 'prebuilds', `linux-${arch}`, PREBUILD_FILE);
const MACHINE: Record<Arch, string> = { x64: 'Advanced Micro Devices X86-64', arm64: 'AArch64' };

afterAll(() => cleanupTempDirs());

const current = sourceManifest(REPO_ROOT);

describe.each(ARCHES)('prebuilds/linux-%s', (arch) => {
  const dir = join(REPO_ROOT, 'prebuilds', `linux-${arch}`);

  it('is committed with its SOURCES.sha256', () => {
    expect(existsSync(prebuildPath(arch)), prebuildPath(arch)).toBe(true);
    expect(existsSync(join(dir, 'SOURCES.sha256'))).toBe(true);
  });

  it('was built from the current binding.gyp, native/ and layer/compat/', () => {
    const sidecar = readFileSync(join(dir, 'SOURCES.sha256'), 'utf8');
    const listed = sidecar.trim().split('\n').map((l) => l.split('  ')[1]);
    expect(listed).toEqual(current.files.map((f) => f.path));
    // Line by line first, so a failure names the changed file.
    const now = current.manifest.trim().split('\n');
    sidecar
      .trim()
      .split('\n')
      .forEach((line, i) => expect(line, `${listed[i]} changed since the prebuild: run node layer/prebuild.mjs`).toBe(now[i]));
    expect(sidecar).toBe(current.manifest);
    // The binary carries the digest of the manifest it was built with.
    expect(embeddedDigest(prebuildPath(arch))).toBe(digestOf(sidecar));
    expect(embeddedDigest(prebuildPath(arch))).toBe(current.digest);
  });

  it(`needs at most GLIBC_${MAX_GLIBC}, no GLIBCXX_/CXXABI_/GCC_, and is stripped (readelf)`, () => {
    const r = elfReport(prebuildPath(arch));
    expect(r.machine).toBe(MACHINE[arch]);
    expect(r.maxGlibc).toBeDefined();
    expect(r.tooNew).toEqual([]);
    expect(compareVersions(r.maxGlibc!, MAX_GLIBC), `max GLIBC_${r.maxGlibc}`).toBeLessThanOrEqual(0);
    expect(r.versions.every((v: string) => v.startsWith('GLIBC_'))).toBe(true);
    expect(r.glibcxx).toEqual([]);
    expect(r.gcc).toEqual([]);
    expect(r.needed.some((n: string) => /libstdc\+\+|libgcc_s/.test(n))).toBe(false);
    expect(r.needed).toContain('libc.so.6');
    expect(r.stripped).toBe(true);
    expect(r.exported).toContain('napi_register_module_v1');
  });
});

describe('source digest scheme', () => {
  it('changes when any native source byte changes', () => {
    const tmp = makeTempDir('secret-scope-digest-');
    for (const f of current.files) {
      mkdirSync(join(tmp, f.path, '..'), { recursive: true });
      writeFileSync(join(tmp, f.path), f.bytes);
    }
    expect(sourceManifest(tmp).digest).toBe(current.digest);
    const victim = current.files.find((f) => f.path.startsWith('native/') && f.path.endsWith('.cc'))!;
    const changed = Buffer.from(victim.bytes);
    changed[changed.length - 1] ^= 1;
    writeFileSync(join(tmp, victim.path), changed);
    expect(sourceManifest(tmp).digest).not.toBe(current.digest);
  });

  it('layer/prebuild.mjs --check accepts the committed prebuilds', () => {
    const out = execFileSync(process.execPath, [join(REPO_ROOT, 'layer', 'prebuild.mjs'), '--check'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    expect(out).toBe('');
  });
});

interface Summary {
  ok: boolean;
  node: string;
  arch: string;
  libsodium: string;
  backend: string;
  locked: boolean;
  guardPages: boolean;
  memfdSecret: { tried: boolean; used: boolean; errno?: number };
  aes256gcm: boolean;
  aesGcm?: { implementation: string; hardware: boolean };
  vectors: Record<string, { run?: number; passed?: number; valid?: number; skipped?: string } | string>;
  arena: { checks: number; passed: number };
  failures: string[];
}

function parseSummary(stdout: string, stderr: string): Summary {
  const line = stdout.trim().split('\n').at(-1) ?? '';
  try {
    return JSON.parse(line) as Summary;
  } catch {
    throw new Error(`selftest printed no JSON summary.\nstdout: ${stdout}\nstderr: ${stderr}`);
  }
}

describe('raw-API self-test of the prebuild (layer/selftest.mjs)', () => {
  const vectorsMissing = vectorsUnavailable();
  for (const m of nodeMatrix()) {
    const title = `${m.name}: Wycheproof vectors and arena checks`;
    if (m.reason && !CI) {
      it.skip(`${title} (skipped: ${m.reason})`, () => {});
      continue;
    }
    it(title, { timeout: 180_000 }, async () => {
      expect(m.bin, m.reason).toBeDefined();
      const r = await runNode(SELFTEST, { nodeBinary: m.bin, args: [prebuildPath(m.arch), '--vectors', WYCHEPROOF_DIR] });
      const s = parseSummary(r.stdout, r.stderr);
      expect(s.failures).toEqual([]);
      expect(r.code, r.stderr).toBe(0);
      expect(s.ok).toBe(true);
      expect(s.arch).toBe(m.arch);
      expect(s.node.startsWith(`v${m.name.split('-')[1]}.`)).toBe(true);
      expect(s.libsodium).toBe('1.0.18');
      expect(s.arena.checks).toBeGreaterThanOrEqual(18);
      expect(s.arena.passed).toBe(s.arena.checks);
      expect(s.locked).toBe(true);
      expect(s.guardPages).toBe(true);

      if (vectorsMissing) {
        if (CI) throw new Error(vectorsMissing);
        expect(s.vectors.skipped).toBeDefined();
      } else {
        const families = ['hkdf_sha256', 'hkdf_sha512', 'hmac_sha256', 'hmac_sha512', 'chacha20_poly1305', 'xchacha20_poly1305', 'x25519', 'aes_256_gcm', 'aes_128_gcm'];
        for (const f of families) {
          const v = s.vectors[f] as { run: number; passed: number; valid: number };
          expect(v, f).toBeDefined();
          expect(v.run, f).toBeGreaterThan(50);
          expect(v.valid, f).toBeGreaterThan(0);
          expect(v.passed, f).toBe(v.run);
        }
      }

      if (m.arch === 'arm64') {
        // qemu-user answers ENOSYS to memfd_secret: the mlock fallback is what ran.
        expect(s.backend).toBe('mlock');
        expect(s.memfdSecret.tried).toBe(true);
        expect(s.memfdSecret.used).toBe(false);
        expect(s.memfdSecret.errno).toBe(38);
        // AES-GCM on the ARMv8 Crypto Extensions (every qemu arm64 CPU model has them).
        expect(s.aes256gcm).toBe(true);
        expect(s.aesGcm?.implementation).toBe('armv8-ce');
      } else {
        expect(['memfd_secret', 'mlock']).toContain(s.backend);
        expect(s.memfdSecret.used).toBe(s.backend === 'memfd_secret');
      }
    });
  }

  const sourceBuild = join(REPO_ROOT, 'build', 'Release', 'secret_scope.node');
  it.runIf(existsSync(sourceBuild) || CI)('the from-source build (build/Release) passes the same self-test', async () => {
    const r = await runNode(SELFTEST, { args: [sourceBuild, '--vectors', WYCHEPROOF_DIR] });
    const s = parseSummary(r.stdout, r.stderr);
    expect(s.failures).toEqual([]);
    expect(s.ok).toBe(true);
    expect(r.code).toBe(0);
  });
});

describe('node-gyp-build resolution', () => {
  // A package dir laid out like the installed package / the layer: package.json
  // and prebuilds/, no build/ (so no compiler and no node-gyp are involved).
  function fakePackage(): string {
    const pkg = makeTempDir('secret-scope-ngb-');
    writeFileSync(join(pkg, 'package.json'), JSON.stringify({ name: 'secret-scope', version: '0.0.0' }));
    for (const arch of ARCHES) {
      mkdirSync(join(pkg, 'prebuilds', `linux-${arch}`), { recursive: true });
      copyFileSync(prebuildPath(arch), join(pkg, 'prebuilds', `linux-${arch}`, PREBUILD_FILE));
    }
    return pkg;
  }
  const ngb = join(REPO_ROOT, 'node_modules', 'node-gyp-build', 'index.js');
  const code = (pkg: string) =>
    `import { createRequire } from 'node:module';
     const require = createRequire(import.meta.url);
     const load = require(${JSON.stringify(ngb)});
     const file = load.resolve(${JSON.stringify(pkg)});
     const addon = load(${JSON.stringify(pkg)});
     console.log(JSON.stringify({ file, libsodium: addon.libsodiumVersion, arch: process.arch }));`;

  for (const m of nodeMatrix()) {
    if (m.reason && !CI) {
      it.skip(`${m.name} (skipped: ${m.reason})`, () => {});
      continue;
    }
    it(`${m.name} loads prebuilds/linux-${m.arch}/${PREBUILD_FILE}`, { timeout: 120_000 }, async () => {
      expect(m.bin, m.reason).toBeDefined();
      const pkg = fakePackage();
      const r = await runNode(null, { nodeBinary: m.bin, evalCode: code(pkg), cwd: pkg });
      expect(r.code, r.stderr).toBe(0);
      const out = JSON.parse(r.stdout.trim()) as { file: string; libsodium: string; arch: string };
      expect(out.file).toBe(join(pkg, 'prebuilds', `linux-${m.arch}`, PREBUILD_FILE));
      expect(out.libsodium).toBe('1.0.18');
      expect(out.arch).toBe(m.arch);
    });
  }
});
