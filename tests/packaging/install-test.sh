#!/usr/bin/env bash
# The Debian package on a real system bus with a real polkit (issue 8):
#
#   install-test.sh SOURCE_DIR [PACKAGE.deb]
#
# Builds the .deb (packaging/build-deb.sh) unless one is given, checks its
# file list against the RPM spec, installs it with apt-get, starts the system
# bus and polkitd, and then:
#   - `anchorctl status` activates anchord through D-Bus activation (no
#     systemd here, so the activation file's Exec= runs /usr/sbin/anchord),
#     in sandbox mode set by /etc/anchord/anchord.conf, trusting a root CA
#     made here with openssl;
#   - root enrolls an intermediate CA signed by that root into secondary;
#   - a user made for the test is refused (exit status 4);
#   - with the package's sample polkit rule in place for its group
#     (anchord-admin), the same user enrolls another one, with no password,
#     and is still refused a removal (exit status 4);
#   - systemd-analyze verify passes on the installed unit;
#   - purging the package leaves none of its files behind.
# Everything it started or made is stopped and removed on exit, whatever
# happens.
#
# It needs root, apt-get, and a machine where anchord is not installed and no
# system bus runs (it starts its own): otherwise it is skipped (status 77).
# Exit status: 0 passed; 1 failed; 77 skipped.
set -euo pipefail

source_dir=$(cd "${1:?usage: $0 SOURCE_DIR [PACKAGE.deb]}" && pwd)
deb=${2:-}

step() { printf '\n=== install-test: %s\n' "$*"; }
fail() {
    printf 'install-test: FAILED: %s\n' "$*" >&2
    exit 1
}
skip() {
    printf 'install-test: skipped: %s\n' "$*" >&2
    exit 77
}

[[ $(id -u) -eq 0 ]] || skip "needs root (it installs a package, adds a user, starts the system bus)"
for tool in apt-get dpkg-query dbus-daemon dbus-send openssl runuser useradd keyctl pkcheck systemd-analyze; do
    command -v "$tool" >/dev/null || skip "$tool is not installed"
done
polkitd=
for candidate in /usr/libexec/polkitd /usr/lib/polkit-1/polkitd; do
    [[ -x $candidate ]] && polkitd=$candidate && break
done
[[ -n $polkitd ]] || skip "polkitd is not installed"
if dbus-send --system --print-reply --dest=org.freedesktop.DBus / org.freedesktop.DBus.GetId \
    >/dev/null 2>&1; then
    skip "a system bus is already running; this test starts and stops its own"
fi
if [[ $(dpkg-query -W -f '${Status}' anchord 2>/dev/null || true) == *" installed" ]]; then
    fail "anchord is already installed; remove it (apt-get purge anchord) before this test"
fi
for file in /etc/anchord/anchord.conf /etc/polkit-1/rules.d/50-anchord-admin.rules; do
    [[ ! -e $file ]] || fail "$file exists already; this test writes it and would remove it"
done

bus=(--system --print-reply)
user=anchordit$$
rule=/etc/polkit-1/rules.d/50-anchord-admin.rules
config=/etc/anchord/anchord.conf

work=$(mktemp -d /tmp/anchord-install-test.XXXXXX)
chmod 0755 "$work"

# What cleanup must undo, set as each thing is done.
installed=0 bus_pid='' polkit_pid='' anchord_pid='' made_user=0 made_group=0 made_rule=0 made_config=0
made_run_dbus=0

# Stops a process by pid after checking it still runs PROGRAM (a pid can be
# reused), and waits until it is gone or a zombie of a parent we do not own.
stop_process() {
    local pid=$1 program=$2 state
    [[ -n $pid && -e /proc/$pid ]] || return 0
    [[ $(readlink -f "/proc/$pid/exe" 2>/dev/null) == "$(readlink -f "$program")" ]] || return 0
    kill -TERM "$pid" 2>/dev/null || return 0
    for _ in $(seq 100); do
        state=$(awk '{ print $3 }' "/proc/$pid/stat" 2>/dev/null || echo gone)
        [[ $state == gone || $state == Z ]] && return 0
        sleep 0.1
    done
    echo "install-test: $program ($pid) ignored SIGTERM; killing it" >&2
    kill -KILL "$pid" 2>/dev/null || true
}

# The unique connection's pid of a bus name, or nothing.
owner_pid() {
    dbus-send "${bus[@]}" --dest=org.freedesktop.DBus / \
        org.freedesktop.DBus.GetConnectionUnixProcessID "string:$1" 2>/dev/null |
        awk '/uint32/ { print $2 }' || true
}

