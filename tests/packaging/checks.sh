# shellcheck shell=bash
# Sourced by the packaging checks that report every failure and go on to
# the next check: after `checks NAME`, `fail MESSAGE` prints and
# remembers a failure in `status`, `pass MESSAGE` prints a passed check.

# shellcheck disable=SC2034  # `status` is the caller's exit status
checks() {
    checks_name=$1
    status=0
}
fail() {
    echo "$checks_name: $*" >&2
    # shellcheck disable=SC2034
    status=1
}
pass() { echo "$checks_name: ok: $*"; }
