#!/usr/bin/env bash
# Install an official Node.js binary from the npm registry packages
# node-linux-<arch>@<major> into .cache/node/<arch>-<major>/ and print the path
# of its `node` binary. Idempotent: does nothing but print the path if present.
#
#   scripts/fetch-node.sh 22          # x64, -> .cache/node/x64-22/bin/node
#   scripts/fetch-node.sh 24 x64
#   scripts/fetch-node.sh 22 arm64    # run with qemu-aarch64-static (scripts/setup-arm64.sh)
set -euo pipefail

usage() { echo "usage: $0 <version-major> [x64|arm64]" >&2; exit 2; }
[ $# -ge 1 ] && [ $# -le 2 ] || usage
major="$1"
arch="${2:-x64}"
[[ "$major" =~ ^[0-9]+$ ]] || usage
case "$arch" in
  x64|amd64|x86_64) arch=x64 ;;
  arm64|aarch64) arch=arm64 ;;
  *) usage ;;
esac

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dest="$root/.cache/node/$arch-$major"
bin="$dest/bin/node"

if [ -x "$bin" ] && [ -f "$dest/.complete" ]; then
  echo "$bin"
  exit 0
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

pkg="node-linux-$arch@$major"
echo "[fetch-node] npm pack $pkg" >&2
tarball="$(cd "$tmp" && npm pack "$pkg" --ignore-scripts --loglevel=error 2>"$tmp/npm.err" | tail -n1)" || true
if [ -z "$tarball" ] || [ ! -f "$tmp/$tarball" ]; then
  echo "[fetch-node] npm pack $pkg failed:" >&2
  cat "$tmp/npm.err" >&2
  exit 1
fi
mkdir -p "$tmp/x"
tar -xzf "$tmp/$tarball" -C "$tmp/x"
[ -f "$tmp/x/package/bin/node" ] || { echo "[fetch-node] $pkg has no bin/node" >&2; exit 1; }
chmod 0755 "$tmp/x/package/bin/node"

# Atomic-ish replace: build next to the destination, then rename.
mkdir -p "$(dirname "$dest")"
rm -rf "$dest.tmp.$$"
mv "$tmp/x/package" "$dest.tmp.$$"
# World-readable so tests running as an unprivileged uid can execute it.
chmod -R a+rX "$dest.tmp.$$"
touch "$dest.tmp.$$/.complete"
rm -rf "$dest"
mv "$dest.tmp.$$" "$dest"
echo "$bin"
