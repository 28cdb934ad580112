#!/usr/bin/env bash
# backup-report at fleet size (issue 16, part 5): wall time and peak RSS (GNU time) of
#
#   backup-report --from DIR --format text|json|html --no-history --output FILE
#   backup-report --from DIR --format html --history FILE      (30 days of history seeded)
#
# over a generated fleet (bench/gen_fleet.py: 10 sets per host, about 93 % OK, 3 % WARNING,
# 2 % CRITICAL, 2 % UNKNOWN, real-looking findings, perfdata, tables and log lines) of
# 1,000, 2,500, 5,000 and 10,000 sets. Each command runs once untimed, then --runs times;
# the table shows the median wall time, min, max, the peak RSS (largest over the runs) and
# the output's size. The history is copied fresh before every run (each run appends to it).
#
#   bench/fleet.sh                          # the table of BENCHMARKS.md (~3 min)
#   bench/fleet.sh --sets 1000,10000 --runs 3
#   bench/fleet.sh --icinga [--hosts 1000]  # a real Icinga 2 with HOSTS x 10 services (root, by hand)
#   FLEET_BIN=DIR FLEET_BASE=DIR2 bench/fleet.sh --icinga   # two binaries, same icinga2
#   bench/fleet.sh --browser --sets 3,10000 # the page in headless Chromium (QUERY=words to search)
#
# The Icinga mode starts icinga2 as tests/e2e/report.sh does: its own configuration, data
# and log directories under the data directory, the REST API on 127.0.0.1 (a free port),
# no system service (a policy-rc.d keeps apt from starting one while installing), stopped
# by its PID on exit; nothing in /etc is changed. Services have active checks off; their
# results are fed with the API's process-check-result (one request per service), then
# backup-report --icinga-api is timed like the --from runs.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

SETS=1000,2500,5000,10000
RUNS=5
DATA=${BENCH_DATA:-/tmp/check_backup-fleet}
ICINGA=
BROWSER=
HOSTS=1000
while [[ $# -gt 0 ]]; do
    case $1 in
        --sets) SETS=$2; shift 2 ;;
        --runs) RUNS=$2; shift 2 ;;
        --data) DATA=$2; shift 2 ;;
        --icinga) ICINGA=1; shift ;;
        --browser) BROWSER=1; shift ;;
        --hosts) HOSTS=$2; shift 2 ;;
        -h | --help) sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "bench/fleet.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done

[[ -x /usr/bin/time ]] || { echo "bench/fleet.sh: GNU time is needed: apt-get install time" >&2; exit 2; }
command -v python3 >/dev/null || { echo "bench/fleet.sh: python3 is needed" >&2; exit 2; }

if [[ -n ${FLEET_BIN:-} ]]; then
    BIN=$FLEET_BIN   # a directory holding backup-report (e.g. target/debug), no build
else
    echo "== building the release binaries"
    cargo build --release --locked --quiet --bins
    BIN=$ROOT/target/release
fi
GEN=$ROOT/bench/gen_fleet.py
mkdir -p "$DATA"

# timed OUT_PREFIX CMD...: one GNU time run; prints "seconds kib".
timed() {
    local log=$1
    shift
    /usr/bin/time -v -o "$log.time" "$@" >"$log.out" 2>"$log.err" || {
        local rc=$?
        # backup-report's exit code is the fleet's worst state (2 here): anything but 0-3 is a failure.
        if [[ $rc -gt 3 ]]; then
            echo "bench/fleet.sh: $* failed with exit code $rc:" >&2
            cat "$log.err" >&2
            exit 1
        fi
    }
    local wall rss
    wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {n = split($2, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i]; print s}' "$log.time")
    rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$log.time")
    echo "$wall $rss"
}

