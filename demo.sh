#!/usr/bin/env bash
# Builds check_backup and runs it on real dumps shipped in the repo (written by a real
# mariadb-dump 10.11, see tests/fixtures/README.md): a complete dump, then the incident —
# a dump whose server connection was killed mid-table, with its job log.
set -euo pipefail
cd "$(dirname "$0")"
source scripts/build-deps.sh
cargo build --release --locked --quiet
bin=target/release/check_backup
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
real=tests/fixtures/real
cp "$real/mariadb/shop.sql.gz" "$real/mariadb/shop-killed.sql.gz" "$real/logs/mariadb-killed.log" "$work/"
# A fresh checkout dates every file "now"; date them like last night's backup instead (a
# dump modified in the last two minutes counts as still being written): 3 hours ago, but
# not before the logged run started (else the log would rightly say the run wrote no dump).
run_start=$(date -d "$(head -c 19 "$work/mariadb-killed.log")" +%s)
when=$(( $(date +%s) - 3 * 3600 ))
(( when > run_start + 2 )) || when=$(( run_start + 2 ))
touch -d "@$when" "$work"/*
show() {
  echo "\$ check_backup $*"
  local rc=0
  "$bin" "$@" || rc=$?
  echo "(exit code $rc)"
  echo
}
show -f "$work/shop.sql.gz"
show -f "$work/shop-killed.sql.gz" -l "$work/mariadb-killed.log"
