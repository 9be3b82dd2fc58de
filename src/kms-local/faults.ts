/**
 * Fault injection: what can go wrong between a Lambda and KMS, on demand.
 *
 * ```ts
 * // every call throttled
 * { throttle: true }
 * // the next 2 GenerateRandom calls fail with a 503, then normal service
 * { operations: { GenerateRandom: { serverError: { status: 503, count: 2 } } } }
 * // every 3rd call of any operation resets the connection; all calls +50..70 ms
 * { connectionReset: { everyNth: 3 }, latencyMs: { ms: 50, jitterMs: 20 } }
 * // 10 % of calls answer 200 with a body that is not JSON
 * { malformedJson: { probability: 0.1 } }
 * // every answer in chunked transfer-encoding, the Plaintext value in a chunk of its own
 * { chunkedBody: true }
 * // every answer in 3 writes 20 ms apart, cut inside the base64 Plaintext
 * { splitWrites: { delayMs: 20 } }
 * ```
 *
 * Top-level faults apply to every operation; `operations.<Name>` adds faults for
 * one operation. Each fault has its own trigger and its own counters, and every
 * call it could apply to advances them, whether or not another fault wins:
 * - `everyNth: n` fires on the n-th, 2n-th, ... call it sees;
 * - `count: n` fires on the next n calls it sees (with `everyNth`: the next n
 *   multiples), then never again;
 * - `probability: p` (default 1) is checked last, so `{count: 5, probability: 0.5}`
 *   is "each of the next 5 calls with a coin flip". Use `count`/`everyNth`
 *   without `probability` for deterministic tests.
 * `true` means "every call". Latency is added before anything else happens to
 * the call. If several terminal faults fire on one call, the first of
 * connectionReset, truncatedBody, serverError, throttle, malformedJson is
 * injected; `stats.faults` counts injected faults only.
 *
 * Delivery faults (chunkedBody, splitWrites) change how a successful answer
 * travels, not what it says: the operation runs and its answer arrives in
 * pieces (chunked transfer-encoding, or several writes with a pause between
 * them). They are what a client sees from a real endpoint behind proxies, on
 * a slow network or while its own event loop is busy. A terminal fault on the
 * same call wins; if both fire, chunkedBody is used.
 */

/** When a fault applies. */
export interface FaultTrigger {
  /** Chance in 0..1 that the fault applies to a call otherwise selected (default 1). */
  probability?: number;
  /** Apply to the next `count` selected calls only. */
  count?: number;
  /** Select every n-th call (1 = every call). */
  everyNth?: number;
}

export interface LatencyFault extends FaultTrigger {
  /** Milliseconds added before the call is handled. */
  ms: number;
  /** Extra uniformly random 0..jitterMs milliseconds. */
  jitterMs?: number;
}

export interface ServerErrorFault extends FaultTrigger {
  /** 500 answers `KMSInternalException`; 503 answers `DependencyTimeoutException` (both modelled by KMS). Default 500. */
  status?: 500 | 503;
}

/** How the body of a successful answer is cut into pieces. */
export interface DeliveryFault extends FaultTrigger {
  /**
   * Where the body is cut:
   * - 'around-plaintext' (chunkedBody's default): right before and right after the
   *   base64 Plaintext value, which travels whole in a piece of its own;
   * - 'inside-plaintext' (splitWrites' default): twice inside the base64 Plaintext
   *   value, so no piece holds all of it;
   * - a number: pieces of that many bytes.
   * A body without a Plaintext (Encrypt) is cut into thirds.
   */
  cut?: 'around-plaintext' | 'inside-plaintext' | number;
  /** Milliseconds between pieces; 0 sends every piece in one socket write. Default: chunkedBody 0, splitWrites 5. */
  delayMs?: number;
}

