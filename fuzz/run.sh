#!/usr/bin/env bash
# Builds the libFuzzer targets with clang-14 (ASan + UBSan), generates the
# seed corpora and runs each target for a bounded time. Fails on any crash,
# sanitizer report, leak, timeout or out-of-memory.
#
#   fuzz/run.sh [SECONDS_PER_TARGET] [TARGET...]
#
# SECONDS_PER_TARGET defaults to 25 (the CI run: four targets in under two
# minutes). Environment:
#   ANCHORD_FUZZ_BUILD_DIR  build directory (default: build-fuzz in the clone)
#   ANCHORD_FUZZ_JOBS       parallel fuzzing processes per target (default 1)
# The corpus grown by each run is kept in $build/corpus/<target> and reused
# by the next; what a run finds is written to $build/artifacts/<target>/.
# See docs/fuzzing.md for longer runs and for replaying a finding.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-25}
shift || true
[[ $seconds =~ ^[0-9]+$ ]] || { echo "usage: fuzz/run.sh [SECONDS_PER_TARGET] [TARGET...]" >&2; exit 2; }
build=${ANCHORD_FUZZ_BUILD_DIR:-build-fuzz}
jobs=${ANCHORD_FUZZ_JOBS:-1}
all_targets=(fuzz_certificate fuzz_policy fuzz_state fuzz_dbus)
targets=("$@")
((${#targets[@]})) || targets=("${all_targets[@]}")

# The project's own build dependencies, then Debian's clang-14 and its
# fuzzer runtime.
./scripts/deps.sh
packages=(clang-14 libclang-rt-14-dev libfuzzer-14-dev)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
    echo "fuzz: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

CC=clang-14 CXX=clang++-14 cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DANCHORD_FUZZ=ON -DANCHORD_BUILD_TESTS=OFF >/dev/null
cmake --build "$build" -j"$(nproc)" --target "${targets[@]}"

# Seeds are regenerated when the script that makes them changes.
seeds=$build/seeds
if [[ ! -f $seeds/.stamp || fuzz/make-seeds.sh -nt $seeds/.stamp ]]; then
    fuzz/make-seeds.sh "$seeds"
    touch "$seeds/.stamp"
fi

# Any sanitizer report is fatal, leaks included (libFuzzer's -detect_leaks
# runs LeakSanitizer after each input that allocated more than it freed).
export ASAN_OPTIONS=halt_on_error=1:detect_leaks=1:print_stacktrace=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1

declare -A seed_dir=(
    [fuzz_certificate]=certificate [fuzz_policy]=policy [fuzz_state]=state [fuzz_dbus]=dbus)
declare -A dict=([fuzz_policy]=fuzz/json.dict [fuzz_state]=fuzz/json.dict)

failed=()
summary=()
for t in "${targets[@]}"; do
    [[ -n ${seed_dir[$t]:-} ]] || { echo "fuzz: unknown target $t" >&2; exit 2; }
    corpus=$build/corpus/$t
    artifacts=$build/artifacts/$t/
    mkdir -p "$corpus" "$artifacts"
    log=$build/logs/$t.log
    mkdir -p "$(dirname "$log")"
    args=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=2048
          -detect_leaks=1 -print_final_stats=1 -artifact_prefix="$artifacts")
    [[ -n ${dict[$t]:-} ]] && args+=(-dict="${dict[$t]}")
    if ((jobs > 1)); then args+=(-fork="$jobs" -ignore_crashes=0 -ignore_timeouts=0 -ignore_ooms=0); fi
    echo "fuzz: $t for ${seconds}s"
    status=0
    "$build/fuzz/$t" "${args[@]}" "$corpus" "$seeds/${seed_dir[$t]}" >"$log" 2>&1 || status=$?
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 || true)
    line="$t: ${runs:-?} runs, ${rate:-?} exec/s, ${cov:-cov: ?}, corpus $(find "$corpus" -type f | wc -l) files"
    if ((status != 0)); then
        line+=" — FAILED (exit $status)"
        failed+=("$t")
        # The report: what libFuzzer said and the input that did it.
        grep -E -A40 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:|broken promise|SUMMARY:|Test unit written' "$log" | head -80 >&2 || tail -40 "$log" >&2
    fi
    echo "fuzz: $line"
    summary+=("$line")
done

echo
printf 'fuzz: %s\n' "${summary[@]}"
if ((${#failed[@]})); then
    echo "fuzz: FAILED: ${failed[*]} (inputs in $build/artifacts/, logs in $build/logs/)" >&2
    exit 1
fi
