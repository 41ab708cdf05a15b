#!/usr/bin/env bash
# libFuzzer over Sigil's parsers of hostile bytes (docs/fuzzing.md).
#
# Usage: scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]
#   SECONDS_PER_TARGET  how long each target runs (default $SIGIL_FUZZ_SECONDS, else 60)
#   TARGET              fuzz targets to run (default: every Fuzz/Sources/fuzz-*)
#
# Builds the fuzz package (Fuzz/Package.swift, its own scratch path, never the main .build) with
# `-sanitize=fuzzer,address -parse-as-library` (libFuzzer provides main), then runs each target
# over its seed corpus Fuzz/Corpus/<target> with -max_total_time, -rss_limit_mb=2048 and
# -timeout=10. New inputs go to a working corpus under the scratch path, never into the seeds;
# crashes, leaks, timeouts and out-of-memory inputs land in <scratch>/artifacts/<target>/. Leaks
# outside Sigil that cannot be fixed here are suppressed by Fuzz/lsan-suppressions.txt (explained there).
# One PASS/FAIL line per target (with libFuzzer's executions and coverage), then "N passed, M failed".
#
# Environment: SIGIL_FUZZ_SCRATCH (scratch path, default Fuzz/.build), SIGIL_FUZZ_CONFIG
# (debug or release, default debug), SIGIL_FUZZ_JOBS (build jobs, default nproc),
# SIGIL_FUZZ_NICE (build priority, default 10), SIGIL_FUZZ_BUILD_ONLY=1 (build the targets, run
# none: CI builds them early, in the background).
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$(pwd)

seconds=${1:-${SIGIL_FUZZ_SECONDS:-60}}
shift || true
if ! [[ "$seconds" =~ ^[0-9]+$ ]] || [ "$seconds" -lt 1 ]; then
    echo "usage: scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]" >&2
    exit 2
fi
if [ "$#" -gt 0 ]; then
    targets=("$@")
else
    mapfile -t targets < <(find Fuzz/Sources -mindepth 1 -maxdepth 1 -type d -name 'fuzz-*' -printf '%f\n' | LC_ALL=C sort)
fi
scratch=${SIGIL_FUZZ_SCRATCH:-$root/Fuzz/.build}
config=${SIGIL_FUZZ_CONFIG:-debug}
jobs=${SIGIL_FUZZ_JOBS:-$(nproc)}

passed=0 failed=0
pass() { passed=$((passed + 1)); echo "PASS $*"; }
fail() { failed=$((failed + 1)); echo "FAIL $*"; }

build_args=(--package-path Fuzz --scratch-path "$scratch" -c "$config" -j "$jobs"
    -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library)
started=$SECONDS
mkdir -p "$scratch/logs"
build_ok=1
# One `--product` per target (SwiftPM builds one product per invocation; the shared modules build
# once). Never a bare `swift build`: the fuzz package's dependency is a local path package, whose
# every target (Hummingbird, the service stack, the build plugins' tools) a bare build would compile
# with the sanitizers too.
for t in "${targets[@]}"; do
    nice -n "${SIGIL_FUZZ_NICE:-10}" swift build "${build_args[@]}" --product "$t" >>"$scratch/logs/build.log" 2>&1 || build_ok=0
done
bin=$(swift build "${build_args[@]}" --show-bin-path 2>/dev/null)
if [ "$build_ok" -eq 1 ]; then
    pass "build of ${#targets[@]} fuzz targets ($config, $((SECONDS - started))s)"
else
    grep -E 'error:' "$scratch/logs/build.log" | head -n 20
    fail "build of the fuzz targets (log: $scratch/logs/build.log)"
fi

if [ "${SIGIL_FUZZ_BUILD_ONLY:-0}" = 1 ]; then
    echo "$passed passed, $failed failed"
    [ "$failed" -eq 0 ]
    exit
fi

for t in "${targets[@]}"; do
    exe=$bin/$t
    seeds=$root/Fuzz/Corpus/$t
    if [ ! -x "$exe" ]; then
        fail "$t: not built"
        continue
    fi
    if [ ! -d "$seeds" ]; then
        fail "$t: no seed corpus at Fuzz/Corpus/$t"
        continue
    fi
    work=$scratch/corpus/$t
    artifacts=$scratch/artifacts/$t
    log=$scratch/logs/$t.log
    mkdir -p "$work" "$artifacts" "$(dirname "$log")"
    marker=$scratch/logs/$t.started
    : >"$marker"
    rc=0
    LSAN_OPTIONS="suppressions=$root/Fuzz/lsan-suppressions.txt:print_suppressions=0${LSAN_OPTIONS:+:$LSAN_OPTIONS}" \
        timeout --kill-after=30 $((seconds + 120)) "$exe" "$work" "$seeds" \
        -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
        -artifact_prefix="$artifacts/" >"$log" 2>&1 || rc=$?
    # libFuzzer's final stats: stat::number_of_executed_units, the last "cov:"/"ft:"/"corp:" status line.
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    status=$(grep -E '^#[0-9]+.*cov: ' "$log" | tail -n 1 | grep -oE 'cov: [0-9]+ ft: [0-9]+ corp: [0-9]+/[^ ]+' || true)
    # Only this run's artefacts: earlier ones stay for reproduction but do not fail the run.
    found=$(find "$artifacts" -type f -newer "$marker" | head -n 5 | tr '\n' ' ')
    if [ "$rc" -eq 0 ] && [ -z "$found" ]; then
        pass "$t: ${execs:-?} executions in ${seconds}s, ${status:-no status line}"
    else
        grep -E '^==[0-9]+==ERROR|^SUMMARY|Fatal error|Test unit written' "$log" | head -n 10
        fail "$t: exit $rc, artefacts: ${found:-none} (log: $log)"
    fi
done

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
