# The .machine stage: the lab kernel, signed, booted by OVMF under Secure
# Boot. The first boot (uefi-seed) writes MokListRT, a machine owner's CA
# and a signing leaf of it, through efivarfs; the second (uefi), with the
# same variable store, finds the kernel's routing of them at boot: the CA
# in .machine, the leaf in .platform (CONFIG_INTEGRITY_CA_MACHINE_KEYRING),
# and asks anchord whether it predicted that routing.

EFIVARS=/sys/firmware/efi/efivars
SECURE_BOOT=$EFIVARS/SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c
MOKLIST=$EFIVARS/MokListRT-605dab50-e046-4300-abb6-3dd810dd8b23

# uefi_ready ID: efivarfs mounted and Secure Boot on; fails ID otherwise.
uefi_ready() {
    if [ ! -d /sys/firmware/efi ]; then
        fail "$1" "the kernel was not booted through UEFI (no /sys/firmware/efi)"
        return 1
    fi
    grep -q " $EFIVARS " /proc/mounts || mount -t efivarfs efivarfs $EFIVARS
    # The variable is 4 bytes of attributes, then one byte: 1 when enforcing.
    # (Read whole: efivarfs files do not seek.)
    if [ "$(od -An -tu1 -v $SECURE_BOOT 2>/dev/null | awk '{ for (i = 1; i <= NF; i++) b[n++] = $i } END { print b[4] }')" = 1 ]; then
        pass "$1" "booted through OVMF with Secure Boot on (the signed kernel was verified)"
        return 0
    fi
    fail "$1" "Secure Boot is off: SecureBoot variable \"$(od -An -tx1 $SECURE_BOOT 2>&1 | tr '\n' ' ')\""
    return 1
}

uefi_seed_main() {
    uefi_ready uefi.seed.secure-boot || return 0
    info uefi.platform-keys "$(keyring_keys .platform | tr '\n' '|')"
    if [ -n "$(keyring_keys .machine)" ]; then
        fail uefi.seed.machine-empty ".machine holds keys before MokListRT was written: $(keyring_keys .machine | tr '\n' '|')"
    else
        pass uefi.seed.machine-empty ".machine is empty before MokListRT is written"
    fi
    # efivarfs takes a variable in one write: attributes and data together.
    rm -f $MOKLIST 2>/dev/null
    if dd if=$CERTS/moklist.efivar of=$MOKLIST bs=65536 2>/dev/null && cmp -s $MOKLIST $CERTS/moklist.efivar; then
        pass uefi.seed.moklist "MokListRT written (NV|BS|RT): the MOK CA and the MOK leaf"
    else
        fail uefi.seed.moklist "MokListRT could not be written or read back"
    fi
}

uefi_main() {
    uefi_ready uefi.secure-boot || return 0
    info uefi.machine-keys "$(keyring_keys .machine | tr '\n' '|')"
    info uefi.platform-keys "$(keyring_keys .platform | tr '\n' '|')"
    check uefi.moklist "MokListRT survived into the second boot" cmp -s $MOKLIST $CERTS/moklist.efivar
    check uefi.machine-ca "the kernel put the MOK CA in .machine" has_key .machine "lab machine owner CA"
    if has_key .platform "lab machine owner signing leaf" && ! has_key .machine "lab machine owner signing leaf"; then
        pass uefi.platform-leaf "CA enforcement: the kernel put the MOK leaf in .platform, not .machine"
    else
        fail uefi.platform-leaf "the MOK leaf: .machine: $(keyring_keys .machine | tr '\n' '|') .platform: $(keyring_keys .platform | tr '\n' '|')"
    fi
    expect_link uefi.secondary-via-machine .secondary_trusted_keys $CERTS/mok-sub-ca.der accepted \
        "a sub-CA of the MOK CA into .secondary_trusted_keys (.machine vouches for it)"

    if ! have_anchord; then
        for t in anchord.uefi.start anchord.uefi.discovery anchord.uefi.route-ca anchord.uefi.route-leaf \
            anchord.uefi.secondary-via-machine; do skip "$t" "anchord and anchorctl are not in the initramfs"; done
        return 0
    fi
    mount -t tmpfs tmpfs /state
    if ! start_anchord /lab/policy.json; then
        fail anchord.uefi.start "anchord did not start"
        return 0
    fi
    pass anchord.uefi.start "anchord answers on a private bus, on the system keyrings"
    list=$(ctl list machine --json 2>&1)
    jq_test anchord.uefi.discovery "anchord finds .machine holding the MOK CA" "$list" \
        '[.keyrings[] | select(.name == "machine") | .present and ([.keys[].description | contains("lab machine owner CA")] | any)] == [true]'
    out=$(ctl verify $CERTS/mok-ca.der --keyring machine --json 2>&1)
    jq_test anchord.uefi.route-ca "anchord's verdict for the MOK CA: .machine's CA enforcement passes, it stays in machine" \
        "$out" '.results[0] as $r | ([$r.checks[] | select(.id == "kernel.ca-enforcement" and .outcome == "pass")] | length == 1) and $r.belongs_in == null'
    out=$(ctl verify $CERTS/mok-leaf.der --keyring machine --json 2>&1)
    jq_test anchord.uefi.route-leaf "anchord's verdict for the MOK leaf: CA enforcement fails, it belongs in platform" \
        "$out" '.results[0] as $r | ([$r.checks[] | select(.id == "kernel.ca-enforcement" and .outcome == "fail")] | length == 1) and $r.belongs_in == "platform"'
    p=$(predict secondary $CERTS/mok-sub-ca.der)
    if [ "$p" = accepted ]; then
        pass anchord.uefi.secondary-via-machine "anchord predicts the kernel's acceptance of the MOK sub-CA into secondary"
    else
        fail anchord.uefi.secondary-via-machine "anchord predicts $p for the MOK sub-CA into secondary; the kernel accepts it"
    fi
    stop_anchord
    show_anchord_log
}

case $STAGE in
uefi-seed) uefi_seed_main ;;
uefi) uefi_main ;;
esac