stop_daemons() {
    if [[ -n $bus_pid ]]; then
        # Whoever the bus activated behind our back (a second polkitd).
        local activated
        activated=$(owner_pid org.freedesktop.PolicyKit1)
        [[ -n $activated && $activated != "$polkit_pid" ]] && stop_process "$activated" "$polkitd"
        local current
        current=$(owner_pid io.github.anchord1)
        [[ -n $current && $current != "$anchord_pid" ]] && stop_process "$current" /usr/sbin/anchord
    fi
    stop_process "$anchord_pid" /usr/sbin/anchord
    anchord_pid=''
    stop_process "$polkit_pid" "$polkitd"
    [[ -n $polkit_pid ]] && { wait "$polkit_pid" 2>/dev/null || true; }
    polkit_pid=''
    stop_process "$bus_pid" "$(command -v dbus-daemon)"
    bus_pid=''
    # dbus-daemon leaves its socket behind; a stale one makes the dbus
    # package's trigger try to reach a bus that is gone.
    if ((made_run_dbus)); then
        rm -f /run/dbus/system_bus_socket /run/dbus/pid
    fi
}

cleanup() {
    local status=$?
    set +e
    if ((status != 0)); then
        for log in "$work"/polkitd.log "$work"/dbus-daemon.log; do
            [[ -s $log ]] && printf '\n--- %s\n' "$log" >&2 && cat "$log" >&2
        done
    fi
    stop_daemons
    ((made_rule)) && rm -f "$rule"
    ((made_config)) && rm -f "$config"
    if ((installed)); then
        DEBIAN_FRONTEND=noninteractive apt-get purge -y anchord >/dev/null 2>&1 ||
            echo "install-test: apt-get purge anchord failed; remove it by hand" >&2
    fi
    ((made_user)) && userdel "$user"
    ((made_group)) && groupdel anchord-admin
    rm -rf "$work"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Polls COMMAND until it succeeds, at most 20 s.
wait_for() {
    local what=$1
    shift
    for _ in $(seq 200); do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    fail "timed out waiting for $what"
}

fingerprint() {
    printf 'sha256:%s' "$(openssl x509 -in "$1" -outform DER | sha256sum | cut -d' ' -f1)"
}

# --- the package --------------------------------------------------------

if [[ -z $deb ]]; then
    step "building the package"
    deb=$("$source_dir/packaging/build-deb.sh" "$work/dist")
fi
[[ -f $deb ]] || fail "no package at '$deb'"
deb=$(cd "$(dirname "$deb")" && pwd)/$(basename "$deb")

step "the package's files against packaging/rpm/anchord.spec"
"$source_dir/tests/packaging/file-lists.sh" "$source_dir/packaging/rpm/anchord.spec" --deb "$deb"

step "apt-get install $deb"
installed=1
DEBIAN_FRONTEND=noninteractive apt-get install -y "$deb"
[[ $(dpkg-query -W -f '${Status}' anchord) == "install ok installed" ]] ||
    fail "dpkg does not report anchord installed"
dpkg-query -W -f '${Conffiles}\n' anchord | grep -q '^ /etc/anchord/policy.json ' ||
    fail "/etc/anchord/policy.json is not a conffile"
unit=$(dpkg -L anchord | grep '/systemd/system/anchord\.service$') ||
    fail "the package ships no anchord.service"
# The maintainer scripts: tmpfiles.d ran, and the unit is enabled for the
# next boot even though systemd does not run here (deb-systemd-helper).
[[ $(stat -c '%a %U' /var/lib/anchord) == "700 root" ]] ||
    fail "/var/lib/anchord is not 0700 root after installation"
[[ -L /etc/systemd/system/multi-user.target.wants/anchord.service ]] ||
    fail "anchord.service is not enabled"
# Where systemd runs (/run/systemd/system exists) the maintainer scripts
# start, stop and reload the unit; every such call is behind that test, so
# here they only enabled it...
unguarded_systemd_calls() {
    awk '
        /^[[:space:]]*if[[:space:]]/ { depth++; guard[depth] = ($0 ~ /-d \/run\/systemd\/system/) }
        /^[[:space:]]*fi([[:space:]]|;|$)/ { depth--; next }
        /(^|[[:space:]])(systemctl|deb-systemd-invoke)[[:space:]]/ {
            ok = 0
            for (i = 1; i <= depth; i++) if (guard[i]) ok = 1
            if (!ok) print FILENAME ":" FNR ": " $0
        }
    ' "$@"
}
postinst=/var/lib/dpkg/info/anchord.postinst
grep -q "deb-systemd-invoke .*'anchord.service'" "$postinst" ||
    fail "$postinst never starts anchord.service, even where systemd runs"
scripts=()
for script in postinst prerm postrm; do
    [[ -f /var/lib/dpkg/info/anchord.$script ]] && scripts+=("/var/lib/dpkg/info/anchord.$script")
done
unguarded=$(unguarded_systemd_calls "${scripts[@]}")
[[ -z $unguarded ]] || fail "maintainer scripts call systemd where it may not run: $unguarded"
# ...and, systemd not running, nothing was started behind our back.
for exe in /proc/[0-9]*/exe; do
    [[ $(readlink "$exe" 2>/dev/null) != /usr/sbin/anchord ]] ||
        fail "installing the package started anchord (${exe%/exe}) where systemd does not run"
done
# The man pages where man finds them, and the completion where bash-completion
# loads it from (by the command's name), completing a subcommand.
for page in "8 anchord" "1 anchorctl"; do
    # shellcheck disable=SC2086  # section and name, two words
    man -w $page >/dev/null || fail "man cannot find the installed page $page"
done
completion=/usr/share/bash-completion/completions/anchorctl
[[ -f $completion ]] || fail "no bash completion at $completion"
completed=$(bash -c '. "$1"; COMP_WORDS=(anchorctl enr); COMP_CWORD=1; COMP_LINE="anchorctl enr"
    COMP_POINT=${#COMP_LINE}; _anchorctl; printf "%s\n" "${COMPREPLY[@]}"' _ "$completion")
[[ $completed == enroll ]] || fail "the installed completion completes 'anchorctl enr' to '$completed'"

# --- a root of trust for the sandbox -----------------------------------

step "making a root CA and two intermediates with openssl"
pki=$work/pki
mkdir -p "$pki" "$work/anchors" "$work/state" "$work/anchors.d"
cat >"$pki/ext.cnf" <<'EOF'
[intermediate]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
EOF
openssl req -x509 -newkey rsa:2048 -sha256 -nodes -days 30 -keyout "$pki/root.key" \
    -out "$work/anchors/root.pem" -subj "/CN=anchord install test root" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    2>/dev/null
for name in by-root by-user; do
    openssl req -new -newkey rsa:2048 -sha256 -nodes -keyout "$pki/$name.key" \
        -out "$pki/$name.csr" -subj "/CN=anchord install test intermediate $name" 2>/dev/null
    openssl x509 -req -in "$pki/$name.csr" -CA "$work/anchors/root.pem" -CAkey "$pki/root.key" \
        -set_serial "0x$(openssl rand -hex 8)" -days 30 -sha256 \
        -extfile "$pki/ext.cnf" -extensions intermediate -out "$work/$name.pem" 2>/dev/null
done
chmod 0644 "$work"/*.pem

step "sandbox configuration in $config"
made_config=1
cat >"$config" <<EOF
# Written by anchord's tests/packaging/install-test.sh; removed when it ends.
sandbox = $work/anchors
state-dir = $work/state
dropin-dir = $work/anchors.d
bus = system
EOF

# --- the system bus and polkit --------------------------------------------

step "starting the system bus and polkitd"
if [[ ! -d /run/dbus ]]; then
    mkdir -p /run/dbus
    made_run_dbus=1
fi
if [[ -f /run/dbus/pid ]]; then
    # No bus answered above: a pid file left by one that died.
    made_run_dbus=1
    rm -f /run/dbus/pid /run/dbus/system_bus_socket
fi
# In a session keyring of its own: anchord, activated by the bus, keeps its
# sandbox keyrings there, and they go away with the bus.
bus_pid=$(keyctl session - dbus-daemon --system --fork --print-pid 2>"$work/dbus-daemon.log")
[[ $bus_pid =~ ^[0-9]+$ ]] || fail "dbus-daemon did not start"
made_run_dbus=1
wait_for "the system bus" dbus-send "${bus[@]}" --dest=org.freedesktop.DBus / org.freedesktop.DBus.GetId

"$polkitd" --no-debug >"$work/polkitd.log" 2>&1 &
polkit_pid=$!
polkit_owned() {
    dbus-send "${bus[@]}" --dest=org.freedesktop.DBus / org.freedesktop.DBus.NameHasOwner \
        string:org.freedesktop.PolicyKit1 | grep -q 'boolean true'
}
wait_for "polkitd on the bus" polkit_owned
[[ $(owner_pid org.freedesktop.PolicyKit1) == "$polkit_pid" ]] ||
    fail "org.freedesktop.PolicyKit1 is not owned by the polkitd started here"

# polkitd read the installed actions: an administrator, kept, for an active
# session; no for inactive and remote ones.
for action in enroll remove seal reconcile reload-policy; do
    details=$(pkaction --verbose --action-id "io.github.anchord1.$action") ||
        fail "polkitd does not know io.github.anchord1.$action"
    for want in "implicit any: *no" "implicit inactive: *no" "implicit active: *auth_admin_keep"; do
        grep -q "$want\$" <<<"$details" ||
            fail "io.github.anchord1.$action: no '$want' in pkaction's answer: $details"
    done
done

# --- activation -----------------------------------------------------------

step "anchorctl status activates anchord"
anchorctl status || fail "anchorctl status exited with $?"
anchord_pid=$(owner_pid io.github.anchord1)
[[ -n $anchord_pid ]] || fail "io.github.anchord1 has no owner after anchorctl status"
[[ $(readlink -f "/proc/$anchord_pid/exe") == "$(readlink -f /usr/sbin/anchord)" ]] ||
    fail "io.github.anchord1 is owned by $(readlink "/proc/$anchord_pid/exe"), not /usr/sbin/anchord"
mode=$(dbus-send "${bus[@]}" --dest=io.github.anchord1 /io/github/anchord1 \
    org.freedesktop.DBus.Properties.Get string:io.github.anchord1.Manager string:Mode |
    sed -n 's/.*string "\(.*\)"/\1/p')
[[ $mode == sandbox ]] || fail "anchord runs in mode '$mode', not sandbox"

enrolled() {
    anchorctl --json list secondary | grep -q -F "${1#sha256:}"
}

step "root enrolls an intermediate CA into secondary"
anchorctl enroll --keyring secondary "$work/by-root.pem" || fail "root's anchorctl enroll exited with $?"
enrolled "$(fingerprint "$work/by-root.pem")" || fail "the root-enrolled certificate is not listed"

# --- an unprivileged user, then a member of anchord-admin -------------------

# polkitd says yes to a process of the user (the pkcheck itself) once a
# rule lets it.
rule_active() {
    runuser -u "$user" -- sh -c 'exec pkcheck --action-id io.github.anchord1.enroll --process $$'
}

step "user $user is refused"
useradd --no-create-home --shell /usr/sbin/nologin "$user"
made_user=1
! rule_active || fail "polkit lets $user enroll before any rule does"
status=0
runuser -u "$user" -- anchorctl enroll --keyring secondary "$work/by-user.pem" || status=$?
((status == 4)) || fail "anchorctl as $user exited with $status, not 4 (not authorized)"
! enrolled "$(fingerprint "$work/by-user.pem")" || fail "the refused certificate was enrolled"

step "with the sample polkit rule, anchord-admin member $user enrolls"
if ! getent group anchord-admin >/dev/null; then
    groupadd anchord-admin
    made_group=1
fi
usermod -a -G anchord-admin "$user"
made_rule=1
install -m 0644 /usr/share/doc/anchord/examples/50-anchord-admin.rules.sample "$rule"
# polkitd reloads its rules when the folder changes.
wait_for "polkitd to load $rule" rule_active
runuser -u "$user" -- anchorctl enroll --keyring secondary "$work/by-user.pem" ||
    fail "anchorctl enroll as $user in anchord-admin exited with $?"
enrolled "$(fingerprint "$work/by-user.pem")" || fail "the certificate $user enrolled is not listed"
# The rule grants enroll alone: polkit still refuses the user a removal.
status=0
runuser -u "$user" -- anchorctl remove --keyring secondary "$(fingerprint "$work/by-user.pem")" ||
    status=$?
((status == 4)) || fail "anchorctl remove as $user exited with $status, not 4 (not authorized)"
enrolled "$(fingerprint "$work/by-user.pem")" || fail "the refused removal removed the certificate"

# --- the installed unit -----------------------------------------------------

step "systemd-analyze verify $unit"
systemd-analyze verify "$unit" || fail "systemd-analyze verify $unit exited with $?"

# --- removal ------------------------------------------------------------------

step "purging the package"
stop_daemons
rm -f "$config" "$rule"
made_config=0 made_rule=0
DEBIAN_FRONTEND=noninteractive apt-get purge -y anchord
installed=0
for path in /usr/sbin/anchord /usr/bin/anchorctl "$unit" /etc/anchord /var/lib/anchord \
    /etc/systemd/system/multi-user.target.wants/anchord.service /etc/systemd/system/anchord.service \
    /usr/share/dbus-1/system-services/io.github.anchord1.service; do
    [[ ! -e $path && ! -L $path ]] || fail "$path is left after apt-get purge anchord"
done

step "passed"
