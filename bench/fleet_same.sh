#!/usr/bin/env bash
# Do two backup-report binaries write the same reports? (issue 16, part 5: a change meant to
# cut memory must not change a byte of what the user sees.)
#
#   bench/fleet_same.sh OLD_DIR NEW_DIR [SETS]     # directories holding backup-report
#
# Generates the bench fleet (bench/gen_fleet.py, SETS sets, default 1000, and 30 days of
# history) and runs both binaries over it with the clock fixed by faketime (the page and
# the history carry "now"): --format text, json and html with --no-history, and html and
# json with a fresh copy of the history; then compares every output and the appended
# history byte for byte (cmp). Exit 0: all identical; 1: a difference (named).
set -euo pipefail
cd "$(dirname "$0")/.."
[[ $# -ge 2 ]] || { sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
OLD=$1 NEW=$2 SETS=${3:-1000}
command -v faketime >/dev/null || { echo "bench/fleet_same.sh: faketime is needed: apt-get install faketime" >&2; exit 2; }
DATA=$(mktemp -d "${TMPDIR:-/tmp}/fleet-same.XXXXXX")
trap 'rm -rf "$DATA"' EXIT
mkdir -p "$DATA/results"
python3 bench/gen_fleet.py results "$DATA/results" "$SETS" --history "$DATA/history.jsonl" --days 30
# The fleet's "now" is 2026-12-01 07:30 +01:00; a frozen clock half an hour later.
export TZ=Europe/Berlin FAKETIME_DONT_FAKE_MONOTONIC=1
run() { # BIN_DIR NAME ARGS...
    local bin=$1 name=$2
    shift 2
    # The same history path for both (the page names it); kept under the run's name after.
    local history=()
    if [[ " $* " != *" --no-history "* ]]; then
        cp "$DATA/history.jsonl" "$DATA/run.history"
        history=(--history "$DATA/run.history")
    fi
    faketime -f '2026-12-01 08:00:00' "$bin/backup-report" --from "$DATA/results" --hostname bench \
        --output "$DATA/$name.out" "${history[@]}" "$@" 2>"$DATA/$name.err" || [[ $? -le 3 ]]
    if [[ ${#history[@]} -gt 0 ]]; then
        mv "$DATA/run.history" "$DATA/$name.history"
    fi
}
status=0
for variant in "text --no-history" "json --no-history" "html --no-history" "html" "json" "text"; do
    read -r fmt extra <<<"$variant"
    tag=$fmt${extra:+-nohist}
    # shellcheck disable=SC2086 # $extra is one option or none
    run "$OLD" "old-$tag" --format "$fmt" $extra
    # shellcheck disable=SC2086
    run "$NEW" "new-$tag" --format "$fmt" $extra
    for part in out err history; do
        [[ -e $DATA/old-$tag.$part || -e $DATA/new-$tag.$part ]] || continue
        if cmp -s "$DATA/old-$tag.$part" "$DATA/new-$tag.$part"; then
            echo "same:      $tag $part ($(stat -c %s "$DATA/new-$tag.$part") bytes)"
        else
            echo "DIFFERENT: $tag $part"
            cmp "$DATA/old-$tag.$part" "$DATA/new-$tag.$part" || true
            status=1
        fi
    done
done
exit $status
