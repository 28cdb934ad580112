//! Many dumps at once (issue 16, part 3): `--per-database` and `--restore-points` read the
//! dumps ahead on several threads; every verdict, message and the output order must be
//! exactly those of reading them one after another (`CHECK_BACKUP_THREADS=1`, the knob
//! kept for tests and benchmarks). Over copies of the real fixtures, cut and killed ones
//! among them, in text and in JSON.

use crate::util::*;
use std::path::{Path, PathBuf};

fn real(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/real")
        .join(name)
}

/// The real mariadb dump as the night `i` days ago would have written it (its trailer
/// carries that night's date, so no two nights are identical), gzip-compressed.
fn night(i: i64) -> Vec<u8> {
    let sql = std::fs::read_to_string(real("mariadb/shop.sql")).unwrap();
    let date = format!("2026-11-{:02}  1:36:28", 26 - i.min(25));
    gzip(sql.replace("2026-11-26  1:36:28", &date).as_bytes())
}

/// The newest dump of each database: real fixtures, whole, cut, killed, in every format.
const NEWEST: [&str; 12] = [
    "postgres/shop.sql.gz",
    "postgres/shop-terminated.sql.gz",
    "formats/mysql-shop-cut.tar.gz",
    "formats/mysql-shop-killed.tar.gz",
    "formats/mysql-shop.tar.zst",
    "formats/shop.Fc.dump",
    "formats/shop.Fc.cut-5649.dump",
    "mariadb/all-databases.sql.gz",
    "mariadb/shop-truncated.sql.gz",
    "mariadb/shop-killed.sql.gz",
    "mariadb/shop.sql.bz2",
    "mariadb/shop.sql.xz",
];

/// `<root>/db<i>/`: the newest dump (two hours old) and two earlier nights (one of them,
/// for every third database, the real cut dump).
fn databases(root: &Path) {
    for (i, fixture) in NEWEST.iter().enumerate() {
        let dir = root.join(format!("db{i:02}"));
        std::fs::create_dir_all(&dir).unwrap();
        let name = Path::new(fixture).file_name().unwrap().to_str().unwrap();
        let newest = dir.join(format!("new-{name}"));
        std::fs::copy(real(fixture), &newest).unwrap();
        set_age(&newest, 2 * HOUR + 10);
        for night_i in 1..3 {
            let path = dir.join(format!("night-{night_i}.sql.gz"));
            if i % 3 == 0 && night_i == 2 {
                std::fs::copy(real("mariadb/shop-truncated.sql.gz"), &path).unwrap();
            } else {
                std::fs::write(&path, night(night_i)).unwrap();
            }
            set_age(&path, night_i * DAY + HOUR);
        }
    }
}

/// The answer with what moves on between two runs blanked: the ages, the time of the
/// check, the time RPO compliance was observed over.
fn without_ages(text: &str) -> String {
    if text.starts_with('{') {
        let mut doc: serde_json::Value = serde_json::from_str(text).unwrap();
        blank(&mut doc);
        return serde_json::to_string_pretty(&doc).unwrap();
    }
    let perf = regex::Regex::new(r"age=[0-9]+s").unwrap();
    perf.replace_all(text, "age=Ns").into_owned()
}

