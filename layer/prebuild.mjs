#!/usr/bin/env node
// Builds the committed Node-API prebuilds:
//
//   prebuilds/linux-x64/node.napi.glibc.node     + SOURCES.sha256
//   prebuilds/linux-arm64/node.napi.glibc.node   + SOURCES.sha256
//
//   node layer/prebuild.mjs                 # both architectures
//   node layer/prebuild.mjs --arch arm64    # one
//   node layer/prebuild.mjs --check         # only verify the committed ones (no compiler needed)
//   node layer/prebuild.mjs --arch arm64 --out DIR
//                                           # build and check, but write DIR/linux-<arch>/ instead of
//                                           # prebuilds/ (tests of the working tree, e.g. test/aes-gcm.test.ts)
//
// Each architecture is built by node-gyp in its own staging directory
// (.cache/prebuild/<arch>, a copy of binding.gyp + native/), so the repo's
// build/ is never touched. arm64 is cross-compiled with g++-aarch64-linux-gnu
// against Debian's multiarch libsodium.a and libbearssl.a (native/sodium-lib.cjs and
// native/bearssl-lib.cjs pick them from target_arch); see scripts/setup-arm64.sh.
//
// Amazon Linux 2023 has glibc 2.34; Debian 12 has 2.36. Two link-time fixes
// keep every GLIBC_ version requirement <= 2.34:
//   -Wl,--gc-sections             drops libstdc++'s unused std::random_device
//                                 (arc4random@GLIBC_2.36, reached only through
//                                 the COW-string instantiations);
//   layer/compat/glibc-compat.c   a hidden _dl_find_object (GLIBC_2.35) for the
//                                 static unwinder from -static-libgcc.
// The result is stripped, gets the source digest as an ELF section (see
// layer/lib/prebuild-info.mjs) and is checked with readelf before it is written.
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  DIGEST_PREFIX,
  DIGEST_SECTION,
  MAX_GLIBC,
  PREBUILD_ARCHES,
  PREBUILD_FILE,
  TOOLS,
  compareVersions,
  digestOf,
  elfReport,
  embeddedDigest,
  sourceManifest,
} from './lib/prebuild-info.mjs';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const MACHINE = { x64: 'Advanced Micro Devices X86-64', arm64: 'AArch64' };

function log(msg) {
  process.stderr.write(`[prebuild] ${msg}\n`);
}

function parseArgs(argv) {
  const opts = { arches: [...PREBUILD_ARCHES], check: false, out: undefined };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--check') opts.check = true;
    else if (a === '--arch') opts.arches = argv[++i].split(',');
    else if (a.startsWith('--arch=')) opts.arches = a.slice(7).split(',');
    else if (a === '--out') opts.out = resolve(argv[++i]);
    else {
      process.stderr.write('usage: node layer/prebuild.mjs [--arch x64,arm64] [--check] [--out DIR]\n');
      process.exit(2);
    }
  }
  for (const a of opts.arches) {
    if (!PREBUILD_ARCHES.includes(a)) throw new Error(`unknown arch ${a} (x64 or arm64)`);
  }
  return opts;
}

/** Node headers for node-gyp: npm's nodedir (e.g. from ~/.npmrc) or the running Node's include/node. */
function nodeDir() {
  const fromNpm = process.env.npm_config_nodedir;
  if (fromNpm && existsSync(join(fromNpm, 'include', 'node', 'node_api.h'))) return fromNpm;
  const prefix = dirname(dirname(process.execPath));
  if (existsSync(join(prefix, 'include', 'node', 'node_api.h'))) return prefix;
  return undefined; // node-gyp downloads headers
}

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8', maxBuffer: 64 << 20, ...opts });
  if (r.error) throw new Error(`${cmd}: ${r.error.message}`);
  if (r.status !== 0) {
    throw new Error(`${cmd} ${args.join(' ')} failed (exit ${r.status}):\n${r.stdout}\n${r.stderr}`);
  }
  return r.stdout;
}

/** Problems with a built prebuild (empty when it is fine). */
export function checkBinary(file, arch, expectedDigest) {
  const problems = [];
  const r = elfReport(file, TOOLS[arch].readelf);
  if (r.machine !== MACHINE[arch]) problems.push(`machine is ${r.machine}, expected ${MACHINE[arch]}`);
  if (!r.maxGlibc || compareVersions(r.maxGlibc, MAX_GLIBC) > 0) {
    problems.push(`needs GLIBC_${r.maxGlibc} (> ${MAX_GLIBC}): ${r.tooNew.join(', ')}`);
  }
  if (r.glibcxx.length) problems.push(`needs libstdc++ versions ${r.glibcxx.join(', ')}`);
  if (r.gcc.length) problems.push(`needs libgcc_s versions ${r.gcc.join(', ')}`);
  if (!r.stripped) problems.push('not stripped');
  if (!r.exported.includes('napi_register_module_v1')) problems.push('does not export napi_register_module_v1');
  const bad = r.needed.filter((n) => !/^(libc\.so\.6|libm\.so\.6|libdl\.so\.2|libpthread\.so\.0|ld-linux-.*\.so\.[12])$/.test(n));
  if (bad.length) problems.push(`unexpected NEEDED libraries: ${bad.join(', ')}`);
  if (expectedDigest !== undefined) {
    const d = embeddedDigest(file);
    if (d !== expectedDigest) problems.push(`embedded source digest ${d ?? '(none)'} != ${expectedDigest}`);
  }
  return { problems, report: r };
}

