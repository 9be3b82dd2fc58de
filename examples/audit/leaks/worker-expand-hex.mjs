// LEAK: a key from hkdfExpand as hex posted to a worker thread that keeps it.
import { Worker } from 'node:worker_threads';
import { leakyHandler, lib } from './_leak.mjs';

export const plantedLeak = { finding: 'copy', kind: 'arena-hkdf', form: 'hex', place: 'worker message' };
let worker;
let stored;

export function createHandler(env) {
  worker = new Worker('const { parentPort } = require("node:worker_threads"); const kept = []; parentPort.on("message", (m) => { kept.push(m); parentPort.postMessage(kept.length); });', { eval: true });
  return leakyHandler(env, async (scope) => {
    const prk = await scope.prk();
    const expanded = lib.hkdfExpand(prk, { info: 'worker-key', length: 32 });
    stored = new Promise((r) => worker.once('message', r));
    worker.postMessage({ key: lib.exposeUnsafe(expanded, (v) => Buffer.from(v).toString('hex')) });
    await stored;
  });
}