fn blank(v: &mut serde_json::Value) {
    use serde_json::Value;
    match v {
        Value::Object(map) => {
            let is_age = map
                .get("label")
                .and_then(Value::as_str)
                .is_some_and(|l| l.ends_with("age"));
            for (key, value) in map.iter_mut() {
                match key.as_str() {
                    "age_seconds" | "checked_at" | "observed_seconds" => *value = Value::Null,
                    "value" if is_age => *value = Value::Null,
                    _ => blank(value),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(blank),
        _ => {}
    }
}

/// Runs `args` with `threads` threads (a fresh cache each time: every dump is read).
fn with_threads(args: &[&str], threads: &str) -> Answer {
    run_env(args, &[("CHECK_BACKUP_THREADS", threads)])
}

/// Both runs give the same answer, exactly (ages aside).
fn same(args: &[&str]) -> Answer {
    let one = with_threads(args, "1");
    let many = with_threads(args, "4");
    assert_eq!(one.code, many.code, "{}\n---\n{}", one.stdout, many.stdout);
    let (a, b) = (without_ages(&one.stdout), without_ages(&many.stdout));
    for (n, (x, y)) in a.lines().zip(b.lines()).enumerate() {
        assert_eq!(x, y, "line {n}: one thread vs four");
    }
    assert_eq!(a, b, "one thread vs four");
    many
}

#[test]
fn per_database_verdicts_are_the_same_on_one_and_on_many_threads() {
    let tmp = tempfile::tempdir().unwrap();
    databases(tmp.path());
    let root = tmp.path().to_str().unwrap();
    let base = ["-f", root, "--per-database", "^(db[0-9]+)/"];
    let text = same(&base);
    text.expect("CRITICAL")
        .says("db01: dump incomplete: no completion marker");
    // Every database has its line, in the order of their names, each with its verdict.
    let lines: Vec<&str> = text.stdout.lines().skip(1).collect();
    assert_eq!(lines.len(), NEWEST.len(), "{}", text.stdout);
    for (i, line) in lines.iter().enumerate() {
        assert!(line.contains(&format!("database: db{i:02}: ")), "{line}");
    }
    for (i, state) in [
        (0, "[OK]"),
        (2, "[CRITICAL]"),
        (3, "[CRITICAL]"),
        (5, "[WARNING]"),
        (6, "[CRITICAL]"),
        (8, "[CRITICAL]"),
        (9, "[CRITICAL]"),
        (10, "[OK]"),
    ] {
        assert!(lines[i].starts_with(state), "{}", lines[i]);
    }
    // The dumps were read ahead on other threads (said with -v), not one after another.
    let mut verbose = base.to_vec();
    verbose.push("-v");
    let ahead = "read ahead on another thread";
    let many = with_threads(&verbose, "4");
    assert!(many.stdout.matches(ahead).count() >= 6, "{}", many.stdout);
    let one = with_threads(&verbose, "1");
    assert!(!one.stdout.contains(ahead), "{}", one.stdout);
    let mut json = base.to_vec();
    json.extend(["--output", "json"]);
    let json = same(&json);
    assert_eq!(json.code, 2);
    assert!(
        json.stdout.contains("\"state\": \"CRITICAL\""),
        "{}",
        json.stdout
    );
    assert!(json.stdout.contains("\"databases\": ["), "{}", json.stdout);
    let mut points = base.to_vec();
    points.extend(["--restore-points", "3", "--output", "json"]);
    let points = same(&points);
    assert_eq!(points.code, 2);
    assert!(
        points
            .stdout
            .contains("db00: only 2 good restore points (need 3)"),
        "{}",
        points.stdout
    );
}

#[test]
fn restore_points_are_the_same_on_one_and_on_many_threads() {
    let tmp = tempfile::tempdir().unwrap();
    // Nine nights, two of them cut, one killed.
    for i in 0..9 {
        let path = tmp.path().join(format!("shop-{i}.sql.gz"));
        match i {
            3 | 6 => std::fs::copy(real("mariadb/shop-truncated.sql.gz"), &path).map(|_| ()),
            5 => std::fs::copy(real("mariadb/shop-killed.sql.gz"), &path).map(|_| ()),
            _ => std::fs::write(&path, night(i)),
        }
        .unwrap();
        set_age(&path, i * DAY + HOUR);
    }
    let dir = tmp.path().to_str().unwrap();
    let args = ["-f", dir, "--restore-points", "9"];
    same(&args)
        .expect("CRITICAL")
        .says("only 6 good restore points (need 9)");
    let many = with_threads(&["-f", dir, "--restore-points", "9", "-v"], "4");
    assert!(
        many.stdout.matches("read ahead on another thread").count() >= 4,
        "{}",
        many.stdout
    );
    let json = same(&["-f", dir, "--restore-points", "9", "--output", "json"]);
    assert_eq!(json.code, 2);
    assert!(
        json.stdout.contains("\"restore_points\": ["),
        "{}",
        json.stdout
    );
}

/// The pid in "(pid N" of the answer's first line; the background verifier it names is
/// stopped (the test needs only its answer).
fn stop_background(answer: &Answer) {
    let pid: i32 = answer
        .first_line()
        .split_once("pid ")
        .and_then(|(_, rest)| rest.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no pid in {}", answer.first_line()));
    // SAFETY: kill(2) on the verifier this test's check started.
    unsafe {
        libc::kill(pid, libc::SIGKILL);
    }
}

#[test]
fn the_time_limit_hands_over_while_dumps_are_read_ahead() {
    let tmp = tempfile::tempdir().unwrap();
    // Reads slowed to 100 ms each (debug-build test seam): seconds of reading per dump
    // against a 0.5 s limit, whatever the machine's speed.
    let slow = [
        ("CHECK_BACKUP_TEST_READ_DELAY_MS", "100"),
        ("CHECK_BACKUP_THREADS", "4"),
    ];
    let big = gzip(&mysqldump(400_000, true));
    for db in ["crm", "shop", "wiki"] {
        std::fs::create_dir(tmp.path().join(db)).unwrap();
        write_aged(&tmp.path().join(db), &format!("{db}.sql.gz"), &big, HOUR);
    }
    let root = tmp.path().to_str().unwrap();
    let a = run_env(
        &["-f", root, "--per-database", "^([a-z]+)/", "-t", "0.5"],
        &slow,
    );
    a.expect("UNKNOWN")
        .says("content verification in progress (")
        .says("continuing in the background (pid ");
    stop_background(&a);
    // Restore points read ahead: the answer says how many were done.
    let set = tmp.path().join("points");
    std::fs::create_dir(&set).unwrap();
    for i in 1..4 {
        write_aged(&set, &format!("crm-{i}.sql.gz"), &big, i * DAY + HOUR);
    }
    let small = night(0);
    write_aged(&set, "crm.sql.gz", &small, HOUR);
    let b = run_env(
        &[
            "-f",
            set.to_str().unwrap(),
            "--restore-points",
            "4/5d",
            "--max-shrink",
            "0",
            "-t",
            "0.5",
        ],
        &slow,
    );
    b.expect("UNKNOWN")
        .says("verifying restore points in the background, 1 of 4 done")
        .says("pid ");
    stop_background(&b);
}
