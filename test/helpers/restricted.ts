/**
 * Run Node (or any program) in a restricted environment for tests:
 *
 *   prlimit --memlock=N:N --          (opts.memlock)
 *     setpriv --reuid U --regid U --clear-groups --   (opts.asUser)
 *       seccomp-exec --deny-memfd-secret --deny-mlock --   (opts.deny*)
 *         [qemu-aarch64-static]       (automatic for an arm64 node binary)
 *           node script.mjs args...
 *
 * prlimit comes first (only root may raise a hard limit), then the uid drop,
 * then the seccomp filter, which survives the final execs. Every layer execs
 * the next one, so the child pid is the node process itself.
 *
 * Under qemu-user: qemu answers ENOSYS to memfd_secret itself and does not
 * emulate seccomp, but it forwards mlock to the host kernel, so the host's
 * (x86_64) seccomp filter installed before qemu still denies mlock.
 */
import { execFile, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import {
  accessSync,
  chmodSync,
  closeSync,
  constants as fsConstants,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
/** Repository root (two levels above test/helpers). */
export const REPO_ROOT = resolve(here, "..", "..");
export const TEST_BIN_DIR = join(REPO_ROOT, ".cache", "test-bin");
export const NODE_CACHE_DIR = join(REPO_ROOT, ".cache", "node");
export const SECCOMP_SOURCE = join(here, "seccomp-exec.c");

export interface RestrictOptions {
  /** Extra environment; merged over process.env (NODE_OPTIONS is dropped unless given here). */
  env?: Record<string, string>;
  /** Run as this uid (and same gid), e.g. 65534, via setpriv --clear-groups. Needs root. */
  asUser?: number;
  /** RLIMIT_MEMLOCK soft and hard limit in bytes, via prlimit --memlock=N:N. */
  memlock?: number;
  /** Make memfd_secret(2) fail (ENOSYS unless `errno` says otherwise). */
  denyMemfdSecret?: boolean;
  /** Make mlock/mlock2/mlockall fail (EPERM unless `errno` says otherwise). */
  denyMlock?: boolean;
  /** Override the errno of every denied syscall (ENOSYS, EPERM, ENOMEM, EAGAIN, EACCES, EINVAL). */
  errno?: string;
  /** Kill the child (SIGKILL) after this many ms; default 30000 (120000 under qemu). */
  timeoutMs?: number;
  /** Written to the child's stdin, which is then closed. */
  input?: string;
  /** Working directory; default the repository root. */
  cwd?: string;
}

export interface RunNodeOptions extends RestrictOptions {
  /** Arguments after the script (or after the -e code). */
  args?: string[];
  /** Node binary; default process.execPath. An arm64 binary on an x64 host runs under qemu-aarch64-static. */
  nodeBinary?: string;
  /** Options before the script, e.g. ["--expose-gc"]. */
  nodeArgs?: string[];
  /** Run this ES module source with `node --input-type=module -e` instead of a script file. */
  evalCode?: string;
}

export interface RunResult {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  /** True when the child was killed because timeoutMs elapsed. */
  timedOut: boolean;
  /** The full argv that was spawned (for failure messages). */
  argv: string[];
}

function run(file: string, args: string[], opts: { cwd?: string } = {}): Promise<{ stdout: string; stderr: string }> {
  return new Promise((res, rej) => {
    execFile(file, args, { cwd: opts.cwd, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if (err) {
        rej(new Error(`${file} ${args.join(" ")} failed: ${err.message}\n${stderr}`));
      } else {
        res({ stdout: String(stdout), stderr: String(stderr) });
      }
    });
  });
}

/** Make every directory from `dir` up to (excluding) `stop` traversable by others. */
function ensureWorldTraversable(dir: string, stop: string): void {
  let d = resolve(dir);
  const s = resolve(stop);
  while (d.startsWith(s) && d !== s) {
    try {
      const st = statSync(d);
      if ((st.mode & 0o005) !== 0o005) chmodSync(d, st.mode | 0o005);
    } catch {
      /* not ours to fix */
    }
    d = dirname(d);
  }
}

function newerThan(target: string, source: string): boolean {
  try {
    return statSync(target).mtimeMs >= statSync(source).mtimeMs;
  } catch {
    return false;
  }
}

/**
 * Compile `source` into `out` with `compiler` unless `out` is already at
 * least as new. Concurrent callers (vitest workers) each compile to a private
 * temp name and rename over `out`, so a half-written binary is never seen.
 */
async function compileIfStale(compiler: string, flags: string[], source: string, out: string): Promise<string> {
  if (newerThan(out, source)) return out;
  mkdirSync(dirname(out), { recursive: true, mode: 0o755 });
  ensureWorldTraversable(dirname(out), REPO_ROOT);
  const tmp = `${out}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
  try {
    await run(compiler, [...flags, "-o", tmp, source]);
    chmodSync(tmp, 0o755);
    renameSync(tmp, out);
  } finally {
    rmSync(tmp, { force: true });
  }
  return out;
}

let seccompBuild: Promise<string> | undefined;

/**
 * Compile test/helpers/seccomp-exec.c once into .cache/test-bin/seccomp-exec
 * (recompiled when the source is newer) and return the binary's path.
 */
export function buildSeccompHelper(): Promise<string> {
  if (!seccompBuild) {
    seccompBuild = compileIfStale("cc", ["-O2", "-Wall"], SECCOMP_SOURCE, join(TEST_BIN_DIR, "seccomp-exec"));
    seccompBuild.catch(() => {
      seccompBuild = undefined;
    });
  }
  return seccompBuild;
}

/**
 * A tiny C program that tries memfd_secret(2) (syscall 447), mlock(2) on 8 KiB
 * and mlockall(MCL_CURRENT), and prints one `name=ok` or `name=ERRNONAME`
 * line for each. Used to check seccomp-exec, prlimit and qemu behaviour
 * without the addon.
 */
export const SYSCALL_PROBE_SOURCE = `#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>
static void report(const char *name, long r) {
  printf("%s=%s\\n", name, r >= 0 ? "ok" : strerrorname_np(errno));
}
int main(void) {
  static char buf[8192];
  long fd = syscall(447, 0);
  report("memfd_secret", fd);
  if (fd >= 0) close((int)fd);
  report("mlock", mlock(buf, sizeof buf));
  munlock(buf, sizeof buf);
  report("mlockall", mlockall(MCL_CURRENT));
  munlockall();
  fflush(stdout);
  return 0;
}
`;

const probeBuilds = new Map<string, Promise<string>>();

/**
 * Compile SYSCALL_PROBE_SOURCE for the host (`cc`) or, with "arm64", as a
 * static aarch64 binary (`aarch64-linux-gnu-gcc -static`, see
 * scripts/setup-arm64.sh). Returns the binary's path.
 */
export function buildSyscallProbe(arch: "native" | "arm64" = "native"): Promise<string> {
  let p = probeBuilds.get(arch);
  if (!p) {
    const hash = createHash("sha256").update(SYSCALL_PROBE_SOURCE).digest("hex").slice(0, 12);
    const src = join(TEST_BIN_DIR, `syscall-probe-${hash}.c`);
    const out = join(TEST_BIN_DIR, `syscall-probe-${arch}-${hash}`);
    p = (async () => {
      if (existsSync(out)) return out;
      mkdirSync(TEST_BIN_DIR, { recursive: true, mode: 0o755 });
      ensureWorldTraversable(TEST_BIN_DIR, REPO_ROOT);
      const tmpSrc = `${src}.${process.pid}.c`;
      writeFileSync(tmpSrc, SYSCALL_PROBE_SOURCE, { mode: 0o644 });
      renameSync(tmpSrc, src);
      const [cc, flags] = arch === "arm64" ? ["aarch64-linux-gnu-gcc", ["-O2", "-static"]] : ["cc", ["-O2"]];
      return compileIfStale(cc as string, flags as string[], src, out);
    })();
    probeBuilds.set(arch, p);
    p.catch(() => probeBuilds.delete(arch));
  }
  return p;
}

/** Parse the probe's `name=value` lines. */
export function parseProbe(stdout: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of stdout.split("\n")) {
    const m = /^([a-z_0-9]+)=(\S+)$/.exec(line.trim());
    if (m) out[m[1]] = m[2];
  }
  return out;
}

/** ELF e_machine of a binary: "x64", "arm64", or the raw number as a string. */
export function elfArch(path: string): string {
  const fd = openSync(path, "r");
  try {
    const b = Buffer.alloc(20);
    readSync(fd, b, 0, 20, 0);
    if (b.readUInt32BE(0) !== 0x7f454c46) return "not-elf";
    const m = b.readUInt16LE(18);
    if (m === 0x3e) return "x64";
    if (m === 0xb7) return "arm64";
    return String(m);
  } finally {
    closeSync(fd);
  }
}

export function findInPath(name: string): string | undefined {
  for (const d of (process.env.PATH ?? "/usr/local/bin:/usr/bin:/bin").split(":")) {
    const p = join(d || ".", name);
    try {
      accessSync(p, fsConstants.X_OK);
      return p;
    } catch {
      /* next */
    }
  }
  return undefined;
}

/** Path of qemu-aarch64-static, or undefined when scripts/setup-arm64.sh has not run. */
export function qemuAarch64(): string | undefined {
  return findInPath("qemu-aarch64-static");
}

/** Command prefix needed to execute `binary` on this host ([] or [qemu]). */
export function emulatorFor(binary: string): string[] {
  const a = elfArch(binary);
  if (a === "not-elf" || a === process.arch) return [];
  if (a === "arm64") {
    const q = qemuAarch64();
    if (!q) throw new Error(`${binary} is arm64 and qemu-aarch64-static is missing (run scripts/setup-arm64.sh)`);
    return [q];
  }
  return [];
}

/**
 * Extra Node binaries installed by scripts/fetch-node.sh under
 * .cache/node/<arch>-<major>/bin/node, keyed "<arch>-<major>" (e.g. "x64-22",
 * "x64-24", "arm64-22"). Foreign-arch binaries are listed only when they can
 * run here (qemu-aarch64-static present).
 */
export function nodeBinaries(): Record<string, string> {
  const out: Record<string, string> = {};
  let entries: string[] = [];
  try {
    entries = readdirSync(NODE_CACHE_DIR).sort();
  } catch {
    return out;
  }
  for (const name of entries) {
    const m = /^(x64|arm64)-(\d+)$/.exec(name);
    if (!m) continue;
    const bin = join(NODE_CACHE_DIR, name, "bin", "node");
    if (!existsSync(join(NODE_CACHE_DIR, name, ".complete")) || !existsSync(bin)) continue;
    if (m[1] !== process.arch && !(m[1] === "arm64" && qemuAarch64())) continue;
    out[name] = bin;
  }
  return out;
}

/**
 * Throw a clear error when `path` can't be read by an unrelated uid with no
 * groups (every ancestor must be o+x, the file o+r).
 */
export function assertWorldReadable(path: string): void {
  const abs = resolve(path);
  const st = statSync(abs);
  if ((st.mode & 0o004) === 0) {
    throw new Error(`${abs} is not world-readable (mode ${(st.mode & 0o777).toString(8)}); another uid can't read it`);
  }
  for (let d = dirname(abs); ; d = dirname(d)) {
    const ds = statSync(d);
    if ((ds.mode & 0o001) === 0) {
      throw new Error(`${d} is not world-searchable (mode ${(ds.mode & 0o777).toString(8)}); another uid can't reach ${abs}`);
    }
    if (d === dirname(d)) break;
  }
}

const tempDirs: string[] = [];

/** A fresh world-readable (0755) directory under the system temp dir. */
export function makeTempDir(prefix = "secret-scope-test-"): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  chmodSync(d, 0o755);
  tempDirs.push(d);
  return d;
}

