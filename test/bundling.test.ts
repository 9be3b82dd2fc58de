/**
 * Bundling fails early or works (issue 13, item 3). Handlers in ESM and CommonJS are
 * bundled with esbuild the way SAM (esbuild build method) and CDK NodejsFunction do:
 *   - right: secret-scope (and @aws-sdk/*) external, run against the Lambda layer unzipped
 *     as /opt (NODE_PATH for require, the layer bootstrap's resolve hook for import);
 *   - wrong: secret-scope bundled in: the handler module must fail while it is loaded,
 *     when the handler is wrapped (cold start), with AddonLoadError (ERR_ADDON_LOAD) naming
 *     the remedy, never at the first invocation with a raw loader error.
 * And an ESM bundle that drags in the SDK (no require shim) names esbuild's real cause.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readZip } from '../layer/lib/zip.mjs';
import { REPO_ROOT, cleanupTempDirs, makeTempDir } from './helpers/restricted.js';
import { ensureDist, makeApp } from './helpers/package-app.js';

const OPTIONS = `{ keys: { token: { use: 'hmac' } }, entropy: { source: 'local' } }`;
const BODY = `async (event, context) => {
  const key = await context.secretScope.key('token');
  return { tag: hmacSign(key, event.message).length, current: currentScope() === context.secretScope };
}`;
const ESM_HANDLER = `import middy from '@middy/core';
import { withSecretScope, hmacSign, currentScope } from 'secret-scope';
import { secretScopeMiddleware } from 'secret-scope/middy';
export const handler = withSecretScope(${BODY}, ${OPTIONS});
export const middyHandler = middy(${BODY}).use(secretScopeMiddleware(${OPTIONS}));
`;
const CJS_HANDLER = `const { default: middy } = require('@middy/core'); // ESM-only package: require() gives its namespace
const { withSecretScope, hmacSign, currentScope } = require('secret-scope');
const { secretScopeMiddleware } = require('secret-scope/middy');
exports.handler = withSecretScope(${BODY}, ${OPTIONS});
exports.middyHandler = middy(${BODY}).use(secretScopeMiddleware(${OPTIONS}));
`;
// An ESM handler whose entropy comes from KMS: bundling pulls @aws-sdk/client-kms in.
const KMS_HANDLER = `import { withSecretScope, hmacSign } from 'secret-scope';
export const handler = withSecretScope(async (event, context) => hmacSign(await context.secretScope.key('token'), 'm').length,
  { keys: { token: { use: 'hmac' } } });
`;
/** Loads a bundle like the Lambda runtime (import), then invokes one export; prints what happened. */
const RUNNER = `import { register } from 'node:module';
import { pathToFileURL } from 'node:url';
const [bundle, name] = process.argv.slice(2);
const nodePath = (process.env.NODE_PATH ?? '').split(':').filter(Boolean);
if (process.env.LAYER_HOOKS) register(pathToFileURL(process.env.LAYER_HOOKS), { data: { nodePath } });
const report = (phase, e) => console.log(JSON.stringify({ phase, name: e?.name, code: e?.code, message: e?.message }));
let mod;
try { mod = await import(pathToFileURL(bundle).href); } catch (e) { report('load', e); process.exit(0); }
const fn = mod[name] ?? mod.default?.[name];
try {
  const result = await fn({ message: 'hello' }, { awsRequestId: 'r1', getRemainingTimeInMillis: () => 10000 });
  console.log(JSON.stringify({ phase: 'ok', result }));
} catch (e) { report('invoke', e); }
`;

let app = '';
let deploy = '';
let opt = '';

async function bundle(entry: string, outfile: string, options: { format: 'esm' | 'cjs'; external: string[]; banner?: string }): Promise<string> {
  const esbuild = await import('esbuild');
  await esbuild.build({
    entryPoints: [join(app, entry)],
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: options.format,
    external: options.external,
    outfile: join(deploy, outfile),
    banner: options.banner ? { js: options.banner } : undefined,
    logLevel: 'silent',
    absWorkingDir: app,
  });
  return join(deploy, outfile);
}

function run(file: string, name: string, env: Record<string, string> = {}) {
  const stdout = execFileSync(process.execPath, [join(deploy, 'run.mjs'), file, name], {
    cwd: deploy,
    encoding: 'utf8',
    env: { PATH: process.env.PATH!, HOME: process.env.HOME ?? '/tmp', ...env },
  });
  return JSON.parse(stdout.trim().split('\n').pop()!);
}

