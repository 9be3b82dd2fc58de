// Prints the static BearSSL archive for a node-gyp target_arch (x64, arm64),
// from Debian's multiarch libbearssl-dev. Used by binding.gyp (like sodium-lib.cjs).
'use strict';
const fs = require('node:fs');
const arch = process.argv[2] || process.arch;
const triplet = { x64: 'x86_64-linux-gnu', arm64: 'aarch64-linux-gnu' }[arch];
const candidates = [
  process.env.SECRET_SCOPE_LIBBEARSSL_A,
  triplet && `/usr/lib/${triplet}/libbearssl.a`,
  '/usr/lib/libbearssl.a',
  '/usr/local/lib/libbearssl.a',
].filter(Boolean);
const found = candidates.find((p) => fs.existsSync(p));
if (!found) {
  process.stderr.write(
    `secret-scope: no static BearSSL for ${arch} (looked in ${candidates.join(', ')}); ` +
      'install libbearssl-dev (Debian/Ubuntu) or set SECRET_SCOPE_LIBBEARSSL_A\n',
  );
  process.exit(1);
}
process.stdout.write(found);
