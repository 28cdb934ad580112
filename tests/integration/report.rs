//! backup-report: the text, JSON and HTML reports over generated dumps (OK, stale, shrunk,
//! cut with a failed job's log, log warnings), the history file (append, window, corrupt
//! lines, concurrent writers), `--from DIR`, time limits, parallelism and the exit code.
//! (The HTML page in a real browser and `--icinga-api` against a real Icinga 2 are tested
//! by tests/e2e/report.sh.)

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use crate::api::{history, ConfigFile};
use crate::util::*;
use serde_json::Value;

struct Fixture {
    dir: tempfile::TempDir,
    config: PathBuf,
}

impl Fixture {
    fn path(&self) -> &Path {
        self.dir.path()
    }
    fn config(&self) -> &str {
        self.config.to_str().unwrap()
    }
    fn history(&self) -> String {
        self.path().join("history.jsonl").display().to_string()
    }
}

/// Runs backup-report with the fixture's cache directory.
fn report_env(f: &Fixture, args: &[&str], env: &[(&str, &str)]) -> Answer {
    Run::backup_report(args)
        .env("CHECK_BACKUP_CACHE_DIR", f.path().join("cache"))
        .envs(env)
        .output()
}

fn report(f: &Fixture, args: &[&str]) -> Answer {
    report_env(f, args, &[])
}

/// check_backup with the fixture's cache directory.
fn check_backup(f: &Fixture, args: &[&str]) -> Answer {
    Run::check_backup(args)
        .env("CHECK_BACKUP_CACHE_DIR", f.path().join("cache"))
        .output()
}

/// Five sets, one of each kind:
/// - `ok`: three similar dumps, the newest 3h old → OK
/// - `stale`: a complete dump written 3 days ago → CRITICAL
/// - `shrunk`: seven dumps of ~3000 rows, then one of 1000 → WARNING, size_change ≈ −65%
/// - `cut`: a gzip stream cut in half, and the job's log says why (with hostile text) → CRITICAL
/// - `logwarn`: a good dump, but the log has WARN lines → WARNING
fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    std::fs::create_dir(p.join("cache")).unwrap();
    let mk = |name: &str| {
        let d = p.join(name);
        std::fs::create_dir(&d).unwrap();
        d
    };
    let ok = mk("ok");
    for (i, age) in [(1, 51), (2, 27), (3, 3)] {
        write_aged(
            &ok,
            &format!("shop-{i}.sql.gz"),
            &gzip(&mysqldump(3000 + i * 7, true)),
            age * HOUR,
        );
    }
    let stale = mk("stale");
    write_aged(
        &stale,
        "pg-1.sql.gz",
        &gzip(&pg_dump(2000, true)),
        72 * HOUR,
    );
    let shrunk = mk("shrunk");
    for i in 0..7 {
        write_aged(
            &shrunk,
            &format!("db-{i}.sql.gz"),
            &gzip(&mysqldump(3000 + i * 11, true)),
            (8 - i as i64) * 24 * HOUR,
        );
    }
    write_aged(
        &shrunk,
        "db-9.sql.gz",
        &gzip(&mysqldump(1000, true)),
        2 * HOUR,
    );
    let cut = mk("cut");
    let whole = gzip(&mysqldump(4000, true));
    write_aged(&cut, "crm-1.sql.gz", &whole[..whole.len() / 2], 5 * HOUR);
    write_aged(
        p,
        "cut.log",
        b"INFO - starting mysqldump crm\nERROR - mysqldump: Got error: 2013: Lost connection to server <script>alert(1)</script> \x1b[31mred\x1b[0m\nINFO - mysqldump exited with 2\n",
        5 * HOUR - 30,
    );
    let logwarn = mk("logwarn");
    write_aged(
        &logwarn,
        "wiki-1.sql.gz",
        &gzip(&mysqldump(1500, true)),
        4 * HOUR,
    );
    write_aged(
        p,
        "logwarn.log",
        b"INFO - starting mysqldump wiki\nWARN - table `page` is larger than 1 GiB, dump is slow\nINFO - mysqldump exited with 0\n",
        4 * HOUR - 20,
    );
    let config = p.join("backups.toml");
    std::fs::write(
        &config,
        format!(
            r#"[defaults]
warning-age = "26h"
critical-age = "50h"

[set.ok]
dump = "{ok}/"

[set.stale]
dump = "{stale}/"

[set.shrunk]
dump = "{shrunk}/"

[set.cut]
dump = "{cut}/"
log = "{p}/cut.log"

[set.logwarn]
dump = "{logwarn}/"
log = "{p}/logwarn.log"
"#,
            ok = ok.display(),
            stale = stale.display(),
            shrunk = shrunk.display(),
            cut = cut.display(),
            logwarn = logwarn.display(),
            p = p.display(),
        ),
    )
    .unwrap();
    Fixture { dir, config }
}

fn json_report(f: &Fixture, extra: &[&str]) -> (Answer, Vec<Value>) {
    let mut args = vec!["--config", f.config(), "--format", "json", "--no-history"];
    args.extend_from_slice(extra);
    let out = report(f, &args);
    let v: Value = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}\n{}", out.stdout, out.stderr));
    let items = v.as_array().expect("an array").clone();
    (out, items)
}

