/**
 * `npx secret-scope <command>`:
 *   report [--json] [--require secret|locked|any] [--backend auto|memfd_secret|mlock|plain]
 *   kms-local [flags]      run the local KMS-compatible endpoint (see --help)
 *   audit <handler> [...]  residue audit of a handler module (see --help)
 */
import { configureSecretMemory, protectionReport, type ProtectionReport } from './memory/policy.js';
import { SecretScopeError } from './errors/index.js';

const USAGE = `usage: secret-scope <command>
  report [--json] [--require secret|locked|any] [--backend auto|memfd_secret|mlock|plain]
      what protection this machine gives secret-scope (initialises a small arena)
  kms-local [--port N] [--https] [--latency MS] ...
      run the local KMS-compatible endpoint for tests (--help for flags)
  audit <handler-module> [--event file.json] [--invocations N] [--concurrency C] [--json]
      run a handler through secret-scope in a child process and count key copies in its memory`;

function flag(argv: string[], name: string): string | undefined {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
}

function formatReport(r: ProtectionReport): string {
  const yes = (b: boolean) => (b ? 'yes' : 'NO');
  const lines = [
    `backend          ${r.backend}${r.memfdSecret.error && r.backend !== 'memfd_secret' ? `  (memfd_secret: ${r.memfdSecret.error})` : ''}`,
    `required         ${r.require}`,
    `locked           ${yes(r.locked)}${r.mlock.error ? `  (mlock: ${r.mlock.error})` : ''}`,
    `excluded from core dumps (MADV_DONTDUMP)  ${yes(r.dontdump)}`,
    `not inherited by fork (MADV_DONTFORK)     ${yes(r.dontfork)}`,
    `guard pages      ${yes(r.guardPages)}`,
    `RLIMIT_MEMLOCK   ${r.memlockLimit === null ? 'unlimited' : `${r.memlockLimit} bytes`}; locked ${r.lockedBytes} bytes`,
    `regions          ${r.regions} x ${r.regionPages} pages; ${r.cellsInUse}/${r.cellsTotal} cells in use; ${r.liveSlots} live keys`,
    `platform         ${r.platform} ${r.arch}, kernel ${r.kernel}`,
    `libsodium        ${r.libsodium}; AES-128/256-GCM: ${r.aesGcm.implementation}${r.aesGcm.hardware ? '' : ' (no AES instructions on this CPU)'}; SHA-2 for HMAC/HKDF: ${r.sha2}`,
    `process          dumpable ${r.dumpable ? 'yes' : 'no'}; core limit ${r.coreLimit === null ? 'unlimited' : r.coreLimit}`,
  ];
  for (const n of r.notes) lines.push(`note             ${n}`);
  return lines.join('\n');
}

export async function runCli(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'report': {
      const require = flag(rest, '--require') as 'secret' | 'locked' | 'any' | undefined;
      const backend = flag(rest, '--backend') as 'auto' | 'memfd_secret' | 'mlock' | 'plain' | undefined;
      try {
        configureSecretMemory({ ...(require ? { require } : {}), ...(backend ? { backend } : {}) });
      } catch (e) {
        if (!(e instanceof SecretScopeError)) throw e;
        const failed = { ok: false, error: { name: e.name, code: e.code, message: e.message }, ...protectionReport() };
        if (rest.includes('--json')) process.stdout.write(JSON.stringify(failed, null, 2) + '\n');
        else process.stderr.write(`secret-scope: ${e.message}\n`);
        return 2;
      }
      const r = protectionReport();
      process.stdout.write(rest.includes('--json') ? JSON.stringify({ ok: true, ...r }, null, 2) + '\n' : formatReport(r) + '\n');
      return 0;
    }
    case 'kms-local': {
      const { runKmsLocalCli } = await import('./kms-local/index.js');
      await runKmsLocalCli(rest);
      return 0;
    }
    case 'audit': {
      const { runAuditCli } = await import('./audit/cli.js');
      return runAuditCli(rest);
    }
    case undefined:
    case '-h':
    case '--help':
    case 'help':
      process.stdout.write(USAGE + '\n');
      return command ? 0 : 1;
    default:
      process.stderr.write(`secret-scope: unknown command '${command}'\n${USAGE}\n`);
      return 1;
  }
}
