#!/usr/bin/env bash
# Makes the lab's test certificates from the anchors (anchors.sh):
#   corpus.sh ANCHORS_DIR DIR
# DIR/certs/NAME.der (and .pem where it parses) and DIR/corpus.list, one
# line per certificate of the prediction-agreement corpus:
#   NAME<TAB>what it is
# The guest tests use some by name: leaf-rsa, leaf-ec, inter-a, enroll-ima,
# enroll-evm, inter-b, leaf-via-inter-b, rogue, forgery, ca-intermediate,
# keyenc-only, leaf-rsa-2, blacklisted.
set -euo pipefail
source "$(dirname "$0")/x509.sh"
anchors=$1
final=$2
[[ ! -f $final/corpus.list ]] || exit 0
out=$final.tmp.$$/certs
rm -rf "$final.tmp.$$"
mkdir -p "$out"
trap 'rm -rf "$final.tmp.$$"' EXIT
for a in root-rsa root-ec blacklisted; do cp "$anchors/$a".{key,pem,der} "$out/"; done

list=$final.tmp.$$/corpus.list
add() { printf '%s\t%s\n' "$1" "$2" >>"$list"; }
signing=signing
org="/O=anchord lab"

# Good chains, every algorithm the lab kernel verifies
x509_issue leaf-rsa "$org/CN=lab signing RSA-2048 SHA-256" $signing root-rsa
add leaf-rsa "RSA-2048 leaf, SHA-256, of the RSA root"
x509_issue leaf-rsa-2 "$org/CN=lab signing RSA-2048 SHA-256 (second)" $signing root-rsa
x509_issue rsa3072-sha384 "$org/CN=lab signing RSA-3072 SHA-384" $signing root-rsa key=rsa:3072 md=sha384
add rsa3072-sha384 "RSA-3072 leaf, SHA-384"
x509_issue rsa4096-sha512 "$org/CN=lab signing RSA-4096 SHA-512" $signing root-rsa key=rsa:4096 md=sha512
add rsa4096-sha512 "RSA-4096 leaf, SHA-512"
x509_issue rsa-sha224 "$org/CN=lab signing RSA SHA-224" $signing root-rsa md=sha224
add rsa-sha224 "RSA leaf, SHA-224"
x509_issue rsa-sha3-256 "$org/CN=lab signing RSA SHA3-256" $signing root-rsa md=sha3-256
add rsa-sha3-256 "RSA leaf, SHA3-256"
x509_issue rsa-sha1 "$org/CN=lab signing RSA SHA-1" $signing root-rsa md=sha1
add rsa-sha1 "RSA leaf, SHA-1 (weak, the kernel still verifies it)"
x509_issue rsa1024 "$org/CN=lab signing RSA-1024" $signing root-rsa key=rsa:1024
add rsa1024 "RSA-1024 leaf (weak key)"
x509_issue leaf-ec "$org/CN=lab signing ECDSA P-256 SHA-256" $signing root-ec key=ec:P-256
add leaf-ec "ECDSA P-256 leaf of the ECDSA root"
x509_issue ec-p384-sha384 "$org/CN=lab signing ECDSA P-384 SHA-384" $signing root-ec key=ec:P-384 md=sha384
add ec-p384-sha384 "ECDSA P-384 leaf, SHA-384"
x509_issue ec-p521-sha512 "$org/CN=lab signing ECDSA P-521 SHA-512" $signing root-ec key=ec:P-521 md=sha512
add ec-p521-sha512 "ECDSA P-521 leaf, SHA-512"
x509_issue ec-sha3-384 "$org/CN=lab signing ECDSA SHA3-384" $signing root-ec key=ec:P-256 md=sha3-384
add ec-sha3-384 "ECDSA leaf signed with ecdsa-with-SHA3-384"
x509_issue rsa-by-ec-root "$org/CN=lab signing RSA key, ECDSA issuer" $signing root-ec md=sha384
add rsa-by-ec-root "RSA leaf of the ECDSA root"
x509_issue ec-by-rsa-root "$org/CN=lab signing ECDSA key, RSA issuer" $signing root-rsa key=ec:P-256
add ec-by-rsa-root "ECDSA leaf of the RSA root"

