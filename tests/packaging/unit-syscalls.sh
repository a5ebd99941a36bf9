#!/usr/bin/env bash
# anchord.service is confined "as far as it still works" (issue 8): its
# SystemCallFilter= lines keep what anchord needs and drop the rest.
#
#   unit-syscalls.sh UNIT_FILE [ANCHORD ANCHORCTL POLICY_FILE]
#
# With the unit alone: the allow list left by the unit's SystemCallFilter=
# lines (groups expanded with systemd-analyze syscall-filter, deny lines
# taken away) must hold the keyring API (add_key, keyctl, request_key) and
# what a D-Bus client needs, and must not hold init_module, mount, reboot,
# ptrace, bpf.
#
# With the binaries too: anchord runs under strace, in sandbox mode on a
# private dbus-daemon inside a private session keyring, through start-up
# with a drop-in certificate, verify, enroll, list, seal, remove,
# reconcile, a policy reload (SIGHUP) and SIGTERM, with the drift timer set
# to one second so that it fires during the run; every
# system call it made must be in that allow list (or among those systemd
# always allows), and every socket it opened must be AF_UNIX.
#
# Exit status: 0 passed; 1 a check failed; 2 bad usage or a missing tool;
# 77 strace (for the traced run) is not installed.
set -euo pipefail

