#!/usr/bin/env bash
# What issue 8 asks of the files in systemd/, beyond "systemd-analyze likes
# them" (unit-checks.sh) and "they are installed" (file-lists.sh):
#
#   unit-settings.sh SYSTEMD_DIR
#
# - anchord.service: Type=notify, BusName=io.github.anchord1, a non-zero
#   WatchdogSec=, Restart=on-failure; ordered before basic.target without
#   default dependencies (so every service with default dependencies, among
#   them whatever relies on IMA appraisal, starts after it), with a comment
#   saying why; nothing ordered after basic.target in its After=.
# - AF_UNIX is its only address family, and the network is closed
#   (PrivateNetwork=yes, IPAddressDeny=any); its system calls are
#   unit-syscalls.sh's business.
# - io.github.anchord1.service: Name= is the unit's BusName=,
#   SystemdService= is the unit, Exec= runs the unit's ExecStart= program,
#   as root; io.github.anchord1.conf lets root own that same name.
# - anchord.tmpfiles: systemd-tmpfiles --create, into a scratch root, makes
#   /var/lib/anchord 0700 root and the drop-in folders
#   /etc/anchord/anchors.d/{secondary,ima,evm}.
#
# Exit status: 0 passed; 1 a check failed (each failure printed); 2 bad
# usage or a missing tool.
set -euo pipefail

dir=${1:?usage: $0 SYSTEMD_DIR}
# systemd-tmpfiles --root wants an absolute path to the file it reads.
dir=$(cd "$dir" && pwd)
unit=$dir/anchord.service
activation=$dir/io.github.anchord1.service
busconf=$dir/io.github.anchord1.conf
tmpfiles=$dir/anchord.tmpfiles
for file in "$unit" "$activation" "$busconf" "$tmpfiles"; do
    [[ -r $file ]] || {
        echo "unit-settings: cannot read '$file'" >&2
        exit 2
    }
done
for tool in systemd-analyze systemd-tmpfiles; do
    command -v "$tool" >/dev/null || {
        echo "unit-settings: $tool is not installed" >&2
        exit 2
    }
done

# shellcheck source=tests/packaging/checks.sh
source "$(dirname "${BASH_SOURCE[0]}")/checks.sh"
checks unit-settings

# The values of KEY in [SECTION] of an INI-style FILE, one per line, in order.
values() {
    local file=$1 section=$2 key=$3
    awk -v s="[$section]" -v k="$key" '
        /^\[/ { in_s = ($0 == s); next }
        in_s && index($0, k "=") == 1 { print substr($0, length(k) + 2) }
    ' "$file"
}
# The one value of KEY; status 1 (and a message) when there is not exactly
# one. It runs in $(...), so the caller records the failure.
one_value() {
    local got
    got=$(values "$@")
    if [[ $(grep -c '' <<<"$got") -ne 1 || -z $got ]]; then
        echo "unit-settings: $1: [$2] $3= must be set exactly once (found: '${got//$'\n'/ | }')" >&2
        return 1
    fi
    printf '%s\n' "$got"
}
expect_value() {
    local file=$1 section=$2 key=$3 want=$4 got
    got=$(one_value "$file" "$section" "$key") || status=1
    if [[ $got == "$want" ]]; then pass "$key=$want"; else fail "$file: $key='$got', not '$want'"; fi
}

# --- the unit's service settings ---------------------------------------------

expect_value "$unit" Service Type notify
bus_name=$(one_value "$unit" Service BusName) || status=1
if [[ $bus_name == io.github.anchord1 ]]; then
    pass "BusName=$bus_name"
else
    fail "BusName='$bus_name', not io.github.anchord1"
fi
expect_value "$unit" Service Restart on-failure
watchdog=$(one_value "$unit" Service WatchdogSec) || status=1
# systemd reads "30", "30s", "1min 30s"...; 0 or empty turns it off.
if [[ $watchdog =~ ^[1-9][0-9]*(ms|s|sec|min|m)?$ ]]; then
    pass "WatchdogSec=$watchdog"
else
    fail "WatchdogSec='$watchdog' is not a positive time span"
fi

# --- ordering ----------------------------------------------------------------

expect_value "$unit" Unit DefaultDependencies no
before=" $(values "$unit" Unit Before | tr '\n' ' ') "
after=" $(values "$unit" Unit After | tr '\n' ' ') "
if [[ $before == *" basic.target "* ]]; then
    pass "Before= has basic.target"
else
    fail "Before= lacks basic.target: services with default dependencies would not wait for anchord"
fi
for late in basic.target multi-user.target graphical.target dbus.service network.target \
    network-online.target; do
    [[ $after != *" $late "* ]] || fail "After= names $late, which starts after basic.target"
done
# The comment the issue asks for: in [Unit], above the ordering, saying why.
comment=$(awk '/^\[Unit\]/ { u = 1; next } /^\[/ { u = 0 } u && /^#/' "$unit")
if grep -q 'basic\.target' <<<"$comment" && grep -q 'IMA' <<<"$comment"; then
    pass "a comment in [Unit] explains the ordering (IMA, basic.target)"
else
    fail "no comment in [Unit] explains the ordering (one naming IMA and basic.target)"
fi

# --- confinement that still works ------------------------------------------------

# The system calls: unit-syscalls.sh. The network:
expect_value "$unit" Service RestrictAddressFamilies AF_UNIX
expect_value "$unit" Service PrivateNetwork yes
expect_value "$unit" Service IPAddressDeny any

# --- D-Bus activation and the bus policy name the same service ----------------

expect_value "$activation" "D-BUS Service" Name "$bus_name"
expect_value "$activation" "D-BUS Service" SystemdService "$(basename "$unit")"
expect_value "$activation" "D-BUS Service" User root
exec_start=$(one_value "$unit" Service ExecStart) || status=1
exec_start=${exec_start#[-@:+!]}
exec_line=$(one_value "$activation" "D-BUS Service" Exec) || status=1
# Without systemd the bus runs Exec= itself: the same program, with the
# same (no) arguments, so both paths start the same daemon.
if [[ $exec_line == "$exec_start" && $exec_line == /* ]]; then
    pass "Exec=$exec_line is the unit's ExecStart="
else
    fail "Exec='$exec_line' differs from the unit's ExecStart='$exec_start'"
fi
if grep -Eq "<allow[[:space:]]+own=\"$bus_name\"" "$busconf"; then
    pass "$(basename "$busconf") lets an owner have $bus_name"
else
    fail "$(basename "$busconf") does not allow owning $bus_name"
fi

# --- tmpfiles.d --------------------------------------------------------------------

root=$(mktemp -d /tmp/anchord-unit-settings.XXXXXX)
trap 'rm -rf "$root"' EXIT
if systemd-tmpfiles --create --root="$root" "$tmpfiles"; then
    check_dir() {
        local path=$1 want=$2 got
        got=$(stat -c '%a %U %G' "$root$path" 2>/dev/null || echo missing)
        if [[ $got == "$want" ]]; then
            pass "tmpfiles.d makes $path $want"
        else
            fail "tmpfiles.d: $path is '$got', not '$want'"
        fi
    }
    check_dir /var/lib/anchord "700 root root"
    for keyring in secondary ima evm; do
        check_dir "/etc/anchord/anchors.d/$keyring" "755 root root"
    done
else
    fail "systemd-tmpfiles --create $tmpfiles failed"
fi

((status == 0)) && echo "unit-settings: passed"
exit "$status"
