/**
 * AES-128-GCM and AES-256-GCM on x64 and arm64 (native/ops/aes_gcm*.cc).
 *
 * - Every engine runs every Wycheproof aes_gcm case of the 128- and 256-bit key groups
 *   with 96-bit IVs and round-trips with node:crypto both ways (test/fixtures/aes-gcm-child.mjs
 *   on the raw addon): x64 'aes-ni+pclmul' and the forced portable 'bearssl-ct64'; arm64
 *   (built by layer/prebuild.mjs --arch arm64 --out, run by the arm64 Node under
 *   qemu-aarch64-static without QEMU_LD_PREFIX) 'armv8-ce' and the forced 'bearssl-ct64'.
 *   qemu-user 7.2 has no arm64 CPU model without AES (every `-cpu` has it, and there is no
 *   aes=off property), so the arm64 fallback is reached through configure({ aes: 'portable' }).
 * - The public API: key lengths per algorithm, declared 16-byte aead keys, the report.
 * - Residue: after a seal, neither H nor any derived AES round key is left in the arena
 *   (the key schedule and H live only in the scratch area and are wiped after each call),
 *   nor on the stack below the call (test/native/aes-gcm-stack.cc, each engine, x64 and arm64).
 * Outside CI a missing cross toolchain, arm64 Node or qemu skips the arm64 cases with the
 * reason; under CI=true they fail.
 */
import { execFile, execFileSync } from 'node:child_process';
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { PREBUILD_FILE, embeddedDigest, sourceManifest } from '../layer/lib/prebuild-info.mjs';
import {
  InvalidArgumentError,
  OptionsError,
  aeadOpen,
  aeadSeal,
  configureSecretMemory,
  importKey,
  openScope,
  protectionReport,
  withSecretScope,
} from '../src/index.js';
import { testing } from '../src/testing.js';
import { REPO_ROOT, TEST_BIN_DIR, emulatorFor, findInPath, nodeMatrix, runNode, runRestricted } from './helpers/restricted.js';
import { WYCHEPROOF_DIR, vectorsUnavailable } from './helpers/vectors.js';

const CI = process.env.CI === 'true';
const CHILD = join(REPO_ROOT, 'test', 'fixtures', 'aes-gcm-child.mjs');
const SOURCE_BUILD = join(REPO_ROOT, 'build', 'Release', 'secret_scope.node');
const ARM64_OUT = join(REPO_ROOT, '.cache', 'aes-gcm-arm64');
const ARM64_ADDON = join(ARM64_OUT, 'linux-arm64', PREBUILD_FILE);

// An invalid engine name is refused before anything is initialised; then the arena
// is mapped with the mlock backend, whose pages this process can read back through
// /proc/self/mem (memfd_secret pages cannot be read, which would blind the residue test).
const badEngine = (() => {
  try {
    configureSecretMemory({ aes: 'fastest' as never });
    return undefined;
  } catch (e) {
    return e;
  }
})();
configureSecretMemory({ backend: 'mlock', require: 'any' });

function cpuFlags(): Set<string> {
  const line = readFileSync('/proc/cpuinfo', 'utf8').split('\n').find((l) => /^(flags|Features)\s*:/.test(l)) ?? '';
  return new Set(line.split(':')[1]?.trim().split(/\s+/) ?? []);
}

interface ChildSummary {
  arch: string;
  aesGcm: { implementation: string; hardware: boolean; 'aes-128-gcm': boolean; 'aes-256-gcm': boolean };
  vectors: Record<string, { run: number; passed: number; valid: number; invalid: number; codes: Record<string, number> }>;
  cross: { run: number; passed: number; emptyPlaintext: number; emptyAad: number; tamperedRejected: number };
  failures: string[];
}

async function runChild(addon: string, aes: 'auto' | 'portable', nodeBinary?: string): Promise<ChildSummary> {
  const arg = JSON.stringify({ addon, aes, vectors: WYCHEPROOF_DIR, cross: 120 });
  const r = await runNode(CHILD, { nodeBinary, args: [arg], timeoutMs: 240_000 });
  const line = r.stdout.trim().split('\n').at(-1) ?? '';
  let s: ChildSummary;
  try {
    s = JSON.parse(line) as ChildSummary;
  } catch {
    throw new Error(`aes-gcm child printed no summary (exit ${r.code}, ${r.argv.join(' ')}):\n${r.stdout}\n${r.stderr}`);
  }
  expect(s.failures).toEqual([]);
  expect(r.code, r.stderr).toBe(0);
  return s;
}

