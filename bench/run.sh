#!/usr/bin/env bash
# Benchmark of check_backup's first check (full stream verification + completion marker)
# against the command-line way (`zcat F | tail -1 | grep -q '^-- Dump completed'`) and the
# plain decompressors, on generated mysqldump text. For gzip and plain dumps also the first
# check of the same dump with a `.sha256` beside it (hashed in the same pass; row
# `check_backup+sha256`) and `sha256sum F` alone. With `--formats gpg`: the gzip dump
# encrypted with gpg to a key generated for this run in a temporary home directory, checked
# with the key (`--decrypt-with gpg`, given as an exported subkey `--gpg-key` and as the
# keyring `--gpg-homedir`) against `gpg -d F | zcat | tail -1 | grep`. See BENCHMARKS.md
# for results.
#
#   bench/run.sh [options] [SIZE...]        e.g.  bench/run.sh 2G
#
# SIZE: dump text size (1024-based K/M/G; default 2G). For each size, the text is generated
# by bench/gen_dump.rs, compressed with gzip -6 / zstd -3 / xz -6 / bzip2 -9, and every
# command is run --runs times, alternating (round-robin, starting point rotating) after one
# untimed warm-up, all files in the page cache. Printed: median, min and max wall time,
# ratio of the median to the format's `zcat | tail -1 | grep` pipeline (zstdcat, xzcat,
# bzcat likewise), and peak RSS (GNU time's maximum resident set size, max over the runs).
#
# Options:
#   --runs N             timed runs per command (default 5)
#   --formats LIST       comma list of gzip,zstd,xz,bzip2,plain,gpg (default all but gpg)
#   --slow-size SIZE     size used instead for xz and bzip2, whose decoders run at
#                        0.03-0.15 GB/s (default: the smaller of SIZE and 256M)
#   --tools LIST         only these commands (names as printed: check_backup,
#                        check_backup+sha256, pipeline, gzip, igzip, pigz, zstd, xz, bzip2,
#                        lbzip2, tail, sha256sum); default all
#   --variant NAME=BIN   also time another check_backup binary (repeatable), e.g. a build
#                        with a different decoder
#   --bin PATH           the check_backup binary (default: cargo build --release)
#   --data DIR           where the generated files are kept (default $BENCH_DATA or
#                        ${TMPDIR:-/tmp}/check_backup-bench); reused when present
#   --clean              delete the generated files at the end
#   --out FILE           also append the result tables (Markdown) to FILE
#   --scaling            instead: time only check_backup, on gzip and plain dumps of all the
#                        SIZEs, alternating between the sizes (cost per GiB, memory)
#   --per-database N     instead: `--per-database` over N databases, each one gzip dump of
#                        SIZE of dump text (hard links of one file), on all cores against
#                        one thread (CHECK_BACKUP_THREADS=1: one dump after another)
#
# Needs: cargo, GNU time (/usr/bin/time, Debian package `time`), gzip, zstd, xz-utils,
# bzip2, coreutils (sha256sum); optional: isal (igzip), pigz, lbzip2; for gpg: gnupg.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
RUNS=5
FORMATS=gzip,zstd,xz,bzip2,plain
SLOW_SIZE=
TOOLS=
BIN=
DATA=${BENCH_DATA:-${TMPDIR:-/tmp}/check_backup-bench}
CLEAN=0
SCALING=0
PERDB=0
OUT=
SIZES=()
VARIANTS=()

die() { echo "bench/run.sh: $*" >&2; exit 2; }

while [ $# -gt 0 ]; do
    case "$1" in
        --runs) RUNS=$2; shift 2 ;;
        --formats) FORMATS=$2; shift 2 ;;
        --slow-size) SLOW_SIZE=$2; shift 2 ;;
        --tools) TOOLS=$2; shift 2 ;;
        --variant) VARIANTS+=("$2"); shift 2 ;;
        --per-database) PERDB=$2; shift 2 ;;
        --bin) BIN=$2; shift 2 ;;
        --data) DATA=$2; shift 2 ;;
        --clean) CLEAN=1; shift ;;
        --scaling) SCALING=1; shift ;;
        --out) OUT=$2; shift 2 ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        -*) die "unknown option $1" ;;
        *) SIZES+=("$1"); shift ;;
    esac
