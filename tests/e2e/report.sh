#!/usr/bin/env bash
# backup-report end to end, through real software:
#   A  test data: backup sets made from the real dumps and logs of tests/fixtures/real/
#      (OK, log warnings, shrunk, stale, killed mid-dump with its log, cut, FIFO), two fleet
#      hosts (--from DIR), and 30 days of size history
#   B  the report: text, JSON and HTML runs (timed), exit code = worst state
#   C  the HTML page in a real headless Chromium: one row per set with the right state
#      class (--dump-dom), the search box shown by its script, no console message (CSP violations included; a
#      control page proves they would be seen), no horizontal scrolling at 360 px, and
#      screenshots for a person: target/report.png (1200x900), target/report-phone.png
#   D  --icinga-api against a real Icinga 2 daemon started here: a `backup` CheckCommand
#      running check_backup, services on two hosts (OK, WARNING, CRITICAL) and one that
#      is not a backup; checks forced over the API, then backup-report must list exactly
#      the backup services with their states — TLS verified with the CA, basic auth; a
#      wrong password, a wrong CA and an unreachable API are UNKNOWN
#
#   Run as root on Debian 12:   bash tests/e2e/report.sh
#   UPDATE_DOCS=1 also copies the screenshot to docs/report.png; KEEP_TMP=1 keeps the data.
#
# Installs what it needs with apt-get (chromium, icinga2, jq, curl, openssl, fonts). Every
# daemon listens on 127.0.0.1 only and is stopped by its PID on every exit. It ends with the
# line "N passed, M failed" and exits non-zero if anything failed.
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$(dirname "$0")/../.."
ROOT=$PWD

PASSED=0
FAILED=0
FAILURES=()
TIMINGS=()
FINISHED=
ABORT_AT=
PART=
PART_T0=$SECONDS

pass() { PASSED=$((PASSED + 1)); echo "  ok   $1"; }
fail() {
    FAILED=$((FAILED + 1))
    FAILURES+=("$1")
    echo "  FAIL $1"
    [[ -n ${2:-} ]] && sed 's/^/       | /' <<<"$2" | head -n 40
    return 0
}
die() { fail "$1" "${2:-}"; exit 1; }
end_part() { [[ -n $PART ]] && TIMINGS+=("$(printf '%-44s %6ds' "$PART" $((SECONDS - PART_T0)))"); PART=; }
part() { end_part; PART=$1; PART_T0=$SECONDS; echo; echo "=== $1"; }
expect_eq() {   # NAME EXPECTED ACTUAL
    if [[ $2 == "$3" ]]; then pass "$1"; else fail "$1" "expected: $2"$'\n'"actual:   $3"; fi
}
expect_contains() {   # NAME NEEDLE HAYSTACK
    if [[ $3 == *"$2"* ]]; then pass "$1"; else fail "$1" "missing: $2"$'\n'"in: $(head -c 3000 <<<"$3")"; fi
}

[[ $(id -u) -eq 0 ]] || { echo "tests/e2e/report.sh: must run as root (apt-get, icinga2 drops to nagios)" >&2; exit 2; }

T=
ICINGA_PID=
POLICY_RC=/usr/sbin/policy-rc.d
CREATED_POLICY_RC=

cleanup() {
    local rc=$?
    set +e
    trap - EXIT INT TERM HUP
    end_part
    if [[ -z $FINISHED ]]; then
        FAILED=$((FAILED + 1))
        FAILURES+=("aborted (exit $rc) at: ${ABORT_AT:-?}")
    fi
    echo
    echo "=== cleanup"
    stop_pid icinga2 "$ICINGA_PID" 30
    [[ -n $CREATED_POLICY_RC ]] && rm -f "$POLICY_RC"
    if [[ -n $T && -d $T ]]; then
        if [[ -n ${KEEP_TMP:-} ]]; then echo "  kept $T"; else rm -rf "$T"; fi
    fi
    echo
    echo "=== timings"
    printf '  %s\n' "${TIMINGS[@]}"
    printf '  %-44s %6ds\n' "total" "$SECONDS"
    if [[ $FAILED -gt 0 ]]; then
        echo
        echo "=== failures"
        printf '  %s\n' "${FAILURES[@]}"
    fi
    echo
    echo "$PASSED passed, $FAILED failed"
    [[ $FAILED -gt 0 ]] && exit 1
    exit 0
}
trap cleanup EXIT
trap 'ABORT_AT="line $LINENO: $BASH_COMMAND"' ERR
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------------------------------
part "0. packages and build"
NEEDED=(chromium icinga2 jq curl openssl perl fonts-dejavu-core procps iproute2 gzip)
missing=()
for p in "${NEEDED[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [[ ${#missing[@]} -gt 0 ]]; then
    echo "  installing: ${missing[*]}"
    # Keep the icinga2 package from starting its own service.
    if [[ ! -e $POLICY_RC ]]; then
        printf '#!/bin/sh\nexit 101\n' >"$POLICY_RC"
        chmod 0755 "$POLICY_RC"
        CREATED_POLICY_RC=1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get -o DPkg::Lock::Timeout=600 update -qq >/dev/null 2>&1 || true
    apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
        || die "apt-get install ${missing[*]}"
