#!/usr/bin/env bash
# Holds packaging/rpm/anchord.spec's %files list to what anchord really
# installs, so the RPM and the Debian package cannot drift apart:
#
#   file-lists.sh SPEC --deb PACKAGE.deb        [--define NAME=VALUE ...]
#   file-lists.sh SPEC --build CMAKE_BUILD_DIR  [--define NAME=VALUE ...]
#
# --deb lists the files of a built .deb; --build runs `cmake --install` of a
# built tree into a scratch DESTDIR and lists what it installed. The spec's
# macros (%{_bindir}, %{_unitdir}, ...) are expanded with the FHS values of
# a /usr prefix, or with what --define says (the CTest test passes the
# build's own directories, so a build configured with another prefix is
# compared on its own terms).
#
# Compared: every file against the spec's file entries (an entry ending in
# "*" matches the compressed man page), both ways; and the directories that
# are anchord's own (a path component named "anchord") against the spec's
# %dir entries, both ways. Left out of the Debian side: copyright and
# changelog.Debian.gz, which dh writes for Debian alone.
#
# Exit status: 0 the lists agree; 1 they differ (each difference printed);
# 2 bad usage or input.
set -euo pipefail

usage() {
    echo "usage: $0 SPEC (--deb FILE.deb | --build BUILD_DIR) [--define NAME=VALUE ...]" >&2
    exit 2
}
die() {
    echo "file-lists: $*" >&2
    exit 2
}