done
[ ${#SIZES[@]} -gt 0 ] || SIZES=(2G)
[ -x /usr/bin/time ] || die "GNU time is needed: apt-get install time"
[[ "$RUNS" =~ ^[1-9][0-9]*$ ]] || die "--runs needs a positive number"

bytes() { # 2G -> 2147483648
    local n=${1%[KkMmGgTt]*} u=${1#"${1%%[!0-9]*}"}
    [[ "$n" =~ ^[0-9]+$ ]] || die "bad size $1"
    case "${u^^}" in
        "") echo "$n" ;; K|KIB|KB) echo $((n << 10)) ;; M|MIB|MB) echo $((n << 20)) ;;
        G|GIB|GB) echo $((n << 30)) ;; T|TIB|TB) echo $((n << 40)) ;; *) die "bad size $1" ;;
    esac
}
has() { command -v "$1" >/dev/null 2>&1; }
want_format() { [[ ",$FORMATS," == *",$1,"* ]]; }
want_tool() { [ -z "$TOOLS" ] || [[ ",$TOOLS," == *",$1,"* ]]; }

mkdir -p "$DATA"
TMP=$(mktemp -d)
# The gpg format's key lives in $TMP/gnupg: stop its agent before removing it.
trap '[ -d "$TMP/gnupg" ] && gpgconf --homedir "$TMP/gnupg" --kill all 2>/dev/null; rm -rf "$TMP"' EXIT

echo "== building (release)" >&2
if [ -z "$BIN" ]; then
    (cd "$ROOT" && cargo build --release --locked --quiet --bin check_backup)
    BIN=$ROOT/target/release/check_backup
fi
(cd "$ROOT" && cargo build --release --locked --quiet --example gen_dump)
GEN=$ROOT/target/release/examples/gen_dump

# The cache of issue 4 (when this build has one) must not answer: we time the first check.
cb_args() {
    local bin=$1 help
    help=$("$bin" --help 2>/dev/null || true) # --help exits 3, as the plugin guidelines ask
    printf '%s' "--marker auto -t 0"
    if [[ "$help" == *--no-cache* ]]; then printf ' --no-cache'; fi
}

# Generated files, reused across runs: dump-SIZE.sql and its compressed copies.
text_file() {
    local size=$1 f=$DATA/dump-$1.sql
    if [ ! -s "$f" ]; then
        echo "== generating $f" >&2
        "$GEN" "$size" >"$f.tmp" && mv "$f.tmp" "$f"
        touch -d '-1 day' "$f" # not "backup in progress" (--settle)
    fi
    echo "$f"
}
compressed_file() {
    local fmt=$1 size=$2 text ext cmd
    case "$fmt" in
        gzip) ext=gz; cmd="gzip -6 -c" ;;
        zstd) ext=zst; cmd="zstd -3 -q -c -T1" ;;
        xz) ext=xz; cmd="xz -6 -T2 -c" ;; # -T2: multi-block (24 MiB blocks); xz -dc 5.4 still decodes on one thread
        bzip2) ext=bz2; cmd="bzip2 -9 -c"; has lbzip2 && cmd="lbzip2 -9 -n 2 -c" ;;
    esac
    local f=$DATA/dump-$size.sql.$ext
    if [ ! -s "$f" ]; then
        text=$(text_file "$size")
        echo "== compressing $f ($cmd)" >&2
        $cmd <"$text" >"$f.tmp" && mv "$f.tmp" "$f"
        touch -d '-1 day' "$f" # not "backup in progress" (--settle)
    fi
    echo "$f"
}
# The gzip dump of SIZE encrypted with gpg to a key made for this run (ed25519 with a
# cv25519 encryption subkey, no passphrase) in $TMP/gnupg; its encryption subkey alone is
# exported to $TMP/bench-subkey.gpg (mode 600) for --gpg-key. Made anew each run (the key
# is new), as `gpg -e -r KEY FILE` writes it (gpg does not compress gzip data again).
GPG_HOME=$TMP/gnupg
GPG_KEY=$TMP/bench-subkey.gpg
gpg_file() {
    local size=$1 gz f sub
    gz=$(compressed_file gzip "$size")
    f=$DATA/dump-$size.sql.gz.gpg
    if [ ! -d "$GPG_HOME" ]; then
        has gpg || die "the gpg format needs gnupg"
        mkdir -m 700 "$GPG_HOME"
        gpg --homedir "$GPG_HOME" --batch --quiet --passphrase '' --quick-gen-key bench@example.org default default never 2>/dev/null
        sub=$(gpg --homedir "$GPG_HOME" --batch --with-colons --list-keys bench@example.org | awk -F: '$1=="sub" {print $5}')
        (umask 077 && gpg --homedir "$GPG_HOME" --batch --quiet --export-secret-subkeys "$sub!" >"$GPG_KEY")
    fi
    echo "== encrypting $f (gpg -e, a key made for this run)" >&2
    rm -f "$f"
    gpg --homedir "$GPG_HOME" --batch --quiet --trust-model always -e -r bench@example.org -o "$f" "$gz"
    touch -d '-1 day' "$f" # not "backup in progress" (--settle)
    echo "$f"
}

