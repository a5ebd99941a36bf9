#!/usr/bin/env bash
# The lab: boots a real kernel with .ima, .evm, .secondary_trusted_keys,
# .platform, .blacklist and .machine under qemu, with the lab's test roots
# compiled in, and runs anchord against its system keyrings. See README.md.
#
#   tests/lab/run.sh [options]                 the lab's tests; exit 0 when all pass
#   tests/lab/run.sh --certs DIR [--json]      the user mode: anchord's prediction
#                                              beside the kernel's answer, for DIR's
#                                              roots/, intermediates/ and leaves/
# Options:
#   --build DIR         where anchord and anchorctl are built (default: $ANCHORD_BUILD_DIR or build)
#   --no-build          do not build anchord/anchorctl, use what DIR holds
#   --require-anchord   fail (not skip) when anchord or anchorctl is missing
#   --json              print one JSON document instead of the report
#   --keep              keep the work folder (logs, initramfs, state disk)
#   --no-distro         skip the boot of Debian's own kernel (downloaded once, ~70 MB)
#   --no-uefi           skip the .machine stage (two boots through OVMF with Secure Boot)
#   --timeout SECONDS   bound of each boot (default 900)
# Environment: ANCHORD_LAB_CACHE (default /var/cache/anchord-lab),
# ANCHORD_LAB_JOBS (make -j), ANCHORD_LAB_ACCEL (tcg or kvm; default: probe).
# Exit status: 0 all passed, 1 a test failed, 2 the lab could not be set up,
# 3 a boot gave no result.
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"
lib=$lab_dir/lib

user_certs='' json='' keep='' distro=1 uefi=1 no_build='' require_anchord='' timeout_s=900
build=${ANCHORD_BUILD_DIR:-build}
while (($#)); do
    case $1 in
    --certs) user_certs=$(realpath "$2"); shift 2 ;;
    --json) json=1; shift ;;
    --build) build=$2; shift 2 ;;
    --no-build) no_build=1; shift ;;
    --require-anchord) require_anchord=1; shift ;;
    --keep) keep=1; shift ;;
    --no-distro) distro=''; shift ;;
    --no-uefi) uefi=''; shift ;;
    --timeout) timeout_s=$2; shift 2 ;;
    -h | --help)
        sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
        exit 0
        ;;
    *) lab_die "unknown argument \"$1\" (see --help)" ;;
    esac
