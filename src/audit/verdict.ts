/**
 * From what the audit saw to its verdict. Exit 1 (FAIL) when something leaked
 * or outlived its invocation: a copy of a secret, a scope or key still live
 * after an invocation settled, an invocation that failed although the module
 * did not declare that it may. Exit 2 (ERROR) when the audit could not look
 * everywhere: a mapping it should have read and could not, a heap snapshot that
 * failed, a child that crashed, a key channel that lost records. Exit 0 (PASS)
 * only when it looked everywhere and found nothing.
 */
import type { AuditResult, ExpectedFailures, Moment } from './types.js';

export type { ExpectedFailures } from './types.js';
import type { InvocationOutcome } from './child.js';
import type { MappingKind } from './scanner.js';


export function unexpectedFailures(outcomes: InvocationOutcome[], expected: ExpectedFailures | undefined): string[] {
  const out: string[] = [];
  for (const o of outcomes) {
    if (o.ok) continue;
    const e = o.error;
    const id = e?.code ?? e?.name ?? 'Error';
    if (expected === true || (Array.isArray(expected) && (expected.includes(id) || (e?.name !== undefined && expected.includes(e.name))))) continue;
    out.push(`invocation ${o.invocation} failed (not declared in auditConfig.expectedFailures): ${id}: ${e?.message ?? 'no message'}`);
  }
  return out;
}

export function finishVerdict(result: AuditResult): void {
  const sum = (m: Moment) => result.scans.filter((s) => s.moment === m).reduce((a, s) => a + s.copies, 0);
  result.totals = {
    during: sum('during'),
    after: sum('after'),
    final: sum('final'),
    heapSnapshot: result.heapSnapshot?.hits.length ?? 0,
    guarded: result.scans.reduce((a, s) => a + s.guarded, 0),
    byMapping: {},
  };
  for (const s of result.scans) {
    for (const [k, v] of Object.entries(s.byMapping)) {
      result.totals.byMapping[k as MappingKind] = (result.totals.byMapping[k as MappingKind] ?? 0) + (v ?? 0);
    }
  }
  const copies = result.totals.during + result.totals.after + result.totals.final + result.totals.heapSnapshot;
  if (copies > 0) {
    const t = result.totals;
    const where = Object.entries(t.byMapping).map(([k, v]) => `${k} ${v}`).join(', ');
    result.failures.unshift(
      `copies of secrets found: during the scope ${t.during}, after ${t.after}, final ${t.final} (by mapping, all scans: ${where || 'none'}), heap snapshot ${t.heapSnapshot}`,
    );
  }
  if (result.errors.length === 0 && !result.scans.some((s) => s.moment === 'during')) result.errors.push('no during-scope scan was taken');
  result.exitCode = result.failures.length > 0 ? 1 : result.errors.length ? 2 : 0;
  result.ok = result.exitCode === 0;
}
