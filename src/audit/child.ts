/**
 * The audit child harness (dist/audit-child.js): runs a Lambda handler module
 * the way the Lambda runtime would, and stops at the moments the auditor scans.
 * Everything audit-specific lives here, never in the library: the harness wraps
 * SecretScope.prototype.end (public API) so that right before a scope wipes its
 * keys it tells the parent and blocks synchronously until the parent has read
 * this process's memory.
 *
 *   node audit-child.js '<json config>'   fd 3: messages to the auditor, fd 4: its replies
 *
 * Handler module convention (see SECURITY.md, "Auditing your own handler"):
 *   export function createHandler(env)   -> handler | { handler, options? }
 *     env = { kmsEndpoint, region, rootCiphertextBlob, rootKeyId, rootEncryptionContext }
 *   or export const handler (+ optional export const secretScopeOptions)
 *   export const auditConfig = { streaming?, remainingTimeMs?, event? }   (optional)
 *   export async function auditDone()                                   (optional; its JSON result is reported)
 * A streamed handler is recognised when it was made with awslambda.streamifyResponse
 * (the harness provides `awslambda` like the Lambda runtime) or auditConfig.streaming.
 *
 * The harness never sees key bytes: it tells the parent names, uses, contexts
 * and (for readable backends) slot addresses; the parent computes or reads.
 */
import { readSync, writeSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { writeHeapSnapshot } from 'node:v8';
import { configureSecretMemory, InvocationScope, protectionReport, SecretScope } from '../index.js';
import { testing } from '../testing.js';
import { native } from '../memory/native.js';
import type { Key } from '../memory/key.js';

export interface ChildConfig {
  handler: string;
  event?: unknown;
  invocations: number;
  concurrency: number;
  backend?: 'auto' | 'memfd_secret' | 'mlock' | 'plain';
  kmsEndpoint: string;
  region: string;
  root: { ciphertextBlob: string; keyId: string; encryptionContext?: Record<string, string> };
  remainingTimeMs?: number;
  readKeys: boolean;
  snapshotDir?: string;
}

export interface DeclaredKey {
  name: string;
  use: string;
  length: number;
  context?: string;
  hash: string;
  /** Salt bytes, hex (not secret). */
  salt: string;
}

export interface InvocationOutcome {
  invocation: number;
  ok: boolean;
  statusCode?: number;
  streamedBytes?: number;
  error?: { name: string; code?: string; message: string };
}

const TO_PARENT = 3;
const FROM_PARENT = 4;
const STREAMING = Symbol.for('secret-scope.audit.streaming');
const sleepCell = new Int32Array(new SharedArrayBuffer(4));

function send(msg: object): void {
  const line = Buffer.from(JSON.stringify(msg) + '\n');
  let o = 0;
  while (o < line.length) {
    try {
      o += writeSync(TO_PARENT, line, o);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') throw e;
      Atomics.wait(sleepCell, 0, 0, 1);
    }
  }
}

/** Sends a message and blocks this thread (event loop included) until the parent answers. */
function ask(msg: object): string {
  send(msg);
  const one = Buffer.alloc(1);
  let reply = '';
  for (;;) {
    let n: number;
    try {
      n = readSync(FROM_PARENT, one, 0, 1, null);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EAGAIN') {
        Atomics.wait(sleepCell, 0, 0, 1);
        continue;
      }
      throw e;
    }
    if (n === 0) process.exit(3); // the auditor went away
    if (one[0] === 0x0a) return reply;
    reply += String.fromCharCode(one[0]!);
  }
}

/**
 * Asks the native layer to write every live slot to the audit key channel
 * (the bytes go from the arena to the channel's file descriptor, never through
 * JavaScript). Returns the records written so far, or -1 when the channel is
 * off (no auditor set it up) or the addon has none.
 */
function flushKeys(): number {
  const addon = native() as { auditFlush?: () => number };
  return typeof addon.auditFlush === 'function' ? addon.auditFlush() : -1;
}

