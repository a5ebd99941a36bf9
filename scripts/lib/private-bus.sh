# shellcheck shell=bash
# Sourced: a dbus-daemon of our own, for running anchord without the
# system bus (the demo, the system call trace of the packaging tests).
#
#   start_private_bus DIR   writes DIR/bus.conf, starts dbus-daemon on
#                           DIR/bus.socket, adds its pid to the caller's
#                           `pids` array, sets `bus` to its address and
#                           returns once the socket is there (status 1 if
#                           it never comes).

start_private_bus() {
    local dir=$1
    cat >"$dir/bus.conf" <<CONF
<busconfig>
  <type>session</type>
  <listen>unix:path=$dir/bus.socket</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
CONF
    dbus-daemon --config-file="$dir/bus.conf" --nofork --nopidfile &
    pids+=($!)
    # shellcheck disable=SC2034  # the caller's
    bus=unix:path=$dir/bus.socket
    for _ in $(seq 300); do
        [[ -S $dir/bus.socket ]] && return 0
        sleep 0.05
    done
    echo "dbus-daemon made no socket at $dir/bus.socket" >&2
    return 1
}
