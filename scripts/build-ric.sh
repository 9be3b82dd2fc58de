#!/usr/bin/env bash
# Builds AWS's Lambda runtime interface client (npm aws-lambda-ric, the client
# the Lambda Node.js runtimes run) for one Node major and prints the package
# directory; layer/ric-e2e.mjs runs the layer through it.
#
#   bash scripts/build-ric.sh 22        # -> .cache/ric/4.0.2/node22-x64/node_modules/aws-lambda-ric
#   bash scripts/build-ric.sh 24
#
# Kept out of package.json/package-lock on purpose: it is a test harness, not a
# dependency of the library, and it needs a native build per Node major (its
# addon, rapid-client.node, includes node.h/v8.h, so it is built against the
# headers of the Node that runs it: npm's `nodedir` -> .cache/node/x64-<major>).
#
# npm 11 does not run dependency install scripts unless approved, so the
# package is installed with --ignore-scripts and its two scripts are run here
# explicitly, unmodified:
#   scripts/preinstall.sh   builds its bundled curl (autotools: the shipped
#                           ./configure, no autoreconf) and aws-lambda-cpp (cmake)
#                           into deps/artifacts; the same for every Node major,
#                           so it runs once per architecture and is shared;
#   scripts/postinstall.sh  node-gyp builds rapid-client.node against deps/artifacts.
# Debian packages it needs beyond the addon's toolchain: cmake (scripts/setup-ci-deps.sh).
#
# Cached under .cache/ric/<version>/ keyed by the ric version, the Node version
# and the architecture: a rerun with everything built takes no time and no network.
set -euo pipefail

RIC_VERSION="${RIC_VERSION:-4.0.2}"
usage() { echo "usage: $0 <node-major>=22|24... [x64]" >&2; exit 2; }
[ $# -ge 1 ] && [ $# -le 2 ] || usage
major="$1"
arch="${2:-x64}"
[[ "$major" =~ ^[0-9]+$ ]] && [ "$major" -ge 22 ] || usage
# arm64: preinstall.sh runs curl's ./configure without --host, which cannot
# cross-compile (see layer/RIC.md); only x64 is built.
[ "$arch" = x64 ] || { echo "[build-ric] only x64 is supported (see layer/RIC.md)" >&2; exit 2; }

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
log() { printf '[build-ric] %s\n' "$*" >&2; }

node_bin="$(bash "$root/scripts/fetch-node.sh" "$major" "$arch")"
nodedir="$(cd "$(dirname "$node_bin")/.." && pwd)"
[ -f "$nodedir/include/node/node.h" ] || { log "no headers in $nodedir/include/node"; exit 1; }
node_version="$("$node_bin" -p 'process.version + " abi " + process.versions.modules')"

base="$root/.cache/ric/$RIC_VERSION"
dest="$base/node$major-$arch"
pkg="$dest/node_modules/aws-lambda-ric"
shared_artifacts="$base/deps-$arch/artifacts"
key="aws-lambda-ric@$RIC_VERSION node $node_version $arch"

if [ -f "$dest/.complete" ] && [ "$(cat "$dest/.complete")" = "$key" ] && [ -f "$pkg/rapid-client.node" ]; then
  echo "$pkg"
  exit 0
fi

command -v cmake >/dev/null || { log "cmake is missing (bash scripts/setup-ci-deps.sh installs it)"; exit 1; }

rm -rf "$dest"
mkdir -p "$dest"
printf '{ "name": "ric-harness", "private": true }\n' >"$dest/package.json"
log "npm install aws-lambda-ric@$RIC_VERSION (scripts run below) for Node $node_version"
# The host npm installs; engines (>= 22) refers to the Node that will run it.
(cd "$dest" && npm install "aws-lambda-ric@$RIC_VERSION" --ignore-scripts --no-audit --no-fund \
  --no-package-lock --engine-strict=false --loglevel=error >/dev/null)
[ -x "$pkg/scripts/preinstall.sh" ] || { log "$pkg/scripts/preinstall.sh missing"; exit 1; }

if [ ! -f "$shared_artifacts/lib/libaws-lambda-runtime.a" ] || [ ! -f "$shared_artifacts/lib/libcurl.a" ]; then
  log "preinstall: curl + aws-lambda-cpp (once per architecture)"
  t0=$SECONDS
  if ! (cd "$pkg" && nice ./scripts/preinstall.sh >"$dest/preinstall.log" 2>&1); then
    tail -n 40 "$dest/preinstall.log" >&2
    exit 1
  fi
  rm -rf "$shared_artifacts"
  mkdir -p "$(dirname "$shared_artifacts")"
  mv "$pkg/deps/artifacts" "$shared_artifacts"
  rm -rf "$pkg/deps/curl-src" "$pkg/deps/aws-lambda-cpp-src"
  log "preinstall took $((SECONDS - t0)) s"
fi
# postinstall.sh reads deps/artifacts and then removes it (a symlink: only the link goes).
ln -sfn "$shared_artifacts" "$pkg/deps/artifacts"

log "postinstall: rapid-client.node against $nodedir/include/node"
t0=$SECONDS
# npm passes npm_config_nodedir on to node-gyp (`npm run build:gyp` in postinstall.sh).
if ! (cd "$pkg" && npm_config_nodedir="$nodedir" PATH="$(dirname "$node_bin"):$PATH" \
  nice ./scripts/postinstall.sh >"$dest/postinstall.log" 2>&1); then
  tail -n 40 "$dest/postinstall.log" >&2
  exit 1
fi
log "postinstall took $((SECONDS - t0)) s"
[ -f "$pkg/rapid-client.node" ] || { log "rapid-client.node was not built"; exit 1; }
# Proof it loads in the Node it was built for. (Its static client is built from
# getenv("AWS_LAMBDA_RUNTIME_API") when the addon loads and aborts when unset.)
AWS_LAMBDA_RUNTIME_API=127.0.0.1:9 "$node_bin" -e 'process.dlopen({ exports: {} }, process.argv[1])' "$pkg/rapid-client.node"
printf '%s' "$key" >"$dest/.complete"
echo "$pkg"