/** Faults for one scope (all operations, or one). */
export interface FaultSet {
  /** A number is "this many ms on every call". */
  latencyMs?: number | LatencyFault;
  /** 400 `ThrottlingException` (the SDK treats it as throttling and retries it). */
  throttle?: boolean | FaultTrigger;
  /** 500 `KMSInternalException` or 503 `DependencyTimeoutException`. */
  serverError?: boolean | ServerErrorFault;
  /** 200 with `Content-Type: application/x-amz-json-1.1` and a body that is not JSON. */
  malformedJson?: boolean | FaultTrigger;
  /** 200 headers declaring a longer Content-Length than sent, then the socket ends. */
  truncatedBody?: boolean | FaultTrigger;
  /** The socket is reset (RST where Node supports it) without any response. */
  connectionReset?: boolean | FaultTrigger;
  /** 200 in `Transfer-Encoding: chunked`, each piece of the body a chunk of its own. */
  chunkedBody?: boolean | DeliveryFault;
  /** 200 with a Content-Length, the body sent in several writes with a pause between them. */
  splitWrites?: boolean | DeliveryFault;
}

/** The `faults` option: top level for every operation, `operations` for one operation each. */
export interface KmsFaults extends FaultSet {
  operations?: Partial<Record<string, FaultSet>>;
}

export type FaultKind =
  | 'latency'
  | 'throttle'
  | 'serverError'
  | 'malformedJson'
  | 'truncatedBody'
  | 'connectionReset'
  | 'chunkedBody'
  | 'splitWrites';
export type TerminalFault =
  | { kind: 'connectionReset' }
  | { kind: 'truncatedBody' }
  | { kind: 'serverError'; status: 500 | 503 }
  | { kind: 'throttle' }
  | { kind: 'malformedJson' };
export interface Delivery {
  kind: 'chunkedBody' | 'splitWrites';
  cut: 'around-plaintext' | 'inside-plaintext' | number;
  delayMs: number;
}

export const FAULT_KINDS: readonly FaultKind[] = [
  'latency',
  'throttle',
  'serverError',
  'malformedJson',
  'truncatedBody',
  'connectionReset',
  'chunkedBody',
  'splitWrites',
];
const TERMINAL_ORDER = ['connectionReset', 'truncatedBody', 'serverError', 'throttle', 'malformedJson'] as const;
type SetKey = keyof FaultSet;
const KEY_OF: Record<FaultKind, SetKey> = {
  latency: 'latencyMs',
  throttle: 'throttle',
  serverError: 'serverError',
  malformedJson: 'malformedJson',
  truncatedBody: 'truncatedBody',
  connectionReset: 'connectionReset',
  chunkedBody: 'chunkedBody',
  splitWrites: 'splitWrites',
};
const DELIVERY_ORDER = ['chunkedBody', 'splitWrites'] as const;

export interface FaultDecision {
  delayMs: number;
  terminal?: TerminalFault;
  /** How a successful answer travels (only when no terminal fault fired). */
  delivery?: Delivery;
}

type RuleSpec = FaultTrigger & Partial<LatencyFault> & Partial<ServerErrorFault> & DeliveryFault;

class Rule {
  #seen = 0;
  #fired = 0;
  readonly kind: FaultKind;
  readonly spec: RuleSpec;

  constructor(kind: FaultKind, spec: RuleSpec) {
    this.kind = kind;
    this.spec = spec;
  }

