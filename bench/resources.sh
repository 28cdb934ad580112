#!/usr/bin/env bash
# Bounded resources (issue 6, point 6) and load (point 9), measured on the release binary
# with GNU time (`/usr/bin/time -v`): peak RSS and wall time for
#   - a 10 GiB dump (mysqldump-like text, gzip -1),
#   - a dump whose single INSERT line is 1 GiB long (plain and gzip -1),
#   - a 1 GiB backup log of many runs (whole, and with --log-run-start),
#   - a directory of 100,000 files (finding the newest must take under 1 s),
# then 50 concurrent checks of one 1 GiB dump sharing a --cache-dir (all must finish and
# agree; the cache must hold exactly one valid entry and no temporary file).
# Limits: peak RSS < 32 MiB for each single check. Exits non-zero when a limit or an
# expected state is missed. The data (about 7 GB) is generated under $DATA
# (default /work/big-data, outside the repository) and deleted at the end.
#
#   bench/resources.sh              # everything (about 15-20 min on 2 cores)
#   BIG_GIB=1 bench/resources.sh    # a smaller "big dump" for a quick try
#   SKIP_LOAD=1 bench/resources.sh  # resources only
#   KEEP_DATA=1 bench/resources.sh  # keep the generated files
set -euo pipefail
cd "$(dirname "$0")/.."

DATA="${DATA:-/work/big-data}"
BIG_GIB="${BIG_GIB:-10}"
LIMIT_KIB=$((32 * 1024))
CONCURRENT="${CONCURRENT:-50}"

if [ ! -x /usr/bin/time ]; then
    echo "== installing GNU time"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends time >/dev/null
fi
echo "== building the release binary"
cargo build --release --locked --quiet
BIN="$PWD/target/release/check_backup"

mkdir -p "$DATA"
if [ -z "${KEEP_DATA:-}" ]; then
    trap 'rm -rf "$DATA"' EXIT
fi
ago() { touch -d "1 hour ago" "$@"; }

echo "== generating data in $DATA ($(df -h --output=avail "$DATA" | tail -1 | tr -d ' ') free)"
# A 64 MiB block of mysqldump-like rows (varied, so gzip has real work), then dumps made
# of it. Python writes the block; cat and gzip -1 stream the rest.
python3 - "$DATA" <<'EOF'
import os, random, sys
data = sys.argv[1]
rnd = random.Random(6)
words = "order invoice sent paid shipped refund customer note cancelled pending".split()
rows, size, i = [], 0, 0
while size < 64 << 20:
    i += 1
    row = "INSERT INTO `log` VALUES (%d,'2026-11-%02d %02d:%02d:%02d','%s','%s %d %s');\n" % (
        i, rnd.randint(1, 28), rnd.randint(0, 23), rnd.randint(0, 59), rnd.randint(0, 59),
        rnd.choice(["INFO", "WARN", "DEBUG"]), rnd.choice(words), rnd.randint(1, 10**6),
        " ".join(rnd.choice(words) for _ in range(rnd.randint(1, 6))))
    rows.append(row)
    size += len(row)
with open(os.path.join(data, "block.sql"), "w") as f:
    f.write("".join(rows))
with open(os.path.join(data, "header.sql"), "w") as f:
    f.write("/*M!999999\\- enable the sandbox mode */ \n-- MariaDB dump 10.19  Distrib 10.11.14-MariaDB, for debian-linux-gnu (x86_64)\n--\n-- Host: localhost    Database: shop\n\nCREATE TABLE `log` (\n  `id` int NOT NULL\n);\n")
with open(os.path.join(data, "trailer.sql"), "w") as f:
    f.write("/*!40101 SET SQL_MODE=@OLD_SQL_MODE */;\n\n-- Dump completed on 2026-11-25  3:04:05\n")
# One INSERT of 1 GiB on a single line.
chunk = ",".join("(%d,'row %d of the one long line')" % (n, n) for n in range(20000)).encode()
with open(os.path.join(data, "longline.sql"), "wb") as f:
    f.write(open(os.path.join(data, "header.sql"), "rb").read())
    f.write(b"INSERT INTO `log` VALUES ")
    written = 0
    while written < 1 << 30:
        f.write(chunk + b",")
        written += len(chunk) + 1
    f.write(b"(0,'end');\n")
    f.write(open(os.path.join(data, "trailer.sql"), "rb").read())
