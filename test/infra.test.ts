import { execFileSync } from "node:child_process";
import { existsSync, statSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  REPO_ROOT,
  SECCOMP_SOURCE,
  buildSeccompHelper,
  buildSyscallProbe,
  cleanupTempDirs,
  elfArch,
  nodeBinaries,
  parseProbe,
  qemuAarch64,
  runNode,
  runNodeEval,
  runRestricted,
  writeTempScript,
} from "./helpers/restricted.js";

const isRoot = process.getuid?.() === 0;
const hasCommand = (c: string) => {
  try {
    execFileSync("sh", ["-c", `command -v ${c}`], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
};
const canCrossArm64 = process.arch === "x64" && hasCommand("aarch64-linux-gnu-gcc") && !!qemuAarch64();

function limitsLine(limits: string, name: string): string[] {
  const line = limits.split("\n").find((l) => l.startsWith(name));
  if (!line) throw new Error(`no '${name}' line in:\n${limits}`);
  return line.slice(name.length).trim().split(/\s+/);
}

afterAll(() => cleanupTempDirs());

describe("seccomp-exec helper", () => {
  let probe: string;
  beforeAll(async () => {
    probe = await buildSyscallProbe();
  }, 60_000);

  it("builds into .cache/test-bin and is not older than its source", async () => {
    const bin = await buildSeccompHelper();
    expect(bin).toBe(join(REPO_ROOT, ".cache", "test-bin", "seccomp-exec"));
    expect(statSync(bin).mtimeMs).toBeGreaterThanOrEqual(statSync(SECCOMP_SOURCE).mtimeMs);
    expect(statSync(bin).mode & 0o755).toBe(0o755);
    expect(await buildSeccompHelper()).toBe(bin);
  });

  it("without a filter the kernel allows memfd_secret and mlock", async () => {
    const r = await runRestricted([probe]);
    expect(r.code, r.stderr).toBe(0);
    // Kernel 6.18 with secretmem: if this fails, the machine lost memfd_secret
    // and the deny tests below prove less than they claim.
    expect(parseProbe(r.stdout)).toEqual({ memfd_secret: "ok", mlock: "ok", mlockall: "ok" });
  });

  it("--deny-memfd-secret makes syscall 447 fail with ENOSYS and leaves mlock alone", async () => {
    const r = await runRestricted([probe], { denyMemfdSecret: true });
    expect(r.code, r.stderr).toBe(0);
    expect(parseProbe(r.stdout)).toEqual({ memfd_secret: "ENOSYS", mlock: "ok", mlockall: "ok" });
  });

  it("--deny-mlock makes mlock and mlockall fail with EPERM", async () => {
    const r = await runRestricted([probe], { denyMlock: true });
    expect(r.code, r.stderr).toBe(0);
    expect(parseProbe(r.stdout)).toEqual({ memfd_secret: "ok", mlock: "EPERM", mlockall: "EPERM" });
  });

  it("--errno overrides the errno for every denied syscall", async () => {
    const r = await runRestricted([probe], { denyMemfdSecret: true, denyMlock: true, errno: "EACCES" });
    expect(parseProbe(r.stdout)).toEqual({ memfd_secret: "EACCES", mlock: "EACCES", mlockall: "EACCES" });
  });

  it("rejects an unknown errno and a missing program", async () => {
    const bin = await buildSeccompHelper();
    const bad = await runRestricted([bin, "--deny-mlock", "--errno", "EBOGUS", "--", probe]);
    expect(bad.code).toBe(125);
    expect(bad.stderr).toMatch(/unknown errno/);
    const missing = await runRestricted([bin, "--deny-mlock", "--", "/nonexistent/program"]);
    expect(missing.code).toBe(127);
  });

  it.skipIf(!isRoot)("a small memlock limit as uid 65534 turns mlock into ENOMEM", async () => {
    const r = await runRestricted([probe], { asUser: 65534, memlock: 4096 });
    expect(r.code, r.stderr).toBe(0);
    expect(parseProbe(r.stdout)).toMatchObject({ mlock: "ENOMEM", mlockall: "ENOMEM" });
  });
});

describe("runNode", () => {
  it("runs a script file with args, env and stdin", async () => {
    const script = writeTempScript(
      [
        "let input = '';",
        "for await (const c of process.stdin) input += c;",
        "console.log(JSON.stringify({ args: process.argv.slice(2), env: process.env.SS_TEST_VAR, input }));",
      ].join("\n"),
    );
    const r = await runNode(script, { args: ["a", "b c"], env: { SS_TEST_VAR: "v1" }, input: "hello" });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ args: ["a", "b c"], env: "v1", input: "hello" });
  });

  it("runs evalCode as an ES module and reports the exit code", async () => {
    const r = await runNodeEval("const m = await import('node:os'); console.log(typeof m.platform, process.argv.slice(1).join(',')); process.exit(3)", {
      args: ["x", "y"],
    });
    expect(r.code).toBe(3);
    expect(r.stdout.trim()).toBe("function x,y");
  });

  it("kills a child that outlives timeoutMs", async () => {
    const started = Date.now();
    const r = await runNodeEval("setInterval(() => {}, 1000)", { timeoutMs: 500 });
    expect(r.timedOut).toBe(true);
    expect(r.signal).toBe("SIGKILL");
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it.skipIf(!isRoot)("asUser 65534 runs node as uid/gid 65534 with no groups", async () => {
    const script = writeTempScript(
      // process.getgroups() always adds the egid, so read the kernel's list.
      "const g = require('fs').readFileSync('/proc/self/status', 'utf8').match(/^Groups:(.*)$/m)[1].trim();" +
        "console.log(JSON.stringify({ uid: process.getuid(), gid: process.getgid(), groups: g }))",
      ".cjs",
    );
    const r = await runNode(script, { asUser: 65534 });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ uid: 65534, gid: 65534, groups: "" });
  });

  it("memlock 65536 sets both soft and hard RLIMIT_MEMLOCK", async () => {
    const r = await runNodeEval(
      "import { readFileSync } from 'node:fs'; process.stdout.write(readFileSync('/proc/self/limits', 'utf8'))",
      { memlock: 65536 },
    );
    expect(r.code, r.stderr).toBe(0);
    expect(limitsLine(r.stdout, "Max locked memory").slice(0, 3)).toEqual(["65536", "65536", "bytes"]);
  });

  it.skipIf(!isRoot)("all restrictions combine: uid 65534, memlock, seccomp; node still runs", async () => {
    const r = await runNodeEval(
      "import { readFileSync } from 'node:fs';" +
        "const l = readFileSync('/proc/self/limits', 'utf8').split('\\n').find((x) => x.startsWith('Max locked memory'));" +
        "const s = readFileSync('/proc/self/status', 'utf8').split('\\n').find((x) => x.startsWith('Seccomp:'));" +
        "console.log(JSON.stringify({ uid: process.getuid(), l, s }))",
      { asUser: 65534, memlock: 131072, denyMemfdSecret: true, denyMlock: true },
    );
    expect(r.code, r.stderr).toBe(0);
    const o = JSON.parse(r.stdout);
    expect(o.uid).toBe(65534);
    expect(o.l.split(/\s+/).slice(3, 5)).toEqual(["131072", "131072"]);
    expect(o.s).toMatch(/^Seccomp:\s+2$/); // 2 = filter mode
    expect(r.argv[0]).toBe("prlimit");
  });

  it.skipIf(!isRoot)("refuses a script that uid 65534 cannot read", async () => {
    await expect(runNode("/root/not-there.mjs", { asUser: 65534 })).rejects.toThrow();
  });
});

