/**
 * Reads another process's memory from outside: /proc/<pid>/smaps for the
 * mappings (with their VmFlags: `dd` = excluded from core dumps) and
 * /proc/<pid>/mem for the bytes. The reader needs ptrace access to the target
 * (its parent, same uid, or CAP_SYS_PTRACE); /proc/<pid>/mem reads with
 * FOLL_FORCE, so mappings without PROT_READ (a sealed vault, guard pages) are
 * read too when they have pages. memfd_secret mappings (`/secretmem`) are not
 * in the kernel's direct map and cannot be read this way at all (EIO): they are
 * reported as unreadable secret memory, never as hits.
 */
import { closeSync, openSync, readFileSync, readSync } from 'node:fs';
import type { NeedleIndex } from './patterns.js';

export type MappingKind = 'heap' | 'stack' | 'anonymous' | 'file' | 'secret-memory' | 'other';

export interface Mapping {
  start: number;
  end: number;
  perms: string;
  path: string;
  kind: MappingKind;
  /** VmFlags has `dd` (MADV_DONTDUMP): not in a core dump. */
  dontdump: boolean;
  /** VmFlags has `lo` (mlocked). */
  locked: boolean;
  rssKb: number;
  swapKb: number;
  dirtyKb: number;
  anonymousKb: number;
}

export interface ScanHit {
  needle: number;
  address: number;
  mapping: Mapping;
  /** With contextBytes: the bytes just before the hit, printable ASCII kept, the rest as \xNN. */
  before?: string;
}

function printable(b: Buffer): string {
  let s = '';
  for (const c of b) s += c >= 0x20 && c < 0x7f && c !== 0x5c ? String.fromCharCode(c) : `\\x${c.toString(16).padStart(2, '0')}`;
  return s;
}

export interface ScanStats {
  mappings: number;
  scannedMappings: number;
  scannedBytes: number;
  /** Mappings not read, and why (their contents cannot hold a fresh secret). */
  skipped: { nonResident: number; cleanFile: number; special: number };
  /** Mappings (or parts) whose read failed, other than secret memory. */
  unreadable: Array<{ kind: MappingKind; path: string; bytes: number; error: string }>;
  /** memfd_secret mappings: where the keys live; unreadable from outside by design. */
  secretMemory: { mappings: number; bytes: number; readable: number };
  ms: number;
}

export interface ScanOptions {
  /** Also read file-backed mappings with no dirty or anonymous pages (identical to the file on disk). */
  allMappings?: boolean;
  /** Report this many bytes before each hit (diagnosis: what structure holds the copy). */
  contextBytes?: number;
  /** Bytes per read (default 8 MiB). */
  chunkBytes?: number;
}

const HEADER = /^([0-9a-f]+)-([0-9a-f]+)\s+(\S{4})\s+[0-9a-f]+\s+\S+\s+\d+\s*(.*)$/;
const SPECIAL = new Set(['[vvar]', '[vvar_vclock]', '[vsyscall]', '[vectors]', '[uprobes]']);

export function classify(path: string): MappingKind {
  if (path === '[heap]') return 'heap';
  if (path === '[stack]' || path.startsWith('[stack:')) return 'stack';
  if (path.startsWith('/secretmem')) return 'secret-memory';
  if (path === '' || path.startsWith('[anon') || path.startsWith('/memfd:') || path.startsWith('/dev/zero') || path.startsWith('/SYSV')) {
    return 'anonymous';
  }
  if (path.startsWith('/')) return 'file';
  return 'other';
}

/** Parses /proc/<pid>/smaps text. */
export function parseSmaps(text: string): Mapping[] {
  const out: Mapping[] = [];
  let cur: Mapping | undefined;
  for (const line of text.split('\n')) {
    const h = HEADER.exec(line);
    if (h) {
      const path = h[4]!.trim();
      cur = {
        start: parseInt(h[1]!, 16),
        end: parseInt(h[2]!, 16),
        perms: h[3]!,
        path,
        kind: classify(path),
        dontdump: false,
        locked: false,
        rssKb: 0,
        swapKb: 0,
        dirtyKb: 0,
        anonymousKb: 0,
      };
      out.push(cur);
      continue;
    }
    if (!cur) continue;
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const field = line.slice(0, colon);
    const value = line.slice(colon + 1).trim();
    switch (field) {
      case 'Rss':
        cur.rssKb = parseInt(value, 10) || 0;
        break;
      case 'Swap':
        cur.swapKb = parseInt(value, 10) || 0;
        break;
      case 'Private_Dirty':
      case 'Shared_Dirty':
        cur.dirtyKb += parseInt(value, 10) || 0;
        break;
      case 'Anonymous':
        cur.anonymousKb = parseInt(value, 10) || 0;
        break;
      case 'VmFlags': {
        const flags = value.split(/\s+/);
        cur.dontdump = flags.includes('dd');
        cur.locked = flags.includes('lo');
        break;
      }
    }
  }
  return out;
}

