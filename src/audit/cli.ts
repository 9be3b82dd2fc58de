/**
 * `secret-scope audit <handler-module> [--event file.json] [--invocations N]
 *  [--concurrency C] [--json] [--https] [--backend B] [--remaining-time MS]
 *  [--no-heap-snapshot] [--all-mappings]`
 *
 * Exit status: 0 looked everywhere and found nothing; 1 a copy, a scope or key
 * still live after an invocation settled, or an undeclared failed invocation;
 * 2 the audit could not look everywhere (the reason is printed).
 */
import { readFileSync } from 'node:fs';
import { runAudit, type AuditOptions, type AuditResult } from './auditor.js';

export const AUDIT_USAGE = `usage: secret-scope audit <handler-module> [options]
  --event FILE          JSON event for every invocation (default: module's auditConfig.event, else {})
  --invocations N       invocations in total (default 1)
  --concurrency C       invocations in flight at once (default 1); the during-scope scan
                        of a batch is taken when its first scope ends
  --https               reach the local KMS endpoint over HTTPS (measures TLS residue)
  --backend B           arena backend in the child: auto|memfd_secret|mlock|plain
  --remaining-time MS   Lambda deadline reported by context.getRemainingTimeInMillis (default 30000)
  --no-heap-snapshot    skip the V8 heap snapshot second opinion
  --all-mappings        also read clean file-backed mappings
  --context BYTES       show the bytes before each copy (which structure holds it)
  --expect-failure ID   an invocation may fail with this error code or name (repeatable;
                        also auditConfig.expectedFailures in the module); '*' for any
  --json                print the full result as JSON
exit status: 0 looked everywhere, found nothing; 1 a copy, a live scope or key after an
invocation settled, or an undeclared failed invocation; 2 could not look everywhere`;

function parse(argv: string[]): { options: AuditOptions; json: boolean } | string {
  let handler: string | undefined;
  const options: Partial<AuditOptions> = {};
  let json = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    const int = (): number => {
      const v = Number(value());
      if (!Number.isInteger(v) || v < 1) throw new Error(`${a} needs a positive integer`);
      return v;
    };
    switch (a) {
      case '--event':
        options.event = JSON.parse(readFileSync(value(), 'utf8'));
        break;
      case '--invocations':
        options.invocations = int();
        break;
      case '--concurrency':
        options.concurrency = int();
        break;
      case '--https':
        options.https = true;
        break;
      case '--backend': {
        const b = value();
        if (!['auto', 'memfd_secret', 'mlock', 'plain'].includes(b)) throw new Error('--backend must be auto, memfd_secret, mlock or plain');
        options.backend = b as AuditOptions['backend'];
        break;
      }
      case '--remaining-time':
        options.remainingTimeMs = int();
        break;
      case '--no-heap-snapshot':
        options.heapSnapshot = false;
        break;
      case '--context': {
        const v = Number(value());
        if (!Number.isInteger(v) || v < 0 || v > 4096) throw new Error('--context needs a byte count (0..4096)');
        options.contextBytes = v;
        break;
      }
      case '--expect-failure': {
        const id = value();
        if (id === '*') options.expectedFailures = true;
        else if (options.expectedFailures !== true) options.expectedFailures = [...(options.expectedFailures ?? []), id];
        break;
      }
      case '--all-mappings':
        options.allMappings = true;
        break;
      case '--json':
        json = true;
        break;
      case '-h':
      case '--help':
        return AUDIT_USAGE;
      default:
        if (a.startsWith('--') || handler !== undefined) throw new Error(`unexpected argument '${a}'`);
        handler = a;
    }
  }
  if (!handler) throw new Error('a handler module is required');
  return { options: { ...options, handler }, json };
}

const mb = (n: number) => `${(n / 1048576).toFixed(1)} MB`;

