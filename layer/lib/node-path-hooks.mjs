// module.register() resolve hook for layer/bootstrap.mjs: when a bare
// specifier (e.g. 'secret-scope/middy') does not resolve the ESM way (walking
// up from the importing file), retry it from each NODE_PATH directory in order,
// the way Lambda's Node.js runtime makes layer packages importable from ES modules.
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

let nodePath = [];

export function initialize(data) {
  nodePath = data?.nodePath ?? [];
}

const isBare = (s) => !/^(\.{0,2}\/|[a-zA-Z][a-zA-Z0-9+.-]*:)/.test(s);

export async function resolve(specifier, context, nextResolve) {
  try {
    return await nextResolve(specifier, context);
  } catch (e) {
    if (!isBare(specifier) || e?.code !== 'ERR_MODULE_NOT_FOUND') throw e;
    for (const dir of nodePath) {
      try {
        // A parent inside `dir` makes the lookup find `dir/<package>`.
        return await nextResolve(specifier, { ...context, parentURL: pathToFileURL(join(dir, '__node_path__.mjs')).href });
      } catch {
        /* next directory */
      }
    }
    throw e;
  }
}
