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
 * - every key byte string the native layer held in a slot, whatever made it
 *   (entropy-derived keys, PRKs, X25519 private keys and shared secrets, keys
 *   from hkdf/hkdfExpand/hkdfExpandMany, imported and decoded keys, any slot
 *   kind added later), handed over by the native layer through the audit key
 *   channel (key-channel.ts), which the auditor alone can switch on;
 * - on backends whose arena can be read from outside (mlock, plain): the
 *   declared keys and each scope's PRK, also read from the arena while live.
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
 * After each batch it also checks that no scope and no key beyond the
 * container-lived ones is still live, and that no invocation failed unless the
 * module declared it may (verdict.ts has the exit codes).
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
import { NeedleIndex, needlesFor, type Form, type Lifetime, type Secret, type SecretKind } from './patterns.js';
import { scanBytes, scanProcess, type MappingKind, type ScanHit, type ScanStats } from './scanner.js';
import type { ChildConfig, DeclaredKey, InvocationOutcome } from './child.js';
import { KEY_CHANNEL_ENV, KEY_CHANNEL_FD, KeyChannelReader, RecordType, type ChannelKey } from './key-channel.js';
import { MIN_SECRET_BYTES, rootDerivedInfo, SecretRegistry } from './registry.js';
import { finishVerdict, unexpectedFailures, type ExpectedFailures } from './verdict.js';
import type { AuditOptions, AuditResult, HitReport, Moment, ScanReport } from './types.js';

export { rootDerivedInfo } from './registry.js';

export type { AuditOptions, AuditResult, HitReport, Moment, ScanReport } from './types.js';