fi
pass "Debian packages present: ${NEEDED[*]}"
id nagios >/dev/null 2>&1 || die "user nagios exists (from the icinga2 package)"

cargo build --locked --bins --quiet 2>&1 || die "cargo build --bins"
BIN=$ROOT/target/debug
[[ -x $BIN/backup-report && -x $BIN/check_backup ]] || die "target/debug/backup-report and check_backup built"
pass "cargo build: backup-report and check_backup"

CHROME=(chromium --headless --no-sandbox --disable-gpu --no-first-run --disable-background-networking
    --disable-component-update --disable-sync --disable-default-apps --mute-audio
    --enable-logging=stderr --v=0)
chrome() {   # ARGS... ; a fresh profile every time
    local profile
    profile=$(mktemp -d "$T/chrome.XXXXXX")
    timeout 90 "${CHROME[@]}" --user-data-dir="$profile" "$@"
}

# ---------------------------------------------------------------------------------------
part "A. test data"
T=$(mktemp -d /tmp/report-e2e.XXXXXX)
chmod 0755 "$T"   # Icinga runs the plugin as nagios
FIX=$ROOT/tests/fixtures/real
D=$T/backups
mkdir -p "$D" "$T/cache" "$T/fleet" "$T/www"
export CHECK_BACKUP_CACHE_DIR=$T/cache
NOW=$(date +%s)
put() {   # SRC DEST AGE-SECONDS
    mkdir -p "$(dirname "$2")"
    cp "$1" "$2"
    touch -d "@$((NOW - $3))" "$2"
}
# A log of the fixtures with its timestamps moved to AGE seconds ago.
put_log() {   # SRC DEST AGE-SECONDS
    local stamp
    stamp=$(date -d "@$((NOW - $3))" '+%F %T')
    sed -E "s/^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}/$stamp/" "$1" >"$2"
    touch -d "@$((NOW - $3))" "$2"
}
H=3600
# shop: four nightly dumps, the newest 3h old, and a clean log → OK
for i in 3 2 1 0; do put "$FIX/mariadb/shop.sql.gz" "$D/shop/shop-day$i.sql.gz" $((i * 24 * H + 3 * H)); done
put_log "$FIX/logs/mariadb-clean.log" "$D/shop.log" $((3 * H - 5))
# mail-archive: xz → OK
put "$FIX/mariadb/shop.sql.xz" "$D/mail/mail-archive.sql.xz" $((5 * H))
# crm: pg_dump --data-only whose log has 5 warnings → WARNING
put "$FIX/postgres/shop-data-only.sql.gz" "$D/crm/crm.sql.gz" $((2 * H))
put_log "$FIX/logs/pg-warning.log" "$D/crm.log" $((2 * H - 3))
# wiki: seven all-databases dumps, then one of a single database → shrunk (WARNING)
for i in 7 6 5 4 3 2 1; do put "$FIX/mariadb/all-databases.sql.gz" "$D/wiki/wiki-day$i.sql.gz" $((i * 24 * H + 4 * H)); done
put "$FIX/mariadb/shop.sql.gz" "$D/wiki/wiki-day0.sql.gz" $((4 * H))
# analytics: pg_dumpall, last written 3 days ago → CRITICAL
put "$FIX/postgres/cluster.sql.gz" "$D/analytics/cluster.sql.gz" $((72 * H))
# shop-eu: THE INCIDENT — killed mid-table, and the job log says why → CRITICAL
put "$FIX/mariadb/shop-killed.sql.gz" "$D/shop-eu/shop-eu.sql.gz" $((1 * H))
put_log "$FIX/logs/mariadb-killed.log" "$D/shop-eu.log" $((1 * H + 2))
# billing: a copy cut at 16 KiB → CRITICAL
put "$FIX/mariadb/shop-truncated.sql.gz" "$D/billing/billing.sql.gz" $((6 * H))
# ldap: a FIFO where the dump should be → UNKNOWN
mkdir -p "$D/ldap" && mkfifo "$D/ldap/ldap.ldif.gz"
chmod -R a+rX "$D"

