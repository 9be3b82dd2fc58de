/**
 * The layout is part of the design (issue "A layout that shows the
 * architecture"): src/ top level holds only the public entry points, each layer
 * is a folder, no module imports itself back through a cycle, no source file
 * grows past what one sitting reads, and only the arena calls the memory
 * system calls.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from './helpers/restricted.js';

const SRC = join(REPO_ROOT, 'src');
const NATIVE = join(REPO_ROOT, 'native');
const MAX_LINES = 520;

function walk(dir: string, keep: (f: string) => boolean): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...walk(p, keep));
    else if (keep(p)) out.push(p);
  }
  return out;
}

const tsFiles = walk(SRC, (f) => f.endsWith('.ts'));
const nativeFiles = walk(NATIVE, (f) => /\.(cc|h)$/.test(f));

/** Relative imports of one module, type-only ones included (they tie modules together too). */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const specs = [...text.matchAll(/(?:from|import)\s*\(?\s*['"](\.{1,2}\/[^'"]+)['"]/g)].map((m) => m[1]!);
  return specs.map((s) => resolve(dirname(file), s.replace(/\.js$/, '.ts')));
}

describe('layout', () => {
  it('src/ top level holds only the public entry points (package.json exports and bin)', () => {
    const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8'));
    const exported = Object.keys(pkg.exports)
      .filter((k) => k !== './package.json')
      .map((k) => (k === '.' ? 'index' : k.slice(2)));
    const entries = new Set([...exported, 'cli']); // bin/secret-scope.cjs loads dist/cli
    const top = readdirSync(SRC).filter((f) => f.endsWith('.ts')).map((f) => f.replace(/\.ts$/, ''));
    expect(new Set(top)).toEqual(entries);
    const bin = readFileSync(join(REPO_ROOT, pkg.bin['secret-scope']), 'utf8');
    expect(bin).toContain('dist/cli');
  });

  it('each layer is a folder with its own index', () => {
    for (const layer of ['errors', 'memory', 'crypto', 'scope', 'kms', 'lambda', 'kms-local']) {
      expect(statSync(join(SRC, layer, 'index.ts')).isFile(), layer).toBe(true);
    }
  });

  it('no source file is over about 500 lines', () => {
    const long = [...tsFiles, ...nativeFiles]
      .map((f) => ({ f: relative(REPO_ROOT, f), n: readFileSync(f, 'utf8').split('\n').length }))
      .filter((x) => x.n > MAX_LINES);
    expect(long).toEqual([]);
  });

  it('no import cycles in src/', () => {
    const graph = new Map(tsFiles.map((f) => [f, importsOf(f)]));
    const cycles: string[] = [];
    const state = new Map<string, 'open' | 'done'>();
    const stack: string[] = [];
    const visit = (f: string) => {
      if (state.get(f) === 'done') return;
      if (state.get(f) === 'open') {
        cycles.push(stack.slice(stack.indexOf(f)).concat(f).map((x) => relative(SRC, x)).join(' -> '));
        return;
      }
      state.set(f, 'open');
      stack.push(f);
      for (const d of graph.get(f) ?? []) visit(d);
      stack.pop();
      state.set(f, 'done');
    };
    for (const f of tsFiles) visit(f);
    expect(cycles).toEqual([]);
  });

  it('every relative import resolves to a file (the check above sees the real graph)', () => {
    const missing = tsFiles.flatMap((f) => importsOf(f).filter((d) => !tsFiles.includes(d)).map((d) => `${relative(SRC, f)} -> ${relative(SRC, d)}`));
    expect(missing).toEqual([]);
  });

  it('only the arena calls mmap, mprotect, mlock, madvise or memfd_secret', () => {
    const callers = nativeFiles
      .filter((f) => !/[\\/]arena\.(cc|h)$/.test(f))
      .filter((f) => /\b(mmap|munmap|mprotect|mlock|munlock|madvise|memfd_secret)\s*\(|SYS_memfd_secret/.test(readFileSync(f, 'utf8')))
      .map((f) => relative(REPO_ROOT, f));
    expect(callers).toEqual([]);
    expect(nativeFiles.some((f) => /[\\/]arena\.cc$/.test(f) && /\bmprotect\s*\(/.test(readFileSync(f, 'utf8')))).toBe(true);
  });

  it('no std::call_once in the addon (with the static libstdc++ its thread-local hand-off resolved against Node 24\'s copy and crashed at load)', () => {
    const users = nativeFiles.filter((f) => /\bstd::call_once\b|\bstd::once_flag\b/.test(readFileSync(f, 'utf8'))).map((f) => relative(REPO_ROOT, f));
    expect(users).toEqual([]);
  });
});
