// Prints every C++ source under native/ (paths relative to the repo root, sorted),
// for binding.gyp's "sources": a new ops/ or bindings/ family file is built
// without editing the build file. Used by binding.gyp.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const root = path.join(__dirname, '..');
const files = fs
  .readdirSync(__dirname, { recursive: true, encoding: 'utf8' })
  .filter((f) => f.endsWith('.cc'))
  .map((f) => path.posix.join('native', f.split(path.sep).join('/')))
  .sort();
if (files.length === 0) {
  process.stderr.write(`secret-scope: no C++ sources under ${path.relative(root, __dirname) || 'native'}\n`);
  process.exit(1);
}
process.stdout.write(files.join('\n'));