usage() {
    echo "usage: $0 UNIT_FILE [ANCHORD ANCHORCTL POLICY_FILE]" >&2
    exit 2
}
(($# == 1 || $# == 4)) || usage
unit=$(realpath "$1")
[[ -r $unit ]] || usage
command -v systemd-analyze >/dev/null || {
    echo "unit-syscalls: systemd-analyze is not installed" >&2
    exit 2
}

# shellcheck source=tests/packaging/checks.sh
source "$(dirname "${BASH_SOURCE[0]}")/checks.sh"
checks unit-syscalls

# --- the allow list the unit leaves ----------------------------------------------

# Expands a syscall group (and the groups it names) into system call names;
# `expanded` holds the groups already listed for the current filter line.
declare -A expanded=()
expand() {
    local item=$1 line listing
    if [[ $item != @* ]]; then
        printf '%s\n' "$item"
        return
    fi
    [[ -z ${expanded[$item]:-} ]] || return 0
    expanded[$item]=1
    listing=$(systemd-analyze syscall-filter --no-pager "$item") || {
        echo "unit-syscalls: systemd-analyze syscall-filter $item failed" >&2
        exit 2
    }
    # First line: the group's name; then "# comment" lines and members.
    while IFS= read -r line; do
        line=${line#"${line%%[![:space:]]*}"}
        [[ -z $line || $line == \#* || $line == "$item" ]] && continue
        expand "$line"
    done <<<"$listing"
}

work=$(mktemp -d /tmp/anchord-unit-syscalls.XXXXXX)
chmod 0755 "$work"
pids=()
# shellcheck disable=SC2317  # run by the EXIT trap
cleanup() {
    local pid
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

first=1
: >"$work/allowed"
: >"$work/denied"
while IFS= read -r filter; do
    # A group met in the allow list must be expanded again in a deny list.
    expanded=()
    if [[ $filter == ~* ]]; then
        ((first == 0)) || fail "the first SystemCallFilter= is a deny list; anchord wants an allow list"
        for item in ${filter#\~}; do expand "$item"; done >>"$work/denied"
    else
        for item in $filter; do expand "$item"; done >>"$work/allowed"
    fi
    first=0
done < <(sed -n 's/^SystemCallFilter=//p' "$unit")
((first == 0)) || fail "$unit has no SystemCallFilter="
comm -23 <(sort -u "$work/allowed") <(sort -u "$work/denied") >"$work/effective"
# systemd allows these whatever the filter says (systemd.exec(5)).
printf '%s\n' execve exit exit_group getrlimit rt_sigreturn sigreturn >>"$work/effective"
sort -u -o "$work/effective" "$work/effective"

for call in add_key keyctl request_key socket connect sendmsg recvmsg getsockopt; do
    if grep -qx "$call" "$work/effective"; then
        pass "$call survives SystemCallFilter="
    else
        fail "SystemCallFilter= leaves out $call, which anchord needs"
    fi
done
for call in init_module mount reboot ptrace bpf; do
    if grep -qx "$call" "$work/effective"; then
        fail "SystemCallFilter= allows $call"
    else
        pass "$call is filtered"
    fi
done

(($# == 4)) || {
    ((status == 0)) && echo "unit-syscalls: passed (no traced run: no binaries given)"
    exit "$status"
}

# --- what anchord really calls ---------------------------------------------------

anchord=$(realpath "$2")
anchorctl=$(realpath "$3")
policy=$(realpath "$4")
for file in "$anchord" "$anchorctl"; do
    [[ -x $file ]] || {
        echo "unit-syscalls: '$file' is not executable" >&2
        exit 2
    }
done
for tool in strace openssl dbus-daemon keyctl; do
    command -v "$tool" >/dev/null || {
        echo "unit-syscalls: $tool is not installed; the traced run is skipped" >&2
        exit 77
    }
done

# The sandbox keyrings live under the session keyring: a private one, gone
# when this script ends.
if [[ -z ${ANCHORD_UNIT_SYSCALLS_IN_SESSION:-} ]]; then
    trap - EXIT
    rm -rf "$work"
    ANCHORD_UNIT_SYSCALLS_IN_SESSION=1 exec keyctl session - "$0" "$@"
fi

pki=$work/pki
mkdir -p "$pki" "$work/anchors" "$work/state" "$work/dropin/secondary"
cat >"$pki/ext.cnf" <<'EOF'
[ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
EOF
openssl req -x509 -newkey rsa:2048 -sha256 -nodes -days 30 -keyout "$pki/root.key" \
    -out "$pki/root.pem" -subj "/CN=anchord unit-syscalls root" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    2>/dev/null
openssl x509 -in "$pki/root.pem" -outform DER -out "$work/anchors/root.der"
for name in dropin enrolled; do
    openssl req -new -newkey rsa:2048 -sha256 -nodes -keyout "$pki/$name.key" \
        -out "$pki/$name.csr" -subj "/CN=anchord unit-syscalls $name" 2>/dev/null
    openssl x509 -req -in "$pki/$name.csr" -CA "$pki/root.pem" -CAkey "$pki/root.key" \
        -set_serial "0x$(openssl rand -hex 8)" -days 30 -sha256 \
        -extfile "$pki/ext.cnf" -extensions ca -out "$pki/$name.pem" 2>/dev/null
done
cp "$pki/dropin.pem" "$work/dropin/secondary/"
fingerprint="sha256:$(openssl x509 -in "$pki/enrolled.pem" -outform DER | sha256sum | cut -d' ' -f1)"

# shellcheck source=scripts/lib/private-bus.sh
source "$(dirname "${BASH_SOURCE[0]}")/../../scripts/lib/private-bus.sh"
start_private_bus "$work" || exit 1
: >"$work/anchord.conf"

# LeakSanitizer cannot run under ptrace: in the sanitizer build its check at
# exit would fail the run for a reason that is not anchord's.
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
    strace -f -qq -o "$work/trace" "$anchord" --config "$work/anchord.conf" --policy "$policy" \
    --state-dir "$work/state" --dropin-dir "$work/dropin" --sandbox "$work/anchors" \
    --bus-address "$bus" --drift-interval 1 >"$work/anchord.log" 2>&1 &
strace_pid=$!
pids+=("$strace_pid")

ctl() { "$anchorctl" --bus-address "$bus" "$@" >>"$work/anchorctl.log" 2>&1; }
# Polls COMMAND until it succeeds, at most 60 s (strace slows anchord down).
wait_for() {
    local what=$1
    shift
    for _ in $(seq 600); do
        "$@" && return 0
        kill -0 "$strace_pid" 2>/dev/null || break
        sleep 0.1
    done
    cat "$work/anchord.log" >&2
    echo "unit-syscalls: timed out waiting for $what" >&2
    exit 1
}
wait_for "anchord on the bus" ctl status
anchord_pid=$(awk '/execve\(/ { print $1; exit }' "$work/trace")
[[ $anchord_pid =~ ^[0-9]+$ ]] || {
    echo "unit-syscalls: no execve of anchord in the trace" >&2
    exit 1
}

run() { ctl "$@" || fail "anchorctl $* exited with $?"; }
run verify --keyring secondary "$pki/enrolled.pem"
run enroll --keyring secondary "$pki/enrolled.pem"
run list
run seal evm
run remove --keyring secondary "$fingerprint"
run reconcile
run policy
kill -HUP "$anchord_pid"
# A call after the signal: the reload (handled on the same loop) is done.
run status
kill -TERM "$anchord_pid"
for _ in $(seq 600); do
    kill -0 "$strace_pid" 2>/dev/null || break
    sleep 0.1
done
wait "$strace_pid" || fail "anchord (under strace) did not exit 0 on SIGTERM"

# "PID name(" and "PID <... name resumed>" lines: the calls anchord made.
sed -n -E 's/^[0-9]+ +(<\.\.\. )?([a-z0-9_]+)[( ].*/\2/p' "$work/trace" | sort -u >"$work/used"
[[ -s $work/used ]] || {
    echo "unit-syscalls: strace recorded no system call" >&2
    exit 1
}
if ! grep -qx keyctl "$work/used" || ! grep -qx add_key "$work/used"; then
    fail "the trace holds no keyctl/add_key: the run did not exercise the keyrings"
fi
missing=$(comm -23 "$work/used" "$work/effective")
if [[ -z $missing ]]; then
    pass "all $(wc -l <"$work/used") system calls anchord made are allowed by the unit"
else
    fail "anchord made system calls the unit's SystemCallFilter= refuses: $(tr '\n' ' ' <<<"$missing")"
fi
families=$(grep -oE '\bsocket\(AF_[A-Z0-9]+' "$work/trace" | sed 's/socket(//' | sort -u)
if [[ -z $families || $families == AF_UNIX ]]; then
    pass "every socket anchord opened is AF_UNIX"
else
    fail "anchord opened sockets of families $(tr '\n' ' ' <<<"$families"); the unit allows AF_UNIX only"
fi

((status == 0)) && echo "unit-syscalls: passed"
exit "$status"