  /** Advances the counters for one call and says whether the fault applies. */
  fires(random: () => number): boolean {
    const { everyNth = 1, count, probability = 1 } = this.spec;
    this.#seen++;
    if (this.#seen % everyNth !== 0) return false;
    if (count !== undefined && this.#fired >= count) return false;
    this.#fired++;
    return probability >= 1 || random() < probability;
  }
}

function normalise(kind: FaultKind, value: FaultSet[SetKey], where: string): Rule | undefined {
  if (value === undefined || value === false) return undefined;
  let spec: FaultTrigger;
  if (value === true) spec = {};
  else if (typeof value === 'number' && kind === 'latency') spec = { ms: value } as LatencyFault;
  else if (typeof value === 'object' && value !== null) spec = { ...value };
  else throw new TypeError(`faults${where}.${KEY_OF[kind]}: expected true, false or an object`);
  const s = spec as RuleSpec;
  const at = `faults${where}.${KEY_OF[kind]}`;
  if (s.probability !== undefined && !(s.probability >= 0 && s.probability <= 1)) {
    throw new RangeError(`${at}.probability must be within 0..1`);
  }
  if (s.count !== undefined && !(Number.isInteger(s.count) && s.count >= 0)) {
    throw new RangeError(`${at}.count must be a non-negative integer`);
  }
  if (s.everyNth !== undefined && !(Number.isInteger(s.everyNth) && s.everyNth >= 1)) {
    throw new RangeError(`${at}.everyNth must be a positive integer`);
  }
  if (kind === 'latency') {
    if (typeof s.ms !== 'number' || !(s.ms >= 0)) throw new RangeError(`${at}: ms must be a non-negative number`);
    if (s.jitterMs !== undefined && !(s.jitterMs >= 0)) throw new RangeError(`${at}.jitterMs must be >= 0`);
  }
  if (kind === 'serverError' && s.status !== undefined && s.status !== 500 && s.status !== 503) {
    throw new RangeError(`${at}.status must be 500 or 503`);
  }
  if (kind === 'chunkedBody' || kind === 'splitWrites') {
    const cut = s.cut;
    if (cut !== undefined && cut !== 'around-plaintext' && cut !== 'inside-plaintext' && !(Number.isInteger(cut) && (cut as number) >= 1)) {
      throw new RangeError(`${at}.cut must be 'around-plaintext', 'inside-plaintext' or a positive integer`);
    }
    if (s.delayMs !== undefined && !(typeof s.delayMs === 'number' && s.delayMs >= 0)) throw new RangeError(`${at}.delayMs must be >= 0`);
  }
  return new Rule(kind, s);
}

function rulesOf(set: FaultSet | undefined, where: string): Rule[] {
  if (!set) return [];
  const rules: Rule[] = [];
  for (const kind of FAULT_KINDS) {
    const rule = normalise(kind, set[KEY_OF[kind]], where);
    if (rule) rules.push(rule);
  }
  return rules;
}

/** Holds the configured faults and their counters; `decide` is called once per call. */
export class FaultPlan {
  readonly #global: Rule[];
  readonly #perOperation = new Map<string, Rule[]>();
  readonly #random: () => number;

  constructor(faults: KmsFaults | undefined, random: () => number = Math.random) {
    this.#random = random;
    this.#global = rulesOf(faults, '');
    for (const [operation, set] of Object.entries(faults?.operations ?? {})) {
      this.#perOperation.set(operation, rulesOf(set, `.operations.${operation}`));
    }
  }

  decide(operation: string): FaultDecision {
    const rules = [...(this.#perOperation.get(operation) ?? []), ...this.#global];
    let delayMs = 0;
    const fired = new Map<FaultKind, Rule>();
    for (const rule of rules) {
      if (!rule.fires(this.#random)) continue;
      if (rule.kind === 'latency') {
        delayMs += rule.spec.ms! + (rule.spec.jitterMs ? this.#random() * rule.spec.jitterMs : 0);
      } else if (!fired.has(rule.kind)) {
        fired.set(rule.kind, rule);
      }
    }
    for (const kind of TERMINAL_ORDER) {
      const rule = fired.get(kind);
      if (!rule) continue;
      if (kind === 'serverError') return { delayMs, terminal: { kind, status: rule.spec.status ?? 500 } };
      return { delayMs, terminal: { kind } };
    }
    for (const kind of DELIVERY_ORDER) {
      const rule = fired.get(kind);
      if (!rule) continue;
      const spec = rule.spec;
      const chunked = kind === 'chunkedBody';
      return {
        delayMs,
        delivery: {
          kind,
          cut: spec.cut ?? (chunked ? 'around-plaintext' : 'inside-plaintext'),
          delayMs: spec.delayMs ?? (chunked ? 0 : 5),
        },
      };
    }
    return { delayMs };
  }
}