function expectAllVectors(s: ChildSummary): void {
  // Wycheproof: 67 AES-128 and 66 AES-256 cases with 96-bit IVs; every invalid one is a tag failure.
  expect(s.vectors.aes_128_gcm).toMatchObject({ run: 67, passed: 67, valid: 40, invalid: 27, codes: { ERR_AUTHENTICATION_FAILED: 27 } });
  expect(s.vectors.aes_256_gcm).toMatchObject({ run: 66, passed: 66, valid: 39, invalid: 27, codes: { ERR_AUTHENTICATION_FAILED: 27 } });
  expect(s.cross.passed).toBe(s.cross.run);
  expect(s.cross.run).toBe(120);
  expect(s.cross.tamperedRejected).toBe(s.cross.run);
  expect(s.cross.emptyPlaintext).toBeGreaterThan(0);
  expect(s.cross.emptyAad).toBeGreaterThan(0);
  expect(s.aesGcm['aes-128-gcm'] && s.aesGcm['aes-256-gcm']).toBe(true);
}

describe('x64 engines (raw addon, Wycheproof + node:crypto)', () => {
  const missing = vectorsUnavailable() ?? (existsSync(SOURCE_BUILD) ? undefined : `${SOURCE_BUILD} not built (npx node-gyp rebuild)`);
  const flags = process.arch === 'x64' ? cpuFlags() : new Set<string>();
  const hasNi = flags.has('aes') && flags.has('pclmulqdq') && flags.has('sse4_1');
  for (const aes of ['auto', 'portable'] as const) {
    const want = aes === 'portable' || !hasNi ? 'bearssl-ct64' : 'aes-ni+pclmul';
    it.skipIf(process.arch !== 'x64' || (!!missing && !CI))(`aes: '${aes}' runs ${want}`, { timeout: 120_000 }, async () => {
      if (missing) throw new Error(missing);
      const s = await runChild(SOURCE_BUILD, aes);
      expect(s.arch).toBe('x64');
      expect(s.aesGcm.implementation).toBe(want);
      expect(s.aesGcm.hardware).toBe(hasNi);
      expectAllVectors(s);
    });
  }
});

describe('arm64 engines under qemu-user (raw addon, Wycheproof + node:crypto)', () => {
  const node = nodeMatrix().find((m) => m.arch === 'arm64');
  const reason =
    vectorsUnavailable() ??
    node?.reason ??
    (findInPath('aarch64-linux-gnu-g++') ? undefined : 'aarch64-linux-gnu-g++ missing (scripts/setup-arm64.sh)');
  const skip = !!reason && !CI;
  let built = false;

  beforeAll(async () => {
    if (skip || reason) return;
    // Cross-compiled exactly like the arm64 prebuild (and checked the same way: glibc <= 2.34,
    // no libstdc++), but into .cache; rebuilt only when binding.gyp/native/ change.
    const digest = sourceManifest(REPO_ROOT).digest;
    if (!existsSync(ARM64_ADDON) || embeddedDigest(ARM64_ADDON) !== digest) {
      await promisify(execFile)(process.execPath, [join(REPO_ROOT, 'layer', 'prebuild.mjs'), '--arch', 'arm64', '--out', ARM64_OUT], {
        cwd: REPO_ROOT,
        maxBuffer: 16 << 20,
      });
    }
    built = embeddedDigest(ARM64_ADDON) === digest;
  }, 900_000);

  for (const [aes, want] of [
    ['auto', 'armv8-ce'],
    ['portable', 'bearssl-ct64'],
  ] as const) {
    it.skipIf(skip)(`aes: '${aes}' runs ${want}${reason ? ` (${reason})` : ''}`, { timeout: 300_000 }, async () => {
      if (reason) throw new Error(reason);
      expect(built, 'the arm64 addon was built from the current sources').toBe(true);
      const s = await runChild(ARM64_ADDON, aes, node!.bin);
      expect(s.arch).toBe('arm64');
      expect(s.aesGcm.implementation).toBe(want);
      expect(s.aesGcm.hardware).toBe(true); // every qemu arm64 CPU model has AES and PMULL
      expectAllVectors(s);
    });
  }
});