/** Write `source` to a world-readable file in a fresh temp dir and return its path. */
export function writeTempScript(source: string, ext: ".mjs" | ".cjs" | ".js" = ".mjs"): string {
  const p = join(makeTempDir(), `script${ext}`);
  writeFileSync(p, source, { mode: 0o644 });
  chmodSync(p, 0o644);
  return p;
}

/** Remove the directories made by makeTempDir/writeTempScript in this process. */
export function cleanupTempDirs(): void {
  for (const d of tempDirs.splice(0)) rmSync(d, { recursive: true, force: true });
}

/**
 * Build the wrapper argv (prlimit / setpriv / seccomp-exec) around `argv`.
 */
export async function restrictedArgv(argv: string[], opts: RestrictOptions = {}): Promise<string[]> {
  let cmd = [...argv];
  if (opts.denyMemfdSecret || opts.denyMlock) {
    const helper = await buildSeccompHelper();
    const flags: string[] = [];
    if (opts.denyMemfdSecret) flags.push("--deny-memfd-secret");
    if (opts.denyMlock) flags.push("--deny-mlock");
    if (opts.errno) flags.push("--errno", opts.errno);
    cmd = [helper, ...flags, "--", ...cmd];
  } else if (opts.errno) {
    throw new Error("errno given without denyMemfdSecret/denyMlock");
  }
  if (opts.asUser !== undefined) {
    if (!Number.isInteger(opts.asUser) || opts.asUser < 0) throw new Error(`bad asUser ${opts.asUser}`);
    const u = String(opts.asUser);
    cmd = ["setpriv", "--reuid", u, "--regid", u, "--clear-groups", "--", ...cmd];
  }
  if (opts.memlock !== undefined) {
    if (!Number.isInteger(opts.memlock) || opts.memlock < 0) throw new Error(`bad memlock ${opts.memlock}`);
    cmd = ["prlimit", `--memlock=${opts.memlock}:${opts.memlock}`, "--", ...cmd];
  }
  return cmd;
}