fn states(items: &[Value]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|i| {
            (
                i["set"].as_str().unwrap().to_string(),
                i["state"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
    v.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

#[test]
fn json_is_check_backups_schema_plus_set_worst_first() {
    let f = fixture();
    let (out, items) = json_report(&f, &[]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert_eq!(
        states(&items),
        pairs(&[
            ("cut", "CRITICAL"),
            ("stale", "CRITICAL"),
            ("logwarn", "WARNING"),
            ("shrunk", "WARNING"),
            ("ok", "OK"),
        ])
    );
    // The same document as check_backup --config --set --output json, plus set and source.
    let direct = check_backup(
        &f,
        &["--config", f.config(), "--set", "ok", "--output", "json"],
    );
    let direct: Value = serde_json::from_str(&direct.stdout).unwrap();
    let ok = items.iter().find(|i| i["set"] == "ok").unwrap();
    let keys = |v: &Value| {
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    };
    let mut expected = keys(&direct);
    expected.extend(["set".to_string(), "source".to_string(), "drill".to_string()]);
    expected.sort();
    assert_eq!(keys(ok), expected);
    assert_eq!(ok["summary"], direct["summary"]);
    assert_eq!(ok["source"], "local");
    // No backup-drill ran for it: its last drill is null.
    assert_eq!(ok["drill"], Value::Null);
    assert!(ok.get("host").is_none(), "local sets carry no host");
    for key in [
        "plugin",
        "version",
        "checked_at",
        "exit_code",
        "file",
        "findings",
        "perfdata",
        "facts",
        "log_lines",
    ] {
        assert!(items.iter().all(|i| i.get(key).is_some()), "{key}");
    }
    let cut = &items[0];
    assert_eq!(cut["exit_code"], 2);
    assert!(cut["summary"]
        .as_str()
        .unwrap()
        .contains("gzip stream truncated"));
    assert_eq!(cut["log_lines"][0]["level"], "ERROR");
    let shrunk = items.iter().find(|i| i["set"] == "shrunk").unwrap();
    let change = shrunk["perfdata"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["label"] == "size_change")
        .unwrap()["value"]
        .as_f64()
        .unwrap();
    assert!((-75.0..=-55.0).contains(&change), "{change}");
}

#[test]
fn text_is_a_mail_worst_first_with_the_log_lines_quoted() {
    let f = fixture();
    let out = report(
        &f,
        &[
            "--config",
            f.config(),
            "--no-history",
            "--hostname",
            "db1.example.com",
        ],
    );
    assert_eq!(out.code, 2, "{}", out.stderr);
    let t = &out.stdout;
    let mut lines = t.lines();
    assert!(lines
        .next()
        .unwrap()
        .starts_with("Backup report for db1.example.com, "));
    assert_eq!(
        lines.next().unwrap(),
        "5 sets: 2 CRITICAL, 2 WARNING, 0 UNKNOWN, 1 OK"
    );
    // The table: worst first, with age, size, change and file.
    let table: Vec<&str> = t
        .lines()
        .skip_while(|l| !l.starts_with("STATE"))
        .take_while(|l| !l.is_empty())
        .collect();
    assert_eq!(table.len(), 6, "{t}");
    assert!(
        table[0].starts_with("STATE     SET      AGE"),
        "{}",
        table[0]
    );
    let first_words: Vec<(&str, &str)> = table[1..]
        .iter()
        .map(|l| {
            let mut w = l.split_whitespace();
            (w.next().unwrap(), w.next().unwrap())
        })
        .collect();
    assert_eq!(
        first_words,
        [
            ("CRITICAL", "cut"),
            ("CRITICAL", "stale"),
            ("WARNING", "logwarn"),
            ("WARNING", "shrunk"),
            ("OK", "ok"),
        ]
    );
    let stale = table.iter().find(|l| l.contains("stale")).unwrap();
    assert!(stale.contains("3d 0h"), "{stale}");
    assert!(stale.ends_with("pg-1.sql.gz"), "{stale}");
    let shrunk = table.iter().find(|l| l.contains("shrunk")).unwrap();
    assert!(
        shrunk.contains("-6") && shrunk.contains("%"),
        "size change shown: {shrunk}"
    );
    // Details: problems and quoted log lines; nothing raw from the files.
    assert!(t.contains("\nCRITICAL cut\n"), "{t}");
    assert!(
        t.contains("[CRITICAL] stream: gzip stream truncated"),
        "{t}"
    );
    assert!(t.contains("[CRITICAL] log_status: job failed with exit status 2"));
    assert!(
        t.contains("    > line 2 (ERROR) ERROR - mysqldump: Got error: 2013: Lost connection to server <script>alert(1)</script> \\x1b[31mred\\x1b[0m"),
        "{t}"
    );
    assert!(t.contains("    > line 2 (WARN) WARN - table `page` is larger than 1 GiB"));
    assert!(t.contains("[WARNING] size_trend: dump shrank"), "{t}");
    assert!(t.contains("[CRITICAL] age: dump is 3d 0h old"), "{t}");
    assert!(
        !t.contains("\nOK ok\n"),
        "OK sets without log lines have no details"
    );
    assert!(!t.contains('\u{1b}'), "no raw control characters");
}

#[test]
fn html_is_one_escaped_self_contained_page() {
    let f = fixture();
    // A set whose name and log are hostile.
    let mut config = std::fs::read_to_string(&f.config).unwrap();
    config.push_str(&format!(
        "\n[set.\"<img src=x onerror=alert(1)>\"]\ndump = \"{}/\"\nlog = \"{}/cut.log\"\n",
        f.path().join("ok").display(),
        f.path().display()
    ));
    std::fs::write(&f.config, config).unwrap();
    let page = f.path().join("www/report.html");
    std::fs::create_dir(f.path().join("www")).unwrap();
    let out = report(
        &f,
        &[
            "--config",
            f.config(),
            "--format",
            "html",
            "--output",
            page.to_str().unwrap(),
            "--history",
            &f.history(),
            "--hostname",
            "db1 & <co>",
        ],
    );
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert_eq!(out.stdout, "", "--output writes the file, not stdout");
    let h = std::fs::read_to_string(&page).unwrap();
    assert!(h.starts_with("<!DOCTYPE html>"));
    assert!(h.contains(r#"<meta name="viewport" content="width=device-width, initial-scale=1">"#));
    assert!(h.contains("Content-Security-Policy"));
    assert!(h.contains("@media (max-width:760px)"), "responsive CSS");
    // Self-contained: one inline script (the search box), allowed by its hash (see
    // fleet_report.rs), nothing loaded.
    assert_eq!(h.matches("<script").count(), 1);
    assert!(h.contains("<script>(function(){"));
    for banned in [
        "<script src",
        "<link",
        "src=\"http",
        "href=\"http",
        "url(",
        "@import",
    ] {
        assert!(!h.contains(banned), "{banned} in the page");
    }
    // One row per set, with its state class.
    let rows: Vec<&str> = h
        .lines()
        .filter(|l| l.starts_with("<tr class=\"set "))
        .collect();
    assert_eq!(rows.len(), 6, "{h}");
    let row = |set: &str| {
        *rows
            .iter()
            .find(|r| r.contains(&format!("data-set=\"{set}\"")))
            .unwrap_or_else(|| panic!("no row for {set}"))
    };
    assert!(row("cut").starts_with("<tr class=\"set state-critical\""));
    assert!(row("stale").starts_with("<tr class=\"set state-critical\""));
    assert!(row("shrunk").starts_with("<tr class=\"set state-warning\""));
    assert!(row("logwarn").starts_with("<tr class=\"set state-warning\""));
    assert!(row("ok").starts_with("<tr class=\"set state-ok\""));
    // Header: host, time, a count per state.
    assert!(h.contains("<span id=\"report-host\">db1 &amp; &lt;co&gt;</span>"));
    assert!(
        h.contains("data-state=\"CRITICAL\" data-count=\"3\""),
        "{h}"
    );
    assert!(h.contains("data-state=\"WARNING\" data-count=\"2\""));
    assert!(h.contains("data-state=\"UNKNOWN\" data-count=\"0\""));
    assert!(h.contains("data-state=\"OK\" data-count=\"1\""));
    // Sizes, change, sparkline, log problems.
    assert!(row("shrunk").contains("&minus;6"), "{}", row("shrunk"));
    assert!(row("shrunk").contains("c-change num bad"));
    assert!(row("ok").contains("<svg class=\"spark\""));
    assert!(row("cut").contains("<span class=\"lvl lvl-error\">ERROR</span> line 2:"));
    // Escaping: the hostile set name and log line are text, not markup.
    assert!(!h.contains("<img"), "raw tag from a set name");
    assert!(h.contains("data-set=\"&lt;img src=x onerror=alert(1)&gt;\""));
    assert!(h.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(h.contains("\\x1b[31mred"));
    assert!(
        !h.chars().any(|c| c.is_control() && c != '\n'),
        "no raw control characters"
    );
    // Written atomically: no temporary file left beside it.
    let names: Vec<_> = std::fs::read_dir(f.path().join("www"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names, ["report.html"]);
}

fn history_lines(f: &Fixture) -> Vec<Value> {
    std::fs::read_to_string(f.history())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or(Value::Null))
        .collect()
}

#[test]
fn history_is_appended_each_run_and_read_back_for_the_window() {
    let written = Instant::now();
    let f = fixture();
    let h = f.history();
    let args = [
        "--config",
        f.config(),
        "--history",
        &h,
        "--hostname",
        "db1",
        "--format",
        "html",
    ];
    let first = report(&f, &args);
    assert_eq!(first.code, 2);
    let lines = history_lines(&f);
    assert_eq!(lines.len(), 5);
    let ok = lines.iter().find(|l| l["set"] == "ok").unwrap();
    assert_eq!(ok["host"], "db1");
    assert_eq!(ok["state"], "OK");
    assert!(ok["size"].as_u64().unwrap() > 1000);
    assert!(ok["uncompressed_size"].as_u64().unwrap() > ok["size"].as_u64().unwrap());
    assert_age(ok["age"].as_f64().unwrap(), 3 * HOUR, written);
    assert!(chrono::DateTime::parse_from_rfc3339(ok["time"].as_str().unwrap()).is_ok());
    let stale = lines.iter().find(|l| l["set"] == "stale").unwrap();
    assert_eq!(stale["state"], "CRITICAL");

    // Old entries outside --days, a corrupt line, and an entry of another host.
    let old = chrono::Local::now() - chrono::Duration::days(40);
    let recent = chrono::Local::now() - chrono::Duration::days(2);
    let mut extra = String::new();
    extra.push_str(&format!(
        "{{\"time\":\"{}\",\"set\":\"ok\",\"host\":\"db1\",\"state\":\"OK\",\"size\":999999999,\"uncompressed_size\":null,\"age\":60}}\n",
        old.to_rfc3339()
    ));
    extra.push_str("{\"time\": \"2026-11-2\n");
    extra.push_str(&format!(
        "{{\"time\":\"{}\",\"set\":\"ok\",\"host\":\"db1\",\"state\":\"WARNING\",\"size\":5000,\"uncompressed_size\":null,\"age\":60}}\n",
        recent.to_rfc3339()
    ));
    extra.push_str(&format!(
        "{{\"time\":\"{}\",\"set\":\"ok\",\"host\":\"other\",\"state\":\"OK\",\"size\":5000,\"uncompressed_size\":null,\"age\":60}}\n",
        recent.to_rfc3339()
    ));
    let mut file = std::fs::OpenOptions::new().append(true).open(&h).unwrap();
    std::io::Write::write_all(&mut file, extra.as_bytes()).unwrap();
    drop(file);

    let second = report(&f, &args);
    assert_eq!(
        second.code, 2,
        "a corrupt history line does not change the state"
    );
    assert!(
        second.stderr.contains("skipped 1 corrupt line (line 7: "),
        "{}",
        second.stderr
    );
    assert!(second.stdout.contains("Notes on the report itself"));
    assert!(second.stdout.contains("skipped 1 corrupt line"));
    assert_eq!(history_lines(&f).len(), 5 + 4 + 5);
    // The ok sparkline: this run, the first run and the entry 2 days ago (not the one 40
    // days ago, not the other host's); the WARNING point is marked.
    let row = second
        .stdout
        .lines()
        .find(|l| l.contains("data-set=\"ok\""))
        .unwrap();
    assert!(row.contains("size over the last 30 days: 3 runs"), "{row}");
    assert!(
        row.contains("fill=\"#c98a00\""),
        "the WARNING run is marked: {row}"
    );
    // A wider window takes the old entry too.
    let mut wide = args.to_vec();
    wide.extend(["--days", "60"]);
    let third = report(&f, &wide);
    let row = third
        .stdout
        .lines()
        .find(|l| l.contains("data-set=\"ok\""))
        .unwrap();
    assert!(row.contains("size over the last 60 days: 5 runs"), "{row}");
    // --no-history leaves the file alone.
    let before = std::fs::read(&h).unwrap();
    report(&f, &["--config", f.config(), "--no-history"]);
    assert_eq!(std::fs::read(&h).unwrap(), before);
    // An unwritable history is a note, not a failure of the report.
    let bad = format!("{}/h.jsonl", f.config());
    let out = report(&f, &["--config", f.config(), "--history", &bad]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr
            .contains(&format!("history {bad}: cannot create its directory")),
        "{}",
        out.stderr
    );
}

/// A child process of the concurrency test (run by it, ignored otherwise): appends 200
/// entries, one run at a time, to the file named by REPORT_TEST_HISTORY.
#[test]
#[ignore]
fn history_writer_child() {
    let Ok(path) = std::env::var("REPORT_TEST_HISTORY") else {
        return;
    };
    let who = std::env::var("REPORT_TEST_WRITER").unwrap();
    // Long lines (> PIPE_BUF, several KiB): interleaving would show.
    let padding = "x".repeat(6000);
    for i in 0..200 {
        let entry = history::Entry {
            time: chrono::Local::now().to_rfc3339(),
            set: format!("{who}-{i}-{padding}"),
            host: who.clone(),
            state: "OK".into(),
            size: Some(i),
            uncompressed_size: None,
            age: Some(1.0),
        };
        history::append(Path::new(&path), &[entry]).unwrap();
    }
}

#[test]
fn concurrent_writers_never_corrupt_the_history() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("history.jsonl");
    // The child's name in this test binary: `report::history_writer_child`, or wherever
    // this module is.
    let child_test = format!(
        "{}::history_writer_child",
        module_path!().split_once("::").unwrap().1
    );
    let children: Vec<Running> = ["a", "b"]
        .iter()
        .map(|who| {
            let mut cmd = Command::new(std::env::current_exe().unwrap());
            cmd.args(["--exact", &child_test, "--ignored", "--test-threads=1"]);
            Run::command(cmd)
                .env("REPORT_TEST_HISTORY", &path)
                .env("REPORT_TEST_WRITER", who)
                .start()
        })
        .collect();
    for c in children {
        let out = c.finish();
        assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
        // The child really ran (a wrong name would run no test, and succeed).
        assert!(out.stdout.contains("1 passed"), "{}", out.stdout);
    }
    let text = std::fs::read_to_string(&path).unwrap();
    let read = history::read(&path, 0);
    assert!(read.notes.is_empty(), "{:?}", read.notes);
    assert_eq!(text.lines().count(), 400);
    assert_eq!(read.entries.len(), 400);
    for who in ["a", "b"] {
        let mut sizes: Vec<u64> = read
            .entries
            .iter()
            .filter(|e| e.host == who)
            .map(|e| e.size.unwrap())
            .collect();
        // Each writer's lines are all there, in its order.
        assert_eq!(sizes, (0..200).collect::<Vec<_>>());
        sizes.dedup();
        assert_eq!(sizes.len(), 200);
    }

    // The same through the binary: two report runs at a time, 15 times each.
    let f = fixture();
    std::fs::write(
        &f.config,
        format!(
            "[set.a]\ndump = \"{0}/none-a/\"\n[set.b]\ndump = \"{0}/none-b/\"\n",
            f.path().display()
        ),
    )
    .unwrap();
    let h = f.history();
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                for _ in 0..15 {
                    let out = report(&f, &["--config", f.config(), "--history", &h]);
                    assert_eq!(out.code, 2, "{}", out.stderr);
                }
            });
        }
    });
    let lines = history_lines(&f);
    assert_eq!(lines.len(), 60);
    assert!(lines.iter().all(|l| l["state"] == "CRITICAL"));
}

#[test]
fn results_of_other_hosts_come_from_a_directory() {
    let f = fixture();
    let fleet = f.path().join("fleet");
    std::fs::create_dir(&fleet).unwrap();
    // db2: what `check_backup --output json` wrote there.
    let out = check_backup(
        &f,
        &["--config", f.config(), "--set", "ok", "--output", "json"],
    );
    std::fs::write(fleet.join("db2.json"), &out.stdout).unwrap();
    // db3: a whole `backup-report --format json` of another host.
    let (_, items) = json_report(&f, &[]);
    std::fs::write(
        fleet.join("db3.json"),
        serde_json::to_string(&items).unwrap(),
    )
    .unwrap();
    // A file that names its host and set; a corrupt one; something else.
    std::fs::write(
        fleet.join("collected-1.json"),
        r#"{"host": "db4.example.com", "set": "pg", "state": "WARNING", "exit_code": 1, "summary": "dump is 1d 3h old", "file": "/var/backups/pg/shop.dump", "perfdata": [{"label": "age", "value": 97200}]}"#,
    )
    .unwrap();
    std::fs::write(fleet.join("db5.json"), "{\"state\": \"OK\", ").unwrap();
    std::fs::write(fleet.join("README"), "not a result").unwrap();

    // Fleet only: no --config, so no local sets.
    let out = report(
        &f,
        &[
            "--from",
            fleet.to_str().unwrap(),
            "--format",
            "json",
            "--no-history",
        ],
    );
    assert_eq!(out.code, 2, "{}", out.stderr);
    let items: Vec<Value> = serde_json::from_str(&out.stdout).unwrap();
    let seen: Vec<(String, String, String)> = items
        .iter()
        .map(|i| {
            (
                i["host"].as_str().unwrap().into(),
                i["set"].as_str().unwrap().into(),
                i["state"].as_str().unwrap().into(),
            )
        })
        .collect();
    let expect = |h: &str, s: &str, st: &str| (h.to_string(), s.to_string(), st.to_string());
    assert_eq!(
        seen,
        [
            expect("db3", "cut", "CRITICAL"),
            expect("db3", "stale", "CRITICAL"),
            expect("db3", "logwarn", "WARNING"),
            expect("db3", "shrunk", "WARNING"),
            expect("db4.example.com", "pg", "WARNING"),
            expect("db5", "backup", "UNKNOWN"),
            expect("db2", "backup", "OK"),
            expect("db3", "ok", "OK"),
        ]
    );
    assert!(items.iter().all(|i| i["source"] == "file"));
    let db5 = &items[5];
    assert!(db5["summary"]
        .as_str()
        .unwrap()
        .contains("db5.json: not JSON"));

    // With local sets: both, and the text report names the hosts.
    let out = report(
        &f,
        &[
            "--config",
            f.config(),
            "--from",
            fleet.to_str().unwrap(),
            "--no-history",
            "--hostname",
            "db1",
        ],
    );
    assert_eq!(out.code, 2);
    assert!(out.stdout.starts_with("Backup report for db1, "));
    assert!(
        out.stdout
            .contains("13 sets: 4 CRITICAL, 5 WARNING, 1 UNKNOWN, 3 OK"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("STATE     HOST             SET"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("\nWARNING pg on db4.example.com\n"),
        "{}",
        out.stdout
    );
    // The age from perfdata when the facts are missing.
    assert!(out
        .stdout
        .lines()
        .any(|l| l.starts_with("WARNING   db4.example.com  pg") && l.contains("1d 3h")));

    // A directory that cannot be read is UNKNOWN at least.
    let out = report(&f, &["--from", "/nonexistent", "--no-history"]);
    assert_eq!(out.code, 3);
    assert!(out
        .stdout
        .contains("--from /nonexistent: cannot read the directory"));
}

fn write_config(f: &Fixture, sets: &[&str]) {
    let mut text = String::new();
    for s in sets {
        text.push_str(&format!(
            "[set.{s}]\ndump = \"{}/\"\n",
            f.path().join(s).display()
        ));
        if *s == "cut" || *s == "logwarn" {
            text.push_str(&format!("log = \"{}/{s}.log\"\n", f.path().display()));
        }
    }
    std::fs::write(&f.config, text).unwrap();
}

#[test]
fn exit_code_is_the_worst_state() {
    let f = fixture();
    let code = |sets: &[&str]| {
        write_config(&f, sets);
        report(&f, &["--config", f.config(), "--no-history"]).code
    };
    assert_eq!(code(&["ok"]), 0);
    assert_eq!(code(&["ok", "shrunk"]), 1);
    assert_eq!(code(&["ok", "shrunk", "stale"]), 2);
    assert_eq!(code(&["ok", "shrunk", "cut", "logwarn"]), 2);

    // An unreadable or broken configuration: UNKNOWN, saying why, in the report too.
    let missing = f.path().join("missing.toml");
    let out = report(&f, &["--config", missing.to_str().unwrap(), "--no-history"]);
    assert_eq!(out.code, 3);
    assert!(out.stdout.contains("Notes on the report itself"));
    assert!(out
        .stdout
        .contains(&format!("config {}: cannot read", missing.display())));
    assert!(out.stderr.contains("cannot read"));
    std::fs::write(&f.config, "[set.a]\ndump = \"/x\"\nwarnig-age = \"1h\"\n").unwrap();
    let out = report(
        &f,
        &["--config", f.config(), "--format", "json", "--no-history"],
    );
    assert_eq!(out.code, 3);
    assert_eq!(out.stdout.trim(), "[]");
    assert!(
        out.stderr.contains("line 3, key 'warnig-age': unknown key"),
        "{}",
        out.stderr
    );
    std::fs::write(&f.config, "[defaults]\nwarning-age = \"1h\"\n").unwrap();
    let out = report(&f, &["--config", f.config(), "--no-history"]);
    assert_eq!(out.code, 3);
    assert!(out.stdout.contains("no backup sets"));
    // Bad arguments: UNKNOWN too; --help is not an alert.
    let out = report(&f, &["--format", "pdf"]);
    assert_eq!(out.code, 3);
    assert_eq!(report(&f, &["--help"]).code, 0);
}

#[test]
fn a_set_that_fails_or_hangs_is_unknown_and_does_not_hold_the_others() {
    let f = fixture();
    write_config(&f, &["ok", "cut"]);
    // check_backup that cannot be run, or prints no JSON.
    let out = report(
        &f,
        &[
            "--config",
            f.config(),
            "--no-history",
            "--check-backup",
            "/nonexistent/check_backup",
            "--format",
            "json",
        ],
    );
    assert_eq!(out.code, 3);
    let items: Vec<Value> = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(items.len(), 2);
    assert!(items.iter().all(|i| i["state"] == "UNKNOWN"));
    assert!(items[0]["summary"]
        .as_str()
        .unwrap()
        .contains("set cut: --check-backup /nonexistent/check_backup: no such file"));
    let out = report(
        &f,
        &[
            "--config",
            f.config(),
            "--no-history",
            "--check-backup",
            "/bin/false",
        ],
    );
    assert_eq!(out.code, 3);
    assert!(
        out.stdout.contains(
            "set ok: check_backup exited with 1 without a JSON result and printed nothing"
        ),
        "{}",
        out.stdout
    );

    // Four sets whose reads hang: each is killed at its own time limit, in parallel.
    write_config(&f, &["ok", "stale", "shrunk", "cut"]);
    let slow = [("CHECK_BACKUP_TEST_READ_DELAY_MS", "100000")];
    let no_cache = format!("{}/cache", f.config());
    let args = |jobs: &'static str| {
        vec![
            "--config".to_string(),
            f.config().to_string(),
            "--no-history".into(),
            "--timeout".into(),
            "1".into(),
            "--jobs".into(),
            jobs.into(),
            "--format".into(),
            "json".into(),
        ]
    };
    let run = |jobs| {
        let a = args(jobs);
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        let mut env = slow.to_vec();
        // No cache (a directory that cannot exist): every run decodes, and hangs.
        env.push(("CHECK_BACKUP_CACHE_DIR", no_cache.as_str()));
        report_env(&f, &a, &env)
    };
    let parallel = run("4");
    assert_eq!(parallel.code, 3, "{}", parallel.stderr);
    let items: Vec<Value> = serde_json::from_str(&parallel.stdout).unwrap();
    assert_eq!(items.len(), 4);
    for i in &items {
        assert_eq!(i["state"], "UNKNOWN");
        let s = i["summary"].as_str().unwrap();
        assert!(
            s.contains(&format!(
                "set {}: check_backup did not answer within 1s (killed",
                i["set"].as_str().unwrap()
            )),
            "{s}"
        );
    }
    let serial = run("1");
    assert_eq!(serial.code, 3);
    let items: Vec<Value> = serde_json::from_str(&serial.stdout).unwrap();
    assert_eq!(items.len(), 4);
    assert!(items.iter().all(|i| i["state"] == "UNKNOWN"), "{items:?}");

    // How many sets run at once, seen by their subprocesses: a wrapper around check_backup
    // notes, as it starts, how many wrappers are running, then waits until BARRIER of them
    // have started before it goes on. With --jobs 4, each of the four gets past a barrier
    // of 4 only if all four were started together (else the first waits until --timeout
    // kills it: UNKNOWN). With --jobs 1, each starts alone. The barrier counts starts, which
    // are never undone: counting the running ones raced with a wrapper that had already
    // finished before a slower one looked.
    let runs = f.path().join("runs");
    std::fs::create_dir(&runs).unwrap();
    let wrapper = f.path().join("check_backup_wrapper");
    std::fs::write(
        &wrapper,
        r#"#!/bin/sh
touch "$RUNS/running.$$" "$RUNS/started.$$"
ls "$RUNS" | grep -c '^running\.' >> "$RUNS/seen"
while [ "$(ls "$RUNS" | grep -c '^started\.')" -lt "$BARRIER" ]; do sleep 0.01; done
"$REAL" "$@"
code=$?
rm "$RUNS/running.$$"
exit $code
"#,
    )
    .unwrap();
    std::fs::set_permissions(
        &wrapper,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let wrapped = |jobs: &str, barrier: &str| {
        for entry in std::fs::read_dir(&runs).unwrap() {
            std::fs::remove_file(entry.unwrap().path()).unwrap();
        }
        let out = report_env(
            &f,
            &[
                "--config",
                f.config(),
                "--no-history",
                "--check-backup",
                wrapper.to_str().unwrap(),
                "--timeout",
                "60",
                "--jobs",
                jobs,
                "--format",
                "json",
            ],
            &[
                ("RUNS", runs.to_str().unwrap()),
                ("REAL", env!("CARGO_BIN_EXE_check_backup")),
                ("BARRIER", barrier),
            ],
        );
        let items: Vec<Value> = serde_json::from_str(&out.stdout).unwrap();
        assert_eq!(
            states(&items),
            pairs(&[
                ("cut", "CRITICAL"),
                ("stale", "CRITICAL"),
                ("shrunk", "WARNING"),
                ("ok", "OK"),
            ]),
            "--jobs {jobs}: {}",
            out.stdout
        );
        std::fs::read_to_string(runs.join("seen")).unwrap()
    };
    assert_eq!(wrapped("4", "4").lines().count(), 4);
    assert_eq!(
        wrapped("1", "1"),
        "1\n1\n1\n1\n",
        "--jobs 1 ran sets at once"
    );
    // A hanging set does not hide another set's CRITICAL (found without reading a dump).
    std::fs::write(
        &f.config,
        format!(
            "[set.gone]\ndump = \"{}/gone/\"\n[set.ok]\ndump = \"{}/\"\n",
            f.path().display(),
            f.path().join("ok").display()
        ),
    )
    .unwrap();
    let mixed = run("2");
    assert_eq!(mixed.code, 2, "CRITICAL outranks UNKNOWN: {}", mixed.stdout);
    let items: Vec<Value> = serde_json::from_str(&mixed.stdout).unwrap();
    assert_eq!(
        states(&items),
        pairs(&[("gone", "CRITICAL"), ("ok", "UNKNOWN")])
    );
}

#[test]
fn the_readmes_config_example_is_valid() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let section = readme
        .split("### Sets to report on")
        .nth(1)
        .expect("README has the configuration section");
    let toml = section
        .split("```toml\n")
        .nth(1)
        .and_then(|s| s.split("```").next())
        .expect("a toml block");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("backups.toml");
    std::fs::write(&path, toml).unwrap();
    let config = ConfigFile::load(&path).unwrap();
    assert_eq!(config.set_names(), ["crm", "shop", "wiki"]);
    // And the cron line names options that exist.
    assert!(readme.contains(
        "30 7 * * * root backup-report --config /etc/check_backup/backups.toml --format text | mail -s \"backup report\" ops@example.com"
    ));
}

/// A pg_backupcluster set (Debian's `/var/backups/postgresql/15-main`): one row for the
/// set, with the age of the older of its newest entries, and a row for each entry (its
/// state, age, size and name), in the text and in the HTML page.
#[test]
fn a_pg_backupcluster_set_shows_both_entries() {
    let real = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/real/pg_backupcluster");
    let dir = tempfile::tempdir().unwrap();
    let cluster = dir.path().join("15-main");
    let status = Command::new("cp")
        .arg("-a")
        .arg(real.join("healthy"))
        .arg(&cluster)
        .status()
        .unwrap();
    assert!(status.success());
    // The times the real runs left (status says when each ended).
    for (path, t) in read_mtimes(&real.join("MTIMES.tsv")) {
        if let Some(rest) = path.strip_prefix("healthy/") {
            filetime::set_file_mtime(cluster.join(rest), filetime::FileTime::from_unix_time(t, 0))
                .unwrap();
        }
    }
    // The base backup's config.tar.gz changed since: that entry is WARNING, the dump OK.
    set_age(&cluster.join("2026-12-01T172416Z.backup/config.tar.gz"), 60);
    std::fs::create_dir(dir.path().join("cache")).unwrap();
    let config = dir.path().join("backups.toml");
    std::fs::write(
        &config,
        format!(
            "[set.pg-main]\ndump = \"{}\"\nwarning-age = \"100000d\"\ncritical-age = \"100001d\"\n",
            cluster.display()
        ),
    )
    .unwrap();
    let f = Fixture {
        dir,
        config: config.clone(),
    };
    let out = report(&f, &["--config", f.config(), "--no-history"]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    let rows: Vec<Vec<&str>> = out
        .stdout
        .lines()
        .skip_while(|l| !l.starts_with("STATE"))
        .skip(1)
        .take_while(|l| !l.is_empty())
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(rows.len(), 3, "{}", out.stdout);
    assert_eq!(rows[0][0..2], ["WARNING", "pg-main"], "{}", out.stdout);
    assert_eq!(rows[0].last(), Some(&cluster.to_str().unwrap()));
    assert_eq!(rows[1][0..2], ["OK", "dump"], "{}", out.stdout);
    assert!(
        rows[1].ends_with(&["28", "KiB", "-", "2026-12-01T172419Z.dump"]),
        "{:?}",
        rows[1]
    );
    assert_eq!(rows[2][0..2], ["WARNING", "basebackup"], "{}", out.stdout);
    assert!(
        rows[2].ends_with(&["4.2", "MiB", "-", "2026-12-01T172416Z.backup"]),
        "{:?}",
        rows[2]
    );
    // The set's age is the older entry's (the base backup, 2 s older than the dump).
    assert_eq!(rows[0][2..4], rows[2][2..4], "{}", out.stdout);
    assert!(out
        .stdout
        .contains("config.tar.gz changed after the run ended"));
    let html = report(
        &f,
        &["--config", f.config(), "--no-history", "--format", "html"],
    );
    assert!(
        html.stdout
            .contains("<div class=\"sub\">dump 2026-12-01T172419Z.dump: OK, "),
        "{}",
        html.stdout
    );
    assert!(html
        .stdout
        .contains("<div class=\"sub\">basebackup 2026-12-01T172416Z.backup: WARNING, "));
    assert!(html.stdout.contains(" old, 4.2 MiB</div>"));
}

/// Issue 14, part 4: schedule and next run, restore points and RPO compliance in every
/// format. `points`: eight daily dumps (3 h to 7 d 3 h old), the one of 4 days ago cut,
/// `--restore-points 7/8d` (so every one is verified and cached), RPO = `-w 26h`;
/// `hourly`: one dump 10 minutes old on an `@hourly` schedule.
#[test]
fn schedule_restore_points_and_rpo_compliance_in_every_format() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    std::fs::create_dir(p.join("cache")).unwrap();
    let points = p.join("points");
    let hourly = p.join("hourly");
    std::fs::create_dir(&points).unwrap();
    std::fs::create_dir(&hourly).unwrap();
    for k in 0..8i64 {
        let whole = gzip(&mysqldump(2000 + k as usize, true));
        let bytes = if k == 4 {
            &whole[..whole.len() / 2]
        } else {
            &whole[..]
        };
        write_aged(
            &points,
            &format!("db-{k}.sql.gz"),
            bytes,
            3 * HOUR + k * 24 * HOUR,
        );
    }
    write_aged(
        &hourly,
        "app.sql.gz",
        &gzip(&mysqldump(500, true)),
        10 * MINUTE,
    );
    let config = p.join("backups.toml");
    std::fs::write(
        &config,
        format!(
            "[set.points]\ndump = \"{}/\"\nwarning-age = \"26h\"\nrestore-points = \"7/8d\"\n\n[set.hourly]\ndump = \"{}/\"\nschedule = \"@hourly\"\n",
            points.display(),
            hourly.display()
        ),
    )
    .unwrap();
    let f = Fixture { dir, config };

    // JSON: check_backup's facts (validated against the schema by the direct call).
    let direct = check_backup(
        &f,
        &[
            "--config",
            f.config(),
            "--set",
            "points",
            "--output",
            "json",
        ],
    );
    assert_eq!(direct.code, 1, "{}", direct.stdout);
    let (out, items) = json_report(&f, &[]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    let item = |set: &str| items.iter().find(|i| i["set"] == set).unwrap().clone();
    let pts = item("points");
    assert_eq!(pts["state"], "WARNING");
    assert_eq!(pts["facts"]["restore_points"].as_array().unwrap().len(), 8);
    let rpo = &pts["facts"]["rpo"];
    // Covered from 7d 3h ago to now but for the 22 h after the cut dump's predecessor
    // (5 d 3 h old) went past 26 h: 149 h of 171 h.
    assert_eq!(rpo["percent"], 87.1, "{rpo}");
    assert_eq!(rpo["basis"], "warning age");
    assert_eq!(rpo["rpo_seconds"], 93_600.0);
    assert_eq!(rpo["days"], 30);
    assert_eq!(
        (
            &rpo["good_dumps"],
            &rpo["bad_dumps"],
            &rpo["unverified_dumps"]
        ),
        (&Value::from(7), &Value::from(1), &Value::from(0))
    );
    assert!(pts["facts"]["schedule"].is_null());
    let hr = item("hourly");
    assert_eq!(hr["state"], "OK", "{}", hr["summary"]);
    // @hourly as the 5 fields it stands for.
    assert_eq!(hr["facts"]["schedule"]["expression"], "0 * * * *");
    let next =
        chrono::DateTime::parse_from_rfc3339(hr["facts"]["schedule"]["next_run"].as_str().unwrap())
            .unwrap();
    let ahead = next.timestamp() - chrono::Utc::now().timestamp();
    assert!((0..=3600).contains(&ahead), "next run in {ahead}s");
    assert_eq!(hr["facts"]["rpo"]["basis"], "schedule");
    assert_eq!(hr["facts"]["rpo"]["percent"], 100.0);
    assert!(hr["facts"]["restore_points"].is_null());

    // Text: the columns, and the details of the WARNING set.
    let out = report(&f, &["--config", f.config(), "--no-history"]);
    assert_eq!(out.code, 1);
    let t = &out.stdout;
    let header = t.lines().find(|l| l.starts_with("STATE")).unwrap();
    let columns: Vec<&str> = header
        .split("  ")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .collect();
    assert_eq!(
        columns,
        [
            "STATE",
            "SET",
            "AGE",
            "SIZE",
            "CHANGE",
            "NEXT RUN",
            "RESTORE POINTS",
            "RPO 30D",
            "FILE"
        ]
    );
    let row = |set: &str| {
        t.lines()
            .find(|l| l.split_whitespace().nth(1) == Some(set))
            .unwrap_or_else(|| panic!("no row {set} in\n{t}"))
    };
    assert!(row("points").contains("8 (1 bad), oldest 7d 3h"), "{t}");
    assert!(row("points").contains("87.1% of 7d 3h"), "{t}");
    assert!(row("hourly").contains("100.0% of 10m"), "{t}");
    assert!(
        t.contains("  restore points: 8 (1 bad), oldest 7d 3h\n    bad: "),
        "{t}"
    );
    assert!(t.contains("db-4.sql.gz: gzip stream truncated"), "{t}");
    assert!(
        t.contains("  RPO 30d: 87.1% of the time a good dump younger than 1d 2h (history on disk: 7d 3h; 1 bad, 0 unverified dumps)"),
        "{t}"
    );

    // HTML: the three columns.
    let out = report(
        &f,
        &["--config", f.config(), "--no-history", "--format", "html"],
    );
    let h = &out.stdout;
    assert!(
        h.contains("<th>Change</th><th>Schedule</th><th>Restore points</th><th>RPO 30d</th>"),
        "{h}"
    );
    let hrow = |set: &str| {
        h.lines()
            .find(|l| {
                l.starts_with("<tr class=\"set ") && l.contains(&format!("data-set=\"{set}\""))
            })
            .unwrap()
    };
    assert!(hrow("points").contains(
        "<td class=\"c-points num bad\" data-label=\"Restore points\">8 (1 bad), oldest 7d 3h"
    ));
    assert!(
        hrow("points").contains("data-rpo=\"87.1\">87.1%<div class=\"sub\">of 7d 3h on disk</div>")
    );
    assert!(
        hrow("points").contains("<td class=\"c-schedule\" data-label=\"Schedule\">&mdash;</td>")
    );
    assert!(hrow("hourly").contains("<code>0 * * * *</code><div class=\"sub\">next "));
    assert!(hrow("hourly").contains("data-rpo=\"100.0\""));
}
