#!/usr/bin/env bash
# packaging/rpm/anchord.spec cannot be built here (no rpmbuild, no Fedora
# macros); this holds what issue 8 asks of it that can be read without them:
#
#   spec-checks.sh SPEC DEBIAN_CHANGELOG
#
# - the scriptlets of a systemd service: %systemd_post in %post,
#   %systemd_preun in %preun, %systemd_postun or %systemd_postun_with_restart
#   in %postun, all for anchord.service; %{?systemd_requires} and
#   BuildRequires: systemd-rpm-macros; the tmpfiles.d entry created in %post;
# - the default policy a %config(noreplace) file, as it is a conffile in the
#   Debian package;
# - the same upstream version as packaging/debian/changelog;
# - where rpmspec is installed, that it parses the spec.
# The file list itself is file-lists.sh's business.
#
# Exit status: 0 passed; 1 a check failed; 2 bad usage.
set -euo pipefail

spec=${1:-}
changelog=${2:-}
[[ -r $spec && -r $changelog ]] || {
    echo "usage: $0 SPEC DEBIAN_CHANGELOG" >&2
    exit 2
}

# shellcheck source=tests/packaging/checks.sh
source "$(dirname "${BASH_SOURCE[0]}")/checks.sh"
checks spec-checks

# The lines of SECTION (%post, %files, ...) up to the next section.
section() {
    awk -v s="$1" '
        /^%(package|description|prep|build|install|check|pre|post|preun|postun|posttrans|pretrans|files|changelog)([[:space:]]|$)/ {
            in_s = ($1 == s); next
        }
        in_s
    ' "$spec"
}
expect_in() {
    local name=$1 pattern=$2
    if section "$name" | grep -Eq "$pattern"; then
        pass "$name: $pattern"
    else
        fail "$name has no line matching '$pattern'"
    fi
}

expect_in %post '^%systemd_post[[:space:]]+anchord\.service$'
expect_in %post '^%tmpfiles_create[[:space:]]+%\{_tmpfilesdir\}/anchord\.conf$'
expect_in %preun '^%systemd_preun[[:space:]]+anchord\.service$'
expect_in %postun '^%systemd_postun(_with_restart)?[[:space:]]+anchord\.service$'
expect_in %files '^%config\(noreplace\)[[:space:]]+%\{_sysconfdir\}/anchord/policy\.json$'
for line in '^%\{\?systemd_requires\}$' '^BuildRequires:[[:space:]]+systemd-rpm-macros$'; do
    if grep -Eq "$line" "$spec"; then pass "$line"; else fail "the spec has no line matching '$line'"; fi
done

rpm_version=$(awk '/^Version:/ { print $2; exit }' "$spec")
deb_version=$(dpkg-parsechangelog -l "$changelog" -S Version)
if [[ $rpm_version == "${deb_version%-*}" ]]; then
    pass "Version: $rpm_version, as in the Debian changelog"
else
    fail "the spec's Version: '$rpm_version' differs from the Debian upstream version '${deb_version%-*}'"
fi

if command -v rpmspec >/dev/null; then
    if rpmspec -P "$spec" >/dev/null; then pass "rpmspec parses the spec"; else fail "rpmspec cannot parse $spec"; fi
else
    echo "spec-checks: rpmspec is not installed; the spec's syntax is not checked"
fi

((status == 0)) && echo "spec-checks: passed"
exit "$status"