function errorInfo(e: unknown): { name: string; code?: string; message: string } {
  const err = e as { name?: string; code?: unknown; message?: string };
  return {
    name: String(err?.name ?? 'Error'),
    ...(typeof err?.code === 'string' ? { code: err.code } : {}),
    message: String(err?.message ?? e).slice(0, 300),
  };
}

type AnyFn = (...args: unknown[]) => unknown;

interface HandlerModule {
  createHandler?: (env: object) => unknown;
  handler?: AnyFn;
  secretScopeOptions?: SecretScopeOptionsLike;
  auditConfig?: { streaming?: boolean; remainingTimeMs?: number; event?: unknown; expectedFailures?: true | string[] };
  auditDone?: () => unknown;
  default?: HandlerModule;
}

interface SecretScopeOptionsLike {
  keys?: Record<string, { use: string; length?: number; from?: string; context?: (event: unknown, ctx: unknown) => string | undefined }>;
  salt?: string | Uint8Array;
  hash?: string;
  entropy?: { policy?: string; source?: string };
  root?: unknown;
}

/** The Lambda runtime's `awslambda` global, enough for streamed handlers (and middy's streamifyResponse). */
function installAwsLambdaGlobal(): void {
  const g = globalThis as unknown as { awslambda?: object };
  if (g.awslambda) return;
  g.awslambda = {
    streamifyResponse<F extends AnyFn>(fn: F): F {
      (fn as unknown as Record<symbol, boolean>)[STREAMING] = true;
      return fn;
    },
    HttpResponseStream: {
      from(stream: Writable, prelude: object): Writable {
        (stream as unknown as { prelude?: object }).prelude = prelude;
        return stream;
      },
    },
  };
}

/** Library copies whose SecretScope the harness hooks: its own (ESM), and any CommonJS copy loaded. */
function libraryCopies(): Array<{ SecretScope: typeof SecretScope; InvocationScope?: typeof InvocationScope; where: string }> {
  const out: Array<{ SecretScope: typeof SecretScope; InvocationScope?: typeof InvocationScope; where: string }> = [
    { SecretScope, InvocationScope, where: fileURLToPath(import.meta.url) },
  ];
  const require = createRequire(import.meta.url);
  for (const [file, mod] of Object.entries(require.cache)) {
    const exp = mod?.exports as { SecretScope?: typeof SecretScope; InvocationScope?: typeof InvocationScope } | undefined;
    if (exp && typeof exp.SecretScope === 'function' && !out.some((c) => c.SecretScope === exp.SecretScope)) {
      out.push({ SecretScope: exp.SecretScope, InvocationScope: exp.InvocationScope, where: file });
    }
  }
  return out;
}

