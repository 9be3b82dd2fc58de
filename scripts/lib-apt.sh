# Sourced by scripts/setup-*.sh: shared apt helpers. Expects LOG_TAG to be set.
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

log() { printf '[%s] %s\n' "$LOG_TAG" "$*" >&2; }

# True when package $1 is installed. With multiarch a bare name matches every
# architecture (libsodium-dev and libsodium-dev:arm64), so a bare name is
# checked for the native architecture first, then as-is (Architecture: all).
installed() {
  local st
  case "$1" in
    *:*) st="$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" || return 1 ;;
    *) st="$(dpkg-query -W -f='${Status}' "$1:$(dpkg --print-architecture)" 2>/dev/null)" ||
         st="$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" || return 1 ;;
  esac
  [ "$st" = "install ok installed" ]
}

# Sets the array `missing` to those of the given packages that are not installed.
find_missing() {
  missing=()
  local p
  for p in "$@"; do
    installed "$p" || missing+=("$p")
  done
}
