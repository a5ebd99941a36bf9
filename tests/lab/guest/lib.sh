# The guest tests' helpers (busybox sh). Sourced by the stage scripts.
#
# Every outcome is one line on the console that the host parses:
#   LAB test ID pass|fail|skip DETAIL
#   LAB agree KEYRING CERT PREDICTED REAL yes|no
#   LAB row KEYRING CERT PREDICTED REAL yes|no   (the user mode's table)
#   LAB info KEY VALUE
# Nothing else a test prints starts with "LAB ".

LAB=/lab
CERTS=$LAB/certs

lab_line() { echo "LAB $*"; }
pass() { lab_line test "$1" pass "${2:-}"; }
fail() { lab_line test "$1" fail "${2:-}"; }
skip() { lab_line test "$1" skip "${2:-}"; }
info() { lab_line info "$1" "$2"; }
# mark PHASE: the guest's uptime when PHASE begins, for the report's timings.
mark() { lab_line info "uptime.${STAGE:-boot}.$1" "$(cut -d' ' -f1 /proc/uptime)"; }

# check ID DETAIL COMMAND...: pass when COMMAND succeeds.
check() {
    id=$1 detail=$2
    shift 2
    if "$@"; then pass "$id" "$detail"; else fail "$id" "$detail"; fi
}

# keyctl prints strerror's text; the tests speak errno names. glibc's
# messages are fixed English text (the guest has no locale).
errno_name() {
    case $1 in
    *"Required key not available"*) echo ENOKEY ;;
    *"Key was rejected by service"*) echo EKEYREJECTED ;;
    *"Key has been revoked"*) echo EKEYREVOKED ;;
    *"Key has expired"*) echo EKEYEXPIRED ;;
    *"Bad message"*) echo EBADMSG ;;
    *"Invalid argument"*) echo EINVAL ;;
    *"No such file or directory"*) echo ENOENT ;;
    *"Package not installed"*) echo ENOPKG ;;
    *"Permission denied"*) echo EACCES ;;
    *"Operation not permitted"*) echo EPERM ;;
    *"Operation not supported"*) echo EOPNOTSUPP ;;
    *"Message too long"*) echo EMSGSIZE ;;
    *"Accessing a corrupted shared library"*) echo ELIBBAD ;;
    *"Cannot allocate memory"*) echo ENOMEM ;;
    *"File exists"*) echo EEXIST ;;
    *"Disk quota exceeded"*) echo EDQUOT ;;
    *"Value too large"*) echo EOVERFLOW ;;
    *"Numerical result out of range"*) echo ERANGE ;;
    *"Unknown error "*) echo "E${1##*Unknown error }" ;;
    *) echo "EUNKNOWN" ;;
    esac
}

# The serial of a kernel keyring by name, from /proc/keys; empty if absent.
keyring_serial() {
    awk -v name="$1" '$8 == "keyring" && $9 == name":" { print $1 }' /proc/keys | head -1 |
        while read -r hex; do printf '%d\n' "0x$hex"; done
}

# link KEYRING_NAME FILE: add the certificate to the keyring as the kernel
# sees it. Sets LINK_SERIAL (on success) and LINK_RESULT: "accepted" or
# an errno name.
link() {
    LINK_SERIAL='' LINK_RESULT=''
    ring=$(keyring_serial "$1")
    if [ -z "$ring" ]; then
        LINK_RESULT=NO-KEYRING
        return 1
    fi
    if out=$(keyctl padd asymmetric "" "$ring" <"$2" 2>&1); then
        LINK_SERIAL=$out
        LINK_RESULT=accepted
        return 0
    fi
    LINK_RESULT=$(errno_name "$out")
    return 1
}

# unlink_key SERIAL KEYRING_NAME
unlink_key() {
    keyctl unlink "$1" "$(keyring_serial "$2")" >/dev/null 2>&1
}

# try_link KEYRING_NAME FILE: link, then unlink at once. Sets LINK_RESULT.
try_link() {
    if link "$1" "$2"; then unlink_key "$LINK_SERIAL" "$1"; fi
    return 0
}

# The descriptions of a keyring's keys, one a line.
keyring_keys() {
    ring=$(keyring_serial "$1")
    [ -n "$ring" ] || return 0
    for k in $(keyctl rlist "$ring" 2>/dev/null); do
        keyctl rdescribe "$k" 2>/dev/null | cut -d';' -f5-
    done
}

# has_key KEYRING_NAME TEXT: a key of the keyring has TEXT in its description.
has_key() {
    keyring_keys "$1" | grep -qF -- "$2"
}

# expect_link ID KEYRING_NAME FILE EXPECTED DETAIL: link and compare with
# EXPECTED ("accepted" or an errno name); unlinks what it linked.
expect_link() {
    id=$1 ring=$2 file=$3 want=$4 detail=$5
    try_link "$ring" "$file"
    if [ "$LINK_RESULT" = "$want" ]; then
        pass "$id" "$detail: $LINK_RESULT"
    else
        fail "$id" "$detail: expected $want, the kernel answered $LINK_RESULT"
    fi
}

# --- anchord on a private bus -------------------------------------------

BUS=unix:path=/run/lab/bus
ANCHORD_LOG=/run/lab/anchord.log

have_anchord() { command -v anchord >/dev/null && command -v anchorctl >/dev/null; }

