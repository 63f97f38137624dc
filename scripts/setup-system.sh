#!/usr/bin/env bash
# Installs the system libraries pagesim builds against, from Debian's packages.
# Idempotent: does nothing when they are all present.
set -euo pipefail
pkgs=(libspdlog-dev nlohmann-json3-dev libboost-context-dev libgtest-dev cmake g++ make)
missing=()
for p in "${pkgs[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
# cmake may come from pip instead of Debian; accept any cmake on PATH.
if command -v cmake >/dev/null 2>&1; then
  missing=("${missing[@]/cmake}")
fi
missing=($(printf '%s\n' "${missing[@]}" | grep -v '^$' || true))
if ((${#missing[@]} == 0)); then
  exit 0
fi
echo "installing system packages: ${missing[*]}"
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"