# measure NAME SETUP-CMD CMD...: RUNS timed runs (after one untimed); prints a table row.
measure() {
    local name=$1 setup=$2
    shift 2
    local walls=() peak=0 r out res w k
    eval "$setup"
    "$@" >/dev/null 2>&1 || true
    for ((r = 0; r < RUNS; r++)); do
        eval "$setup"
        res=$(timed "$DATA/run" "$@")
        read -r w k <<<"$res"
        walls+=("$w")
        ((k > peak)) && peak=$k
    done
    out=$(stat -c %s "$DATA/out" 2>/dev/null || echo 0)
    printf '%s\n' "${walls[@]}" | sort -n | awk -v name="$name" -v peak="$peak" -v out="$out" '
        {v[NR] = $1} END {printf "| %s | %.3f | %.3f | %.3f | %.1f | %.1f |\n", name, v[int((NR + 1) / 2)], v[1], v[NR], peak / 1024, out / 1048576}'
}

machine() {
    echo "- $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo), $(. /etc/os-release && echo "$PRETTY_NAME"), kernel $(uname -r | cut -d- -f1)"
    echo "- load before: $(uptime | sed 's/.*load average: //')"
}

# fleet_dir N: the generated fleet of N sets (results and 30 days of history), made once.
fleet_dir() {
    local dir=$DATA/fleet-$1
    if [[ ! -f $dir/.done ]]; then
        rm -rf "$dir"
        mkdir -p "$dir/results"
        python3 "$GEN" results "$dir/results" "$1" --history "$dir/history.jsonl" --days 30 >&2
        touch "$dir/.done"
    fi
    echo "$dir"
}