ctl() { anchorctl --bus-address "$BUS" "$@"; }

# mount_state: the state disk (virtio, ext2) at /state; 1 when there is none.
mount_state() {
    grep -q ' /state ' /proc/mounts && return 0
    [ -b /dev/vda ] || return 1
    mount -t ext2 /dev/vda /state
}

# start_anchord POLICY: dbus-daemon, then anchord on the system keyrings with
# its state in /state/anchord; waits (bounded) until it answers.
start_anchord() {
    mkdir -p /run/lab /run/lab/anchors.d /state/anchord
    if [ -z "$DBUS_PID" ]; then
        dbus-daemon --config-file=/lab/guest/bus.conf --nofork --nopidfile &
        DBUS_PID=$!
        n=0
        while [ ! -S /run/lab/bus ] && [ $n -lt 100 ]; do sleep 0.1; n=$((n + 1)); done
    fi
    anchord --bus-address "$BUS" --policy "$1" --state-dir /state/anchord \
        --dropin-dir /run/lab/anchors.d >>"$ANCHORD_LOG" 2>&1 &
    ANCHORD_PID=$!
    n=0
    while [ $n -lt 300 ]; do
        ctl status >/dev/null 2>&1 && return 0
        kill -0 "$ANCHORD_PID" 2>/dev/null || break
        sleep 0.1
        n=$((n + 1))
    done
    echo "anchord did not answer on $BUS; its log:"
    sed 's/^/  anchord: /' "$ANCHORD_LOG"
    return 1
}

stop_anchord() {
    [ -n "$ANCHORD_PID" ] || return 0
    kill "$ANCHORD_PID" 2>/dev/null
    n=0
    while kill -0 "$ANCHORD_PID" 2>/dev/null && [ $n -lt 100 ]; do sleep 0.1; n=$((n + 1)); done
    ANCHORD_PID=''
}

show_anchord_log() {
    echo "--- anchord's log"
    sed 's/^/  anchord: /' "$ANCHORD_LOG" 2>/dev/null
}

# raw_enroll FILE KEYRING: the D-Bus Enroll call alone, with busctl.
raw_enroll() {
    # shellcheck disable=SC2046 # one argument per byte
    busctl --address="$BUS" call io.github.anchord1 /io/github/anchord1 io.github.anchord1.Manager \
        Enroll 'aysa{sv}' "$(wc -c <"$1")" $(od -An -tu1 -v "$1") "$2" 0 >/dev/null 2>&1
}

# jq_test ID DETAIL JSON FILTER: pass when FILTER is true of JSON.
jq_test() {
    if printf '%s' "$3" | jq -e "$4" >/dev/null 2>&1; then pass "$1" "$2"; else
        fail "$1" "$2; got: $(printf '%s' "$3" | tr '\n' ' ' | cut -c1-600)"
    fi
}

# anchord's prediction of the kernel's answer, from `anchorctl verify
# --json`: the kernel's answer anchord reports for the first result. anchord
# measures it on a scratch keyring and applies itself the kernel rules a
# scratch keyring cannot carry (kernel.digsig, kernel.ca-enforcement): the
# lab reads the answer as it is, so that a mistake there is a disagreement.
# "accepted", an errno name, or what stood in the way of an answer.
ANSWER='if .kernel.accepted then "accepted" elif (.kernel.error // "") != "" then .kernel.error else "not-asked" end'
PREDICT='
  if ((.results // []) | length) == 0 then "none:" + ((.error.name // "no-result") | split(".") | last)
  else .results[0] | '"$ANSWER"' end'

# predict_many LOGICAL OUT FILE...: one anchorctl run (one Verify call per
# DER file) instead of one per file, which under TCG costs about half a
# second each. Writes OUT: "FILE PREDICTION" per result; a file without a
# result is absent (the document's error, if any, in OUT.error).
predict_many() {
    ring=$1 out=$2
    shift 2
    ctl verify "$@" --keyring "$ring" --json >"$out.json" 2>/dev/null
    jq -r '.results[]? | "\(.file) \('"$ANSWER"')"' "$out.json" >"$out" 2>/dev/null
    jq -r '"none:" + ((.error.name // "no-result") | split(".") | last)' "$out.json" >"$out.error" 2>/dev/null ||
        echo no-answer >"$out.error"
}

# predict LOGICAL_KEYRING FILE: prints anchord's prediction.
predict() {
    ctl verify "$2" --keyring "$1" --json 2>/dev/null | jq -r "$PREDICT" 2>/dev/null || echo "no-answer"
}

# compare_row KIND LOGICAL KERNEL_NAME NAME FILE [PREDICTIONS]: prediction
# (from PREDICTIONS, a predict_many OUT, or asked now), then the real link
# (undone at once); prints the row; 0 when they agree.
compare_row() {
    if [ -n "${6:-}" ]; then
        p=$(awk -v f="$5" '$1 == f { print $2; exit }' "$6")
        [ -n "$p" ] || p=$(cat "$6.error")
    else
        p=$(predict "$2" "$5")
    fi
    [ -n "$p" ] || p=no-answer
    try_link "$3" "$5"
    if [ "$p" = "$LINK_RESULT" ]; then
        lab_line "$1" "$2" "$4" "$p" "$LINK_RESULT" yes
        return 0
    fi
    lab_line "$1" "$2" "$4" "$p" "$LINK_RESULT" no
    return 1
}
