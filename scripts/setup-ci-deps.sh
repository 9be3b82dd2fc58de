#!/usr/bin/env bash
# Idempotent, quiet install of the Debian packages CI needs to build and test
# secret-scope on x64: a C/C++ toolchain and python3 for node-gyp, libsodium
# (headers + static libsodium.a) with pkg-config, BearSSL (libbearssl-dev: headers
# + static libbearssl.a, for EC and AES-GCM), util-linux for setpriv and
# prlimit (test/helpers/restricted.ts), `file` for binary checks, libssl-dev for
# the benchmark's SHA-NI floor (bench/floor.c against OpenSSL's SHA256), and cmake +
# xz-utils for scripts/build-ric.sh (AWS's aws-lambda-ric builds its bundled
# aws-lambda-cpp with cmake from .tar.xz sources; its curl ships a generated
# ./configure, so no autoconf/automake/libtool).
#
#   scripts/setup-ci-deps.sh            # x64 build/test deps
#   scripts/setup-ci-deps.sh --arm64    # also run scripts/setup-arm64.sh
#
# Does nothing (and needs no network) when everything is installed.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PKGS=(build-essential g++ make python3 pkg-config libsodium-dev libbearssl-dev libssl-dev util-linux file ca-certificates cmake xz-utils)

with_arm64=0
for a in "$@"; do
  case "$a" in
    --arm64) with_arm64=1 ;;
    *) echo "usage: $0 [--arm64]" >&2; exit 2 ;;
  esac
done

LOG_TAG=setup-ci-deps
# shellcheck source=scripts/lib-apt.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib-apt.sh"

find_missing "${PKGS[@]}"

if [ "${#missing[@]}" -gt 0 ]; then
  log "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt_install() { $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; }
  # Package lists may be missing or stale on a fresh machine: update and retry.
  if ! apt_install 2>/dev/null; then
    $SUDO apt-get update -qq
    apt_install
  fi
fi

for c in cc c++ make python3 pkg-config setpriv prlimit cmake xz; do
  command -v "$c" >/dev/null || { log "missing command after install: $c"; exit 1; }
done
pkg-config --exists libsodium || { log "pkg-config cannot find libsodium"; exit 1; }
node "$here/../native/bearssl-lib.cjs" x64 >/dev/null || { log "no static libbearssl.a"; exit 1; }

if [ "$with_arm64" -eq 1 ]; then
  bash "$here/setup-arm64.sh"
fi
