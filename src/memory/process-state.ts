/**
 * State that exists once per thread, however many copies of this version of
 * secret-scope are loaded: `import 'secret-scope'` loads the ESM build and
 * `require('secret-scope/middy')` the CJS build, two module graphs. Everything
 * that names the one addon instance (the addon, the Key and SecretScope
 * classes whose brands the addon's handles hang on, the async-context binding,
 * the purge epoch) lives in one slot on globalThis, keyed by the package
 * version: the first copy to load fills it, later copies use what is there.
 * globalThis is per thread (a worker has its own), as the addon instance is.
 */
declare const __SECRET_SCOPE_VERSION__: string | undefined;

/** The package version (set by the build; 'source' when running from src/). */
export const PACKAGE_VERSION: string = typeof __SECRET_SCOPE_VERSION__ === 'string' ? __SECRET_SCOPE_VERSION__ : 'source';

const SLOT = Symbol.for(`secret-scope@${PACKAGE_VERSION}/process-state`);

type Bag = Record<string, unknown>;

/** The value named `name` in this thread's shared slot, created by the first copy that asks. */
export function processShared<T>(name: string, create: () => T): T {
  const g = globalThis as unknown as Record<symbol, Bag | undefined>;
  const bag = (g[SLOT] ??= Object.create(null) as Bag);
  if (!(name in bag)) bag[name] = create();
  return bag[name] as T;
}
