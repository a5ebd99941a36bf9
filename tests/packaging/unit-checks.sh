#!/usr/bin/env bash
# anchord.service stays confined and valid:
#
#   unit-checks.sh security UNIT_FILE [MAX_EXPOSURE]
#       systemd-analyze security --offline=true: the overall exposure must be
#       MAX_EXPOSURE (default 1.0, "SAFE") or less.
#   unit-checks.sh verify UNIT_FILE [ANCHORD_BINARY]
#       systemd-analyze verify: no complaint. Where anchord is not installed,
#       the unit is verified as a copy whose ExecStart= names ANCHORD_BINARY
#       (the build's), or, without one, with only the "not executable"
#       complaint about the missing /usr/sbin/anchord forgiven. The man pages
#       of Documentation= are checked where they are installed.
#
# Exit status: 0 passed; 1 failed; 2 bad usage.
set -euo pipefail

usage() {
    echo "usage: $0 security UNIT_FILE [MAX_EXPOSURE] | verify UNIT_FILE [ANCHORD_BINARY]" >&2
    exit 2
}
(($# >= 2)) || usage
check=$1
unit=$2
[[ -r $unit ]] || {
    echo "unit-checks: cannot read '$unit'" >&2
    exit 2
}
command -v systemd-analyze >/dev/null || {
    echo "unit-checks: systemd-analyze is not installed" >&2
    exit 2
}

case $check in
security)
    max=${3:-1.0}
    report=$(systemd-analyze security --offline=true --no-pager "$unit" 2>&1) || true
    exposure=$(sed -n 's/.*Overall exposure level for [^:]*: \([0-9][0-9.]*\).*/\1/p' <<<"$report")
    if [[ -z $exposure ]]; then
        printf '%s\n' "$report" >&2
        echo "unit-checks: systemd-analyze security printed no overall exposure for $unit" >&2
        exit 1
    fi
    if awk -v e="$exposure" -v m="$max" 'BEGIN { exit !(e + 0 <= m + 0) }'; then
        echo "unit-checks: $unit exposure $exposure (at most $max)"
        exit 0
    fi
    printf '%s\n' "$report" >&2
    echo "unit-checks: $unit exposure $exposure is above $max" >&2
    exit 1
    ;;
verify)
    binary=${3:-}
    work=$(mktemp -d /tmp/anchord-unit-checks.XXXXXX)
    trap 'rm -rf "$work"' EXIT
    # The copy keeps the unit's name: verify derives the unit name from it.
    copy=$work/$(basename "$unit")
    cp "$unit" "$copy"
    exec_start=$(sed -n 's/^ExecStart=[-@:+!]*\([^ ]*\).*/\1/p' "$copy" | head -n 1)
    forgive=
    if [[ ! -x $exec_start ]]; then
        if [[ -n $binary && -x $binary ]]; then
            sed -i "s|^ExecStart=\([-@:+!]*\)$exec_start|ExecStart=\1$binary|" "$copy"
        else
            forgive="Command $exec_start is not executable"
        fi
    fi
    man=yes
    while IFS= read -r page; do
        # "man:anchord(8)" -> "8 anchord"
        if [[ $page =~ ^man:([^\(]+)\(([0-9a-z]+)\)$ ]]; then
            man -w "${BASH_REMATCH[2]}" "${BASH_REMATCH[1]}" >/dev/null 2>&1 || man=no
        fi
    done < <(sed -n 's/^Documentation=//p' "$copy" | tr ' ' '\n')
    rc=0
    output=$(systemd-analyze verify --man="$man" "$copy" 2>&1) || rc=$?
    complaints=$(grep -v '^$' <<<"$output" || true)
    if [[ -n $forgive ]]; then
        complaints=$(grep -v -F -e "$forgive" <<<"$complaints" || true)
    fi
    if [[ -n $complaints ]] || { ((rc != 0)) && [[ -z $forgive ]]; }; then
        printf '%s\n' "$output" >&2
        echo "unit-checks: systemd-analyze verify $unit failed (status $rc)" >&2
        exit 1
    fi
    note=
    [[ $man == no ]] && note=", man pages not installed so not checked"
    [[ -n $forgive ]] && note+=", anchord not installed so ExecStart= not checked"
    [[ $forgive == "" && $binary != "" && ! -x $exec_start ]] && note+=", ExecStart= checked as $binary"
    echo "unit-checks: systemd-analyze verify $unit passed$note"
    exit 0
    ;;
*) usage ;;
esac
