#!/usr/bin/env bash
# Builds the cargo-fuzz targets and runs each one for a while (30 s by default), then
# prints a summary: executions, coverage, corpus, and whether it crashed. Exits non-zero
# if any target crashed, failed an invariant, timed out or could not run.
#
#   fuzz/smoke.sh                 # CI: 30 s per target, fresh work corpus, seeds read-only
#   fuzz/smoke.sh 600             # the long runs: 10 min per target
#   PARALLEL=2 fuzz/smoke.sh 600  # two targets at a time (the machine has 2 cores)
#   TARGETS="decode log" fuzz/smoke.sh 60
#   FUZZ_WORK=fuzz/work fuzz/smoke.sh 600   # keep the grown corpus there between runs
#
# Needs: cargo (stable is enough: RUSTC_BOOTSTRAP=1 lets cargo-fuzz pass its -Z flags),
# a C++ compiler for libFuzzer (Debian: g++; clang is not needed), cargo-fuzz. Missing
# ones are installed (apt-get as root, cargo install --locked).
set -euo pipefail
cd "$(dirname "$0")"

SECONDS_PER_TARGET="${1:-30}"
PARALLEL="${PARALLEL:-1}"
TARGETS="${TARGETS:-decode log parsers output}"
export RUSTC_BOOTSTRAP=1

declare -A MAX_LEN=([decode]=16384 [log]=16384 [parsers]=1024 [output]=4096)

echo "== fuzz smoke: ${SECONDS_PER_TARGET}s per target ($TARGETS), $PARALLEL at a time"
if ! command -v c++ >/dev/null 2>&1; then
    echo "== installing a C++ compiler (libFuzzer is C++)"
    if [ "$(id -u)" = 0 ]; then
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq && apt-get install -y -qq --no-install-recommends g++ >/dev/null
    else
        echo "no C++ compiler and not root: install g++" >&2
        exit 2
    fi
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "== installing cargo-fuzz"
    cargo install --locked cargo-fuzz
fi

started=$(date +%s)
echo "== building the fuzz targets (release, debug assertions, AddressSanitizer)"
cargo fuzz build
built=$(date +%s)
echo "   built in $((built - started))s"

if [ -n "${FUZZ_WORK:-}" ]; then
    work_root="$(cd .. && mkdir -p "$FUZZ_WORK" && cd "$FUZZ_WORK" && pwd)"
else
    work_root="$(mktemp -d)"
    trap 'rm -rf "$work_root"' EXIT
fi
logs="$work_root/logs"
mkdir -p "$logs"

run_target() {
    local t="$1"
    mkdir -p "$work_root/$t" "artifacts/$t"
    local rc=0 dict=()
    [ -s "dict/$t.dict" ] && dict=(-dict="dict/$t.dict")
    # First corpus dir is written to (new inputs), the seed corpus is only read.
    cargo fuzz run "$t" "$work_root/$t" "corpus/$t" -- \
        -max_total_time="$SECONDS_PER_TARGET" \
        -max_len="${MAX_LEN[$t]}" \
        "${dict[@]}" \
        -timeout=20 -rss_limit_mb=2048 \
        -print_final_stats=1 \
        >"$logs/$t.log" 2>&1 || rc=$?
    echo "$rc" >"$logs/$t.rc"
}

running=0
for t in $TARGETS; do
    echo "== running $t for ${SECONDS_PER_TARGET}s"
    run_target "$t" &
    running=$((running + 1))
    if [ "$running" -ge "$PARALLEL" ]; then
        wait -n || true
        running=$((running - 1))
    fi
done
wait || true

failed=0
printf '\n%-8s %-6s %12s %10s %8s %8s %8s  %s\n' target result executions exec/s cov ft corpus note
for t in $TARGETS; do
    log="$logs/$t.log"
    rc="$(cat "$logs/$t.rc" 2>/dev/null || echo 99)"
    execs="$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | tail -1 | grep -o '[0-9]*$' || true)"
    speed="$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | tail -1 | grep -o '[0-9]*$' || true)"
    last="$(grep -E '^#[0-9]+' "$log" | grep 'cov:' | tail -1 || true)"
    cov="$(echo "$last" | grep -o 'cov: [0-9]*' | grep -o '[0-9]*' || true)"
    ft="$(echo "$last" | grep -o 'ft: [0-9]*' | grep -o '[0-9]*' || true)"
    corp="$(echo "$last" | grep -o 'corp: [0-9]*' | grep -o '[0-9]*' || true)"
    if [ "$rc" = 0 ]; then
        result=ok
        note=""
    else
        result=FAIL
        failed=1
        note="$(grep -m1 -E 'panicked at|ERROR: libFuzzer|ERROR: AddressSanitizer|SUMMARY' "$log" || echo "exit $rc")"
        artifact="$(grep -o 'Test unit written to [^ ]*' "$log" | head -1 | sed 's/Test unit written to //' || true)"
        [ -n "$artifact" ] && note="$note; reproduce: cargo fuzz run $t $artifact"
    fi
    printf '%-8s %-6s %12s %10s %8s %8s %8s  %s\n' "$t" "$result" "${execs:-?}" "${speed:-?}" \
        "${cov:-?}" "${ft:-?}" "${corp:-?}" "$note"
done
echo
echo "total $(($(date +%s) - started))s (build $((built - started))s); logs in $logs"
if [ "$failed" != 0 ]; then
    for t in $TARGETS; do
        if [ "$(cat "$logs/$t.rc" 2>/dev/null || echo 99)" != 0 ]; then
            echo "---- $t: end of the log"
            tail -40 "$logs/$t.log"
        fi
    done
    echo "FUZZ SMOKE FAILED"
    exit 1
fi
echo "fuzz smoke: all targets ran ${SECONDS_PER_TARGET}s without a crash"
