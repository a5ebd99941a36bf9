#!/usr/bin/env bash
# Builds anchord and runs the whole test suite, in stages:
#   1. the normal build: unit tests, keyring tests on the real kernel (each
#      in a private session keyring), integration tests on a private
#      dbus-daemon, client tests, limbo conformance, unit-file and packaging
#      checks;
#   2. the same suite built with AddressSanitizer + UBSan;
#   3. a short libFuzzer run of every target;
#   4. the package install test (a real system bus and polkitd);
#   5. the qemu lab (a real 6.12 kernel with .ima/.evm/.machine; its kernel
#      is cached outside the clone, in /var/cache/anchord-lab or
#      $ANCHORD_LAB_CACHE; a cold run takes about 7 minutes on 2 cores).
# ANCHORD_TEST_QUICK=1 stops after stage 1; stage 3 runs when
# ANCHORD_TEST_FUZZ=1 asks for it; ANCHORD_TEST_LAB=0 skips stage 5.
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
# The lab boots a kernel built from source under qemu (TCG), on the
# binaries of stage 1; see tests/lab/README.md. ANCHORD_TEST_LAB=0 skips it.
if [[ ${ANCHORD_TEST_LAB:-1} != 0 ]]; then
    ctest --test-dir "$build" --output-on-failure -L lab
else
    echo "the lab is not part of this run (ANCHORD_TEST_LAB=0)"
fi
