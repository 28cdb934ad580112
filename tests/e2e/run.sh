#!/usr/bin/env bash
# End-to-end tests of check_backup AS OPERATORS RUN IT: the Debian package built by
# packaging/build.sh, installed with dpkg, queried through Debian's real NRPE and Icinga 2,
# and pointed at dumps written (and killed) by Debian's real MariaDB and PostgreSQL.
#
#   Run as root on Debian 12:   bash tests/e2e/run.sh
#
# It installs the Debian packages it needs (apt-get; services are kept from starting), and
# the packagers (cargo install --locked, via packaging/build.sh) when missing. Every daemon
# it starts (nrpe, icinga2 x3, a graphite sink, mariadbd, postgres) runs from a temporary
# directory, listens on 127.0.0.1 only, and is stopped by its PID on every exit. Parts:
#   A  build the .deb and .rpm, install the .deb, check files, man page, --version
#   B  NRPE: nrpe with the SHIPPED command file, queried with check_nrpe
#   C  Icinga 2: the SHIPPED CheckCommand and apply rule, checks forced and read over the
#      REST API, perfdata parsed by Icinga itself (console + Graphite writer)
#   C2 Icinga 2 master + agent: the shipped CheckCommand synced through global-templates,
#      the check run on the agent (command_endpoint), its result read on the master
#   D  real databases: dumps written, killed and terminated for real, checked with the
#      installed plugin as user nagios
# It ends with the line "N passed, M failed" and exits non-zero if anything failed.
# KEEP_TMP=1 keeps the temporary directory for inspection.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
umask 022
export LC_ALL=C.UTF-8
SECONDS=0

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
FIX=$ROOT/tests/fixtures/real
WRAPPER=$ROOT/tests/fixtures/backup-wrapper.sh
PLUGIN=/usr/lib/nagios/plugins/check_backup
EXAMPLES=/usr/share/doc/check-backup/examples
PG_MAJOR=15
PGBIN=/usr/lib/postgresql/$PG_MAJOR/bin
VERSION=$(awk -F'"' '/^version = "/ {print $2; exit}' "$ROOT/Cargo.toml")
LOG_ROWS=20000   # rows of shop.log: far more than the socket and pipe buffers hold

# The original stdout/stderr, for the cleanup: a signal may arrive inside a redirection.
exec 8>&1 9>&2
[[ $(id -u) -eq 0 ]] || { echo "tests/e2e/run.sh: must run as root (apt-get, dpkg -i, daemons as nagios/mysql/postgres)" >&2; exit 2; }

# ---------------------------------------------------------------------------------------
# Results, parts, cleanup.
# ---------------------------------------------------------------------------------------
PASSED=0
FAILED=0
FAILURES=()
TIMINGS=()
PART=
PART_T0=0
FINISHED=

pass() { PASSED=$((PASSED + 1)); ABORT_AT=; printf '  ok    %s\n' "$1"; }
fail() {
    FAILED=$((FAILED + 1))
    FAILURES+=("[$PART] $1")
    ABORT_AT=
    printf '  FAIL  %s\n' "$1"
    if [[ -n ${2:-} ]]; then printf '%s\n' "$2" | head -n 40 | sed 's/^/        | /' || true; fi
    return 0
}
expect_eq() {   # DESC EXPECTED ACTUAL
    if [[ $2 == "$3" ]]; then pass "$1"; else fail "$1" "expected: $2"$'\n'"actual:   $3"; fi
}
expect_re() {   # DESC ERE ACTUAL
    if [[ $3 =~ $2 ]]; then pass "$1"; else fail "$1" "expected to match: $2"$'\n'"actual: $3"; fi
}
expect_contains() {   # DESC NEEDLE HAYSTACK
    if [[ $3 == *"$2"* ]]; then pass "$1"; else fail "$1" "expected to contain: $2"$'\n'"actual: $3"; fi
}
expect_not_contains() {   # DESC NEEDLE HAYSTACK
    if [[ $3 != *"$2"* ]]; then pass "$1"; else fail "$1" "must not contain: $2"$'\n'"actual: $3"; fi
}
expect_ok() {   # DESC CMD... (passes when CMD exits 0)
    local desc=$1 out
    shift
    if out=$("$@" 2>&1); then pass "$desc"; else fail "$desc" "$out"; fi
}
part() {
    end_part
    PART=$1
    PART_T0=$(date +%s%N)
    printf '\n=== %s\n' "$1"
}
end_part() {
    if [[ -n $PART ]]; then
        TIMINGS+=("$(printf '%-44s %6.1fs' "$PART" "$(($(ms_since "$PART_T0")))e-3")")
    fi
    PART=
}
die() {   # a step the rest depends on failed: count it, stop (cleanup prints the summary)
    fail "$1" "${2:-}"
    ABORT_AT="[$PART] $1"
    trap - ERR
    exit 1
}

POLICY_RC=/usr/sbin/policy-rc.d
CREATED_POLICY_RC=
T=
NRPE_PID=
ICINGA_PID=
MASTER_PID=
AGENT_PID=
SINK_PID=
MARIADB_PID=
PG_DATA=
WRAPPER_PGID=
READER_PID=

cleanup() {
    local rc=$?
    set +e
    exec 1>&8 2>&9
    trap - EXIT INT TERM HUP ERR
    local where=$PART
    end_part
    if [[ -z $FINISHED ]]; then
        FAILED=$((FAILED + 1))
        FAILURES+=("[$where] aborted (exit $rc): ${ABORT_AT:-?}")
        echo "tests/e2e/run.sh: aborted (exit $rc) in [$where]: ${ABORT_AT:-?}" >&2
    fi
    echo
    echo "=== cleanup"
    if [[ -n $WRAPPER_PGID ]] && kill -0 "$WRAPPER_PGID" 2>/dev/null; then
        kill -TERM -- "-$WRAPPER_PGID" 2>/dev/null
    fi
    stop_pid "FIFO reader" "$READER_PID" 5
    stop_pid icinga2 "$ICINGA_PID" 30
    stop_pid "icinga2 master" "$MASTER_PID" 30
    stop_pid "icinga2 agent" "$AGENT_PID" 30
    stop_pid nrpe "$NRPE_PID" 10
    stop_pid "graphite sink (socat)" "$SINK_PID" 5
    stop_pid mariadbd "$MARIADB_PID" 30
    if [[ -n $PG_DATA && -f $PG_DATA/postmaster.pid ]]; then
        local pg_pid
        pg_pid=$(head -n 1 "$PG_DATA/postmaster.pid")
        echo "  pg_ctl stop (postgres pid $pg_pid)"
        (cd / && runuser -u postgres -- "$PGBIN/pg_ctl" -D "$PG_DATA" -m fast -w -t 30 stop >/dev/null 2>&1)
        stop_pid postgres "$pg_pid" 10
    fi
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
    if [[ $FAILED -gt 0 ]]; then exit 1; fi
    exit 0
}
trap cleanup EXIT
trap 'ABORT_AT="line $LINENO: $BASH_COMMAND"' ERR
trap 'ABORT_AT="SIGHUP"; exit 129' HUP
trap 'ABORT_AT="SIGINT"; exit 130' INT
trap 'ABORT_AT="SIGTERM"; exit 143' TERM

# PIDs of a process and its descendants
pid_tree() {
    local p=$1 c
    echo "$p"
    for c in $(ps -o pid= --ppid "$p" 2>/dev/null); do pid_tree "$c"; done
}
# "addr:port" of every TCP/UDP socket a process tree listens on
listen_addrs() {
    local pids re
    pids=$(pid_tree "$1" | paste -sd'|')
    re="pid=($pids),"
    ss -Hltunp | grep -E "$re" | awk '{print $5}' | sort -u
}
expect_loopback_only() {   # NAME PID
    local addrs bad
    addrs=$(listen_addrs "$2")
    bad=$(grep -v -E '^127\.0\.0\.1:' <<<"$addrs" || true)
    if [[ -n $addrs && -z $bad ]]; then
        pass "$1 listens on 127.0.0.1 only ($(paste -sd' ' <<<"$addrs"))"
    else
        fail "$1 listens on 127.0.0.1 only" "listening: ${addrs:-nothing}"
    fi
}
first_line() { head -n 1 <<<"$1"; }
AGE='([0-9]+[dhm] )*[0-9]+[dhms]'   # how the plugin prints an age: 52s, 1m 3s, 2m, 1d 3h
NL=$'\n'

# ---------------------------------------------------------------------------------------
part "0. Debian packages"
# ---------------------------------------------------------------------------------------
NEEDED=(nagios-nrpe-server nagios-nrpe-plugin icinga2 mariadb-server mariadb-client
    "postgresql-$PG_MAJOR" man-db jq curl socat rpm gzip zstd xz-utils bzip2
    util-linux procps iproute2 binutils perl)
missing=()
for p in "${NEEDED[@]}"; do
    [[ $(dpkg-query -W -f='${Status}' "$p" 2>/dev/null) == "install ok installed" ]] || missing+=("$p")
