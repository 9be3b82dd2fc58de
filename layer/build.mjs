#!/usr/bin/env node
// npm run build:layer: writes the Lambda layer zips
//
//   layer/dist/secret-scope-layer-x86_64.zip
//   layer/dist/secret-scope-layer-arm64.zip
//
// each holding nodejs/node_modules/secret-scope/ with
//   package.json         exports map: "." and "./middy", import (ESM) and require (CJS)
//   dist/index.js, dist/middy.js, dist/chunk-*.js     ESM (esbuild, code splitting: one
//                                                     copy of the scope state for both entries)
//   dist/index.cjs, dist/middy.cjs -> dist/secret-scope.cjs   CJS (one bundle, two entry files)
//   prebuilds/linux-<arch>/node.napi.glibc.node + SOURCES.sha256   that architecture only
//   THIRD-PARTY-NOTICES  (node-gyp-build is bundled)
// and nothing else: no @aws-sdk/* (the runtime provides it; a copy under /opt
// would shadow the runtime's), no @middy/core (the function brings its own),
// no sources, types, tests, binding.gyp or native/ (nothing to build on Lambda).
//
// node-gyp-build is bundled into the JS (src/memory/native.ts loads it through
// createRequire, which esbuild does not follow; a build plugin turns that one
// require into an import). The bundles are built from src/ directly with
// esbuild, so the layer does not depend on the tsup build.
//
//   node layer/build.mjs [--out DIR] [--arch x86_64,arm64] [--allow-stale-prebuilds]
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { digestOf, embeddedDigest, PREBUILD_FILE, sourceManifest } from './lib/prebuild-info.mjs';
import { writeZip } from './lib/zip.mjs';

// BearSSL's MIT notice (Debian libbearssl-dev's copyright file: "Files: *").
const BEARSSL_LICENSE = `Copyright (c) 2016-2018 Thomas Pornin <pornin@bolet.org>

Permission is hereby granted, free of charge, to any person obtaining
a copy of this software and associated documentation files (the
"Software"), to deal in the Software without restriction, including
without limitation the rights to use, copy, modify, merge, publish,
distribute, sublicense, and/or sell copies of the Software, and to
permit persons to whom the Software is furnished to do so, subject to
the following conditions:

The above copyright notice and this permission notice shall be
included in all copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND,
EXPRESS OR IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF
MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND
NONINFRINGEMENT. IN NO EVENT SHALL THE AUTHORS OR COPYRIGHT HOLDERS
BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER LIABILITY, WHETHER IN AN
ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM, OUT OF OR IN
CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.
`;

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const LAYER_ARCHES = { x86_64: 'x64', arm64: 'arm64' };
export const PACKAGE_DIR = 'nodejs/node_modules/secret-scope';
export const ENTRIES = ['index', 'middy'];
const EXTERNAL = ['@aws-sdk/*', '@smithy/*', '@middy/core'];

const ESM_BANNER = [
  "import { createRequire as __secretScopeCreateRequire } from 'node:module';",
  'const require = __secretScopeCreateRequire(import.meta.url);',
].join('\n');
const CJS_BANNER = "var __secretScopeImportMetaUrl = require('node:url').pathToFileURL(__filename).href;";

function parseArgs(argv) {
  const o = { out: join(REPO, 'layer', 'dist'), arches: Object.keys(LAYER_ARCHES), allowStale: false, quiet: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--out') o.out = resolve(argv[++i]);
    else if (a === '--arch') o.arches = argv[++i].split(',');
    else if (a === '--allow-stale-prebuilds') o.allowStale = true;
    else if (a === '--quiet') o.quiet = true;
    else throw new Error(`unknown argument ${a} (--out DIR, --arch x86_64,arm64, --allow-stale-prebuilds)`);
  }
  for (const a of o.arches) if (!LAYER_ARCHES[a]) throw new Error(`unknown layer architecture ${a} (x86_64 or arm64)`);
  return o;
}

