/**
 * The package as a user gets it: dist/ built by tsup (rebuilt when src/ is newer),
 * and a temporary app whose node_modules/secret-scope links to this repository, so
 * `import`/`require('secret-scope/...')` go through package.json `exports` exactly as
 * an installed copy does. Peers (@middy/core, @aws-sdk/client-kms) are linked too.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT, makeTempDir } from './restricted.js';

function newest(dir: string): number {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return t;
}

/** Builds dist/ when it is missing or older than src/ (one build at a time across test files). */
export function ensureDist(): void {
  const marker = join(REPO_ROOT, 'dist', 'middy.cjs');
  const stale = () => !existsSync(marker) || statSync(marker).mtimeMs < Math.max(newest(join(REPO_ROOT, 'src')), statSync(join(REPO_ROOT, 'tsup.config.ts')).mtimeMs);
  if (!stale()) return;
  const lock = join(REPO_ROOT, '.cache', 'tsup.lock');
  mkdirSync(join(REPO_ROOT, '.cache'), { recursive: true });
  for (let i = 0; i < 600; i++) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      execFileSync('sleep', ['0.2']);
    }
  }
  try {
    if (stale()) execFileSync('npx', ['tsup'], { cwd: REPO_ROOT, stdio: 'ignore' });
  } finally {
    rmdirSync(lock);
  }
}

/** A temp app directory with node_modules/secret-scope -> this repository (and its peers). */
export function makeApp(files: Record<string, string> = {}, pkg: object = { name: 'app', private: true }): string {
  const app = makeTempDir('secret-scope-app-');
  mkdirSync(join(app, 'node_modules', '@aws-sdk'), { recursive: true });
  symlinkSync(REPO_ROOT, join(app, 'node_modules', 'secret-scope'), 'dir');
  symlinkSync(join(REPO_ROOT, 'node_modules', '@middy'), join(app, 'node_modules', '@middy'), 'dir');
  symlinkSync(join(REPO_ROOT, 'node_modules', 'middy7'), join(app, 'node_modules', 'middy7'), 'dir');
  symlinkSync(join(REPO_ROOT, 'node_modules', '@aws-sdk', 'client-kms'), join(app, 'node_modules', '@aws-sdk', 'client-kms'), 'dir');
  writeFileSync(join(app, 'package.json'), JSON.stringify(pkg));
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(join(app, name, '..'), { recursive: true });
    writeFileSync(join(app, name), text);
  }
  return app;
}
