#!/usr/bin/env bash
# Fetches Debian's own kernel image (the one linux-image-amd64 depends on:
# built without CONFIG_INTEGRITY_TRUSTED_KEYRING, so IMA reads the userspace
# keyrings _ima and _evm) and prints a folder laid out as kernel.sh's:
# bzImage, .config, release. Cached in $ANCHORD_LAB_CACHE/distro-PACKAGE-VERSION/.
# The package is downloaded and unpacked, never installed.
set -euo pipefail
source "$(dirname "$0")/common.sh"

package=$(apt-cache show linux-image-amd64 2>/dev/null |
    sed -n 's/^Depends: \(linux-image-[0-9][^ ,]*\).*/\1/p' | head -1)
[[ -n $package ]] || lab_die "distro-kernel.sh: apt knows no linux-image-amd64 (run apt-get update)"
version=$(apt-cache show "$package" | sed -n 's/^Version: //p' | head -1)
out=$lab_cache/distro-$package-$version
if [[ -f $out/bzImage ]]; then
    lab_say "distribution kernel: cached $out"
    echo "$out"
    exit 0
fi
out_tmp=$out.tmp.$$
mkdir -p "$out_tmp/deb"
lab_say "distribution kernel: downloading $package $version"
# Into a folder apt's sandbox user may not write: download as root.
(cd "$out_tmp" && apt-get download -qq -o APT::Sandbox::User=root "$package=$version" >/dev/null)
dpkg-deb -x "$out_tmp"/*.deb "$out_tmp/deb"
release=${package#linux-image-}
cp "$out_tmp/deb/boot/vmlinuz-$release" "$out_tmp/bzImage"
cp "$out_tmp/deb/boot/config-$release" "$out_tmp/.config"
echo "$release" >"$out_tmp/release"
printf 'package=%s\nversion=%s\njobs=0\nseconds=0\n' "$package" "$version" >"$out_tmp/build-facts"
rm -rf "$out_tmp/deb" "$out_tmp"/*.deb
mv -T "$out_tmp" "$out" 2>/dev/null || rm -rf "$out_tmp"
echo "$out"
