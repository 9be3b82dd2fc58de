/**
 * The residue auditor: runs a handler module in a child Node process (the
 * harness in child.ts) against a local KMS endpoint it controls, and counts, by
 * reading the child's memory from outside, every copy of every secret it can
 * know:
 *
 * - every KMS plaintext the endpoint handed out (GenerateRandom entropy,
 *   Decrypt root keys, GenerateDataKey data keys), recorded by the endpoint;
 * - keys derived from the root key, recomputed here with node:crypto from the
 *   recorded root key and the key specs the handler module declares;
 * - on backends whose arena can be read from outside (mlock, plain): the
 *   declared keys and each scope's PRK, read from the arena while they are live.
 *
 * Entropy-derived keys are HKDF over KMS bytes || 32 local random bytes made in
 * guarded memory: with memfd_secret the auditor cannot know them (by design; no
 * switch in the library makes them predictable or exportable).
 *
 * Moments and criteria:
 * - during: right before a scope wipes (for concurrency C, the first scope end
 *   of a batch of C live scopes): no copy in memory a core dump would include
 *   (mappings without VmFlags `dd`);
 * - after: every batch settled, response produced: no copy of a scope secret
 *   anywhere readable, and container-lived secrets (root key, prefetched or
 *   ratchet entropy) only in guarded (`dd`) memory;
 * - final: after auditDone(), same criterion; then a V8 heap snapshot is
 *   searched for the text forms as a second opinion.
 */
