import { readFileSync } from 'node:fs';
import { defineConfig } from 'tsup';

const { version } = JSON.parse(readFileSync(new URL('./package.json', import.meta.url), 'utf8'));

// One build for every entry point so that shared modules (the addon loader,
// the AsyncLocalStorage of scopes) exist once per format, not once per entry.
export default defineConfig({
  entry: {
    index: 'src/index.ts',
    middy: 'src/middy.ts',
    'kms-local': 'src/kms-local.ts',
    testing: 'src/testing.ts',
    cli: 'src/cli.ts',
    'audit-child': 'src/audit/child.ts',
  },
  format: ['esm', 'cjs'],
  dts: true,
  splitting: true,
  shims: true,
  sourcemap: false,
  clean: true,
  target: 'node20',
  platform: 'node',
  // Keys the per-thread state slot that the ESM and CJS builds share (src/memory/process-state.ts).
  define: { __SECRET_SCOPE_VERSION__: JSON.stringify(version) },
  external: ['@aws-sdk/client-kms', '@middy/core', 'node-gyp-build'],
});
