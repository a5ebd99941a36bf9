#!/usr/bin/env bash
# Runs anchord's benchmarks (bench/README.md) and prints the table: installs
# what the contenders need (the build dependencies, keyutils for keyctl,
# ima-evm-utils for evmctl), builds anchord, anchorctl and anchord_bench in
# build-bench/build, and runs every measurement on this machine (each
# contender several times, the median kept).
#
#   bench/run.sh [--out DIR] [--build DIR] [ANCHORD_BENCH OPTIONS...]
#
# --out DIR     where results.md, results.json and the logs go (default build-bench)
# --build DIR   the build directory (default build-bench/build)
# Anything else goes to anchord_bench (see `anchord_bench --help`), e.g.
# `--reps 7`, `--certs DIR` to keep the generated certificates between runs,
# or a quick run while developing: `--n 200 --reps 1 --queries 200`.
# Runs as root: anchord grants Enroll to uid 0 where polkit is not on the bus.
set -euo pipefail
cd "$(dirname "$0")/.."

out="build-bench"
build=
args=()
while (($#)); do
    case $1 in
        --out)
            out=${2:?--out wants a directory}
            shift 2
            ;;
        --build)
            build=${2:?--build wants a directory}
            shift 2
            ;;
        -h | --help)
            sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'
            exit 0
            ;;
        *)
            args+=("$1")
            shift
            ;;
    esac
done
build=${build:-$out/build}

if ((EUID != 0)); then
    echo "bench/run.sh: run it as root (it installs packages, and anchord lets only uid 0 enroll without polkit)" >&2
    exit 1
fi

./scripts/deps.sh
if ! command -v evmctl >/dev/null; then
    echo "bench: installing ima-evm-utils (evmctl)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq --no-install-recommends ima-evm-utils >/dev/null ||
        echo "bench: ima-evm-utils could not be installed; its contender is skipped" >&2
fi

# A build of its own, optimised and without the test suite, so that the
# figures never come from a sanitizer or debug build.
# ANCHORD_BUILD_BENCH is off by default (CI never builds the benchmark):
# it is turned on here, also in a build directory given with --build.
if [[ ! -f $build/build.ninja ]]; then
    cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
        -DANCHORD_BUILD_TESTS=OFF -DANCHORD_SANITIZE=OFF -DANCHORD_BUILD_BENCH=ON >/dev/null
else
    cmake -S . -B "$build" -DANCHORD_BUILD_BENCH=ON >/dev/null
fi
cmake --build "$build" -j"$(nproc)" --target anchord anchorctl anchord_bench

mkdir -p "$out"
build=$(cd "$build" && pwd)
exec "$build/bench/anchord_bench" \
    --anchord "$build/daemon/anchord" \
    --anchorctl "$build/client/anchorctl" \
    --out "$out" "${args[@]}"
