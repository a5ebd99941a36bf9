# Debian's own kernel (no CONFIG_INTEGRITY_TRUSTED_KEYRING): IMA and EVM read
# the userspace keyrings _ima and _evm, which nobody guards. anchord creates
# them and, as the policy asks (create_restriction builtin_and_secondary_trusted),
# has the kernel restrict _ima to keys vouched for by builtin and secondary.
# The lab's roots are not in this kernel: Debian's builtin keys are.
DISTRO_TESTS="distro.anchord-start distro.anchord-discovery distro.ima-created
distro.ima-rogue-kernel distro.ima-lab-leaf-kernel distro.verify-predicts"

distro_main() {
    # Debian builds CONFIG_INTEGRITY_MACHINE_KEYRING: .machine exists (empty
    # without UEFI and MOK).
    for ring in .builtin_trusted_keys .secondary_trusted_keys .platform .blacklist .machine; do
        if [ -n "$(keyring_serial "$ring")" ]; then pass "distro.present.${ring#.}" "$ring exists"; else
            fail "distro.present.${ring#.}" "$ring is missing"; fi
    done
    for ring in .ima .evm _ima _evm; do
        if [ -z "$(keyring_serial "$ring")" ]; then pass "distro.absent.${ring#.}" "$ring is absent before anchord starts"; else
            fail "distro.absent.${ring#.}" "$ring exists before anchord starts"; fi
    done
    if ! have_anchord; then
        for t in $DISTRO_TESTS; do skip "$t" "anchord and anchorctl are not in the initramfs"; done
        return 0
    fi
    mkdir -p /state
    mount -t tmpfs tmpfs /state
    if ! start_anchord /lab/policy.json; then
        fail distro.anchord-start "anchord did not start on Debian's kernel"
        return 0
    fi
    pass distro.anchord-start "anchord runs on Debian's own kernel"
    list=$(ctl list --json 2>&1)
    jq_test distro.anchord-discovery "anchord maps ima to _ima and evm to _evm, guarded by the kernel" "$list" '
        (.keyrings | map({key: .name, value: .}) | from_entries) as $k
        | $k.ima.kernel_name == "_ima" and $k.ima.present and $k.ima.guarded
          and $k.evm.kernel_name == "_evm" and $k.builtin.present and $k.secondary.present'
    if [ -n "$(keyring_serial _ima)" ]; then pass distro.ima-created "anchord created _ima"; else
        fail distro.ima-created "there is no _ima after anchord started"; fi
    # The kernel itself now refuses what neither builtin nor secondary vouches for.
    expect_link distro.ima-rogue-kernel _ima "$CERTS/rogue.der" ENOKEY "a rogue linked into _ima with keyctl"
    expect_link distro.ima-lab-leaf-kernel _ima "$CERTS/leaf-rsa.der" ENOKEY \
        "a leaf of the lab root, which this kernel does not trust, linked into _ima with keyctl"
    out=$(ctl verify "$CERTS/rogue.der" --keyring ima --json 2>&1)
    jq_test distro.verify-predicts "anchorctl verify predicts the kernel's ENOKEY for the rogue in _ima" "$out" \
        '.results[0].kernel.error == "ENOKEY" and .accepted == false'
    stop_anchord
    show_anchord_log
}

distro_main