# The dump F again (a hard link: no copy) in $DATA/sums/, with the `.sha256` that
# `sha256sum` writes beside it, as a backup job would: check_backup then verifies it too.
with_sha256() {
    local f=$1 dir=$DATA/sums name
    name=$(basename "$f")
    mkdir -p "$dir"
    ln -f "$f" "$dir/$name"
    if [ ! -s "$dir/$name.sha256" ] || [ "$dir/$name.sha256" -ot "$f" ]; then
        echo "== sha256sum $name > $dir/$name.sha256" >&2
        (cd "$dir" && sha256sum "$name" >"$name.sha256.tmp" && mv "$name.sha256.tmp" "$name.sha256")
    fi
    echo "$dir/$name"
}

# Runs one command once; appends "name wall_seconds rss_kib" to $TMP/times.
measure() {
    local name=$1 cmd=$2 start end rc
    start=$(date +%s%N)
    set +e
    /usr/bin/time -f '%M' -o "$TMP/rss" bash -c "$cmd" >"$TMP/out" 2>"$TMP/err"
    rc=$?
    set -e
    end=$(date +%s%N)
    if [ $rc -ne 0 ]; then
        echo "FAILED (exit $rc): $cmd" >&2
        head -c 2000 "$TMP/out" "$TMP/err" >&2
        exit 1
    fi
    echo "$name $(( (end - start) / 1000 )) $(tail -1 "$TMP/rss")" >>"$TMP/times"
}

machine() {
    echo "- CPU: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
    echo "- memory: $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo); kernel $(uname -r); $(. /etc/os-release && echo "$PRETTY_NAME")"
    echo "- $(rustc --version 2>/dev/null || echo rustc ?); tools: gzip $(gzip --version | head -1 | awk '{print $NF}'), zstd $(zstd --version | grep -o 'v[0-9.]*'), xz $(xz --version | head -1 | awk '{print $NF}'), bzip2 $(bzip2 --help 2>&1 </dev/null | head -1 | grep -o 'Version [0-9.]*' | cut -d' ' -f2)$(has igzip && echo ", igzip $(igzip --version | awk '{print $NF}')")$(has pigz && echo ", pigz $(pigz --version 2>&1 | awk '{print $NF}')")$(has lbzip2 && echo ", lbzip2 $(lbzip2 --version 2>&1 | head -1 | awk '{print $NF}')")"
}

# Prints the Markdown table for the commands timed in $TMP/times.
report() {
    local title=$1 base=$2
    {
        echo
        echo "### $title"
        echo
        echo "| command | median s | min s | max s | vs. pipeline | peak RSS MiB |"
        echo "|---|---:|---:|---:|---:|---:|"
        awk -v base="$base" '
            { t[$1] = t[$1] " " $2; n[$1]++; if ($3 > rss[$1]) rss[$1] = $3; if (!($1 in seen)) { seen[$1] = 1; order[++k] = $1 } }
            function median(s,   a, m, i, j, x) {
                m = split(substr(s, 2), a, " ")
                for (i = 2; i <= m; i++) { x = a[i] + 0; for (j = i - 1; j >= 1 && a[j] + 0 > x; j--) a[j + 1] = a[j]; a[j + 1] = x }
                med = (m % 2) ? a[(m + 1) / 2] : (a[m / 2] + a[m / 2 + 1]) / 2
                lo = a[1]; hi = a[m]
                return med
            }
            END {
                for (i = 1; i <= k; i++) { c = order[i]; md[c] = median(t[c]); mn[c] = lo; mx[c] = hi }
                for (i = 1; i <= k; i++) {
                    c = order[i]
                    r = (base in md && md[base] > 0) ? sprintf("%.3f", md[c] / md[base]) : "-"
                    printf "| %s | %.3f | %.3f | %.3f | %s | %.1f |\n", c, md[c] / 1e6, mn[c] / 1e6, mx[c] / 1e6, r, rss[c] / 1024
                }
            }' "$TMP/times"
    } | tee -a "$TMP/report"
}

