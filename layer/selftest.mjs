#!/usr/bin/env node
// Self-test of one secret-scope addon binary (a prebuild or a node-gyp build)
// through its raw Node-API surface, with no TypeScript, bundler or test runner,
// so that it runs the same under any Node version and under qemu-user:
//
//   node layer/selftest.mjs prebuilds/linux-x64/node.napi.glibc.node [--vectors DIR] [--sample N]
//
// It runs Wycheproof vectors (HKDF, HMAC, ChaCha20-/XChaCha20-Poly1305, X25519,
// AES-128-GCM and AES-256-GCM on whichever engine this CPU gets; ECDH, ECDSA and
// Ed25519 from layer/selftest-asymmetric.mjs) on the raw API, then arena
// checks (key lifetime, scopes, canary detection, foreign handles from a second
// addon instance), and prints one JSON summary on stdout. Exit status 0 when
// every check passed, 1 otherwise (the summary is printed either way).
//
// --vectors defaults to ../shared/test-vectors/wycheproof relative to the repo
// root; when that folder is absent, summary.vectors.skipped says so.
// --sample N runs every k-th vector of each file so that about N remain (0 = all).
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { asymmetricChecks } from './selftest-asymmetric.mjs';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');

function parseArgs(argv) {
  const o = { addon: undefined, vectors: join(REPO, '..', 'shared', 'test-vectors', 'wycheproof'), sample: 0 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--vectors') o.vectors = argv[++i];
    else if (a === '--sample') o.sample = Number(argv[++i]);
    else if (!o.addon) o.addon = a;
    else throw new Error(`unexpected argument ${a}`);
  }
  if (!o.addon) {
    process.stderr.write('usage: node layer/selftest.mjs <addon.node> [--vectors DIR] [--sample N]\n');
    process.exit(2);
  }
  o.addon = resolve(o.addon);
  return o;
}

const opts = parseArgs(process.argv.slice(2));
const require = createRequire(import.meta.url);
const A = require(opts.addon);

const failures = [];
function fail(what) {
  if (failures.length < 50) failures.push(what);
}
const hex = (s) => Buffer.from(s, 'hex');
const codeOf = (fn) => {
  try {
    fn();
    return undefined;
  } catch (e) {
    return e?.code ?? 'NO_CODE';
  }
};

/** Copies a key's bytes out (test vectors only), then the key is wiped and released. */
function readKey(addon, k) {
  const view = new Uint8Array(addon.exposeBegin(k));
  const copy = Buffer.from(view);
  addon.exposeEnd(k);
  return copy;
}

/** Imports (a copy of) bytes into a key; undefined when the addon refuses (e.g. empty key). */
function importKey(bytes) {
  try {
    return A.keyImport(Buffer.from(bytes), 0);
  } catch (e) {
    return { refused: e.code };
  }
}

function sample(tests) {
  if (!opts.sample || tests.length <= opts.sample) return tests;
  const step = tests.length / opts.sample;
  const out = [];
  for (let i = 0; i < opts.sample; i++) out.push(tests[Math.floor(i * step)]);
  return out;
}

function loadVectors(file) {
  const j = JSON.parse(readFileSync(join(opts.vectors, file), 'utf8'));
  const all = [];
  for (const g of j.testGroups) for (const t of g.tests) all.push({ g, t });
  return sample(all);
}

function tally() {
  return { run: 0, passed: 0, valid: 0, invalid: 0, acceptable: 0, refused: 0 };
}

function record(stats, t, ok, label) {
  stats.run++;
  stats[t.result] = (stats[t.result] ?? 0) + 1;
  if (ok) stats.passed++;
  else fail(`${label} tcId ${t.tcId} (${t.result}, ${t.comment || t.flags?.join(',') || ''})`);
}