describe('AES-GCM through the public API', () => {
  it('reports both algorithms and the engine; refuses an unknown engine name', () => {
    const r = protectionReport();
    expect(r.aes256gcm).toBe(true);
    expect(r.aesGcm['aes-128-gcm']).toBe(true);
    expect(r.aesGcm['aes-256-gcm']).toBe(true);
    expect(['aes-ni+pclmul', 'armv8-ce', 'bearssl-ct64']).toContain(r.aesGcm.implementation);
    expect(badEngine).toBeInstanceOf(InvalidArgumentError);
    expect((badEngine as Error).message).toMatch(/aes must be 'auto' or 'portable'/);
  });

  it('matches node:crypto both ways for both key sizes, empty plaintext and AAD included', () => {
    const scope = openScope();
    try {
      for (const bytes of [16, 32]) {
        const name = `aes-${bytes * 8}-gcm` as const;
        for (const [ptLen, aadLen] of [[0, 0], [0, 13], [1, 0], [64, 64], [1000, 7], [4097, 0]]) {
          const raw = randomBytes(bytes);
          const key = importKey(Buffer.from(raw), { scope });
          const iv = randomBytes(12);
          const pt = randomBytes(ptLen);
          const aad = randomBytes(aadLen);
          const ours = aeadSeal(key, iv, pt, { algorithm: name, aad });
          const d = createDecipheriv(name, raw, iv).setAAD(aad).setAuthTag(ours.subarray(ptLen));
          expect(Buffer.concat([d.update(ours.subarray(0, ptLen)), d.final()]).equals(pt)).toBe(true);
          const c = createCipheriv(name, raw, iv).setAAD(aad);
          const theirs = Buffer.concat([c.update(pt), c.final(), c.getAuthTag()]);
          expect(aeadOpen(key, iv, theirs, { algorithm: name, aad }).equals(pt)).toBe(true);
        }
      }
    } finally {
      scope.end();
    }
  });

  it('takes a 16-byte key for aes-128-gcm and a 32-byte key for aes-256-gcm, with a typed error otherwise', () => {
    const scope = openScope();
    try {
      const k16 = importKey(randomBytes(16), { scope });
      const k32 = importKey(randomBytes(32), { scope });
      const iv = Buffer.alloc(12);
      expect(() => aeadSeal(k32, iv, 'm', { algorithm: 'aes-128-gcm' })).toThrow(/aes-128-gcm needs a 16-byte key; this key has 32 bytes/);
      expect(() => aeadSeal(k16, iv, 'm', { algorithm: 'aes-256-gcm' })).toThrow(/aes-256-gcm needs a 32-byte key; this key has 16 bytes/);
      expect(() => aeadOpen(k16, iv, Buffer.alloc(20), { algorithm: 'xchacha20-poly1305' })).toThrow(InvalidArgumentError);
      expect(() => aeadSeal(k16, Buffer.alloc(16), 'm', { algorithm: 'aes-128-gcm' })).toThrow(/12-byte nonce/);
      expect(aeadSeal(k16, iv, 'm', { algorithm: 'aes-128-gcm' }).length).toBe(17);
    } finally {
      scope.end();
    }
  });

  it('declared aead keys may be 16 bytes (for aes-128-gcm); other lengths are refused', async () => {
    let sealedLen = -1;
    const handler = withSecretScope(
      async (_event: unknown, context) => {
        const key = await context.secretScope.key('record');
        expect(key.length).toBe(16);
        const sealed = aeadSeal(key, Buffer.alloc(12, 1), 'payload', { algorithm: 'aes-128-gcm' });
        expect(aeadOpen(key, Buffer.alloc(12, 1), sealed, { algorithm: 'aes-128-gcm' }).toString()).toBe('payload');
        sealedLen = sealed.length;
        return 'ok';
      },
      { keys: { record: { use: 'aead', length: 16 } }, entropy: { source: 'local' } },
    );
    expect(await handler({}, {} as never)).toBe('ok');
    expect(sealedLen).toBe(7 + 16);
    expect(() => withSecretScope(async () => 0, { keys: { k: { use: 'aead', length: 24 } }, entropy: { source: 'local' } })).toThrow(OptionsError);
  });
});

