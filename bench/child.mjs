// Child processes of the bench (a fresh process each):
//   node bench/child.mjs coldstart           -> JSON: import, first scope (region creation), next scopes
//   node bench/child.mjs syscalls <id> <n>   -> runs a warm-up, then n invocations of contender <id>
//                                               (run under `strace -c -f`; see syscalls.mjs)
import { openInvocation } from './contenders.mjs';
import { loadLibrary, loadSodiumNative } from './lib.mjs';

const [mode, arg1, arg2] = process.argv.slice(2);
const ns = (t0) => Number(process.hrtime.bigint() - t0);

function invocation(lib) {
  const open = openInvocation(lib);
  return () => open().end();
}

if (mode === 'coldstart') {
  const t0 = process.hrtime.bigint();
  const lib = await loadLibrary();
  const importNs = ns(t0);
  const ta = process.hrtime.bigint();
  lib.protectionReport(); // the library loads its addon lazily: this is the load (node-gyp-build + dlopen)
  const addonLoadNs = ns(ta);
  const t1 = process.hrtime.bigint();
  const scope = lib.openScope(); // initialises secret memory: sodium_init, the first region
  const firstScopeOpenNs = ns(t1);
  const once = invocation(lib);
  scope.end();
  const t2 = process.hrtime.bigint();
  once();
  const firstInvocationNs = ns(t2);
  const t3 = process.hrtime.bigint();
  once();
  const secondInvocationNs = ns(t3);
  const r = lib.protectionReport();
  process.stdout.write(
    JSON.stringify({ importNs, addonLoadNs, firstScopeOpenNs, firstInvocationNs, secondInvocationNs, backend: r.backend, regionsCreated: r.regionsCreated }),
  );
} else if (mode === 'syscalls') {
  const n = Number(arg2);
  let once;
  if (arg1 === 'secretScope') {
    const lib = await loadLibrary();
    lib.configureSecretMemory({ require: process.env.SECRET_SCOPE_REQUIRE ?? 'locked' });
    once = invocation(lib);
  } else if (arg1 === 'sodiumNative') {
    const { sodiumNativeContender } = await import('./contenders.mjs');
    once = sodiumNativeContender(loadSodiumNative().sodium).once;
  } else if (arg1 === 'nodeCrypto') {
    const { nodeCryptoContender } = await import('./contenders.mjs');
    once = nodeCryptoContender().once;
  } else {
    throw new Error(`unknown contender ${arg1}`);
  }
  const turn = () => new Promise(setImmediate);
  for (let i = 0; i < 2000; i++) {
    once();
    if (i % 16 === 15) await turn();
  }
  for (let i = 0; i < n; i++) {
    once();
    if (i % 16 === 15) await turn();
  }
  await turn();
} else {
  process.stderr.write('usage: node bench/child.mjs coldstart | syscalls <secretScope|sodiumNative|nodeCrypto> <n>\n');
  process.exit(2);
}
