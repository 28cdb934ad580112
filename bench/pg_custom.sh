#!/usr/bin/env bash
# Verifying a pg_dump custom-format archive (-Fc): check_backup against `pg_restore -f -
# DUMP > /dev/null` (what an operator would run to read every data block), in the same run.
#
#   bench/pg_custom.sh [--rows N] [--runs N] [--base BIN] [--dir DIR]     (as root)
#
# A throwaway cluster of the newest /usr/lib/postgresql/*/bin (initdb + pg_ctl, no TCP
# port: listen_addresses='', socket in the temporary directory, run as postgres) gets one
# table of --rows rows (default 4,000,000: id, two md5 texts, a number; ~300 MB of SQL)
# made with generate_series; `pg_dump -Fc` writes the archive and the cluster is stopped
# (by pg_ctl, its own PID file). Then each command runs once untimed and --runs times
# (default 5): the release check_backup (`-f DUMP --no-cache -t 0`), with --base also
# another check_backup binary (e.g. main's, to compare a change), and pg_restore.
# Printed: median, min and max wall time, peak RSS (GNU time), the ratio to pg_restore.
# Every check_backup run must answer OK (the script fails otherwise). The temporary
# directory below --dir (default /var/tmp) is removed on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS=4000000
RUNS=5
BASE=
DIR=/var/tmp
while [[ $# -gt 0 ]]; do
    case $1 in
        --rows) ROWS=$2; shift 2 ;;
        --runs) RUNS=$2; shift 2 ;;
        --base) BASE=$2; shift 2 ;;
        --dir) DIR=$2; shift 2 ;;
        *) echo "unknown option $1 (see the header of $0)" >&2; exit 2 ;;
    esac
done
[ "$(id -u)" = 0 ] || { echo "run as root (the cluster runs as postgres)" >&2; exit 2; }
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
[ -x "$PGBIN/initdb" ] || { echo "PostgreSQL is not installed (apt install postgresql)" >&2; exit 2; }

cargo build --release --quiet --bin check_backup
BIN=$PWD/target/release/check_backup
T=$(mktemp -d "$DIR/check_backup-pgcustom.XXXXXX")
chmod 755 "$T"
cleanup() {
    if [ -f "$T/data/postmaster.pid" ]; then
        su postgres -s /bin/sh -c "'$PGBIN/pg_ctl' -D '$T/data' -m immediate stop" >/dev/null 2>&1 || true
    fi
    rm -rf "$T"
}
trap cleanup EXIT
mkdir "$T/run" && chown postgres "$T" "$T/run"

echo "== a table of $ROWS rows in a throwaway PostgreSQL ($PGBIN), pg_dump -Fc"
su postgres -s /bin/sh -c "'$PGBIN/initdb' -D '$T/data' -A trust --no-sync >'$T/initdb.log' 2>&1"
su postgres -s /bin/sh -c "'$PGBIN/pg_ctl' -D '$T/data' -l '$T/server.log' -w \
    -o \"-c listen_addresses= -k $T/run -c fsync=off\" start >/dev/null"
su postgres -s /bin/sh -c "'$PGBIN/psql' -X -q -h '$T/run' -d postgres -c \
    \"CREATE TABLE t AS SELECT g AS id, md5(g::text) || md5((g * 7)::text) AS note, \
      g % 1000 AS k FROM generate_series(1, $ROWS) g;\""
su postgres -s /bin/sh -c "'$PGBIN/pg_dump' -h '$T/run' -Fc postgres" >"$T/bench.dump"
su postgres -s /bin/sh -c "'$PGBIN/pg_ctl' -D '$T/data' -m fast -w stop >/dev/null"
SQL=$("$PGBIN/pg_restore" -f - "$T/bench.dump" | wc -c)
echo "   archive $(stat -c %s "$T/bench.dump") bytes, $SQL bytes of SQL"
echo "   load before: $(cut -d' ' -f1-3 /proc/loadavg)"

# run NAME COMMAND...: once untimed, then RUNS times; prints "NAME median min max rss".
run() {
    local name=$1; shift
    "$@" >/dev/null 2>&1 || true
    local times=() rss=0 i out
    for ((i = 0; i < RUNS; i++)); do
        /usr/bin/time -o "$T/time" -f '%e %M' "$@" >"$T/out" 2>/dev/null || true
        out=$(tail -1 "$T/time")
        if [[ $name == check_backup* ]] && ! head -1 "$T/out" | grep -q '^BACKUP OK'; then
            echo "$name did not answer OK: $(head -1 "$T/out")" >&2
            exit 1
        fi
        times+=("${out% *}")
        (( ${out#* } > rss )) && rss=${out#* }
    done
    printf '%s %s %s\n' "$name" "$(printf '%s\n' "${times[@]}" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)], a[1], a[NR]}')" "$rss"
}

{
    run check_backup "$BIN" -f "$T/bench.dump" --no-cache -t 0 --settle 0 -w 1000d -c 2000d
    if [ -n "$BASE" ]; then
        run check_backup_base "$BASE" -f "$T/bench.dump" --no-cache -t 0 --settle 0 -w 1000d -c 2000d
    fi
    run pg_restore sh -c "'$PGBIN/pg_restore' -f - '$T/bench.dump' >/dev/null"
} >"$T/results"
echo "   load after: $(cut -d' ' -f1-3 /proc/loadavg)"
PG=$(awk '$1 == "pg_restore" {print $2}' "$T/results")
echo
echo "| command | median s | min s | max s | peak RSS MiB | / pg_restore |"
echo "|---|---:|---:|---:|---:|---:|"
while read -r name med min max rss; do
    printf '| %s | %s | %s | %s | %.1f | %.2fx |\n' "$name" "$med" "$min" "$max" \
        "$(echo "$rss / 1024" | bc -l)" "$(echo "$med / $PG" | bc -l)"
done <"$T/results"