# A 1 GiB log of many runs: an old run failed; the last one is clean.
def run(failed):
    lines = ["=== backup started run RUN\n", "2026-11-25 03:00:01 INFO - mariadb-dump shop starting\n"]
    for t in range(40000):
        lines.append("2026-11-25 03:%02d:%02d INFO - dumping table t%d, %d rows so far\n" % (t // 60 % 60, t % 60, t % 97, t * 31))
    if failed:
        lines.append("2026-11-25 03:59:58 ERROR - mariadb-dump: Error 2013: Lost connection to server\n")
        lines.append("2026-11-25 03:59:59 ERROR - mariadb-dump shop exited with 3\n")
    else:
        lines.append("2026-11-25 03:59:59 INFO - mariadb-dump shop exited with 0\n")
    return "".join(lines).encode()
clean, bad = run(False), run(True)
with open(os.path.join(data, "backup.log"), "wb") as f:
    written, n = 0, 0
    while written < (1 << 30) - len(clean):
        block = bad if n == 3 else clean
        f.write(block.replace(b"RUN", b"%d" % n))
        written += len(block)
        n += 1
    f.write(clean.replace(b"RUN", b"%d" % n))
# 100,000 files, newest in the middle of the name order; a real small dump as the newest.
many = os.path.join(data, "many")
os.makedirs(many)
base = 1_790_000_000
for k in range(100_000):
    p = os.path.join(many, "db-%06d.sql.gz" % k)
    with open(p, "wb") as f:
        f.write(b"")
    os.utime(p, (base + k, base + k))
EOF
cp tests/fixtures/real/mariadb/shop.sql.gz "$DATA/many/db-050000.sql.gz"
touch -d "1 hour ago" "$DATA/many/db-050000.sql.gz"

blocks_for() { echo $(( ($1 << 30) / (64 << 20) )); }
make_dump() { # make_dump GIB FILE: header, GIB GiB of rows, trailer, through gzip -1
    local n
    n=$(blocks_for "$1")
    { cat "$DATA/header.sql"; for _ in $(seq "$n"); do cat "$DATA/block.sql"; done; cat "$DATA/trailer.sql"; } | gzip -1 >"$2"
}
t0=$(date +%s)
make_dump "$BIG_GIB" "$DATA/big.sql.gz"
echo "   ${BIG_GIB} GiB dump: $(du -h "$DATA/big.sql.gz" | cut -f1) gzip -1 in $(($(date +%s) - t0))s"
gzip -1 -c "$DATA/longline.sql" >"$DATA/longline.sql.gz"
ago "$DATA/big.sql.gz" "$DATA/longline.sql" "$DATA/longline.sql.gz" "$DATA/backup.log"

results=()
failures=0
# measure NAME EXPECTED-STATE [MAX-SECONDS] -- ARGS...
measure() {
    local name="$1" want="$2" max_s="$3"
    shift 4
    local out="$DATA/out.txt" tv="$DATA/time.txt"
    /usr/bin/time -v -o "$tv" "$BIN" "$@" >"$out" 2>&1 || true
    local rss elapsed state secs
    rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$tv")
    elapsed=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$tv")
    secs=$(echo "$elapsed" | awk -F: '{ s = 0; for (i = 1; i <= NF; i++) s = s * 60 + $i; print s }')
    state=$(head -1 "$out" | awk '{print $2}')
    local verdict=ok
    if [ "$state" != "$want" ]; then verdict="FAIL (state $state, want $want)"; fi
    if [ "$rss" -ge "$LIMIT_KIB" ]; then verdict="FAIL (RSS >= 32 MiB)"; fi
    if [ -n "$max_s" ] && awk -v s="$secs" -v m="$max_s" 'BEGIN { exit !(s >= m) }'; then
        verdict="FAIL (${secs}s >= ${max_s}s)"
    fi
    [ "$verdict" = ok ] || failures=$((failures + 1))
    local row
    row=$(printf '| %s | %s | %.1f MiB | %s s | %s |' "$name" "$state" "$(echo "$rss / 1024" | bc -l)" "$secs" "$verdict")
    results+=("$row")
    echo "$row"
    echo "   $(head -1 "$out" | cut -c1-200)"
}
command -v bc >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bc >/dev/null

echo "== single checks (release binary, --no-cache: every byte decoded; -t 0: no time limit)"
size_big=$(du -h "$DATA/big.sql.gz" | cut -f1)
measure "${BIG_GIB} GiB dump, gzip -1 ($size_big)" OK "" -- -f "$DATA/big.sql.gz" --no-cache -t 0
measure "1 GiB single line, plain" OK "" -- -f "$DATA/longline.sql" --no-cache -t 0
measure "1 GiB single line, gzip -1" OK "" -- -f "$DATA/longline.sql.gz" --no-cache -t 0
measure "1 GiB log, whole (an old run failed)" CRITICAL "" -- -l "$DATA/backup.log" -t 0
measure "1 GiB log, --log-run-start (last run clean)" OK "" -- -l "$DATA/backup.log" --log-run-start '^=== backup started' -t 0
sync
measure "directory of 100,000 files (page cache warm)" OK 1 -- -f "$DATA/many/" --no-cache -t 0

echo "== for information: formats whose decoder must hold a large window (not limits)"
# The decoder needs the compressor's window: xz -9 declares a 64 MiB dictionary, zstd
# --long=27 a 128 MiB window. Such dumps cost that much memory to verify, whatever the
# plugin does; measured here so that the figure is known, not counted as a failure.
{ cat "$DATA/header.sql" "$DATA/block.sql" "$DATA/block.sql"; cat "$DATA/trailer.sql"; } >"$DATA/win.sql"
xz -9 -T1 -c "$DATA/win.sql" >"$DATA/win.sql.xz"
zstd -q -3 --long=27 -c "$DATA/win.sql" >"$DATA/win.sql.zst"
ago "$DATA/win.sql.xz" "$DATA/win.sql.zst"
info=()
for f in win.sql.xz win.sql.zst; do
    /usr/bin/time -v -o "$DATA/time.txt" "$BIN" -f "$DATA/$f" --no-cache -t 0 >"$DATA/out.txt" 2>&1 || true
    rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$DATA/time.txt")
    row=$(printf '| 128 MiB dump, %s | %s | %.1f MiB | | information (format window) |' \
        "$([ "$f" = win.sql.xz ] && echo "xz -9 (64 MiB dictionary)" || echo "zstd -3 --long=27 (128 MiB window)")" \
        "$(head -1 "$DATA/out.txt" | awk '{print $2}')" "$(echo "$rss / 1024" | bc -l)")
    info+=("$row")
    echo "$row"
done
rm -f "$DATA"/win.sql*

if [ -z "${SKIP_LOAD:-}" ]; then
    echo "== load: $CONCURRENT concurrent checks of one 1 GiB dump, shared --cache-dir"
    rm -f "$DATA/big.sql.gz"
    make_dump 1 "$DATA/load.sql.gz"
    ago "$DATA/load.sql.gz"
    load_wave() { # load_wave NAME CACHE ARGS...: runs $CONCURRENT checks at once
        local name="$1" cache="$2"
        shift 2
        rm -rf "$DATA/wave"
        mkdir -p "$DATA/wave"
        local t0 i
        t0=$(date +%s.%N)
        for i in $(seq "$CONCURRENT"); do
            ( set +e
              "$BIN" -f "$DATA/load.sql.gz" --cache-dir "$cache" "$@" >"$DATA/wave/$i.out" 2>&1
              echo $? >"$DATA/wave/$i.rc" ) &
        done
        wait
        local took
        took=$(echo "$(date +%s.%N) - $t0" | bc)
        local codes states
        local count='uniq -c | awk "{ printf \"%s%s x %s\", s, \$1, \$2; s = \", \" }"'
        codes=$(cat "$DATA"/wave/*.rc | sort | eval "$count")
        states=$(for f in "$DATA"/wave/*.out; do head -1 "$f" | awk '{print $2}'; done | sort | eval "$count")
        printf '   %s: %d checks in %.1f s; exit codes: %s; states: %s\n' "$name" "$CONCURRENT" "$took" "$codes" "$states"
        results+=("$(printf '| load: %d checks, %s | %s | exit codes %s | %.1f s for all | |' "$CONCURRENT" "$name" "$states" "$codes" "$took")")
    }
    cache_ok() { # cache_ok CACHE: exactly one valid JSON entry, no temporary file
        python3 - "$1" "$DATA/load.sql.gz" <<'EOF'
import json, os, sys
cache, dump = sys.argv[1], os.path.realpath(sys.argv[2])
names = sorted(os.listdir(cache))
entries = [n for n in names if n.endswith(".json")]
temps = [n for n in names if n.startswith(".tmp-")]
others = [n for n in names if n not in entries and not n.endswith((".lock", ".progress"))]
assert len(entries) == 1, f"want one entry, have {names}"
assert not temps, f"temporary files left: {temps}"
assert not others, f"unexpected files: {others}"
e = json.load(open(os.path.join(cache, entries[0])))
assert e["path"] == dump, e["path"]
assert e["content"]["problem"] is None and e["content"]["writer"] == "Mysqldump", e["content"]
print(f"   cache: {names}: one valid entry, no temporary file")
EOF
    }
    one_state() { [ "$(for f in "$DATA"/wave/*.out; do head -1 "$f" | awk '{print $2}'; done | sort -u | wc -l)" = 1 ] &&
                  [ "$(sort -u "$DATA"/wave/*.rc | wc -l)" = 1 ]; }
    # Wave 1: nothing cached, no time limit: all decode the whole dump at once.
    load_wave "cold cache, -t 0" "$DATA/cache1" -t 0
    one_state || { echo "   FAIL: the checks disagree"; failures=$((failures + 1)); }
    [ "$(cat "$DATA"/wave/1.rc)" = 0 ] || { echo "   FAIL: not OK"; failures=$((failures + 1)); }
    cache_ok "$DATA/cache1" || failures=$((failures + 1))
    # Wave 2: the same again: all cache hits.
    load_wave "warm cache" "$DATA/cache1"
    one_state || { echo "   FAIL: the checks disagree"; failures=$((failures + 1)); }
    grep -q "cached" "$DATA/wave/1.out" || { echo "   FAIL: not a cache hit"; failures=$((failures + 1)); }
    cache_ok "$DATA/cache1" || failures=$((failures + 1))
    # Wave 3: cold cache with the default 50 s limit, as monitoring runs it: checks that
    # finish in time say OK, the others hand over to one background verifier and say so.
    load_wave "cold cache, default -t 50" "$DATA/cache3"
    for f in "$DATA"/wave/*.out; do head -1 "$f" | awk '{print $2}'; done | grep -qv -E '^(OK|UNKNOWN)$' &&
        { echo "   FAIL: a state other than OK or UNKNOWN"; failures=$((failures + 1)); }
    for _ in $(seq 120); do # let the background verifier finish
        ls "$DATA/cache3"/*.json >/dev/null 2>&1 && ! pgrep -f -- "--background -f $DATA/load.sql.gz" >/dev/null && break
        sleep 1
    done
    cache_ok "$DATA/cache3" || failures=$((failures + 1))
    # Once the background verifier is done, the next check is a cache hit.
    "$BIN" -f "$DATA/load.sql.gz" --cache-dir "$DATA/cache3" >"$DATA/after.out" 2>&1 || true
    echo "   then: $(head -1 "$DATA/after.out" | cut -c1-160)"
    grep -q "^BACKUP OK" "$DATA/after.out" && grep -q "cached" "$DATA/after.out" ||
        { echo "   FAIL: no cache hit after the background verification"; failures=$((failures + 1)); }
fi

echo
echo "== results ($(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, $(uname -r); limit: peak RSS < 32 MiB)"
echo "| case | state | peak RSS | wall time | verdict |"
echo "|---|---|---:|---:|---|"
printf '%s\n' "${results[@]}" "${info[@]}"
if [ "$failures" != 0 ]; then
    echo "RESOURCES: $failures FAILED"
    exit 1
fi
echo "RESOURCES: all within limits"