import { spawn } from 'node:child_process';
import { hkdfSync, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, openSync, readSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { Readable, Writable } from 'node:stream';
import { startKmsLocal, type KmsLocal } from '../kms-local/index.js';
import { packageRoot } from '../memory/native.js';
import { NeedleIndex, needlesFor, type Form, type Lifetime, type Needle, type Secret, type SecretKind } from './patterns.js';
import { scanBytes, scanProcess, type MappingKind, type ScanHit, type ScanStats } from './scanner.js';
import type { ChildConfig, DeclaredKey, InvocationOutcome } from './child.js';

export interface AuditOptions {
  /** Path of the handler module (resolved from cwd). */
  handler: string;
  /** The event each invocation gets (default: the module's auditConfig.event, else {}). */
  event?: unknown;
  invocations?: number;
  concurrency?: number;
  /** Reach the local KMS endpoint over HTTPS (self-signed certificate trusted through NODE_EXTRA_CA_CERTS). */
  https?: boolean;
  /** Arena backend in the child (default: the library's default policy). */
  backend?: 'auto' | 'memfd_secret' | 'mlock' | 'plain';
  /** Lambda deadline the harness's context reports (getRemainingTimeInMillis). */
  remainingTimeMs?: number;
  /** Search a V8 heap snapshot of the child after the last scan (default true). */
  heapSnapshot?: boolean;
  /** Also read clean file-backed mappings. */
  allMappings?: boolean;
  /** Report this many bytes before each hit (printable ASCII kept): which structure holds the copy. */
  contextBytes?: number;
  /** Kill the child after this many ms (default 120000). */
  timeoutMs?: number;
  /** Extra environment for the child. */
  env?: Record<string, string>;
  /** Where the child harness is (default: dist/audit-child.js of this package). */
  childScript?: string;
}

export type Moment = 'during' | 'after' | 'final';

export interface HitReport {
  secret: string;
  kind: SecretKind;
  lifetime: Lifetime;
  form: Form;
  alignment?: number;
  address: string;
  mapping: { kind: MappingKind; path: string; perms: string; dontdump: boolean; locked: boolean };
  /** Counts against the criterion of its moment. */
  failing: boolean;
  /** With contextBytes: what precedes the copy. */
  before?: string;
}

export interface ScanReport {
  moment: Moment;
  batch?: number;
  liveScopes?: number;
  liveKeys?: number;
  secretsKnown: number;
  needles: number;
  /** Copies that fail the moment's criterion. */
  copies: number;
  /** Copies in guarded (dontdump) memory that the criterion allows (readable backends during a scope). */
  guarded: number;
  byMapping: Partial<Record<MappingKind, number>>;
  hits: HitReport[];
  stats: ScanStats;
}

export interface AuditResult {
  ok: boolean;
  /** 0 clean, 1 copies found, 2 audit could not run or was incomplete. */
  exitCode: number;
  handler: string;
  invocations: number;
  concurrency: number;
  kmsTransport: 'http' | 'https';
  child?: { pid: number; node: string; streaming: boolean; libraryCopies: string[]; optionsKnown: boolean; entropyPolicy: string };
  protection?: Record<string, unknown>;
  secrets: {
    total: number;
    byKind: Partial<Record<SecretKind, number>>;
    /** Root-derived keys whose recomputation matched the bytes read from the arena (readable backends). */
    rootDerivedVerified: number;
    notRecomputable: string;
  };
  declaredKeys: Array<{ name: string; use: string; from: string }>;
  scans: ScanReport[];
  totals: { during: number; after: number; final: number; heapSnapshot: number; guarded: number; byMapping: Partial<Record<MappingKind, number>> };
  heapSnapshot?: { searched: boolean; bytes?: number; hits: Array<{ secret: string; kind: SecretKind; form: Form }>; error?: string };
  outcomes: InvocationOutcome[];
  auditDone?: unknown;
  warnings: string[];
  errors: string[];
  durationMs: number;
}

/** Finds the built child harness. */
export function defaultChildScript(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [join(here, 'audit-child.js'), join(packageRoot(), 'dist', 'audit-child.js')];
  for (const c of candidates) if (existsSync(c)) return c;
  throw new Error(`the audit child harness is not built (looked for ${candidates.join(', ')}); run \`npx tsup\``);
}

/** Length-prefixed HKDF info, as the library builds it (recomputed independently here). */
export function rootDerivedInfo(name: string, use: string, context: string | undefined): Buffer {
  return Buffer.concat(
    ['secret-scope/v1', name, use, context ?? ''].map((p) => {
      const b = Buffer.from(p, 'utf8');
      const len = Buffer.alloc(2);
      len.writeUInt16BE(b.length);
      return Buffer.concat([len, b]);
    }),
  );
}

class SecretRegistry {
  readonly secrets: Secret[] = [];
  #byBytes = new Map<string, Secret>();
  #needles: Needle[] = [];
  #index: NeedleIndex | undefined;

  add(kind: SecretKind, lifetime: Lifetime, label: string, bytes: Buffer): Secret {
    const k = bytes.toString('latin1');
    const existing = this.#byBytes.get(k);
    if (existing) {
      // the stricter lifetime wins: a scope secret stays one even if also seen as container-lived
      if (lifetime === 'scope') existing.lifetime = 'scope';
      return existing;
    }
    const s: Secret = { id: this.secrets.length, kind, lifetime, label, bytes: Buffer.from(bytes) };
    this.secrets.push(s);
    this.#byBytes.set(k, s);
    this.#needles.push(...needlesFor(s));
    this.#index = undefined;
    return s;
  }

  get needles(): Needle[] {
    return this.#needles;
  }

  index(): NeedleIndex {
    this.#index ??= new NeedleIndex(this.#needles);
    return this.#index;
  }

  wipe(): void {
    for (const s of this.secrets) s.bytes.fill(0);
    for (const n of this.#needles) n.bytes.fill(0);
  }
}

function countBy<T extends string>(items: T[]): Partial<Record<T, number>> {
  const out: Partial<Record<T, number>> = {};
  for (const i of items) out[i] = (out[i] ?? 0) + 1;
  return out;
}

/** Runs one audit. Never throws for a handler failure; the result says what happened. */
export async function runAudit(options: AuditOptions): Promise<AuditResult> {
  const t0 = performance.now();
  const handler = resolve(options.handler);
  const invocations = Math.max(1, Math.floor(options.invocations ?? 1));
  const concurrency = Math.max(1, Math.min(invocations, Math.floor(options.concurrency ?? 1)));
  const result: AuditResult = {
    ok: false,
    exitCode: 2,
    handler,
    invocations,
    concurrency,
    kmsTransport: options.https ? 'https' : 'http',
    secrets: { total: 0, byKind: {}, rootDerivedVerified: 0, notRecomputable: '' },
    declaredKeys: [],
    scans: [],
    totals: { during: 0, after: 0, final: 0, heapSnapshot: 0, guarded: 0, byMapping: {} },
    outcomes: [],
    warnings: [],
    errors: [],
    durationMs: 0,
  };
  if (!existsSync(handler)) {
    result.errors.push(`handler module not found: ${handler}`);
    return result;
  }
  const childScript = options.childScript ?? defaultChildScript();
  const registry = new SecretRegistry();
  const tmp = mkdtempSync(join(tmpdir(), 'secret-scope-audit-'));
  let kms: KmsLocal | undefined;
  let child: ReturnType<typeof spawn> | undefined;
  let entropyLifetime: Lifetime = 'scope';
  const derivations: DeclaredKey[] = [];
  const arenaRootKeys: Secret[] = [];
  const rootKey = randomBytes(32);
  try {
    kms = await startKmsLocal({ recordIssued: true, https: options.https === true });
    const encryptionContext = { purpose: 'secret-scope-audit' };
    const blob = kms.encryptForTest(kms.defaultKey.keyId, rootKey, encryptionContext);
    registry.add('kms-root', 'container', 'root key (auditor-made, Decrypt plaintext)', rootKey);
    let issuedSeen = 0;
    let batchGenerateRandom = 0;
    const syncIssued = () => {
      const issued = kms!.issued;
      for (; issuedSeen < issued.length; issuedSeen++) {
        const e = issued[issuedSeen]!;
        if (e.operation === 'GenerateRandom') {
          registry.add('kms-entropy', entropyLifetime, `KMS GenerateRandom #${++batchGenerateRandom}`, e.plaintext);
        } else if (e.operation === 'Decrypt') {
          registry.add('kms-root', 'container', `KMS Decrypt plaintext #${issuedSeen + 1}`, e.plaintext);
        } else {
          registry.add('kms-data-key', 'container', `KMS GenerateDataKey plaintext #${issuedSeen + 1}`, e.plaintext);
        }
      }
      // root-derived keys: from every root key known (the auditor's own and any Decrypt/GenerateDataKey plaintext)
      const roots = registry.secrets.filter((s) => s.kind === 'kms-root' || s.kind === 'kms-data-key');
      for (const d of derivations) {
        for (const root of roots) {
          const info = rootDerivedInfo(d.name, d.use, d.context);
          const bytes = Buffer.from(hkdfSync(d.hash, root.bytes, Buffer.from(d.salt, 'hex'), info, d.length));
          const s = registry.add('root-derived', 'scope', `root-derived key '${d.name}'${d.context !== undefined ? ` context '${d.context}'` : ''}`, bytes);
          if (arenaRootKeys.includes(s)) s.verified = true;
          bytes.fill(0);
        }
      }
    };

    let caPath: string | undefined;
    if (options.https && kms.certificatePem) {
      caPath = join(tmp, 'kms-local-ca.pem');
      writeFileSync(caPath, kms.certificatePem);
    }
    const config: ChildConfig = {
      handler,
      ...(options.event !== undefined ? { event: options.event } : {}),
      invocations,
      concurrency,
      ...(options.backend ? { backend: options.backend } : {}),
      kmsEndpoint: kms.url,
      region: kms.region,
      root: { ciphertextBlob: blob.toString('base64'), keyId: kms.defaultKey.arn, encryptionContext },
      ...(options.remainingTimeMs !== undefined ? { remainingTimeMs: options.remainingTimeMs } : {}),
      readKeys: true,
      snapshotDir: tmp,
    };
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('AWS_') && k !== 'NODE_OPTIONS') env[k] = v;
    Object.assign(env, {
      AWS_ENDPOINT_URL_KMS: kms.url,
      AWS_REGION: kms.region,
      AWS_ACCESS_KEY_ID: 'AKIDSECRETSCOPEAUDIT',
      AWS_SECRET_ACCESS_KEY: 'secret-scope-audit-dummy',
      AWS_EC2_METADATA_DISABLED: 'true',
      ...(caPath ? { NODE_EXTRA_CA_CERTS: caPath } : {}),
      ...(options.env ?? {}),
    });

    child = spawn(process.execPath, [childScript, JSON.stringify(config)], {
      cwd: dirname(handler),
      env,
      stdio: ['ignore', 'pipe', 'pipe', 'pipe', 'pipe'],
    });
    const proc = child;
    const stdout: string[] = [];
    const stderr: string[] = [];
    (proc.stdout as Readable).setEncoding('utf8').on('data', (d: string) => stdout.push(d));
    (proc.stderr as Readable).setEncoding('utf8').on('data', (d: string) => stderr.push(d));
    const toChild = proc.stdio[4] as Writable;
    toChild.on('error', () => undefined);
    const reply = (s: string) => toChild.write(s + '\n');
    const lines = createInterface({ input: proc.stdio[3] as Readable, crlfDelay: Infinity });
    const exited = new Promise<number | null>((res) => proc.once('exit', (code, signal) => res(code ?? (signal ? 128 : null))));
    const timeout = setTimeout(() => {
      result.errors.push(`audit timed out after ${options.timeoutMs ?? 120_000} ms; child killed`);
      proc.kill('SIGKILL');
    }, options.timeoutMs ?? 120_000);
    timeout.unref();

    let pid = 0;
    let finalSeen = false;
    const scan = (moment: Moment, extra: { batch?: number; liveScopes?: number; liveKeys?: number }) => {
      syncIssued();
      const index = registry.index();
      const { hits, stats } = scanProcess(pid, index, { allMappings: options.allMappings, contextBytes: options.contextBytes });
      const reports = hits.map((h: ScanHit): HitReport => {
        const n = index.needles[h.needle]!;
        const guardedOk = h.mapping.dontdump && (moment === 'during' || n.secret.lifetime === 'container');
        return {
          secret: n.secret.label,
          kind: n.secret.kind,
          lifetime: n.secret.lifetime,
          form: n.form,
          ...(n.alignment !== undefined ? { alignment: n.alignment } : {}),
          address: `0x${h.address.toString(16)}`,
          mapping: { kind: h.mapping.kind, path: h.mapping.path, perms: h.mapping.perms, dontdump: h.mapping.dontdump, locked: h.mapping.locked },
          failing: !guardedOk,
          ...(h.before !== undefined ? { before: h.before } : {}),
        };
      });
      const failing = reports.filter((r) => r.failing);
      const report: ScanReport = {
        moment,
        ...extra,
        secretsKnown: registry.secrets.length,
        needles: index.needles.length,
        copies: failing.length,
        guarded: reports.length - failing.length,
        byMapping: countBy(failing.map((r) => r.mapping.kind)),
        hits: reports,
        stats,
      };
      result.scans.push(report);
    };

    for await (const line of lines) {
      let msg: { t: string; [k: string]: unknown };
      try {
        msg = JSON.parse(line);
      } catch {
        continue;
      }
      switch (msg.t) {
        case 'ready': {
          pid = msg.pid as number;
          result.child = {
            pid,
            node: msg.node as string,
            streaming: msg.streaming as boolean,
            libraryCopies: msg.libraryCopies as string[],
            optionsKnown: msg.optionsKnown as boolean,
            entropyPolicy: msg.entropyPolicy as string,
          };
          result.declaredKeys = msg.declaredKeys as AuditResult['declaredKeys'];
          if (msg.entropyPolicy === 'prefetch' || msg.entropyPolicy === 'ratchet') entropyLifetime = 'container';
          if (!msg.optionsKnown) {
            result.warnings.push('the module does not declare its options (export secretScopeOptions or return { handler, options } from createHandler): root-derived keys cannot be recomputed');
          }
          break;
        }
        case 'derive':
          for (const d of msg.keys as DeclaredKey[]) {
            if (!derivations.some((x) => x.name === d.name && x.context === d.context && x.use === d.use && x.length === d.length && x.salt === d.salt && x.hash === d.hash)) {
              derivations.push(d);
            }
          }
          break;
        case 'key': {
          // A live key in the child's arena: read it from outside (fails with EIO on memfd_secret).
          const length = msg.length as number;
          const bytes = Buffer.alloc(length);
          let fd: number | undefined;
          try {
            fd = openSync(`/proc/${pid}/mem`, 'r');
            if (readSync(fd, bytes, 0, length, Number(BigInt(msg.address as string))) === length && bytes.some((b) => b !== 0)) {
              const kind: SecretKind = msg.from === 'root' ? 'root-derived' : msg.from === 'prk' ? 'scope-prk' : 'entropy-derived';
              const s = registry.add(kind, 'scope', String(msg.label), bytes);
              if (msg.from === 'root') arenaRootKeys.push(s);
            }
          } catch {
            // secret memory: unreadable from outside, as designed
          } finally {
            if (fd !== undefined) closeSync(fd);
            bytes.fill(0);
          }
          reply('ok');
          break;
        }
        case 'during':
          scan('during', { batch: msg.batch as number, liveScopes: msg.liveScopes as number, liveKeys: msg.liveKeys as number });
          reply('ok');
          break;
        case 'after':
          if (!msg.duringTaken) result.warnings.push(`batch ${msg.batch as number}: no scope of the handler ended while the batch ran, so no during-scope scan was taken`);
          scan('after', { batch: msg.batch as number });
          reply('ok');
          break;
        case 'final': {
          finalSeen = true;
          result.outcomes = msg.outcomes as InvocationOutcome[];
          result.auditDone = msg.auditDone ?? undefined;
          result.protection = msg.protection as Record<string, unknown>;
          scan('final', {});
          if ((msg.scopeEnds as number) === 0) result.errors.push('no secret-scope InvocationScope ended in the child: the handler is not wrapped, or it uses a copy of secret-scope the harness did not hook');
          if (options.heapSnapshot === false) reply('done');
          else reply('snapshot');
          break;
        }
        case 'snapshot': {
          const path = msg.path as string;
          try {
            const bytes = readFileSync(path);
            const textNeedles = registry.secrets.flatMap((s) => needlesFor(s, { textOnly: true }));
            const found = scanBytes(bytes, new NeedleIndex(textNeedles));
            result.heapSnapshot = {
              searched: true,
              bytes: bytes.length,
              hits: found.map((f) => {
                const n = textNeedles[f.needle]!;
                return { secret: n.secret.label, kind: n.secret.kind, form: n.form };
              }),
            };
            bytes.fill(0);
            for (const n of textNeedles) n.bytes.fill(0);
          } catch (e) {
            result.heapSnapshot = { searched: false, hits: [], error: String((e as Error)?.message ?? e) };
          } finally {
            rmSync(path, { force: true });
          }
          reply('done');
          break;
        }
        case 'error':
          result.errors.push(`child failed: ${(msg.error as { message?: string })?.message ?? 'unknown error'}\n${String(msg.stack ?? '')}`);
          break;
      }
    }
    const code = await exited;
    clearTimeout(timeout);
    if (!finalSeen) {
      result.errors.push(`the child exited (code ${code}) before the audit finished${stderr.length ? `: ${stderr.join('').slice(-2000)}` : ''}`);
    }
    if (stderr.length && finalSeen) {
      const text = stderr.join('').trim();
      if (text) result.warnings.push(`child stderr: ${text.slice(-1000)}`);
    }
  } catch (e) {
    result.errors.push(String((e as Error)?.stack ?? e));
  } finally {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await kms?.close();
    if (kms) {
      try {
        kms.clearIssued();
      } catch {
        // not recording
      }
    }
    registry.wipe();
    rootKey.fill(0);
    rmSync(tmp, { recursive: true, force: true });
  }

  result.secrets = {
    total: registry.secrets.length,
    byKind: countBy(registry.secrets.map((s) => s.kind)),
    rootDerivedVerified: registry.secrets.filter((s) => s.verified).length,
    notRecomputable:
      registry.secrets.some((s) => s.kind === 'entropy-derived')
        ? 'none of the declared keys: they were read from the arena while live (readable backend)'
        : 'entropy-derived keys and scope PRKs: HKDF over KMS bytes || 32 local random bytes made in unreadable guarded memory; the auditor searches for the KMS bytes instead',
  };
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
  const duringScans = result.scans.filter((s) => s.moment === 'during').length;
  if (result.errors.length === 0 && duringScans === 0) result.errors.push('no during-scope scan was taken');
  result.exitCode = copies > 0 ? 1 : result.errors.length ? 2 : 0;
  result.ok = result.exitCode === 0;
  result.durationMs = Math.round(performance.now() - t0);
  return result;
}
