/**
 * The secrets the auditor knows, with their needles: one entry per distinct
 * byte string, whatever told the auditor about it (the KMS endpoint's record,
 * a recomputation, the arena read from outside, the native key channel).
 */
import { needlesFor, NeedleIndex, type Lifetime, type Needle, type Secret, type SecretKind } from './patterns.js';

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

/** Key byte strings shorter than this are not searched: too short to tell a copy from chance. */
export const MIN_SECRET_BYTES = 12;

export class SecretRegistry {
  readonly secrets: Secret[] = [];
  #byBytes = new Map<string, Secret>();
  #needles: Needle[] = [];
  #index: NeedleIndex | undefined;

  find(bytes: Buffer): Secret | undefined {
    return this.#byBytes.get(bytes.toString('latin1'));
  }

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
    this.#byBytes.clear();
  }
}
