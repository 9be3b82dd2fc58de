/**
 * Purge epoch: bumped whenever every key of this thread is wiped at once
 * (purgeAllSecrets(), a canary violation). Scopes opened before that report
 * themselves ended without asking the addon.
 */
let epoch = 0;

export function purgeEpoch(): number {
  return epoch;
}

export function bumpPurgeEpoch(): void {
  epoch++;
}
