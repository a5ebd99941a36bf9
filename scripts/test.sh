#!/usr/bin/env bash
# Builds anchord and runs the whole test suite, in stages:
#   1. the normal build: unit tests, keyring tests on the real kernel (each
#      in a private session keyring), integration tests on a private
#      dbus-daemon, client tests, limbo conformance, unit-file and packaging
#      checks;
#   2. the same suite built with AddressSanitizer + UBSan;
#   3. a short libFuzzer run of every target;
#   4. the package install test (a real system bus and polkitd);
#   5. the qemu lab (a real kernel with .ima/.evm; its kernel is cached in
#      /var/cache/anchord-lab).
# ANCHORD_TEST_QUICK=1 stops after stage 1; stages 3 and 5 run when
# ANCHORD_TEST_FUZZ=1 and ANCHORD_TEST_LAB=1 ask for them.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/deps.sh
build=${ANCHORD_BUILD_DIR:-build}
# The lab and the install test are stages of their own below.
heavy='lab|install'

stage() { printf '\n===== test.sh: %s =====\n' "$*"; }

stage "1/5 build and test"
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build "$build" -j"$(nproc)"
# keyctl session: every test process starts in a fresh session keyring, so
# nothing a test links survives it or meets another run's keys.
keyctl session - ctest --test-dir "$build" --output-on-failure -j"$(nproc)" -LE "$heavy"
[[ -n ${ANCHORD_TEST_QUICK:-} ]] && exit 0

stage "2/5 sanitizers (ASan + UBSan)"
# The demo (label demo) already ran above as a user runs it.
ANCHORD_CTEST_ARGS="-LE lab|install|demo" ./scripts/test-sanitize.sh

stage "3/5 fuzzing smoke run"
# ANCHORD_TEST_FUZZ=1 runs each libFuzzer target for 25 s (docs/fuzzing.md).
if [[ -n ${ANCHORD_TEST_FUZZ:-} ]]; then
    ./fuzz/run.sh 25
else
    echo "the fuzzing smoke run is not part of this run (ANCHORD_TEST_FUZZ=1 runs it)"
fi

stage "4/5 package install test"
keyctl session - ctest --test-dir "$build" --output-on-failure -L install

stage "5/5 the lab"
# The lab boots a kernel built from source under qemu (TCG): set
# ANCHORD_TEST_LAB=1 to run it; see tests/lab/README.md.
if [[ -n ${ANCHORD_TEST_LAB:-} ]]; then
    ctest --test-dir "$build" --output-on-failure -L lab
else
    echo "the lab is not part of this run (ANCHORD_TEST_LAB=1 runs it)"
fi
