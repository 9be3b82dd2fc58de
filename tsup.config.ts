import { defineConfig } from 'tsup';

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
  external: ['@aws-sdk/client-kms', '@middy/core', 'node-gyp-build'],
});
