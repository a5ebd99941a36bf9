#!/usr/bin/env bash
# Builds anchord's Debian package from this source tree and checks it with
# lintian:
#
#   packaging/build-deb.sh [OUTPUT_DIR]      (default: dist/ in the tree)
#
# dpkg-buildpackage wants debian/ at the top of the source tree, and this
# tree keeps it in packaging/debian, so the package is built in a copy: the
# files git knows of, committed or not (ignored ones, such as build
# folders, left out), with packaging/debian as debian/. The .deb, .buildinfo
# and .changes land in OUTPUT_DIR; the path of the .deb is the one line
# printed on standard output (everything else goes to standard error).
#
# The test suite does not run inside the package build (see debian/rules);
# it runs on its own, with scripts/test.sh.
#
# Exit status: 0 built and lintian found no error; 1 otherwise.
set -euo pipefail

say() { printf 'build-deb: %s\n' "$*" >&2; }
die() {
    say "$*"
    exit 1
}

source_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
output_dir=${1:-$source_dir/dist}
mkdir -p "$output_dir"
output_dir=$(cd "$output_dir" && pwd)

# The tools: dpkg-dev, debhelper, lintian. Installed here when missing and
# we may (they are not build dependencies of anchord itself).
missing=()
command -v dpkg-buildpackage >/dev/null || missing+=(dpkg-dev)
command -v dh >/dev/null || missing+=(debhelper)
command -v lintian >/dev/null || missing+=(lintian)
if ((${#missing[@]})); then
    if [[ $(id -u) -ne 0 ]]; then
        die "missing ${missing[*]}; install them (apt-get install ${missing[*]}) or run as root"
    fi
    say "installing ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" >&2
fi

changelog=$source_dir/packaging/debian/changelog
version=$(dpkg-parsechangelog -l "$changelog" -S Version)
upstream_version=${version%-*}
arch=$(dpkg-architecture -qDEB_HOST_ARCH)

work=$(mktemp -d /tmp/anchord-deb.XXXXXX)
trap 'rm -rf "$work"' EXIT
tree=$work/anchord-$upstream_version
mkdir "$tree"

say "copying $source_dir to $tree"
if git -C "$source_dir" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    # Tracked files deleted in the work tree are left out, and so is dist/,
    # where earlier packages may lie.
    git -C "$source_dir" ls-files -z --cached --others --exclude-standard |
        while IFS= read -r -d '' file; do
            [[ $file == dist/* ]] && continue
            if [[ -e $source_dir/$file || -L $source_dir/$file ]]; then printf '%s\0' "$file"; fi
        done |
        tar -C "$source_dir" --null --no-recursion -T - -cf - |
        tar -C "$tree" -xf -
else
    tar -C "$source_dir" --exclude=./.git --exclude='./build*' --exclude='./_build*' \
        --exclude=./dist -cf - . | tar -C "$tree" -xf -
fi
rm -rf "$tree/debian"
cp -a "$source_dir/packaging/debian" "$tree/debian"

(cd "$tree" && dpkg-checkbuilddeps) >&2 ||
    die "build dependencies missing (scripts/deps.sh installs them)"

say "dpkg-buildpackage -us -uc -b in $tree"
(
    cd "$tree"
    jobs=$(nproc)
    export DEB_BUILD_OPTIONS="${DEB_BUILD_OPTIONS:+$DEB_BUILD_OPTIONS }nocheck parallel=$jobs"
    dpkg-buildpackage -us -uc -b
) >&2 || die "dpkg-buildpackage failed"

deb_name=anchord_${version}_${arch}.deb
[[ -f $work/$deb_name ]] || die "dpkg-buildpackage made no $deb_name"
for file in "$work"/*.deb "$work"/*.buildinfo "$work"/*.changes; do
    [[ -e $file ]] && mv -f "$file" "$output_dir/"
done
deb=$output_dir/$deb_name

say "lintian $deb"
lintian --fail-on error "$deb" >&2 || die "lintian reports errors in $deb"

printf '%s\n' "$deb"
