#!/usr/bin/env bash
# End-to-end: check_backup over the backups and logs that the packaged backup tools really
# wrote (tests/fixtures/real/tools/, made by tests/fixtures/regenerate-tools.sh), one check
# per row of each scenario's EXPECTED.tsv, at the moment the row names (`now`), with the
# scenario's mtimes set back from MTIMES.tsv (git keeps none).
#
#   tests/e2e/real-tools.sh                 use the committed fixtures
#   tests/e2e/real-tools.sh --regenerate    run regenerate-tools.sh first (root, Debian 12)
#   tests/e2e/real-tools.sh -v              print every answer's first line
#
# Binary: $CHECK_BACKUP, else target/release/check_backup. Needs faketime (Debian package
# faketime): the checker runs under `faketime NOW`. Each check adds --no-cache --settle 0.
# Expected states: OK, WARNING, CRITICAL, UNKNOWN, or WARNING+ (WARNING or CRITICAL).
# Prints one line per check and "N passed, N failed"; exits 1 when a check failed.
set -u
export LC_ALL=C.UTF-8 TZ=UTC
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
FIX=$ROOT/tests/fixtures/real/tools
BIN=$(realpath "${CHECK_BACKUP:-$ROOT/target/release/check_backup}")
VERBOSE=
REGEN=
for a in "$@"; do
    case $a in
        --regenerate) REGEN=1 ;;
        -v|--verbose) VERBOSE=1 ;;
        *) echo "usage: $0 [--regenerate] [-v]" >&2; exit 2 ;;
    esac
done

if [[ -n $REGEN || ! -d $FIX ]]; then
    [[ $(id -u) -eq 0 ]] || { echo "regenerating the fixtures needs root" >&2; exit 2; }
    bash "$ROOT/tests/fixtures/regenerate-tools.sh" || { echo "regenerate-tools.sh failed" >&2; exit 2; }
fi
[[ -x $BIN ]] || { echo "no check_backup binary at $BIN (cargo build --release, or set CHECK_BACKUP)" >&2; exit 2; }
command -v faketime >/dev/null || { echo "faketime missing (apt-get install faketime)" >&2; exit 2; }

WORK=$(mktemp -d /tmp/check_backup-real-tools.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
pass=0 fail=0
failed=()
for scen_dir in "$FIX"/*/; do
    scen=$(basename "$scen_dir")
    [[ -f $scen_dir/EXPECTED.tsv ]] || continue
    copy=$WORK/$scen
    cp -R "$scen_dir" "$copy"
    # mtimes back (the copy made them all "now"; setting one never changes its directory's)
    while IFS=$'\t' read -r path epoch _; do
        [[ $path == \#* || -z $path ]] && continue
        # git keeps no empty directory: a listed path that is missing is one
        [[ -e $copy/$path ]] || mkdir -p "$copy/$path"
        touch -h -m -d "@$epoch" "$copy/$path"
    done <"$copy/MTIMES.tsv"
    while IFS=$'\t' read -r id now want args why; do
        [[ $id == \#* || -z $id ]] && continue
        # args are shell words written by regenerate-tools.sh (single-quoted regexes)
        eval "argv=($args)"
        out=$(cd "$copy" && FAKETIME_DONT_FAKE_MONOTONIC=1 faketime "$now" "$BIN" --no-cache --settle 0 "${argv[@]}" 2>/dev/null)
        rc=$?
        first=$(printf '%s\n' "$out" | head -n 1)
        got=$(printf '%s' "$first" | sed -nE 's/^BACKUP (OK|WARNING|CRITICAL|UNKNOWN)\b.*/\1/p')
        [[ -n $got ]] || got="?(rc $rc)"
        case $want in
            WARNING+) [[ $got == WARNING || $got == CRITICAL ]] && ok=1 || ok= ;;
            *) [[ $got == "$want" ]] && ok=1 || ok= ;;
        esac
        if [[ -n $ok ]]; then
            pass=$((pass + 1)); printf 'ok    %-36s %-14s %-9s\n' "$scen" "$id" "$got"
        else
            fail=$((fail + 1)); failed+=("$scen/$id")
            printf 'FAIL  %-36s %-14s got %s, want %s (%s)\n' "$scen" "$id" "$got" "$want" "$why"
        fi
        if [[ -n $VERBOSE || -z $ok ]]; then
            printf '      $ check_backup --no-cache --settle 0 %s   # at %s\n      %s\n' "$args" "$now" "${first:0:400}"
        fi
    done <"$copy/EXPECTED.tsv"
done
echo "$pass passed, $fail failed"
if [[ $fail -gt 0 ]]; then
    printf 'failed: %s\n' "${failed[*]}"
    exit 1
fi
