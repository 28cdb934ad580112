#!/usr/bin/env bash
# Compares the answers of two check_backup binaries over every fixture (each file and
# backup directory under tests/fixtures/real, alone and with the logs, per-database sets,
# text and JSON), so that a refactoring can show that no output changed.
# Usage: scripts/compare-outputs.sh OLD_BINARY NEW_BINARY   (exit 1 when any output differs)
set -u
old=$1 new=$2
cd "$(dirname "$0")/.."
fx=tests/fixtures/real
runs=()
while IFS= read -r -d '' p; do
  runs+=("-f $p")
  runs+=("-f $p --output json")
  runs+=("-f $p --marker mysqldump")
done < <(find "$fx" -mindepth 2 -maxdepth 2 \( -type f -o -type d \) ! -name '*.tsv' ! -name '*.txt' -print0 | sort -z)
for log in "$fx"/logs/*.log; do
  runs+=("-f $fx/mariadb/shop.sql.gz -l $log")
  runs+=("-l $log --output json")
done
runs+=("-f $fx/formats/automysqlbackup/daily --per-database ^([a-z]+)/")
runs+=("-f $fx/formats/automysqlbackup/daily --per-database ^([a-z]+)/ --expect-databases shop,crm,wiki,gone --output json")
runs+=("-f $fx/formats/pg_back --per-database ^([a-z]+)_")
runs+=("-f $fx/formats/per-db-missing --per-database ^([a-z]+)_ --expect-databases shop,crm")
runs+=("-f $fx/mariadb/all-databases.sql.gz --expect-databases shop,mysql")
# Ages move between the two runs: mask them.
mask() {
  sed -E 's/[0-9]+(d|h|m|s)( [0-9]+(h|m|s))* (old|ago)/AGE \4/g; s/age=[0-9.]+s/age=AGEs/g; s/"(age_seconds|value)": [0-9.e+-]+/"\1": N/g; s/"checked_at": "[^"]*"/"checked_at": T/; s/log_age=[0-9.]+s/log_age=AGEs/g'
}
same=0 differ=0
for args in "${runs[@]}"; do
  # shellcheck disable=SC2086
  a=$("$old" $args --no-cache --settle 0 2>&1; echo "exit $?")
  # shellcheck disable=SC2086
  b=$("$new" $args --no-cache --settle 0 2>&1; echo "exit $?")
  if [ "$(mask <<<"$a")" = "$(mask <<<"$b")" ]; then
    same=$((same + 1))
  else
    differ=$((differ + 1))
    echo "=== DIFFERENT: $args"
    diff <(mask <<<"$a") <(mask <<<"$b") | head -20
  fi
done
echo "$same same, $differ different (of ${#runs[@]} runs)"
[ "$differ" = 0 ]