(($# >= 3)) || usage
spec=$1
shift
[[ -r $spec ]] || die "cannot read the spec '$spec'"

mode=
source_arg=
declare -A macro=()
while (($#)); do
    case $1 in
    --deb | --build)
        [[ -z $mode ]] || usage
        mode=${1#--}
        source_arg=${2:?}
        shift 2
        ;;
    --define)
        [[ ${2:-} == *=* ]] || die "--define wants NAME=VALUE, not '${2:-}'"
        macro[${2%%=*}]=${2#*=}
        shift 2
        ;;
    *) usage ;;
    esac
done
[[ -n $mode ]] || usage

systemd_var() {
    pkg-config --variable="$1" systemd 2>/dev/null || true
}
default_macro() {
    [[ -n ${macro[$1]:-} ]] || macro[$1]=$2
}
default_macro name "$(awk '/^Name:/ { print $2; exit }' "$spec")"
default_macro _prefix /usr
default_macro _bindir "${macro[_prefix]}/bin"
default_macro _sbindir "${macro[_prefix]}/sbin"
default_macro _datadir "${macro[_prefix]}/share"
default_macro _docdir "${macro[_datadir]}/doc"
default_macro _mandir "${macro[_datadir]}/man"
default_macro _sysconfdir /etc
unitdir=$(systemd_var systemdsystemunitdir)
default_macro _unitdir "${unitdir:-/usr/lib/systemd/system}"
tmpfilesdir=$(systemd_var tmpfilesdir)
default_macro _tmpfilesdir "${tmpfilesdir:-/usr/lib/tmpfiles.d}"

work=$(mktemp -d /tmp/anchord-file-lists.XXXXXX)
trap 'rm -rf "$work"' EXIT

# What the spec says: "f PATTERN" and "d PATH" lines.
expand() {
    local text=$1 name
    while [[ $text =~ %\{([A-Za-z0-9_]+)\} ]]; do
        name=${BASH_REMATCH[1]}
        [[ -n ${macro[$name]:-} ]] || die "the spec uses %{$name}, which this test does not know"
        text=${text//"%{$name}"/${macro[$name]}}
    done
    [[ $text != *%* ]] || die "cannot expand '$1'"
    printf '%s\n' "$text"
}
in_files=0
while IFS= read -r line; do
    if [[ $line =~ ^%files([[:space:]]|$) ]]; then
        [[ $line == %files ]] || die "only one %files section (the main package) is supported: '$line'"
        in_files=1
        continue
    fi
    ((in_files)) || continue
    [[ $line =~ ^%(changelog|package|description|prep|build|install|check|post|pre|preun|postun|posttrans|pretrans|triggerin|triggerun|files) ]] && break
    [[ -z ${line//[[:space:]]/} || $line == \#* ]] && continue
    kind=f
    # Strip the attributes; only %dir changes what the entry is.
    while [[ $line =~ ^(%dir|%doc|%license|%ghost|%config(\([a-z]+\))?|%attr\([^\)]*\)|%verify\([^\)]*\))[[:space:]]+(.*)$ ]]; do
        [[ ${BASH_REMATCH[1]} == %dir ]] && kind=d
        line=${BASH_REMATCH[3]}
    done
    [[ $line == /* || $line == %\{* ]] || die "cannot read the %files entry '$line'"
    path=$(expand "$line") || exit 2
    printf '%s %s\n' "$kind" "$path"
done <"$spec" >"$work/spec"
[[ -s $work/spec ]] || die "no %files entries in '$spec'"

# What is really installed: "f PATH" and "d PATH" lines.
case $mode in
deb)
    [[ -r $source_arg ]] || die "cannot read the package '$source_arg'"
    dpkg-deb --fsys-tarfile "$source_arg" | tar -t | sed -e 's|^\./|/|' |
        while IFS= read -r path; do
            [[ $path == / ]] && continue
            if [[ $path == */ ]]; then echo "d ${path%/}"; else echo "f $path"; fi
        done |
        grep -v -x -e "f ${macro[_docdir]}/${macro[name]}/copyright" \
            -e "f ${macro[_docdir]}/${macro[name]}/changelog.Debian.gz" >"$work/actual" || true
    ;;
build)
    [[ -f $source_arg/CMakeCache.txt ]] || die "'$source_arg' is not a CMake build folder"
    DESTDIR=$work/root cmake --install "$source_arg" >"$work/install.log" 2>&1 ||
        {
            cat "$work/install.log" >&2
            die "cmake --install $source_arg failed"
        }
    (cd "$work/root" && find . -mindepth 1 \( -type d -printf 'd /%P\n' \) -o -printf 'f /%P\n') \
        >"$work/actual"
    ;;
esac

# anchord's own directories only: the others belong to the distribution.
own_dirs() { awk '$1 == "d" && $2 ~ /(^|\/)anchord(\/|$)/ { print $2 }' "$1" | sort -u; }
own_dirs "$work/spec" >"$work/spec.dirs"
own_dirs "$work/actual" >"$work/actual.dirs"
awk '$1 == "d" && $2 !~ /(^|\/)anchord(\/|$)/ { print $2 }' "$work/spec" >"$work/spec.foreign-dirs"
awk '$1 == "f" { print $2 }' "$work/spec" | sort -u >"$work/spec.files"
awk '$1 == "f" { print $2 }' "$work/actual" | sort -u >"$work/actual.files"

status=0
differ() {
    echo "file-lists: $*" >&2
    status=1
}

while IFS= read -r dir; do
    differ "%dir $dir: the spec owns a directory that is not anchord's own"
done <"$work/spec.foreign-dirs"
while IFS= read -r dir; do
    differ "%dir $dir is in the spec but not installed"
done < <(comm -23 "$work/spec.dirs" "$work/actual.dirs")
while IFS= read -r dir; do
    differ "directory $dir is installed but the spec has no %dir for it"
done < <(comm -13 "$work/spec.dirs" "$work/actual.dirs")

# Each installed file matches exactly one entry; each entry matches a file.
declare -A matched=()
while IFS= read -r file; do
    hits=0
    while IFS= read -r pattern; do
        # shellcheck disable=SC2053  # the entry is a glob on purpose
        if [[ $file == $pattern ]]; then
            hits=$((hits + 1))
            matched[$pattern]=1
        fi
    done <"$work/spec.files"
    if ((hits == 0)); then
        differ "$file is installed but not in the spec's %files"
    elif ((hits > 1)); then
        differ "$file matches $hits entries of the spec's %files"
    fi
done <"$work/actual.files"
while IFS= read -r pattern; do
    [[ -n ${matched[$pattern]:-} ]] || differ "$pattern is in the spec's %files but not installed"
done <"$work/spec.files"

if ((status == 0)); then
    echo "file-lists: the spec and the $mode list agree ($(wc -l <"$work/actual.files") files, $(wc -l <"$work/actual.dirs") directories of anchord's own)"
fi
exit "$status"
