# shellcheck shell=bash disable=SC2034
# Shared by the lab's scripts: where things live, logging, hashing.
# Sourced, never run.

lab_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
repo_dir=$(cd "$lab_dir/../.." && pwd)

# The cache lives outside the clone so that a fresh clone (CI) reuses a
# kernel built before. Everything in it is keyed by what produced it.
lab_cache=${ANCHORD_LAB_CACHE:-/var/cache/anchord-lab}

# The kernel source package the main lab kernel is built from.
lab_source_package=${ANCHORD_LAB_SOURCE:-linux-source-6.12}

lab_say() { printf '\033[1mlab:\033[0m %s\n' "$*" >&2; }
lab_die() {
    printf 'lab: error: %s\n' "$*" >&2
    exit 2
}

# sha256 of the named files' contents and names, in the order given.
lab_hash_files() {
    local f
    for f in "$@"; do
        printf '%s\n' "$(basename "$f")"
        cat "$f"
    done | sha256sum | cut -c1-16
}

# The installed version of a Debian package, or nothing.
lab_package_version() {
    dpkg-query -W -f='${Status} ${Version}' "$1" 2>/dev/null | awk '/install ok installed/ {print $4}'
}
