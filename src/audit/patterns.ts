/**
 * The secrets the auditor knows and the byte patterns ("needles") it looks for.
 *
 * Every secret is searched in the forms a copy is likely to take in a Node
 * process: the raw bytes (and the raw bytes XOR the HMAC ipad/opad, the form a
 * key takes inside an HMAC computation), lower- and upper-case hex, standard and
 * URL-safe base64 at each of the three byte alignments a key can have inside a
 * longer base64 text, and the UTF-16LE form of every text form (V8 two-byte
 * strings).
 *
 * Raw needles drop the first and last byte of the key: a copy whose ends were
 * changed (an X25519 scalar after clamping) or that was cut by one byte is still
 * found, and a whole copy still matches exactly once.
 */

/** Why the auditor knows a secret. */
export type SecretKind =
  | 'kms-entropy' // GenerateRandom plaintext, recorded by the local endpoint
  | 'kms-root' // Decrypt plaintext (a root key), recorded by the local endpoint
  | 'kms-data-key' // GenerateDataKey plaintext, recorded by the local endpoint
  | 'root-derived' // recomputed by the auditor from the root key and the declared key spec
  | 'entropy-derived' // a declared key read from the child's arena while live (readable backends only)
  | 'scope-prk' // a scope's PRK read from the child's arena while live (readable backends only)
  // Any slot the native layer filled, as the audit key channel reported it, by
  // native slot kind: arena-secret (derived, imported, decoded keys, PRKs, shared
  // secrets), arena-x25519-private, arena-scratch, and kinds added later.
  | `arena-${string}`;

/**
 * 'scope': must be gone once the scope ended. 'container': lives in guarded
 * memory for the container's life by design (root key, prefetched entropy);
 * copies of it are allowed only in guarded (dontdump) memory.
 */
export type Lifetime = 'scope' | 'container';

export interface Secret {
  id: number;
  kind: SecretKind;
  lifetime: Lifetime;
  /** Diagnostic label, never bytes: e.g. "GenerateRandom #3" or "root-derived 'tenant' (invocation 2)". */
  label: string;
  bytes: Buffer;
  /** Root-derived: the auditor's recomputation matched the bytes read from the arena. */
  verified?: boolean;
}

export type Form =
  | 'raw'
  | 'raw^ipad'
  | 'raw^opad'
  | 'hex'
  | 'HEX'
  | 'base64'
  | 'base64url'
  | 'utf16-hex'
  | 'utf16-HEX'
  | 'utf16-base64'
  | 'utf16-base64url';

export interface Needle {
  secret: Secret;
  form: Form;
  /** For base64 forms: the byte offset (0, 1, 2) of the key that starts a base64 group. */
  alignment?: number;
  bytes: Buffer;
}

export const TEXT_FORMS: ReadonlySet<Form> = new Set(['hex', 'HEX', 'base64', 'base64url']);

function xor(bytes: Buffer, pad: number): Buffer {
  const out = Buffer.alloc(bytes.length);
  for (let i = 0; i < bytes.length; i++) out[i] = bytes[i]! ^ pad;
  return out;
}

function inner(bytes: Buffer): Buffer {
  return bytes.length >= 18 ? bytes.subarray(1, bytes.length - 1) : bytes;
}

/** Base64 of key[j..] cut to whole 4-character groups: found whatever precedes the key. */
function base64Aligned(bytes: Buffer, j: number, url: boolean): string | undefined {
  const whole = Math.floor((bytes.length - j) / 3) * 3;
  if (whole < 12) return undefined;
  const s = bytes.subarray(j, j + whole).toString('base64');
  return url ? s.replace(/\+/g, '-').replace(/\//g, '_') : s;
}

/** All needles for a secret. `textOnly` keeps the one-byte text forms (heap snapshot JSON). */
export function needlesFor(secret: Secret, options: { textOnly?: boolean } = {}): Needle[] {
  const out: Needle[] = [];
  const seen = new Set<string>();
  const add = (form: Form, bytes: Buffer, alignment?: number) => {
    const k = bytes.toString('latin1');
    if (seen.has(k)) return; // e.g. base64 and base64url identical when neither '+' nor '/' occurs
    seen.add(k);
    out.push({ secret, form, bytes, ...(alignment !== undefined ? { alignment } : {}) });
  };
  const b = secret.bytes;
  if (!options.textOnly) {
    add('raw', inner(b));
    add('raw^ipad', inner(xor(b, 0x36)));
    add('raw^opad', inner(xor(b, 0x5c)));
  }
  const texts: Array<[Form, string, number | undefined]> = [
    ['hex', b.toString('hex'), undefined],
    ['HEX', b.toString('hex').toUpperCase(), undefined],
  ];
  for (const j of [0, 1, 2]) {
    const std = base64Aligned(b, j, false);
    const url = base64Aligned(b, j, true);
    if (std) texts.push(['base64', std, j]);
    if (url && url !== std) texts.push(['base64url', url, j]);
  }
  for (const [form, text, j] of texts) add(form, Buffer.from(text, 'latin1'), j);
  if (!options.textOnly) {
    for (const [form, text, j] of texts) add(`utf16-${form}` as Form, Buffer.from(text, 'utf16le'), j);
  }
  return out;
}

/**
 * Multi-needle search: every needle is indexed by each of its 8-byte windows;
 * the haystack is probed at a stride of (shortest needle - 7) bytes, so every
 * occurrence contains a probed window; candidates are verified byte for byte.
 * One pass over the haystack whatever the number of needles.
 */
export class NeedleIndex {
  readonly needles: Needle[];
  readonly stride: number;
  readonly maxLength: number;
  readonly #table = new Map<number, Array<{ hi: number; needle: number; offset: number }>>();

  constructor(needles: Needle[]) {
    this.needles = needles.filter((n) => n.bytes.length >= 8);
    const min = this.needles.reduce((m, n) => Math.min(m, n.bytes.length), Infinity);
    this.maxLength = this.needles.reduce((m, n) => Math.max(m, n.bytes.length), 0);
    this.stride = Number.isFinite(min) ? Math.max(1, min - 7) : 1;
    this.needles.forEach((n, i) => {
      for (let off = 0; off + 8 <= n.bytes.length; off++) {
        const lo = n.bytes.readUInt32LE(off);
        const hi = n.bytes.readUInt32LE(off + 4);
        let list = this.#table.get(lo);
        if (!list) this.#table.set(lo, (list = []));
        list.push({ hi, needle: i, offset: off });
      }
    });
  }

  /**
   * Calls onHit(needleIndex, start) once per occurrence whose start lies in
   * [0, ownedLength) of `buf` (the rest of `buf` is overlap with the next chunk).
   */
  search(buf: Buffer, ownedLength: number, onHit: (needle: number, start: number) => void): void {
    if (this.needles.length === 0) return;
    const seen = new Set<number>();
    const table = this.#table;
    const last = buf.length - 8;
    const stride = this.stride;
    for (let pos = 0; pos <= last; pos += stride) {
      const list = table.get(buf.readUInt32LE(pos));
      if (list === undefined) continue;
      const hi = buf.readUInt32LE(pos + 4);
      for (const e of list) {
        if (e.hi !== hi) continue;
        const start = pos - e.offset;
        const n = this.needles[e.needle]!.bytes;
        if (start < 0 || start >= ownedLength || start + n.length > buf.length) continue;
        const key = start * this.needles.length + e.needle; // unique per (start, needle)
        if (seen.has(key)) continue;
        if (buf.compare(n, 0, n.length, start, start + n.length) !== 0) continue;
        seen.add(key);
        onHit(e.needle, start);
      }
    }
  }
}