# Runs every command of the list (lines "name<TAB>command") RUNS times, alternating.
run_set() {
    local list=$1 names=() cmds=() i r j count
    while IFS=$'\t' read -r name cmd; do
        want_tool "${name%%[(]*}" || continue
        names+=("$name"); cmds+=("$cmd")
    done <"$list"
    count=${#names[@]}
    : >"$TMP/times"
    [ "$count" -gt 0 ] || return 0
    for i in "${!names[@]}"; do # warm-up: file into the page cache, and a correctness check
        measure "${names[$i]}" "${cmds[$i]}"
    done
    : >"$TMP/times"
    for r in $(seq 0 $((RUNS - 1))); do
        for j in $(seq 0 $((count - 1))); do
            i=$(( (j + r) % count ))
            measure "${names[$i]}" "${cmds[$i]}"
        done
        printf '.' >&2
    done
    echo >&2
}

echo "## bench/run.sh $(date -u '+%Y-%m-%d %H:%M UTC'), $RUNS alternating runs per command" | tee "$TMP/report"
echo | tee -a "$TMP/report"
machine | tee -a "$TMP/report"
echo "- check_backup: $BIN ($(cb_args "$BIN"))$(for v in "${VARIANTS[@]}"; do printf ', %s: %s' "${v%%=*}" "${v#*=}"; done)" | tee -a "$TMP/report"

if [ "$SCALING" = 1 ]; then
    for fmt in gzip plain; do
        want_format "$fmt" || continue
        list=$TMP/list
        : >"$list"
        for size in "${SIZES[@]}"; do
            if [ "$fmt" = plain ]; then f=$(text_file "$size"); else f=$(compressed_file "$fmt" "$size"); fi
            printf 'check_backup@%s\t%q -f %q %s\n' "$size" "$BIN" "$f" "$(cb_args "$BIN")" >>"$list"
        done
        echo "== scaling, $fmt: ${SIZES[*]}" >&2
        run_set "$list"
        report "scaling, $fmt dumps of ${SIZES[*]} of dump text, sizes alternating" none
    done
    SIZES=()
fi

if [ "$PERDB" != 0 ]; then
    [[ "$PERDB" =~ ^[1-9][0-9]*$ ]] || die "--per-database needs a positive number"
    for size in "${SIZES[@]}"; do
        f=$(compressed_file gzip "$size")
        dir=$DATA/perdb-$PERDB-$size
        for i in $(seq -w 1 "$PERDB"); do
            mkdir -p "$dir/db$i"
            ln -f "$f" "$dir/db$i/db$i.sql.gz"
        done
        list=$TMP/list
        : >"$list"
        args="--per-database '^(db[0-9]+)/' $(cb_args "$BIN")"
        printf 'check_backup\t%q -f %q %s\n' "$BIN" "$dir" "$args" >>"$list"
        printf 'check_backup(1thread)\tCHECK_BACKUP_THREADS=1 %q -f %q %s\n' "$BIN" "$dir" "$args" >>"$list"
        echo "== per-database, $PERDB gzip dumps of $size of dump text" >&2
        run_set "$list"
        report "--per-database over $PERDB gzip dumps of $size of dump text each ($(stat -c %s "$f") bytes each; ratio column: against check_backup(1thread))" 'check_backup(1thread)'
    done
    SIZES=()
fi

for size in "${SIZES[@]}"; do
    slow=${SLOW_SIZE:-$size}
    if [ -z "$SLOW_SIZE" ] && [ "$(bytes "$size")" -gt $((256 << 20)) ]; then slow=256M; fi
    for fmt in gzip zstd xz bzip2 plain gpg; do
        want_format "$fmt" || continue
        fsize=$size
        case "$fmt" in xz|bzip2) fsize=$slow ;; esac
        case "$fmt" in
            plain) f=$(text_file "$fsize") ;;
            gpg) f=$(gpg_file "$fsize") ;;
            *) f=$(compressed_file "$fmt" "$fsize") ;;
        esac
        list=$TMP/list
        : >"$list"
        if [ "$fmt" = gpg ]; then
            # With the key: an exported subkey (a throwaway keyring and agent each run),
            # and the keyring itself (its agent already running, as for the pipeline).
            printf 'check_backup\t%q -f %q %s --decrypt-with gpg --gpg-key %q\n' "$BIN" "$f" "$(cb_args "$BIN")" "$GPG_KEY" >>"$list"
            printf 'check_backup(gpg-homedir)\t%q -f %q %s --decrypt-with gpg --gpg-homedir %q\n' "$BIN" "$f" "$(cb_args "$BIN")" "$GPG_HOME" >>"$list"
        else
            printf 'check_backup\t%q -f %q %s\n' "$BIN" "$f" "$(cb_args "$BIN")" >>"$list"
        fi
        if { [ "$fmt" = gzip ] || [ "$fmt" = plain ]; } && want_tool check_backup+sha256; then
            printf 'check_backup+sha256\t%q -f %q %s --checksum require\n' "$BIN" "$(with_sha256 "$f")" "$(cb_args "$BIN")" >>"$list"
        fi
        for v in "${VARIANTS[@]}"; do
            printf 'check_backup(%s)\t%q -f %q %s\n' "${v%%=*}" "${v#*=}" "$f" "$(cb_args "${v#*=}")" >>"$list"
        done
        # bzip2 and multi-block xz are decoded on all cores: the same check held to one core
        # (taskset; the decoders then use one thread) shows what the other cores add.
        if { [ "$fmt" = bzip2 ] || [ "$fmt" = xz ]; } && has taskset && [ "$(nproc)" -gt 1 ]; then
            printf 'check_backup(1core)\ttaskset -c 0 %q -f %q %s\n' "$BIN" "$f" "$(cb_args "$BIN")" >>"$list"
        fi
        case "$fmt" in
            gzip)
                printf 'pipeline\tzcat %q | tail -1 | grep -q "^-- Dump completed"\n' "$f" >>"$list"
                printf 'gzip\tgzip -dc %q >/dev/null\n' "$f" >>"$list"
                has igzip && printf 'igzip\tigzip -dc %q >/dev/null\n' "$f" >>"$list"
                has pigz && printf 'pigz\tpigz -dc %q >/dev/null\n' "$f" >>"$list"
                printf 'sha256sum\tsha256sum %q >/dev/null\n' "$f" >>"$list" ;;
            zstd)
                printf 'pipeline\tzstdcat %q | tail -1 | grep -q "^-- Dump completed"\n' "$f" >>"$list"
                printf 'zstd\tzstd -dc %q >/dev/null\n' "$f" >>"$list" ;;
            xz)
                printf 'pipeline\txzcat %q | tail -1 | grep -q "^-- Dump completed"\n' "$f" >>"$list"
                printf 'xz\txz -dc %q >/dev/null\n' "$f" >>"$list" ;;
            bzip2)
                printf 'pipeline\tbzcat %q | tail -1 | grep -q "^-- Dump completed"\n' "$f" >>"$list"
                printf 'bzip2\tbzip2 -dc %q >/dev/null\n' "$f" >>"$list"
                has lbzip2 && printf 'lbzip2\tlbzip2 -n 2 -dc %q >/dev/null\n' "$f" >>"$list" ;;
            gpg)
                printf 'pipeline\tgpg --homedir %q --batch --quiet -d %q | zcat | tail -1 | grep -q "^-- Dump completed"\n' "$GPG_HOME" "$f" >>"$list"
                printf 'gpg\tgpg --homedir %q --batch --quiet -d %q >/dev/null\n' "$GPG_HOME" "$f" >>"$list" ;;
            plain)
                printf 'tail\ttail -1 %q | grep -q "^-- Dump completed"\n' "$f" >>"$list"
                printf 'sha256sum\tsha256sum %q >/dev/null\n' "$f" >>"$list" ;;
        esac
        echo "== $fmt, $fsize of dump text: $(stat -c %s "$f") bytes on disk" >&2
        run_set "$list"
        base=pipeline
        [ "$fmt" = plain ] && base=tail
        [ "$fmt" = gpg ] && fmt="gzip encrypted with gpg"
        report "$fmt, $fsize of dump text ($(awk -v a="$(bytes "$fsize")" -v b="$(stat -c %s "$f")" 'BEGIN { printf "%d bytes, ratio %.2f:1", b, a / b }'))" "$base"
    done
done

[ -n "$OUT" ] && cat "$TMP/report" >>"$OUT"
if [ "$CLEAN" = 1 ]; then rm -f "$DATA"/dump-*; rmdir "$DATA" 2>/dev/null || true; fi