// ---- Wycheproof -----------------------------------------------------------
function hkdfVectors(file, hash, label) {
  const s = tally();
  for (const { t } of loadVectors(file)) {
    const ikm = importKey(hex(t.ikm));
    let ok;
    if (typeof ikm !== 'number') {
      // An empty IKM can't be a key: refusing it is the documented behaviour.
      s.refused++;
      ok = t.ikm.length === 0;
    } else {
      let out;
      let code;
      try {
        out = readKey(A, A.hkdf(hash, ikm, hex(t.salt), hex(t.info), t.size, 0));
      } catch (e) {
        code = e.code;
      }
      A.keyRelease(ikm);
      if (t.result === 'valid') ok = out !== undefined && out.equals(hex(t.okm));
      else ok = out === undefined && code === 'ERR_INVALID_ARGUMENT';
    }
    record(s, t, ok, label);
  }
  return s;
}

function hmacVectors(file, hash, label) {
  const s = tally();
  for (const { g, t } of loadVectors(file)) {
    const tagLen = g.tagSize / 8;
    const key = importKey(hex(t.key));
    let ok;
    if (typeof key !== 'number') {
      s.refused++;
      ok = t.key.length === 0;
    } else {
      const msg = hex(t.msg);
      const tag = hex(t.tag);
      if (tagLen < 16 || tag.length < 16) {
        // Tags shorter than 16 bytes are refused (documented), valid or not.
        s.refused++;
        ok = codeOf(() => A.hmacVerify(hash, key, msg, tag)) === 'ERR_INVALID_ARGUMENT';
      } else {
        const verified = A.hmacVerify(hash, key, msg, tag);
        if (t.result === 'valid') {
          const signed = A.hmacSign(hash, key, msg, tagLen);
          ok = verified === true && signed.equals(tag);
        } else {
          ok = verified === false;
        }
      }
      A.keyRelease(key);
    }
    record(s, t, ok, label);
  }
  return s;
}

function aeadVectors(file, alg, label, keySize, ivSize) {
  const s = tally();
  for (const { g, t } of loadVectors(file)) {
    const key = importKey(hex(t.key));
    let ok;
    const supported = g.keySize === keySize && g.ivSize === ivSize && g.tagSize === 128;
    if (typeof key !== 'number') {
      s.refused++;
      ok = !supported || t.result !== 'valid';
    } else {
      const iv = hex(t.iv);
      const aad = hex(t.aad);
      const msg = hex(t.msg);
      const ctTag = Buffer.concat([hex(t.ct), hex(t.tag)]);
      let opened;
      let openCode;
      try {
        opened = A.aeadOpen(alg, key, iv, ctTag, aad);
      } catch (e) {
        openCode = e.code;
      }
      if (!supported) {
        // Other key/nonce/tag sizes are refused, never computed.
        s.refused++;
        ok = opened === undefined && (openCode === 'ERR_INVALID_ARGUMENT' || openCode === 'ERR_AUTHENTICATION_FAILED');
      } else if (t.result === 'valid') {
        let sealed;
        try {
          sealed = A.aeadSeal(alg, key, iv, msg, aad);
        } catch (e) {
          /* a failure */
        }
        ok = opened !== undefined && opened.equals(msg) && sealed !== undefined && sealed.equals(ctTag);
      } else {
        ok = opened === undefined && (openCode === 'ERR_AUTHENTICATION_FAILED' || openCode === 'ERR_INVALID_ARGUMENT');
      }
      A.keyRelease(key);
    }
    record(s, t, ok, label);
  }
  return s;
}

function x25519Vectors(label) {
  const s = tally();
  for (const { t } of loadVectors('x25519_test.json')) {
    const priv = A.keyImportPrivate(hex(t.private), 1, 0); // use 'x25519' (key separation)
    let out;
    let code;
    try {
      out = readKey(A, A.x25519Shared(priv, hex(t.public), 0));
    } catch (e) {
      code = e.code;
    }
    A.keyRelease(priv);
    const zero = /^0+$/.test(t.shared);
    let ok;
    if (zero) {
      // Low-order peer points give an all-zero secret: refused as a weak public key.
      s.refused++;
      ok = out === undefined && code === 'ERR_WEAK_PUBLIC_KEY';
    } else if (t.result === 'invalid') {
      ok = out === undefined;
    } else {
      // valid and acceptable (non-canonical / twist points): computed per RFC 7748.
      ok = out !== undefined && out.equals(hex(t.shared));
    }
    record(s, t, ok, label);
  }
  return s;
}

