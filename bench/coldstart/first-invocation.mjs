// Child process of the cold-start bench: loads one handler module the way a Lambda runtime does
// (dynamic import), invokes it once, and prints, in ms since the process started
// (process.uptime(); not performance.now(), whose first use loads perf_hooks for both sides),
// when the handler was ready and when its first response arrived.
//   node bench/coldstart/first-invocation.mjs <handler file>
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const file = resolve(process.argv[2]);
const mod = await import(pathToFileURL(file).href);
const handler = mod.handler ?? mod.default?.handler;
const initMs = process.uptime() * 1e3;
const context = { awsRequestId: 'cold-1', functionName: 'cold', getRemainingTimeInMillis: () => 30_000 };
const response = await handler({ id: 'first' }, context);
const firstResponseMs = process.uptime() * 1e3;
if (!response || typeof response.tag !== 'string') throw new Error(`unexpected response ${JSON.stringify(response)}`);
process.stdout.write(JSON.stringify({ initMs, firstResponseMs }));
