/**
 * Types users can rely on (issue 13, item 1). The package as installed (dist/ through
 * package.json `exports`/`typesVersions`) is type-checked from consumer projects under
 * moduleResolution bundler, node16 and node10 (strict, skipLibCheck false, esModuleInterop
 * false): the cases in test/types/, every ```ts and ```js block of README.md's consumer part
 * that uses secret-scope, and the example handlers. Then the packed tarball (npm pack) must be
 * clean under @arethetypeswrong/cli and publint.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, cleanupTempDirs, makeTempDir } from './helpers/restricted.js';
import { ensureDist, makeApp } from './helpers/package-app.js';

const TSC = join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
const CASES = join(REPO_ROOT, 'test', 'types');
// middy 7's .d.ts imports its optional peer @aws/durable-execution-sdk-js; a middy 7 user without
// it declares the module (as here) or sets skipLibCheck.
const AMBIENT = "declare module '@aws/durable-execution-sdk-js' { export type DurableContext = import('aws-lambda').Context; }\n";

/** README code blocks (```ts / ```js) that use the package, in order. */
export function readmeSnippets(): { lang: 'ts' | 'js'; code: string; cjs: boolean }[] {
  // The consumer part (before the threat model): the snippets a new user copies.
  const whole = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
  const text = whole.slice(0, whole.indexOf('## Threat model'));
  return [...text.matchAll(/```(ts|js)\n([\s\S]*?)```/g)]
    .map((m) => ({ lang: m[1] as 'ts' | 'js', code: m[2]!, cjs: /require\(['"]secret-scope/.test(m[2]!) }))
    .filter((s) => /['"]secret-scope(\/[a-z-]+)?['"]/.test(s.code));
}

const RESOLUTIONS = {
  bundler: { module: 'esnext', moduleResolution: 'bundler', type: 'module', js: true },
  node16: { module: 'node16', moduleResolution: 'node16', type: 'module', js: true },
  node10: { module: 'commonjs', moduleResolution: 'node10', type: 'commonjs', js: false },
} as const;

function project(name: keyof typeof RESOLUTIONS): string {
  const r = RESOLUTIONS[name];
  const app = makeApp({}, { name: `types-${name}`, private: true, type: r.type });
  symlinkSync(join(REPO_ROOT, 'node_modules', '@types'), join(app, 'node_modules', '@types'), 'dir');
  const src = join(app, 'src');
  mkdirSync(src, { recursive: true });
  for (const f of readdirSync(CASES)) copyFileSync(join(CASES, f), join(src, f));
  writeFileSync(join(src, 'ambient.d.ts'), AMBIENT);
  readmeSnippets().forEach((s, i) => {
    if (s.lang === 'js' && !r.js) return;
    const ext = s.lang === 'ts' ? (s.cjs ? '.cts' : '.ts') : s.cjs ? '.cjs' : '.mjs';
    if (name === 'node10' && ext === '.cts') return;
    writeFileSync(join(src, `readme-${i}${ext}`), s.code);
  });
  if (r.js) {
    mkdirSync(join(src, 'examples'));
    for (const f of readdirSync(join(REPO_ROOT, 'examples', 'handlers'))) copyFileSync(join(REPO_ROOT, 'examples', 'handlers', f), join(src, 'examples', f));
  }
  if (name === 'node16') {
    // A CommonJS consumer: `require` types come from the .d.cts files.
    writeFileSync(
      join(src, 'cjs-consumer.cts'),
      "import scope = require('secret-scope');\nimport mw = require('secret-scope/middy');\n" +
        "export const h = scope.withSecretScope(async (e: { id: string }, c) => (await c.secretScope.key('k')).length, { keys: { k: { use: 'hmac', context: (e) => e.id } } });\n" +
        'export const m = mw.secretScopeMiddleware();\n',
    );
  }
  const compilerOptions = {
    target: 'ES2022',
    lib: ['ES2022'],
    module: r.module,
    moduleResolution: r.moduleResolution,
    types: ['node'],
    strict: true,
    skipLibCheck: false,
    esModuleInterop: false,
    noEmit: true,
  };
  writeFileSync(join(app, 'tsconfig.json'), JSON.stringify({ compilerOptions, include: ['src/**/*.ts', 'src/**/*.cts'] }));
  // JavaScript as users write it (no annotations): strict, except that unannotated parameters are allowed.
  writeFileSync(
    join(app, 'tsconfig.js.json'),
    JSON.stringify({ compilerOptions: { ...compilerOptions, allowJs: true, checkJs: true, noImplicitAny: false }, include: ['src/**/*.mjs', 'src/**/*.cjs', 'src/ambient.d.ts'] }),
  );
  return app;
}

beforeAll(() => ensureDist(), 180_000);
afterAll(() => cleanupTempDirs());

describe('types as a consumer sees them', () => {
  it('README has ts and js snippets to check', () => {
    const s = readmeSnippets();
    expect(s.some((x) => x.lang === 'ts')).toBe(true);
    expect(s.some((x) => x.lang === 'js' && x.cjs)).toBe(true);
  });

  it.each(Object.keys(RESOLUTIONS) as (keyof typeof RESOLUTIONS)[])('compile under moduleResolution %s (strict, no skipLibCheck, no esModuleInterop)', (name) => {
    const app = project(name);
    for (const config of RESOLUTIONS[name].js ? ['tsconfig.json', 'tsconfig.js.json'] : ['tsconfig.json']) {
      const r = spawnSync(process.execPath, [TSC, '-p', join(app, config)], { encoding: 'utf8' });
      expect(r.stdout + r.stderr, config).toBe('');
      expect(r.status, config).toBe(0);
    }
  }, 120_000);
});

describe('the packed tarball', () => {
  let tarball = '';
  beforeAll(() => {
    const dir = makeTempDir('secret-scope-pack-');
    const out = execFileSync('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], { cwd: REPO_ROOT, encoding: 'utf8' });
    tarball = join(dir, JSON.parse(out)[0].filename);
  }, 120_000);

  it('@arethetypeswrong/cli finds no problem (node10, node16 CJS and ESM, bundler)', () => {
    const cli = join(REPO_ROOT, 'node_modules', '@arethetypeswrong', 'cli', 'dist', 'index.js');
    const r = spawnSync(process.execPath, [cli, tarball, '--format', 'json'], { encoding: 'utf8' });
    const report = JSON.parse(r.stdout);
    expect(report.analysis.problems ?? []).toEqual([]);
    expect(r.status).toBe(0);
  }, 120_000);

  it('publint reports no error or warning', () => {
    const cli = join(REPO_ROOT, 'node_modules', 'publint', 'src', 'cli.js');
    const r = spawnSync(process.execPath, [cli, tarball, '--strict'], { encoding: 'utf8' });
    expect(r.stdout + r.stderr).not.toMatch(/Errors:|Warnings:/);
    expect(r.status).toBe(0);
  }, 120_000);
});