CONFIG=$T/backups.toml
cat >"$CONFIG" <<EOF
# backup sets of db1.example.com (tests/e2e/report.sh)
[defaults]
warning-age = "26h"
critical-age = "50h"

[set.shop]
dump = "$D/shop/"
log = "$D/shop.log"
log-success = "backup complete"

[set.mail-archive]
dump = "$D/mail/"

[set.crm]
dump = "$D/crm/"
log = "$D/crm.log"
marker = "pg_dump"

[set.wiki]
dump = "$D/wiki/"
max-shrink = 30

[set.analytics]
dump = "$D/analytics/"
marker = "pg_dumpall"

[set.shop-eu]
dump = "$D/shop-eu/"
log = "$D/shop-eu.log"

[set.billing]
dump = "$D/billing/billing.sql.gz"

[set.ldap]
dump = "$D/ldap/ldap.ldif.gz"
EOF
pass "8 backup sets written to $CONFIG"

# Fleet: db2 sent what check_backup --output json printed; db3 a whole backup-report run.
put "$FIX/mariadb/shop.sql.zst" "$T/db2/shop.sql.zst" $((2 * H))
"$BIN/check_backup" -f "$T/db2/shop.sql.zst" --output json >"$T/fleet/db2.example.com.json"
cat >"$T/db3.toml" <<EOF
[set.erp]
dump = "$D/shop/"
[set.erp-replica]
dump = "$D/wiki/"
max-shrink = 40
EOF
"$BIN/backup-report" --config "$T/db3.toml" --format json --no-history >"$T/fleet/db3.example.com.json"
expect_eq "fleet files: db2 (check_backup JSON), db3 (backup-report JSON, 2 sets)" "OK 2" \
    "$(jq -r .state "$T/fleet/db2.example.com.json") $(jq length "$T/fleet/db3.example.com.json")"

