#!/usr/bin/env python3
"""A fleet of check_backup results for bench/fleet.sh (issue 16, part 5): deterministic.

    gen_fleet.py results DIR SETS [--history FILE --days 30]
        DIR/<host>.json: one `backup-report --format json` array per host, 10 sets each
        (SETS/10 hosts; the last one fewer when SETS is not a multiple of 10), every document in check_backup's JSON schema; with --history, the
        history file a daily report would have written over DAYS days.
    gen_fleet.py icinga SETS
        one JSON object per line: {"host", "service", "exit_status", "plugin_output",
        "performance_data"} for Icinga 2's process-check-result (the same fleet as text).
    gen_fleet.py validate DIR SCHEMA
        validates every document of DIR against docs/check_backup-output.schema.json.

The mix is what a fleet looks like on a normal morning: about 93 % OK, 3 % WARNING (old,
shrunk, log warnings), 2 % CRITICAL (stale, cut, failed job with its log), 2 % UNKNOWN
(unreadable, no dump yet), with real-looking perfdata, findings, tables, log lines, and a
few very long host, set and file names and messages (the page must not break on them).
"""

import json
import random
import sys
from datetime import datetime, timedelta, timezone

SETS_PER_HOST = 10
SET_NAMES = [
    "mysql-shop", "mysql-crm", "pg-billing", "pg-wiki", "mysql-mail",
    "pg-analytics", "mysql-forum", "pg-erp", "mysql-sessions", "pg-ldap-sync",
]
DCS = ["fra1", "ams2", "par1", "lon3", "nyc1"]
NOW = datetime(2026, 12, 1, 7, 30, 0, tzinfo=timezone(timedelta(hours=1)))
TABLES = ["users", "orders", "order_items", "invoices", "payments", "products", "stock",
          "sessions", "audit_log", "settings", "addresses", "carts", "coupons", "reviews",
          "shipments", "tickets", "messages", "tags", "categories", "newsletter"]


def rfc3339(t):
    return t.isoformat(timespec="seconds")


def human(n):
    for unit in ["B", "KiB", "MiB", "GiB", "TiB"]:
        if n < 1024 or unit == "TiB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{n} B"
        n /= 1024


def dur(s):
    s = int(s)
    d, h, m = s // 86400, s % 86400 // 3600, s % 3600 // 60
    if d:
        return f"{d}d {h}h"
    if h:
        return f"{h}h {m}m"
    return f"{m}m {s % 60}s"


