#!/usr/bin/env bash
# Generates the fuzzers' seed corpora with the openssl command line, so the
# repository carries no binary blobs:
#   OUT/certificate  certificates of every algorithm and signature hash the
#                    policy knows (DER and PEM), chains and PEM bundles
#   OUT/policy       the default policy, the documented example, variants
#                    that use every kind of field
#   OUT/state        valid state files (records of each origin, seals, intents)
#   OUT/dbus         argument material for fuzz_dbus
# Usage: fuzz/make-seeds.sh OUT_DIR
set -euo pipefail
out=${1:?usage: fuzz/make-seeds.sh OUT_DIR}
# Absolute, because the work below happens in a temporary directory.
out=$(realpath -m -- "$out")
src=$(cd "$(dirname "$0")/.." && pwd)
command -v openssl >/dev/null || { echo "make-seeds: openssl is missing" >&2; exit 1; }

rm -rf "$out"
mkdir -p "$out"/{certificate,policy,state,dbus}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"

cat >ext.cnf <<'EOF'
[req]
distinguished_name = dn
[dn]
[ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
[intermediate]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid, issuer
[leaf]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = codeSigning
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid, issuer
[bare]
subjectKeyIdentifier = none
authorityKeyIdentifier = none
EOF

# key NAME ALGORITHM [-pkeyopt ...]
key() {
    local name=$1 alg=$2
    shift 2
    openssl genpkey -quiet -algorithm "$alg" "$@" -out "$name.key"
}

# digest_flag DIGEST: "-sha256", or nothing for schemes that hash inside
# (Ed25519, Ed448).
digest_flag() { [[ $1 == - ]] || printf -- '-%s' "$1"; }

# self_signed NAME DIGEST SECTION SUBJECT
self_signed() {
    local name=$1 digest=$2 section=$3 subject=$4
    # shellcheck disable=SC2046
    openssl req -x509 -new -key "$name.key" -subj "$subject" -days 3650 \
        $(digest_flag "$digest") -config ext.cnf -extensions "$section" \
        -set_serial "0x$(openssl rand -hex 8)" -out "$name.pem"
}

# signed NAME ISSUER DIGEST SECTION SUBJECT [openssl x509 options...]
signed() {
    local name=$1 issuer=$2 digest=$3 section=$4 subject=$5
    shift 5
    openssl req -new -key "$name.key" -subj "$subject" -out "$name.csr"
    # shellcheck disable=SC2046
    openssl x509 -req -in "$name.csr" -CA "$issuer.pem" -CAkey "$issuer.key" -days 365 \
        $(digest_flag "$digest") -extfile ext.cnf -extensions "$section" \
        -set_serial "0x$(openssl rand -hex 8)" "$@" -out "$name.pem" 2>/dev/null
}

# The anchors: one CA per key algorithm and size.
key rsa2048 RSA -pkeyopt rsa_keygen_bits:2048
key rsa3072 RSA -pkeyopt rsa_keygen_bits:3072
key rsa4096 RSA -pkeyopt rsa_keygen_bits:4096
key p256 EC -pkeyopt ec_paramgen_curve:P-256
key p384 EC -pkeyopt ec_paramgen_curve:P-384
key p521 EC -pkeyopt ec_paramgen_curve:P-521
key secp256k1 EC -pkeyopt ec_paramgen_curve:secp256k1
key ed25519 ED25519
key ed448 ED448
key rsapss RSA-PSS -pkeyopt rsa_keygen_bits:2048
key sm2 SM2
openssl genpkey -quiet -genparam -algorithm DSA -pkeyopt dsa_paramgen_bits:2048 -out dsa.param
openssl genpkey -quiet -paramfile dsa.param -out dsa.key

self_signed rsa2048 sha256 ca "/CN=anchord seed RSA-2048 CA/O=anchord"
self_signed rsa3072 sha384 ca "/CN=anchord seed RSA-3072 CA"
self_signed rsa4096 sha512 ca "/O=anchord seed RSA-4096 CA"
self_signed p256 sha256 ca "/CN=anchord seed P-256 CA"
self_signed p384 sha384 ca "/CN=anchord seed P-384 CA"
self_signed p521 sha512 ca "/CN=anchord seed P-521 CA"
self_signed secp256k1 sha256 ca "/CN=anchord seed secp256k1"
self_signed ed25519 - ca "/CN=anchord seed Ed25519 CA"
self_signed ed448 - leaf "/CN=anchord seed Ed448"
self_signed rsapss sha256 ca "/CN=anchord seed RSA-PSS key"
self_signed sm2 sm3 ca "/CN=anchord seed SM2"
self_signed dsa sha256 leaf "/CN=anchord seed DSA-2048"

# Signing leaves under the RSA-2048 CA, one per signature hash it may use.
for digest in sha1 sha224 sha256 sha384 sha512 sha3-256 sha3-384 sha3-512 md5; do
    cp rsa2048.key "leaf-$digest.key"
    signed "leaf-$digest" rsa2048 "$digest" leaf "/CN=anchord seed leaf $digest"
done
# ECDSA, Ed25519 and RSA-PSS signatures over other keys.
key leaf-ec RSA -pkeyopt rsa_keygen_bits:2048
signed leaf-ec p384 sha3-384 leaf "/CN=anchord seed leaf ecdsa-sha3-384"
key leaf-ed EC -pkeyopt ec_paramgen_curve:P-256
signed leaf-ed ed25519 - leaf "/CN=anchord seed leaf ed25519-signed"
key leaf-pss RSA -pkeyopt rsa_keygen_bits:2048
signed leaf-pss rsa3072 sha384 leaf "/CN=anchord seed leaf rsa-pss" \
    -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:-1
# A leaf with no extensions at all (the kernel names it by serial).
key leaf-bare EC -pkeyopt ec_paramgen_curve:P-256
signed leaf-bare p256 sha256 bare "/O=anchord seed bare"
# A chain: RSA root, P-384 intermediate, Ed25519 leaf.
key chain-int EC -pkeyopt ec_paramgen_curve:P-384
signed chain-int rsa4096 sha384 intermediate "/CN=anchord seed intermediate"
key chain-leaf ED25519
signed chain-leaf chain-int sha384 leaf "/CN=anchord seed chain leaf"

c=$out/certificate
for pem in *.pem; do
    name=${pem%.pem}
    cp "$pem" "$c/$name.pem"
    openssl x509 -in "$pem" -outform DER -out "$c/$name.der"
done
# Bundles: a chain with comments, CRLF line ends, a byte order mark, a
# non-certificate block and stray text between certificates.
{
    echo "# anchord seed chain"
    cat chain-leaf.pem
    echo
    echo "# the intermediate"
    cat chain-int.pem rsa4096.pem
} >"$c/bundle-chain.pem"
sed 's/$/\r/' "$c/bundle-chain.pem" >"$c/bundle-crlf.pem"
{ printf '\xef\xbb\xbf'; cat p256.pem p384.pem; } >"$c/bundle-bom.pem"
{
    cat ed25519.pem
    openssl pkey -in p521.key -pubout
    echo "subject=stray text between blocks"
    cat leaf-sha256.pem
} >"$c/bundle-mixed.pem"
cat leaf-sha1.pem leaf-sha3-256.pem leaf-md5.pem sm2.pem dsa.pem >"$c/bundle-algorithms.pem"

# Policies.
p=$out/policy
cp "$src/policy/default-policy.json" "$p/default-policy.json"
[[ -f $src/docs/policy-no-trusted-keyring.json ]] &&
    cp "$src/docs/policy-no-trusted-keyring.json" "$p/no-trusted-keyring.json"
echo '{"version": 1}' >"$p/minimal.json"
fp() { openssl x509 -in "$1" -outform DER | openssl dgst -sha256 -r | cut -d' ' -f1; }
tbs_hex=$(openssl rand -hex 32)
cat >"$p/every-field.json" <<EOF
{
  "version": 1,
  "comment": "seed: every kind of field",
  "defaults": {
    "algorithms": {
      "rsa": {"min_bits": 3072}, "rsa-pss": {"min_bits": 2048},
      "ecdsa": {"curves": ["P-256", "P-384", "P-521"]},
      "ed25519": {}, "ed448": {}, "dsa": {"min_bits": 2048}, "sm2": {},
      "ml-dsa-44": {}, "ml-dsa-65": {}, "ml-dsa-87": {}
    },
    "hashes": ["sha224", "sha256", "sha384", "sha512", "sha3-256", "sha3-384", "sha3-512", "sm3", "none"],
    "enforce_validity": false,
    "clock_skew": 60,
    "max_chain_depth": 3
  },
  "keyrings": {
    "ima": {
      "kernel_keyring": "_ima",
      "create_restriction": "builtin_trusted",
      "pinned_issuers": ["sha256:$(fp rsa2048.pem)"],
      "allow_ca": true,
      "required_usage": ["digitalSignature", "nonRepudiation"],
      "forbidden_usage": ["keyCertSign", "cRLSign", "keyEncipherment", "dataEncipherment",
                          "keyAgreement", "encipherOnly", "decipherOnly"]
    },
    "evm": {"kernel_keyring": "_evm", "create_restriction": "builtin_and_secondary_trusted",
            "algorithms": {"ecdsa": {"curves": ["P-384"]}}, "hashes": ["sha384"]},
    "secondary": {"allow_leaf": true, "trusted_by": ["builtin"], "role": "ca"},
    "machine": {"ca_enforcement": "ca-max", "forbidden_usage": ["digitalSignature"]},
    "platform": {"enrollable": false, "ca_enforcement": "none"},
    "builtin": {"enrollable": false}
  },
  "deny": {
    "fingerprints": ["sha256:$(fp leaf-sha1.pem)", "sha256:$(fp leaf-md5.pem | tr a-f A-F)"],
    "tbs_hashes": ["tbs:$tbs_hex", "sha256:$(openssl rand -hex 32)"]
  }
}
EOF
cat >"$p/signing-secondary.json" <<EOF
{"version": 1, "keyrings": {"secondary": {"role": "signing", "enrollable": true,
  "trusted_by": ["builtin", "machine", "secondary", "platform"], "max_chain_depth": 16,
  "clock_skew": 86400}}, "deny": {"fingerprints": [], "tbs_hashes": []}}
EOF

# State files: records of each origin, a sealed keyring, pending intents
# (version 2: a link intent carries its certificate's DER; version 1, which
# anchord still reads, has none).
record() {  # record PEM KEYRING ORIGIN SOURCE WHEN UID
    local der
    der=$(openssl x509 -in "$1" -outform DER | openssl base64 -A)
    printf '    {"fingerprint": "sha256:%s", "keyring": "%s", "der": "%s", "origin": "%s", "source": "%s", "enrolled_at": "%s", "caller_uid": %s}' \
        "$(fp "$1")" "$2" "$der" "$3" "$4" "$5" "$6"
}
state_file() {  # state_file VERSION
    local link_der=""
    if [ "$1" -ge 2 ]; then
        link_der=", \"der\": \"$(openssl x509 -in leaf-ed.pem -outform DER | openssl base64 -A)\""
    fi
    echo '{'
    echo "  \"version\": $1,"
    echo '  "records": ['
    record leaf-sha256.pem ima api "" 2026-11-22T10:00:00Z 0
    echo ','
    record chain-int.pem secondary drop-in /etc/anchord/certs.d/int.pem 2026-01-01T00:00:00Z 1000
    echo ','
    record leaf-ec.pem evm sandbox "" 1999-12-31T23:59:59Z 4294967295
    echo
    echo '  ],'
    echo '  "sealed": ["ima", "evm"],'
    echo "  \"pending\": [{\"fingerprint\": \"sha256:$(fp leaf-ed.pem)\", \"keyring\": \"ima\", \"action\": \"link\"$link_der},"
    echo "              {\"fingerprint\": \"sha256:$(fp leaf-sha256.pem)\", \"keyring\": \"ima\", \"action\": \"unlink\"}]"
    echo '}'
}
state_file 3 | sed 's/"version": 3,/"version": 3, "snapshot_id": "0123456789abcdef",/' >"$out/state/state.json"
state_file 2 >"$out/state/state-v2.json"
state_file 1 >"$out/state/state-v1.json"
{   # a snapshot, then the journal that continues it
    cat "$out/state/state.json"
    echo '#journal'
    echo '{"journal": 1, "snapshot_id": "0123456789abcdef"}'
    printf '{"ops": [{"forget": {"fingerprint": "sha256:%s", "keyring": "ima"}}, {"sealed": ["ima"]}]}\n' "$(fp leaf-sha256.pem)"
    printf '{"ops": [{"record": '
    record leaf-ed.pem ima api "" 2026-11-23T08:00:00Z 0
    printf '}, {"pending": []}]}\n'
    printf '{"ops": [{"sealed"'   # cut short by a crash
} >"$out/state/journal.json"
echo '{"version": 2, "records": []}' >"$out/state/empty.json"

# fuzz_dbus reads its method, types and lengths from the end of the input
# and the byte strings from the front: certificates and names make a start.
cp "$c/leaf-sha256.der" "$c/bundle-chain.pem" "$out/dbus/"
printf 'ima\0\0\0\0' >"$out/dbus/ima"
printf 'partial\1\1\1\1\1' >"$out/dbus/partial"
printf 'sha256:%s\2\2\2' "$(fp leaf-sha256.pem)" >"$out/dbus/fingerprint"

for d in certificate policy state dbus; do
    echo "make-seeds: $d: $(find "$out/$d" -type f | wc -l) files"
done
