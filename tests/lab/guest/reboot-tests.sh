# The second boot: a fresh kernel (empty .ima, .evm, secondary), the state
# disk of the first boot, and anchord putting back what it enrolled.
REBOOT_TESTS="reboot.empty-before reboot.anchord-start reboot.reapplied reboot.compliant reboot.seal-kept"

reboot_main() {
    if ! have_anchord; then
        for t in $REBOOT_TESTS; do skip "$t" "anchord and anchorctl are not in the initramfs"; done
        return 0
    fi
    if ! mount_state || [ ! -d /state/anchord ]; then
        for t in $REBOOT_TESTS; do fail "$t" "the first boot's state disk is missing"; done
        return 0
    fi
    if has_key .ima "lab IMA signing key behind A" || has_key .secondary_trusted_keys "lab intermediate A"; then
        fail reboot.empty-before "the new kernel already holds the lab's keys"
    else
        pass reboot.empty-before "the new kernel's .ima, .evm and secondary hold none of the enrolled keys"
    fi
    if ! start_anchord /lab/policy.json; then
        fail reboot.anchord-start "anchord did not start with the saved state"
        return 0
    fi
    pass reboot.anchord-start "anchord started with the first boot's state"
    if has_key .secondary_trusted_keys "lab intermediate A" && has_key .ima "lab IMA signing key behind A" &&
        has_key .evm "lab EVM signing key"; then
        pass reboot.reapplied "intermediate A is back in secondary, the leaves in .ima and .evm"
    else
        fail reboot.reapplied "missing after restart: secondary: $(keyring_keys .secondary_trusted_keys | tr '\n' '|'
        ) ima: $(keyring_keys .ima | tr '\n' '|') evm: $(keyring_keys .evm | tr '\n' '|')"
    fi
    status=$(ctl status --json 2>&1)
    jq_test reboot.compliant "anchord is compliant: no drift after re-applying" "$status" \
        '.compliant == true and (.drift | length) == 0'
    list=$(ctl list --json 2>&1)
    jq_test reboot.seal-kept "anchord's own seal on ima survived the reboot" "$list" \
        '.keyrings[] | select(.name == "ima") | .sealed == true'
    stop_anchord
    show_anchord_log
}

reboot_main
