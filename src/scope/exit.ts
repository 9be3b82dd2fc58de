/**
 * Purge on the way out: process.exit, an uncaught exception, SIGTERM. Installed
 * once, when the first wrapper/middleware is created (never at import time).
 * Listeners are chosen so that they never change how the process would end.
 */
import { purgeAllSecrets } from '../memory/policy.js';
import { native } from '../memory/native.js';
import { processShared } from '../memory/process-state.js';

/** Once per thread, whichever build (ESM or CJS) of the package asks first. */
const exitPurge = processShared('exitPurge', () => ({ installed: false }));

function purge(): void {
  try {
    if (native().report().initialized) purgeAllSecrets();
  } catch {
    // exiting anyway: nothing more to do
  }
}

export function installExitPurge(): void {
  if (exitPurge.installed) return;
  exitPurge.installed = true;
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