done
[[ $build == /* ]] || build=$repo_dir/$build

# In JSON mode stdout carries the document only.
report() { [[ -n $json ]] || printf '%s\n' "$*"; }

# --- 1. what the lab needs -----------------------------------------------
if ((EUID != 0)); then lab_die "the lab installs packages and uses the kernel's keyrings: run it as root"; fi
if [[ -n $uefi && -z $user_certs ]]; then "$lib/deps.sh" --uefi; else "$lib/deps.sh"; fi

# --- 2. the lab PKI: anchors once (the kernel is built with them), corpus --
mkdir -p "$lab_cache"
anchors=$lab_cache/anchors-v$(sed -n 's/^anchors_version=//p' "$lib/anchors.sh")
"$lib/anchors.sh" "$anchors"
corpus=$lab_cache/corpus-$(lab_hash_files "$lib/corpus.sh" "$lib/x509.sh" "$anchors/roots.pem")
"$lib/corpus.sh" "$anchors" "$corpus"

work=$(mktemp -d /tmp/anchord-lab.XXXXXX)
cleanup() {
    if [[ -n $keep ]]; then lab_say "work folder kept: $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

# The user's roots make a kernel of their own (cached by their hash).
kernel_anchors=$anchors
if [[ -n $user_certs ]]; then
    [[ -d $user_certs/roots ]] || lab_die "--certs $user_certs: there is no roots/ folder"
    mkdir -p "$work/user-roots" "$work/user/intermediates" "$work/user/leaves"
    for f in "$user_certs"/roots/*; do
        [[ -f $f ]] || continue
        openssl x509 -in "$f" -out "$work/user-roots/$(basename "$f").pem" 2>/dev/null ||
            openssl x509 -inform DER -in "$f" -out "$work/user-roots/$(basename "$f").pem" 2>/dev/null ||
            lab_die "--certs: $f is not a certificate (PEM or DER)"
    done
    compgen -G "$work/user-roots/*.pem" >/dev/null || lab_die "--certs $user_certs: roots/ holds no certificate"
    cat "$work"/user-roots/*.pem >"$work/user-roots.pem"
    kernel_anchors=$lab_cache/user-anchors-$(lab_hash_files "$work/user-roots.pem")
    if [[ ! -f $kernel_anchors/roots.pem ]]; then
        mkdir -p "$kernel_anchors.tmp.$$"
        cp "$work/user-roots.pem" "$kernel_anchors.tmp.$$/roots.pem"
        cp "$anchors/blacklist-hashes" "$kernel_anchors.tmp.$$/"
        mv -T "$kernel_anchors.tmp.$$" "$kernel_anchors" 2>/dev/null || rm -rf "$kernel_anchors.tmp.$$"
    fi
    # The guest links DER: convert what parses, pass the rest as it is.
    for part in intermediates leaves; do
        for f in "$user_certs/$part"/*; do
            [[ -f $f ]] || continue
            name=$(basename "$f")
            [[ $name =~ ^[A-Za-z0-9._+-]+$ ]] ||
                lab_die "--certs: \"$name\": name the files with letters, digits and . _ + - only"
            openssl x509 -in "$f" -outform DER -out "$work/user/$part/$name" 2>/dev/null ||
                openssl x509 -inform DER -in "$f" -outform DER -out "$work/user/$part/$name" 2>/dev/null ||
                cp "$f" "$work/user/$part/$name"
        done
    done
fi

# --- 3. the kernel: cached, or built ---------------------------------------
kernel=$("$lib/kernel.sh" --anchors "$kernel_anchors") || exit 2
release=$(cat "$kernel/release")
package='' version='' jobs='' seconds=''
# shellcheck source=/dev/null # written by kernel.sh
source "$kernel/build-facts"
build_seconds=$seconds

# --- 4. anchord and anchorctl ----------------------------------------------
anchord_bin=$build/daemon/anchord
anchorctl_bin=$build/client/anchorctl
if [[ -z $no_build ]]; then
    if [[ ! -f $build/build.ninja ]]; then
        cmake -S "$repo_dir" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null 2>&1 || true
    fi
    cmake --build "$build" --target anchord anchorctl >"$work/build-anchord.log" 2>&1 ||
        lab_say "anchord/anchorctl did not build (log: $work/build-anchord.log); their tests are skipped"
fi
initramfs_args=()
if [[ -x $anchord_bin && -x $anchorctl_bin ]]; then
    initramfs_args+=(--anchord "$anchord_bin" --anchorctl "$anchorctl_bin")
else
    [[ -z $require_anchord ]] || lab_die "--require-anchord: $anchord_bin or $anchorctl_bin is missing"
    lab_say "no anchord in $build: the guest runs the kernel's tests only"
fi
[[ -z $user_certs ]] || initramfs_args+=(--user "$work/user")
"$lib/initramfs.sh" --out "$work/initramfs.cpio.gz" --kernel "$kernel" --certs "$corpus" \
    --anchors "$anchors" "${initramfs_args[@]}"

# --- 5. boot ------------------------------------------------------------------
# boot STAGE LOG [qemu args...]: one guest run, bounded; sets boot_seconds.
qemu_accel=()
boot_image=$kernel/bzImage
boot_initrd=$work/initramfs.cpio.gz
boot() {
    local stage=$1 log=$2 start
    shift 2
    start=$(date +%s.%N)
    # In a subshell whose stderr is dropped: a qemu that aborts (the KVM
    # probe, on a nested guest) makes bash print "Aborted" there.
    (timeout --kill-after=10 "$timeout_s" qemu-system-x86_64 "${qemu_accel[@]}" -m 1024 \
        -nographic -no-reboot -nic none -kernel "$boot_image" -initrd "$boot_initrd" \
        -append "console=ttyS0 panic=-1 lab.stage=$stage" "$@" </dev/null >"$log" 2>&1 || true) 2>/dev/null
    boot_seconds=$(echo "$(date +%s.%N) - $start" | bc | xargs printf '%.1f')
    tr -d '\r' <"$log" >"$log.txt"
    grep -q '^==ANCHORD-LAB-END==' "$log.txt"
}

# KVM only where it really boots: a nested guest may have /dev/kvm and
# still fail (measured here: qemu aborts). The probe's answer is cached per
# host boot.
accel=${ANCHORD_LAB_ACCEL:-}
if [[ -z $accel ]]; then
    accel=tcg
    if [[ -w /dev/kvm ]]; then
        probe_cache=$lab_cache/accel-$(cat /proc/sys/kernel/random/boot_id)
        if [[ -f $probe_cache ]]; then
            accel=$(cat "$probe_cache")
        else
            qemu_accel=(-accel kvm -cpu host)
            saved=$timeout_s
            timeout_s=60
            if boot probe "$work/probe.log" && grep -q '^LAB test boot.probe pass' "$work/probe.log.txt"; then
                accel=kvm
            fi
            timeout_s=$saved
            echo "$accel" >"$probe_cache"
        fi
    fi
fi
case $accel in
kvm) qemu_accel=(-accel kvm -cpu host) ;;
tcg) qemu_accel=(-accel tcg -cpu max) ;;
*) lab_die "ANCHORD_LAB_ACCEL=$accel: use tcg or kvm" ;;
esac

results=$work/results
: >"$results"
collect() { grep '^LAB ' "$1" | sed 's/^LAB //' >>"$results" || true; }
boot_failed=''
boot_times=()

if [[ -n $user_certs ]]; then
    lab_say "booting $release ($accel) with the user's certificates"
    boot user "$work/user.log" || boot_failed=user
    boot_times+=("user=$boot_seconds")
    collect "$work/user.log.txt"
else
    # The state disk: anchord's state survives from the first boot to the second.
    mkdir -p "$work/state-empty"
    mke2fs -q -t ext2 -d "$work/state-empty" "$work/state.img" 16M >/dev/null
    disk=(-drive "file=$work/state.img,format=raw,if=virtio")
    lab_say "booting $release ($accel): the kernel's rules, then anchord"
    boot main "$work/main.log" "${disk[@]}" || boot_failed=main
    boot_times+=("main=$boot_seconds")
    collect "$work/main.log.txt"
    if [[ -z $boot_failed ]] && grep -q '^test reboot.state-saved pass' "$results"; then
        lab_say "booting again with the same state disk"
        boot reboot "$work/reboot.log" "${disk[@]}" || boot_failed=reboot
        boot_times+=("reboot=$boot_seconds")
        collect "$work/reboot.log.txt"
    fi
    if [[ -n $distro ]]; then
        # Debian's own kernel: no trusted IMA keyring, so anchord makes _ima.
        if distro_kernel=$("$lib/distro-kernel.sh"); then
            "$lib/initramfs.sh" --out "$work/initramfs-distro.cpio.gz" --kernel "$distro_kernel" \
                --certs "$corpus" --anchors "$anchors" --policy "$repo_dir/docs/policy-no-trusted-keyring.json" \
                "${initramfs_args[@]}"
            boot_image=$distro_kernel/bzImage
            boot_initrd=$work/initramfs-distro.cpio.gz
            distro_release=$(cat "$distro_kernel/release")
            lab_say "booting Debian's own kernel $distro_release ($accel)"
            boot distro "$work/distro.log" || boot_failed=distro
            boot_times+=("distro=$boot_seconds")
            collect "$work/distro.log.txt"
        else
            echo "test distro.kernel fail Debian's kernel image could not be fetched" >>"$results"
        fi
    fi
    if [[ -n $uefi ]]; then
        # The .machine stage: the same kernel, signed with the snakeoil key
        # that Debian's OVMF variable store enrolls, booted by OVMF with
        # Secure Boot (which needs SMM, so q35). The first boot writes
        # MokListRT; the second, with the same variable store, shows where
        # the kernel put its certificates.
        ovmf=/usr/share/OVMF
        snakeoil=/usr/share/ovmf/PkKek-1-snakeoil
        # The package ships the key under the password 'snakeoil'
        # (README.Debian); sbsign asks for none.
        { openssl pkey -in "$snakeoil.key" -passin pass:snakeoil -out "$work/snakeoil.key" &&
            sbsign --key "$work/snakeoil.key" --cert "$snakeoil.pem" --output "$work/bzImage.signed" \
                "$kernel/bzImage"; } >"$work/sbsign.log" 2>&1 ||
            lab_die "signing the kernel failed (log: $work/sbsign.log)"
        cp "$ovmf/OVMF_VARS_4M.snakeoil.fd" "$work/ovmf-vars.fd"
        firmware=(-machine "q35,smm=on" -global "driver=cfi.pflash01,property=secure,value=on"
            -drive "if=pflash,format=raw,unit=0,readonly=on,file=$ovmf/OVMF_CODE_4M.secboot.fd"
            -drive "if=pflash,format=raw,unit=1,file=$work/ovmf-vars.fd")
        boot_image=$work/bzImage.signed
        boot_initrd=$work/initramfs.cpio.gz
        lab_say "booting $release through OVMF with Secure Boot: writing MokListRT"
        boot uefi-seed "$work/uefi-seed.log" "${firmware[@]}" || boot_failed='uefi-seed'
        boot_times+=("uefi-seed=$boot_seconds")
        collect "$work/uefi-seed.log.txt"
        if grep -q '^test uefi.seed.moklist pass' "$results"; then
            lab_say "booting again with the same variable store: .machine"
            boot uefi "$work/uefi.log" "${firmware[@]}" || boot_failed=uefi
            boot_times+=("uefi=$boot_seconds")
            collect "$work/uefi.log.txt"
        fi
    fi
fi

# --- 6. the report ------------------------------------------------------------
count() { awk -v s="$1" '$1 == "test" && $3 == s' "$results" | wc -l; }
passed=$(count pass)
failed=$(count fail)
skipped=$(count skip)
status=0
((failed == 0)) || status=1
[[ -z $boot_failed ]] || status=3
if [[ -n $require_anchord ]] && ((skipped > 0)); then status=1; fi

if [[ -n $json ]]; then
    jq -R -s --arg release "$release" --arg accel "$accel" --arg cached "$build_seconds" \
        --arg boots "${boot_times[*]}" --arg boot_failed "$boot_failed" --argjson status "$status" '
        split("\n") | map(select(length > 0) | split(" ")) as $lines
        | {
            kernel: {release: $release, build_seconds: ($cached | tonumber)},
            accel: $accel,
            boot_seconds: ($boots | split(" ") | map(select(length > 0) | split("=") | {(.[0]): (.[1] | tonumber)}) | add),
            status: $status,
            boot_failed: (if $boot_failed == "" then null else $boot_failed end),
            tests: [$lines[] | select(.[0] == "test") | {id: .[1], outcome: .[2], detail: (.[3:] | join(" "))}],
            agreement: [$lines[] | select(.[0] == "agree") | {keyring: .[1], certificate: .[2], predicted: .[3], kernel: .[4], agree: (.[5] == "yes")}],
            rows: [$lines[] | select(.[0] == "row") | {keyring: .[1], certificate: .[2], anchord_predicts: .[3], kernel_answers: .[4], agree: (.[5] == "yes")}]
          }' "$results"
    exit "$status"
fi

report ""
report "anchord lab: kernel $release ($package $version, built in ${build_seconds}s with -j$jobs, cached in $kernel)"
report "accelerator: $accel; boots: ${boot_times[*]} (seconds, boot and tests)"
phases=$(awk '$1 == "info" && $2 ~ /^uptime\./ { sub(/^uptime\./, "", $2); printf "%s%s=%ss", sep, $2, $3; sep = ", " }' "$results")
[[ -z $phases ]] || report "guest uptime at each phase: $phases"
if [[ -n $user_certs ]]; then
    report ""
    printf '%-10s %-40s %-16s %-16s %s\n' KEYRING CERTIFICATE ANCHORD KERNEL AGREE
    awk '$1 == "row" { printf "%-10s %-40s %-16s %-16s %s\n", $2, $3, $4, $5, $6 }' "$results"
else
    for ring in ima secondary; do
        if grep -q "^agree $ring " "$results"; then
            report ""
            report "Prediction agreement, $ring (anchorctl verify --json vs the kernel's link):"
            printf '  %-24s %-24s %-14s %s\n' CERTIFICATE ANCHORD KERNEL AGREE
            awk -v r="$ring" '$1 == "agree" && $2 == r { printf "  %-24s %-24s %-14s %s\n", $3, $4, $5, $6 }' "$results"
            awk -v r="$ring" '$1 == "agree" && $2 == r { n++; if ($6 == "yes") y++ }
                END { printf "  %d of %d agree\n", y, n }' "$results"
        fi
    done
    report ""
    awk '$1 == "test" { d = ""; for (i = 4; i <= NF; i++) d = d " " $i; printf "%-5s %-44s%s\n", toupper($3), $2, d }' "$results"
fi
for log in main reboot distro uefi-seed uefi user; do
    [[ -f $work/$log.log.txt ]] || continue
    if [[ $boot_failed == "$log" ]]; then
        report ""
        report "The $log boot ended without a result block; its console's last lines:"
        tail -40 "$work/$log.log.txt"
    fi
done
report ""
report "$passed passed, $failed failed, $skipped skipped"
exit "$status"
