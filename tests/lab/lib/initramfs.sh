#!/usr/bin/env bash
# Packs the guest's initramfs (a gzip'd cpio):
#   initramfs.sh --out FILE --kernel DIR --certs DIR --anchors DIR
#                [--anchord BIN --anchorctl BIN] [--user DIR] [--policy FILE]
# It holds busybox-static, keyctl, dbus-daemon, busctl, jq, anchord and anchorctl
# when given, the shared libraries they load (from ldd), the kernel's
# configuration as /boot/config-RELEASE (anchord reads the kernel's rules
# from it, as on a distribution), the lab's guest scripts, the test
# certificates, and the user's certificates for the user mode.
set -euo pipefail
source "$(dirname "$0")/common.sh"

out='' kernel='' certs='' anchors='' anchord='' anchorctl='' user=''
policy=$repo_dir/policy/default-policy.json
while (($#)); do
    case $1 in
    --out) out=$2; shift 2 ;;
    --kernel) kernel=$2; shift 2 ;;
    --certs) certs=$2; shift 2 ;;
    --anchors) anchors=$2; shift 2 ;;
    --anchord) anchord=$2; shift 2 ;;
    --anchorctl) anchorctl=$2; shift 2 ;;
    --user) user=$2; shift 2 ;;
    --policy) policy=$2; shift 2 ;;
    *) lab_die "initramfs.sh: unknown argument \"$1\"" ;;
    esac
done
[[ -n $out && -f $kernel/release && -f $certs/corpus.list && -f $anchors/blacklist-hashes ]] ||
    lab_die "initramfs.sh: --out, --kernel, --certs and --anchors are required"

root=$(mktemp -d "${TMPDIR:-/tmp}/anchord-lab-initramfs.XXXXXX")
trap 'rm -rf "$root"' EXIT
mkdir -p "$root"/{bin,sbin,usr/bin,etc,boot,proc,sys,dev,run,tmp,state,lab/guest,lab/anchors}

# A program and every shared library it loads, at their own paths.
add_program() {
    local program=$1 dest=$2 lib
    install -m 0755 "$program" "$root$dest"
    # A RelWithDebInfo build carries tens of MB of debug information the
    # guest never reads.
    strip --strip-debug "$root$dest"
    while read -r lib; do
        [[ -e $root$lib ]] && continue
        mkdir -p "$root$(dirname "$lib")"
        cp -L "$lib" "$root$lib"
    done < <(ldd "$program" | awk '/=> \// {print $3} /^\t\// {print $1}')
}

cp /bin/busybox "$root/bin/busybox"
ln -s busybox "$root/bin/sh" # /init's interpreter, before busybox --install
add_program "$(command -v keyctl)" /usr/bin/keyctl
add_program "$(command -v dbus-daemon)" /usr/bin/dbus-daemon
add_program "$(command -v jq)" /usr/bin/jq
add_program "$(command -v busctl)" /usr/bin/busctl
if [[ -n $anchord ]]; then
    add_program "$anchord" /usr/bin/anchord
    add_program "$anchorctl" /usr/bin/anchorctl
fi

cat >"$root/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
messagebus:x:100:101::/nonexistent:/bin/false
EOF
printf 'root:x:0:\nmessagebus:x:101:\n' >"$root/etc/group"
printf 'passwd: files\ngroup: files\n' >"$root/etc/nsswitch.conf"
openssl rand -hex 16 >"$root/etc/machine-id"
cp "$kernel/.config" "$root/boot/config-$(cat "$kernel/release")"

install -m 0755 "$lab_dir/guest/init" "$root/init"
cp "$lab_dir"/guest/*.sh "$lab_dir/guest/bus.conf" "$root/lab/guest/"
cp -r "$certs/certs" "$root/lab/certs"
cp "$certs/corpus.list" "$root/lab/corpus.list"
cp "$anchors/blacklist-hashes" "$anchors/roots.pem" "$root/lab/anchors/"
cp "$policy" "$root/lab/policy.json"
if [[ -n $user ]]; then
    cp -r "$user" "$root/lab/user"
fi

(cd "$root" && find . -print0 | cpio --null -o -H newc --quiet | gzip -1) >"$out.tmp"
mv "$out.tmp" "$out"
