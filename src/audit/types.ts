/** The audit's options and results (the CLI's --json output is an AuditResult). */
import type { Form, Lifetime, SecretKind } from './patterns.js';
import type { MappingKind, ScanStats } from './scanner.js';
import type { InvocationOutcome } from './child.js';

/** Declared expected failures: any (true), or error codes / names that may end an invocation. */
export type ExpectedFailures = true | string[];

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
  /**
   * Invocations allowed to fail: true (any), or error codes/names. Added to the
   * module's auditConfig.expectedFailures. Any other failed invocation fails the audit.
   */
  expectedFailures?: ExpectedFailures;
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
  /** After a batch: live keys by owner, as the native layer listed them through the key channel. */
  live?: { scopeOwned: number; sealed: number; unownedUnsealed: number };
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
  /** The audit key channel: every slot's bytes handed over by the native layer. */
  keyChannel: { active: boolean; records: number; keys: number; bySlotKind: Record<string, number>; problems: string[] };
  /** Why the audit fails (exit 1): copies, live scopes or keys, undeclared failed invocations. */
  failures: string[];
  scans: ScanReport[];
  totals: { during: number; after: number; final: number; heapSnapshot: number; guarded: number; byMapping: Partial<Record<MappingKind, number>> };
  /** The child's stdout and stderr (its log lines), searched for the text forms. */
  logs?: { searchedBytes: number; hits: Array<{ secret: string; kind: SecretKind; form: Form }> };
  heapSnapshot?: { searched: boolean; bytes?: number; hits: Array<{ secret: string; kind: SecretKind; form: Form }>; error?: string };
  outcomes: InvocationOutcome[];
  auditDone?: unknown;
  warnings: string[];
  /** Why the audit could not look everywhere (exit 2 when nothing failed). */
  errors: string[];
  durationMs: number;
}

