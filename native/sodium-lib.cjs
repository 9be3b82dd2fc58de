// Prints the static libsodium archive for a node-gyp target_arch (x64, arm64),
// from Debian's multiarch libsodium-dev. Used by binding.gyp.
'use strict';
const fs = require('node:fs');
const arch = process.argv[2] || process.arch;
const triplet = { x64: 'x86_64-linux-gnu', arm64: 'aarch64-linux-gnu' }[arch];
const candidates = [
  process.env.SECRET_SCOPE_LIBSODIUM_A,
  triplet && `/usr/lib/${triplet}/libsodium.a`,
  '/usr/lib/libsodium.a',
  '/usr/local/lib/libsodium.a',
].filter(Boolean);
const found = candidates.find((p) => fs.existsSync(p));
if (!found) {
  process.stderr.write(
    `secret-scope: no static libsodium for ${arch} (looked in ${candidates.join(', ')}); ` +
      'install libsodium-dev (Debian/Ubuntu) or set SECRET_SCOPE_LIBSODIUM_A\n',
  );
  process.exit(1);
}
process.stdout.write(found);
