// `node --import <this file>`: installs layer/lib/node-path-hooks.mjs for
// NODE_PATH, so ES module imports of layer packages resolve as on Lambda.
// Used where the runtime is not our bootstrap (the real aws-lambda-ric:
// layer/ric-e2e.mjs); --import is in execArgv, which the ric hands on to its
// Managed Instances worker threads, so every worker gets the hook too.
import { register } from 'node:module';

const nodePath = (process.env.NODE_PATH ?? '').split(':').filter(Boolean);
register(new URL('./node-path-hooks.mjs', import.meta.url), { data: { nodePath } });
