// Loads what the bench measures: the BUILT library (dist/), its raw addon (the
// same instance the library uses), and sodium-native.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
/** dist/ by default; SECRET_SCOPE_BENCH_DIST points the bench at another build of the same package (development). */
export const DIST = process.env.SECRET_SCOPE_BENCH_DIST ? resolve(process.env.SECRET_SCOPE_BENCH_DIST) : join(ROOT, 'dist');
export const DIST_ESM = join(DIST, 'index.js');
export const DIST_CJS = join(DIST, 'index.cjs');
const require = createRequire(join(ROOT, 'package.json'));

export async function loadLibrary() {
  if (!existsSync(DIST_ESM)) {
    process.stderr.write(`bench: ${DIST_ESM} is missing. Build the library first:\n\n    npm run build\n\n`);
    process.exit(1);
  }
  return import(pathToFileURL(DIST_ESM).href);
}

/** Path of the .node file node-gyp-build picks for this package (what dist's loader loads). */
export function addonPath() {
  if (process.env.SECRET_SCOPE_ADDON_PATH) return process.env.SECRET_SCOPE_ADDON_PATH;
  return require('node-gyp-build').path(ROOT);
}

/** The raw N-API surface: numeric handles, no option validation, no scope objects. */
export function rawAddon() {
  return require(addonPath());
}

export function loadSodiumNative() {
  try {
    return { sodium: require('sodium-native'), version: require('sodium-native/package.json').version };
  } catch (e) {
    return { error: `sodium-native is not installed (${e.code ?? e.message}); npm install` };
  }
}
