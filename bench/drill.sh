#!/usr/bin/env bash
# Restore drill of a real >= 1 GiB mariadb-dump (issue 15): how long `backup-drill` takes,
# how much memory it needs, and its overhead against the naive manual restore
# (`zcat DUMP | mariadb`); with `--engines mariadb,postgres` the same for a pg_dump -Fc
# against `pg_restore -d`. See BENCHMARKS.md, "Restore drill of a 1 GiB dump (issue 15)".
#
#   bench/drill.sh [options]          (as root)
#
# 1. A throwaway MariaDB (mariadb-install-db + mariadbd --no-defaults --skip-networking,
#    socket in a temporary directory of its own, run as --server-user) gets a database
#    `shop` whose data is generated in SQL with the sequence engine: `orders` (--orders N
#    rows, ~180 bytes of dump text each), `items` (2N rows), a view `big_orders`; then
#    `mariadb-dump --single-transaction --databases shop | gzip` writes the dump and the
#    server is stopped. The decoded size is measured (`zcat | wc -c`) and must be at least
#    --min-decoded bytes (default 1 GiB, 1,073,741,824).
# 2. `check_backup -f DUMP --no-cache -t 0` once (what the drill's own verification costs).
# 3. The release `backup-drill -f DUMP --user nobody --work-dir DIR --cache-dir <fresh>
#    --output json`, --runs times (a fresh cache directory each time, so every run verifies
#    the dump itself, as a drill whose dump check_backup has not seen yet). Measured: wall
#    time and peak RSS with GNU time (its figure is the largest of backup-drill and the
#    children it reaped, i.e. the throwaway mariadbd), backup-drill's own peak RSS (VmHWM
#    polled in /proc), restore_seconds from the JSON, the 1-minute load average before and
#    after. Fails (exit 1) unless the state is OK, the outcome `restored`, no difference
#    reported, and the tables and rows are those generated.
# 4. The naive manual restore, in the same run: a fresh throwaway server with the drill's
#    own server options (--innodb-buffer-pool-size=128M --innodb-flush-log-at-trx-commit=0
#    --skip-log-bin --max-allowed-packet=1G), then only the load is timed:
#    `zcat DUMP | mariadb --no-defaults -S SOCK -uroot`; its rows are counted afterwards
#    (must match). Printed: the ratio drill restore / naive load and whole drill / naive.
# 5. PostgreSQL (--engines ...,postgres): the same with a throwaway cluster of the newest
#    /usr/lib/postgresql/*/bin (initdb + postgres, listen_addresses='', run as postgres),
#    the same tables made with generate_series, `pg_dump -Fc`; decoded size: `pg_restore
#    -f - DUMP | wc -c`; naive: `pg_restore -d shop DUMP` into a fresh cluster with the
#    drill's settings (fsync, full_page_writes, synchronous_commit off).
#
# Everything lives in a temporary directory below --dir and is removed on exit (also on
# error or Ctrl-C); the servers this script starts are stopped by their PID. No system
# service, no file in /etc, no TCP port is touched.
#
# Options:
#   --dir DIR            where the temporary data goes (default /var/tmp; needs about
#                        3 x the decoded size free: the dump, the generating server,
#                        the drill's and the naive server's data)
#   --runs N             drill runs per engine (default 1)
#   --engines LIST       comma list of mariadb,postgres (default mariadb)
#   --orders N           rows of shop.orders (default 3750000 for MariaDB, 3900000 for
#                        PostgreSQL: just over 1 GiB decoded each; items get 2N)
#   --min-decoded BYTES  the least decoded dump size accepted (default 1073741824;
#                        e.g. `--orders 20000 --min-decoded 0` for a quick try)
#   --server-user USER   user of the throwaway MariaDB servers (default mysql, else nobody)
#   --pg-user USER       user of the throwaway PostgreSQL clusters (default postgres, else
#                        nobody)
#   --drill-user USER    backup-drill's --user (default nobody)
#   --bin DIR            directory of the release binaries (default: cargo build --release)
#   --skip-naive         no naive restore
#   --keep               keep the temporary directory (for looking at it; printed)
#
# Needs: root, cargo, mariadb-server (mariadbd, mariadb-install-db), mariadb-client
# (mariadb, mariadb-dump), gzip, GNU time (/usr/bin/time), python3, bc, util-linux
# (setpriv); for postgres: postgresql (initdb, postgres, pg_isready, psql, pg_dump,
# pg_restore).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
DIR=/var/tmp
RUNS=1
ORDERS=
MIN_DECODED=1073741824
SERVER_USER=
PG_USER=
ENGINES=mariadb
DRILL_USER=nobody
BIN=
NAIVE=1
KEEP=0