// ---- arena ---------------------------------------------------------------
function check(arena, name, cond) {
  arena.checks++;
  if (cond) arena.passed++;
  else fail(`arena: ${name}`);
}

function arenaChecks(report) {
  const arena = { checks: 0, passed: 0 };
  // Key lifetime.
  const k = A.keyRandom(32, 0);
  check(arena, 'random key alive', A.keyAlive(k) === true && A.keyLength(k) === 32);
  const src = Buffer.from('00112233445566778899aabbccddeeff', 'hex');
  const imported = A.keyImport(src, 0);
  check(arena, 'importKey zeroes the caller buffer', src.every((b) => b === 0));
  const tag1 = A.hmacSign(0, imported, Buffer.from('m'));
  check(arena, 'hmac sign/verify', tag1.length === 32 && A.hmacVerify(0, imported, Buffer.from('m'), tag1));
  A.keyRelease(imported);
  check(arena, 'released key is dead', A.keyAlive(imported) === false);
  const usedAfter = codeOf(() => A.hmacSign(0, imported, Buffer.from('m')));
  check(arena, `released key refused (${usedAfter})`, usedAfter === 'ERR_KEY_RELEASED' || usedAfter === 'ERR_INVALID_HANDLE');

  // AEAD round trip and tamper detection on a random key.
  const nonce = Buffer.alloc(24, 7);
  const ct = A.aeadSeal(0, k, nonce, Buffer.from('hello'), Buffer.from('aad'));
  check(arena, 'xchacha round trip', A.aeadOpen(0, k, nonce, ct, Buffer.from('aad')).toString() === 'hello');
  ct[0] ^= 1;
  check(arena, 'tampered ciphertext rejected', codeOf(() => A.aeadOpen(0, k, nonce, ct, Buffer.from('aad'))) === 'ERR_AUTHENTICATION_FAILED');
  const derived = A.hkdf(0, k, Buffer.from('salt'), Buffer.from('info'), 32, 0);
  check(arena, 'hkdf derives a 32-byte key', A.keyLength(derived) === 32);
  const [xpriv, xpub] = A.x25519Generate(0);
  check(arena, 'x25519 public key', xpub.length === 32 && A.x25519Public(xpriv).equals(xpub));
  A.keyRelease(xpriv);
  A.keyRelease(derived);

  // Scopes.
  const scope = A.scopeOpen();
  const s1 = A.keyRandom(32, scope);
  const s2 = A.keyRandom(64, scope);
  check(arena, 'scope owns its keys', A.scopeKeyCount(scope) === 2 && A.scopeAlive(scope));
  const wiped = A.scopeClose(scope);
  check(arena, 'scope close wipes its keys', wiped === 2 && !A.keyAlive(s1) && !A.keyAlive(s2) && !A.scopeAlive(scope));
  const afterScope = codeOf(() => A.keyRandom(32, scope));
  check(arena, `ended scope refused (${afterScope})`, afterScope === 'ERR_SCOPE_ENDED' || afterScope === 'ERR_INVALID_HANDLE');

  // Canaries: verify() counts healthy keys; a flipped trailing canary wipes everything.
  const survivor = A.keyRandom(32, 0);
  const victim = A.keyRandom(32, 0);
  check(arena, 'verify counts live keys', A.verify() >= 3);
  A.testCorrupt(victim, 32); // offset = length: first byte of the trailing canary
  const canary = codeOf(() => A.verify());
  check(arena, `canary violation detected (${canary})`, canary === 'ERR_CANARY_VIOLATION');
  check(arena, 'canary violation wiped every key', !A.keyAlive(survivor) && !A.keyAlive(victim) && !A.keyAlive(k));

  // A second, independent instance of the same binary refuses the first one's handles.
  let foreign = 'not-run';
  const tmp = mkdtempSync(join(tmpdir(), 'secret-scope-selftest-'));
  try {
    const copy = join(tmp, 'copy.node');
    copyFileSync(opts.addon, copy);
    const mod = { exports: {} };
    process.dlopen(mod, copy);
    const B = mod.exports;
    B.configure({ require: 'any' });
    const mine = A.keyRandom(32, 0);
    foreign = codeOf(() => B.hmacSign(0, mine, Buffer.from('x')));
    A.keyRelease(mine);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  check(arena, `foreign handle refused (${foreign})`, foreign === 'ERR_FOREIGN_HANDLE');

  A.purge();
  const end = A.report();
  check(arena, 'nothing live at the end', end.liveSlots === 0 && end.liveScopes === 0);
  check(arena, 'guard pages', report.guardPages === true);
  return arena;
}

// ---- main ----------------------------------------------------------------
const t0 = process.hrtime.bigint();
// 8 pages per region so that HKDF-SHA-512's maximal output (255 * 64 bytes) fits in one slot.
const report = A.configure({ require: 'any', regionPages: 8 });
const summary = {
  ok: false,
  addon: opts.addon,
  node: process.version,
  arch: process.arch,
  napi: process.versions.napi,
  libsodium: A.libsodiumVersion,
  backend: report.backend,
  locked: report.locked,
  dontdump: report.dontdump,
  guardPages: report.guardPages,
  memfdSecret: report.memfdSecret,
  mlock: report.mlock,
  aes256gcm: report.aes256gcm,
  aesGcm: report.aesGcm,
  vectors: {},
  arena: undefined,
  failures,
  ms: 0,
};

try {
  if (!existsSync(opts.vectors)) {
    summary.vectors.skipped = `${opts.vectors} not found`;
  } else {
    const v = summary.vectors;
    v.hkdf_sha256 = hkdfVectors('hkdf_sha256_test.json', 0, 'hkdf-sha256');
    v.hkdf_sha512 = hkdfVectors('hkdf_sha512_test.json', 1, 'hkdf-sha512');
    v.hmac_sha256 = hmacVectors('hmac_sha256_test.json', 0, 'hmac-sha256');
    v.hmac_sha512 = hmacVectors('hmac_sha512_test.json', 1, 'hmac-sha512');
    v.chacha20_poly1305 = aeadVectors('chacha20_poly1305_test.json', 1, 'chacha20-poly1305', 256, 96);
    v.xchacha20_poly1305 = aeadVectors('xchacha20_poly1305_test.json', 0, 'xchacha20-poly1305', 256, 192);
    v.x25519 = x25519Vectors('x25519');
    Object.assign(v, asymmetricChecks({ A, hex, readKey, loadVectors, tally, record, fail }));
    // Every CPU has both (AES-NI/ARMv8 CE, else BearSSL ct64): no skip, whatever the engine.
    v.aes_256_gcm = aeadVectors('aes_gcm_test.json', 2, 'aes-256-gcm', 256, 96);
    v.aes_128_gcm = aeadVectors('aes_gcm_test.json', 3, 'aes-128-gcm', 128, 96);
  }
  summary.arena = arenaChecks(report);
} catch (e) {
  fail(`exception: ${e?.stack ?? e}`);
}
summary.ms = Number((process.hrtime.bigint() - t0) / 1000000n);
const vectorStats = Object.values(summary.vectors).filter((s) => typeof s === 'object' && 'run' in s);
summary.ok =
  failures.length === 0 &&
  summary.arena !== undefined &&
  summary.arena.passed === summary.arena.checks &&
  vectorStats.every((s) => s.passed === s.run);
process.stdout.write(`${JSON.stringify(summary)}\n`);
process.exitCode = summary.ok ? 0 : 1;