function build(arch, manifest, stageRoot = join(REPO, '.cache', 'prebuild')) {
  const tools = TOOLS[arch];
  const stage = join(stageRoot, arch);
  rmSync(stage, { recursive: true, force: true });
  mkdirSync(stage, { recursive: true });
  // Stage exactly the bytes that were digested.
  for (const f of manifest.files) {
    const dest = join(stage, f.path);
    mkdirSync(dirname(dest), { recursive: true });
    writeFileSync(dest, f.bytes);
  }
  symlinkSync(join(REPO, 'node_modules'), join(stage, 'node_modules'));

  const compatObj = join(stage, 'glibc-compat.o');
  log(`${arch}: compiling layer/compat/glibc-compat.c with ${tools.cc}`);
  run(tools.cc, ['-O2', '-fPIC', '-fvisibility=hidden', '-Wall', '-Wextra', '-Werror', '-c', join(stage, 'layer/compat/glibc-compat.c'), '-o', compatObj]);

  // Should binding.gyp take these fixes over (native/glibc-compat.c in its
  // sources, --gc-sections in its ldflags), don't add them a second time.
  const gyp0 = manifest.files.find((f) => f.path === 'binding.gyp').bytes.toString('utf8');
  const ldflags = [];
  if (!/glibc-compat/.test(gyp0)) ldflags.push(compatObj);
  if (!/--gc-sections/.test(gyp0)) ldflags.push('-Wl,--gc-sections');
  const env = { ...process.env, LDFLAGS: ldflags.join(' '), npm_config_arch: arch };
  if (arch !== process.arch) Object.assign(env, { CC: tools.cc, CXX: tools.cxx, LINK: tools.cxx, AR: `${tools.triplet}-ar` });
  const gyp = join(REPO, 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
  const args = [gyp, 'rebuild', `--arch=${arch}`, `-j`, String(Math.max(1, cpus().length))];
  const nd = nodeDir();
  if (nd) args.push(`--nodedir=${nd}`);
  log(`${arch}: node-gyp rebuild --arch=${arch}${arch !== process.arch ? ` (CXX=${tools.cxx})` : ''}`);
  const t0 = Date.now();
  run(process.execPath, args, { cwd: stage, env });
  log(`${arch}: compiled in ${((Date.now() - t0) / 1000).toFixed(1)} s`);

  const built = join(stage, 'build', 'Release', 'secret_scope.node');
  const out = join(stage, PREBUILD_FILE);
  run(tools.strip, ['--strip-all', '-o', out, built]);
  const note = join(stage, 'digest.txt');
  writeFileSync(note, `${DIGEST_PREFIX}${manifest.digest}\0`);
  run(tools.objcopy, ['--add-section', `${DIGEST_SECTION}=${note}`, '--set-section-flags', `${DIGEST_SECTION}=readonly`, out]);
  return out;
}

function verifyCommitted(arch, manifest) {
  const dir = join(REPO, 'prebuilds', `linux-${arch}`);
  const bin = join(dir, PREBUILD_FILE);
  const problems = [];
  if (!existsSync(bin)) return [`${bin} missing`];
  let sidecar = '';
  try {
    sidecar = execFileSync('cat', [join(dir, 'SOURCES.sha256')], { encoding: 'utf8' });
  } catch {
    problems.push('SOURCES.sha256 missing');
  }
  if (sidecar !== manifest.manifest) problems.push('SOURCES.sha256 does not match binding.gyp/native/layer/compat (rebuild: node layer/prebuild.mjs)');
  const r = checkBinary(bin, arch, digestOf(sidecar));
  problems.push(...r.problems);
  return problems;
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const manifest = sourceManifest(REPO);
  log(`source digest ${manifest.digest} (${manifest.files.length} files)`);
  let failed = false;
  for (const arch of opts.arches) {
    if (opts.check) {
      const problems = verifyCommitted(arch, manifest);
      if (problems.length) {
        failed = true;
        log(`${arch}: FAIL\n  - ${problems.join('\n  - ')}`);
      } else {
        log(`${arch}: ok`);
      }
      continue;
    }
    const file = build(arch, manifest, opts.out ? join(opts.out, 'stage') : undefined);
    const { problems, report } = checkBinary(file, arch, manifest.digest);
    if (problems.length) throw new Error(`${arch} prebuild rejected:\n  - ${problems.join('\n  - ')}`);
    const dir = join(opts.out ?? join(REPO, 'prebuilds'), `linux-${arch}`);
    mkdirSync(dir, { recursive: true });
    for (const name of readdirSync(dir)) rmSync(join(dir, name), { recursive: true, force: true });
    copyFileSync(file, join(dir, PREBUILD_FILE));
    writeFileSync(join(dir, 'SOURCES.sha256'), manifest.manifest);
    const size = statSync(join(dir, PREBUILD_FILE)).size;
    log(
      `${arch}: ${join(dir, PREBUILD_FILE)} ${size} bytes, max GLIBC_${report.maxGlibc}, ` +
        `NEEDED ${report.needed.join(' ')}, versions ${report.versions.join(' ')}`,
    );
  }
  if (failed) process.exit(1);
}

main().catch((e) => {
  process.stderr.write(`[prebuild] ${e.stack ?? e}\n`);
  process.exit(1);
});