die() { echo "bench/drill.sh: $*" >&2; exit 2; }
fail() { echo "bench/drill.sh: FAILED: $*" >&2; exit 1; }
note() { printf '==> %s\n' "$*" >&2; }

while [ $# -gt 0 ]; do
    case "$1" in
        --dir) DIR=$2; shift 2 ;;
        --runs) RUNS=$2; shift 2 ;;
        --orders) ORDERS=$2; shift 2 ;;
        --min-decoded) MIN_DECODED=$2; shift 2 ;;
        --server-user) SERVER_USER=$2; shift 2 ;;
        --pg-user) PG_USER=$2; shift 2 ;;
        --engines) ENGINES=$2; shift 2 ;;
        --drill-user) DRILL_USER=$2; shift 2 ;;
        --bin) BIN=$2; shift 2 ;;
        --skip-naive) NAIVE=0; shift ;;
        --keep) KEEP=1; shift ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown argument $1" ;;
    esac
done
[[ $(id -u) -eq 0 ]] || die "must run as root (the drill's --user, the servers' --user)"
[[ "$RUNS" =~ ^[1-9][0-9]*$ ]] || die "--runs needs a positive number"
[[ -z "$ORDERS" || "$ORDERS" =~ ^[1-9][0-9]*$ ]] || die "--orders needs a positive number"
[[ "$MIN_DECODED" =~ ^[0-9]+$ ]] || die "--min-decoded needs a number of bytes"
[ -d "$DIR" ] || die "--dir $DIR is not a directory"
[ -x /usr/bin/time ] || die "GNU time is needed: apt-get install time"
for c in gzip python3 bc setpriv pgrep; do
    command -v "$c" >/dev/null || die "$c is needed (gzip, python3, bc, util-linux, procps)"
done
for engine in ${ENGINES//,/ }; do
    case "$engine" in
        mariadb)
            for c in mariadbd mariadb-install-db mariadb mariadb-dump; do
                command -v "$c" >/dev/null || die "$c is needed (mariadb-server, mariadb-client)"
            done
            if [ -z "$SERVER_USER" ]; then
                if id mysql >/dev/null 2>&1; then SERVER_USER=mysql; else SERVER_USER=nobody; fi
            fi
            id "$SERVER_USER" >/dev/null 2>&1 || die "no user $SERVER_USER" ;;
        postgres)
            for c in initdb postgres pg_isready psql pg_dump pg_restore; do
                ls /usr/lib/postgresql/*/bin/$c >/dev/null 2>&1 || die "$c is needed in /usr/lib/postgresql/*/bin (postgresql)"
            done
            if [ -z "$PG_USER" ]; then
                if id postgres >/dev/null 2>&1; then PG_USER=postgres; else PG_USER=nobody; fi
            fi
            id "$PG_USER" >/dev/null 2>&1 || die "no user $PG_USER" ;;
        *) die "--engines: unknown engine $engine (mariadb, postgres)" ;;
    esac
done
id "$DRILL_USER" >/dev/null 2>&1 || die "no user $DRILL_USER"

if [ -z "$BIN" ]; then
    note "building the release binaries"
    (cd "$ROOT" && cargo build --release --locked --quiet --bin backup-drill --bin check_backup)
    BIN=$ROOT/target/release
fi
[ -x "$BIN/backup-drill" ] && [ -x "$BIN/check_backup" ] || die "no backup-drill/check_backup in $BIN"

