#!/usr/bin/env bash
# Makes the command-line tools that Kiln's tests use as yardsticks available:
#
#   - pdftotext (Debian package poppler-utils): the reference text that the
#     PDF extraction quality test (extract/pdftext) scores against.
#   - espeak-ng (Debian package espeak-ng): speech synthesis for audio tests.
#
# A tool already on PATH is left as it is. A missing one is installed with
# apt-get on Debian/Ubuntu (through sudo when not root). Safe to run any
# number of times; CI runs it before the tests. It prints what it did.
set -euo pipefail

log() { printf 'tools: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo "$@"
  else die "need root to run: $*"; fi
}

APT_UPDATED=""

apt_install() { # package...
  command -v apt-get >/dev/null 2>&1 || die "apt-get not found; install $* yourself"
  if [ -z "$APT_UPDATED" ]; then
    log "updating the package lists"
    as_root apt-get update -qq
    APT_UPDATED=1
  fi
  log "installing $*"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# ensure COMMAND PACKAGE installs PACKAGE when COMMAND is not on PATH.
ensure() {
  local cmd=$1 pkg=$2
  if command -v "$cmd" >/dev/null 2>&1; then
    log "$cmd already installed ($(command -v "$cmd"))"
    return 0
  fi
  apt_install "$pkg"
  command -v "$cmd" >/dev/null 2>&1 || die "$pkg was installed but $cmd is still not on PATH"
  log "$cmd installed from $pkg ($(command -v "$cmd"))"
}

ensure pdftotext poppler-utils
ensure espeak-ng espeak-ng
log "ready"
