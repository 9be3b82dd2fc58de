#!/usr/bin/env bash
# Builds the addon with AddressSanitizer + UndefinedBehaviorSanitizer into
# build-asan/secret_scope.node (override with BUILD_ASAN_OUT=dir) and prints
# the path of the .node file on the last line of stdout.
#
# node-gyp always builds into ./build, so the sources (native/ and binding.gyp)
# are copied into a temporary directory whose binding.gyp is rewritten:
#   - cflags: -O1 -g -fsanitize=address,undefined,float-cast-overflow (GCC does not
#     include float-cast-overflow in "undefined") -fno-omit-frame-pointer
#     -fno-sanitize-recover=all (the first report aborts) instead of
#     -O2 -D_FORTIFY_SOURCE=2 (fortify's checked wrappers hide accesses from ASan);
#   - ldflags: -fsanitize=address,undefined, and no -static-libstdc++/-static-libgcc
#     (ASan must see the C++ runtime's operator new/delete).
# libsodium stays the (uninstrumented) static archive: ASan still checks every
# access the addon's own code makes, including to memory libsodium writes.
#
# Running it: a sanitized shared object needs the ASan runtime loaded first, so
# start node with
#   LD_PRELOAD="$(gcc -print-file-name=libasan.so) $(gcc -print-file-name=libubsan.so)" \
#   ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
#   SECRET_SCOPE_ADDON_PATH=build-asan/secret_scope.node node ...
# (detect_leaks=0: V8 and node keep allocations alive at exit by design.)
# SANITIZE_RECOVER=1 builds a variant that reports and continues (run it with
# halt_on_error=0 in ASAN_OPTIONS and UBSAN_OPTIONS) to see every finding at once.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="${BUILD_ASAN_OUT:-$REPO/build-asan}"
CC_BIN="${CC:-gcc}"
CXX_BIN="${CXX:-g++}"

for lib in libasan.so libubsan.so; do
  p="$("$CC_BIN" -print-file-name="$lib")"
  if [ "$p" = "$lib" ] || [ ! -e "$p" ]; then
    echo "build-asan: $CC_BIN has no $lib (install the compiler's sanitizer runtime, e.g. libasan8 libubsan1)" >&2
    exit 1
  fi
done

WORK="$(mktemp -d "${TMPDIR:-/tmp}/secret-scope-asan-XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

cp -r "$REPO/native" "$WORK/native"
# binding.gyp asks node for node-addon-api's include dir, resolved from the cwd.
ln -s "$REPO/node_modules" "$WORK/node_modules"

SANITIZE_RECOVER="${SANITIZE_RECOVER:-0}" node - "$REPO/binding.gyp" "$WORK/binding.gyp" <<'EOF'
const fs = require('node:fs');
const [src, dst] = process.argv.slice(2);
const gyp = JSON.parse(fs.readFileSync(src, 'utf8'));
const t = gyp.targets.find((x) => x.target_name === 'secret_scope');
if (!t) throw new Error('binding.gyp has no secret_scope target');
// GCC leaves float-cast-overflow out of -fsanitize=undefined: ask for it (NaN/huge doubles cast to integers).
// SANITIZE_RECOVER=1: keep going after a report (with halt_on_error=0 at run time) to list them all.
const recover = process.env.SANITIZE_RECOVER === '1' ? '-fsanitize-recover=all' : '-fno-sanitize-recover=all';
const san = ['-fsanitize=address,undefined,float-cast-overflow', '-fno-omit-frame-pointer', recover];
const drop = new Set(['-O2', '-O3', '-D_FORTIFY_SOURCE=2', '-static-libstdc++', '-static-libgcc']);
t.cflags = [...(t.cflags ?? []).filter((f) => !drop.has(f)), '-O1', '-g', '-U_FORTIFY_SOURCE', ...san];
t.cflags_cc = [...(t.cflags_cc ?? []).filter((f) => !drop.has(f)), ...san];
t.ldflags = [...(t.ldflags ?? []).filter((f) => !drop.has(f)), ...san];
fs.writeFileSync(dst, JSON.stringify(gyp, null, 2));
EOF

NODEDIR_ARGS=()
# Prefer the headers of the node that runs the tests when they are installed locally.
NODE_PREFIX="$(dirname "$(dirname "$(command -v node)")")"
if [ -f "$NODE_PREFIX/include/node/node_api.h" ]; then
  NODEDIR_ARGS=(--nodedir="$NODE_PREFIX")
fi

(
  cd "$WORK"
  CC="$CC_BIN" CXX="$CXX_BIN" "$REPO/node_modules/.bin/node-gyp" configure build --release "${NODEDIR_ARGS[@]}" -j 2 >&2
)

mkdir -p "$OUT"
cp "$WORK/build/Release/secret_scope.node" "$OUT/secret_scope.node.tmp"
mv "$OUT/secret_scope.node.tmp" "$OUT/secret_scope.node"
# Show that the sanitizers really are linked in (the test checks this too).
if [ "$(nm -D "$OUT/secret_scope.node" | grep -c '__asan_init')" = 0 ]; then
  echo "build-asan: $OUT/secret_scope.node has no ASan instrumentation" >&2
  exit 1
fi
echo "$OUT/secret_scope.node"