# 30 days of history (a report ran every morning): sizes with a little jitter, the wiki
# at its old size until today, analytics stopped three days ago, billing whole until today.
HIST=$T/history.jsonl
size_of() { stat -c %s "$1"; }
seed() {   # HOST SET BASE-SIZE [LAST-DAY]
    local host=$1 set=$2 base=$3 last=${4:-1} d t size state
    for d in $(seq 29 -1 "$last"); do
        t=$(date -d "@$((NOW - d * 86400))" -Iseconds)
        size=$((base + (base * ((d * 37 + ${#set} * 11) % 9 - 4)) / 200 + (base * (29 - d)) / 600))
        state=OK
        [[ $set == crm && $d -le 4 ]] && state=WARNING
        printf '{"time":"%s","set":"%s","host":"%s","state":"%s","size":%d,"uncompressed_size":null,"age":%d}\n' \
            "$t" "$set" "$host" "$state" "$size" $((3 * H))
    done
}
{
    seed db1.example.com shop "$(size_of "$FIX/mariadb/shop.sql.gz")"
    seed db1.example.com mail-archive "$(size_of "$FIX/mariadb/shop.sql.xz")"
    seed db1.example.com crm "$(size_of "$FIX/postgres/shop-data-only.sql.gz")"
    seed db1.example.com wiki "$(size_of "$FIX/mariadb/all-databases.sql.gz")"
    seed db1.example.com analytics "$(size_of "$FIX/postgres/cluster.sql.gz")" 3
    seed db1.example.com shop-eu "$(size_of "$FIX/mariadb/shop.sql.gz")"
    seed db1.example.com billing "$(size_of "$FIX/mariadb/shop.sql.gz")"
    seed db2.example.com backup "$(size_of "$FIX/mariadb/shop.sql.zst")"
    seed db3.example.com erp "$(size_of "$FIX/mariadb/shop.sql.gz")"
    seed db3.example.com erp-replica "$(size_of "$FIX/mariadb/all-databases.sql.gz")"
} >"$HIST"
SEEDED=$(wc -l <"$HIST")
pass "history seeded: $SEEDED lines over 29 days"

# ---------------------------------------------------------------------------------------
part "B. the report"
REPORT=(--config "$CONFIG" --from "$T/fleet" --hostname db1.example.com)
t=$(date +%s%N)
"$BIN/backup-report" "${REPORT[@]}" --history "$HIST" --format html --output "$T/www/report.html" 2>"$T/report.err"
rc=$?
REPORT_MS=$(ms_since "$t")
expect_eq "HTML report: exit code 2 (worst state CRITICAL)" 2 "$rc"
pass "HTML report of 8 local sets + 2 fleet hosts written in ${REPORT_MS}ms"
expect_eq "history: one line per set appended ($SEEDED seeded + 11)" $((SEEDED + 11)) "$(wc -l <"$HIST")"
"$BIN/backup-report" "${REPORT[@]}" --no-history --format json >"$T/report.json"
expect_eq "JSON report: exit code 2" 2 "$?"
STATES=$(jq -r '.[] | "\(.host // "db1.example.com") \(.set) \(.state)"' "$T/report.json")
expect_eq "JSON report: every set with its state, worst first" \
"db1.example.com analytics CRITICAL
db1.example.com billing CRITICAL
db1.example.com shop-eu CRITICAL
db1.example.com crm WARNING
db1.example.com wiki WARNING
db3.example.com erp-replica WARNING
db1.example.com ldap UNKNOWN
db1.example.com mail-archive OK
db1.example.com shop OK
db2.example.com backup OK
db3.example.com erp OK" "$STATES"
TEXT=$("$BIN/backup-report" "${REPORT[@]}" --no-history --format text)
expect_contains "text report: counts" "11 sets: 3 CRITICAL, 3 WARNING, 1 UNKNOWN, 4 OK" "$TEXT"
expect_contains "text report: the incident's log line quoted" \
    "> line 3 (ERROR) $(date -d "@$((NOW - H - 2))" '+%F %T') WARN - [child] mariadb-dump: Error 2013: Lost connection" "$TEXT"
echo "$TEXT" >"$T/report.txt"
"$BIN/backup-report" --config "$T/db3.toml" --no-history >/dev/null
expect_eq "exit code 1 when the worst set is a WARNING" 1 "$?"
"$BIN/backup-report" --config "$T/missing.toml" --no-history >/dev/null 2>&1
expect_eq "exit code 3 when the configuration cannot be read" 3 "$?"

# ---------------------------------------------------------------------------------------
part "C. the page in headless Chromium"
mkdir -p "$ROOT/target"
PAGE=$T/www/report.html
# The DOM as the browser built it (the page's one inline script, the search box, is
# allowed by its hash in the CSP; anything else the CSP forbids).
chrome --dump-dom "file://$PAGE" >"$T/dom.html" 2>"$T/chrome-dom.err"
expect_eq "chromium --dump-dom ran" 0 "$?"
expect_contains "DOM: the search box is shown (its script ran under the CSP)" \
    '<div class="tools" id="tools"><label for="search">' "$(cat "$T/dom.html")"
rows=$(grep -o '<tr class="set state-[a-z]*" data-set="[^"]*" data-host="[^"]*" data-state="[A-Z]*">' "$T/dom.html" \
    | sed -E 's/<tr class="set state-([a-z]*)" data-set="([^"]*)" data-host="([^"]*)" data-state="([A-Z]*)">/\3 \2 \4 \1/')
expected_rows=$(jq -r '.[] | "\(.host // "db1.example.com") \(.set) \(.state) \(.state | ascii_downcase)"' "$T/report.json")
expect_eq "DOM: one row per set, in order, with its state class" "$expected_rows" "$rows"
expect_eq "DOM: $(jq length "$T/report.json") rows" "$(jq length "$T/report.json")" "$(grep -c '<tr class="set ' "$T/dom.html")"
for s in CRITICAL:3 WARNING:3 UNKNOWN:1 OK:4; do
    expect_contains "DOM: header counts ${s#*:} ${s%:*}" "data-state=\"${s%:*}\" data-count=\"${s#*:}\"" "$(cat "$T/dom.html")"
done
expect_contains "DOM: host in the header" '<span id="report-host">db1.example.com</span>' "$(cat "$T/dom.html")"
expect_eq "DOM: a size sparkline per set" 11 "$(grep -o '<svg class="spark"' "$T/dom.html" | wc -l)"
expect_contains "DOM: the schedule, restore points and RPO columns" \
    '<th>Schedule</th><th>Restore points</th><th>RPO 30d</th>' "$(cat "$T/dom.html")"
expect_eq "DOM: an RPO cell per set" 11 "$(grep -o '<td class="c-rpo' "$T/dom.html" | wc -l)"
expect_contains "DOM: the wiki's sparkline has 30 runs" 'aria-label="size over the last 30 days: 30 runs' \
    "$(grep -o '<tr class="set state-warning" data-set="wiki".*' "$T/dom.html" | head -n 1)"

# Console: nothing at all (a CSP violation, a failed load or a script error would show).
chrome --screenshot="$ROOT/target/report.png" --window-size=1200,900 --hide-scrollbars "file://$PAGE" \
    >"$T/chrome-shot.out" 2>"$T/chrome-shot.err"
expect_eq "chromium --screenshot ran" 0 "$?"
console=$(grep -h ':CONSOLE' "$T/chrome-dom.err" "$T/chrome-shot.err" || true)
expect_eq "no console message while loading the page" "" "$console"
# Control: the same detection sees a page that breaks the rules.
cat >"$T/www/control.html" <<'EOF'
<!DOCTYPE html><html><head><meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:"></head>
<body><img src="http://127.0.0.1:9/x.png" alt=""><script>document.title = "x"</script></body></html>
EOF
chrome --dump-dom "file://$T/www/control.html" >/dev/null 2>"$T/chrome-control.err"
expect_eq "control page: its 2 CSP violations are seen on the console" 2 "$(grep -c ':CONSOLE' "$T/chrome-control.err")"
png_size=$(stat -c %s "$ROOT/target/report.png" 2>/dev/null || echo 0)
png_head=$(head -c 8 "$ROOT/target/report.png" 2>/dev/null | od -An -tx1 | tr -d ' \n')
if [[ $png_head == 89504e470d0a1a0a && $png_size -gt 20000 ]]; then
    pass "screenshot target/report.png (1200x900, $png_size bytes)"
else
    fail "screenshot target/report.png" "size $png_size, header $png_head"
fi

# A phone: the page in a 360 px wide frame must not scroll sideways, and the table turns
# into cards (thead hidden). Measured by a script in a test harness, not in the page.
cat >"$T/www/phone.html" <<'EOF'
<!DOCTYPE html><html><body style="margin:0;background:#888"><iframe id="f" src="report.html" style="width:360px;height:900px;border:0;background:#fff"></iframe>
<script>
document.getElementById('f').addEventListener('load', function () {
  var doc = this.contentDocument, el = doc.documentElement;
  document.body.setAttribute('data-phone', el.scrollWidth + ' ' + el.clientWidth + ' ' +
    getComputedStyle(doc.querySelector('thead')).display + ' ' + getComputedStyle(doc.querySelector('tr.set')).display);
});
</script></body></html>
EOF
phone=$(chrome --allow-file-access-from-files --window-size=600,1000 --virtual-time-budget=5000 --dump-dom "file://$T/www/phone.html" 2>/dev/null \
    | grep -o 'data-phone="[^"]*"' | sed -E 's/data-phone="(.*)"/\1/')
read -r scroll_w client_w thead_display row_display <<<"${phone:-? ? ? ?}"
if [[ $scroll_w =~ ^[0-9]+$ && $scroll_w -le $client_w && $thead_display == none && $row_display == block ]]; then
    pass "phone (360 px): no sideways scrolling (${scroll_w} <= ${client_w} px), one card per set"
else
    fail "phone (360 px): no sideways scrolling, one card per set" "measured: '$phone'"
fi
chrome --allow-file-access-from-files --window-size=380,1000 --hide-scrollbars --screenshot="$ROOT/target/report-phone.png" \
    "file://$T/www/phone.html" >/dev/null 2>&1 && pass "screenshot target/report-phone.png"
if [[ -n ${UPDATE_DOCS:-} ]]; then
    # The README's picture: the whole page of the test data.
    mkdir -p "$ROOT/docs"
    chrome --screenshot="$ROOT/docs/report.png" --window-size=1200,1900 --hide-scrollbars "file://$PAGE" >/dev/null 2>&1 \
        && echo "  docs/report.png updated"
fi

# ---------------------------------------------------------------------------------------
part "D. --icinga-api against a real Icinga 2"
I=$T/icinga
NODE=icinga-e2e.localdomain
API_PORT=$(free_port)
API_PASS=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
mkdir -p "$I"/{etc,data/certs,log,cache,spool,run,pki,bin}
# The plugin as Icinga runs it: as nagios, from a path nagios can read.
install -m 0755 "$BIN/check_backup" "$I/bin/check_backup"
# PKI: a CA, and the node's certificate for its name and 127.0.0.1 (backup-report verifies
# https://127.0.0.1:PORT against the CA); and another CA, that signed nothing here.
icinga_openssl_pki "$I" "$NODE" "Icinga CA e2e" || die "openssl: CA and node certificate" "$(cat "$I/pki.log")"
(cd "$I/pki" && openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=Other CA" -keyout other.key -out other-ca.crt) \
    >>"$I/pki.log" 2>&1 || die "openssl: the other CA" "$(cat "$I/pki.log")"
pass "PKI: CA and a certificate for $NODE and 127.0.0.1"

# Dumps for the services (readable by nagios).
IB=$I/backups
put "$FIX/mariadb/shop.sql.gz" "$IB/web/shop.sql.gz" $((2 * H))
put_log "$FIX/logs/mariadb-clean.log" "$IB/web.log" $((2 * H - 4))
put "$FIX/mariadb/shop-killed.sql.gz" "$IB/incident/shop.sql.gz" $((1 * H))
put_log "$FIX/logs/mariadb-killed.log" "$IB/incident.log" $((1 * H + 2))
put "$FIX/postgres/shop.sql.gz" "$IB/pg/shop.sql.gz" $((30 * H))
chmod -R a+rX "$IB"

icinga_defs "$I"
cat >"$I/etc/icinga2.conf" <<EOF
/* backup-report e2e: one Icinga 2 node, everything under $I */
const NodeName = "$NODE"
const ZoneName = NodeName
const TicketSalt = ""
object Endpoint NodeName {}
object Zone ZoneName { endpoints = [ NodeName ] }
include <itl>

object FileLogger "main-log" {
  severity = "information"
  path = LogDir + "/icinga2.log"
}
object CheckerComponent "checker" {}
object ApiListener "api" {
  bind_host = "127.0.0.1"
  bind_port = $API_PORT
}
object ApiUser "report" {
  password = "$API_PASS"
  permissions = [ "objects/query/Service", "objects/query/Host", "actions/reschedule-check" ]
}

object CheckCommand "backup" {
  command = [ "$I/bin/check_backup" ]
  arguments = {
    "--dump" = { value = "\$backup_dump\$" }
    "--log" = { value = "\$backup_log\$" }
    "--warning-age" = { value = "\$backup_warning_age\$" }
    "--critical-age" = { value = "\$backup_critical_age\$" }
    "--marker" = { value = "\$backup_marker\$" }
    "--no-cache" = { set_if = true }
  }
}

template Host "generic-host" {
  max_check_attempts = 3
  check_interval = 1m
  retry_interval = 30s
  check_command = "dummy"
}
template Service "generic-service" {
  max_check_attempts = 1
  check_interval = 5m
  retry_interval = 1m
}
object Host "db1.example.com" { import "generic-host"; address = "127.0.0.1" }
object Host "db2.example.com" { import "generic-host"; address = "127.0.0.1" }

object Service "backup-web" {
  import "generic-service"
  host_name = "db1.example.com"
  check_command = "backup"
  vars.backup_dump = "$IB/web/"
  vars.backup_log = "$IB/web.log"
}
object Service "backup-shop" {
  import "generic-service"
  host_name = "db1.example.com"
  check_command = "backup"
  vars.backup_dump = "$IB/incident/"
  vars.backup_log = "$IB/incident.log"
}
object Service "backup-pg" {
  import "generic-service"
  host_name = "db2.example.com"
  check_command = "backup"
  vars.backup_dump = "$IB/pg/"
  vars.backup_marker = "pg_dump"
}
/* not a backup: must not be in the report */
object Service "disk" {
  import "generic-service"
  host_name = "db2.example.com"
  check_command = "dummy"
  vars.dummy_state = 2
  vars.dummy_text = "DISK CRITICAL"
}
EOF
chown -R nagios:nagios "$I"
chmod 0700 "$I/data/certs"
if ! out=$(cd / && icinga2 daemon -C -c "$I/etc/icinga2.conf" "${ICINGA_DEFS[@]}" 2>&1); then
    die "icinga2 daemon -C validates the configuration" "$out"
fi
pass "icinga2 daemon -C validates the configuration"
(cd / && exec icinga2 daemon -c "$I/etc/icinga2.conf" "${ICINGA_DEFS[@]}" --close-stdio -e "$I/log/error.log") \
    >"$I/log/stdout.log" 2>&1 &
ICINGA_PID=$!

API="https://127.0.0.1:$API_PORT/v1"
api() {   # METHOD PATH [JSON]
    curl -sS --fail-with-body --max-time 20 --cacert "$I/pki/ca.crt" -u "report:$API_PASS" \
        -H 'Accept: application/json' -X "$1" "$API$2" ${3:+-d "$3"}
}
t=$(date +%s%N)
up=
for _ in $(seq 1 300); do
    kill -0 "$ICINGA_PID" 2>/dev/null || break
    if n=$(api GET '/objects/services?attrs=name' 2>/dev/null | jq '.results | length'); then
        if [[ $n -ge 4 ]]; then up=$n; break; fi
    fi
    sleep 0.1
done
[[ -n $up ]] || die "icinga2 answers on its REST API" "$(tail -n 30 "$I/log/icinga2.log" "$I/log/error.log" "$I/log/stdout.log" 2>/dev/null)"
pass "icinga2 (pid $ICINGA_PID) REST API up on 127.0.0.1:$API_PORT in $(ms_since "$t")ms, $up services"
pids="$ICINGA_PID $(pgrep -P "$ICINGA_PID" | paste -sd' ')"
listen=$(ss -Hltnp | grep -E "pid=($(tr ' ' '|' <<<"${pids% }"))," | awk '{print $4}' | sort -u | paste -sd' ')
if [[ -n $listen && ! $listen =~ (^| )[^1] && $listen != *"0.0.0.0"* && $listen != *"["* ]]; then
    pass "icinga2 listens on 127.0.0.1 only ($listen)"
else
    fail "icinga2 listens on 127.0.0.1 only" "listening: ${listen:-nothing}"
fi

# Force the checks; wait for results that started after the request.
t_req=$(date +%s.%N)
api POST /actions/reschedule-check '{"type": "Service", "filter": "true", "force": true}' >/dev/null \
    || fail "reschedule-check accepted"
fresh=
for i in $(seq 1 150); do
    stale=$(api GET '/objects/services?attrs=last_check_result' \
        | jq -r --argjson t "$t_req" '.results[] | select(.attrs.last_check_result == null or .attrs.last_check_result.execution_start < $t) | .name' || echo '?')
    if [[ -z $stale ]]; then fresh=1; break; fi
    if ((i % 10 == 0)) && [[ $stale != '?' ]]; then
        api POST /actions/reschedule-check '{"type": "Service", "filter": "true", "force": true}' >/dev/null || true
    fi
    sleep 0.2
done
if [[ -n $fresh ]]; then
    pass "fresh check results for all services (in $(ms_since "${t_req/./}")ms)"
else
    fail "fresh check results for all services" "stale: $stale"$'\n'"$(tail -n 30 "$I/log/icinga2.log")"
fi
icinga_states=$(api GET '/objects/services?attrs=last_check_result' | jq -r '.results[] | "\(.name) \(.attrs.last_check_result.exit_status)"' | sort)
expect_eq "Icinga ran check_backup: web 0, shop 2, pg 1 (30h old), disk 2" \
"db1.example.com!backup-shop 2
db1.example.com!backup-web 0
db2.example.com!backup-pg 1
db2.example.com!disk 2" "$icinga_states"

ICINGA=(--icinga-api "https://127.0.0.1:$API_PORT" --icinga-user report --icinga-ca "$I/pki/ca.crt" --no-history)
t=$(date +%s%N)
BACKUP_REPORT_ICINGA_PASSWORD=$API_PASS "$BIN/backup-report" "${ICINGA[@]}" --format json >"$T/icinga.json" 2>"$T/icinga.err"
rc=$?
ICINGA_MS=$(ms_since "$t")
expect_eq "backup-report --icinga-api: exit code 2 (worst CRITICAL)" 2 "$rc"
got=$(jq -r '.[] | "\(.host) \(.set) \(.state) \(.source)"' "$T/icinga.json")
expect_eq "backup-report --icinga-api: exactly the backup services, worst first, in ${ICINGA_MS}ms" \
"db1.example.com backup-shop CRITICAL icinga
db2.example.com backup-pg WARNING icinga
db1.example.com backup-web OK icinga" "$got"
expect_contains "the CRITICAL service's summary is check_backup's first line" \
    "job failed with exit status 3" "$(jq -r '.[0].summary' "$T/icinga.json")"
expect_eq "findings and log lines recovered from the long output" "true true" \
    "$(jq -r '[(.[0].findings | map(select(.check == "marker" and .state == "CRITICAL")) | length == 1), (.[0].log_lines | length == 2)] | join(" ")' "$T/icinga.json")"
expect_eq "age and size from Icinga's perfdata" "$(size_of "$FIX/mariadb/shop.sql.gz") true" \
    "$(jq -r '.[2].facts.size_bytes, (.[2].facts.age_seconds > 7000)' "$T/icinga.json" | paste -sd' ')"
# Password on the command line, HTML with the local sets too.
"$BIN/backup-report" "${ICINGA[@]}" --icinga-password "$API_PASS" --config "$CONFIG" --hostname db1.example.com \
    --format html --output "$T/www/fleet.html" 2>/dev/null
expect_eq "local sets + Icinga services in one page: exit 2" 2 "$?"
expect_eq "the page has 8 + 3 rows" 11 "$(grep -c '<tr class="set ' "$T/www/fleet.html")"
chrome --dump-dom "file://$T/www/fleet.html" >"$T/fleet-dom.html" 2>/dev/null
expect_contains "DOM: the Icinga service row with its state class and host" \
    '<tr class="set state-critical" data-set="backup-shop" data-host="db1.example.com" data-state="CRITICAL">' "$(cat "$T/fleet-dom.html")"
# Failures are UNKNOWN and say why.
out=$("$BIN/backup-report" "${ICINGA[@]}" --icinga-password wrong 2>&1)
rc=$?
expect_eq "wrong password: exit 3" 3 "$rc"
expect_contains "wrong password: says so" "authentication failed (HTTP 401)" "$out"
out=$(BACKUP_REPORT_ICINGA_PASSWORD=$API_PASS "$BIN/backup-report" --icinga-api "https://127.0.0.1:$API_PORT" --icinga-user report \
    --icinga-ca "$I/pki/other-ca.crt" --no-history 2>&1)
rc=$?
expect_eq "certificate from another CA: exit 3" 3 "$rc"
expect_contains "certificate from another CA: a TLS error" "UnknownIssuer" "$out"
out=$(BACKUP_REPORT_ICINGA_PASSWORD=$API_PASS "$BIN/backup-report" --icinga-api "https://127.0.0.1:$API_PORT" --icinga-user report \
    --icinga-insecure --no-history --format json 2>/dev/null)
expect_eq "--icinga-insecure (tests only): the same 3 services" 3 "$(jq length <<<"$out")"
closed=$(free_port)
out=$("$BIN/backup-report" --icinga-api "https://127.0.0.1:$closed" --icinga-user report --icinga-password x \
    --icinga-ca "$I/pki/ca.crt" --no-history --timeout 5 2>&1)
rc=$?
expect_eq "unreachable API: exit 3" 3 "$rc"
expect_contains "unreachable API: says so" "cannot query the Icinga 2 API at https://127.0.0.1:$closed/v1/objects/services" "$out"
out=$(BACKUP_REPORT_ICINGA_PASSWORD=$API_PASS "$BIN/backup-report" "${ICINGA[@]}" --icinga-check-command nothing-uses-this 2>&1)
rc=$?
expect_eq "no service with that check command: exit 3 (a report of nothing is no all-clear)" 3 "$rc"
expect_contains "no service with that check command: the note" "no service uses the check command 'nothing-uses-this'" "$out"
grep -q "Ignoring invalid perfdata" "$I/log/icinga2.log" \
    && fail "Icinga parsed check_backup's perfdata" "$(grep 'Ignoring invalid perfdata' "$I/log/icinga2.log" | head -3)" \
    || pass "Icinga logged no invalid perfdata"

end_part
TIMINGS+=("$(printf '%-44s %6sms' "  backup-report run (8 local + fleet, HTML)" "$REPORT_MS")")
TIMINGS+=("$(printf '%-44s %6sms' "  backup-report --icinga-api run" "$ICINGA_MS")")
FINISHED=1
