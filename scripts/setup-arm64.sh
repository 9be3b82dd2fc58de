#!/usr/bin/env bash
# Idempotent apt setup for cross-compiling to and running arm64 (aarch64) on an
# x86_64 Debian host: cross g++, arm64 libsodium/libbearssl/libc/libstdc++ (multiarch, so
# /lib/ld-linux-aarch64.so.1 exists for dynamically linked arm64 binaries such
# as the official Node build), and qemu-user-static.
#
# Run arm64 programs with `qemu-aarch64-static PROGRAM` and do NOT set
# QEMU_LD_PREFIX: mixing the cross toolchain's libc (/usr/aarch64-linux-gnu)
# with the multiarch one makes Node hang.
set -euo pipefail

PKGS=(g++-aarch64-linux-gnu libsodium-dev:arm64 libbearssl-dev:arm64 libc6:arm64 libstdc++6:arm64 qemu-user-static)

LOG_TAG=setup-arm64
# shellcheck source=scripts/lib-apt.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib-apt.sh"

find_missing "${PKGS[@]}"

if [ "${#missing[@]}" -eq 0 ]; then
  log "all packages already installed"
else
  if ! dpkg --print-foreign-architectures | grep -qx arm64; then
    log "adding arm64 architecture"
    $SUDO dpkg --add-architecture arm64
  fi
  log "apt-get update"
  $SUDO apt-get update -qq
  log "installing: ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Sanity checks.
command -v aarch64-linux-gnu-gcc >/dev/null || { log "aarch64-linux-gnu-gcc missing"; exit 1; }
command -v qemu-aarch64-static >/dev/null || { log "qemu-aarch64-static missing"; exit 1; }
[ -e /lib/ld-linux-aarch64.so.1 ] || { log "/lib/ld-linux-aarch64.so.1 missing (libc6:arm64)"; exit 1; }
log "ok"
