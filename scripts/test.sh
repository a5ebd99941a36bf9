#!/usr/bin/env bash
# Builds anchord and runs the whole test suite: unit tests, keyring tests on
# the real kernel (each in a private session keyring), and integration tests
# on a private dbus-daemon.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/deps.sh
build=${ANCHORD_BUILD_DIR:-build}
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build "$build" -j"$(nproc)"
# keyctl session: every test process starts in a fresh session keyring, so
# nothing a test links survives it or meets another run's keys.
keyctl session - ctest --test-dir "$build" --output-on-failure -j"$(nproc)"