/** Finds the built child harness. */
export function defaultChildScript(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [join(here, 'audit-child.js'), join(packageRoot(), 'dist', 'audit-child.js')];
  for (const c of candidates) if (existsSync(c)) return c;
  throw new Error(`the audit child harness is not built (looked for ${candidates.join(', ')}); run \`npx tsup\``);
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
    keyChannel: { active: false, records: 0, keys: 0, bySlotKind: {}, problems: [] },
    failures: [],
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
  let channel: KeyChannelReader | undefined;
  let expected: ExpectedFailures | undefined = options.expectedFailures;
  let entropyPolicy = 'per-invocation';
  try {
    channel = new KeyChannelReader();
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
      channel!.drain(onChannelKey);
    };
    const onChannelKey = (k: ChannelKey) => {
      if (k.bytes.length < MIN_SECRET_BYTES || k.bytes.every((b) => b === 0)) return;
      const known = registry.find(k.bytes);
      if (known) {
        if (known.kind === 'root-derived') known.verified = true; // the recomputation matched the arena's bytes
        if (k.owned) known.lifetime = 'scope';
        return;
      }
      const kind: SecretKind = `arena-${k.slotKind}`;
      // Keys no scope owns (the root key, the ratchet pool, prefetched entropy) are
      // container-lived: a copy is allowed only in guarded memory, like the root key.
      const lifetime: Lifetime = k.owned ? 'scope' : 'container';
      const where = k.owned ? 'scope-owned' : k.sealed ? 'sealed, no scope' : 'no scope';
      const when = k.type === RecordType.WipedKey ? 'reported at its wipe' : 'reported live';
      registry.add(kind, lifetime, `arena ${k.slotKind} key #${result.keyChannel.keys + 1} (${k.bytes.length} bytes, ${where}, ${when})`, k.bytes);
      result.keyChannel.keys++;
      result.keyChannel.bySlotKind[k.slotKind] = (result.keyChannel.bySlotKind[k.slotKind] ?? 0) + 1;
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
    for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('AWS_') && k !== 'NODE_OPTIONS' && k !== KEY_CHANNEL_ENV) env[k] = v;
    Object.assign(env, {
      AWS_ENDPOINT_URL_KMS: kms.url,
      AWS_REGION: kms.region,
      AWS_ACCESS_KEY_ID: 'AKIDSECRETSCOPEAUDIT',
      AWS_SECRET_ACCESS_KEY: 'secret-scope-audit-dummy',
      AWS_EC2_METADATA_DISABLED: 'true',
      // The SDK's Node-version notice is not the audit's to print (it would follow every run on Node 20).
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      ...(caPath ? { NODE_EXTRA_CA_CERTS: caPath } : {}),
      ...(options.env ?? {}),
      [KEY_CHANNEL_ENV]: String(KEY_CHANNEL_FD),
    });

    child = spawn(process.execPath, [childScript, JSON.stringify(config)], {
      cwd: dirname(handler),
      env,
      stdio: ['ignore', 'pipe', 'pipe', 'pipe', 'pipe', channel.writeFd],
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
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) => proc.once('exit', (code, signal) => res({ code, signal })));
    const timeout = setTimeout(() => {
      result.errors.push(`audit timed out after ${options.timeoutMs ?? 120_000} ms; child killed`);
      proc.kill('SIGKILL');
    }, options.timeoutMs ?? 120_000);
    timeout.unref();

    let pid = 0;
    let finalSeen = false;
    let snapshotAsked = false;
    const keyRecords = (msg: Record<string, unknown>) => {
      // KMS records and recomputations first, so that a key they explain keeps their name
      if (typeof msg.keyRecords === 'number' && msg.keyRecords >= 0) syncIssued();
    };
    const scan = (moment: Moment, extra: Pick<ScanReport, 'batch' | 'liveScopes' | 'liveKeys' | 'live'>) => {
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
      for (const u of stats.unreadable) {
        result.errors.push(`${moment} scan: could not read ${u.bytes} bytes of a ${u.kind} mapping ${u.path || '(anonymous)'} (${u.error})`);
      }
      if (stats.secretMemory.readable > 0) result.warnings.push(`${moment} scan: ${stats.secretMemory.readable} secret-memory mapping(s) were readable from outside and were scanned`);
    };
    /** What the child wrote to stdout/stderr (in Lambda: CloudWatch Logs), searched for the text forms. */
    const searchLogs = (...streams: string[][]) => {
      const text = Buffer.from(streams.map((s) => s.join('')).join('\n'), 'utf8');
      const needles = registry.secrets.flatMap((s) => needlesFor(s, { textOnly: true }));
      const hits = scanBytes(text, new NeedleIndex(needles)).map((f) => {
        const n = needles[f.needle]!;
        return { secret: n.secret.label, kind: n.secret.kind, form: n.form };
      });
      result.logs = { searchedBytes: text.length, hits };
      if (hits.length) result.failures.push(`${hits.length} cop${hits.length === 1 ? 'y' : 'ies'} of secrets in the child's stdout/stderr (log lines)`);
      text.fill(0);
      for (const n of needles) n.bytes.fill(0);
    };
    /** After a batch settled: only container-lived keys may still be live (none owned by a scope, no scope). */
    const checkLive = (batch: number, liveScopes: number): ScanReport['live'] => {
      const snap = channel!.lastLive;
      if (liveScopes > 0) result.failures.push(`after batch ${batch} settled, ${liveScopes} scope(s) were still live (a scope the handler opened and never ended?)`);
      if (!snap) return undefined;
      const live = {
        scopeOwned: snap.slots.filter((k) => k.owned).length,
        sealed: snap.slots.filter((k) => !k.owned && k.sealed).length,
        unownedUnsealed: snap.slots.filter((k) => !k.owned && !k.sealed).length,
      };
      if (live.scopeOwned > 0) result.failures.push(`after batch ${batch} settled, ${live.scopeOwned} key(s) of live scopes were still in the arena`);
      // Container-lived by design: sealed root keys, and with prefetch/ratchet entropy the pool (and its next one while refreshing).
      const allowed = entropyPolicy === 'prefetch' || entropyPolicy === 'ratchet' ? 2 : 0;
      if (live.unownedUnsealed > allowed) {
        result.failures.push(
          `after batch ${batch} settled, ${live.unownedUnsealed} key(s) owned by no scope were live (entropy policy '${entropyPolicy}' keeps at most ${allowed}): a key made with scope: null and kept?`,
        );
      }
      return live;
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
          entropyPolicy = String(msg.entropyPolicy);
          if (msg.entropyPolicy === 'prefetch' || msg.entropyPolicy === 'ratchet') entropyLifetime = 'container';
          result.keyChannel.active = msg.keyChannel === true;
          if (!result.keyChannel.active) {
            result.errors.push('the audit key channel is off in the child (an addon built without it, or another copy of the addon?): keys made from local or KMS entropy cannot be searched for');
          }
          const declared = msg.expectedFailures as ExpectedFailures | null;
          if (declared === true || expected === true) expected = true;
          else if (Array.isArray(declared)) expected = [...(expected ?? []), ...declared.map(String)];
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
          keyRecords(msg);
          scan('during', { batch: msg.batch as number, liveScopes: msg.liveScopes as number, liveKeys: msg.liveKeys as number });
          reply('ok');
          break;
        case 'after':
          if (!msg.duringTaken) result.warnings.push(`batch ${msg.batch as number}: no scope of the handler ended while the batch ran, so no during-scope scan was taken`);
          keyRecords(msg);
          scan('after', {
            batch: msg.batch as number,
            liveScopes: msg.liveScopes as number,
            liveKeys: msg.liveKeys as number,
            live: checkLive(msg.batch as number, msg.liveScopes as number),
          });
          reply('ok');
          break;
        case 'final': {
          finalSeen = true;
          result.outcomes = msg.outcomes as InvocationOutcome[];
          result.auditDone = msg.auditDone ?? undefined;
          result.protection = msg.protection as Record<string, unknown>;
          keyRecords(msg);
          scan('final', {});
          if (typeof msg.keyRecords === 'number' && msg.keyRecords >= 0) channel.checkTotal(msg.keyRecords);
          if ((msg.scopeEnds as number) === 0) result.errors.push('no secret-scope InvocationScope ended in the child: the handler is not wrapped, or it uses a copy of secret-scope the harness did not hook');
          if (options.heapSnapshot === false) reply('done');
          else {
            snapshotAsked = true;
            reply('snapshot');
          }
          break;
        }
        case 'snapshot': {
          if (msg.error !== undefined) {
            const e = msg.error as { code?: string; message?: string };
            result.heapSnapshot = { searched: false, hits: [], error: `${e.code ? `${e.code}: ` : ''}${e.message ?? 'unknown error'}` };
            reply('done');
            break;
          }
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
    const { code, signal } = await exited;
    clearTimeout(timeout);
    // the child's own notice that the channel is on is expected; everything else is reported
    const notice = 'secret-scope: audit key channel ON';
    const childStderr = stderr.join('').split('\n').filter((l) => !l.startsWith(notice)).join('\n').trim();
    const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
    if (!finalSeen) {
      result.errors.push(`the child ${how} before the audit finished${childStderr ? `: ${childStderr.slice(-2000)}` : ''}`);
    } else if (code !== 0) {
      result.errors.push(`the child ${how} after the last scan (it crashed; its last moments were not audited)${childStderr ? `: ${childStderr.slice(-1000)}` : ''}`);
    }
    searchLogs(stdout, stderr);
    if (snapshotAsked && !result.heapSnapshot) result.heapSnapshot = { searched: false, hits: [], error: 'the child sent no heap snapshot' };
    if (result.heapSnapshot && !result.heapSnapshot.searched) result.errors.push(`the heap snapshot could not be searched: ${result.heapSnapshot.error}`);
    result.failures.push(...unexpectedFailures(result.outcomes, expected));
    result.keyChannel.records = channel.records;
    result.keyChannel.problems = channel.problems;
    for (const p of channel.problems) result.errors.push(p);
    if (childStderr && finalSeen) result.warnings.push(`child stderr: ${childStderr.slice(-1000)}`);
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
    channel?.close();
    rootKey.fill(0);
    rmSync(tmp, { recursive: true, force: true });
  }

  result.secrets = {
    total: registry.secrets.length,
    byKind: countBy(registry.secrets.map((s) => s.kind)),
    rootDerivedVerified: registry.secrets.filter((s) => s.verified).length,
    notRecomputable:
      result.keyChannel.active
        ? 'none needed: every key the arena held was handed over by the native layer (audit key channel)'
        : 'entropy-derived keys and scope PRKs (the audit key channel is off): the auditor searches for the KMS bytes instead',
  };
  finishVerdict(result);
  result.durationMs = Math.round(performance.now() - t0);
  return result;
}