TMP=$(mktemp -d "$DIR/check_backup-drill-bench.XXXXXX")
chmod 755 "$TMP" # the servers' and the drill's users must reach their directories below
SERVER_PID=
SERVER_SIG=TERM
stop_server() { # stops the server this script started, by its PID (mariadbd: SIGTERM,
    # postgres: SIGINT, both a clean shutdown), after 60 s with SIGKILL
    local pid=$SERVER_PID
    [ -n "$pid" ] || return 0
    if kill -0 "$pid" 2>/dev/null; then
        kill -"$SERVER_SIG" "$pid" 2>/dev/null || true
        for _ in $(seq 120); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
        if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
    fi
    wait "$pid" 2>/dev/null || true
    SERVER_PID=
}
DRILL_PID=
cleanup() {
    local rc=$?
    if [ -n "$DRILL_PID" ] && kill -0 "$DRILL_PID" 2>/dev/null; then
        # DRILL_PID is GNU time, which does not pass signals on: SIGTERM goes to its child,
        # backup-drill, which then stops its server and removes its directory
        local child
        child=$(pgrep -P "$DRILL_PID" | head -1 || true)
        if [ -n "$child" ]; then kill -TERM "$child" 2>/dev/null || true; fi
        wait "$DRILL_PID" 2>/dev/null || true
    fi
    stop_server
    if [ "$KEEP" = 1 ]; then note "kept $TMP"; else rm -rf "$TMP"; fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# start_server NAME: a fresh throwaway MariaDB in $TMP/NAME, run as $SERVER_USER; sets
# SERVER_PID and SOCK. EXTRA_OPTS: further mariadbd options.
start_server() {
    local d=$TMP/$1
    mkdir -p "$d/data" "$d/run" "$d/tmp"
    chown -R "$SERVER_USER:" "$d"
    chmod 700 "$d/data"
    mariadb-install-db --no-defaults --user="$SERVER_USER" --datadir="$d/data" \
        --auth-root-authentication-method=normal --skip-test-db --tmpdir="$d/tmp" \
        >"$d/install.log" 2>&1 || { cat "$d/install.log" >&2; fail "mariadb-install-db ($1)"; }
    SOCK=$d/run/mysqld.sock
    mariadbd --no-defaults --user="$SERVER_USER" --datadir="$d/data" --socket="$SOCK" \
        --skip-networking --pid-file="$d/run/mysqld.pid" --log-error="$d/run/mysqld.err" \
        --tmpdir="$d/tmp" --skip-log-bin "${EXTRA_OPTS[@]}" >/dev/null 2>&1 &
    SERVER_PID=$!
    SERVER_SIG=TERM
    for _ in $(seq 120); do
        kill -0 "$SERVER_PID" 2>/dev/null || { tail -20 "$d/run/mysqld.err" >&2; fail "mariadbd ($1) exited"; }
        mariadb --no-defaults -S "$SOCK" -uroot -e 'SELECT 1' >/dev/null 2>&1 && return 0
        sleep 0.5
    done
    fail "mariadbd ($1) did not accept connections within 60 s"
}
M() { mariadb --no-defaults -S "$SOCK" -uroot "$@"; }

load1() { cut -d' ' -f1 /proc/loadavg; }
secs_of() { # GNU time's "Elapsed (wall clock)" h:mm:ss or m:ss.cc -> seconds
    awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$1" |
        awk -F: '{ s = 0; for (i = 1; i <= NF; i++) s = s * 60 + $i; print s }'
}
rss_mib() { awk -F': ' '/Maximum resident set size/ {printf "%.1f", $2 / 1024}' "$1"; }
num() { echo "$1" | sed ':a; s/\B[0-9]\{3\}\>/,&/; ta'; } # 1234567 -> 1,234,567
export LC_ALL=C

sizes() { # sizes DEFAULT: ORDERS (--orders or DEFAULT), ITEMS, ROWS of this engine's database
    ORDERS=${ORDERS_OPT:-$1}
    ITEMS=$((2 * ORDERS))
    ROWS=$((ORDERS + ITEMS))
}
ORDERS_OPT=$ORDERS
mkdir -p "$TMP/backups"
OUT=() # the result lines of every engine, printed at the end

# check_dump DUMP DECODED: the decoded size is enough, check_backup says OK; sets VERIFY_S
check_dump() {
    local dump=$1 decoded=$2
    note "dump: $(num "$(stat -c %s "$dump")") bytes on disk, $(num "$decoded") bytes decoded ($(printf '%.3f' "$(echo "$decoded / 1073741824" | bc -l)") GiB)"
    [ "$decoded" -ge "$MIN_DECODED" ] ||
        fail "the decoded dump has $decoded bytes, fewer than --min-decoded $MIN_DECODED: raise --orders"
    note "check_backup -f DUMP --no-cache -t 0 (the verification the drill starts with)"
    /usr/bin/time -v -o "$TMP/verify.time" "$BIN/check_backup" -f "$dump" --no-cache -t 0 >"$TMP/verify.out" 2>&1 || true
    head -1 "$TMP/verify.out" | grep -q '^BACKUP OK' || { cat "$TMP/verify.out" >&2; fail "check_backup does not say OK"; }
    VERIFY_S=$(secs_of "$TMP/verify.time")
    note "  $(head -1 "$TMP/verify.out" | cut -d'|' -f1)"
    note "  ${VERIFY_S} s, peak RSS $(rss_mib "$TMP/verify.time") MiB"
    OUT+=("check_backup -f DUMP --no-cache -t 0 alone: $VERIFY_S s, peak RSS $(rss_mib "$TMP/verify.time") MiB" "")
}

# run_drills DUMP DECODED: backup-drill --runs times; appends table rows to DRILL_ROWS and
# the times to RESTORE_LIST / WALL_LIST; fails unless each drill restored the generated rows
run_drills() {
    local dump=$1 decoded=$2 run cache work before after hwm child h rc restore tables views rrows rbytes wall row
    DRILL_ROWS=()
    RESTORE_LIST=()
    WALL_LIST=()
    for run in $(seq "$RUNS"); do
        cache=$TMP/cache-$run
        work=$TMP/work-$run
        mkdir -p "$cache" "$work"
        chmod 755 "$work"
        before=$(load1)
        note "drill run $run/$RUNS (load $before)"
        /usr/bin/time -v -o "$TMP/drill.time" "$BIN/backup-drill" -f "$dump" --user "$DRILL_USER" \
            --work-dir "$work" --cache-dir "$cache" --output json >"$TMP/drill.json" 2>"$TMP/drill.err" &
        DRILL_PID=$!
        # backup-drill's own high-water mark: VmHWM of time's child, polled until it exits
        hwm=0
        child=
        while kill -0 "$DRILL_PID" 2>/dev/null; do
            [ -n "$child" ] || child=$(pgrep -P "$DRILL_PID" | head -1 || true)
            if [ -n "$child" ]; then
                h=$(awk '/^VmHWM:/ {print $2}' "/proc/$child/status" 2>/dev/null || true)
                if [ -n "$h" ] && [ "$h" -gt "$hwm" ]; then hwm=$h; fi
            fi
            sleep 0.2
        done
        rc=0
        wait "$DRILL_PID" || rc=$?
        DRILL_PID=
        after=$(load1)
        # the JSON must say OK, restored, no difference, the generated tables and rows
        if ! python3 - "$TMP/drill.json" "$ROWS" >"$TMP/drill.fields" <<'EOF'
import json, sys
doc = json.load(open(sys.argv[1]))
want_rows = int(sys.argv[2])
r = doc.get("result") or {}
problems = []
if doc.get("state") != "OK":
    problems.append(f"state {doc.get('state')}: {doc.get('message')}")
if r.get("outcome") != "restored":
    problems.append(f"outcome {r.get('outcome')}: {r.get('error')}")
if r.get("differences"):
    problems.append(f"differences {r['differences']}")
if r.get("rows") != want_rows:
    problems.append(f"{r.get('rows')} rows restored, {want_rows} generated")
if r.get("tables") != 2 or r.get("views") != 1:
    problems.append(f"{r.get('tables')} tables and {r.get('views')} views, want 2 and 1")
if problems:
    sys.stderr.write("; ".join(problems) + "\n")
    sys.exit(1)
print(r["restore_seconds"], r["tables"], r["views"], r["rows"], r["bytes"])
EOF
        then
            cat "$TMP/drill.json" "$TMP/drill.err" >&2
            fail "drill run $run (exit code $rc) is not OK with $ROWS rows"
        fi
        [ "$rc" = 0 ] || fail "drill run $run exited with $rc although its JSON says OK"
        read -r restore tables views rrows rbytes <"$TMP/drill.fields"
        wall=$(secs_of "$TMP/drill.time")
        RESTORE_LIST+=("$restore")
        WALL_LIST+=("$wall")
        row=$(printf '| drill %d | %s | %s | %s, %s view | %s | %.2f s | %s s | %.1f MiB | %.1f MiB | %s / %s |' \
            "$run" "$(num "$(stat -c %s "$dump")")" "$(num "$decoded")" "$tables" "$views" "$(num "$rrows")" \
            "$restore" "$wall" "$(echo "$hwm / 1024" | bc -l)" "$(rss_mib "$TMP/drill.time")" "$before" "$after")
        DRILL_ROWS+=("$row")
        note "  $row"
        [ "$rbytes" = "$decoded" ] || note "  the drill streamed $(num "$rbytes") bytes into the client (decoded: $(num "$decoded"))"
        rm -rf "$cache" "$work"
    done
}

# table NAIVE_ROW NAIVE_S: appends the engine's table and the ratios to OUT
table() {
    local naive_row=$1 naive_s=$2 i
    OUT+=("| run | dump on disk (bytes) | decoded (bytes) | tables | rows | restore_seconds | whole drill (wall) | peak RSS backup-drill | peak RSS with its server | load 1 min before / after |")
    OUT+=("|---|---:|---:|---|---:|---:|---:|---:|---:|---|")
    OUT+=("${DRILL_ROWS[@]}")
    if [ -n "$naive_s" ]; then
        OUT+=("$naive_row" "")
        for i in "${!RESTORE_LIST[@]}"; do
            OUT+=("$(printf 'drill %d: drill restore / naive load = %.2f; whole drill / naive load = %.2f' "$((i + 1))" \
                "$(echo "${RESTORE_LIST[$i]} / $naive_s" | bc -l)" "$(echo "${WALL_LIST[$i]} / $naive_s" | bc -l)")")
        done
    fi
    OUT+=("")
}

bench_mariadb() {
    local dump=$TMP/backups/shop.sql.gz have t0 decoded before after st naive_s='' naive_row=''
    sizes 3750000 # 1.04 GiB of mariadb-dump text
    note "MariaDB: generating shop (orders $(num "$ORDERS"), items $(num "$ITEMS")) in a throwaway server as $SERVER_USER"
    # Generation only: a bigger buffer pool than the drill's to make the data faster.
    EXTRA_OPTS=(--innodb-buffer-pool-size=512M --innodb-flush-log-at-trx-commit=0)
    start_server gen
    t0=$(date +%s)
    M -e "CREATE DATABASE shop;
      CREATE TABLE shop.orders (id INT PRIMARY KEY, customer VARCHAR(64), note VARCHAR(255),
        total DECIMAL(10,2), created DATETIME) ENGINE=InnoDB;
      CREATE TABLE shop.items (id INT PRIMARY KEY, order_id INT, sku CHAR(32), qty INT) ENGINE=InnoDB;
      CREATE VIEW shop.big_orders AS SELECT * FROM shop.orders WHERE total > 900;"
    M shop -e "INSERT INTO orders SELECT seq, CONCAT('customer-', seq MOD 9973), REPEAT(MD5(seq), 4),
      (seq MOD 100000)/100, '2026-11-01' + INTERVAL (seq MOD 2592000) SECOND FROM seq_1_to_$ORDERS"
    M shop -e "INSERT INTO items SELECT seq, seq DIV 3 + 1, MD5(seq), seq MOD 7 + 1 FROM seq_1_to_$ITEMS"
    have=$(M -N -e "SELECT (SELECT COUNT(*) FROM shop.orders) + (SELECT COUNT(*) FROM shop.items)")
    [ "$have" = "$ROWS" ] || fail "generated $have rows, want $ROWS"
    note "  generated in $(($(date +%s) - t0)) s; dumping (mariadb-dump --single-transaction --databases shop | gzip)"
    t0=$(date +%s)
    mariadb-dump --no-defaults -S "$SOCK" -uroot --single-transaction --databases shop | gzip >"$dump"
    note "  dumped in $(($(date +%s) - t0)) s"
    stop_server
    rm -rf "$TMP/gen"
    touch -d '10 minutes ago' "$dump"
    zcat "$dump" | tail -1 | grep -q '^-- Dump completed' || fail "the dump has no completion line"
    decoded=$(zcat "$dump" | wc -c)
    OUT+=("MariaDB $(mariadbd --version | sed 's/^.*Ver //; s/ for .*//'), mariadb-dump | gzip $(gzip --version | head -1 | awk '{print $2}')")
    check_dump "$dump" "$decoded"
    run_drills "$dump" "$decoded"
    if [ "$NAIVE" = 1 ]; then
        note "naive restore: zcat DUMP | mariadb into a fresh server with the drill's server options"
        EXTRA_OPTS=(--innodb-buffer-pool-size=128M --innodb-flush-log-at-trx-commit=0 --max-allowed-packet=1G)
        start_server naive
        before=$(load1)
        t0=$(date +%s.%N)
        set +e
        zcat "$dump" | mariadb --no-defaults -S "$SOCK" -uroot
        st=("${PIPESTATUS[@]}")
        set -e
        naive_s=$(echo "$(date +%s.%N) - $t0" | bc)
        after=$(load1)
        [ "${st[0]}" = 0 ] && [ "${st[1]}" = 0 ] || fail "zcat | mariadb exited with ${st[*]}"
        have=$(M -N -e "SELECT (SELECT COUNT(*) FROM shop.orders) + (SELECT COUNT(*) FROM shop.items)")
        [ "$have" = "$ROWS" ] || fail "the naive restore has $have rows, want $ROWS"
        stop_server
        rm -rf "$TMP/naive"
        naive_row=$(printf '| naive `zcat DUMP \\| mariadb` (load only) | %s | %s | 2, 1 view | %s | %.2f s | | | | %s / %s |' \
            "$(num "$(stat -c %s "$dump")")" "$(num "$decoded")" "$(num "$have")" "$naive_s" "$before" "$after")
        note "  $naive_row"
    fi
    table "$naive_row" "$naive_s"
    rm -f "$dump"
}

# The newest PostgreSQL with initdb, as backup-drill picks it.
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
# start_pg NAME [postgres -c options...]: a fresh throwaway cluster in $TMP/NAME run as
# $PG_USER with the drill's settings (fsync, full_page_writes, synchronous_commit off);
# sets SERVER_PID and SOCK (the socket directory)
start_pg() {
    local name=$1 d=$TMP/$1
    shift
    mkdir -p "$d/data" "$d/run"
    chown -R "$PG_USER:" "$d"
    chmod 700 "$d/data"
    (cd / && setpriv --reuid="$PG_USER" --regid="$(id -g "$PG_USER")" --init-groups \
        "$PGBIN/initdb" -D "$d/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 --no-sync) \
        >"$d/initdb.log" 2>&1 || { cat "$d/initdb.log" >&2; fail "initdb ($name)"; }
    SOCK=$d/run
    (cd / && exec setpriv --reuid="$PG_USER" --regid="$(id -g "$PG_USER")" --init-groups \
        "$PGBIN/postgres" -D "$d/data" -k "$SOCK" -c listen_addresses= -c fsync=off \
        -c full_page_writes=off -c synchronous_commit=off "$@") >"$d/postgres.log" 2>&1 &
    SERVER_PID=$!
    SERVER_SIG=INT # fast shutdown
    for _ in $(seq 120); do
        kill -0 "$SERVER_PID" 2>/dev/null || { tail -20 "$d/postgres.log" >&2; fail "postgres ($name) exited"; }
        "$PGBIN/pg_isready" -q -h "$SOCK" -U postgres -d postgres && return 0
        sleep 0.5
    done
    fail "postgres ($name) did not accept connections within 60 s"
}
P() { "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$SOCK" -U postgres "$@"; }

bench_postgres() {
    local dump=$TMP/backups/shop.dump have t0 decoded before after rc tbytes naive_s='' naive_row=''
    sizes 3900000 # 1.01 GiB of SQL from pg_restore -f - (COPY lines are shorter than INSERT tuples)
    note "PostgreSQL: generating shop (orders $(num "$ORDERS"), items $(num "$ITEMS")) in a throwaway cluster as $PG_USER"
    start_pg pg-gen -c shared_buffers=512MB -c maintenance_work_mem=256MB -c max_wal_size=4GB
    t0=$(date +%s)
    P -d postgres -c "CREATE DATABASE shop"
    P -d shop -c "CREATE TABLE orders (id int PRIMARY KEY, customer varchar(64), note varchar(255),
        total numeric(10,2), created timestamp);
      CREATE TABLE items (id int PRIMARY KEY, order_id int, sku char(32), qty int);
      CREATE VIEW big_orders AS SELECT * FROM orders WHERE total > 900;"
    P -d shop -c "INSERT INTO orders SELECT g, 'customer-' || g % 9973, repeat(md5(g::text), 4),
      (g % 100000) / 100.0, timestamp '2026-11-01' + (g % 2592000) * interval '1 second'
      FROM generate_series(1, $ORDERS) g"
    P -d shop -c "INSERT INTO items SELECT g, g / 3 + 1, md5(g::text), g % 7 + 1 FROM generate_series(1, $ITEMS) g"
    have=$(P -d shop -At -c "SELECT (SELECT count(*) FROM orders) + (SELECT count(*) FROM items)")
    [ "$have" = "$ROWS" ] || fail "generated $have rows, want $ROWS"
    tbytes=$(P -d shop -At -c "SELECT pg_table_size('orders') + pg_table_size('items')")
    note "  generated in $(($(date +%s) - t0)) s, $(num "$tbytes") bytes of table data; dumping (pg_dump -Fc)"
    t0=$(date +%s)
    "$PGBIN/pg_dump" -h "$SOCK" -U postgres -Fc -f "$dump" shop
    note "  dumped in $(($(date +%s) - t0)) s"
    stop_server
    rm -rf "$TMP/pg-gen"
    touch -d '10 minutes ago' "$dump"
    decoded=$("$PGBIN/pg_restore" -f - "$dump" | wc -c)
    OUT+=("$("$PGBIN/postgres" --version), pg_dump -Fc of $(num "$tbytes") bytes of table data (pg_table_size); decoded = pg_restore -f - | wc -c")
    check_dump "$dump" "$decoded"
    run_drills "$dump" "$decoded"
    if [ "$NAIVE" = 1 ]; then
        note "naive restore: pg_restore -d into a fresh cluster with the drill's server options"
        start_pg pg-naive
        P -d postgres -c "CREATE DATABASE shop"
        before=$(load1)
        t0=$(date +%s.%N)
        rc=0
        "$PGBIN/pg_restore" -h "$SOCK" -U postgres -d shop "$dump" || rc=$?
        naive_s=$(echo "$(date +%s.%N) - $t0" | bc)
        after=$(load1)
        [ "$rc" = 0 ] || fail "pg_restore -d exited with $rc"
        have=$(P -d shop -At -c "SELECT (SELECT count(*) FROM orders) + (SELECT count(*) FROM items)")
        [ "$have" = "$ROWS" ] || fail "the naive restore has $have rows, want $ROWS"
        stop_server
        rm -rf "$TMP/pg-naive"
        naive_row=$(printf '| naive `pg_restore -d` (restore only) | %s | %s | 2, 1 view | %s | %.2f s | | | | %s / %s |' \
            "$(num "$(stat -c %s "$dump")")" "$(num "$decoded")" "$(num "$have")" "$naive_s" "$before" "$after")
        note "  $naive_row"
    fi
    table "$naive_row" "$naive_s"
    rm -f "$dump"
}

note "load average before: $(cut -d' ' -f1-3 /proc/loadavg) ($(nproc) cores)"
for engine in ${ENGINES//,/ }; do
    "bench_$engine"
done

echo
echo "$(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, $(uname -r); --dir $DIR; $RUNS drill run(s) per engine"
printf '%s\n' "${OUT[@]}"
echo "DRILL BENCH: OK"
