# The guest's stages: main.sh STAGE (busybox sh).
#   probe    prints one line: the host checks that a boot works (KVM)
#   main     the kernel's rules with keyctl, then anchord's tests
#   reboot   the second boot: anchord re-applies its state
#   user     the user mode: a table of predictions and real answers
#   distro   Debian's own kernel: anchord creates and guards _ima
#   uefi-seed  under OVMF with Secure Boot: writes MokListRT
#   uefi       the same variable store: .machine and .platform as seeded
STAGE=$1
. /lab/guest/lib.sh
mark start
info kernel "$(uname -r)"
info date "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
case $1 in
probe) pass boot.probe "the guest booted" ;;
main)
    . /lab/guest/keyctl-tests.sh
    mark anchord-tests
    . /lab/guest/anchord-tests.sh
    ;;
reboot) . /lab/guest/reboot-tests.sh ;;
user) . /lab/guest/user-tests.sh ;;
distro) . /lab/guest/distro-tests.sh ;;
uefi-seed | uefi) . /lab/guest/uefi-tests.sh ;;
*) fail boot.stage "unknown stage \"$1\"" ;;
esac
mark end
exit 0
