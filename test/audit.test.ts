/**
 * The residue auditor (issue 4): the scanner finds what it claims to find, and
 * every example path is audited in a child process against the local KMS
 * endpoint. The children run the built harness (dist/audit-child.js); it is
 * built once here when missing or older than the sources.
 */
import { randomBytes } from 'node:crypto';
import { join, resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runAudit, type AuditResult, type AuditOptions } from '../src/audit/auditor.js';
import { formatAudit } from '../src/audit/cli.js';
import { NeedleIndex, needlesFor, type Secret } from '../src/audit/patterns.js';
import { parseSmaps, scanProcess } from '../src/audit/scanner.js';
import { ensureDistBuilt, mapBounded } from './helpers/audit.js';

const ROOT = resolve(__dirname, '..');
const EX = (name: string) => join(ROOT, 'examples', 'audit', name);
const FAULT = (name: string) => join(ROOT, 'test', 'fixtures', 'audit', name);

beforeAll(ensureDistBuilt, 120_000);

/** Derived keys: recomputed, read from a readable arena, or handed over by the key channel (arena-*). */
const isDerived = (kind: string) => ['root-derived', 'entropy-derived', 'scope-prk'].includes(kind) || kind.startsWith('arena-');

/** Every copy the audit counted against its criterion, as short strings for failure messages. */
function failing(r: AuditResult): string[] {
  return [
    ...r.scans.flatMap((s) => s.hits.filter((h) => h.failing).map((h) => `${s.moment}: ${h.form} of ${h.secret} in ${h.mapping.kind} ${h.mapping.path}`)),
    ...(r.heapSnapshot?.hits ?? []).map((h) => `heap snapshot: ${h.form} of ${h.secret}`),
  ];
}

function derivedKeyCopies(r: AuditResult): string[] {
  return [
    ...r.scans.flatMap((s) => s.hits.filter((h) => h.failing && isDerived(h.kind)).map((h) => `${s.moment}: ${h.form} of ${h.secret} in ${h.mapping.kind}`)),
    ...(r.heapSnapshot?.hits ?? []).filter((h) => isDerived(h.kind)).map((h) => `heap snapshot: ${h.form} of ${h.secret}`),
  ];
}

async function audit(handler: string, options: Partial<AuditOptions> = {}): Promise<AuditResult> {
  const r = await runAudit({ handler: EX(handler), ...options });
  expect(r.errors, r.errors.join('\n')).toEqual([]);
  expect(r.scans.filter((s) => s.moment === 'during').length).toBeGreaterThanOrEqual(1);
  expect(r.scans.filter((s) => s.moment === 'after').length).toBeGreaterThanOrEqual(1);
  expect(r.secrets.byKind['kms-root']).toBeGreaterThanOrEqual(1);
  // the native layer handed over the keys the scope held (the session key and the scope PRK at least)
  expect(r.keyChannel.active).toBe(true);
  expect(r.keyChannel.problems).toEqual([]);
  return r;
}

