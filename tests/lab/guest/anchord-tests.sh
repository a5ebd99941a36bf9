# anchord on the kernel's system keyrings, driven through anchorctl as a
# user would. Sourced by main.sh after keyctl-tests.sh. Skipped (each test
# reported) when the initramfs has no anchord.

ANCHORD_TESTS="anchord.start anchord.mode anchord.discovery anchord.enroll.secondary
anchord.enroll.ima anchord.enroll.evm anchord.refuse.rogue anchord.refuse.forgery
anchord.refuse.blacklisted anchord.refuse.blacklisted-before-kernel anchord.refuse.ima-ca
anchord.refuse.ima-no-digitalsignature agreement.ima agreement.secondary anchord.seal.ima
anchord.seal.refuses-enroll anchord.seal.drift reboot.state-saved"

skip_all() {
    for t in $ANCHORD_TESTS; do skip "$t" "$1"; done
}

anchord_main() {
    if ! have_anchord; then
        skip_all "anchord and anchorctl are not in the initramfs (not built yet)"
        return 0
    fi
    if mount_state; then STATE_DISK=1; else
        STATE_DISK=''
        mkdir -p /state
        mount -t tmpfs tmpfs /state
    fi
    info anchord "$(anchord --version 2>&1 | head -1)"
    if ! start_anchord /lab/policy.json; then
        fail anchord.start "anchord did not start on the system keyrings"
        return 0
    fi
    pass anchord.start "anchord answers on a private bus, on the system keyrings"

    status=$(ctl status --json 2>&1)
    jq_test anchord.mode "anchord runs on the kernel's own keyrings" "$status" '.mode == "system"'
    list=$(ctl list --json 2>&1)
    jq_test anchord.discovery \
        "anchord finds builtin, secondary, machine, ima, evm, platform present, ima guarded as .ima" \
        "$list" '
        (.keyrings | map({key: .name, value: .}) | from_entries) as $k
        | $k.builtin.present and $k.secondary.present and $k.ima.present and $k.evm.present
          and $k.platform.present and $k.machine.present
          and $k.ima.kernel_name == ".ima" and $k.ima.guarded and $k.evm.kernel_name == ".evm"'

    # Enrollment through anchorctl, then seen by the kernel.
    out=$(ctl enroll $CERTS/inter-a.pem --keyring secondary --json 2>&1)
    if [ $? -eq 0 ] && has_key .secondary_trusted_keys "lab intermediate A"; then
        pass anchord.enroll.secondary "intermediate A enrolled into .secondary_trusted_keys"
    else
        fail anchord.enroll.secondary "intermediate A: $(echo "$out" | tr '\n' ' ' | cut -c1-600)"
    fi
    out=$(ctl enroll $CERTS/enroll-ima.pem --keyring ima --json 2>&1)
    if [ $? -eq 0 ] && has_key .ima "lab IMA signing key behind A"; then
        pass anchord.enroll.ima "a signing leaf behind intermediate A enrolled into .ima"
    else
        fail anchord.enroll.ima "leaf into ima: $(echo "$out" | tr '\n' ' ' | cut -c1-600)"
    fi
    out=$(ctl enroll $CERTS/enroll-evm.pem --keyring evm --json 2>&1)
    if [ $? -eq 0 ] && has_key .evm "lab EVM signing key"; then
        pass anchord.enroll.evm "an ECDSA signing leaf enrolled into .evm"
    else
        fail anchord.enroll.evm "leaf into evm: $(echo "$out" | tr '\n' ' ' | cut -c1-600)"
    fi

    # Refusals: anchorctl enroll fails, nothing is linked, and verify names
    # the kernel's answer or the rule that refused.
    refusal anchord.refuse.rogue rogue "lab signing RSA-2048 SHA-256" \
        '.results[0].kernel.error == "ENOKEY"' "a self-signed rogue: the kernel says ENOKEY"
    refusal anchord.refuse.forgery forgery "lab forged signing key" \
        '.results[0].kernel.error == "EKEYREJECTED"' "a forgery: the kernel says EKEYREJECTED"
    refusal anchord.refuse.blacklisted blacklisted "lab revoked signing key" \
        '[.results[0].checks[] | select(.id == "deny.kernel-blacklist" and .outcome == "fail")] | length == 1' \
        "a blacklisted certificate: deny.kernel-blacklist fails"
    # The kernel logs every parse of a blacklisted certificate: none may
    # happen while anchord's Enroll refuses it. (anchorctl follows a refusal
    # with Verify, which asks the kernel on purpose: call Enroll alone.)
    before=$(dmesg | grep -c 'is blacklisted')
    if raw_enroll $CERTS/blacklisted.der ima; then
        fail anchord.refuse.blacklisted-before-kernel "Enroll accepted the blacklisted certificate"
    else
        after=$(dmesg | grep -c 'is blacklisted')
        if [ "$before" = "$after" ]; then
            pass anchord.refuse.blacklisted-before-kernel "Enroll refused it without giving it to the kernel"
        else
            fail anchord.refuse.blacklisted-before-kernel \
                "the kernel parsed the blacklisted certificate $((after - before)) time(s) during Enroll"
        fi
    fi
    refusal anchord.refuse.ima-ca ca-intermediate "lab intermediate CA (never enrolled)" \
        '[.results[0].checks[] | select(.id == "kernel.digsig" and .outcome == "fail")] | length == 1' \
        "a CA certificate into ima: kernel.digsig predicts the kernel's ENOKEY"
    refusal anchord.refuse.ima-no-digitalsignature keyenc-only "lab encryption-only leaf" \
        '[.results[0].checks[] | select(.id == "kernel.digsig" and .outcome == "fail")] | length == 1' \
        "a leaf without digitalSignature into ima: kernel.digsig predicts the kernel's ENOKEY"

    # Prediction agreement over the corpus, for ima and secondary.
    mark agreement
    agreement ima .ima
    agreement secondary .secondary_trusted_keys
    mark seal

    # Seal: root cannot restrict .ima, so the seal is anchord's own.
    out=$(ctl seal ima --json 2>&1)
    jq_test anchord.seal.ima "sealing ima: anchord's own seal, not the kernel's" "$out" \
        '.sealed == true and .kernel_enforced == false'
    out=$(ctl enroll $CERTS/leaf-rsa-2.pem --keyring ima --json 2>&1)
    rc=$?
    if [ $rc -ne 0 ] && ! has_key .ima "lab signing RSA-2048 SHA-256 (second)" &&
        printf '%s' "$out" | jq -e '.error.name | endswith("Sealed")' >/dev/null 2>&1; then
        pass anchord.seal.refuses-enroll "anchord refuses an enrollment into sealed ima (Sealed)"
    else
        fail anchord.seal.refuses-enroll "exit $rc: $(echo "$out" | tr '\n' ' ' | cut -c1-600)"
    fi
    if link .ima $CERTS/leaf-rsa-2.der; then
        bypass=$LINK_SERIAL
        ctl reconcile --json >/dev/null 2>&1
        status=$(ctl status --json 2>&1)
        jq_test anchord.seal.drift "a key linked into sealed .ima behind anchord's back is drift" \
            "$status" '[.drift[] | select(.keyring == "ima" and .kind == "sealed-bypass")] | length >= 1'
        unlink_key "$bypass" .ima
    else
        fail anchord.seal.drift "the kernel refused the bypass link: $LINK_RESULT"
    fi

    stop_anchord
    if [ -n "$STATE_DISK" ]; then
        if [ -n "$(ls /state/anchord)" ] && sync && umount /state; then
            pass reboot.state-saved "the state is on the virtio disk for the second boot"
        else
            fail reboot.state-saved "anchord left no state on the disk, or it could not be unmounted"
        fi
    else
        skip reboot.state-saved "no state disk (/dev/vda) in this boot"
    fi
    show_anchord_log
}

