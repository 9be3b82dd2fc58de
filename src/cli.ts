/**
 * `npx secret-scope <command>`:
 *   report [--json] [--require secret|locked|any] [--backend auto|memfd_secret|mlock|plain]
 *   kms-local [flags]      run the local KMS-compatible endpoint (see --help)
 *   audit <handler> [...]  residue audit of a handler module (see --help)
 *   root-key create --key-id <id> [...]  a root key blob from KMS (the plaintext never leaves KMS)
 *   --version
 */
import { configureSecretMemory, protectionReport, type ProtectionReport } from './memory/policy.js';
import { SecretScopeError } from './errors/index.js';
import { PACKAGE_VERSION } from './memory/process-state.js';

const USAGE = `usage: secret-scope <command>
  report [--json] [--require secret|locked|any] [--backend auto|memfd_secret|mlock|plain]
      what protection this machine gives secret-scope (initialises a small arena)
  kms-local [--port N] [--https] [--latency MS] ...
      run the local KMS-compatible endpoint for tests (--help for flags)
  audit <handler-module> [--event file.json] [--invocations N] [--concurrency C] [--json]
      run a handler through secret-scope in a child process and count key copies in its memory
  root-key create --key-id <key id, ARN or alias> [--encryption-context name=value ...] [--json]
      print a new root key's KMS ciphertext blob (GenerateDataKeyWithoutPlaintext: no plaintext here)
  --version`;

function flag(argv: string[], name: string): string | undefined {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
}

export function formatReport(r: ProtectionReport): string {
  const yes = (b: boolean) => (b ? 'yes' : 'NO');
  const rows: [string, string][] = [
    ['backend', `${r.backend}${r.memfdSecret.error && r.backend !== 'memfd_secret' ? `  (memfd_secret: ${r.memfdSecret.error})` : ''}`],
    ['required', r.require],
    ['locked', `${yes(r.locked)}${r.mlock.error ? `  (mlock: ${r.mlock.error})` : ''}`],
    ['no core dumps', `${yes(r.dontdump)} (MADV_DONTDUMP)`],
    ['not in forks', `${yes(r.dontfork)} (MADV_DONTFORK)`],
    ['guard pages', yes(r.guardPages)],
    ['RLIMIT_MEMLOCK', `${r.memlockLimit === null ? 'unlimited' : `${r.memlockLimit} bytes`}; locked ${r.lockedBytes} bytes`],
    ['regions', `${r.regions} x ${r.regionPages} pages; ${r.cellsInUse}/${r.cellsTotal} cells in use; ${r.liveSlots} live keys; ${r.retainedRegions} empty kept for reuse (up to ${r.retainRegions} when idle; ${r.idleReleaseMs ? `the rest unmapped after ${r.idleReleaseMs} ms idle` : 'the rest unmapped at once'})`],
    ['platform', `${r.platform} ${r.arch}, kernel ${r.kernel}`],
    ['libsodium', `${r.libsodium}; AES-128/256-GCM: ${r.aesGcm.implementation}${r.aesGcm.hardware ? '' : ' (no AES instructions on this CPU)'}; SHA-2 for HMAC/HKDF: ${r.sha2}`],
    ['process', `dumpable ${r.dumpable ? 'yes' : 'no'}; core limit ${r.coreLimit === null ? 'unlimited' : r.coreLimit}`],
    ...r.notes.map((n): [string, string] => ['note', n]),
  ];
  // One value column: two spaces after the longest label.
  const width = Math.max(...rows.map(([label]) => label.length)) + 2;
  return rows.map(([label, value]) => label.padEnd(width) + value).join('\n');
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
    case 'root-key': {
      // The SDK's Node-version notice is not this command's output.
      process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
      const { runRootKeyCli } = await import('./kms/root-key-cli.js');
      return runRootKeyCli(rest);
    }
    case '--version':
    case '-v':
      process.stdout.write(PACKAGE_VERSION + '\n');
      return 0;
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