describe('needles and scanner', () => {
  const secret = (bytes: Buffer): Secret => ({ id: 0, kind: 'kms-entropy', lifetime: 'scope', label: 't', bytes });

  it('finds every form at every base64 alignment, across chunk boundaries, and nothing else', () => {
    const key = randomBytes(32);
    const needles = needlesFor(secret(key));
    const index = new NeedleIndex(needles);
    const filler = randomBytes(5000);
    const pieces: Buffer[] = [filler.subarray(0, 1000)];
    const forms = [
      key,
      Buffer.from(key.toString('hex')),
      Buffer.from(key.toString('hex').toUpperCase(), 'utf16le'),
      Buffer.from(Buffer.concat([Buffer.from([7]), key]).toString('base64')), // key at offset 1 of a base64 text
      Buffer.from(Buffer.concat([Buffer.from([7, 9]), key]).toString('base64url')), // offset 2, URL-safe
    ];
    for (const f of forms) pieces.push(f, filler.subarray(0, 333));
    const hay = Buffer.concat(pieces);
    const found: Array<[string, number]> = [];
    // small chunks with overlap, as the scanner reads them
    const chunk = 200;
    for (let off = 0; off < hay.length; off += chunk) {
      const buf = hay.subarray(off, Math.min(hay.length, off + chunk + index.maxLength - 1));
      index.search(buf, Math.min(chunk, hay.length - off), (n, start) => found.push([needles[n]!.form, off + start]));
    }
    // base64 and base64url needles are one needle when the text has neither '+' nor '/'
    const family = (f: string) => (f === 'base64url' ? 'base64' : f);
    expect(found.map(([f]) => family(f)).sort()).toEqual(['base64', 'base64', 'hex', 'raw', 'utf16-HEX']);
    // one hit per planted copy, none in the random filler
    expect(new Set(found.map(([, at]) => at)).size).toBe(forms.length);
  });

  it('parses smaps VmFlags (dd) and classifies mappings', () => {
    const text = [
      '55d4c8a00000-55d4c8a21000 rw-p 00000000 00:00 0                          [heap]',
      'Rss:                   8 kB',
      'Private_Dirty:         8 kB',
      'VmFlags: rd wr mr mw me ac sd',
      '7f0000000000-7f0000004000 rw-s 00000000 00:01 12                         /secretmem (deleted)',
      'Rss:                  16 kB',
      'VmFlags: rd wr sh mr mw me ms lo io dd sd',
      '7f0000010000-7f0000020000 ---p 00000000 00:00 0 ',
      'Rss:                   0 kB',
      'VmFlags: mr mw me dd sd',
    ].join('\n');
    const m = parseSmaps(text);
    expect(m.map((x) => [x.kind, x.dontdump, x.rssKb])).toEqual([
      ['heap', false, 8],
      ['secret-memory', true, 16],
      ['anonymous', true, 0],
    ]);
  });

  it('sees a string copy of a key in a live process (this one) and reports its mapping', () => {
    const key = randomBytes(32);
    const holder = { s: `prefix-${key.toString('hex')}-suffix` };
    const index = new NeedleIndex(needlesFor(secret(key)).filter((n) => n.form === 'hex'));
    const { hits, stats } = scanProcess(process.pid, index);
    expect(holder.s.length).toBeGreaterThan(64);
    expect(stats.scannedBytes).toBeGreaterThan(1 << 20);
    expect(hits.length).toBeGreaterThanOrEqual(1);
    expect(hits.every((h) => ['anonymous', 'heap'].includes(h.mapping.kind))).toBe(true);
  });
});

