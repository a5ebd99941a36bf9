#!/usr/bin/env bash
# Installs what the lab needs from Debian's archive: qemu, the kernel source,
# the kernel's build tools, the guest's userland. Installs only what is
# missing. Usage: deps.sh [--uefi] (adds OVMF and sbsign for the .machine stage)
set -euo pipefail
source "$(dirname "$0")/common.sh"

packages=(
    qemu-system-x86 "$lab_source_package" busybox-static keyutils jq
    make gcc flex bison bc libelf-dev libssl-dev gawk cpio xz-utils openssl
    e2fsprogs dbus-daemon systemd
)
if [[ ${1:-} == --uefi ]]; then
    packages+=(ovmf sbsigntool)
fi
missing=()
for p in "${packages[@]}"; do
    [[ -n $(lab_package_version "$p") ]] || missing+=("$p")
done
if ((${#missing[@]})); then
    lab_say "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
