/**
 * Purge on the way out: process.exit, an uncaught exception, SIGTERM. Installed
 * once, when the first wrapper/middleware is created (never at import time).
 * Listeners are chosen so that they never change how the process would end.
 */
import { purgeAllSecrets } from '../memory/policy.js';
import { native } from '../memory/native.js';

let installed = false;

function purge(): void {
  try {
    if (native().report().initialized) purgeAllSecrets();
  } catch {
    // exiting anyway: nothing more to do
  }
}

export function installExitPurge(): void {
  if (installed) return;
  installed = true;
  process.on('exit', purge);
  process.on('uncaughtExceptionMonitor', purge);
  const onSigterm = (): void => {
    purge();
    // Keep the default behaviour (terminate) unless someone else handles SIGTERM.
    if (process.listenerCount('SIGTERM') === 1) {
      process.removeListener('SIGTERM', onSigterm);
      process.kill(process.pid, 'SIGTERM');
    }
  };
  process.on('SIGTERM', onSigterm);
}