# refusal ID CERT DESCRIPTION_TEXT VERIFY_FILTER DETAIL
refusal() {
    out=$(ctl enroll "$CERTS/$2.der" --keyring ima --json 2>&1)
    rc=$?
    verify=$(ctl verify "$CERTS/$2.der" --keyring ima --json 2>&1)
    if [ $rc -eq 0 ]; then
        fail "$1" "$5: anchorctl enroll succeeded"
    elif has_key .ima "$3"; then
        fail "$1" "$5: the certificate is in .ima"
    elif ! printf '%s' "$verify" | jq -e "$4" >/dev/null 2>&1; then
        fail "$1" "$5; verify said: $(echo "$verify" | tr '\n' ' ' | cut -c1-600)"
    else
        pass "$1" "$5 (enroll refused, exit $rc)"
    fi
}

# agreement LOGICAL KERNEL_NAME: every corpus certificate, prediction vs link.
agreement() {
    total=0 agreed=0
    tab=$(printf '\t')
    # Every prediction first, in one anchorctl run: each link is undone at
    # once, so none changes what anchord predicts for the next.
    # shellcheck disable=SC2046 # one argument per file; the names are the corpus's own
    predict_many "$1" "/tmp/predictions.$1" $(cut -f1 $LAB/corpus.list | sed "s|.*|$CERTS/&.der|")
    while IFS="$tab" read -r name _; do
        [ -n "$name" ] || continue
        total=$((total + 1))
        compare_row agree "$1" "$2" "$name" "$CERTS/$name.der" "/tmp/predictions.$1" && agreed=$((agreed + 1))
    done <$LAB/corpus.list
    if [ "$total" -ge 40 ] && [ "$agreed" -eq "$total" ]; then
        pass "agreement.$1" "anchord predicted the kernel for $agreed of $total certificates"
    else
        fail "agreement.$1" "anchord predicted the kernel for $agreed of $total certificates (40 at least, all wanted)"
    fi
}

anchord_main