// ---- residue: H and the round keys never outlive a call --------------------------------

const SBOX = (() => {
  // The AES S-box from its definition (inverse in GF(2^8), then the affine map): test-only.
  const s = new Uint8Array(256);
  const mul = (a: number, b: number) => {
    let r = 0;
    for (; b; b >>= 1, a = (a << 1) ^ (a & 0x80 ? 0x11b : 0)) if (b & 1) r ^= a;
    return r;
  };
  for (let x = 0; x < 256; x++) {
    let inv = 0;
    for (let y = 1; y < 256 && x; y++) if (mul(x, y) === 1) inv = y;
    let v = inv;
    for (let i = 1; i < 5; i++) v ^= ((inv << i) | (inv >> (8 - i))) & 0xff;
    s[x] = v ^ 0x63;
  }
  return s;
})();

/** FIPS 197 key expansion: the (rounds + 1) 16-byte round keys. */
function roundKeys(key: Buffer): Buffer[] {
  const nk = key.length / 4;
  const rounds = nk + 6;
  const w = Buffer.alloc(16 * (rounds + 1));
  key.copy(w);
  let rcon = 1;
  for (let i = nk; i < 4 * (rounds + 1); i++) {
    let t = [...w.subarray(4 * (i - 1), 4 * i)];
    if (i % nk === 0) {
      t = [SBOX[t[1]!]! ^ rcon, SBOX[t[2]!]!, SBOX[t[3]!]!, SBOX[t[0]!]!];
      rcon = (rcon << 1) ^ (rcon & 0x80 ? 0x11b : 0);
    } else if (nk > 6 && i % nk === 4) {
      t = t.map((b) => SBOX[b]!);
    }
    for (let j = 0; j < 4; j++) w[4 * i + j] = w[4 * (i - nk) + j]! ^ t[j]!;
  }
  return Array.from({ length: rounds + 1 }, (_, r) => w.subarray(16 * r, 16 * r + 16));
}

