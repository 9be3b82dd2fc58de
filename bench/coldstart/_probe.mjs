import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
const mod = await import(pathToFileURL(resolve(process.argv[2])).href);
const initMs = performance.now();
await mod.handler({ id: 'first' }, { awsRequestId: 'c', getRemainingTimeInMillis: () => 30000 });
const l = process.moduleLoadList;
console.log(JSON.stringify({ initMs, first: performance.now(), undici: l.some((x) => x.includes('undici')), builtins: l.length }));