async function main(): Promise<void> {
  const config = JSON.parse(process.argv[2] ?? '{}') as ChildConfig;
  installAwsLambdaGlobal();
  if (config.backend) configureSecretMemory({ backend: config.backend, require: 'any' });

  const mod = (await import(pathToFileURL(config.handler).href)) as HandlerModule;
  const m: HandlerModule = mod.handler || mod.createHandler ? mod : (mod.default ?? mod);
  let handler: AnyFn | undefined;
  let options: SecretScopeOptionsLike | undefined = m.secretScopeOptions;
  if (typeof m.createHandler === 'function') {
    const made = (await m.createHandler({
      kmsEndpoint: config.kmsEndpoint,
      region: config.region,
      rootCiphertextBlob: config.root.ciphertextBlob,
      rootKeyId: config.root.keyId,
      rootEncryptionContext: config.root.encryptionContext,
    })) as AnyFn | { handler: AnyFn; options?: SecretScopeOptionsLike };
    if (typeof made === 'function') handler = made;
    else if (made && typeof made.handler === 'function') {
      handler = made.handler;
      options = made.options ?? options;
    }
  } else if (typeof m.handler === 'function') {
    handler = m.handler;
  }
  if (!handler) throw new Error(`${config.handler} exports neither a handler function nor createHandler()`);
  const auditConfig = m.auditConfig ?? {};
  const streaming = (handler as unknown as Record<symbol, boolean>)[STREAMING] === true || auditConfig.streaming === true;
  const event = config.event !== undefined ? config.event : (auditConfig.event ?? {});
  const remainingTimeMs = config.remainingTimeMs ?? auditConfig.remainingTimeMs ?? 30_000;

  // --- hooks (harness-side only) ---
  const state = { batch: 0, inBatch: false, duringDone: false, scopeEnds: 0, duringScans: 0 };
  const copies = libraryCopies();
  const isInvocationScope = (s: object): boolean =>
    typeof (s as { key?: unknown }).key === 'function' && typeof (s as { prk?: unknown }).prk === 'function';
  for (const copy of copies) {
    const proto = copy.SecretScope.prototype;
    const end = proto.end;
    proto.end = function auditedEnd(this: SecretScope): number {
      if (this.active && isInvocationScope(this)) {
        state.scopeEnds++;
        if (state.inBatch && !state.duringDone) {
          state.duringDone = true;
          state.duringScans++;
          const r = protectionReport();
          const keyRecords = flushKeys();
          ask({ t: 'during', batch: state.batch, liveScopes: r.liveScopes, liveKeys: r.liveSlots, keyRecords });
        }
      }
      return end.call(this);
    };
    if (config.readKeys && copy.InvocationScope) {
      const ip = copy.InvocationScope.prototype;
      const seen = new WeakSet<object>();
      const report = (p: Promise<Key>, label: string, from: string) => {
        if (seen.has(p)) return;
        seen.add(p);
        p.then(
          (k) => {
            try {
              if (!k.alive) return;
              ask({ t: 'key', label, from, address: testing.address(k).toString(), length: k.length });
            } catch {
              // not addressable here (another async context): skip
            }
          },
          () => undefined,
        );
      };
      const key = ip.key;
      ip.key = function auditedKey(this: InvocationScope, name: string): Promise<Key> {
        const p = key.call(this, name);
        const from = options?.keys?.[name]?.from ?? 'entropy';
        report(p, `${from}-derived key '${name}' (${this.name ?? 'scope'}, read from the arena)`, from);
        return p;
      };
      const prk = ip.prk;
      ip.prk = function auditedPrk(this: InvocationScope): Promise<Key> {
        const p = prk.call(this);
        report(p, `scope PRK (${this.name ?? 'scope'}, read from the arena)`, 'prk');
        return p;
      };
    }
  }

  const declaredRootKeys = (ev: unknown, ctx: unknown): DeclaredKey[] => {
    const out: DeclaredKey[] = [];
    const salt = options?.salt ?? 'secret-scope/v1';
    for (const [name, spec] of Object.entries(options?.keys ?? {})) {
      if (spec.from !== 'root') continue;
      let context: string | undefined;
      try {
        context = spec.context?.(ev, ctx);
      } catch {
        continue; // the handler will fail the same way
      }
      out.push({
        name,
        use: spec.use,
        length: spec.length ?? 32,
        ...(context !== undefined ? { context: String(context) } : {}),
        hash: options?.hash ?? 'sha256',
        salt: (typeof salt === 'string' ? Buffer.from(salt, 'utf8') : Buffer.from(salt)).toString('hex'),
      });
    }
    return out;
  };

  const makeContext = (i: number) => {
    const deadline = Date.now() + remainingTimeMs;
    return {
      awsRequestId: `audit-${i}`,
      functionName: 'secret-scope-audit',
      functionVersion: '$LATEST',
      invokedFunctionArn: `arn:aws:lambda:${config.region}:000000000000:function:secret-scope-audit`,
      memoryLimitInMB: '1024',
      logGroupName: '/aws/lambda/secret-scope-audit',
      logStreamName: 'audit',
      callbackWaitsForEmptyEventLoop: true,
      getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
      done() {},
      fail() {},
      succeed() {},
    };
  };

  const invokeOnce = async (i: number): Promise<InvocationOutcome> => {
    const ev = structuredClone(event);
    const ctx = makeContext(i);
    const keys = declaredRootKeys(ev, ctx);
    if (keys.length) send({ t: 'derive', invocation: i, keys });
    try {
      if (streaming) {
        let bytes = 0;
        const sink = new Writable({
          write(chunk: Buffer, _enc, cb) {
            bytes += chunk.length;
            cb();
          },
        });
        await handler!(ev, sink, ctx);
        if (!sink.writableFinished && !sink.destroyed) await finished(sink).catch(() => undefined);
        return { invocation: i, ok: true, streamedBytes: bytes };
      }
      const result = (await handler!(ev, ctx)) as { statusCode?: unknown } | undefined;
      return { invocation: i, ok: true, ...(typeof result?.statusCode === 'number' ? { statusCode: result.statusCode } : {}) };
    } catch (e) {
      return { invocation: i, ok: false, error: errorInfo(e) };
    }
  };

  const policy = options?.entropy?.policy ?? 'per-invocation';
  send({
    t: 'ready',
    pid: process.pid,
    node: process.version,
    streaming,
    libraryCopies: copies.map((c) => c.where),
    declaredKeys: Object.entries(options?.keys ?? {}).map(([name, s]) => ({ name, use: s.use, from: s.from ?? 'entropy' })),
    optionsKnown: options !== undefined,
    entropyPolicy: options?.entropy?.source === 'local' ? 'local' : policy,
    expectedFailures: auditConfig.expectedFailures ?? null,
    keyChannel: flushKeys() >= 0,
  });

  const outcomes: InvocationOutcome[] = [];
  let next = 0;
  while (next < config.invocations) {
    const size = Math.min(config.concurrency, config.invocations - next);
    state.batch++;
    state.inBatch = true;
    state.duringDone = false;
    const batch: Array<Promise<InvocationOutcome>> = [];
    for (let k = 0; k < size; k++) batch.push(invokeOnce(++next));
    const results = await Promise.all(batch);
    state.inBatch = false;
    outcomes.push(...results);
    const settled = protectionReport();
    const keyRecords = flushKeys();
    ask({ t: 'after', batch: state.batch, duringTaken: state.duringDone, outcomes: results, liveScopes: settled.liveScopes, liveKeys: settled.liveSlots, keyRecords });
  }

  let done: unknown;
  if (typeof m.auditDone === 'function') {
    try {
      done = await m.auditDone();
    } catch (e) {
      done = { error: errorInfo(e) };
    }
  }
  const r = protectionReport();
  const keyRecords = flushKeys();
  const reply = ask({
    t: 'final',
    keyRecords,
    outcomes,
    auditDone: done ?? null,
    scopeEnds: state.scopeEnds,
    duringScans: state.duringScans,
    protection: {
      initialized: r.initialized,
      backend: r.backend,
      locked: r.locked,
      dontdump: r.dontdump,
      liveScopes: r.liveScopes,
      liveSlots: r.liveSlots,
      memfdSecret: r.memfdSecret,
    },
  });
  if (reply === 'snapshot' && config.snapshotDir) {
    let path: string | undefined;
    try {
      path = writeHeapSnapshot(join(config.snapshotDir, `audit-${process.pid}.heapsnapshot`));
    } catch (e) {
      ask({ t: 'snapshot', error: errorInfo(e) });
    }
    if (path !== undefined) ask({ t: 'snapshot', path });
  }
  process.exit(0);
}

main().catch((e: unknown) => {
  try {
    send({ t: 'error', error: errorInfo(e), stack: String((e as Error)?.stack ?? '').slice(0, 2000) });
  } catch {
    // parent gone
  }
  process.exit(2);
});
