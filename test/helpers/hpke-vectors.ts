/**
 * RFC 9180 Appendix A (../shared/test-vectors/hpke_rfc9180_appendix_a.md), parsed
 * from its markdown: one entry per suite and mode, with the setup values, the
 * encryptions by sequence number and the exported values. Hex values may wrap
 * over several lines; a line "name: value" starts a field, a bare hex line continues it.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SHARED_DIR } from './vectors.js';

export const HPKE_VECTORS = join(SHARED_DIR, 'test-vectors', 'hpke_rfc9180_appendix_a.md');

export type Fields = Record<string, string>;

export interface HpkeVector {
  /** The "## " heading, e.g. "DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, ChaCha20Poly1305". */
  suite: string;
  /** "Base", "PSK", "Auth" or "AuthPSK". */
  mode: string;
  setup: Fields;
  encryptions: Fields[];
  exports: Fields[];
}

/** The records of one ~~~ block (records separated by blank lines). */
function records(lines: string[]): Fields[] {
  const out: Fields[] = [];
  let cur: Fields | undefined;
  let last: string | undefined;
  for (const line of lines) {
    if (line.trim() === '') {
      cur = undefined;
      continue;
    }
    const m = /^([A-Za-z_][A-Za-z_ ]*):\s*(.*)$/.exec(line);
    if (m) {
      if (!cur) out.push((cur = {}));
      last = m[1]!;
      cur[last] = m[2]!.trim();
    } else if (cur && last && /^[0-9a-f]+$/.test(line.trim())) {
      cur[last] += line.trim();
    } else {
      throw new Error(`hpke vectors: unexpected line '${line}'`);
    }
  }
  return out;
}

export function hpkeVectorsAvailable(): boolean {
  return existsSync(HPKE_VECTORS);
}

export function loadHpkeVectors(): HpkeVector[] {
  const lines = readFileSync(HPKE_VECTORS, 'utf8').split('\n');
  const out: HpkeVector[] = [];
  let suite = '';
  let current: HpkeVector | undefined;
  let section = '';
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.startsWith('## ')) suite = line.slice(3).trim();
    else if (line.startsWith('### ')) {
      const mode = /^### (\S+) Setup Information/.exec(line)?.[1];
      if (mode && suite) out.push((current = { suite, mode, setup: {}, encryptions: [], exports: [] }));
      section = 'setup';
    } else if (line.startsWith('#### ')) section = line.includes('Encryptions') ? 'encryptions' : line.includes('Exported') ? 'exports' : '';
    else if (line.trim() === '~~~' && current) {
      const block: string[] = [];
      for (i++; i < lines.length && lines[i]!.trim() !== '~~~'; i++) block.push(lines[i]!);
      const recs = records(block);
      if (section === 'setup') current.setup = recs[0]!;
      else if (section === 'encryptions') current.encryptions = recs;
      else if (section === 'exports') current.exports = recs;
    }
  }
  return out;
}