done
if [[ ${#missing[@]} -gt 0 ]]; then
    echo "  installing: ${missing[*]}"
    # Keep the packages' own services (nrpe, icinga2, mariadb, postgresql) from starting.
    if [[ ! -e $POLICY_RC ]]; then
        printf '#!/bin/sh\nexit 101\n' >"$POLICY_RC"
        chmod 0755 "$POLICY_RC"
        CREATED_POLICY_RC=1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    if [[ -n $CREATED_POLICY_RC ]]; then rm -f "$POLICY_RC"; CREATED_POLICY_RC=; fi
fi
for u in nagios mysql postgres; do id "$u" >/dev/null 2>&1 || die "user $u exists"; done
pass "Debian packages present (${#missing[@]} installed now)"

T=$(mktemp -d /tmp/check_backup-e2e.XXXXXX)
chmod 0755 "$T"
echo "  temporary directory: $T"

# ---------------------------------------------------------------------------------------
part "A1. build the packages (packaging/build.sh)"
# ---------------------------------------------------------------------------------------
t=$(date +%s%N)
if ! "$ROOT/packaging/build.sh" >"$T/build.log" 2>&1; then
    die "packaging/build.sh" "$(tail -n 40 "$T/build.log")"
fi
grep -E '^==> .* installed in [0-9]+s' "$T/build.log" | sed 's/^/  /' || true
pass "packaging/build.sh built both packages in $(($(ms_since "$t") / 1000))s"
ARCH=$(dpkg --print-architecture)
DEB=$ROOT/target/packages/check-backup_${VERSION}-1_${ARCH}.deb
RPM=$(ls "$ROOT"/target/packages/check-backup-"$VERSION"-1.*.rpm 2>/dev/null | head -n 1 || true)
[[ -f $DEB ]] || die "the .deb exists" "no $DEB; $(ls "$ROOT/target/packages")"
[[ -n $RPM && -f $RPM ]] || die "the .rpm exists" "$(ls "$ROOT/target/packages")"
pass "built $(basename "$DEB") and $(basename "$RPM")"

# ---------------------------------------------------------------------------------------
part "A2. install the .deb, files, man page, --version"
# ---------------------------------------------------------------------------------------
expect_eq "deb Package" "check-backup" "$(dpkg-deb -f "$DEB" Package)"
expect_eq "deb Section" "net" "$(dpkg-deb -f "$DEB" Section)"
expect_eq "deb Enhances" "monitoring-plugins" "$(dpkg-deb -f "$DEB" Enhances)"
expect_re "deb Depends (libc6, from \$auto)" '^libc6 ' "$(dpkg-deb -f "$DEB" Depends)"

if dpkg-query -W check-backup >/dev/null 2>&1; then
    dpkg --purge check-backup >/dev/null   # from a clean state: conffile included
fi
out=$(dpkg -i "$DEB" 2>&1) && pass "dpkg -i $(basename "$DEB")" || die "dpkg -i $(basename "$DEB")" "$out"
expect_eq "dpkg status" "install ok installed $VERSION-1" \
    "$(dpkg-query -W -f='${Status} ${Version}' check-backup)"

declare -A MODES=(
    [$PLUGIN]=755
    [/usr/share/man/man1/check_backup.1.gz]=644
    [/usr/share/bash-completion/completions/check_backup]=644
    [/usr/share/zsh/vendor-completions/_check_backup]=644
    [/usr/share/fish/vendor_completions.d/check_backup.fish]=644
    [/usr/share/man/man1/backup-report.1.gz]=644
    [/usr/share/bash-completion/completions/backup-report]=644
    [/usr/share/zsh/vendor-completions/_backup-report]=644
    [/usr/share/fish/vendor_completions.d/backup-report.fish]=644
    [/usr/bin/backup-drill]=755
    [/usr/share/man/man1/backup-drill.1.gz]=644
    [/usr/share/bash-completion/completions/backup-drill]=644
    [/usr/share/zsh/vendor-completions/_backup-drill]=644
    [/usr/share/fish/vendor_completions.d/backup-drill.fish]=644
    [$EXAMPLES/backup-drill.cron]=644
    [$EXAMPLES/backup-drill.service]=644
    [$EXAMPLES/backup-drill.timer]=644
    [$EXAMPLES/backups.toml]=644
    [$EXAMPLES/check_backup-output.schema.json]=644
    [/etc/nagios/nrpe.d/check_backup.cfg]=644
    [$EXAMPLES/icinga2/command-check-backup.conf]=644
    [$EXAMPLES/icinga2/services.conf]=644
    [$EXAMPLES/icinga2/hosts.conf]=644
    [$EXAMPLES/icinga2/agent.conf]=644
    [$EXAMPLES/nrpe/check_backup.cfg]=644
    [/usr/share/doc/check-backup/README.md]=644
    [/usr/share/doc/check-backup/LICENSE]=644
    [/usr/share/doc/check-backup/copyright]=644
)
for f in $(printf '%s\n' "${!MODES[@]}" | sort); do
    if [[ -f $f ]] && [[ $(dpkg -S "$f" 2>/dev/null) == "check-backup: $f" ]]; then
        expect_eq "installed $f (mode, owner)" "${MODES[$f]} root:root" "$(stat -c '%a %U:%G' "$f")"
    else
        fail "installed $f" "missing or not from check-backup: $(dpkg -S "$f" 2>&1)"
    fi
done
# The content-verdict cache: nagios (the checks) reads and writes, root (the backup job's
# --verify-only) writes, nobody else looks in.
expect_eq "postinst created /var/cache/check_backup (mode, owner)" "750 nagios:nagios" \
    "$(stat -c '%a %U:%G' /var/cache/check_backup 2>&1)"
executables=$(dpkg -L check-backup | while read -r f; do [[ -f $f && -x $f ]] && echo "$f"; done)
expect_eq "the package's executables are the plugin, backup-drill and backup-report (no gen-docs)" "$(printf '%s\n' /usr/bin/backup-drill /usr/bin/backup-report "$PLUGIN")" "$(sort <<<"$executables")"
expect_eq "NRPE example is a conffile" "/etc/nagios/nrpe.d/check_backup.cfg" \
    "$(dpkg-query -W -f='${Conffiles}\n' check-backup | awk 'NF {print $1}')"
expect_contains "copyright names both licenses" "Apache License" "$(cat /usr/share/doc/check-backup/copyright)"
expect_contains "LICENSE has the MIT text" "Permission is hereby granted, free of charge" "$(cat /usr/share/doc/check-backup/LICENSE)"

expect_eq "man -w check_backup" "/usr/share/man/man1/check_backup.1.gz" "$(man -w check_backup 2>&1)"
man_text=$(MANWIDTH=100 man -P cat check_backup 2>"$T/man.err" | sed 's/.\x08//g' || true)
expect_re "man check_backup renders NAME" 'NAME[[:space:]]+check_backup +- +Monitoring +plugin' "$man_text"
for s in SYNOPSIS OPTIONS "BACKUP LOG" "EXIT STATUS" THRESHOLDS EXAMPLES FILES "SEE ALSO"; do
    expect_re "man page has section $s" "(^|$NL)$s($NL|\$)" "$man_text"
done
expect_contains "man page documents --log-run-start" "--log-run-start <RE>" "$man_text"
expect_eq "man page renders without warnings" "" "$(MANWIDTH=100 man --warnings -P cat check_backup 2>&1 >/dev/null)"
expect_eq "man -w backup-report" "/usr/share/man/man1/backup-report.1.gz" "$(man -w backup-report 2>&1)"
report_man=$(MANWIDTH=100 man -P cat backup-report 2>/dev/null | sed 's/.\x08//g' || true)
for s in SYNOPSIS OPTIONS "EXIT STATUS" EXAMPLES FILES "SEE ALSO"; do
    expect_re "backup-report man page has section $s" "(^|$NL)$s($NL|\$)" "$report_man"
done
expect_eq "backup-report man page renders without warnings" "" "$(MANWIDTH=100 man --warnings -P cat backup-report 2>&1 >/dev/null)"

set +e
version_out=$(cd / && "$PLUGIN" --version 2>&1)
version_rc=$?
help_out=$(cd / && "$PLUGIN" --help 2>&1)
help_rc=$?
set -e
expect_eq "$PLUGIN --version: output" "check_backup $VERSION" "$version_out"
expect_eq "$PLUGIN --version: exit 3 (UNKNOWN, as documented)" 3 "$version_rc"
expect_eq "$PLUGIN --help: exit 3" 3 "$help_rc"

comp=$(bash -c 'source /usr/share/bash-completion/completions/check_backup
    COMP_WORDS=(check_backup --log-r); COMP_CWORD=1
    _check_backup check_backup --log-r check_backup; printf "%s\n" "${COMPREPLY[@]}"' 2>&1)
expect_eq "bash completion completes --log-r" "--log-run-start" "$comp"
expect_ok "zsh completion defines _check_backup" grep -q '^#compdef check_backup' /usr/share/zsh/vendor-completions/_check_backup
expect_ok "fish completion completes check_backup" grep -q '^complete -c check_backup ' /usr/share/fish/vendor_completions.d/check_backup.fish
comp=$(bash -c 'source /usr/share/bash-completion/completions/backup-report
    COMP_WORDS=(backup-report --icinga-c); COMP_CWORD=1
    _backup__report backup-report --icinga-c backup-report; printf "%s\n" "${COMPREPLY[@]}"' 2>&1)
expect_eq "backup-report bash completion completes --icinga-c" "$(printf '%s\n' --icinga-ca --icinga-check-command)" "$comp"
expect_ok "zsh completion defines _backup-report" grep -q '^#compdef backup-report' /usr/share/zsh/vendor-completions/_backup-report
expect_ok "fish completion completes backup-report" grep -q '^complete -c backup-report ' /usr/share/fish/vendor_completions.d/backup-report.fish
expect_ok "the example backups.toml is valid: check_backup --set shop parses it" \
    bash -c '"$0" --config "$1" --set shop >/dev/null; [[ $? != 3 ]]' "$PLUGIN" "$EXAMPLES/backups.toml"

# The RPM: built by the same command, checked with rpm(8) (Debian's package 'rpm').
expect_eq "rpm name/version" "check-backup $VERSION" "$(rpm -qp --qf '%{NAME} %{VERSION}' "$RPM" 2>/dev/null)"
rpm_list=$(rpm -qlvp "$RPM" 2>/dev/null)
expect_re "rpm: plugin at /usr/lib64/nagios/plugins/check_backup, mode 755" \
    '(^|'$'\n'')-rwxr-xr-x +1 root +root +[0-9]+ [^'$'\n'']* /usr/lib64/nagios/plugins/check_backup('$'\n''|$)' "$rpm_list"
for f in /usr/share/man/man1/check_backup.1.gz /usr/share/bash-completion/completions/check_backup \
    /usr/share/zsh/site-functions/_check_backup /usr/share/fish/vendor_completions.d/check_backup.fish \
    "$EXAMPLES/icinga2/command-check-backup.conf" "$EXAMPLES/icinga2/services.conf" \
    "$EXAMPLES/nrpe/check_backup.cfg" /usr/share/licenses/check-backup/LICENSE \
    /usr/share/man/man1/backup-report.1.gz /usr/share/bash-completion/completions/backup-report \
    /usr/share/zsh/site-functions/_backup-report /usr/share/fish/vendor_completions.d/backup-report.fish \
    /usr/bin/backup-drill /usr/share/man/man1/backup-drill.1.gz /usr/share/bash-completion/completions/backup-drill \
    /usr/share/zsh/site-functions/_backup-drill /usr/share/fish/vendor_completions.d/backup-drill.fish \
    "$EXAMPLES/backup-drill.cron" "$EXAMPLES/backup-drill.service" "$EXAMPLES/backup-drill.timer" \
    "$EXAMPLES/backups.toml" "$EXAMPLES/check_backup-output.schema.json"; do
    expect_contains "rpm contains $f" " $f" "$rpm_list"
done
expect_eq "rpm: NRPE example is a config file" "/etc/nrpe.d/check_backup.cfg" "$(rpm -qp --configfiles "$RPM" 2>/dev/null)"
# rpm(8) installs it into a private root (no RPM system here: dependencies not checked).
R=$T/rpmroot
mkdir -p "$R"
if out=$(rpm --root "$R" --initdb 2>&1 && rpm -i --root "$R" --nodeps --noscripts "$RPM" 2>&1); then
    pass "rpm -i into a private root"
else
    fail "rpm -i into a private root" "$out"
fi
expect_eq "rpm -V: installed files match the package" "" "$(rpm --root "$R" -V --nodeps check-backup 2>&1)"
rpm_nrpe=$(grep '^command\[' "$R/etc/nrpe.d/check_backup.cfg" || true)
expect_eq "rpm: every NRPE command uses /usr/lib64/nagios/plugins" \
    "$(grep -c '^command\[' /etc/nagios/nrpe.d/check_backup.cfg)" \
    "$(grep -c '^command\[[a-z_]*\]=/usr/lib64/nagios/plugins/check_backup ' <<<"$rpm_nrpe")"
set +e
rpm_version=$("$R/usr/lib64/nagios/plugins/check_backup" --version 2>&1)
set -e
expect_eq "rpm: its plugin runs" "check_backup $VERSION" "$rpm_version"

# The shipped configuration covers the CLI: every option of --help is an argument of the
# CheckCommand (but --output: Icinga 2 reads the text format), and nothing else is.
CMD_CONF=$EXAMPLES/icinga2/command-check-backup.conf
cli_opts=$(grep -oE -- '--[a-z][a-z-]+' <<<"$help_out" | grep -vxE -- '--(help|version|output)' | sort -u)
conf_opts=$(grep -oE '^[[:space:]]*"--[a-z-]+" = \{' "$CMD_CONF" | grep -oE -- '--[a-z-]+' | sort -u)
expect_eq "CheckCommand \"backup\" has exactly the CLI's options (but --output)" "$cli_opts" "$conf_opts"
bad_vars=
for o in $cli_opts; do
    v=backup_$(tr - _ <<<"${o#--}")
    grep -qE "(value|set_if) = \"\\\$$v\\\$\"" "$CMD_CONF" || bad_vars+="$o→\$$v\$ "
done
expect_eq "every argument's value is \$backup_<option>\$" "" "$bad_vars"
expect_ok "every argument has a description" \
    test "$(grep -c '^[[:space:]]*"--' "$CMD_CONF")" -eq "$(grep -c '^[[:space:]]*description = "' "$CMD_CONF")"
expect_ok "CheckCommand runs PluginContribDir + \"/check_backup\"" \
    grep -qF 'command = [ PluginContribDir + "/check_backup" ]' "$CMD_CONF"
expect_eq "NRPE example: no \$ARGn\$, no dont_blame_nrpe" "" \
    "$(grep -nE '\$ARG[0-9]+\$|^dont_blame_nrpe' /etc/nagios/nrpe.d/check_backup.cfg || true)"
expect_eq "NRPE example: one command per typical setup" \
    "check_backup_mysql check_backup_pg_dump check_backup_pgcluster check_backup_pg_dumpall" \
    "$(grep -oE '^command\[[a-z_]+\]' /etc/nagios/nrpe.d/check_backup.cfg | tr -d '[]' | sed 's/^command//' | paste -sd' ')"

# README's copy-paste setups are the shipped files: every line of its ```icinga2 blocks is a
# line of a shipped Icinga 2 example, every NRPE command of its ```ini block a shipped one.
readme_block() { awk -v lang="$1" '$0 == "```" lang {on = 1; next} /^```/ {on = 0} on' "$ROOT/README.md"; }
not_shipped=$(readme_block icinga2 | grep -v '^[[:space:]]*$' | while IFS= read -r line; do
    grep -qxF -- "$line" "$EXAMPLES"/icinga2/*.conf || echo "$line"   # (no pipe: grep -q + pipefail races)
done)
expect_eq "README's Icinga 2 setup is taken from the shipped files" "" "$not_shipped"
expect_ok "README has an Icinga 2 apply rule to copy" grep -q '^apply Service "backup-"' <(readme_block icinga2)
expect_eq "README's NRPE commands are the shipped ones" \
    "$(grep '^command\[' /etc/nagios/nrpe.d/check_backup.cfg)" "$(readme_block ini | grep '^command\[')"

# Icinga 2 itself validates every shipped example, laid out as the examples document the
# distributed setup on a master: agent.conf's Endpoints and Zones in zones.conf, the
# CheckCommand in zones.d/global-templates/, hosts and apply rule in zones.d/master/ (plus
# the master's own Endpoint and Zone and the two templates of a default installation).
V=$T/validate
mkdir -p "$V/zones.d/global-templates" "$V/zones.d/master"
cp "$EXAMPLES/icinga2/command-check-backup.conf" "$V/zones.d/global-templates/"
cp "$EXAMPLES/icinga2/services.conf" "$EXAMPLES/icinga2/hosts.conf" "$V/zones.d/master/"
cp "$EXAMPLES/icinga2/agent.conf" "$V/zones.conf"
cat >"$V/icinga2.conf" <<EOF
const NodeName = "master1.example.com"
const ZoneName = "master"
const PluginDir = "/usr/lib/nagios/plugins"
const PluginContribDir = "/usr/lib/nagios/plugins"
object Endpoint NodeName {}
object Zone "master" { endpoints = [ NodeName ] }
include "zones.conf"
include <itl>
include <plugins>
template Host "generic-host" { check_command = "hostalive" }
template Service "generic-service" {}
EOF
chown -R nagios:nagios "$V"
if out=$(cd / && icinga2 daemon -C -x warning -c "$V/icinga2.conf" \
    -DConfiguration.DataDir="$V" -DConfiguration.LogDir="$V" -DConfiguration.CacheDir="$V" \
    -DConfiguration.SpoolDir="$V" -DConfiguration.InitRunDir="$V" -DConfiguration.PidPath="$V/pid" \
    -DConfiguration.VarsPath="$V/vars" -DConfiguration.ObjectsPath="$V/objects" \
    -DConfiguration.StatePath="$V/state" -DConfiguration.ModAttrPath="$V/modattr" \
    -DConfiguration.ZonesDir="$V/zones.d" -DConfiguration.ConfigDir="$V" 2>&1); then
    pass "icinga2 daemon -C accepts the shipped examples in the master layout (agent.conf, global-templates, zones.d/master)"
else
    fail "icinga2 daemon -C accepts the shipped examples" "$out"
fi

# ---------------------------------------------------------------------------------------
# Fixtures readable by nagios (NRPE and Icinga 2 run the plugin as nagios, cwd /).
# ---------------------------------------------------------------------------------------
B=$T/backups
L=$T/log/backup
mkdir -p "$B/mysql" "$B/postgresql/cluster" "$L"
NOW=$(date +%s)
put() {   # SRC DEST AGE_SECONDS (+10 min: a file modified in the last --settle, 2 min by
    #                                  default, is "backup in progress")
    cp "$1" "$2"
    touch -d "@$((NOW - $3 - 600))" "$2"
}

# ---------------------------------------------------------------------------------------
part "B. NRPE (Debian's nrpe + check_nrpe, the shipped command file)"
# ---------------------------------------------------------------------------------------
N=$T/nrpe
mkdir -p "$N"
NRPE_PORT=$(free_port)
# The shipped file, adjusted only for the fixture paths.
sed -e "s#/var/backups/#$B/#g" -e "s#/var/log/backup/#$L/#g" /etc/nagios/nrpe.d/check_backup.cfg >"$N/check_backup.cfg"
expect_eq "adjusted NRPE commands differ from the shipped ones only in paths" \
    "$(grep '^command\[' /etc/nagios/nrpe.d/check_backup.cfg)" \
    "$(grep '^command\[' "$N/check_backup.cfg" | sed -e "s#$B/#/var/backups/#g" -e "s#$L/#/var/log/backup/#g")"
cat >"$N/nrpe.cfg" <<EOF
log_facility=daemon
log_file=$N/nrpe.log
debug=0
pid_file=$N/nrpe.pid
server_address=127.0.0.1
server_port=$NRPE_PORT
nrpe_user=nagios
nrpe_group=nagios
allowed_hosts=127.0.0.1
dont_blame_nrpe=0
allow_bash_command_substitution=0
command_timeout=60
connection_timeout=300
include=$N/check_backup.cfg
EOF
chown -R nagios:nagios "$N"
(cd / && exec /usr/sbin/nrpe -c "$N/nrpe.cfg" -4 -f) >"$N/stdout.log" 2>&1 &
NRPE_PID=$!
up=
for _ in $(seq 1 100); do
    kill -0 "$NRPE_PID" 2>/dev/null || break
    if v=$(/usr/lib/nagios/plugins/check_nrpe -H 127.0.0.1 -p "$NRPE_PORT" 2>&1); then up=$v; break; fi
    sleep 0.1
done
[[ -n $up ]] || die "nrpe answers on 127.0.0.1:$NRPE_PORT" "$(cat "$N/stdout.log" "$N/nrpe.log" 2>/dev/null)"
pass "nrpe (pid $NRPE_PID) answers on 127.0.0.1:$NRPE_PORT: $up"
expect_loopback_only nrpe "$NRPE_PID"

NRPE_OUT=
NRPE_RC=
nrpe_query() {   # COMMAND
    set +e
    NRPE_OUT=$(/usr/lib/nagios/plugins/check_nrpe -H 127.0.0.1 -p "$NRPE_PORT" -t 55 -c "$1" 2>&1)
    NRPE_RC=$?
    set -e
}

# OK: last night's mariadb-dump | gzip (a clean wrapper run) and the job's log.
put "$FIX/mariadb/shop-wrapper.sql.gz" "$B/mysql/shop-2026-11-24.sql.gz" 120
put "$FIX/logs/mariadb-clean.log" "$L/mysql.log" 60
nrpe_query check_backup_mysql
expect_eq "NRPE check_backup_mysql, clean run: exit 0" 0 "$NRPE_RC"
expect_re "NRPE check_backup_mysql, clean run: first line" \
    "^BACKUP OK - $B/mysql/shop-2026-11-24\\.sql\\.gz: $AGE old, 65 KiB, gzip, 491 KiB uncompressed, mysqldump complete on [0-9-]+ +[0-9:]+; log $L/mysql\\.log: written $AGE ago, exit status 0, 0 errors, 0 warnings \\| age=[0-9]+s;93600;180000;0 size=66661B;;;0 uncompressed_size=502811B;;;0 log_errors=0;;0;0 log_warnings=0;0;;0 log_age=[0-9]+s;93600;180000;0 duration=0s;;;0\$" \
    "$(first_line "$NRPE_OUT")"
expect_contains "NRPE check_backup_mysql, clean run: long output" "[OK] marker: mysqldump complete" "$NRPE_OUT"

# CRITICAL: THE INCIDENT. Tonight's dump was killed mid-table; the log says why.
put "$FIX/mariadb/shop-killed.sql.gz" "$B/mysql/shop-2026-11-25.sql.gz" 38
put "$FIX/logs/mariadb-killed.log" "$L/mysql.log" 38
nrpe_query check_backup_mysql
expect_eq "NRPE check_backup_mysql, the incident: exit 2" 2 "$NRPE_RC"
expect_re "NRPE check_backup_mysql, the incident: first line" \
    "^BACKUP CRITICAL - job failed with exit status 3 \\(line 4: '[0-9-]+ [0-9:]+ ERROR - mariadb-dump shop exited with 3'\\); dump incomplete: no completion marker, expected '-- Dump completed' as the last line; last line is '\\(4475,.*\\);'; 2 error lines in the log, first line 3: '[0-9-]+ [0-9:]+ WARN - \\[child\\] mariadb-dump: Error 2013: Lost connection to server during query when dumping table \`log\` at row: 4475'; $B/mysql/shop-2026-11-25\\.sql\\.gz: $AGE old, 35 KiB, gzip, 268 KiB uncompressed; log $L/mysql\\.log: written $AGE ago, exit status 3, 2 errors, 0 warnings \\| age=[0-9]+s;93600;180000;0 size=35955B;;;0 uncompressed_size=274045B;;;0 log_errors=2;;0;0 log_warnings=0;0;;0 log_age=[0-9]+s;93600;180000;0 duration=[0-9]+s;;;0\$" \
    "$(first_line "$NRPE_OUT")"
expect_contains "NRPE check_backup_mysql, the incident: long output names the marker" \
    "[CRITICAL] marker: dump incomplete: no completion marker" "$NRPE_OUT"
expect_contains "NRPE check_backup_mysql, the incident: long output quotes the log" \
    "log line 4 (ERROR): " "$NRPE_OUT"

# WARNING: the newest pg_dump (glob in the shipped command) is 27 h old.
put "$FIX/postgres/shop.sql.gz" "$B/postgresql/shop-2026-11-23.sql.gz" $((51 * 3600))
put "$FIX/postgres/shop.sql.gz" "$B/postgresql/shop-2026-11-24.sql.gz" $((27 * 3600))
nrpe_query check_backup_pg_dump
expect_eq "NRPE check_backup_pg_dump, 27 h old: exit 1" 1 "$NRPE_RC"
expect_re "NRPE check_backup_pg_dump, 27 h old: first line" \
    "^BACKUP WARNING - dump is 1d 3h old \\(warning > 1d 2h\\); $B/postgresql/shop-2026-11-24\\.sql\\.gz: 1d 3h old, 55 KiB, gzip, 417 KiB uncompressed, pg_dump complete \\| age=97[0-9]{3}s;93600;180000;0 size=56254B;;;0 uncompressed_size=426956B;;;0\$" \
    "$(first_line "$NRPE_OUT")"

# OK: pg_dumpall of the cluster.
put "$FIX/postgres/cluster.sql.gz" "$B/postgresql/cluster/cluster-2026-11-25.sql.gz" 300
nrpe_query check_backup_pg_dumpall
expect_eq "NRPE check_backup_pg_dumpall: exit 0" 0 "$NRPE_RC"
expect_re "NRPE check_backup_pg_dumpall: first line" \
    "^BACKUP OK - $B/postgresql/cluster/cluster-2026-11-25\\.sql\\.gz: $AGE old, 55 KiB, gzip, 420 KiB uncompressed, pg_dumpall complete \\| age=[0-9]+s;93600;180000;0 size=56792B;;;0 uncompressed_size=429741B;;;0\$" \
    "$(first_line "$NRPE_OUT")"

# UNKNOWN: a root-only dump. NRPE runs the plugin as nagios: it must say so, not guess.
put "$FIX/postgres/shop.sql.gz" "$B/postgresql/shop-2026-11-25.sql.gz" 60
chmod 0600 "$B/postgresql/shop-2026-11-25.sql.gz"
nrpe_query check_backup_pg_dump
expect_eq "NRPE check_backup_pg_dump, root-only file: exit 3" 3 "$NRPE_RC"
expect_re "NRPE check_backup_pg_dump, root-only file: first line names path and user" \
    "^BACKUP UNKNOWN - permission denied reading $B/postgresql/shop-2026-11-25\\.sql\\.gz as user nagios \\(uid $(id -u nagios)\\)" \
    "$(first_line "$NRPE_OUT")"
rm -f "$B/postgresql/shop-2026-11-25.sql.gz"
stop_pid nrpe "$NRPE_PID" 10
NRPE_PID=

# ---------------------------------------------------------------------------------------
part "C. Icinga 2 (the shipped CheckCommand and apply rule, REST API)"
# ---------------------------------------------------------------------------------------
I=$T/icinga2
IB=$I/backups
mkdir -p "$I/etc" "$I/data/certs" "$I/log" "$I/cache" "$I/spool" "$I/run" \
    "$IB/mysql-ok" "$IB/mysql-incident" "$IB/pg" "$IB/cluster" "$IB/options" "$IB/set"
NODE=check-backup-e2e
API_PORT=$(free_port)
SINK_PORT=$(free_port)
API_PASS=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
icinga_defs "$I"
put "$FIX/mariadb/shop-wrapper.sql.gz" "$IB/mysql-ok/shop-2026-11-25.sql.gz" 120
put "$FIX/logs/mariadb-clean.log" "$IB/mysql-ok.log" 60
put "$FIX/mariadb/shop-wrapper.sql.gz" "$IB/mysql-incident/shop-2026-11-24.sql.gz" 86400
put "$FIX/mariadb/shop-killed.sql.gz" "$IB/mysql-incident/shop-2026-11-25.sql.gz" 38
put "$FIX/logs/mariadb-killed.log" "$IB/mysql-incident.log" 38
put "$FIX/postgres/shop.sql.gz" "$IB/pg/shop-2026-11-24.sql.gz" $((27 * 3600))
put "$FIX/postgres/cluster.sql.gz" "$IB/cluster/cluster-2026-11-25.sql.gz" 300
put "$FIX/mariadb/shop-wrapper.sql.gz" "$IB/options/shop-2026-11-25.sql.gz" 120
put "$FIX/logs/mariadb-clean.log" "$IB/options.log" 60
# The options service's --gpg-homedir: an empty keyring directory, mode 700 (its dump is
# not encrypted, so it is never used).
install -d -m 700 "$IB/gnupg"
# The options service passes --drill-max-age: the packaged backup-drill restores the options
# set's dump into a throwaway MariaDB (run as nobody, unix socket only) and writes the
# result into the service's cache directory (chowned to nagios below with all of $I).
set +e
drill_out=$(cd / && /usr/bin/backup-drill -f "$IB/options/" --user nobody --cache-dir "$IB/cache" --work-dir /var/tmp -t 5m 2>&1)
drill_rc=$?
set -e
expect_eq "backup-drill of the options set: exit 0 ($(first_line "$drill_out"))" 0 "$drill_rc"
expect_re "backup-drill of the options set: restored" '^DRILL OK - restore drill of shop-2026-11-25\.sql\.gz: 3 tables, 8,340 rows restored in ' "$(first_line "$drill_out")"
# A backup set of the configuration file with non-default thresholds: a 30 h old dump is
# OK under warning-age = "2d" (it would be WARNING under the plugin's default 26h).
put "$FIX/mariadb/shop-wrapper.sql.gz" "$IB/set/shop-2026-11-24.sql.gz" $((30 * 3600))
cat >"$IB/backups.toml" <<EOF
[defaults]
warning-age = "2d"
critical-age = "4d"

[set.shop]
dump = "$IB/set/"
marker = "mysqldump"
critical-size = "1K"
max-shrink = 30
EOF

# PKI as `icinga2 api setup` does it, into the temporary data directory (the icinga2 CLI
# runs as nagios).
chown -R nagios:nagios "$I"
(
    cd /
    icinga2 pki new-ca "${ICINGA_DEFS[@]}"
    icinga2 pki new-cert "${ICINGA_DEFS[@]}" --cn "$NODE" --key "$I/data/certs/$NODE.key" --csr "$I/data/certs/$NODE.csr"
    icinga2 pki sign-csr "${ICINGA_DEFS[@]}" --csr "$I/data/certs/$NODE.csr" --cert "$I/data/certs/$NODE.crt"
) >"$I/pki.log" 2>&1 || die "icinga2 pki new-ca / new-cert / sign-csr" "$(cat "$I/pki.log")"
cp "$I/data/ca/ca.crt" "$I/data/certs/ca.crt"
pass "icinga2 pki: CA and certificate for $NODE"

cat >"$I/etc/icinga2.conf" <<EOF
/* check_backup e2e: a single Icinga 2 node, everything under $I */
const NodeName = "$NODE"
const ZoneName = NodeName
const PluginDir = "/usr/lib/nagios/plugins"
const PluginContribDir = "/usr/lib/nagios/plugins"
const TicketSalt = ""

object Endpoint NodeName {}
object Zone ZoneName { endpoints = [ NodeName ] }

include <itl>
include <plugins>

object FileLogger "main-log" {
  severity = "information"
  path = LogDir + "/icinga2.log"
}
object CheckerComponent "checker" {}
object ApiListener "api" {
  bind_host = "127.0.0.1"
  bind_port = $API_PORT
}
object ApiUser "e2e" {
  password = "$API_PASS"
  permissions = [ "objects/query/Host", "objects/query/Service", "actions/reschedule-check", "console" ]
}
/* a metric writer parses every perfdata value and logs "Ignoring invalid perfdata" otherwise */
object GraphiteWriter "graphite" {
  host = "127.0.0.1"
  port = $SINK_PORT
  enable_send_thresholds = true
}

/* what /etc/icinga2/conf.d/templates.conf of a default installation provides */
template Host "generic-host" {
  max_check_attempts = 3
  check_interval = 1m
  retry_interval = 30s
  check_command = "dummy"
}
template Service "generic-service" {
  max_check_attempts = 1
  check_interval = 1m
  retry_interval = 30s
}

/* THE SHIPPED FILES, as installed by the package */
include "$EXAMPLES/icinga2/command-check-backup.conf"
include "$EXAMPLES/icinga2/services.conf"

object Host "db-e2e" {
  import "generic-host"
  address = "127.0.0.1"

  vars.backups["mysql"] = {
    backup_dump = "$IB/mysql-ok/"
    backup_log = "$IB/mysql-ok.log"
    backup_critical_size = "1K"
  }
  vars.backups["mysql-incident"] = {
    backup_dump = "$IB/mysql-incident/"
    backup_log = "$IB/mysql-incident.log"
    backup_critical_size = "1K"
  }
  vars.backups["pg_dump"] = {
    backup_dump = "$IB/pg/shop-*.sql.*"
    backup_marker = "pg_dump"
  }
  vars.backups["pg_dumpall"] = {
    backup_dump = "$IB/cluster/"
    backup_marker = "pg_dumpall"
  }
  /* a backup set of the configuration file: only --config and --set are passed */
  vars.backups["set"] = {
    backup_config = "$IB/backups.toml"
    backup_set = "shop"
  }
  /* every argument of the CheckCommand at once */
  vars.backups["options"] = {
    backup_dump = "$IB/options/"
    backup_warning_age = "30h"
    backup_critical_age = "3d"
    backup_warning_size = "10K"
    backup_critical_size = "1K"
    backup_marker = "mysqldump"
    backup_marker_regex = "^-- Dump completed"
    backup_future_tolerance = "10m"
    backup_follow_symlinks = true
    backup_exclude = [ "*.manifest", "README*" ]
    backup_checksum = "auto"
    backup_log = "$IB/options.log"
    backup_log_error = [ "rsync error", "upload failed" ]
    backup_log_warning = [ "slow disk" ]
    backup_log_ignore = [ "Using a password", "is deprecated" ]
    backup_log_success = "backup complete"
    backup_log_run_start = "INFO - starting "
    /* the log holds one run: no earlier run to compare with (OK, saying so) */
    backup_min_duration_ratio = "0.2"
    backup_log_warning_age = "30h"
    backup_log_critical_age = "3d"
    backup_log_dump_slack = "3h"
    backup_max_shrink = 40
    backup_max_growth = 300
    /* a schedule whose last due run (January 1st) the dump delivered */
    backup_schedule = "0 0 1 1 *"
    backup_grace = "3h"
    backup_missed_critical = 3
    backup_encrypted_without_key = "warning"
    /* the dump is not encrypted: nothing is decrypted, so no key is needed (the Rust tests
       decrypt with real keys); --age-identity is left out: one tool per check */
    backup_decrypt_with = "gpg"
    backup_gpg_homedir = "$IB/gnupg"
    /* checked only for an OpenPGP dump: this one is not encrypted */
    backup_expect_recipient = [ "0123456789ABCDEF" ]
    /* the one dump is the one restore point the last day, older than a minute */
    backup_restore_points = "1/1d"
    backup_oldest_age = "1m"
    backup_drill_max_age = "8d"
    backup_settle = "60s"
    backup_in_progress_state = "warning"
    backup_cache_dir = "$IB/cache"
    backup_no_cache = true
    backup_unverified_state = "unknown"
    backup_timeout = 40
    backup_verbose = true
  }
}

/* negative control: invalid perfdata must be reported in the log (so its absence means something) */
object Service "perfdata-control" {
  import "generic-service"
  host_name = "db-e2e"
  check_command = "dummy"
  vars.dummy_state = 0
  vars.dummy_text = "control | bad=1,5s"
}
EOF
chown -R nagios:nagios "$I"
chmod 0700 "$I/data/ca"

if ! out=$(cd / && icinga2 daemon -C -c "$I/etc/icinga2.conf" "${ICINGA_DEFS[@]}" 2>&1); then
    die "icinga2 daemon -C (shipped CheckCommand + services.conf)" "$out"
fi
pass "icinga2 daemon -C validates the configuration"

# The Graphite sink: one connection (the writer keeps it open), written to a file.
socat -u "TCP-LISTEN:$SINK_PORT,bind=127.0.0.1,reuseaddr" "OPEN:$I/graphite.txt,creat,append" &
SINK_PID=$!
for _ in $(seq 1 50); do [[ -n $(listen_addrs "$SINK_PID") ]] && break; sleep 0.1; done
expect_loopback_only "graphite sink (socat)" "$SINK_PID"
(cd / && exec icinga2 daemon -c "$I/etc/icinga2.conf" "${ICINGA_DEFS[@]}" --close-stdio -e "$I/log/error.log") \
    >"$I/log/stdout.log" 2>&1 &
ICINGA_PID=$!

API="https://$NODE:$API_PORT/v1"
api() {   # METHOD PATH [JSON]
    curl -sS --fail-with-body --max-time 20 --cacert "$I/data/certs/ca.crt" \
        --resolve "$NODE:$API_PORT:127.0.0.1" -u "e2e:$API_PASS" \
        -H 'Accept: application/json' -X "$1" "$API$2" ${3:+-d "$3"}
}
t=$(date +%s%N)
up=
for _ in $(seq 1 300); do
    kill -0 "$ICINGA_PID" 2>/dev/null || break
    if n=$(api GET '/objects/services?attrs=name' 2>/dev/null | jq '.results | length'); then
        if [[ $n -ge 7 ]]; then up=$n; break; fi
    fi
    sleep 0.1
done
[[ -n $up ]] || die "icinga2 answers on its REST API" "$(tail -n 30 "$I/log/icinga2.log" "$I/log/error.log" "$I/log/stdout.log" 2>/dev/null)"
pass "icinga2 (pid $ICINGA_PID) REST API up on 127.0.0.1:$API_PORT in $(($(ms_since "$t")))ms, $up services"
expect_loopback_only icinga2 "$ICINGA_PID"
services=$(api GET '/objects/services?attrs=name' | jq -r '.results[].attrs.name' | sort | paste -sd' ')
expect_eq "the shipped apply rule made one service per vars.backups entry" \
    "backup-mysql backup-mysql-incident backup-options backup-pg_dump backup-pg_dumpall backup-set perfdata-control" "$services"

# The Graphite writer connects on its reconnect timer (10 s after the start): results that
# come before are not sent. Wait for it.
graphite_up=
for _ in $(seq 1 300); do
    if grep -q 'GraphiteWriter: Finished reconnecting to Graphite' "$I/log/icinga2.log" 2>/dev/null; then graphite_up=1; break; fi
    sleep 0.1
done
[[ -n $graphite_up ]] && pass "Graphite writer connected to the sink on 127.0.0.1:$SINK_PORT" \
    || fail "Graphite writer connected to the sink" "$(grep -i graphite "$I/log/icinga2.log")"

# Force a check of every service, then wait for results that started after the request.
# (A check already running when the request arrives reschedules itself on completion, so
# the request is repeated for the services whose result is not fresh yet.)
t_req=$(date +%s.%N)
resched=$(api POST /actions/reschedule-check '{"type": "Service", "filter": "host.name == \"db-e2e\"", "force": true}' \
    | jq '[.results[] | select(.code == 200)] | length')
expect_eq "reschedule-check accepted for every service" 7 "$resched"
fresh=
for i in $(seq 1 150); do
    stale=$(api GET '/objects/services?attrs=last_check_result' \
        | jq -r --argjson t "$t_req" '.results[] | select(.attrs.last_check_result == null or .attrs.last_check_result.execution_start < $t) | .name' || echo '?')
    if [[ -z $stale ]]; then fresh=1; break; fi
    if ((i % 10 == 0)) && [[ $stale != '?' ]]; then
        for s in $stale; do
            api POST /actions/reschedule-check "$(jq -nc --arg s "db-e2e!$s" '{type: "Service", service: $s, force: true}')" >/dev/null || true
        done
    fi
    sleep 0.2
done
if [[ -n $fresh ]]; then
    pass "fresh check results for all services after reschedule-check (in $(ms_since "${t_req/./}")ms)"
else
    fail "fresh check results for all services after reschedule-check" "stale: $stale"$'\n'"$(tail -n 30 "$I/log/icinga2.log")"
fi
api GET '/objects/services?attrs=last_check_result&attrs=state' >"$I/services.json"
cr() {   # SERVICE JQ-EXPRESSION-ON-LAST_CHECK_RESULT
    jq -r --arg s "db-e2e!$1" ".results[] | select(.name == \$s) | .attrs.last_check_result | $2" "$I/services.json"
}
svc_state() { jq -r --arg s "db-e2e!$1" '.results[] | select(.name == $s) | .attrs.state' "$I/services.json"; }

icinga_expect() {   # SERVICE EXIT FIRST-LINE-ERE PERFDATA-LABELS
    local s=$1
    expect_eq "Icinga $s: exit_status" "$2" "$(cr "$s" .exit_status)"
    expect_eq "Icinga $s: state" "$2" "$(cr "$s" .state)"
    expect_eq "Icinga $s: service state" "$2" "$(svc_state "$s" | cut -d. -f1)"
    expect_re "Icinga $s: output" "$3" "$(cr "$s" .output | head -n 1)"
    expect_eq "Icinga $s: no '|' left in the output" "" "$(cr "$s" .output | grep -F '|' || true)"
    expect_eq "Icinga $s: performance_data split into values" "$4" \
        "$(cr "$s" '.performance_data | map(split("=")[0]) | join(" ")')"
    expect_eq "Icinga $s: command is the installed plugin" "$PLUGIN" "$(cr "$s" '.command[0]')"
}
LOG_LABELS="age size uncompressed_size log_errors log_warnings log_age duration"
icinga_expect backup-mysql 0 \
    "^BACKUP OK - $IB/mysql-ok/shop-2026-11-25\\.sql\\.gz: $AGE old, 65 KiB, gzip, 491 KiB uncompressed, mysqldump complete on [0-9-]+ +[0-9:]+; log $IB/mysql-ok\\.log: written $AGE ago, exit status 0, 0 errors, 0 warnings ?\$" \
    "$LOG_LABELS"
icinga_expect backup-mysql-incident 2 \
    "^BACKUP CRITICAL - job failed with exit status 3 \\(line 4: '[0-9-]+ [0-9:]+ ERROR - mariadb-dump shop exited with 3'\\); dump incomplete: no completion marker, expected '-- Dump completed' as the last line; .*; $IB/mysql-incident/shop-2026-11-25\\.sql\\.gz: $AGE old, 35 KiB, gzip, 268 KiB uncompressed; log $IB/mysql-incident\\.log: written $AGE ago, exit status 3, 2 errors, 0 warnings ?\$" \
    "$LOG_LABELS"
expect_contains "Icinga backup-mysql-incident: long output kept" "[CRITICAL] marker: dump incomplete" "$(cr backup-mysql-incident .output)"
icinga_expect backup-pg_dump 1 \
    "^BACKUP WARNING - dump is 1d 3h old \\(warning > 1d 2h\\); $IB/pg/shop-2026-11-24\\.sql\\.gz: 1d 3h old, 55 KiB, gzip, 417 KiB uncompressed, pg_dump complete ?\$" \
    "age size uncompressed_size"
icinga_expect backup-pg_dumpall 0 \
    "^BACKUP OK - $IB/cluster/cluster-2026-11-25\\.sql\\.gz: $AGE old, 55 KiB, gzip, 420 KiB uncompressed, pg_dumpall complete ?\$" \
    "age size uncompressed_size"
icinga_expect backup-options 0 "^BACKUP OK - $IB/options/shop-2026-11-25\\.sql\\.gz: " "age size overdue uncompressed_size restore_points log_errors log_warnings log_age duration restore_seconds restore_rows"
expect_contains "Icinga backup-options: the last restore drill" "[OK] drill: restore drill " "$(cr backup-options .output)"

# The command line Icinga 2 built from the shipped CheckCommand, argument by argument.
mapfile -t argv < <(cr backup-options '.command[]')
has_pair() {   # KEY VALUE: KEY immediately followed by VALUE somewhere in argv
    local i
    for ((i = 0; i + 1 < ${#argv[@]}; i++)); do
        [[ ${argv[i]} == "$1" && ${argv[i + 1]} == "$2" ]] && return 0
    done
    return 1
}
count_arg() { printf '%s\n' "${argv[@]}" | grep -cxF -- "$1" || true; }
missing_pairs=
for kv in "--dump=$IB/options/" "--warning-age=30h" "--critical-age=3d" "--warning-size=10K" \
    "--critical-size=1K" "--marker=mysqldump" "--marker-regex=^-- Dump completed" \
    "--future-tolerance=10m" "--log=$IB/options.log" "--log-error=rsync error" \
    "--log-error=upload failed" "--log-warning=slow disk" "--log-ignore=Using a password" \
    "--log-ignore=is deprecated" "--log-success=backup complete" "--log-run-start=INFO - starting " \
    "--log-warning-age=30h" "--log-critical-age=3d" "--log-dump-slack=3h" "--timeout=40" \
    "--exclude=*.manifest" "--exclude=README*" "--checksum=auto" "--schedule=0 0 1 1 *" \
    "--grace=3h" "--missed-critical=3" "--encrypted-without-key=warning" \
    "--decrypt-with=gpg" "--gpg-homedir=$IB/gnupg" "--expect-recipient=0123456789ABCDEF" \
    "--restore-points=1/1d" "--oldest-age=1m" "--max-growth=300" "--drill-max-age=8d" "--min-duration-ratio=0.2"; do
    has_pair "${kv%%=*}" "${kv#*=}" || missing_pairs+="[$kv] "
done
expect_eq "Icinga built every option/value pair of the options service" "" "$missing_pairs"
expect_eq "repeat_key: --log-error, --log-ignore, --exclude twice" "2 2 2" "$(count_arg --log-error) $(count_arg --log-ignore) $(count_arg --exclude)"
expect_eq "set_if flags present without a value" "1 1" "$(count_arg --follow-symlinks) $(count_arg --verbose)"
expect_eq "--output is never passed" 0 "$(count_arg --output)"
not_passed=
# --config/--set, --per-database/--expect-databases, --kind and --verify-only change what
# is checked (a set of the file, one dump per database, one kind of pg_backupcluster entry,
# a full verification): the options service leaves them out; the Rust tests cover them.
# --age-identity and --gpg-key conflict with the service's --gpg-homedir (one decrypting tool
# and one key per check); tests/integration/encrypted.rs decrypts with a real age identity
# and a real exported gpg subkey.
for o in $cli_opts; do
    case $o in --config | --set | --per-database | --expect-databases | --kind | --verify-only | --age-identity | --gpg-key) continue ;; esac
    [[ $(count_arg "$o") -ge 1 ]] || not_passed+="$o "
done
expect_eq "every CLI option reached the plugin through Icinga 2" "" "$not_passed"
# The CheckCommand has no defaults of its own: only the vars a service sets are passed,
# every other default is the plugin's (one place).
mapfile -t argv < <(cr backup-pg_dump '.command[]')
expect_eq "only the service's vars are passed: backup-pg_dump's argv" \
    "$PLUGIN --dump $IB/pg/shop-*.sql.* --marker pg_dump" "${argv[*]}"
mapfile -t argv < <(cr backup-set '.command[]')
expect_eq "a backup set through Icinga 2: argv is --config and --set only" \
    "$PLUGIN --config $IB/backups.toml --set shop" "${argv[*]}"
# ...and Icinga's answer is exactly the one check_backup gives by hand (as nagios, cwd /).
set +e
hand_out=$(cd / && runuser -u nagios -- env -i PATH=/usr/bin:/bin "$PLUGIN" --config "$IB/backups.toml" --set shop 2>&1)
hand_rc=$?
set -e
hand_first=$(first_line "$hand_out")
expect_eq "backup set by hand: OK (30 h old, warning-age = \"2d\" in the file)" 0 "$hand_rc"
expect_re "backup set by hand: summary" "^BACKUP OK - $IB/set/shop-2026-11-24\\.sql\\.gz: 1d 6h old, " "$hand_first"
expect_eq "backup set through Icinga 2: exit_status as by hand" "$hand_rc" "$(cr backup-set .exit_status)"
expect_eq "backup set through Icinga 2: output as by hand" "${hand_first%% | *}" "$(cr backup-set .output | head -n 1 | sed 's/ *$//')"
norm_age() { sed -E 's/^age=[0-9]+s;/age=Ns;/'; }
expect_eq "backup set through Icinga 2: perfdata (the file's thresholds) as by hand" \
    "$(tr ' ' '\n' <<<"${hand_first#* | }" | norm_age)" \
    "$(cr backup-set '.performance_data[]' | norm_age)"
expect_re "backup set: the file's warning-age (2d = 172800 s) in the perfdata" '^age=Ns;172800;345600;0$' \
    "$(cr backup-set '.performance_data[0]' | norm_age)"

# Perfdata as Icinga 2 parses it: its own parse_performance_data() over the API console...
# backup-options has --schedule: its overdue value too (issue 14)
for s in backup-mysql backup-mysql-incident backup-pg_dump backup-options; do
    script="get_service(\"db-e2e\", \"$s\").last_check_result.performance_data.map(p => parse_performance_data(p))"
    parsed=$(api POST /console/execute-script "$(jq -nc --arg c "$script" '{command: $c}')" || true)
    raw=$(cr "$s" '.performance_data | map(split("=")[0] + "=" + (split("=")[1] | capture("^(?<v>[-0-9.]+)").v)) | join(" ")')
    got=$(jq -r '.results[0].result | map(.label + "=" + (.value | tostring)) | join(" ")' <<<"$parsed" 2>/dev/null || true)
    expect_eq "Icinga parse_performance_data: every value of $s parsed" "$raw" "$got"
done
# ...and its Graphite writer (one metric per value, thresholds too).
metrics=
for _ in $(seq 1 100); do
    metrics=$(cat "$I/graphite.txt" 2>/dev/null || true)
    [[ $metrics == *"services.backup-options.backup.perfdata.duration.value"* ]] && break
    sleep 0.1
done
size_metric=$(grep -oE '^icinga2\.db-e2e\.services\.backup-mysql\.backup\.perfdata\.size\.value [0-9.]+ ' <<<"$metrics" | tail -n 1 | awk '{print $2}' || true)
expect_eq "Graphite writer got size=66661 for backup-mysql" 66661 "$size_metric"
for lbl in age uncompressed_size log_errors log_warnings log_age duration; do
    expect_re "Graphite writer got $lbl for backup-mysql-incident" \
        "icinga2\\.db-e2e\\.services\\.backup-mysql-incident\\.backup\\.perfdata\\.$lbl\\.value [0-9.]+ " "$metrics"
done
expect_re "Graphite writer got the age thresholds" \
    'icinga2\.db-e2e\.services\.backup-mysql\.backup\.perfdata\.age\.crit 180000 ' "$metrics"
ilog=$(cat "$I/log/icinga2.log")
expect_re "negative control: Icinga logs invalid perfdata it is given" \
    "Ignoring invalid perfdata for checkable 'db-e2e!perfdata-control'" "$ilog"
expect_eq "no invalid perfdata from check_backup in icinga2.log" "" \
    "$(grep -E "(Ignoring invalid perfdata|Invalid perfdata|nvalid perfdata).*backup-" <<<"$ilog" || true)"
expect_eq "no check_backup warnings/criticals in icinga2.log" "" \
    "$(grep -E '^\[[^]]+\] (warning|critical)/' <<<"$ilog" | grep -vE "perfdata-control|GraphiteWriter.*(Reconnect|connect)" || true)"
stop_pid icinga2 "$ICINGA_PID" 30
ICINGA_PID=
stop_pid "graphite sink (socat)" "$SINK_PID" 5
SINK_PID=

# ---------------------------------------------------------------------------------------
part "C2. Icinga 2 master + agent: the check runs on the agent (command_endpoint)"
# ---------------------------------------------------------------------------------------
# The distributed setup of agent.conf, for real: a master and an agent on 127.0.0.1, the
# shipped CheckCommand in the master's zones.d/global-templates/ (synced to the agent),
# the shipped services.conf and a host with vars.agent_endpoint in zones.d/master/.
DI=$T/icinga2-dist
MASTER=e2e-master
AGENT=e2e-agent
MASTER_PORT=$(free_port)
AGENT_PORT=$(free_port)
icinga_defs() {   # DIR: the -D options for an instance living in DIR
    printf '%s\n' -DConfiguration.ConfigDir="$1/etc" -DConfiguration.DataDir="$1/data" \
        -DConfiguration.LogDir="$1/log" -DConfiguration.CacheDir="$1/cache" \
        -DConfiguration.SpoolDir="$1/spool" -DConfiguration.InitRunDir="$1/run" \
        -DConfiguration.PidPath="$1/run/icinga2.pid" -DConfiguration.VarsPath="$1/cache/icinga2.vars" \
        -DConfiguration.ObjectsPath="$1/cache/icinga2.debug" -DConfiguration.StatePath="$1/data/icinga2.state" \
        -DConfiguration.ModAttrPath="$1/data/modified-attributes.conf" -DConfiguration.ZonesDir="$1/etc/zones.d"
}
for n in master agent; do
    mkdir -p "$DI/$n/etc" "$DI/$n/data/certs" "$DI/$n/log" "$DI/$n/cache" "$DI/$n/spool" "$DI/$n/run"
done
mkdir -p "$DI/master/etc/zones.d/global-templates" "$DI/master/etc/zones.d/master" "$DI/backups"
put "$FIX/mariadb/shop-killed.sql.gz" "$DI/backups/shop-2026-11-25.sql.gz" 38
put "$FIX/logs/mariadb-killed.log" "$DI/backups/mysql.log" 38
chown -R nagios:nagios "$DI"
mapfile -t MDEFS < <(icinga_defs "$DI/master")
mapfile -t ADEFS < <(icinga_defs "$DI/agent")
(
    cd /
    icinga2 pki new-ca "${MDEFS[@]}"
    for n in "$MASTER" "$AGENT"; do
        d=$DI/master/data/certs
        [[ $n == "$AGENT" ]] && d=$DI/agent/data/certs
        icinga2 pki new-cert "${MDEFS[@]}" --cn "$n" --key "$d/$n.key" --csr "$d/$n.csr"
        icinga2 pki sign-csr "${MDEFS[@]}" --csr "$d/$n.csr" --cert "$d/$n.crt"
        cp "$DI/master/data/ca/ca.crt" "$d/ca.crt"
    done
) >"$DI/pki.log" 2>&1 || die "icinga2 pki: CA, master and agent certificates" "$(cat "$DI/pki.log")"
chown -R nagios:nagios "$DI"
zones_conf() {   # AGENT-ENDPOINT-BODY: as in agent.conf (the master connects to the agent)
    cat <<EOF
object Endpoint "$MASTER" {}
object Zone "master" { endpoints = [ "$MASTER" ] }
object Endpoint "$AGENT" { $1 }
object Zone "$AGENT" { endpoints = [ "$AGENT" ]; parent = "master" }
object Zone "global-templates" { global = true }
EOF
}
common_conf() {   # NODENAME ZONENAME
    cat <<EOF
const NodeName = "$1"
const ZoneName = "$2"
const PluginDir = "/usr/lib/nagios/plugins"
const PluginContribDir = "/usr/lib/nagios/plugins"
const TicketSalt = ""
include <itl>
include <plugins>
object FileLogger "main-log" {
  severity = "information"
  path = LogDir + "/icinga2.log"
}
EOF
}
{
    common_conf "$MASTER" master
    zones_conf "host = \"127.0.0.1\"; port = $AGENT_PORT"
    cat <<EOF
object ApiListener "api" {
  bind_host = "127.0.0.1"
  bind_port = $MASTER_PORT
}
object ApiUser "e2e" {
  password = "$API_PASS"
  permissions = [ "objects/query/Service", "actions/reschedule-check" ]
}
object CheckerComponent "checker" {}
template Host "generic-host" {
  max_check_attempts = 3
  check_interval = 1m
  retry_interval = 30s
  check_command = "dummy"
}
template Service "generic-service" {
  max_check_attempts = 1
  check_interval = 1m
  retry_interval = 30s
}
EOF
} >"$DI/master/etc/icinga2.conf"
{
    common_conf "$AGENT" "$AGENT"
    zones_conf ""
    cat <<EOF
object ApiListener "api" {
  bind_host = "127.0.0.1"
  bind_port = $AGENT_PORT
  accept_commands = true
  accept_config = true
}
EOF
} >"$DI/agent/etc/icinga2.conf"
cp "$EXAMPLES/icinga2/command-check-backup.conf" "$DI/master/etc/zones.d/global-templates/"
cp "$EXAMPLES/icinga2/services.conf" "$DI/master/etc/zones.d/master/"
cat >"$DI/master/etc/zones.d/master/hosts.conf" <<EOF
object Host "$AGENT" {
  import "generic-host"
  address = "127.0.0.1"
  vars.agent_endpoint = name
  vars.backups["mysql"] = {
    backup_dump = "$DI/backups/"
    backup_log = "$DI/backups/mysql.log"
    backup_critical_size = "1K"
  }
}
EOF
chown -R nagios:nagios "$DI"
for n in master agent; do
    defs=("${MDEFS[@]}"); [[ $n == agent ]] && defs=("${ADEFS[@]}")
    out=$(cd / && icinga2 daemon -C -c "$DI/$n/etc/icinga2.conf" "${defs[@]}" 2>&1) \
        || die "icinga2 daemon -C ($n)" "$out"
done
pass "icinga2 daemon -C validates master (shipped files in zones.d/) and agent"
(cd / && exec icinga2 daemon -c "$DI/agent/etc/icinga2.conf" "${ADEFS[@]}" --close-stdio -e "$DI/agent/log/error.log") \
    >"$DI/agent/log/stdout.log" 2>&1 &
AGENT_PID=$!
(cd / && exec icinga2 daemon -c "$DI/master/etc/icinga2.conf" "${MDEFS[@]}" --close-stdio -e "$DI/master/log/error.log") \
    >"$DI/master/log/stdout.log" 2>&1 &
MASTER_PID=$!
mapi() {   # METHOD PATH [JSON]: the master's API
    curl -sS --fail-with-body --max-time 20 --cacert "$DI/master/data/certs/ca.crt" \
        --resolve "$MASTER:$MASTER_PORT:127.0.0.1" -u "e2e:$API_PASS" \
        -H 'Accept: application/json' -X "$1" "https://$MASTER:$MASTER_PORT/v1$2" ${3:+-d "$3"}
}
# Until the agent has the CheckCommand (config sync, then its own reload) the master gets
# UNKNOWN "not connected" / "command does not exist" results: force until a real one.
t=$(date +%s%N)
t_req=$(date +%s.%N)
result=
for i in $(seq 1 300); do
    result=$(mapi GET '/objects/services?attrs=last_check_result' 2>/dev/null \
        | jq -c --argjson t "$t_req" '.results[] | select(.name == "'"$AGENT"'!backup-mysql") | .attrs.last_check_result
            | select(. != null and .execution_start >= $t and (.output | startswith("BACKUP ")))' 2>/dev/null || true)
    [[ -n $result ]] && break
    if ((i % 10 == 1)); then
        mapi POST /actions/reschedule-check '{"type": "Service", "service": "'"$AGENT"'!backup-mysql", "force": true}' >/dev/null 2>&1 || true
    fi
    sleep 0.2
done
if [[ -n $result ]]; then
    pass "master got a check_backup result from the agent in $(($(ms_since "$t") / 1000))s"
else
    fail "master got a check_backup result from the agent" "$(mapi GET '/objects/services?attrs=last_check_result' 2>&1 | jq -c '.results[].attrs.last_check_result | {output, check_source}' 2>&1)"$'\n'"$(grep -E 'warning/|critical/' "$DI/master/log/icinga2.log" "$DI/agent/log/icinga2.log" | tail -n 20)"
fi
expect_loopback_only "icinga2 master" "$MASTER_PID"
expect_loopback_only "icinga2 agent" "$AGENT_PID"
expect_ok "the agent received the CheckCommand by config sync (global-templates)" \
    test -f "$DI/agent/data/api/zones/global-templates/_etc/command-check-backup.conf"
expect_eq "the check ran on the agent (check_source)" "$AGENT" "$(jq -r '.check_source' <<<"${result:-null}")"
expect_eq "agent check: exit_status 2 (the incident)" 2 "$(jq -r '.exit_status' <<<"${result:-null}")"
expect_re "agent check: output" "^BACKUP CRITICAL - job failed with exit status 3 .*dump incomplete: no completion marker" \
    "$(jq -r '.output' <<<"${result:-null}" | head -n 1)"
expect_eq "agent check: perfdata" "age size uncompressed_size log_errors log_warnings log_age duration" \
    "$(jq -r '.performance_data | map(split("=")[0]) | join(" ")' <<<"${result:-null}" 2>/dev/null)"
stop_pid "icinga2 master" "$MASTER_PID" 30
MASTER_PID=
stop_pid "icinga2 agent" "$AGENT_PID" 30
AGENT_PID=

# ---------------------------------------------------------------------------------------
part "D1. real databases: start MariaDB and PostgreSQL on 127.0.0.1"
# ---------------------------------------------------------------------------------------
DB=$T/db
SPOOL=$DB/spool   # the wrapper writes here; FIFOs for the killed runs
mkdir -p "$DB/out" "$SPOOL" "$DB/home"
chmod 0755 "$DB" "$DB/out"
MYHOME=$DB/home
for v in $(compgen -e | grep -E '^(PG|MYSQL_)' || true); do unset "$v"; done

M=$DB/mariadb
mkdir -p "$M/data"
chown -R mysql:mysql "$M"
M_SOCK=$M/mariadbd.sock
M_PORT=$(free_port)
mariadb-install-db --no-defaults --user=mysql --datadir="$M/data" --skip-test-db \
    --auth-root-authentication-method=socket >"$DB/mariadb-install-db.log" 2>&1 \
    || die "mariadb-install-db" "$(cat "$DB/mariadb-install-db.log")"
mariadbd --no-defaults --user=mysql --datadir="$M/data" --socket="$M_SOCK" \
    --port="$M_PORT" --bind-address=127.0.0.1 --pid-file="$M/mariadbd.pid" \
    --log-error="$M/error.log" --skip-log-bin --innodb-buffer-pool-size=64M \
    --character-set-server=utf8mb4 --collation-server=utf8mb4_general_ci \
    </dev/null >/dev/null 2>&1 &
MARIADB_PID=$!
# Clients: Debian's /etc/mysql config plus this ~/.my.cnf (read last, so it wins).
printf '[client]\nsocket=%s\nuser=root\nprotocol=socket\n' "$M_SOCK" >"$MYHOME/.my.cnf"
my() { HOME=$MYHOME mariadb "$@"; }
for i in $(seq 1 600); do
    kill -0 "$MARIADB_PID" 2>/dev/null || die "mariadbd starts" "$(cat "$M/error.log")"
    mariadb-admin --no-defaults --socket="$M_SOCK" --user=root ping >/dev/null 2>&1 && break
    [[ $i -lt 600 ]] || die "mariadbd answers within 60 s" "$(cat "$M/error.log")"
    sleep 0.1
done
pass "mariadbd (pid $MARIADB_PID) up: $(my -N -B -e 'SELECT VERSION()')"
expect_loopback_only mariadbd "$MARIADB_PID"

P=$DB/pg
mkdir -p "$P/run"
chown -R postgres:postgres "$P"
PG_PORT=$(free_port)
(cd / && runuser -u postgres -- "$PGBIN/initdb" -D "$P/data" -U postgres -E UTF8 --locale=C \
    --auth-local=trust --auth-host=reject) >"$DB/initdb.log" 2>&1 || die "initdb" "$(cat "$DB/initdb.log")"
PG_DATA=$P/data
(cd / && runuser -u postgres -- "$PGBIN/pg_ctl" -D "$PG_DATA" -l "$P/server.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -c unix_socket_directories=$P/run" start) >/dev/null \
    || die "postgres starts" "$(cat "$P/server.log")"
export PGHOST=$P/run PGPORT=$PG_PORT PGUSER=postgres PGCLIENTENCODING=UTF8
PG_PID=$(head -n 1 "$PG_DATA/postmaster.pid")
pass "postgres $PG_MAJOR (pid $PG_PID) up: $(psql -X -A -t -d postgres -c 'SHOW server_version')"
expect_loopback_only postgres "$PG_PID"

# The database `shop`: a few customers and a `log` table far larger than the buffers
# between server and dump file, so that a kill lands in its middle.
my <<EOF
CREATE DATABASE shop CHARACTER SET utf8mb4;
USE shop;
CREATE TABLE customers (id int PRIMARY KEY, name varchar(100) NOT NULL, city varchar(100) NOT NULL);
INSERT INTO customers SELECT seq, CONCAT('Kundin ', seq), ELT(1 + seq % 3, 'München', 'Zürich', 'Malmö') FROM seq_1_to_40;
CREATE TABLE log (id int PRIMARY KEY, ts datetime NOT NULL, level varchar(5) NOT NULL, message varchar(200) NOT NULL);
INSERT INTO log SELECT seq, '2026-11-01 00:00:00' + INTERVAL seq SECOND, ELT(1 + seq % 3, 'INFO', 'WARN', 'ERROR'),
  IF(seq = 42, 'nightly job said: -- Dump completed on 2026-11-25  3:04:05', CONCAT('order ', seq, ' shipped'))
  FROM seq_1_to_$LOG_ROWS;
EOF
psql -X -q -v ON_ERROR_STOP=1 -d postgres -c 'CREATE DATABASE shop'
psql -X -q -v ON_ERROR_STOP=1 -d shop <<EOF
CREATE TABLE customers (id integer PRIMARY KEY, name text NOT NULL, city text NOT NULL);
INSERT INTO customers SELECT g, 'Kundin ' || g, (ARRAY['München', 'Zürich', 'Malmö'])[1 + g % 3] FROM generate_series(1, 40) g;
CREATE TABLE log (id integer PRIMARY KEY, ts timestamp NOT NULL, level text NOT NULL, message text NOT NULL);
INSERT INTO log SELECT g, timestamp '2026-11-01' + g * interval '1 second', (ARRAY['INFO', 'WARN', 'ERROR'])[1 + g % 3],
  CASE WHEN g = 43 THEN 'pg job said: -- PostgreSQL database dump complete' ELSE 'order ' || g || ' shipped' END
  FROM generate_series(1, $LOG_ROWS) g;
EOF
pass "database shop created in both servers ($LOG_ROWS log rows)"

# ---------------------------------------------------------------------------------------
part "D2. real dumps, complete and killed, checked by the installed plugin"
# ---------------------------------------------------------------------------------------
WRAP_RC=
wrap() {   # LOG OUTNAME [-z COMPRESSOR] -- CMD...  (the backup job; sets WRAP_RC)
    local log=$1 outname=$2
    shift 2
    : >"$log"
    set +e
    (cd "$SPOOL" && HOME=$MYHOME exec "$WRAPPER" -l "$log" -o "$outname" "$@")
    WRAP_RC=$?
    set -e
}
start_stalled() {   # LOG OUTNAME -- CMD...: the output is a FIFO nobody reads yet
    local log=$1 outname=$2
    shift 2
    : >"$log"
    rm -f "$SPOOL/$outname"
    mkfifo "$SPOOL/$outname"
    (cd "$SPOOL" && HOME=$MYHOME exec setsid "$WRAPPER" -l "$log" -o "$outname" "$@") &
    WRAPPER_PGID=$!
}
drain_stalled() {   # OUTNAME DEST (sets WRAP_RC)
    cat "$SPOOL/$1" >"$2" &
    READER_PID=$!
    set +e
    wait "$WRAPPER_PGID"
    WRAP_RC=$?
    wait "$READER_PID"
    local reader_rc=$?
    set -e
    WRAPPER_PGID=
    READER_PID=
    rm -f "$SPOOL/$1"
    [[ $reader_rc -eq 0 ]] || die "reading the FIFO $1"
}
CHECK_OUT=
CHECK_RC=
check_as_nagios() {   # ARGS... : the installed plugin, as NRPE/Icinga run it (user nagios, cwd /)
    # The dumps here were written seconds ago: --settle 0, or they are "backup in progress".
    set +e
    CHECK_OUT=$(cd / && runuser -u nagios -- env -i PATH=/usr/bin:/bin "$PLUGIN" --settle 0 "$@" 2>&1)
    CHECK_RC=$?
    set -e
}
OUT=$DB/out
mkdir -p "$OUT/mysql" "$OUT/pg"
moved() { mv "$SPOOL/$1" "$2"; chmod 0644 "$2"; }

# MariaDB: complete dumps through the backup wrapper, gzip and zstd.
wrap "$OUT/mysql-gzip.log" shop.sql.gz -- mariadb-dump shop
expect_eq "mariadb-dump shop | gzip: job exit 0" 0 "$WRAP_RC"
moved shop.sql.gz "$OUT/mysql/shop-gzip.sql.gz"
check_as_nagios -f "$OUT/mysql/shop-gzip.sql.gz" -l "$OUT/mysql-gzip.log" -C 1K
expect_eq "check mariadb-dump | gzip + log: OK" 0 "$CHECK_RC"
expect_re "check mariadb-dump | gzip + log: summary" "^BACKUP OK - .*shop-gzip\\.sql\\.gz: .*, gzip, .* uncompressed, mysqldump complete on .*; log .*exit status 0, 0 errors, 0 warnings \\| " "$(first_line "$CHECK_OUT")"

# The backup job's hook, as README says: --verify-only as root right after the dump is
# written (no --settle 0: the job knows the dump is finished), then the check as nagios
# uses the job's verdict from the package's cache directory instead of decoding again.
wrap "$OUT/mysql-job.log" shop.sql.gz -- mariadb-dump shop
mkdir -p "$OUT/mysql-job"
moved shop.sql.gz "$OUT/mysql-job/shop.sql.gz"
set +e
job_out=$(cd / && "$PLUGIN" --verify-only -f "$OUT/mysql-job/shop.sql.gz" -v 2>&1)
job_rc=$?
set -e
expect_eq "--verify-only as root right after the dump: exit 0, the verdict's" 0 "$job_rc"
expect_not_contains "--verify-only as root right after the dump: no 'backup in progress'" "in progress" "$job_out"
expect_contains "--verify-only as root: uses the package's cache directory" "cache: /var/cache/check_backup" "$job_out"
expect_contains "--verify-only as root: stores its verdict" "cache: verdict stored" "$job_out"
entry=$(grep -lF "\"$OUT/mysql-job/shop.sql.gz\"" /var/cache/check_backup/*.json 2>/dev/null | head -n 1 || true)
expect_eq "--verify-only as root: its entry is root's and readable by all" "644 root" "$(stat -c '%a %U' "$entry" 2>&1)"
check_as_nagios -f "$OUT/mysql-job/shop.sql.gz" -v
expect_eq "check as nagios after the job's --verify-only: OK" 0 "$CHECK_RC"
expect_contains "check as nagios after the job's --verify-only: a cache hit, not decoded again" \
    "cache: hit, dump not decoded" "$CHECK_OUT"
expect_re "check as nagios after the job's --verify-only: says so" "mysqldump complete .*\\(verified [^)]* ago, cached\\)" "$CHECK_OUT"

wrap "$OUT/mysql-zstd.log" shop.sql.zst -z 'zstd -q' -- mariadb-dump shop
expect_eq "mariadb-dump shop | zstd: job exit 0" 0 "$WRAP_RC"
moved shop.sql.zst "$OUT/mysql/shop-zstd.sql.zst"
check_as_nagios -f "$OUT/mysql/shop-zstd.sql.zst" -l "$OUT/mysql-zstd.log" -C 1K
expect_eq "check mariadb-dump | zstd + log: OK" 0 "$CHECK_RC"
expect_re "check mariadb-dump | zstd + log: summary" "^BACKUP OK - .*shop-zstd\\.sql\\.zst: .*, zstd, .* uncompressed, mysqldump complete on " "$(first_line "$CHECK_OUT")"

HOME=$MYHOME mariadb-dump --all-databases | gzip >"$OUT/mysql/all-databases.sql.gz"
check_as_nagios -f "$OUT/mysql/all-databases.sql.gz" --marker mysqldump
expect_eq "check mariadb-dump --all-databases | gzip: OK" 0 "$CHECK_RC"

# THE INCIDENT, for real: the dump's connection is killed while it streams table `log`.
start_stalled "$OUT/mysql-killed.log" shop-killed.sql.gz -- mariadb-dump shop
KILL_QUERY="SELECT id FROM information_schema.processlist WHERE db = 'shop'
  AND info LIKE 'SELECT % FROM \`log\`' AND state = 'Writing to net'"
conn=
for i in $(seq 1 300); do
    conn=$(my -N -B -e "$KILL_QUERY")
    if [[ -n $conn ]]; then
        sleep 0.5   # still blocked half a second later: the buffers are full
        [[ $(my -N -B -e "$KILL_QUERY") == "$conn" ]] && break
    fi
    [[ $i -lt 300 ]] || die "mariadb-dump blocks inside table log"
    sleep 0.1
done
my -e "KILL $conn"
drain_stalled shop-killed.sql.gz "$OUT/mysql/shop-killed.sql.gz"
chmod 0644 "$OUT/mysql/shop-killed.sql.gz"
expect_ok "killed mariadb-dump: job exit status non-zero ($WRAP_RC)" test "$WRAP_RC" -ne 0
expect_ok "killed mariadb-dump: the gzip stream is valid anyway (gzip -t)" gzip -t "$OUT/mysql/shop-killed.sql.gz"
expect_re "killed mariadb-dump: the log has the Error 2013" 'mariadb-dump: Error 2013: Lost connection to server during query when dumping table `log` at row: [0-9]+' "$(cat "$OUT/mysql-killed.log")"
check_as_nagios -f "$OUT/mysql/shop-killed.sql.gz"
expect_eq "check killed mariadb-dump (dump alone): CRITICAL" 2 "$CHECK_RC"
expect_re "check killed mariadb-dump (dump alone): no completion marker" \
    "^BACKUP CRITICAL - dump incomplete: no completion marker, expected '-- Dump completed' as the last line; last line is " "$(first_line "$CHECK_OUT")"
# In the backup directory, next to last night's good dump: the newest one is judged.
mkdir -p "$OUT/mysql-dir"
cp "$OUT/mysql/shop-gzip.sql.gz" "$OUT/mysql-dir/shop-2026-11-24.sql.gz"
touch -d '-1 day' "$OUT/mysql-dir/shop-2026-11-24.sql.gz"
cp "$OUT/mysql/shop-killed.sql.gz" "$OUT/mysql-dir/shop-2026-11-25.sql.gz"
check_as_nagios -f "$OUT/mysql-dir/" -l "$OUT/mysql-killed.log" -C 1K
expect_eq "check backup dir with the killed dump newest + its log: CRITICAL" 2 "$CHECK_RC"
expect_re "check backup dir with the killed dump newest + its log: job failed, dump incomplete" \
    "^BACKUP CRITICAL - job failed with exit status $WRAP_RC \\(line [0-9]+: '.*ERROR - mariadb-dump shop exited with $WRAP_RC'\\); dump incomplete: no completion marker, .*/mysql-dir/shop-2026-11-25\\.sql\\.gz: " \
    "$(first_line "$CHECK_OUT")"
expect_contains "check killed mariadb-dump + log: long output quotes Error 2013" "Error 2013: Lost connection" "$CHECK_OUT"

# PostgreSQL: pg_dump (gzip, zstd) and pg_dumpall through the wrapper.
export PATH=$PGBIN:$PATH
wrap "$OUT/pg-gzip.log" shop.sql.gz -- pg_dump shop
expect_eq "pg_dump shop | gzip: job exit 0" 0 "$WRAP_RC"
moved shop.sql.gz "$OUT/pg/shop-gzip.sql.gz"
check_as_nagios -f "$OUT/pg/shop-gzip.sql.gz" -l "$OUT/pg-gzip.log" --marker pg_dump -C 1K
expect_eq "check pg_dump | gzip + log: OK" 0 "$CHECK_RC"
expect_re "check pg_dump | gzip + log: summary" "^BACKUP OK - .*shop-gzip\\.sql\\.gz: .*, gzip, .* uncompressed, pg_dump complete; log .*exit status 0" "$(first_line "$CHECK_OUT")"

wrap "$OUT/pg-zstd.log" shop.sql.zst -z 'zstd -q' -- pg_dump shop
expect_eq "pg_dump shop | zstd: job exit 0" 0 "$WRAP_RC"
moved shop.sql.zst "$OUT/pg/shop-zstd.sql.zst"
check_as_nagios -f "$OUT/pg/shop-zstd.sql.zst" -l "$OUT/pg-zstd.log"
expect_eq "check pg_dump | zstd + log (marker auto): OK" 0 "$CHECK_RC"
expect_re "check pg_dump | zstd + log: summary" "^BACKUP OK - .*shop-zstd\\.sql\\.zst: .*, zstd, .* uncompressed, pg_dump complete" "$(first_line "$CHECK_OUT")"

wrap "$OUT/pg-all.log" cluster.sql.gz -- pg_dumpall
expect_eq "pg_dumpall | gzip: job exit 0" 0 "$WRAP_RC"
moved cluster.sql.gz "$OUT/pg/cluster.sql.gz"
check_as_nagios -f "$OUT/pg/cluster.sql.gz" -l "$OUT/pg-all.log" --marker pg_dumpall -C 1K
expect_eq "check pg_dumpall | gzip + log: OK" 0 "$CHECK_RC"
expect_re "check pg_dumpall | gzip + log: summary" "^BACKUP OK - .*cluster\\.sql\\.gz: .*, gzip, .* uncompressed, pg_dumpall complete" "$(first_line "$CHECK_OUT")"

pg_dump -Fc -f "$OUT/pg/shop.dump" shop
chmod 0644 "$OUT/pg/shop.dump"
check_as_nagios -f "$OUT/pg/shop.dump"
expect_eq "check pg_dump -Fc (custom format): OK, every data block walked" 0 "$CHECK_RC"
expect_contains "check pg_dump -Fc: the archive is complete" "pg_dump custom archive of 'shop' complete" "$CHECK_OUT"
# The same archive cut inside its data: CRITICAL naming the table.
head -c $(( $(stat -c %s "$OUT/pg/shop.dump") - 200 )) "$OUT/pg/shop.dump" >"$OUT/pg/shop-cut.dump"
chmod 0644 "$OUT/pg/shop-cut.dump"
check_as_nagios -f "$OUT/pg/shop-cut.dump"
expect_eq "check cut pg_dump -Fc: CRITICAL" 2 "$CHECK_RC"
expect_contains "check cut pg_dump -Fc: names the entry where it ends" "pg_dump custom archive incomplete: archive cut inside the data of " "$CHECK_OUT"

# pg_dump's backend terminated while it streams COPY public.log.
start_stalled "$OUT/pg-terminated.log" shop-terminated.sql.gz -- pg_dump shop
TERM_QUERY="SELECT pid FROM pg_stat_activity WHERE datname = 'shop'
  AND query LIKE 'COPY public.log %' AND wait_event = 'ClientWrite'"
pid=
for i in $(seq 1 300); do
    pid=$(psql -X -A -t -d postgres -c "$TERM_QUERY")
    if [[ -n $pid ]]; then
        sleep 0.5
        [[ $(psql -X -A -t -d postgres -c "$TERM_QUERY") == "$pid" ]] && break
    fi
    [[ $i -lt 300 ]] || die "pg_dump blocks inside COPY log"
    sleep 0.1
done
expect_eq "pg_terminate_backend($pid)" t "$(psql -X -A -t -d postgres -c "SELECT pg_terminate_backend($pid)")"
drain_stalled shop-terminated.sql.gz "$OUT/pg/shop-terminated.sql.gz"
chmod 0644 "$OUT/pg/shop-terminated.sql.gz"
expect_ok "terminated pg_dump: job exit status non-zero ($WRAP_RC)" test "$WRAP_RC" -ne 0
expect_ok "terminated pg_dump: the gzip stream is valid anyway (gzip -t)" gzip -t "$OUT/pg/shop-terminated.sql.gz"
check_as_nagios -f "$OUT/pg/shop-terminated.sql.gz"
expect_eq "check terminated pg_dump (dump alone): CRITICAL" 2 "$CHECK_RC"
expect_re "check terminated pg_dump (dump alone): no completion marker" \
    "^BACKUP CRITICAL - dump incomplete: no completion marker" "$(first_line "$CHECK_OUT")"
check_as_nagios -f "$OUT/pg/shop-terminated.sql.gz" -l "$OUT/pg-terminated.log" --marker pg_dump
expect_eq "check terminated pg_dump + log: CRITICAL" 2 "$CHECK_RC"
expect_re "check terminated pg_dump + log: job failed" \
    "^BACKUP CRITICAL - job failed with exit status $WRAP_RC .*dump incomplete: no completion marker" "$(first_line "$CHECK_OUT")"
expect_contains "check terminated pg_dump + log: quotes pg_dump's error" "pg_dump: error: " "$CHECK_OUT"

end_part
FINISHED=1