describe('audit of the examples (child process, local KMS over HTTP)', () => {
  it('flags the deliberately leaky handler: exit 1, the hex copy in the V8 heap and in the heap snapshot', async () => {
    const r = await audit('leaky.mjs');
    expect(r.exitCode).toBe(1);
    const after = r.scans.find((s) => s.moment === 'final')!;
    const hex = after.hits.filter((h) => h.failing && h.kind === 'root-derived' && h.form === 'hex');
    expect(hex.length).toBeGreaterThanOrEqual(1);
    expect(hex.every((h) => h.mapping.kind === 'anonymous' && !h.mapping.dontdump)).toBe(true);
    expect(r.heapSnapshot?.hits.some((h) => h.kind === 'root-derived' && h.form === 'hex')).toBe(true);
    expect(r.totals.final).toBeGreaterThan(0);
  }, 30_000);

  // The clean paths: 0 copies expected. See SECURITY.md "Open findings": on the
  // default KMS client the audit currently finds the base64 KMS plaintexts left in
  // Node's socket read buffers and in kms-capture's body buffer; the first
  // assertion of each path (no copy of any derived key) holds already, the
  // second (no copy at all) fails until the KMS read path is fixed.
  const clean: Array<[string, string, Partial<AuditOptions>, (r: AuditResult) => void]> = [
    ['success', 'success.mjs', {}, (r) => expect(r.outcomes).toEqual([{ invocation: 1, ok: true, statusCode: 200 }])],
    ['throw', 'throw.mjs', {}, (r) => expect(r.outcomes[0]).toMatchObject({ ok: false, error: { message: 'handler failed after using its keys' } })],
    ['early return (middy)', 'early-return.mjs', {}, (r) => expect(r.outcomes[0]).toMatchObject({ ok: true, statusCode: 304 })],
    [
      'timeout (middy timeoutEarlyInMillis; late key use fails)',
      'timeout.mjs',
      {},
      (r) => {
        expect(r.outcomes[0]).toMatchObject({ ok: false, error: { name: 'TimeoutError' } });
        expect(r.auditDone).toEqual({ lateUse: ['ERR_SCOPE_ENDED'] });
      },
    ],
    [
      'streamed response',
      'streaming.mjs',
      {},
      (r) => {
        expect(r.child?.streaming).toBe(true);
        expect(r.outcomes[0]!.streamedBytes).toBeGreaterThan(0);
      },
    ],
    [
      '64 concurrent invocations',
      'concurrent.mjs',
      { invocations: 64, concurrency: 64 },
      (r) => {
        expect(r.outcomes.filter((o) => o.ok)).toHaveLength(64);
        const during = r.scans.find((s) => s.moment === 'during')!;
        expect(during.liveScopes).toBeGreaterThanOrEqual(64);
        expect(r.secrets.byKind['kms-entropy']).toBe(64);
      },
    ],
  ];

  for (const [name, file, options, check] of clean) {
    it(`${name}: no copy of any derived key; no copy at all`, async () => {
      const r = await audit(file, options);
      check(r);
      expect(r.secrets.byKind['root-derived']).toBeGreaterThanOrEqual(1);
      expect(r.keyChannel.keys).toBeGreaterThanOrEqual(2); // entropy-derived session key, scope PRK
      expect(r.failures).toEqual([]);
      expect(derivedKeyCopies(r)).toEqual([]);
      expect(failing(r), `copies found (open finding, SECURITY.md):\n${failing(r).join('\n')}`).toEqual([]);
      expect(r.exitCode).toBe(0);
    }, 30_000);
  }

  // The asymmetric and HPKE paths: the key channel hands the auditor the P-384 scalar, the HPKE
  // shared secret and context keys, so 0 copies means 0 copies of those too.
  it.each([
    ['the seed program (64 KMS bytes -> HKDF-SHA512 -> P-384 -> ES384 JWT)', 'seed-p384-jwt.mjs', ['arena-ecdsa-p384']],
    ['an HPKE forward-secret response', 'hpke-forward-secret.mjs', ['arena-hpke']],
  ])('%s: the scalar and every secret of the scope searched, no copy', async (_name, file, kinds) => {
    const r = await audit(file as string);
    for (const k of kinds as string[]) expect(r.secrets.byKind[k] ?? 0, `${k} searched`).toBeGreaterThanOrEqual(1);
    expect(r.failures).toEqual([]);
    expect(failing(r)).toEqual([]);
    expect(r.exitCode).toBe(0);
  }, 30_000);

  it('a KMS client reading into a zeroed user buffer, with entropy bodies over 64 bytes, leaves 0 copies (localises the finding)', async () => {
    const r = await audit('kms-user-buffer.mjs');
    expect(failing(r)).toEqual([]);
    expect(r.exitCode).toBe(0);
  }, 30_000);

  it('mlock backend: the auditor reads the live keys in dontdump memory, recomputes the root-derived one exactly, and finds them wiped after', async () => {
    const r = await audit('success.mjs', { backend: 'mlock' });
    expect((r.protection as { backend?: string }).backend).toBe('mlock');
    const during = r.scans.find((s) => s.moment === 'during')!;
    const guardedDerived = during.hits.filter((h) => !h.failing && isDerived(h.kind));
    expect(guardedDerived.length).toBeGreaterThanOrEqual(3); // session, tenant, PRK in the arena
    expect(guardedDerived.every((h) => h.mapping.dontdump && h.mapping.kind === 'anonymous')).toBe(true);
    expect(r.secrets.rootDerivedVerified).toBeGreaterThanOrEqual(1);
    for (const s of r.scans.filter((x) => x.moment !== 'during')) {
      expect(s.hits.filter((h) => isDerived(h.kind))).toEqual([]); // wiped: not even in guarded memory
      expect(s.hits.filter((h) => !h.failing).every((h) => h.lifetime === 'container' && h.mapping.dontdump)).toBe(true);
    }
    expect(derivedKeyCopies(r)).toEqual([]);
  }, 30_000);

  it.each([
    ['default KMS client', 'success.mjs'],
    ['zeroed read buffers, a KMS client of the handler\'s own', 'kms-user-buffer.mjs'],
  ])('HTTPS mode, %s: no copy of any KMS plaintext during or after the scope (the TLS stack copy is scrubbed)', async (label, file) => {
    const r = await audit(file, { https: true, invocations: 3 });
    expect(r.kmsTransport).toBe('https');
    expect(r.outcomes.every((o) => o.ok)).toBe(true);
    expect(derivedKeyCopies(r)).toEqual([]);
    // Before the stack scrub (issue 9), the base64 Plaintext of the latest KMS answer stayed
    // on the main thread's [stack], in TLSWrap::ClearOut's cleartext array.
    expect(failing(r), `copies found over HTTPS (${label}):\n${failing(r).join('\n')}`).toEqual([]);
    expect(r.exitCode).toBe(0);
  }, 60_000);
});

