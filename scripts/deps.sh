#!/usr/bin/env bash
# Installs what building and testing anchord needs from Debian's archive.
# Safe to run again: it installs only what is missing.
set -euo pipefail
packages=(
    build-essential cmake ninja-build pkg-config git
    libssl-dev openssl nlohmann-json3-dev libkeyutils-dev keyutils zlib1g-dev
    libsdbus-c++-dev libsdbus-c++-bin libsystemd-dev libcli11-dev
    googletest libgtest-dev dbus polkitd systemd jq clang-format strace man-db
)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
    echo "deps: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
