#!/usr/bin/env bash
# The main job, end to end: builds anchord and anchorctl, starts a private
# dbus-daemon and anchord in sandbox mode on the real kernel (a keyring
# topology shaped like the kernel's, under a private session keyring) with a
# freshly generated root anchor, and walks anchorctl through a short story.
# It leaves nothing running and nothing linked when it ends.
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD
./scripts/deps.sh
build=$(realpath -m "${ANCHORD_BUILD_DIR:-build}")
if [[ ! -f $build/build.ninja ]]; then
    cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
cmake --build "$build" -j"$(nproc)" --target anchord anchorctl

# Everything below runs inside a private session keyring, so the sandbox
# keyrings vanish with it.
if [[ -z ${ANCHORD_DEMO_IN_SESSION:-} ]]; then
    ANCHORD_DEMO_IN_SESSION=1 exec keyctl session - "$0" "$@"
fi

work=$(mktemp -d /tmp/anchord-demo.XXXXXX)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

anchord=$build/daemon/anchord
anchorctl=$build/client/anchorctl
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ anchorctl %s\n' "$*"; "$anchorctl" --bus-address "$bus" "$@"; }
# A refusal is exit status 1: a usage error or an unreachable anchord
# (2, 3) is not the refusal the story shows.
refused() {
    local status=0
    run "$@" || status=$?
    if ((status != 1)); then
        echo "demo: expected a refusal (exit status 1), got $status" >&2
        exit 1
    fi
}

say "Generating a sample PKI in $work/pki (root, intermediate, signing key, rogue)"
pki=$work/pki
mkdir -p "$pki"
gen() { # name subject extensions [issuer]
    local name=$1 subj=$2 ext=$3 issuer=${4:-}
    openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$pki/$name.key" 2>/dev/null
    printf '%b\n' "$ext" >"$pki/$name.ext"
    if [[ -z $issuer ]]; then
        openssl req -new -x509 -key "$pki/$name.key" -subj "$subj" -days 3650 -sha256 \
            -extensions v3 -config <(printf '[req]\ndistinguished_name=dn\n[dn]\n[v3]\n%b\n' "$ext") \
            -outform DER -out "$pki/$name.der"
    else
        openssl req -new -key "$pki/$name.key" -subj "$subj" -out "$pki/$name.csr"
        openssl x509 -req -in "$pki/$name.csr" -CA "$pki/$issuer.pem" -CAkey "$pki/$issuer.key" \
            -CAcreateserial -days 825 -sha256 -extfile "$pki/$name.ext" -outform DER \
            -out "$pki/$name.der" 2>/dev/null
    fi
    openssl x509 -inform DER -in "$pki/$name.der" -out "$pki/$name.pem"
}
ca_ext='basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid:always'
leaf_ext='basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=codeSigning\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid:always'
gen root "/O=Example Fleet/CN=Example Fleet Root CA" "$ca_ext"
gen intermediate "/O=Example Fleet/CN=Example Build Signing CA" "$ca_ext" root
gen signing "/O=Example Fleet/CN=Example IMA signing key 2026" "$leaf_ext" intermediate
gen rogue "/O=Example Fleet/CN=Example IMA signing key 2026" "$leaf_ext"
mkdir -p "$work/anchors" "$work/state" "$work/anchors.d"
cp "$pki/root.der" "$work/anchors/"

say "Starting a private dbus-daemon and anchord in sandbox mode"
# shellcheck source=scripts/lib/private-bus.sh
source "$top/scripts/lib/private-bus.sh"
start_private_bus "$work"
"$anchord" --bus-address "$bus" --sandbox "$work/anchors" --state-dir "$work/state" \
    --dropin-dir "$work/anchors.d" --policy "$top/policy/default-policy.json" \
    2>"$work/anchord.log" &
pids+=($!)
for _ in $(seq 200); do
    busctl --address="$bus" status io.github.anchord1 >/dev/null 2>&1 && break
    kill -0 "${pids[1]}" 2>/dev/null || { cat "$work/anchord.log"; exit 1; }
    sleep 0.05
done

say "1. What anchord manages"
run status

say "2. Verify, then enroll, the intermediate CA into secondary"
run verify "$pki/intermediate.pem" --keyring secondary
run enroll "$pki/intermediate.pem" --keyring secondary

say "3. Verify, then enroll, the IMA signing key into ima"
run verify "$pki/signing.der" --keyring ima
run enroll "$pki/signing.der" --keyring ima

say "4. What the keyrings hold"
run list

say "5. A rogue certificate with the same name, self-signed: refused, with the reason"
refused enroll "$pki/rogue.der" --keyring ima

say "6. Seal ima: no further link (a kernel seal where the kernel allows one, else anchord's own)"
run seal ima
gen signing2 "/O=Example Fleet/CN=Example IMA signing key 2027" "$leaf_ext" intermediate
refused enroll "$pki/signing2.der" --keyring ima

say "7. The same status, for a program"
run status --json

say "Done: anchord's log"
cat "$work/anchord.log"