/**
 * Run any program under the restrictions in `opts`. Resolves (never rejects
 * on a non-zero exit) with exit code, signal, and captured output.
 */
export async function runRestricted(argv: string[], opts: RestrictOptions = {}): Promise<RunResult> {
  if (argv.length === 0) throw new Error("runRestricted: empty argv");
  const full = await restrictedArgv(argv, opts);
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && k !== "NODE_OPTIONS") env[k] = v;
  }
  if (opts.asUser !== undefined && opts.asUser !== 0) {
    // root's HOME is not readable by others; give the child one it can use.
    env.HOME = tmpdir();
  }
  Object.assign(env, opts.env ?? {});
  const usesQemu = full.some((a) => a.endsWith("qemu-aarch64-static"));
  const timeoutMs = opts.timeoutMs ?? (usesQemu ? 120_000 : 30_000);

  return new Promise((res, rej) => {
    const child = spawn(full[0], full.slice(1), {
      cwd: opts.cwd ?? REPO_ROOT,
      env,
      stdio: ["pipe", "pipe", "pipe"],
      detached: true, // own process group, so a timeout kills everything
    });
    let stdout = "";
    let stderr = "";
    let timedOut = false;
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    child.stdin.on("error", () => {
      /* child may exit before reading its input */
    });
    child.stdin.end(opts.input ?? "");
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        if (child.pid) process.kill(-child.pid, "SIGKILL");
      } catch {
        child.kill("SIGKILL");
      }
    }, timeoutMs);
    child.on("error", (e) => {
      clearTimeout(timer);
      rej(new Error(`spawn ${full.join(" ")}: ${e.message}`));
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      res({ code, signal, stdout, stderr, timedOut, argv: full });
    });
  });
}

