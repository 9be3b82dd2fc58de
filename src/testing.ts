/**
 * `secret-scope/testing`: hooks for the project's own guard tests, kept out of the
 * production entry point. They are destructive only: none of them reads, copies
 * or predicts key bytes.
 */
import { native } from './memory/native.js';
import { keyId } from './memory/key.js';
import type { Key } from './memory/key.js';

export const testing = {
  /** Flips one byte at `offset` from the key's first byte, without bounds checks (canary and guard-page tests). */
  corruptAt(key: Key, offset: number): void {
    native().testCorrupt(keyId(key, 'testing.corruptAt'), offset);
  },
  /** Bytes from the key's first byte to the end of its region's data pages. */
  bytesToRegionEnd(key: Key): number {
    return native().testBytesToRegionEnd(keyId(key, 'testing.bytesToRegionEnd'));
  },
  /** Virtual address of the key's first byte (to find its mapping in /proc/self/maps). */
  address(key: Key): bigint {
    return native().testSlotAddress(keyId(key, 'testing.address'));
  },
};