def hosts(n_sets):
    n = max(1, -(-n_sets // SETS_PER_HOST))
    out = []
    for i in range(n):
        name = f"db{i + 1:05d}.{DCS[i % len(DCS)]}.example.com"
        if i == 7:  # one host name far longer than any column
            name = "replica-" + "very-long-host-name-" * 6 + f"{i}.internal.example.com"
        out.append(name)
    return out


def set_name(i, j):
    name = SET_NAMES[j]
    if i == 3 and j == 4:
        name = "mysql-" + "a_rather_long_set_name_" * 5 + "without_spaces"
    return name


def pick_state(rnd):
    x = rnd.random()
    if x < 0.93:
        return "OK"
    if x < 0.96:
        return "WARNING"
    if x < 0.98:
        return "CRITICAL"
    return "UNKNOWN"


def document(i, j, host, st, rnd):
    """One set's check_backup --output json document plus set and host."""
    set_ = set_name(i, j)
    pg = set_.startswith("pg-")
    comp = ["gzip", "zstd", "xz", "gzip"][(i + j) % 4]
    ext = {"gzip": "gz", "zstd": "zst", "xz": "xz"}[comp]
    day = NOW.strftime("%Y-%m-%d")
    base = f"/var/backups/{'postgresql' if pg else 'mysql'}/{set_}"
    file = f"{base}/{set_}-{day}_0{rnd.randint(1, 5)}00.sql.{ext}"
    if i == 11 and j == 2:
        file = f"{base}/" + "deeply/nested/" * 12 + f"{set_}-{day}.sql.{ext}"
    size = rnd.randint(2 << 20, 40 << 30)
    raw = size * rnd.randint(5, 9)
    age = rnd.uniform(1.5, 20) * 3600
    change = rnd.uniform(-4, 6)
    warn_age, crit_age = 93600, 180000
    findings, log_lines = [], []
    log_errors = log_warnings = 0
    exit_status = 0
    kind = None
    if st == "WARNING":
        kind = rnd.choice(["old", "shrunk", "logwarn"])
        if kind == "old":
            age = rnd.uniform(27, 49) * 3600
        elif kind == "shrunk":
            change = -rnd.uniform(35, 80)
            size = int(size * (1 + change / 100))
        else:
            log_warnings = rnd.randint(1, 25)
    elif st == "CRITICAL":
        kind = rnd.choice(["stale", "cut", "failed"])
        if kind == "stale":
            age = rnd.uniform(51, 300) * 3600
        else:
            exit_status = 2 if kind == "failed" else 0
            log_errors = rnd.randint(1, 3)
    elif st == "UNKNOWN":
        kind = rnd.choice(["unreadable", "missing"])
    mtime = NOW - timedelta(seconds=age)
    name = file.rsplit("/", 1)[1]
    writer = "pg_dump" if pg else "mysqldump"
    tables = [{"name": t, "rows": rnd.randint(0, 4000)}
              for t in rnd.sample(TABLES, rnd.randint(6, 20))]
    facts = {
        "age_seconds": round(age, 3), "mtime": rfc3339(mtime), "size_bytes": size,
        "uncompressed_bytes": raw, "compression": comp, "writer": writer,
        "marker": "-- PostgreSQL database dump complete" if pg else f"-- Dump completed on {mtime:%Y-%m-%d %H:%M:%S}",
        "marker_date": None if pg else f"{mtime:%Y-%m-%d %H:%M:%S}",
        "checksum": None, "content_cached": False, "content_verified_at": None,
        "log": None, "databases": None, "entries": None, "sections": None,
        "tables": tables, "restore_points": None, "schedule": None,
        "rpo": {"basis": "warning age", "rpo_seconds": warn_age, "days": 30,
                "observed_seconds": 30 * 86400.0,
                "percent": 100.0 if st == "OK" else round(rnd.uniform(80, 99.5), 1),
                "good_dumps": 30, "bad_dumps": 0 if st == "OK" else 1, "unverified_dumps": 0},
    }
    if j % 3 == 0:
        facts["schedule"] = {"expression": "30 2 * * *", "grace_seconds": 7200.0,
                             "last_due": rfc3339(NOW.replace(hour=2, minute=30)),
                             "next_run": rfc3339(NOW.replace(hour=2, minute=30) + timedelta(days=1))}
    log_file = f"/var/log/backup/{set_}.log"
    if j % 2 == 0 or log_errors or log_warnings:
        facts["log"] = {"file": log_file, "age_seconds": round(age - 30, 3),
                        "exit_status": exit_status, "errors": log_errors,
                        "warnings": log_warnings, "lines": rnd.randint(20, 400),
                        "run_started": rfc3339(mtime - timedelta(seconds=300)),
                        "duration_seconds": 300.0}
    for k in range(min(log_warnings, 20)):
        log_lines.append({"level": "WARN", "line": 10 + k,
                          "text": f"{mtime:%Y-%m-%d %H:%M:%S} WARN - [child] {writer}: Warning: table "
                                  f"'{rnd.choice(TABLES)}' has no primary key; rows written in storage order"})
    for k in range(log_errors):
        log_lines.append({"level": "ERROR", "line": 40 + k,
                          "text": f"{mtime:%Y-%m-%d %H:%M:%S} ERROR - [child] {writer}: Error 2013: Lost "
                                  f"connection to server during query when dumping table "
                                  f"`{rnd.choice(TABLES)}` at row: {rnd.randint(1000, 90000)}"})

    def f(check, state, msg):
        findings.append({"check": check, "state": state, "message": msg})

    if kind in ("unreadable", "missing"):
        if kind == "unreadable":
            msg = f"cannot read {file}: Permission denied (os error 13); run check_backup as a user that can read it (e.g. add nagios to the group backup)"
        else:
            msg = f"no dump matches {base}/*.sql.{ext} (the directory is empty); is the backup job installed?"
        f("dump", "UNKNOWN", msg)
        summary = msg
        file_out = None
        for k in ["age_seconds", "mtime", "size_bytes", "uncompressed_bytes", "compression",
                  "writer", "marker", "marker_date", "tables", "rpo"]:
            facts[k] = None
        facts["log"] = None
        perf = []
    else:
        file_out = file
        f("dump", "OK", f"{name}: {human(size)}, {comp}, written by {writer}")
        a_state = "CRITICAL" if age >= crit_age else "WARNING" if age >= warn_age else "OK"
        f("age", a_state, f"{dur(age)} old" + ("" if a_state == "OK" else f" (warning at {dur(warn_age)}, critical at {dur(crit_age)})"))
        f("size", "OK", human(size))
        t_state = "WARNING" if change < -30 else "OK"
        f("size_trend", t_state, f"{change:+.1f}% against the median of the last 7 dumps" + (" (at most -30% allowed)" if t_state != "OK" else ""))
        if kind == "cut" or kind == "failed":
            f("stream", "CRITICAL", f"{comp} stream ends early at byte {rnd.randint(1 << 20, size)} of {size}: the file is cut (was the job killed, or the disk full?)")
            f("marker", "CRITICAL", f"dump incomplete: no completion marker ('{facts['marker']}' expected at its end)")
            facts["marker"] = None
            facts["marker_date"] = None
            facts["tables"] = None
        else:
            f("stream", "OK", f"{comp} stream whole, {human(raw)} decoded")
            f("marker", "OK", f"completion marker found: {facts['marker']}")
        if facts["log"]:
            if exit_status:
                f("log", "CRITICAL", f"{log_file}: job failed with exit status {exit_status}")
            if log_errors:
                f("log_errors", "CRITICAL", f"{log_file}: {log_errors} ERROR line{'s' if log_errors > 1 else ''}")
            if log_warnings:
                f("log_warnings", "WARNING", f"{log_file}: {log_warnings} WARN line{'s' if log_warnings > 1 else ''}")
            if not (exit_status or log_errors or log_warnings):
                f("log", "OK", f"{log_file}: run of {dur(300)}, exit status 0, no error")
        problems = [x for x in findings if x["state"] != "OK"]
        rank = {"CRITICAL": 3, "WARNING": 2, "UNKNOWN": 1, "OK": 0}
        problems.sort(key=lambda x: -rank[x["state"]])
        if problems:
            summary = f"{problems[0]['message']}; {name}: {dur(age)} old, {human(size)}"
        else:
            summary = f"{name}: {dur(age)} old, {human(size)}, complete ({writer} marker), {len(tables)} tables"
        perf = [
            {"label": "age", "value": round(age, 3), "uom": "s", "warn": str(warn_age), "crit": str(crit_age), "min": 0.0, "max": None},
            {"label": "size", "value": float(size), "uom": "B", "warn": None, "crit": None, "min": 0.0, "max": None},
            {"label": "uncompressed_size", "value": float(raw), "uom": "B", "warn": None, "crit": None, "min": 0.0, "max": None},
            {"label": "size_change", "value": round(change, 1), "uom": "%", "warn": "-30:", "crit": None, "min": None, "max": None},
        ]
        if facts["log"]:
            perf.append({"label": "log_age", "value": facts["log"]["age_seconds"], "uom": "s", "warn": None, "crit": None, "min": 0.0, "max": None})
            perf.append({"label": "duration", "value": 300.0, "uom": "s", "warn": None, "crit": None, "min": 0.0, "max": None})
    worst = max((x["state"] for x in findings), key=lambda s: {"CRITICAL": 3, "WARNING": 2, "UNKNOWN": 1, "OK": 0}[s])
    assert worst == st, (worst, st, findings)
    return {
        "plugin": "check_backup", "version": "0.9.0", "checked_at": rfc3339(NOW - timedelta(seconds=rnd.randint(0, 600))),
        "state": st, "exit_code": {"OK": 0, "WARNING": 1, "CRITICAL": 2, "UNKNOWN": 3}[st],
        "summary": summary, "file": file_out, "findings": findings, "perfdata": perf,
        "facts": facts, "log_lines": log_lines, "set": set_, "host": host, "source": "local",
    }


def fleet(n_sets):
    """Yields (host, [documents]) for the fleet of n_sets sets."""
    rnd = random.Random(16)
    for i, host in enumerate(hosts(n_sets)):
        count = min(SETS_PER_HOST, n_sets - i * SETS_PER_HOST)
        yield host, [document(i, j, host, pick_state(rnd), rnd) for j in range(count)]


def perf_text(p):
    def num(v):
        return "" if v is None else (str(int(v)) if float(v).is_integer() else str(v))
    label = p["label"] if " " not in p["label"] else f"'{p['label']}'"
    return f"{label}={num(p['value'])}{p['uom']};{p['warn'] or ''};{p['crit'] or ''};{num(p['min'])};{num(p['max'])}"


def plugin_output(doc):
    """The plugin's text as check_backup prints it (first line, findings, log lines)."""
    lines = [f"BACKUP {doc['state']} - {doc['summary']}"]
    rank = {"CRITICAL": 3, "WARNING": 2, "UNKNOWN": 1, "OK": 0}
    for x in sorted(doc["findings"], key=lambda x: -rank[x["state"]]):
        lines.append(f"[{x['state']}] {x['check']}: {x['message']}")
    for l in doc["log_lines"]:
        lines.append(f"log line {l['line']} ({l['level']}): {l['text']}")
    return "\n".join(lines)


def main():
    mode = sys.argv[1]
    if mode == "results":
        out, n = sys.argv[2], int(sys.argv[3])
        history = days = None
        if "--history" in sys.argv:
            history = sys.argv[sys.argv.index("--history") + 1]
            days = int(sys.argv[sys.argv.index("--days") + 1]) if "--days" in sys.argv else 30
        hist = open(history, "w") if history else None
        hrnd = random.Random(30)
        for host, docs in fleet(n):
            with open(f"{out}/{host}.json", "w") as fh:
                json.dump(docs, fh, indent=2)
                fh.write("\n")
            if hist:
                for d in range(days - 1, 0, -1):
                    t = rfc3339(NOW - timedelta(days=d))
                    for doc in docs:
                        size = doc["facts"]["size_bytes"]
                        size = None if size is None else int(size * (1 + hrnd.uniform(-0.03, 0.03) - d / 1000))
                        hist.write(json.dumps({"time": t, "set": doc["set"], "host": host, "state": "OK",
                                               "size": size, "uncompressed_size": None, "age": 3 * 3600.0},
                                              separators=(",", ":")) + "\n")
        if hist:
            hist.close()
    elif mode == "icinga":
        n = int(sys.argv[2])
        for host, docs in fleet(n):
            for doc in docs:
                print(json.dumps({"host": host, "service": doc["set"], "exit_status": doc["exit_code"],
                                  "plugin_output": plugin_output(doc),
                                  "performance_data": [perf_text(p) for p in doc["perfdata"]]}))
    elif mode == "validate":
        import glob
        import jsonschema
        schema = json.load(open(sys.argv[3]))
        v = jsonschema.Draft202012Validator(schema)
        n = 0
        for path in sorted(glob.glob(f"{sys.argv[2]}/*.json")):
            for doc in json.load(open(path)):
                doc = {k: x for k, x in doc.items() if k not in ("set", "host", "source")}
                v.validate(doc)
                n += 1
        print(f"{n} documents valid")
    else:
        sys.exit(f"unknown mode {mode}")


if __name__ == "__main__":
    main()
