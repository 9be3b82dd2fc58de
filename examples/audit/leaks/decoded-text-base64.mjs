// LEAK: a key fetched as base64 text (from a secrets store, say), decoded into the arena with
// decodeKey; the handler keeps the text it decoded in a cache.
import { randomBytes } from 'node:crypto';
import { leakyHandler, lib } from './_leak.mjs';

export const plantedLeak = { finding: 'copy', kind: 'arena-secret', form: 'base64', place: 'cache of the decoded text' };
const fetched = new Map();
const fetchKeyText = () => randomBytes(32).toString('base64');

export function createHandler(env) {
  return leakyHandler(env, async () => {
    const text = fetchKeyText();
    fetched.set('partner', text);
    lib.decodeKey(Buffer.from(text, 'latin1'), { encoding: 'base64' });
  });
}
