/**
 * Issue 9, items 4 and 5, proved from outside the process: the residue auditor
 * (src/audit, used as it is) runs handlers in a child process against its own
 * local KMS endpoint, here with the endpoint's delivery faults
 * (SECRET_SCOPE_KMS_LOCAL_FAULTS: chunked transfer-encoding, several delayed
 * writes cut inside the base64 Plaintext) and a handler that keeps its event
 * loop busy while the answers arrive, over HTTP and HTTPS, and with the third
 * plaintext-carrying operation (GenerateDataKey). Every audit must find no copy
 * of any KMS plaintext or derived key during or after the scope.
 *
 * On the old capture the chunked-answer audits found the base64 Plaintext in a
 * parser chunk that Readable.read() had concatenated and dropped unzeroed
 * (exit 1); over HTTPS every audit found the latest answer on the stack.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runAudit, type AuditOptions, type AuditResult } from '../src/audit/auditor.js';
import { FAULTS_ENV, type KmsFaults } from '../src/kms-local/index.js';

const ROOT = resolve(__dirname, '..');
const CHILD = join(ROOT, 'dist', 'audit-child.js');
const handlerPath = (name: string) => (name.startsWith('audit-') ? join(ROOT, 'test', 'fixtures', name) : join(ROOT, 'examples', 'audit', name));

function newestSource(dir: string): number {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    newest = Math.max(newest, e.isDirectory() ? newestSource(p) : statSync(p).mtimeMs);
  }
  return newest;
}

beforeAll(() => {
  if (!existsSync(CHILD) || statSync(CHILD).mtimeMs < newestSource(join(ROOT, 'src'))) {
    execFileSync('npx', ['tsup'], { cwd: ROOT, stdio: 'ignore' });
  }
}, 180_000);

/** Every copy the audit counted against its criterion (short strings for failure messages). */
function failing(r: AuditResult): string[] {
  return [
    ...r.scans.flatMap((s) => s.hits.filter((h) => h.failing).map((h) => `${s.moment}: ${h.form} of ${h.secret} in ${h.mapping.kind} ${h.mapping.path}`)),
    ...(r.heapSnapshot?.hits ?? []).map((h) => `heap snapshot: ${h.form} of ${h.secret}`),
  ];
}

/** Runs the auditor with the endpoint's faults set through the environment it reads them from. */
async function auditWithFaults(handler: string, faults: KmsFaults | undefined, options: Partial<AuditOptions> = {}): Promise<AuditResult> {
  const saved = process.env[FAULTS_ENV];
  if (faults) process.env[FAULTS_ENV] = JSON.stringify(faults);
  try {
    const r = await runAudit({ handler: handlerPath(handler), ...options });
    expect(r.errors, r.errors.join('\n')).toEqual([]);
    expect(r.scans.filter((s) => s.moment === 'during').length).toBeGreaterThanOrEqual(1);
    expect(r.outcomes.length).toBe(options.invocations ?? 1);
    expect(r.outcomes.filter((o) => !o.ok), JSON.stringify(r.outcomes)).toEqual([]);
    expect(r.secrets.byKind['kms-entropy']).toBeGreaterThanOrEqual(1);
    expect(r.secrets.byKind['root-derived']).toBeGreaterThanOrEqual(1);
    return r;
  } finally {
    if (saved === undefined) delete process.env[FAULTS_ENV];
    else process.env[FAULTS_ENV] = saved;
  }
}

const cases: Array<[string, string, KmsFaults | undefined, Partial<AuditOptions>]> = [
  ['HTTP, chunked answers in one write (the Plaintext a chunk of its own)', 'success.mjs', { chunkedBody: true }, {}],
  ['HTTP, chunked answers 10 ms apart, the handler\'s loop busy meanwhile', 'audit-busy-loop.mjs', { chunkedBody: { delayMs: 10 } }, {}],
  ['HTTP, answers in 3 writes cut inside the Plaintext, the handler\'s loop busy', 'audit-busy-loop.mjs', { splitWrites: { delayMs: 10 } }, {}],
  ['HTTPS, chunked answers in one write', 'success.mjs', { chunkedBody: true }, { https: true }],
  ['HTTPS, chunked answers 10 ms apart, the handler\'s loop busy', 'audit-busy-loop.mjs', { chunkedBody: { delayMs: 10 } }, { https: true }],
  ['HTTPS, answers in 3 writes cut inside the Plaintext, 3 invocations', 'success.mjs', { splitWrites: { delayMs: 5 } }, { https: true, invocations: 3 }],
  ['HTTPS, 16 concurrent invocations, chunked answers', 'concurrent.mjs', { chunkedBody: { cut: 16 } }, { https: true, invocations: 16, concurrency: 16, event: { barrier: 16, tenant: 'acme' } }],
];

describe('KMS answers in pieces, over HTTP and HTTPS: no copy of any KMS plaintext or key (out-of-process audit)', () => {
  for (const [name, handler, faults, options] of cases) {
    it(name, async () => {
      const r = await auditWithFaults(handler, faults, options);
      expect(failing(r), `copies found:\n${failing(r).join('\n')}`).toEqual([]);
      expect(r.exitCode).toBe(0);
    }, 120_000);
  }
});

describe('GenerateDataKey over HTTPS', () => {
  it('the data key, the entropy and the root key: no copy after the scope; the data key is known to the auditor', async () => {
    const r = await auditWithFaults('audit-data-key.mjs', undefined, { https: true, invocations: 2 });
    expect(r.secrets.byKind['kms-data-key']).toBe(2);
    expect(failing(r), `copies found:\n${failing(r).join('\n')}`).toEqual([]);
    expect(r.exitCode).toBe(0);
  }, 120_000);
});