# Roles and key usage
x509_issue ca-intermediate "$org/CN=lab intermediate CA (never enrolled)" ca root-rsa
add ca-intermediate "CA certificate (keyCertSign) of the RSA root"
x509_issue ca-with-digsig "$org/CN=lab CA that also signs" \
    'ext:basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,digitalSignature\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid:always' root-rsa
add ca-with-digsig "CA certificate with keyCertSign and digitalSignature"
x509_issue no-keyusage "$org/CN=lab leaf without keyUsage" \
    'ext:basicConstraints=critical,CA:FALSE\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid:always' root-rsa
add no-keyusage "leaf without a keyUsage extension"
x509_issue keyenc-only "$org/CN=lab encryption-only leaf" \
    'ext:basicConstraints=critical,CA:FALSE\nkeyUsage=critical,keyEncipherment\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid:always' root-rsa
add keyenc-only "leaf with keyEncipherment only (no digitalSignature)"
x509_issue digsig-certsign-noca "$org/CN=lab leaf with keyCertSign, CA:FALSE" \
    'ext:basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyCertSign\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid:always' root-rsa
add digsig-certsign-noca "CA:FALSE leaf asserting digitalSignature and keyCertSign"
x509_issue no-basic-constraints "$org/CN=lab leaf without basicConstraints" \
    'ext:keyUsage=critical,digitalSignature\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid:always' root-rsa
add no-basic-constraints "signing leaf without basicConstraints"
x509_issue v1-cert "$org/CN=lab version 1 certificate" none root-rsa
add v1-cert "X.509 version 1 certificate (no extensions)"
x509_issue eku-serverauth "$org/CN=lab leaf for TLS servers" \
    'ext:basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid:always' root-rsa
add eku-serverauth "signing leaf whose EKU is serverAuth"
x509_issue unknown-critical "$org/CN=lab leaf with an unknown critical extension" \
    'ext:basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid:always\n1.3.6.1.4.1.55555.1=critical,ASN1:NULL' root-rsa
add unknown-critical "signing leaf with an unknown critical extension"
x509_issue no-akid "$org/CN=lab leaf without authority key identifier" \
    'ext:basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=none' root-rsa
add no-akid "signing leaf without an authority key identifier"

# Validity
x509_issue expired "$org/CN=lab expired leaf" $signing root-rsa start=20010101000000Z end=20020101000000Z
add expired "signing leaf that expired in 2002"
x509_issue not-yet-valid "$org/CN=lab leaf valid from 2045" $signing root-rsa start=20450101000000Z end=20490101000000Z
add not-yet-valid "signing leaf not valid before 2045"

# Chains: inter-a is enrolled into secondary by anchord before the corpus runs
x509_issue inter-a "$org/CN=lab intermediate A" ca root-rsa
x509_issue leaf-via-inter-a "$org/CN=lab signing behind intermediate A" $signing inter-a
add leaf-via-inter-a "signing leaf behind intermediate A (A is in secondary)"
x509_issue inter-b "$org/CN=lab intermediate B" ca root-rsa
x509_issue leaf-via-inter-b "$org/CN=lab signing behind intermediate B" $signing inter-b
add leaf-via-inter-b "signing leaf behind intermediate B (B is not in any keyring)"
x509_issue sub-ca-via-inter-a "$org/CN=lab sub-CA of intermediate A" ca inter-a
add sub-ca-via-inter-a "CA certificate of intermediate A"
# What anchord enrolls (never in the corpus: linking a certificate again
# would displace anchord's key, whose description it shares)
x509_issue enroll-ima "$org/CN=lab IMA signing key behind A" $signing inter-a
x509_issue enroll-evm "$org/CN=lab EVM signing key" $signing root-ec key=ec:P-256
add root-rsa "the builtin RSA root itself"