/** Rewrites src/memory/native.ts's `require('node-gyp-build')` into a bundled import. */
const bundleNodeGypBuild = {
  name: 'secret-scope-bundle-node-gyp-build',
  setup(build) {
    build.onLoad({ filter: /[\\/]src[\\/]memory[\\/]native\.ts$/ }, (args) => {
      const text = readFileSync(args.path, 'utf8');
      const pattern = /\brequire\((['"])node-gyp-build\1\)/g;
      const hits = text.match(pattern)?.length ?? 0;
      // A static import needs no rewrite: esbuild bundles it as it is.
      if (hits === 0 && /\bfrom\s+(['"])node-gyp-build\1/.test(text)) return undefined;
      if (hits !== 1) {
        return { errors: [{ text: `expected exactly one require('node-gyp-build') in src/memory/native.ts, found ${hits}` }] };
      }
      const contents = `import __secretScopeNodeGypBuild from 'node-gyp-build';\n${text.replace(pattern, '__secretScopeNodeGypBuild')}`;
      return { contents, loader: 'ts' };
    });
  },
};

// Keys the per-thread state slot the ESM and CJS bundles share (src/memory/process-state.ts).
const VERSION_DEFINE = { __SECRET_SCOPE_VERSION__: JSON.stringify(JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')).version) };

async function bundle(stageDist) {
  const esbuild = await import('esbuild');
  const common = {
    define: VERSION_DEFINE,
    bundle: true,
    platform: 'node',
    target: 'node20',
    external: EXTERNAL,
    plugins: [bundleNodeGypBuild],
    minifySyntax: true,
    minifyWhitespace: true,
    keepNames: true,
    legalComments: 'none',
    logLevel: 'warning',
    absWorkingDir: REPO,
    metafile: true,
  };
  const esm = await esbuild.build({
    ...common,
    entryPoints: Object.fromEntries(ENTRIES.map((e) => [e, join(REPO, 'src', `${e}.ts`)])),
    format: 'esm',
    splitting: true,
    outdir: stageDist,
    outExtension: { '.js': '.js' },
    chunkNames: 'chunk-[hash]',
    banner: { js: ESM_BANNER },
  });
  // One CJS bundle holding every entry's namespace, so index.cjs and middy.cjs
  // share one copy of the scope state (esbuild has no CJS code splitting).
  const cjsEntry = ENTRIES.map((e) => `export * as ${e} from ${JSON.stringify(`./src/${e}.ts`)};`).join('\n');
  const cjs = await esbuild.build({
    ...common,
    stdin: { contents: cjsEntry, resolveDir: REPO, sourcefile: 'secret-scope-cjs-entry.ts', loader: 'ts' },
    format: 'cjs',
    outfile: join(stageDist, 'secret-scope.cjs'),
    define: { ...VERSION_DEFINE, 'import.meta.url': '__secretScopeImportMetaUrl' },
    banner: { js: CJS_BANNER },
  });
  for (const e of ENTRIES) {
    writeFileSync(
      join(stageDist, `${e}.cjs`),
      `'use strict';\nconst ns = require('./secret-scope.cjs').${e};\n` +
        "if (!ns.__esModule) Object.defineProperty(ns, '__esModule', { value: true });\nmodule.exports = ns;\n",
    );
  }
  const inputs = new Set([...Object.keys(esm.metafile.inputs), ...Object.keys(cjs.metafile.inputs)]);
  return [...inputs];
}

function layerPackageJson() {
  const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8'));
  const exportsMap = {};
  for (const e of ENTRIES) {
    exportsMap[e === 'index' ? '.' : `./${e}`] = { import: `./dist/${e}.js`, require: `./dist/${e}.cjs` };
  }
  exportsMap['./package.json'] = './package.json';
  return {
    name: pkg.name,
    version: pkg.version,
    description: pkg.description,
    license: pkg.license,
    type: 'module',
    main: './dist/index.cjs',
    module: './dist/index.js',
    exports: exportsMap,
    engines: pkg.engines,
  };
}

function listFiles(dir, base = dir, out = []) {
  for (const name of readdirSyncSorted(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) listFiles(p, base, out);
    else out.push(relative(base, p).split('\\').join('/'));
  }
  return out;
}

function readdirSyncSorted(dir) {
  return readdirSync(dir).sort();
}


export async function buildLayers(options = {}) {
  const o = { out: join(REPO, 'layer', 'dist'), arches: Object.keys(LAYER_ARCHES), allowStale: false, quiet: false, ...options };
  const log = (m) => o.quiet || process.stderr.write(`[build:layer] ${m}\n`);

  // The committed prebuilds must match the native sources.
  const manifest = sourceManifest(REPO);
  for (const layerArch of o.arches) {
    const arch = LAYER_ARCHES[layerArch];
    const bin = join(REPO, 'prebuilds', `linux-${arch}`, PREBUILD_FILE);
    const d = embeddedDigest(bin);
    if (d !== manifest.digest) {
      const msg = `prebuilds/linux-${arch} was built from other sources (digest ${d}, native/ is ${manifest.digest}); run node layer/prebuild.mjs`;
      if (!o.allowStale) throw new Error(msg);
      log(`WARNING: ${msg}`);
    }
  }

  const stage = join(REPO, '.cache', 'layer-stage');
  rmSync(stage, { recursive: true, force: true });
  const stageDist = join(stage, 'dist');
  mkdirSync(stageDist, { recursive: true });
  const inputs = await bundle(stageDist);
  const bundled = inputs.filter((p) => p.includes('node_modules/')).map((p) => p.replace(/^.*node_modules\//, ''));
  log(`bundled ${inputs.length} modules (from node_modules: ${bundled.join(', ') || 'none'})`);

  const jsFiles = listFiles(stageDist).map((f) => ({ name: `dist/${f}`, data: readFileSync(join(stageDist, f)) }));
  const pkgJson = Buffer.from(`${JSON.stringify(layerPackageJson(), null, 2)}\n`);
  const notice = Buffer.from(
    'secret-scope bundles node-gyp-build (https://github.com/prebuild/node-gyp-build):\n\n' +
      readFileSync(join(REPO, 'node_modules', 'node-gyp-build', 'LICENSE'), 'utf8') +
      '\n\nThe native addon links BearSSL (https://bearssl.org) statically:\n\n' +
      BEARSSL_LICENSE,
  );

  mkdirSync(o.out, { recursive: true });
  const results = [];
  for (const layerArch of o.arches) {
    const arch = LAYER_ARCHES[layerArch];
    const preDir = join(REPO, 'prebuilds', `linux-${arch}`);
    const entries = [
      { name: 'package.json', data: pkgJson },
      { name: 'THIRD-PARTY-NOTICES', data: notice },
      ...jsFiles,
      { name: `prebuilds/linux-${arch}/${PREBUILD_FILE}`, data: readFileSync(join(preDir, PREBUILD_FILE)), mode: 0o755 },
      { name: `prebuilds/linux-${arch}/SOURCES.sha256`, data: readFileSync(join(preDir, 'SOURCES.sha256')) },
    ].map((e) => ({ ...e, name: `${PACKAGE_DIR}/${e.name}` }));
    const zip = writeZip(entries);
    const file = join(o.out, `secret-scope-layer-${layerArch}.zip`);
    writeFileSync(file, zip);
    const unpacked = entries.reduce((n, e) => n + e.data.length, 0);
    results.push({ arch: layerArch, file, bytes: zip.length, unpackedBytes: unpacked, files: entries.length });
    log(`${relative(process.cwd(), file)}: ${(zip.length / 1024).toFixed(1)} KiB (${zip.length} bytes; ${entries.length} files, ${(unpacked / 1024).toFixed(1)} KiB unpacked)`);
  }
  rmSync(stage, { recursive: true, force: true });
  return { results, sourceDigest: manifest.digest, digestOfSidecar: digestOf(manifest.manifest) };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  buildLayers(parseArgs(process.argv.slice(2)))
    .then(({ results }) => {
      for (const r of results) process.stdout.write(`${r.arch}\t${r.bytes}\t${r.file}\n`);
    })
    .catch((e) => {
      process.stderr.write(`[build:layer] ${e.stack ?? e}\n`);
      process.exit(1);
    });
}