/**
 * Run `node <script> ...args` (or `node --input-type=module -e <evalCode>`
 * when opts.evalCode is set; `script` is then ignored and may be null) under
 * the restrictions in `opts`. With asUser, the script and the node binary
 * must be readable by that uid: put scripts in writeTempScript()/makeTempDir().
 */
export async function runNode(script: string | null, opts: RunNodeOptions = {}): Promise<RunResult> {
  const node = opts.nodeBinary ?? process.execPath;
  const nodeArgv = [...emulatorFor(node), node, ...(opts.nodeArgs ?? [])];
  if (opts.evalCode !== undefined) {
    nodeArgv.push("--input-type=module", "-e", opts.evalCode);
  } else {
    if (!script) throw new Error("runNode: give a script path or opts.evalCode");
    const abs = resolve(script);
    if (opts.asUser !== undefined && opts.asUser !== 0) assertWorldReadable(abs);
    nodeArgv.push(abs);
  }
  nodeArgv.push(...(opts.args ?? []));
  if (opts.asUser !== undefined && opts.asUser !== 0) assertWorldReadable(node);
  return runRestricted(nodeArgv, opts);
}

/** Shorthand for runNode(null, { ...opts, evalCode: code }). */
export function runNodeEval(code: string, opts: Omit<RunNodeOptions, "evalCode"> = {}): Promise<RunResult> {
  return runNode(null, { ...opts, evalCode: code });
}

/**
 * The Node binaries a cross-version test runs with: this one plus those from
 * scripts/fetch-node.sh (x64 22/24, arm64 22 under qemu); `reason` says why one is absent.
 */
export function nodeMatrix(): { name: string; bin?: string; arch: 'x64' | 'arm64'; reason?: string }[] {
  const have = nodeBinaries();
  const wanted = [
    { name: `x64-${process.versions.node.split('.')[0]}`, arch: 'x64' as const, bin: process.arch === 'x64' ? process.execPath : undefined },
    { name: 'x64-22', arch: 'x64' as const, bin: have['x64-22'] },
    { name: 'x64-24', arch: 'x64' as const, bin: have['x64-24'] },
    { name: 'arm64-22', arch: 'arm64' as const, bin: have['arm64-22'] },
  ];
  const seen = new Set<string>();
  return wanted
    .filter((w) => (seen.has(w.name) ? false : (seen.add(w.name), true)))
    .map((w) => ({
      ...w,
      reason: w.bin
        ? undefined
        : w.arch === 'arm64' && !qemuAarch64()
          ? 'qemu-aarch64-static missing (scripts/setup-arm64.sh)'
          : `no Node ${w.name} (scripts/fetch-node.sh ${w.name.split('-')[1]} ${w.arch})`,
    }));
}
