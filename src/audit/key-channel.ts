/**
 * The auditor's side of the audit key channel (native/audit-channel.cc).
 *
 * The auditor opens a file in a private directory (tmpfs when there is one),
 * keeps a read descriptor, unlinks it, and hands the child a write-only,
 * append-only descriptor to it plus SECRET_SCOPE_AUDIT_KEY_FD naming that
 * descriptor. The child's addon reads the variable once when it loads, removes
 * it from the environment, and refuses anything but an unlinked, write-only,
 * append-only regular file (so an environment variable alone can never point
 * it at stdout or a log file). From then on the native layer writes, with
 * write(2) straight from the arena, the bytes of every slot it wipes and, when
 * the harness asks right before a scan, of every live slot, with the slot's
 * kind and owner. Key bytes never pass through the child's JavaScript.
 *
 * A file, not a pipe: the child never blocks on a full pipe while the auditor
 * is busy scanning, and everything written before the child's "scan now"
 * message is in the file when the auditor reads it.
 *
 * Record (little-endian): magic u32 'SSAK', seq u32 (1, 2, ...), length u32,
 * type u8, slot kind u8, flags u8 (1 owned by a scope, 2 sealed), reserved u8,
 * slot index u32, owner scope u32 (scope index + 1, 0 none), then `length` bytes.
 * A flush is framed by FLUSH_BEGIN and FLUSH_END; FLUSH_END carries the live
 * slot count in `slot` and the live scope count in `owner`.
 */
import { closeSync, mkdtempSync, openSync, readSync, rmSync, unlinkSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const KEY_CHANNEL_ENV = 'SECRET_SCOPE_AUDIT_KEY_FD';
export const KEY_CHANNEL_FD = 5;
const MAGIC = 0x4b415353;
const HEADER = 24;

export const RecordType = { LiveKey: 1, WipedKey: 2, FlushBegin: 3, FlushEnd: 4 } as const;

/** Native KeyKind values (native/keystore.h) by name; an unknown value is reported as `kind-N`. */
const SLOT_KINDS: Record<number, string> = {
  0: 'secret',
  1: 'x25519-private',
  2: 'scratch',
  3: 'hkdf',
  4: 'hmac',
  5: 'aead',
  6: 'root',
  7: 'shared',
  8: 'ed25519',
  9: 'ecdsa-p256',
  10: 'ecdsa-p384',
  11: 'ecdh-p256',
  12: 'ecdh-p384',
  13: 'hpke',
};
export function slotKindName(kind: number): string {
  return SLOT_KINDS[kind] ?? `kind-${kind}`;
}

export interface ChannelKey {
  type: number;
  slotKind: string;
  owned: boolean;
  sealed: boolean;
  slot: number;
  owner: number;
  bytes: Buffer;
}

export interface LiveSnapshot {
  slots: ChannelKey[];
  liveSlots: number;
  liveScopes: number;
}

export class KeyChannelReader {
  readonly dir: string;
  readonly #readFd: number;
  /** The descriptor the child inherits (write-only, append-only). */
  readonly writeFd: number;
  #offset = 0;
  #pending = Buffer.alloc(0);
  #nextSeq = 1;
  #flush: ChannelKey[] | undefined;
  records = 0;
  problems: string[] = [];
  lastLive: LiveSnapshot | undefined;

  constructor() {
    // tmpfs when available: the records (test keys of the local KMS) never reach a disk
    const base = existsSync('/dev/shm') ? '/dev/shm' : tmpdir();
    this.dir = mkdtempSync(join(base, 'secret-scope-audit-keys-'));
    const path = join(this.dir, 'keys');
    this.writeFd = openSync(path, 'a', 0o600);
    this.#readFd = openSync(path, 'r');
    unlinkSync(path);
  }

  /** Reads every record written since the last call; calls onKey for each key. */
  drain(onKey: (k: ChannelKey) => void): void {
    const chunk = Buffer.allocUnsafeSlow(1 << 16);
    for (;;) {
      const n = readSync(this.#readFd, chunk, 0, chunk.length, this.#offset);
      if (n <= 0) break;
      this.#offset += n;
      const old = this.#pending;
      this.#pending = Buffer.concat([old, chunk.subarray(0, n)]);
      old.fill(0);
    }
    chunk.fill(0);
    let p = 0;
    const buf = this.#pending;
    while (buf.length - p >= HEADER) {
      if (buf.readUInt32LE(p) !== MAGIC) {
        this.problems.push(`key channel: bad record at byte ${this.#offset - buf.length + p}`);
        p = buf.length;
        break;
      }
      const len = buf.readUInt32LE(p + 8);
      if (buf.length - p < HEADER + len) break;
      const seq = buf.readUInt32LE(p + 4);
      if (seq !== this.#nextSeq) this.problems.push(`key channel: record ${seq} where ${this.#nextSeq} was expected (records lost or rewritten)`);
      this.#nextSeq = seq + 1;
      this.records++;
      const type = buf[p + 12]!;
      const flags = buf[p + 14]!;
      const rec: ChannelKey = {
        type,
        slotKind: slotKindName(buf[p + 13]!),
        owned: (flags & 1) !== 0,
        sealed: (flags & 2) !== 0,
        slot: buf.readUInt32LE(p + 16),
        owner: buf.readUInt32LE(p + 20),
        bytes: buf.subarray(p + HEADER, p + HEADER + len),
      };
      if (type === RecordType.FlushBegin) this.#flush = [];
      else if (type === RecordType.FlushEnd) {
        this.lastLive = { slots: this.#flush ?? [], liveSlots: rec.slot, liveScopes: rec.owner };
        this.#flush = undefined;
      } else {
        if (type === RecordType.LiveKey) this.#flush?.push({ ...rec, bytes: Buffer.alloc(0) });
        if (len > 0) onKey(rec);
      }
      p += HEADER + len;
    }
    const rest = Buffer.from(buf.subarray(p));
    buf.fill(0);
    this.#pending = rest;
  }

  /** Records the child wrote in total (its own count) against what arrived. */
  checkTotal(written: number): void {
    if (written !== this.#nextSeq - 1) this.problems.push(`key channel: the child wrote ${written} records, ${this.#nextSeq - 1} arrived`);
  }

  close(): void {
    this.#pending.fill(0);
    for (const fd of [this.#readFd, this.writeFd]) {
      try {
        closeSync(fd);
      } catch {
        // already closed
      }
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