export function formatAudit(r: AuditResult): string {
  const out: string[] = [];
  out.push(`secret-scope audit ${r.handler}`);
  if (r.child) {
    const p = r.protection as { backend?: string } | undefined;
    out.push(
      `  child pid ${r.child.pid}, node ${r.child.node}, backend ${p?.backend ?? '?'}, ${r.invocations} invocation(s), concurrency ${r.concurrency}, KMS over ${r.kmsTransport}${r.child.streaming ? ', streamed response' : ''}`,
    );
  }
  const kinds = Object.entries(r.secrets.byKind).map(([k, v]) => `${v} ${k}`).join(', ');
  out.push(`  searched for: ${r.secrets.total} secrets (${kinds || 'none'}), each raw, hex, HEX, base64, base64url, ASCII and UTF-16LE`);
  const kc = r.keyChannel;
  out.push(
    `  key channel: ${kc.active ? `on, ${kc.records} records, ${kc.keys} distinct arena keys (${Object.entries(kc.bySlotKind).map(([k, v]) => `${v} ${k}`).join(', ') || 'none'})` : 'OFF'}`,
  );
  out.push(`  not recomputable: ${r.secrets.notRecomputable}`);
  for (const s of r.scans) {
    const label = s.moment === 'during' ? `during scope (batch ${s.batch}, ${s.liveScopes} live scopes, ${s.liveKeys} live keys)` : s.moment === 'after' ? `after batch ${s.batch}` : 'final';
    const criterion = s.moment === 'during' ? 'outside dontdump memory' : 'anywhere readable';
    out.push(
      `  ${label}: ${s.copies} cop${s.copies === 1 ? 'y' : 'ies'} ${criterion}${s.guarded ? `; ${s.guarded} in guarded (dontdump) memory` : ''}` +
        ` [${mb(s.stats.scannedBytes)} in ${s.stats.scannedMappings} mappings, ${s.stats.secretMemory.mappings} secret-memory mapping(s) unreadable, ${s.stats.ms} ms]`,
    );
    for (const h of s.hits) {
      out.push(
        `    ${h.failing ? 'COPY ' : 'guarded'} ${h.mapping.kind.padEnd(9)} ${h.address} ${h.form}${h.alignment ? `@${h.alignment}` : ''} of ${h.secret}` +
          ` (${h.mapping.perms}${h.mapping.dontdump ? ' dd' : ''}${h.mapping.path ? ` ${h.mapping.path}` : ''})`,
      );
      if (h.before !== undefined) out.push(`      preceded by: ${h.before}`);
    }
  }
  if (r.heapSnapshot) {
    if (r.heapSnapshot.searched) {
      out.push(`  heap snapshot (second opinion): ${r.heapSnapshot.hits.length} cop${r.heapSnapshot.hits.length === 1 ? 'y' : 'ies'} in ${mb(r.heapSnapshot.bytes ?? 0)}`);
      for (const h of r.heapSnapshot.hits) out.push(`    COPY V8 heap ${h.form} of ${h.secret}`);
    } else {
      out.push(`  heap snapshot: not searched (${r.heapSnapshot.error})`);
    }
  }
  for (const s of r.scans.filter((x) => x.moment === 'after')) {
    if (s.live) out.push(`  live after batch ${s.batch}: ${s.liveScopes ?? '?'} scopes, ${s.live.scopeOwned} scope-owned keys, ${s.live.sealed} sealed and ${s.live.unownedUnsealed} other container keys`);
  }
  if (r.logs) {
    out.push(`  stdout/stderr (log lines): ${r.logs.hits.length} cop${r.logs.hits.length === 1 ? 'y' : 'ies'} in ${r.logs.searchedBytes} bytes`);
    for (const h of r.logs.hits) out.push(`    COPY log line ${h.form} of ${h.secret}`);
  }
  const failed = r.outcomes.filter((o) => !o.ok);
  out.push(`  invocations: ${r.outcomes.length - failed.length} returned, ${failed.length} failed${failed.length ? ` (${[...new Set(failed.map((f) => f.error?.code ?? f.error?.name))].join(', ')})` : ''}`);
  if (r.auditDone !== undefined) out.push(`  auditDone: ${JSON.stringify(r.auditDone)}`);
  for (const w of r.warnings) out.push(`  warning: ${w}`);
  for (const f of r.failures) out.push(`  FAIL: ${f}`);
  for (const e of r.errors) out.push(`  could not look: ${e}`);
  const t = r.totals;
  out.push(
    `  result: ${r.exitCode === 0 ? 'PASS' : r.exitCode === 1 ? 'FAIL' : 'ERROR'} — copies during ${t.during}, after ${t.after}, final ${t.final}, heap snapshot ${t.heapSnapshot} (${r.durationMs} ms)`,
  );
  return out.join('\n');
}

export async function runAuditCli(argv: string[]): Promise<number> {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (e) {
    process.stderr.write(`secret-scope audit: ${(e as Error).message}\n${AUDIT_USAGE}\n`);
    return 2;
  }
  if (typeof parsed === 'string') {
    process.stdout.write(parsed + '\n');
    return 0;
  }
  const result = await runAudit(parsed.options);
  process.stdout.write((parsed.json ? JSON.stringify(result, null, 2) : formatAudit(result)) + '\n');
  return result.exitCode;
}