from_bench() {
    echo
    echo "### backup-report --from DIR ($(date -u '+%Y-%m-%d %H:%M UTC'), $RUNS runs each)"
    echo
    machine
    echo
    echo "| sets × format | median s | min s | max s | peak RSS MiB | output MiB |"
    echo "|---|---:|---:|---:|---:|---:|"
    local n dir
    for n in ${SETS//,/ }; do
        dir=$(fleet_dir "$n")
        local fmt
        for fmt in text json html; do
            measure "$n × $fmt" ":" "$BIN/backup-report" --from "$dir/results" --format "$fmt" --no-history --output "$DATA/out"
        done
        measure "$n × html, 30 days of history ($(wc -l <"$dir/history.jsonl") lines)" \
            "cp '$dir/history.jsonl' '$DATA/history.jsonl'" \
            "$BIN/backup-report" --from "$dir/results" --format html --history "$DATA/history.jsonl" --output "$DATA/out"
    done
    echo
    echo "- load after: $(uptime | sed 's/.*load average: //')"
}

# --browser: the page of N sets in headless Chromium at 1280, 1024 and 360 px: does the page
# or a table scroll sideways, is the search box shown (the script ran), does typing filter
# the rows and open the OK sets, any console message (a CSP violation would show); and a
# screenshot of each page (1280x1000) in $DATA.
browser_check() {
    command -v chromium >/dev/null || { echo "bench/fleet.sh --browser: apt-get install chromium" >&2; exit 2; }
    local n dir page w q profile
    echo
    echo "### the page in headless Chromium ($(chromium --version 2>/dev/null), $(date -u '+%Y-%m-%d %H:%M UTC'))"
    echo
    echo "| sets | width px | page scrollWidth/clientWidth | tables scrollWidth/clientWidth | search box shown | '$2' matches | OK sets opened | console |"
    echo "|---:|---:|---|---|---|---|---|---|"
    for n in ${1//,/ }; do
        dir=$(fleet_dir "$n")
        mkdir -p "$DATA/www"
        page=$DATA/www/report-$n.html
        "$BIN/backup-report" --from "$dir/results" --format html --no-history --output "$page" || [[ $? -le 3 ]]
        for w in 1280 1024 360; do
            q=$2
            cat >"$DATA/www/harness.html" <<EOF
<!DOCTYPE html><html><body style="margin:0"><iframe id="f" src="report-$n.html" style="width:${w}px;height:1000px;border:0"></iframe>
<script>
var f = document.getElementById('f');
f.addEventListener('load', function () {
  var d = f.contentDocument, el = d.documentElement, out = [], t = [];
  out.push(el.scrollWidth + '/' + el.clientWidth);
  [].forEach.call(d.querySelectorAll('.wide'), function (x) { t.push(x.scrollWidth + '/' + x.clientWidth); });
  out.push(t.join(' ') || '-');
  out.push(d.getElementById('tools').hidden ? 'no' : 'yes');
  var q = d.getElementById('search');
  q.value = '$q';
  q.dispatchEvent(new Event('input'));
  setTimeout(function () {
    var rows = d.querySelectorAll('tr.set'), shown = 0;
    [].forEach.call(rows, function (r) { if (!r.hidden) shown++; });
    var ok = d.getElementById('ok-sets');
    out.push(shown + ' of ' + rows.length + ' rows (' + d.getElementById('search-count').textContent + ')');
    out.push(ok ? String(ok.open) : 'no OK section');
    document.body.setAttribute('data-out', out.join('|'));
  }, 1000);
});
</script></body></html>
EOF
            profile=$(mktemp -d "$DATA/chrome.XXXXXX")
            local res console
            res=$(timeout 300 chromium --headless --no-sandbox --disable-gpu --no-first-run --disable-background-networking \
                --disable-component-update --disable-sync --disable-default-apps --mute-audio --enable-logging=stderr --v=0 \
                --user-data-dir="$profile" --allow-file-access-from-files --window-size=$((w + 20)),1000 \
                --virtual-time-budget=60000 --dump-dom "file://$DATA/www/harness.html" 2>"$DATA/chrome.err" \
                | grep -o 'data-out="[^"]*"' | sed -E 's/data-out="(.*)"/\1/')
            console=$(grep -c ':CONSOLE' "$DATA/chrome.err" || true)
            rm -rf "$profile"
            IFS='|' read -r pw tw shown matched opened <<<"${res:-?|?|?|?|?}"
            echo "| $n | $w | $pw | $tw | $shown | $matched | $opened | $console messages |"
        done
        profile=$(mktemp -d "$DATA/chrome.XXXXXX")
        timeout 300 chromium --headless --no-sandbox --disable-gpu --no-first-run --user-data-dir="$profile" \
            --screenshot="$DATA/www/report-$n.png" --window-size=1280,1000 --hide-scrollbars "file://$page" >/dev/null 2>&1
        rm -rf "$profile"
    done
    echo
    echo "Screenshots: $DATA/www/report-*.png"
}

if [[ -n $BROWSER ]]; then
    browser_check "$SETS" "${QUERY:-db00042}"
    exit 0
fi
if [[ -z $ICINGA ]]; then
    from_bench
    exit 0
fi

# ---------------------------------------------------------------------------------------
# --icinga: the same fleet held by a real Icinga 2.
[[ $(id -u) -eq 0 ]] || { echo "bench/fleet.sh --icinga: run as root (icinga2 drops to nagios)" >&2; exit 2; }
source "$ROOT/tests/e2e/lib.sh"   # stop_pid, ms_since
T0=$SECONDS
I=$DATA/icinga
ICINGA_PID=
POLICY_RC=/usr/sbin/policy-rc.d
CREATED_POLICY_RC=
cleanup() {
    set +e
    stop_pid icinga2 "$ICINGA_PID" 60
    [[ -n $CREATED_POLICY_RC ]] && rm -f "$POLICY_RC"
    [[ -z ${KEEP_DATA:-} ]] && rm -rf "$I"
    echo "- whole --icinga run: $((SECONDS - T0)) s"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

missing=()
for p in icinga2 openssl curl jq perl; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [[ ${#missing[@]} -gt 0 ]]; then
    echo "== installing ${missing[*]} (the icinga2 package's own service is kept from starting)"
    if [[ ! -e $POLICY_RC ]]; then
        printf '#!/bin/sh\nexit 101\n' >"$POLICY_RC"
        chmod 0755 "$POLICY_RC"
        CREATED_POLICY_RC=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

N=$((HOSTS * 10))
rm -rf "$I"
mkdir -p "$I"/{etc,data/certs,log,cache,spool,run,pki}
NODE=icinga-bench.localdomain
API_PORT=$(free_port)
API_PASS=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
echo "== PKI, configuration of $HOSTS hosts x 10 services, their results ($N sets)"
icinga_openssl_pki "$I" "$NODE" "Icinga CA bench" || { cat "$I/pki.log" >&2; exit 1; }
python3 "$GEN" icinga "$N" >"$I/results.jsonl"
icinga_defs "$I"
cat >"$I/etc/icinga2.conf" <<EOF
/* bench/fleet.sh: one Icinga 2 node, everything under $I */
const NodeName = "$NODE"
const ZoneName = NodeName
const TicketSalt = ""
object Endpoint NodeName {}
object Zone ZoneName { endpoints = [ NodeName ] }
include <itl>
object FileLogger "main-log" {
  severity = "warning"
  path = LogDir + "/icinga2.log"
}
object CheckerComponent "checker" {}
object ApiListener "api" {
  bind_host = "127.0.0.1"
  bind_port = $API_PORT
}
object ApiUser "report" {
  password = "$API_PASS"
  permissions = [ "objects/query/Service", "objects/query/Host", "actions/process-check-result" ]
}
/* never run here: the results come passively */
object CheckCommand "backup" {
  command = [ "/usr/lib/nagios/plugins/check_backup" ]
}
template Host "fleet-host" {
  check_command = "dummy"
  enable_active_checks = false
}
template Service "fleet-backup" {
  check_command = "backup"
  enable_active_checks = false
  max_check_attempts = 1
}
EOF
python3 -c '
import json, sys
seen = set()
for line in open(sys.argv[1]):
    r = json.loads(line)
    h = json.dumps(r["host"])
    if r["host"] not in seen:
        seen.add(r["host"])
        print("object Host %s { import \"fleet-host\"; address = \"127.0.0.1\" }" % h)
    print("object Service %s { import \"fleet-backup\"; host_name = %s }" % (json.dumps(r["service"]), h))
' "$I/results.jsonl" >>"$I/etc/icinga2.conf"
chown -R nagios:nagios "$I"
chmod 0700 "$I/data/certs"

t=$(date +%s%N)
(cd / && icinga2 daemon -C -c "$I/etc/icinga2.conf" "${ICINGA_DEFS[@]}" >"$I/validate.log" 2>&1) \
    || { tail -n 20 "$I/validate.log" >&2; exit 1; }
VALIDATE_MS=$(ms_since "$t")
t=$(date +%s%N)
(cd / && exec icinga2 daemon -c "$I/etc/icinga2.conf" "${ICINGA_DEFS[@]}" --close-stdio -e "$I/log/error.log") \
    >"$I/log/stdout.log" 2>&1 &
ICINGA_PID=$!
api() {   # METHOD PATH [JSON]
    curl -sS --fail-with-body --max-time 120 --cacert "$I/pki/ca.crt" -u "report:$API_PASS" \
        -H 'Accept: application/json' -X "$1" "https://127.0.0.1:$API_PORT/v1$2" ${3:+-d "$3"}
}
up=
for _ in $(seq 1 1200); do
    kill -0 "$ICINGA_PID" 2>/dev/null || break
    if n=$(api GET '/objects/services?attrs=__name' 2>/dev/null | jq '.results | length'); then
        if [[ $n -ge $N ]]; then up=$n; break; fi
    fi
    sleep 0.5
done
[[ -n $up ]] || { echo "icinga2 did not come up with $N services" >&2; tail -n 30 "$I/log/icinga2.log" "$I/log/error.log" >&2; exit 1; }
START_MS=$(ms_since "$t")

# Feed: one process-check-result per service (addressed by name, no filter to evaluate),
# over 4 keep-alive connections.
t=$(date +%s%N)
python3 -c '
import base64, http.client, json, ssl, sys, threading, urllib.parse
path, port, password, ca = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
items = [json.loads(l) for l in open(path)]
auth = "Basic " + base64.b64encode(("report:" + password).encode()).decode()
ctx = ssl.create_default_context(cafile=ca)
errors = []
def feed(part):
    c = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=120)
    for r in part:
        body = json.dumps({"type": "Service", "exit_status": r["exit_status"], "plugin_output": r["plugin_output"],
                           "performance_data": r["performance_data"], "check_source": "bench"})
        q = urllib.parse.quote(r["host"] + "!" + r["service"], safe="")
        c.request("POST", "/v1/actions/process-check-result?service=" + q, body,
                  {"Authorization": auth, "Accept": "application/json", "Content-Type": "application/json"})
        resp = c.getresponse()
        data = resp.read()
        if resp.status != 200:
            errors.append("%s!%s: HTTP %d %r" % (r["host"], r["service"], resp.status, data[:200]))
threads = [threading.Thread(target=feed, args=(items[k::4],)) for k in range(4)]
for th in threads: th.start()
for th in threads: th.join()
if errors:
    sys.exit("%d results refused, e.g. %s" % (len(errors), errors[0]))
' "$I/results.jsonl" "$API_PORT" "$API_PASS" "$I/pki/ca.crt"
FEED_MS=$(ms_since "$t")
with_result=$(api GET '/objects/services?attrs=last_check_result' | jq '[.results[] | select(.attrs.last_check_result != null)] | length')
[[ $with_result -eq $N ]] || { echo "only $with_result of $N services have a result" >&2; exit 1; }
body=$(curl -sS --cacert "$I/pki/ca.crt" -u "report:$API_PASS" -G -H 'Accept: application/json' \
    --data-urlencode 'filter=service.check_command=="backup"' --data-urlencode attrs=last_check_result \
    --data-urlencode attrs=host_name --data-urlencode attrs=name \
    "https://127.0.0.1:$API_PORT/v1/objects/services" | wc -c)
icinga_rss=$(ps -o rss= --ppid "$ICINGA_PID" -p "$ICINGA_PID" | awk '{s += $1} END {printf "%.0f", s / 1024}')
secs() { awk -v ms="$1" 'BEGIN {printf "%.1f", ms / 1000}'; }

echo
echo "### backup-report --icinga-api, $N services ($(date -u '+%Y-%m-%d %H:%M UTC'), $RUNS runs each)"
echo
machine
echo "- $(icinga2 --version 2>/dev/null | head -1): configuration checked in $(secs "$VALIDATE_MS") s, started with $N services in $(secs "$START_MS") s, $N passive results fed in $(secs "$FEED_MS") s; icinga2 RSS $icinga_rss MiB; the API's answer to backup-report $(awk -v b="$body" 'BEGIN {printf "%.1f", b / 1048576}') MiB"
echo
echo "| sets × format | median s | min s | max s | peak RSS MiB | output MiB |"
echo "|---|---:|---:|---:|---:|---:|"
export BACKUP_REPORT_ICINGA_PASSWORD=$API_PASS
# FLEET_BASE=DIR: also time DIR/backup-report (e.g. the main branch's) against the same
# icinga2, row by row, and compare the two JSON outputs (they hold no "now").
for fmt in text json html; do
    for bin in ${FLEET_BASE:+"$FLEET_BASE"} "$BIN"; do
        label="$N × $fmt (Icinga)"
        [[ $bin == "${FLEET_BASE:-}" ]] && label="$N × $fmt (Icinga, $FLEET_BASE)"
        measure "$label" ":" "$bin/backup-report" --icinga-api "https://127.0.0.1:$API_PORT" --icinga-user report \
            --icinga-ca "$I/pki/ca.crt" --timeout 300 --format "$fmt" --no-history --output "$DATA/out"
        [[ $fmt == json ]] && cp "$DATA/out" "$DATA/out.$([[ $bin == "${FLEET_BASE:-}" ]] && echo base || echo new)"
    done
done
if [[ -n ${FLEET_BASE:-} ]]; then
    echo
    if cmp -s "$DATA/out.base" "$DATA/out.new"; then
        echo "- the JSON outputs of both binaries are identical ($(stat -c %s "$DATA/out.new") bytes)"
    else
        echo "- the JSON outputs of both binaries DIFFER: $(cmp "$DATA/out.base" "$DATA/out.new" 2>&1)"
    fi
fi
echo
echo "- load after: $(uptime | sed 's/.*load average: //')"
