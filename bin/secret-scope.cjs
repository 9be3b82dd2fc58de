#!/usr/bin/env node
'use strict';
const { runCli } = require('../dist/cli.cjs');
runCli(process.argv.slice(2)).then(
  (code) => {
    if (typeof code === 'number' && code !== 0) process.exitCode = code;
  },
  (e) => {
    process.stderr.write(`secret-scope: ${e && e.message ? e.message : String(e)}\n`);
    process.exitCode = 1;
  },
);