# Refusals
x509_issue rogue "$org/CN=lab signing RSA-2048 SHA-256" $signing self
add rogue "self-signed leaf with a lab leaf's name"
x509_issue rogue-ca "$org/CN=anchord lab root (RSA)" root self
add rogue-ca "self-signed CA with the RSA root's name"
x509_issue other-root "/O=elsewhere/CN=a root the kernel does not hold" root self
x509_issue unknown-issuer "/O=elsewhere/CN=leaf of an unknown root" $signing other-root
add unknown-issuer "leaf whose issuer no keyring holds"
# The forger copies a root's name and key identifier onto a key of its own.
# ECDSA answers a false signature with EKEYREJECTED. RSA decrypts it to a
# block without PKCS#1 padding, which the kernel answers with EINVAL (or, once
# in 256 keys, EBADMSG) before it compares digests.
skid_of() { openssl x509 -in "$out/$1.pem" -noout -ext subjectKeyIdentifier | tail -1 | tr -d ' '; }
forger() { # name root key md
    x509_issue "$1" "$(openssl x509 -in "$out/$2.pem" -noout -subject -nameopt compat | sed 's/^subject=//')" \
        "ext:basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign\nsubjectKeyIdentifier=$(skid_of "$2")" \
        self key="$3" md="$4"
}
forger forger-ec root-ec ec:P-384 sha384
x509_issue forgery "$org/CN=lab forged signing key" $signing forger-ec key=ec:P-256 md=sha384
add forgery "leaf naming the ECDSA root's key identifier, signed by another P-384 key"
forger forger-rsa root-rsa rsa:3072 sha256
x509_issue forgery-rsa "$org/CN=lab forged signing key (RSA)" $signing forger-rsa
add forgery-rsa "leaf naming the RSA root's key identifier, signed by another RSA-3072 key"
forger forger-short root-rsa rsa:2048 sha256
x509_issue forgery-short "$org/CN=lab forged signing key (short signature)" $signing forger-short
add forgery-short "leaf naming the RSA root's key identifier, signed by an RSA-2048 key"
x509_issue wrong-akid "$org/CN=lab leaf naming an unknown key identifier" \
    'ext:basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nsubjectKeyIdentifier=hash\n2.5.29.35=DER:30:16:80:14:01:02:03:04:05:06:07:08:09:0a:0b:0c:0d:0e:0f:10:11:12:13:14' root-rsa
add wrong-akid "leaf of the RSA root whose authority key identifier names no key"
add blacklisted "leaf of the RSA root whose TBS hash is in the kernel's blacklist"
# Tampering: flip one byte of the subject's name (the TBS), or of the signature.
flip() { # in out offset
    cp "$1" "$2"
    local byte
    byte=$(od -An -tu1 -j "$3" -N1 "$1" | tr -d ' ')
    printf "$(printf '\\%03o' $((byte ^ 1)))" | dd of="$2" bs=1 seek="$3" conv=notrunc status=none
}
name_at=$(grep -obUaF 'SHA-256' "$out/leaf-rsa.der" | tail -1 | cut -d: -f1)
flip "$out/leaf-rsa.der" "$out/tampered-tbs.der" "$name_at"
add tampered-tbs "leaf-rsa with one byte of its subject changed"
flip "$out/leaf-rsa.der" "$out/tampered-signature.der" $(($(stat -c %s "$out/leaf-rsa.der") - 1))
add tampered-signature "leaf-rsa with the last byte of its signature changed"

