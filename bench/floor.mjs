// Builds bench/floor.c against the static libsodium and drives it as one more
// contender: the harness writes an iteration count, the C program runs that
// many invocations and answers the elapsed ns (timed with CLOCK_MONOTONIC).
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';

const SRC = join(dirname(fileURLToPath(import.meta.url)), 'floor.c');

function triplet(cc) {
  try {
    return execFileSync(cc, ['-dumpmachine'], { encoding: 'utf8' }).trim();
  } catch {
    return { x64: 'x86_64-linux-gnu', arm64: 'aarch64-linux-gnu' }[process.arch];
  }
}

/**
 * Compiles a floor; returns { exe, cmd, libsodium, dir } or { error }.
 *   variant 'libsodium' (default): the historical floor, libsodium's portable HMAC-SHA256.
 *   variant 'shani': SHA-256 from OpenSSL's SHA256_* (the host Node exports the same to the
 *   addon, with SHA-NI / ARMv8 SHA2), HMAC keyed once per key; needs libssl-dev.
 */
export function buildFloor({ variant = 'libsodium' } = {}) {
  const cc = process.env.CC || 'cc';
  const t = triplet(cc);
  const candidates = [process.env.SECRET_SCOPE_LIBSODIUM_A, t && `/usr/lib/${t}/libsodium.a`, '/usr/lib/libsodium.a', '/usr/local/lib/libsodium.a'].filter(Boolean);
  const lib = candidates.find((p) => existsSync(p));
  if (!lib) return { error: `no static libsodium (looked in ${candidates.join(', ')}); install libsodium-dev` };
  const dir = mkdtempSync(join(tmpdir(), 'secret-scope-floor-'));
  const exe = join(dir, variant === 'shani' ? 'floor-shani' : 'floor');
  const args =
    variant === 'shani'
      ? ['-O2', '-Wno-deprecated-declarations', '-DFLOOR_SHANI', SRC, '-o', exe, lib, '-lcrypto']
      : ['-O2', SRC, '-o', exe, lib];
  try {
    execFileSync(cc, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    return { error: `${cc} failed: ${String(e.stderr || e.message).trim().split('\n').slice(0, 3).join(' / ')}` };
  }
  return { exe, dir, lib, cmd: `${cc} ${args.join(' ')}` };
}

export function floorCheck(exe) {
  const out = execFileSync(exe, ['check'], { encoding: 'utf8' });
  const get = (k) => out.match(new RegExp(`^${k} (\\S+)`, 'm'))?.[1];
  return {
    tag: Buffer.from(get('tag'), 'hex'),
    sealed: Buffer.from(get('sealed'), 'hex'),
    libsodium: out.match(/^libsodium (.+)$/m)?.[1],
    floor: out.match(/^floor (.+)$/m)?.[1],
  };
}

/** A contender whose sample(iters) runs in the C process. close() returns the floor's own median line. */
export function floorContender(exe, { id = 'floor', name = 'compute floor (C + libsodium, static buffers)' } = {}) {
  const child = spawn(exe, ['serve'], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout });
  const waiting = [];
  let last = '';
  let closing;
  lines.on('line', (l) => {
    last = l;
    const w = waiting.shift();
    if (w) w.resolve(l);
  });
  child.on('exit', (code) => {
    for (const w of waiting.splice(0)) w.reject(new Error(`floor exited with ${code}`));
  });
  const ask = (line) =>
    new Promise((resolve, reject) => {
      waiting.push({ resolve, reject });
      child.stdin.write(line);
    });
  return {
    id,
    name,
    async sample(iters) {
      return Number(await ask(`${iters}\n`));
    },
    // Idempotent: the bench also calls it when a section fails, so that no server keeps it alive.
    close() {
      closing ??= (async () => {
        const done = child.exitCode !== null || child.signalCode !== null ? null : new Promise((resolve) => child.on('close', resolve));
        child.stdin.end();
        await done;
        const m = last.match(/^median_ns_per_iter ([\d.]+)/);
        return m ? Number(m[1]) : null;
      })();
      return closing;
    },
  };
}
