#!/usr/bin/env bash
# Makes the lab's trust anchors: what the kernel is built with. They must
# stay the same from run to run (the kernel cache is keyed by them), so
# they are made once into the cache and reused.
#   anchors.sh DIR    makes DIR (once) with:
#     root-rsa.*, root-ec.*   the test roots, compiled into .builtin_trusted_keys
#     roots.pem               both, for CONFIG_SYSTEM_TRUSTED_KEYS
#     blacklisted.*           a signing leaf of root-rsa whose TBS hash is listed
#     blacklist-hashes        CONFIG_SYSTEM_BLACKLIST_HASH_LIST ("tbs:HEX")
# The cache folder is named after anchors_version: raise it when a change here
# must make new anchors (which rebuilds the kernel); other edits keep them.
anchors_version=1
set -euo pipefail
source "$(dirname "$0")/x509.sh"
final=$1
[[ ! -f $final/roots.pem ]] || exit 0
out=$final.tmp.$$
rm -rf "$out"
mkdir -p "$out"
trap 'rm -rf "$out"' EXIT

x509_issue root-rsa "/O=anchord lab/CN=anchord lab root (RSA)" root self key=rsa:3072 \
    start=20240101000000Z end=20491231235959Z
x509_issue root-ec "/O=anchord lab/CN=anchord lab root (ECDSA P-384)" root self key=ec:P-384 \
    md=sha384 start=20240101000000Z end=20491231235959Z
x509_issue blacklisted "/O=anchord lab/CN=anchord lab revoked signing key" signing root-rsa \
    start=20240101000000Z end=20491231235959Z
cat "$out/root-rsa.pem" "$out/root-ec.pem" >"$out/roots.pem"
printf '"tbs:%s"\n' "$(x509_tbs_sha256 "$out/blacklisted.der")" >"$out/blacklist-hashes"
rm -rf "$out/.ca"
trap - EXIT
# Another run may have made it meanwhile: keep the first.
mv -T "$out" "$final" 2>/dev/null || rm -rf "$out"
