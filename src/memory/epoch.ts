/**
 * Purge epoch: bumped whenever every key of this thread is wiped at once
 * (purgeAllSecrets(), a canary violation). Scopes opened before that report
 * themselves ended without asking the addon.
 */
import { processShared } from './process-state.js';

/** One per thread, shared by the ESM and CJS builds (they share one addon instance). */
const epoch = processShared('purgeEpoch', () => ({ value: 0 }));

export function purgeEpoch(): number {
  return epoch.value;
}

export function bumpPurgeEpoch(): void {
  epoch.value++;
}
