/**
 * The native EC code outside Node: test/native/ec-stack.cc, compiled against the
 * same static BearSSL and libsodium as the addon, checks the FIPS 186-5 A.2.1
 * reduction at its edges (c = n - 1, n - 2, 2(n - 1) + 5) and the scalar range check,
 * and measures how deep BearSSL's and libsodium's private-key calls write into the
 * stack. burnEcStack() must wipe deeper than every one of them, on x64 and on arm64
 * (cross-compiled, run under qemu-aarch64-static when scripts/setup-arm64.sh has run).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT, qemuAarch64 } from './helpers/restricted.js';

const NATIVE = join(REPO_ROOT, 'native');
const SOURCES = ['test/native/ec-stack.cc', 'native/ops/ec.cc', 'native/ops/ed25519.cc', 'native/ops/common.cc', 'native/errors.cc'].map((f) => join(REPO_ROOT, f));
const burnBytes = Number(/burnEcStack\(\) \{\s*(?:\/\/[^\n]*\n\s*)*burnStack\((\d+)\)/.exec(readFileSync(join(NATIVE, 'ops', 'ec.cc'), 'utf8'))?.[1]);

function have(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function lib(name: string, arch: 'x64' | 'arm64'): string {
  return execFileSync(process.execPath, [join(NATIVE, `${name}-lib.cjs`), arch], { encoding: 'utf8' });
}

function buildAndRun(arch: 'x64' | 'arm64'): string {
  const dir = join(REPO_ROOT, '.cache', 'test-bin');
  mkdirSync(dir, { recursive: true });
  const out = join(dir, `ec-stack-${arch}-${process.pid}`);
  const cxx = arch === 'x64' ? 'g++' : 'aarch64-linux-gnu-g++';
  execFileSync(cxx, ['-std=c++17', '-O2', '-I', NATIVE, '-o', out, ...SOURCES, lib('bearssl', arch), lib('sodium', arch), '-ldl'], { stdio: 'pipe' });
  return execFileSync(arch === 'x64' ? out : qemuAarch64()!, arch === 'x64' ? [] : [out], { encoding: 'utf8', timeout: 120_000 });
}

describe('native EC code in a standalone harness', () => {
  const cases: Array<['x64' | 'arm64', string | undefined]> = [
    ['x64', process.arch === 'x64' && have('g++') ? undefined : 'needs an x64 host with g++'],
    ['arm64', have('aarch64-linux-gnu-g++') && qemuAarch64() ? undefined : 'needs aarch64-linux-gnu-g++ and qemu-aarch64-static (scripts/setup-arm64.sh)'],
  ];
  for (const [arch, reason] of cases) {
    it.skipIf(reason !== undefined && process.env.CI !== 'true')(`${arch}: A.2.1 edges and range check pass; burnEcStack wipes deeper than every call writes${reason ? ` (${reason})` : ''}`, { timeout: 180_000 }, () => {
      expect(burnBytes).toBeGreaterThan(0);
      const lines = buildAndRun(arch).trim().split('\n');
      console.info(`[ec-stack ${arch}] ${lines.join(' | ')}`);
      expect(lines.at(-1)).toBe('ok');
      const depths = lines.flatMap((l) => [...l.matchAll(/(\w+):? (\d+)/g)].map((m) => Number(m[2])));
      expect(depths.length).toBe(7);
      for (const d of depths) expect(d).toBeLessThan(burnBytes);
    });
  }
});