/** Every arena mapping (anonymous, MADV_DONTDUMP: VmFlags 'dd'; not [vvar] and the like), read through /proc/self/mem. */
function arenaBytes(): Buffer[] {
  const out: Buffer[] = [];
  const fd = openSync('/proc/self/mem', 'r');
  try {
    let range: [bigint, bigint] | undefined;
    let readable = false;
    for (const line of readFileSync('/proc/self/smaps', 'utf8').split('\n')) {
      const m = /^([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ \S+\s*(.*)$/.exec(line);
      if (m) {
        range = [BigInt(`0x${m[1]}`), BigInt(`0x${m[2]}`)];
        readable = m[3]!.startsWith('r') && m[4] === '';
      } else if (line.startsWith('VmFlags:') && / dd/.test(line) && !/ (io|pf)/.test(line) && range && readable) {
        const buf = Buffer.alloc(Number(range[1] - range[0]));
        readSync(fd, buf, 0, buf.length, range[0]);
        out.push(buf);
      }
    }
  } finally {
    closeSync(fd);
  }
  return out;
}

const found = (needle: Buffer) => arenaBytes().some((b) => b.includes(needle));

describe('AES-GCM residue in the arena', () => {
  it.runIf(protectionReport().backend === 'mlock')('after a seal and an open, neither H nor a round key beyond the key itself is in the arena', () => {
    const r = protectionReport();
    for (const bytes of [16, 32]) {
      const name = `aes-${bytes * 8}-gcm` as const;
      const raw = randomBytes(bytes);
      // H = AES_K(0^128); round keys past the first 16/32 bytes (those are the key, in its slot).
      const h = createCipheriv(`aes-${bytes * 8}-ecb`, raw, null).setAutoPadding(false).update(Buffer.alloc(16));
      const secrets = [h, ...roundKeys(raw).slice(bytes / 16)];
      const scope = openScope();
      try {
        const key = importKey(Buffer.from(raw), { scope });
        // Positive control: the scan sees the arena (the key's own bytes are there) ...
        expect(found(raw)).toBe(true);
        expect(arenaBytes().some((b) => b.length > 0)).toBe(true);
        expect(testing.address(key)).toBeGreaterThan(0n);
        // ... and would see these secrets if they were left in it.
        const planted = importKey(Buffer.concat(secrets), { scope });
        expect(secrets.every((s) => found(s))).toBe(true);
        planted.release();
        expect(secrets.some((s) => found(s))).toBe(false);

        const iv = randomBytes(12);
        const sealed = aeadSeal(key, iv, randomBytes(300), { algorithm: name, aad: 'a' });
        aeadOpen(key, iv, sealed, { algorithm: name, aad: 'a' });
        const left = secrets.map((s, i) => (found(s) ? (i === 0 ? 'H' : `round key ${i - 1 + bytes / 16}`) : '')).filter(Boolean);
        expect(left, `${name} on ${r.aesGcm.implementation}`).toEqual([]);
      } finally {
        scope.end();
      }
    }
  });
});

// ---- residue on the stack: a native harness over ops/aes_gcm ---------------------------

const STACK_SOURCES = ['test/native/aes-gcm-stack.cc', 'native/ops/aes_gcm.cc', 'native/ops/aes_gcm_armv8.cc', 'native/ops/common.cc', 'native/errors.cc'];

/** Compiles test/native/aes-gcm-stack.cc against the same static BearSSL and libsodium as the addon. */
const harnesses = new Map<string, string>();
function buildStackHarness(arch: 'x64' | 'arm64'): string {
  const done = harnesses.get(arch);
  if (done) return done;
  mkdirSync(TEST_BIN_DIR, { recursive: true });
  const exe = join(TEST_BIN_DIR, `aes-gcm-stack-${arch}`);
  const lib = (resolver: string) => execFileSync(process.execPath, [join(REPO_ROOT, 'native', resolver), arch], { encoding: 'utf8' });
  const cxx = arch === 'x64' ? 'g++' : 'aarch64-linux-gnu-g++';
  const sources = STACK_SOURCES.map((f) => join(REPO_ROOT, f));
  execFileSync(cxx, ['-std=c++17', '-O2', '-I', join(REPO_ROOT, 'native'), ...sources, lib('bearssl-lib.cjs'), lib('sodium-lib.cjs'), '-o', exe]);
  harnesses.set(arch, exe);
  return exe;
}

interface StackRow {
  secrets: number;
  controlHits: number;
  sealHits: number;
  openHits: number;
  sealDepth: number;
  openDepth: number;
  ok: boolean;
}

describe('AES-GCM residue on the stack (test/native/aes-gcm-stack.cc)', () => {
  const arm64Reason = findInPath('aarch64-linux-gnu-g++') && findInPath('qemu-aarch64-static') ? undefined : 'cross g++ or qemu missing (scripts/setup-arm64.sh)';
  for (const [arch, engine, want] of [
    ['x64', 'best', undefined],
    ['x64', 'portable', 'bearssl-ct64'],
    ['arm64', 'best', 'armv8-ce'],
    ['arm64', 'portable', 'bearssl-ct64'],
  ] as const) {
    const reason = arch === 'arm64' ? arm64Reason : process.arch === 'x64' ? undefined : 'not an x64 host';
    it.skipIf(!!reason && !CI)(`${arch} ${engine}: no H or round key below the call after seal and open${reason ? ` (${reason})` : ''}`, { timeout: 120_000 }, async () => {
      if (reason) throw new Error(reason);
      const exe = buildStackHarness(arch);
      const r = await runRestricted([...emulatorFor(exe), exe, engine]);
      const s = JSON.parse(r.stdout.trim()) as { engine: string; aes128: StackRow; aes256: StackRow; fails: number };
      expect(r.code, r.stdout + r.stderr).toBe(0);
      if (want) expect(s.engine).toBe(want);
      console.info(`[aes-gcm] ${arch} ${s.engine}: stack written by seal/open incl. the 4 KiB scrub: ${s.aes256.sealDepth}/${s.aes256.openDepth} bytes`);
      for (const row of [s.aes128, s.aes256]) {
        // The scan finds round keys where BearSSL's key schedule alone leaves them ...
        expect(row.controlHits).toBeGreaterThan(0);
        // ... and none after our calls, which scrub what the engines wrote.
        expect([row.sealHits, row.openHits, row.ok]).toEqual([0, 0, true]);
      }
      expect(s.fails).toBe(0);
    });
  }
});
