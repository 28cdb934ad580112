#!/usr/bin/env bash
# Benchmark of check_backup on a real pg_backupcluster base backup (issue 19) against what
# an operator of PostgreSQL 15 does without it: its pg_verifybackup cannot read tar-format
# backups, so the tarballs are extracted first (`tar -xzf base.tar.gz`, `pg_wal.tar.gz`
# into pg_wal/, backup_manifest beside them) and pg_verifybackup checks the directory
# (manifest checksum, every file's size and CRC32C, the WAL parsed with pg_waldump). Also
# timed: pg_verifybackup alone on the extracted directory (what a plain-format backup,
# `pg_basebackup -Fp`, costs to verify) and `tar -tzf base.tar.gz` (gzip + tar only).
# See BENCHMARKS.md, "pg_backupcluster base backups".
#
#   bench/pgcluster.sh [options]          (as root)
#
# The backup is made once, for real, and kept in --data: a throwaway cluster 15/ckbbench
# (pg_createcluster, data in --data), `pgbench -i -s SCALE` (scale 68: about 1 GiB of data
# directory), `pg_backupcluster 15 ckbbench basebackup`; the entry is moved into --data,
# the cluster dropped (its /etc/postgresql/15/ckbbench goes with it) and
# /var/backups/postgresql/15-ckbbench removed (and /var/backups/postgresql when this run
# created it), on every exit. Then every command is run
# --runs times, alternating, after one untimed warm-up, all files in the page cache.
# Printed: median, min and max wall time and peak RSS (GNU time).
#
# Options:
#   --scale N      pgbench scale (default 68)
#   --runs N       timed runs per command (default 5)
#   --bin PATH     the check_backup binary (default: cargo build --release)
#   --data DIR     where the backup is kept (default ${TMPDIR:-/tmp}/check_backup-bench-pg);
#                  reused when it holds one
#   --clean        delete --data at the end
#   --out FILE     also append the result table (Markdown) to FILE
#
# Needs: root, postgresql-15, postgresql-common, postgresql-contrib (pgbench; in
# postgresql-client-15 on Debian 12), GNU time, tar, gzip, perl.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
SCALE=68
RUNS=5
BIN=
DATA=${TMPDIR:-/tmp}/check_backup-bench-pg
CLEAN=0
OUT=
PG_MAJOR=15
CLUSTER=ckbbench
PGBIN=/usr/lib/postgresql/$PG_MAJOR/bin
CDIR=/var/backups/postgresql/$PG_MAJOR-$CLUSTER
ETC_CLUSTER=/etc/postgresql/$PG_MAJOR/$CLUSTER

die() { echo "bench/pgcluster.sh: $*" >&2; exit 2; }
note() { printf '==> %s\n' "$*" >&2; }

while [ $# -gt 0 ]; do
    case "$1" in
        --scale) SCALE=$2; shift 2 ;;
        --runs) RUNS=$2; shift 2 ;;
        --bin) BIN=$2; shift 2 ;;
        --data) DATA=$2; shift 2 ;;
        --clean) CLEAN=1; shift ;;
        --out) OUT=$2; shift 2 ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown argument $1" ;;
    esac
done
[[ $(id -u) -eq 0 ]] || die "must run as root (pg_createcluster, pg_backupcluster)"
[ -x /usr/bin/time ] || die "GNU time is needed: apt-get install time"
[[ "$RUNS" =~ ^[1-9][0-9]*$ ]] || die "--runs needs a positive number"
[[ "$SCALE" =~ ^[1-9][0-9]*$ ]] || die "--scale needs a positive number"
for c in pg_createcluster pg_dropcluster pg_ctlcluster pg_backupcluster pgbench; do
    command -v "$c" >/dev/null || die "$c is needed (postgresql-common, postgresql-client-$PG_MAJOR)"
done
[ -x "$PGBIN/pg_verifybackup" ] || die "$PGBIN/pg_verifybackup is needed (postgresql-$PG_MAJOR)"