/**
 * Issue 9, item 7: each of these passed (exit 0) on the old auditor.
 * The audits run two at a time (the CI machine has 2 cores).
 */
describe('the audit cannot be fooled (regressions)', () => {
  const cases: Array<[string, string, Partial<AuditOptions>]> = [
    ['module-cache', EX('leaks/module-cache-entropy-base64.mjs'), {}],
    ['never-ended', EX('leaks/scope-never-ended.mjs'), {}],
    ['failed', FAULT('failed-invocation.mjs'), {}],
    ['unreadable', FAULT('unreadable-mapping.mjs'), { allMappings: true }],
    ['snapshot', FAULT('snapshot-fails.mjs'), {}],
    ['crash-at-exit', FAULT('crash-at-exit.mjs'), {}],
    ['crash-mid', FAULT('crash-mid-invocation.mjs'), {}],
  ];
  const results = new Map<string, AuditResult>();
  beforeAll(async () => {
    const done = await mapBounded(cases, 2, async ([name, handler, options]) => [name, await runAudit({ handler, ...options })] as const);
    for (const [name, r] of done) results.set(name, r);
  }, 300_000);
  const get = (name: string) => results.get(name)!;
  const why = (r: AuditResult) => `exit ${r.exitCode}\nfailures: ${r.failures.join('\n')}\nerrors: ${r.errors.join('\n')}`;

  it('an entropy-derived key copied to base64 in a module cache on memfd_secret: exit 1, the copy found', () => {
    const r = get('module-cache');
    expect((r.protection as { backend?: string }).backend).toBe('memfd_secret');
    expect(r.exitCode, why(r)).toBe(1);
    expect(r.scans.some((s) => s.moment === 'final' && s.hits.some((h) => h.failing && h.kind === 'arena-aead' && h.form === 'base64'))).toBe(true);
    expect(formatAudit(r)).toMatch(/searched for: \d+ secrets \(.*arena-aead/);
  });

  it('a scope the handler opens and never ends: exit 1, the live scope named', () => {
    const r = get('never-ended');
    expect(r.exitCode, why(r)).toBe(1);
    expect(r.failures.join('\n')).toMatch(/1 scope\(s\) were still live/);
  });

  it('an invocation that failed where the module did not declare it may: exit 1, code and message printed', () => {
    const r = get('failed');
    expect(r.exitCode, why(r)).toBe(1);
    expect(r.outcomes[0]).toMatchObject({ ok: false, error: { code: 'ERR_KMS' } });
    const text = formatAudit(r);
    expect(text).toMatch(/FAIL: invocation 1 failed .*ERR_KMS: KMS request failed: InvalidCiphertextException/);
    expect(text).toMatch(/result: FAIL/);
  });

  it('a mapping that should be readable and is not: exit 2, the mapping named', () => {
    const r = get('unreadable');
    expect(r.exitCode, why(r)).toBe(2);
    expect(r.failures).toEqual([]);
    expect(r.errors.join('\n')).toMatch(/could not read \d+ bytes of a file mapping .*secret-scope-unreadable-/);
  });

  it('a heap snapshot that cannot be searched: exit 2 with the reason', () => {
    const r = get('snapshot');
    expect(r.exitCode, why(r)).toBe(2);
    expect(r.errors.join('\n')).toMatch(/heap snapshot could not be searched: .*ENOENT/);
  });

  it('a child that crashes after the last scan, or mid-invocation: exit 2 with the signal', () => {
    const atExit = get('crash-at-exit');
    expect(atExit.exitCode, why(atExit)).toBe(2);
    expect(atExit.errors.join('\n')).toMatch(/killed by SIGSEGV after the last scan/);
    const mid = get('crash-mid');
    expect(mid.exitCode, why(mid)).toBe(2);
    expect(mid.errors.join('\n')).toMatch(/killed by SIGABRT before the audit finished/);
  });
});
