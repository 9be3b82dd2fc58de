/**
 * Children and workers run plain JS: this bundles TS sources with esbuild into a
 * private directory under .cache/ (inside the repo, so node_modules resolves and
 * the package root with binding.gyp is found above it).
 */
import { build } from 'esbuild';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from './restricted.js';

export interface Bundle {
  file: string;
  remove(): void;
}

/** `source` is either ES module text (resolved from the repo root) or an entry file path. */
export async function bundleForChild(name: string, source: { contents: string } | { entry: string }): Promise<Bundle> {
  mkdirSync(join(REPO_ROOT, '.cache'), { recursive: true });
  const dir = mkdtempSync(join(REPO_ROOT, '.cache', `${name}-`));
  const file = join(dir, `${name}.mjs`);
  await build({
    ...('contents' in source
      ? { stdin: { contents: source.contents, resolveDir: REPO_ROOT, loader: 'ts' as const, sourcefile: `${name}-entry.ts` } }
      : { entryPoints: [source.entry] }),
    outfile: file,
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    external: ['node-gyp-build', '@aws-sdk/*', '@smithy/*', '@middy/*'],
    logLevel: 'error',
  });
  return { file, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
