#!/usr/bin/env bash
# anchorctl runs once per file in provisioning scripts, so what it loads at
# start is paid on every call: it must not load libcrypto, which it never
# calls (1.2 of its 3.2 ms from exec to exit, measured with perf stat).
# Fails if the binary names libcrypto among its needed libraries again.
#
#   needed_libraries_test.sh BUILD_DIR
set -euo pipefail
anchorctl=${1:?usage: needed_libraries_test.sh BUILD_DIR}/client/anchorctl
[[ -x $anchorctl ]] || { echo "needed libraries test: no $anchorctl" >&2; exit 1; }
needed=$(readelf -d "$anchorctl" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
[[ -n $needed ]] || { echo "needed libraries test: readelf lists no NEEDED entry" >&2; exit 1; }
if grep -q '^libcrypto' <<<"$needed"; then
    echo "needed libraries test: anchorctl loads libcrypto:" $needed >&2
    exit 1
fi
echo "anchorctl loads:" $needed
