#!/usr/bin/env bash
# Builds everything with AddressSanitizer and UndefinedBehaviorSanitizer
# (-DANCHORD_SANITIZE=ON, in build-asan) and runs the whole test suite under
# them, as scripts/test.sh does for the normal build. Any sanitizer report
# fails the run: in a test binary, and also in a process a test started (the
# anchord daemon, anchorctl), whose report the test itself might not see.
# Every report goes to a file under $build/sanitizer-logs/, printed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/deps.sh
build=${ANCHORD_ASAN_BUILD_DIR:-build-asan}
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DANCHORD_SANITIZE=ON
cmake --build "$build" -j"$(nproc)"

logs=$(realpath "$build")/sanitizer-logs
rm -rf "$logs"
mkdir -p "$logs"
# halt_on_error with -fno-sanitize-recover=all: the first report ends the
# process with a failure; detect_leaks: a leak at exit is a report too.
export ASAN_OPTIONS="halt_on_error=1:detect_leaks=1:print_stacktrace=1:detect_stack_use_after_return=1:check_initialization_order=1:strict_init_order=1:log_path=$logs/asan"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:log_path=$logs/ubsan"
export LSAN_OPTIONS="log_path=$logs/lsan"

status=0
# keyctl session: every test process starts in a fresh session keyring.
# ANCHORD_CTEST_ARGS: more ctest arguments (scripts/test.sh leaves out the
# lab and install labels, which it runs as stages of their own).
# shellcheck disable=SC2086
keyctl session - ctest --test-dir "$build" --output-on-failure -j"$(nproc)" ${ANCHORD_CTEST_ARGS:-} || status=$?

shopt -s nullglob
reports=("$logs"/*)
if ((${#reports[@]})); then
    for r in "${reports[@]}"; do
        echo "===== sanitizer report $(basename "$r") ====="
        cat "$r"
    done >&2
    echo "test-sanitize: ${#reports[@]} sanitizer report(s), see above and $logs" >&2
    status=1
fi
exit "$status"