CREATED=
PG_DATA=
CREATED_BACKUP_ROOT=
teardown() { # the throwaway cluster and pg_backupcluster's directory, if made by this run
    local pid
    if [[ -n $PG_DATA && -f $PG_DATA/postmaster.pid ]]; then
        pid=$(head -n 1 "$PG_DATA/postmaster.pid")
        (cd / && runuser -u postgres -- "$PGBIN/pg_ctl" -D "$PG_DATA" -m fast -w -t 30 stop >/dev/null 2>&1) || true
        if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
    fi
    if [[ -n $CREATED && -d $ETC_CLUSTER ]]; then
        pg_dropcluster "$PG_MAJOR" "$CLUSTER" >/dev/null 2>&1 || rm -rf "$ETC_CLUSTER"
    fi
    if [[ -n $CREATED ]]; then rm -rf "$CDIR" "$DATA/pgdata" "$DATA/run"; fi
    # pg_backupcluster creates /var/backups/postgresql when it is not there.
    if [[ -n $CREATED_BACKUP_ROOT ]]; then rmdir /var/backups/postgresql 2>/dev/null || true; fi
    CREATED=
    PG_DATA=
}
cleanup() {
    teardown
    rm -rf "$DATA/extract"
    if [[ $CLEAN -eq 1 ]]; then rm -rf "$DATA"; fi
    return 0
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

mkdir -p "$DATA"
chmod 0755 "$DATA"
ENTRY=$(find "$DATA/15-$CLUSTER" -maxdepth 1 -name '*.backup' 2>/dev/null | sort | tail -n 1 || true)
if [[ -z $ENTRY || ! -f $ENTRY/status ]]; then
    [[ -d $ETC_CLUSTER ]] && die "$ETC_CLUSTER exists (a cluster of another run?): pg_dropcluster $PG_MAJOR $CLUSTER first"
    rm -rf "$DATA/15-$CLUSTER" "$CDIR"
    [[ -d /var/backups/postgresql ]] || CREATED_BACKUP_ROOT=1
    PG_DATA=$DATA/pgdata
    mkdir -p "$DATA/run"
    chown postgres:postgres "$DATA/run"
    PORT=$(perl -MIO::Socket::INET -e 'my $s = IO::Socket::INET->new(Listen => 1, LocalAddr => "127.0.0.1", LocalPort => 0) or die; print $s->sockport')
    note "pg_createcluster $PG_MAJOR $CLUSTER (port $PORT, data in $PG_DATA)"
    CREATED=1
    for v in $(compgen -e | grep '^PG' || true); do unset "$v"; done
    pg_createcluster "$PG_MAJOR" "$CLUSTER" -p "$PORT" -d "$PG_DATA" -s "$DATA/run" \
        -l "$DATA/server.log" --start-conf=manual --locale=C.UTF-8 \
        -o listen_addresses= -o checkpoint_completion_target=0 -o fsync=off \
        -o synchronous_commit=off -o max_wal_size=4GB >/dev/null
    pg_ctlcluster "$PG_MAJOR" "$CLUSTER" start
    note "[${SECONDS}s] pgbench -i -s $SCALE"
    (cd / && runuser -u postgres -- pgbench --cluster "$PG_MAJOR/$CLUSTER" -i -s "$SCALE" -q postgres) >/dev/null
    (cd / && runuser -u postgres -- psql --cluster "$PG_MAJOR/$CLUSTER" -X -q -c CHECKPOINT postgres)
    note "[${SECONDS}s] pg_backupcluster $PG_MAJOR $CLUSTER basebackup"
    (cd / && pg_backupcluster "$PG_MAJOR" "$CLUSTER" basebackup) >/dev/null
    note "[${SECONDS}s] backup made"
    mkdir -p "$DATA/15-$CLUSTER"
    mv "$CDIR"/*.backup "$DATA/15-$CLUSTER/"
    teardown
    ENTRY=$(find "$DATA/15-$CLUSTER" -maxdepth 1 -name '*.backup' | sort | tail -n 1)
fi
DATA_BYTES=$(tar -tvzf "$ENTRY/base.tar.gz" | awk '{s += $3} END {print s}')
note "entry $ENTRY: base.tar.gz $(stat -c %s "$ENTRY/base.tar.gz") bytes, $DATA_BYTES bytes of files"

if [[ -z $BIN ]]; then
    (cd "$ROOT" && cargo build --release -q)
    BIN=$ROOT/target/release/check_backup
fi

X=$DATA/extract
declare -A CMD
NAMES=(check_backup extract+pg_verifybackup pg_verifybackup tar-tzf)
CMD[check_backup]="'$BIN' -f '$DATA/15-$CLUSTER' --no-cache -w 100000d -c 100001d >/dev/null; [ \$? -eq 0 ]"
CMD[extract+pg_verifybackup]="rm -rf '$X' && mkdir -p '$X/pg_wal' && tar -xzf '$ENTRY/base.tar.gz' -C '$X' && tar -xzf '$ENTRY/pg_wal.tar.gz' -C '$X/pg_wal' && cp '$ENTRY/backup_manifest' '$X/' && '$PGBIN/pg_verifybackup' -q '$X'"
CMD[pg_verifybackup]="'$PGBIN/pg_verifybackup' -q '$X'"
CMD[tar-tzf]="tar -tzf '$ENTRY/base.tar.gz' >/dev/null"

# Each command once untimed (page cache; the extraction the second row needs), checking
# that it succeeds.
for n in "${NAMES[@]}"; do
    bash -c "${CMD[$n]}" || die "$n failed on the healthy backup"
done
declare -A TIMES RSS
for ((r = 0; r < RUNS; r++)); do
    for ((i = 0; i < ${#NAMES[@]}; i++)); do
        n=${NAMES[$(((i + r) % ${#NAMES[@]}))]}
        # pg_verifybackup alone needs the extracted directory: the row before it may be
        # any; the extraction is left in place by every extract+pg_verifybackup run.
        out=$(/usr/bin/time -f '%e %M' bash -c "${CMD[$n]}" 2>&1 >/dev/null | tail -n 1)
        TIMES[$n]+="${out% *} "
        m=${out#* }
        [[ ${RSS[$n]:-0} -ge $m ]] || RSS[$n]=$m
    done
done

stats() { # "t1 t2 ...": median min max
    tr ' ' '\n' <<<"$1" | sed '/^$/d' | sort -g | awk '{a[NR] = $1} END {m = (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2; printf "%.2f %.2f %.2f", m, a[1], a[NR]}'
}
{
    echo
    echo "### pg_backupcluster base backup: pgbench -s $SCALE, $DATA_BYTES bytes of files, base.tar.gz $(stat -c %s "$ENTRY/base.tar.gz") bytes ($RUNS runs, $(date -u '+%Y-%m-%d %H:%M UTC'))"
    echo
    echo "| command | median s | min s | max s | peak RSS MiB |"
    echo "|---|---:|---:|---:|---:|"
    for n in "${NAMES[@]}"; do
        read -r med min max <<<"$(stats "${TIMES[$n]}")"
        printf '| %s | %s | %s | %s | %d |\n' "$n" "$med" "$min" "$max" $((RSS[$n] / 1024))
    done
} | tee -a "${OUT:-/dev/null}"