# Algorithms the kernel does not have
x509_issue rsa-pss "$org/CN=lab signing RSA-PSS" $signing root-rsa pss=1
add rsa-pss "RSA leaf signed with RSASSA-PSS"
x509_issue ed25519-key "$org/CN=lab signing Ed25519 key" $signing root-rsa key=ed25519
add ed25519-key "Ed25519 key, RSA issuer"
x509_issue secp256k1-key "$org/CN=lab signing secp256k1 key" $signing root-ec key=ec:secp256k1
add secp256k1-key "secp256k1 key, ECDSA issuer"
x509_issue brainpool-key "$org/CN=lab signing brainpoolP256r1 key" $signing root-ec key=ec:brainpoolP256r1
add brainpool-key "brainpoolP256r1 key, ECDSA issuer"
x509_issue dsa-key "$org/CN=lab signing DSA key" $signing root-rsa key=dsa:2048
add dsa-key "DSA-2048 key, RSA issuer"
x509_issue md5 "$org/CN=lab signing RSA MD5" $signing root-rsa md=md5
add md5 "RSA leaf signed with MD5"
x509_issue explicit-curve "$org/CN=lab signing explicit-curve key" $signing root-ec key=ec-explicit:P-256
add explicit-curve "ECDSA key with explicit curve parameters"

# Malformed bytes
head -c 200 "$out/leaf-rsa.der" >"$out/truncated.der"
add truncated "the first 200 bytes of leaf-rsa"
head -c 600 /dev/urandom >"$out/random-bytes.der"
add random-bytes "600 random bytes"
{ printf '\061'; tail -c +2 "$out/leaf-rsa.der"; } >"$out/wrong-outer-tag.der"
add wrong-outer-tag "leaf-rsa with a SET tag where the SEQUENCE is"
{ cat "$out/leaf-rsa-2.der"; printf 'trailing bytes!!'; } >"$out/trailing-bytes.der"
add trailing-bytes "leaf-rsa-2 followed by 16 bytes of text"

# The .machine stage (UEFI): a machine owner's CA and a signing leaf of it,
# seeded into MokListRT. The kernel puts the CA in .machine and, under its
# CA enforcement, the leaf in .platform. A sub-CA of the MOK CA shows
# .machine vouching for links into .secondary_trusted_keys.
x509_issue mok-ca "/O=anchord lab MOK/CN=lab machine owner CA" root self
x509_issue mok-leaf "/O=anchord lab MOK/CN=lab machine owner signing leaf" $signing mok-ca
x509_issue mok-sub-ca "/O=anchord lab MOK/CN=lab sub-CA of the machine owner CA" ca mok-ca
# MokListRT as efivarfs takes it: the attributes (NV|BS|RT, u32 little
# endian), then one EFI_SIGNATURE_LIST per certificate: the type
# EFI_CERT_X509_GUID, the list's size, a header size of 0, the entry's
# size, then the entry: its owner (shim's GUID) and the DER.
le32() { printf "\\x$(printf %02x $(($1 & 255)))\\x$(printf %02x $(($1 >> 8 & 255)))\\x$(printf %02x $(($1 >> 16 & 255)))\\x$(printf %02x $(($1 >> 24 & 255)))"; }
esl_of() {
    local size
    size=$(stat -c %s "$1")
    printf '\xa1\x59\xc0\xa5\xe4\x94\xa7\x4a\x87\xb5\xab\x15\x5c\x2b\xf0\x72'
    le32 $((28 + 16 + size))
    le32 0
    le32 $((16 + size))
    printf '\x50\xab\x5d\x60\x46\xe0\x00\x43\xab\xb6\x3d\xd8\x10\xdd\x8b\x23'
    cat "$1"
}
{
    le32 7
    esl_of "$out/mok-ca.der"
    esl_of "$out/mok-leaf.der"
} >"$out/moklist.efivar"

rm -rf "$out/.ca" "$out"/*.key
trap - EXIT
# Another run may have made it meanwhile: keep the first.
mv -T "$final.tmp.$$" "$final" 2>/dev/null || rm -rf "$final.tmp.$$"
