# The kernel's own rules, measured with keyctl alone: what anchord must
# predict. Sourced by main.sh after lib.sh. Leaves every keyring as it
# found it.

# Discovery: which system keyrings this kernel made.
for ring in .builtin_trusted_keys .secondary_trusted_keys .ima .evm .platform .blacklist .ima_blacklist; do
    if [ -n "$(keyring_serial "$ring")" ]; then
        pass "discovery.present.${ring#.}" "$ring exists"
    else
        fail "discovery.present.${ring#.}" "$ring is missing"
    fi
done
# The lab kernel has CONFIG_INTEGRITY_MACHINE_KEYRING: .machine is made at
# every boot, and only a UEFI boot under Secure Boot fills it (the uefi
# stage); here, without firmware, it stays empty. With a trusted IMA
# keyring the userspace _ima/_evm are never made.
if [ -n "$(keyring_serial .machine)" ] && [ -z "$(keyring_keys .machine)" ]; then
    pass discovery.machine-empty ".machine exists and is empty outside UEFI"
else
    fail discovery.machine-empty ".machine: serial \"$(keyring_serial .machine)\", keys: $(keyring_keys .machine | tr '\n' ' ')"
fi
for ring in _ima _evm; do
    if [ -z "$(keyring_serial "$ring")" ]; then
        pass "discovery.absent.${ring#.}" "$ring is absent, as configured"
    else
        fail "discovery.absent.${ring#.}" "$ring exists on a kernel configured without it"
    fi
done

builtin_roots() {
    has_key .builtin_trusted_keys "anchord lab root (RSA)" &&
        has_key .builtin_trusted_keys "anchord lab root (ECDSA P-384)"
}
check discovery.builtin-roots "both lab roots are in .builtin_trusted_keys" builtin_roots
tbs=$(sed -n 's/^"\(tbs:[0-9a-f]*\)"$/\1/p' $LAB/anchors/blacklist-hashes)
check discovery.blacklist-hash ".blacklist holds $tbs" has_key .blacklist "$tbs"

# Links into .ima and .evm
expect_link kernel.ima.leaf-rsa .ima $CERTS/leaf-rsa.der accepted "RSA leaf of a builtin root into .ima"
expect_link kernel.evm.leaf-rsa .evm $CERTS/leaf-rsa.der accepted "RSA leaf of a builtin root into .evm"
expect_link kernel.ima.leaf-ec .ima $CERTS/leaf-ec.der accepted "ECDSA leaf of a builtin root into .ima"
expect_link kernel.evm.leaf-ec .evm $CERTS/leaf-ec.der accepted "ECDSA leaf of a builtin root into .evm"
expect_link kernel.ima.rogue .ima $CERTS/rogue.der ENOKEY "self-signed rogue into .ima"
expect_link kernel.ima.forgery .ima $CERTS/forgery.der EKEYREJECTED \
    "forgery naming the ECDSA root's key identifier"
expect_link kernel.ima.blacklisted .ima $CERTS/blacklisted.der EKEYREJECTED "leaf whose TBS hash is blacklisted"
expect_link kernel.secondary.blacklisted .secondary_trusted_keys $CERTS/blacklisted.der EKEYREJECTED \
    "blacklisted leaf into .secondary_trusted_keys"
# Linux 6.4+ restrict_link_by_digsig: digitalSignature, no CA, no keyCertSign
expect_link kernel.ima.digsig-ca .ima $CERTS/ca-intermediate.der ENOKEY "CA certificate into .ima"
expect_link kernel.ima.digsig-no-digitalsignature .ima $CERTS/keyenc-only.der ENOKEY \
    "leaf without digitalSignature into .ima"
expect_link kernel.evm.digsig-ca .evm $CERTS/ca-intermediate.der ENOKEY "CA certificate into .evm"
expect_link kernel.secondary.ca .secondary_trusted_keys $CERTS/ca-intermediate.der accepted \
    "the same CA certificate into .secondary_trusted_keys"

# A leaf behind an intermediate: refused until the intermediate is in
# .secondary_trusted_keys, accepted while it is.
expect_link kernel.ima.chain-before .ima $CERTS/leaf-via-inter-b.der ENOKEY \
    "leaf behind an intermediate no keyring holds"
if link .secondary_trusted_keys $CERTS/inter-b.der; then
    inter=$LINK_SERIAL
    expect_link kernel.ima.chain-after .ima $CERTS/leaf-via-inter-b.der accepted \
        "the same leaf once its intermediate is in .secondary_trusted_keys"
    unlink_key "$inter" .secondary_trusted_keys
    expect_link kernel.ima.chain-unlinked .ima $CERTS/leaf-via-inter-b.der ENOKEY \
        "the same leaf after the intermediate was unlinked again"
else
    fail kernel.ima.chain-after "the intermediate was refused by .secondary_trusted_keys: $LINK_RESULT"
fi

# What root may do to keyrings the kernel made
ima=$(keyring_serial .ima)
out=$(keyctl restrict_keyring "$ima" 2>&1)
if [ $? -eq 0 ]; then
    fail kernel.ima.restrict "root restricted .ima"
else
    got=$(errno_name "$out")
    if [ "$got" = EACCES ]; then pass kernel.ima.restrict "keyctl restrict_keyring .ima: EACCES"; else
        fail kernel.ima.restrict "keyctl restrict_keyring .ima: expected EACCES, got $got"; fi
fi
out=$(keyctl setperm "$ima" 0x3f3f0000 2>&1)
if [ $? -eq 0 ]; then fail kernel.ima.setperm "root changed .ima's permissions"; else
    got=$(errno_name "$out")
    if [ "$got" = EACCES ]; then pass kernel.ima.setperm "keyctl setperm .ima: EACCES"; else
        fail kernel.ima.setperm "keyctl setperm .ima: expected EACCES, got $got"; fi
fi
# ...while unlink and clear still work on it: anchord's Remove relies on the
# first. The clear is tried only on an empty .ima, so nothing is lost.
if link .ima $CERTS/leaf-rsa.der; then
    serial=$LINK_SERIAL
    if keyctl unlink "$serial" "$ima" >/dev/null 2>&1 &&
        ! keyctl rlist "$ima" 2>/dev/null | tr ' ' '\n' | grep -qx "$serial"; then
        pass kernel.ima.unlink "keyctl unlink of a key from .ima works"
    else
        fail kernel.ima.unlink "keyctl unlink of key $serial from .ima failed or left it linked"
    fi
    if [ -z "$(keyring_keys .ima)" ] && link .ima $CERTS/leaf-rsa.der; then
        if keyctl clear "$ima" >/dev/null 2>&1 && [ -z "$(keyring_keys .ima)" ]; then
            pass kernel.ima.clear "keyctl clear of .ima works"
        else
            fail kernel.ima.clear "keyctl clear of .ima failed or left keys: $(keyring_keys .ima | tr '\n' ' ')"
        fi
    else
        skip kernel.ima.clear ".ima was not empty, or the leaf could not be linked again: $LINK_RESULT"
    fi
else
    fail kernel.ima.unlink "the RSA leaf was refused by .ima: $LINK_RESULT"
fi
expect_link kernel.platform.add .platform $CERTS/leaf-rsa.der EACCES "a user's add to .platform"
expect_link kernel.builtin.add .builtin_trusted_keys $CERTS/leaf-rsa.der EACCES "a user's add to .builtin_trusted_keys"
