// LEAK: a key made with hkdf() as base64 in a log line an in-memory logger keeps (a buffered log shipper).
import { leakyHandler, lib } from './_leak.mjs';

export const plantedLeak = { finding: 'copy', kind: 'arena-hkdf', form: 'base64', place: 'in-memory logger' };
const logger = { lines: [], info(msg, fields) { this.lines.push(JSON.stringify({ level: 'info', msg, ...fields })); } };

export function createHandler(env) {
  return leakyHandler(env, async (scope) => {
    const session = await scope.prk(); // the scope's PRK (an HKDF key: key separation refuses HKDF from the aead 'session')
    const derived = lib.hkdf(session, { info: 'cookie-key', length: 32 });
    logger.info('derived cookie key', { key: lib.exposeUnsafe(derived, (v) => Buffer.from(v).toString('base64')) });
  });
}
