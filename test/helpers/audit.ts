/**
 * Shared by the audit suites: the child harness runs the built package
 * (dist/audit-child.js, dist/index.js), built once here when missing or older
 * than the sources; and a bounded-concurrency map (the CI machine has 2 cores).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from './restricted.js';

function newestSource(dir: string): number {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    newest = Math.max(newest, e.isDirectory() ? newestSource(p) : statSync(p).mtimeMs);
  }
  return newest;
}

export function ensureDistBuilt(): void {
  const child = join(REPO_ROOT, 'dist', 'audit-child.js');
  if (!existsSync(child) || statSync(child).mtimeMs < newestSource(join(REPO_ROOT, 'src'))) {
    execFileSync('npx', ['tsup'], { cwd: REPO_ROOT, stdio: 'ignore' });
  }
}

/** Runs fn over items, at most `limit` at a time, results in input order. */
export async function mapBounded<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}