describe("extra Node binaries and arm64", () => {
  const bins = nodeBinaries();
  const names = Object.keys(bins);

  it.skipIf(names.length === 0).each(names)("%s runs and reports its arch and major", async (name) => {
    const [arch, major] = name.split("-");
    expect(elfArch(bins[name])).toBe(arch);
    const r = await runNodeEval("console.log(process.arch, process.version)", { nodeBinary: bins[name] });
    expect(r.code, r.stderr).toBe(0);
    const [gotArch, version] = r.stdout.trim().split(" ");
    expect(gotArch).toBe(arch);
    expect(version).toMatch(new RegExp(`^v${major}\\.`));
  });

  it.skipIf(names.length === 0)("scripts/fetch-node.sh is idempotent for an installed version", () => {
    const [arch, major] = names[0].split("-");
    const out = execFileSync("bash", [join(REPO_ROOT, "scripts", "fetch-node.sh"), major, arch], {
      encoding: "utf8",
      timeout: 20_000,
    });
    expect(out.trim()).toBe(bins[names[0]]);
  });

  it.skipIf(!canCrossArm64)("seccomp-exec cross-compiles for aarch64", () => {
    const out = join(REPO_ROOT, ".cache", "test-bin", `seccomp-exec-arm64-check-${process.pid}`);
    try {
      execFileSync("aarch64-linux-gnu-gcc", ["-O2", "-Wall", "-Werror", "-o", out, SECCOMP_SOURCE]);
      expect(elfArch(out)).toBe("arm64");
    } finally {
      execFileSync("rm", ["-f", out]);
    }
  });

  it.skipIf(!canCrossArm64)(
    "under qemu-aarch64: memfd_secret is ENOSYS, mlock reaches the host (host seccomp still denies it)",
    async () => {
      const probe = await buildSyscallProbe("arm64");
      expect(elfArch(probe)).toBe("arm64");
      const plain = await runRestricted([qemuAarch64()!, probe]);
      expect(plain.code, plain.stderr).toBe(0);
      expect(parseProbe(plain.stdout)).toEqual({ memfd_secret: "ENOSYS", mlock: "ok", mlockall: "ok" });
      const denied = await runRestricted([qemuAarch64()!, probe], { denyMlock: true });
      expect(parseProbe(denied.stdout)).toMatchObject({ mlock: "EPERM", mlockall: "EPERM" });
    },
    60_000,
  );
});

it("the helper source exists where restricted.ts expects it", () => {
  expect(existsSync(SECCOMP_SOURCE)).toBe(true);
});
