#!/usr/bin/env bash
# Builds a lab kernel, or finds it in the cache, and prints the folder that
# holds its bzImage, config and build facts.
#
#   kernel.sh --anchors DIR [--fragment FILE]... [--source PACKAGE]
#
# The kernel is `make tinyconfig` plus the fragments, with the roots of
# DIR/roots.pem compiled into .builtin_trusted_keys and DIR/blacklist-hashes
# as the blacklist hash list. It is cached in
#   $ANCHORD_LAB_CACHE/kernel-KEY/  (default /var/cache/anchord-lab)
# where KEY hashes the fragments, the roots, the blacklist, the source
# package's name and version and this recipe: change any and the next run
# builds anew; change none and it boots the kernel built before. The source
# is unpacked once into src/ and objects are kept in build/ so that a
# rebuild is incremental; delete the cache folder to reclaim the space.
# ANCHORD_LAB_JOBS sets make's -j (default: the number of cores).
set -euo pipefail
source "$(dirname "$0")/common.sh"

# Bump when the steps below change what they produce.
recipe=1

anchors=''
fragments=()
package=$lab_source_package
while (($#)); do
    case $1 in
    --anchors) anchors=$2; shift 2 ;;
    --fragment) fragments+=("$2"); shift 2 ;;
    --source) package=$2; shift 2 ;;
    *) lab_die "kernel.sh: unknown argument \"$1\"" ;;
    esac
done
[[ -f $anchors/roots.pem && -f $anchors/blacklist-hashes ]] ||
    lab_die "kernel.sh: \"$anchors\" has no roots.pem and blacklist-hashes (see anchors.sh)"
((${#fragments[@]})) || fragments=("$lab_dir/kernel/lab.config")
version=$(lab_package_version "$package")
[[ -n $version ]] || lab_die "kernel.sh: the package $package is not installed (lib/deps.sh installs it)"
tarball=/usr/src/$package.tar.xz
[[ -f $tarball ]] || lab_die "kernel.sh: $package is installed but $tarball is missing"

key=$( {
    echo "recipe $recipe $package $version"
    lab_hash_files "${fragments[@]}" "$anchors/roots.pem" "$anchors/blacklist-hashes"
} | sha256sum | cut -c1-16)
out=$lab_cache/kernel-$key
if [[ -f $out/bzImage ]]; then
    lab_say "kernel: cached $out ($package $version)"
    echo "$out"
    exit 0
fi

mkdir -p "$lab_cache"
exec 9>"$lab_cache/build.lock"
flock 9 # one build at a time; another run may have built it meanwhile
if [[ -f $out/bzImage ]]; then
    echo "$out"
    exit 0
fi

src=$lab_cache/src/$package-$version
if [[ ! -f $src/Makefile ]]; then
    lab_say "kernel: unpacking $tarball"
    rm -rf "$src.tmp"
    mkdir -p "$src.tmp"
    tar -xf "$tarball" -C "$src.tmp" --strip-components=1
    mv "$src.tmp" "$src"
fi
obj=$lab_cache/build/$package-$version
mkdir -p "$obj"

fragment=$obj/anchord-lab.config
{
    cat "${fragments[@]}"
    printf 'CONFIG_SYSTEM_TRUSTED_KEYS="%s"\n' "$anchors/roots.pem"
    printf 'CONFIG_SYSTEM_BLACKLIST_HASH_LIST="%s"\n' "$anchors/blacklist-hashes"
} >"$fragment"

jobs=${ANCHORD_LAB_JOBS:-$(nproc)}
log=$obj/build.log
lab_say "kernel: building $package $version with -j$jobs (log: $log)"
start=$(date +%s)
{
    make -C "$src" O="$obj" tinyconfig
    "$src/scripts/kconfig/merge_config.sh" -m -O "$obj" "$obj/.config" "$fragment"
    make -C "$src" O="$obj" olddefconfig
} >"$log" 2>&1 || {
    tail -20 "$log" >&2
    lab_die "kernel.sh: configuring the kernel failed (log: $log)"
}

# Kconfig drops what a dependency forbids without a word: say which.
dropped=()
while IFS= read -r line; do
    [[ $line =~ ^(CONFIG_[A-Z0-9_]+)=(.*)$ ]] || continue
    grep -qxF -- "$line" "$obj/.config" || dropped+=("$line")
done <"$fragment"
((${#dropped[@]} == 0)) || lab_die "kernel.sh: the configuration lost ${dropped[*]} (a dependency is missing)"

if ! make -C "$src" O="$obj" -j"$jobs" bzImage >>"$log" 2>&1; then
    grep -E 'error|Error' "$log" | tail -20 >&2
    lab_die "kernel.sh: the kernel build failed (log: $log)"
fi
seconds=$(($(date +%s) - start))

rm -rf "$out.tmp"
mkdir -p "$out.tmp"
cp "$obj/arch/x86/boot/bzImage" "$obj/.config" "$fragment" "$out.tmp/"
make -s -C "$src" O="$obj" kernelrelease >"$out.tmp/release"
cat >"$out.tmp/build-facts" <<FACTS
package=$package
version=$version
jobs=$jobs
seconds=$seconds
bzimage_bytes=$(stat -c %s "$obj/arch/x86/boot/bzImage")
FACTS
mv "$out.tmp" "$out"
lab_say "kernel: built in ${seconds}s with -j$jobs: $out"
echo "$out"