export function readMappings(pid: number): Mapping[] {
  return parseSmaps(readFileSync(`/proc/${pid}/smaps`, 'utf8'));
}

function errCode(e: unknown): string {
  return (e as NodeJS.ErrnoException)?.code ?? String(e);
}

/** Scans every mapping of `pid` that can hold a secret for every needle of `index`. */
export function scanProcess(pid: number, index: NeedleIndex, options: ScanOptions = {}): { hits: ScanHit[]; stats: ScanStats } {
  const t0 = performance.now();
  const mappings = readMappings(pid);
  const stats: ScanStats = {
    mappings: mappings.length,
    scannedMappings: 0,
    scannedBytes: 0,
    skipped: { nonResident: 0, cleanFile: 0, special: 0 },
    unreadable: [],
    secretMemory: { mappings: 0, bytes: 0, readable: 0 },
    ms: 0,
  };
  const hits: ScanHit[] = [];
  const chunk = options.chunkBytes ?? 8 * 1024 * 1024;
  const overlap = Math.max(0, index.maxLength - 1);
  const buf = Buffer.allocUnsafeSlow(chunk + overlap);
  const fd = openSync(`/proc/${pid}/mem`, 'r');
  try {
    for (const m of mappings) {
      const size = m.end - m.start;
      if (m.kind === 'secret-memory') {
        stats.secretMemory.mappings++;
        stats.secretMemory.bytes += size;
        // Confirm it is unreadable; if it were readable, it would be scanned like any mapping.
        try {
          readSync(fd, buf, 0, Math.min(size, 4096), m.start);
          stats.secretMemory.readable++;
        } catch {
          continue;
        }
      }
      if (SPECIAL.has(m.path) || !Number.isSafeInteger(m.end)) {
        stats.skipped.special++;
        continue;
      }
      if (m.rssKb === 0 && m.swapKb === 0) {
        stats.skipped.nonResident++; // nothing resident: reads as zeros or as the file
        continue;
      }
      if (!options.allMappings && m.kind === 'file' && m.dirtyKb === 0 && m.anonymousKb === 0 && m.swapKb === 0) {
        stats.skipped.cleanFile++; // page cache identical to the file on disk
        continue;
      }
      stats.scannedMappings++;
      for (let off = 0; off < size; off += chunk) {
        const want = Math.min(chunk + overlap, size - off);
        let n: number;
        try {
          n = readSync(fd, buf, 0, want, m.start + off);
        } catch (e) {
          stats.unreadable.push({ kind: m.kind, path: m.path, bytes: size - off, error: errCode(e) });
          break;
        }
        if (n <= 0) {
          stats.unreadable.push({ kind: m.kind, path: m.path, bytes: size - off, error: 'short read' });
          break;
        }
        const owned = Math.min(chunk, n);
        stats.scannedBytes += owned;
        index.search(buf.subarray(0, n), owned, (needle, start) => {
          const hit: ScanHit = { needle, address: m.start + off + start, mapping: m };
          if (options.contextBytes) {
            const from = Math.max(0, start - options.contextBytes);
            hit.before = printable(buf.subarray(from, start));
          }
          hits.push(hit);
        });
        if (n < want) {
          if (off + n < size) stats.unreadable.push({ kind: m.kind, path: m.path, bytes: size - off - n, error: 'short read' });
          break;
        }
      }
    }
  } finally {
    buf.fill(0); // the reader's own copy of the target's memory
    closeSync(fd);
  }
  stats.ms = Math.round(performance.now() - t0);
  return { hits, stats };
}

/** Searches a file's bytes (a heap snapshot) for the needles. */
export function scanBytes(bytes: Buffer, index: NeedleIndex): Array<{ needle: number; offset: number }> {
  const out: Array<{ needle: number; offset: number }> = [];
  index.search(bytes, bytes.length, (needle, offset) => out.push({ needle, offset }));
  return out;
}
