# The user mode: for the user's intermediates (into secondary) and leaves
# (into ima, evm and secondary), anchord's prediction beside the kernel's
# real answer. The user's roots are compiled into this kernel.
user_main() {
    if ! have_anchord; then
        skip user.table "anchord and anchorctl are not in the initramfs"
        return 0
    fi
    mkdir -p /state
    mount -t tmpfs tmpfs /state
    if ! start_anchord /lab/policy.json; then
        fail user.table "anchord did not start"
        return 0
    fi
    rows=0 agreed=0
    # Intermediates go into secondary and stay there, so that leaves may
    # chain through them; one may need another, so try until none is added.
    pending=$(ls /lab/user/intermediates 2>/dev/null)
    mkdir -p /tmp/refused
    round=0
    while [ -n "$pending" ] && [ $round -lt 8 ]; do
        round=$((round + 1))
        left=''
        for f in $pending; do
            p=$(predict secondary "/lab/user/intermediates/$f")
            if link .secondary_trusted_keys "/lab/user/intermediates/$f"; then
                row_result "$p" accepted secondary "intermediates/$f"
            else
                left="$left $f"
                echo "$p $LINK_RESULT" >"/tmp/refused/$f"
            fi
        done
        # No intermediate was added in this round: none of the rest can be.
        [ "$(echo $left)" != "$(echo $pending)" ] || break
        pending=$left
    done
    for f in $pending; do
        read -r p r <"/tmp/refused/$f"
        row_result "$p" "$r" secondary "intermediates/$f"
    done
    for path in /lab/user/leaves/*; do
        [ -f "$path" ] || continue
        f=${path##*/}
        for ring in ima evm secondary; do
            case $ring in secondary) kname=.secondary_trusted_keys ;; *) kname=.$ring ;; esac
            rows=$((rows + 1))
            compare_row row "$ring" "$kname" "leaves/$f" "/lab/user/leaves/$f" && agreed=$((agreed + 1))
        done
    done
    if [ $rows -gt 0 ] && [ $agreed -eq $rows ]; then
        pass user.table "anchord predicted the kernel in $agreed of $rows cases"
    else
        fail user.table "anchord predicted the kernel in $agreed of $rows cases"
    fi
    stop_anchord
}

# row_result PREDICTED REAL KEYRING NAME
row_result() {
    rows=$((rows + 1))
    if [ "$1" = "$2" ]; then
        agreed=$((agreed + 1))
        lab_line row "$3" "$4" "$1" "$2" yes
    else
        lab_line row "$3" "$4" "$1" "$2" no
    fi
}

user_main
