/**
 * Clearing what a transport left on this thread's native stack.
 *
 * Node's TLS read path (TLSWrap::ClearOut) decrypts each record into a 16 KiB
 * array on the stack and never zeroes it; the JavaScript that consumes the
 * response runs in frames called from inside that read, so nothing it calls
 * can reach the array, and once the read returns the array is dead stack below
 * the event loop that only later, deeper calls happen to overwrite.
 *
 * The addon zeroes it from a frame shallower than any read: a libuv check
 * callback (run by uv_run itself, right after the poll phase in which the read
 * happened) that zeroes the stack below its own frame, down to a fixed depth
 * that covers the TLS read, OpenSSL's frames under it and the HTTP parser's,
 * clamped to the mapped stack (pthread_getattr_np, read once per thread).
 * `afterStackScrub()` settles from that callback, so code awaiting it runs
 * only once the stack is clean.
 */
import { native } from './native.js';

export interface StackScrubReport {
  /** Scrubs run on this thread. */
  runs: number;
  /** Bytes zeroed by the last scrub. */
  lastBytes: number;
  /** Bytes below the check callback's frame each scrub zeroes (before clamping). */
  depth: number;
  /** Lowest address the thread's stack may grow to (the scrub never goes below it). */
  stackLow: bigint;
  /** The check callback's stack pointer at the last scrub. */
  lastSp: bigint;
}

/** Resolves, with the bytes zeroed, once the stack below the event loop of this thread was zeroed. */
export function afterStackScrub(): Promise<number> {
  return new Promise<number>((resolve) => native().stackScrubSoon(resolve));
}

/** What the stack scrubber of this thread has done (diagnostics, tests). */
export function stackScrubReport(): StackScrubReport {
  return native().stackScrubReport();
}