beforeAll(async () => {
  ensureDist();
  app = makeApp({ 'handler.mjs': ESM_HANDLER, 'handler.cjs': CJS_HANDLER, 'kms-handler.mjs': KMS_HANDLER });
  // The deployment directory has no node_modules: what the bundle does not hold comes from /opt.
  deploy = makeTempDir('secret-scope-deploy-');
  writeFileSync(join(deploy, 'run.mjs'), RUNNER);
  const layerOut = makeTempDir('secret-scope-layer-out-');
  execFileSync(process.execPath, [join(REPO_ROOT, 'layer', 'build.mjs'), '--out', layerOut, '--arch', 'x86_64'], { stdio: 'ignore' });
  opt = join(makeTempDir('secret-scope-root-'), 'opt');
  for (const e of readZip(readFileSync(join(layerOut, 'secret-scope-layer-x86_64.zip')))) {
    const p = join(opt, e.name);
    if (e.isDir) mkdirSync(p, { recursive: true });
    else {
      mkdirSync(dirname(p), { recursive: true });
      writeFileSync(p, e.data);
    }
  }
}, 240_000);
afterAll(() => cleanupTempDirs());

const SDK = ['@aws-sdk/*'];

describe.runIf(process.arch === 'x64')('bundled handlers', () => {
  const layerEnv = () => ({ NODE_PATH: join(opt, 'nodejs', 'node_modules'), LAYER_HOOKS: join(REPO_ROOT, 'layer', 'lib', 'node-path-hooks.mjs') });

  it.each([
    ['ESM handler, ESM bundle (CDK format: ESM)', 'handler.mjs', 'esm'],
    ['ESM handler, CJS bundle (SAM/CDK default)', 'handler.mjs', 'cjs'],
    ['CJS handler, CJS bundle', 'handler.cjs', 'cjs'],
  ] as const)('%s with secret-scope external runs against the layer (wrapper and middy)', async (_, entry, format) => {
    const file = await bundle(entry, `right-${entry}.${format === 'esm' ? 'mjs' : 'cjs'}`, { format, external: [...SDK, 'secret-scope'] });
    expect(readFileSync(file, 'utf8')).not.toContain('node-gyp-build');
    for (const name of ['handler', 'middyHandler']) {
      expect(run(file, name, layerEnv()), name).toEqual({ phase: 'ok', result: { tag: 32, current: true } });
    }
  });

  it.each([
    ['ESM handler, ESM bundle', 'handler.mjs', 'esm'],
    ['ESM handler, CJS bundle', 'handler.mjs', 'cjs'],
    ['CJS handler, CJS bundle', 'handler.cjs', 'cjs'],
  ] as const)('%s with secret-scope bundled in fails at wrap time with AddonLoadError naming the remedy', async (_, entry, format) => {
    const file = await bundle(entry, `wrong-${entry}.${format === 'esm' ? 'mjs' : 'cjs'}`, { format, external: SDK });
    // Even with the layer present: the bundled copy must not half-work.
    const r = run(file, 'handler', layerEnv());
    expect(r.phase).toBe('load');
    expect(r.name).toBe('AddonLoadError');
    expect(r.code).toBe('ERR_ADDON_LOAD');
    expect(r.message).toMatch(/mark it external/);
    expect(r.message).toMatch(/--external:secret-scope/);
    expect(r.message).toMatch(/externalModules/);
    expect(r.message).toMatch(/layer/);
  });

  it('SECRET_SCOPE_ADDON_PATH loads the addon into a bundled copy; an SDK the bundle broke is named as the cause', async () => {
    const file = await bundle('kms-handler.mjs', 'kms.mjs', { format: 'esm', external: [] });
    const addonPath = join(opt, 'nodejs', 'node_modules', 'secret-scope', 'prebuilds', 'linux-x64', 'node.napi.glibc.node');
    const r = run(file, 'handler', { SECRET_SCOPE_ADDON_PATH: addonPath, AWS_REGION: 'us-east-1' });
    expect(r.phase).toBe('invoke');
    expect(r.code).toBe('ERR_KMS_SDK_LOAD');
    expect(r.message).toMatch(/Dynamic require of "node:/);
    expect(r.message).not.toMatch(/not installed/);
  });
});
