// Shared by layer/prebuild.mjs (writes prebuilds) and test/prebuild.test.ts
// (checks the committed ones): the source digest scheme and the ELF checks.
//
// Source digest: every file under SOURCE_INPUTS (binding.gyp, native/**, and
// the link-time shim layer/compat/**), sorted by repository-relative path
// (byte order, '/' separators), listed one per line as `sha256sum` prints it:
//
//   <sha256 hex of the file>  <relative path>\n
//
// That manifest is prebuilds/<platform>-<arch>/SOURCES.sha256 (so
// `sha256sum -c prebuilds/linux-x64/SOURCES.sha256` works from the repo root),
// and SHA-256 of the manifest text is the source digest, embedded in the
// binary as the non-loaded ELF section `.secret_scope_src` with the content
// `secret-scope-sources-sha256:<hex>\0`.
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';

export const SOURCE_INPUTS = ['binding.gyp', 'native', 'layer/compat'];
export const DIGEST_SECTION = '.secret_scope_src';
export const DIGEST_PREFIX = 'secret-scope-sources-sha256:';
/** node-gyp-build 4.8 picks `node.napi.*` for any Node version (runtime-agnostic N-API), `glibc` keeps it off musl. */
export const PREBUILD_FILE = 'node.napi.glibc.node';
export const PREBUILD_ARCHES = ['x64', 'arm64'];
/** Amazon Linux 2023 ships glibc 2.34. */
export const MAX_GLIBC = '2.34';

export const TOOLS = {
  x64: { cc: 'gcc', cxx: 'g++', strip: 'strip', objcopy: 'objcopy', readelf: 'readelf', triplet: 'x86_64-linux-gnu' },
  arm64: {
    cc: 'aarch64-linux-gnu-gcc',
    cxx: 'aarch64-linux-gnu-g++',
    strip: 'aarch64-linux-gnu-strip',
    objcopy: 'aarch64-linux-gnu-objcopy',
    readelf: 'readelf',
    triplet: 'aarch64-linux-gnu',
  },
};

function walk(root, rel, out) {
  const abs = join(root, rel);
  const st = statSync(abs);
  if (st.isDirectory()) {
    for (const name of readdirSync(abs)) walk(root, rel ? `${rel}/${name}` : name, out);
  } else if (st.isFile()) {
    out.push(rel.split(sep).join('/'));
  }
}

/** Sorted repository-relative paths of every digest input. */
export function sourceFiles(repoRoot) {
  const files = [];
  for (const p of SOURCE_INPUTS) walk(repoRoot, p, files);
  return files.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/** { files: [{path, sha256, bytes}], manifest: string, digest: hex } for the tree at repoRoot. */
export function sourceManifest(repoRoot) {
  const files = sourceFiles(repoRoot).map((path) => {
    const bytes = readFileSync(join(repoRoot, path));
    return { path, bytes, sha256: createHash('sha256').update(bytes).digest('hex') };
  });
  const manifest = files.map((f) => `${f.sha256}  ${f.path}\n`).join('');
  return { files, manifest, digest: digestOf(manifest) };
}

export function digestOf(manifestText) {
  return createHash('sha256').update(manifestText).digest('hex');
}

/** The digest embedded in a prebuild (`.secret_scope_src`), or undefined. */
export function embeddedDigest(file) {
  const buf = readFileSync(file);
  const sec = elfSections(buf).find((s) => s.name === DIGEST_SECTION);
  if (!sec) return undefined;
  const text = buf.subarray(sec.offset, sec.offset + sec.size).toString('latin1').replace(/\0+$/, '');
  return text.startsWith(DIGEST_PREFIX) ? text.slice(DIGEST_PREFIX.length) : undefined;
}

/** Section headers of a 64-bit little-endian ELF file (enough for x86_64 and aarch64). */
export function elfSections(buf) {
  if (buf.readUInt32BE(0) !== 0x7f454c46 || buf[4] !== 2 || buf[5] !== 1) throw new Error('not a 64-bit LE ELF file');
  const shoff = Number(buf.readBigUInt64LE(0x28));
  const shentsize = buf.readUInt16LE(0x3a);
  const shnum = buf.readUInt16LE(0x3c);
  const shstrndx = buf.readUInt16LE(0x3e);
  const raw = [];
  for (let i = 0; i < shnum; i++) {
    const o = shoff + i * shentsize;
    raw.push({
      nameOff: buf.readUInt32LE(o),
      type: buf.readUInt32LE(o + 4),
      offset: Number(buf.readBigUInt64LE(o + 0x18)),
      size: Number(buf.readBigUInt64LE(o + 0x20)),
    });
  }
  const strtab = raw[shstrndx];
  return raw.map((s) => {
    const start = strtab.offset + s.nameOff;
    const end = buf.indexOf(0, start);
    return { ...s, name: buf.subarray(start, end).toString('latin1') };
  });
}

export function compareVersions(a, b) {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d) return d;
  }
  return 0;
}

/**
 * What readelf says about a prebuild: machine, NEEDED libraries, every
 * version requirement (GLIBC_x, GLIBCXX_x, CXXABI_x, GCC_x), the highest
 * GLIBC_ version, the dynamic symbols that need a version newer than
 * MAX_GLIBC, whether .symtab/.debug_* are gone, exported symbols.
 */
export function elfReport(file, readelf = 'readelf') {
  const run = (args) => execFileSync(readelf, [...args, file], { encoding: 'utf8', maxBuffer: 64 << 20 });
  const header = run(['-h', '-W']);
  const machine = /Machine:\s+(.+)/.exec(header)?.[1].trim();
  const dynamic = run(['-d', '-W']);
  const needed = [...dynamic.matchAll(/\(NEEDED\)\s+Shared library: \[([^\]]+)\]/g)].map((m) => m[1]);
  const versionInfo = run(['-V', '-W']);
  const needSection = versionInfo.split(/Version needs section/)[1] ?? '';
  const versions = [...new Set([...needSection.matchAll(/Name: ([A-Z_]+_[0-9][0-9.]*)/g)].map((m) => m[1]))].sort();
  const glibc = versions.filter((v) => v.startsWith('GLIBC_')).map((v) => v.slice(6));
  const maxGlibc = glibc.sort(compareVersions).at(-1);
  const dynsyms = run(['--dyn-syms', '-W']);
  const tooNew = [...dynsyms.matchAll(/\s(\S+)@GLIBC_([0-9.]+)/g)]
    .filter((m) => compareVersions(m[2], MAX_GLIBC) > 0)
    .map((m) => `${m[1]}@GLIBC_${m[2]}`);
  const exported = [...dynsyms.matchAll(/^\s*\d+:\s+\S+\s+\d+\s+FUNC\s+GLOBAL\s+DEFAULT\s+\d+\s+(\S+)/gm)].map((m) => m[1]);
  const sections = run(['-S', '-W']);
  const sectionNames = [...sections.matchAll(/\]\s+(\.\S+)/g)].map((m) => m[1]);
  return {
    machine,
    needed,
    versions,
    maxGlibc,
    tooNew,
    glibcxx: versions.filter((v) => /^(GLIBCXX|CXXABI)_/.test(v)),
    gcc: versions.filter((v) => v.startsWith('GCC_')),
    stripped: !sectionNames.includes('.symtab') && !sectionNames.some((n) => n.startsWith('.debug')),
    exported,
  };
}
