//! The backup log: real logs written by a wrapper around real mariadb-dump and pg_dump runs
//! (tests/fixtures/real, see its README), and hand-made logs for the other shapes.

use crate::util::*;
use std::path::{Path, PathBuf};
use std::time::Instant;

fn real(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/real")
        .join(path)
}

fn log(path: &Path, extra: &[&str]) -> Answer {
    let mut args = vec!["-l", path.to_str().unwrap()];
    args.extend_from_slice(extra);
    run(&args)
}

fn fresh_copy(dir: &Path, src: &Path) -> PathBuf {
    let dest = dir.join(src.file_name().unwrap());
    std::fs::copy(src, &dest).unwrap();
    set_age(&dest, 10 * MINUTE);
    dest
}

#[test]
fn the_incident_log_is_critical_with_the_exit_line_first() {
    let dir = tempfile::tempdir().unwrap();
    let written = Instant::now();
    let path = fresh_copy(dir.path(), &real("logs/mariadb-killed.log"));
    let a = log(&path, &[]);
    a.expect("CRITICAL")
        .says("job failed with exit status 3")
        .says("exited with 3'")
        .says("Error 2013: Lost connection");
    // The exit status leads the summary.
    assert!(
        a.summary().starts_with("job failed with exit status 3"),
        "{}",
        a.summary()
    );
    assert_eq!(a.perf("log_errors"), Some(2.0));
    assert_eq!(a.perf("log_warnings"), Some(0.0));
    assert_eq!(a.perf_item("log_errors"), Some("2;;0;0"));
    assert_age(a.perf("log_age").unwrap(), 10 * MINUTE, written);
    assert!(a.stdout.contains("log line 3 (ERROR): "), "{}", a.stdout);
}

#[test]
fn the_incident_dump_and_log_together() {
    let dir = tempfile::tempdir().unwrap();
    let dump = fresh_copy(dir.path(), &real("mariadb/shop-killed.sql.gz"));
    let logf = fresh_copy(dir.path(), &real("logs/mariadb-killed.log"));
    let a = check(&dump, &["-l", logf.to_str().unwrap()]);
    a.expect("CRITICAL")
        .says("job failed with exit status 3")
        .says("no completion marker");
    assert!(
        a.summary().starts_with("job failed with exit status 3"),
        "{}",
        a.summary()
    );
    assert!(a.perf("size").is_some() && a.perf("log_errors") == Some(2.0));
}

#[test]
fn clean_runs_are_ok() {
    let dir = tempfile::tempdir().unwrap();
    for (dump, logf, writer) in [
        (
            "mariadb/shop-wrapper.sql.gz",
            "logs/mariadb-clean.log",
            "mysqldump",
        ),
        (
            "postgres/shop-wrapper.sql.gz",
            "logs/pg-clean.log",
            "pg_dump",
        ),
    ] {
        let d = fresh_copy(dir.path(), &real(dump));
        let l = fresh_copy(dir.path(), &real(logf));
        let a = check(
            &d,
            &[
                "-l",
                l.to_str().unwrap(),
                "--log-success",
                "backup complete",
            ],
        );
        a.expect("OK")
            .says(&format!("{writer} complete"))
            .says("exit status 0, 0 errors, 0 warnings");
        assert_eq!(a.perf("log_errors"), Some(0.0));
        assert!(a.perf("duration").is_some());
    }
}

#[test]
fn forced_dump_with_trailer_is_not_trusted_when_the_run_failed() {
    let dir = tempfile::tempdir().unwrap();
    let d = fresh_copy(dir.path(), &real("mariadb/shop-force.sql.gz"));
    // On its own the dump looks complete: mysqldump --force wrote the trailer.
    check(&d, &[]).expect("OK").says("mysqldump complete");
    let l = fresh_copy(dir.path(), &real("logs/mariadb-force.log"));
    let a = check(&d, &["-l", l.to_str().unwrap()]);
    a.expect("CRITICAL").says("job failed with exit status 2");
    assert!(a.stdout.contains("[CRITICAL] consistency: the dump has its completion marker but the job's last run failed"), "{}", a.stdout);
}

#[test]
fn terminated_pg_dump_and_warning_only_run() {
    let dir = tempfile::tempdir().unwrap();
    let l = fresh_copy(dir.path(), &real("logs/pg-terminated.log"));
    log(&l, &[])
        .expect("CRITICAL")
        .says("job failed with exit status 1")
        .says("pg_dump: error:");
    let l = fresh_copy(dir.path(), &real("logs/pg-warning.log"));
    let a = log(&l, &[]);
    a.expect("WARNING")
        .says("pg_dump: warning: there are circular foreign-key constraints");
    assert!(a.perf("log_warnings").unwrap() >= 1.0);
    assert_eq!(a.perf("log_errors"), Some(0.0));
    assert_eq!(
        a.perf_item("log_warnings").unwrap().split(';').nth(1),
        Some("0")
    );
}

fn write_log(dir: &Path, name: &str, content: &[u8]) -> PathBuf {
    write_aged(dir, name, content, 60)
}

#[test]
fn level_styles() {
    let dir = tempfile::tempdir().unwrap();
    let cases: &[(&str, &str, &str)] = &[
        ("syslog", "Nov 25 03:00:01 db1 backup[42]: starting\nNov 25 03:00:09 db1 backup[42]: ERROR - dump failed\n", "CRITICAL"),
        ("iso", "2026-11-25 03:00:01 INFO start\n2026-11-25T03:10:01+01:00 WARNING slow disk\n", "WARNING"),
        ("bracket", "[INFO] start\n[ERROR] cannot connect\n", "CRITICAL"),
        ("colon", "ERROR: permission denied for table x\n", "CRITICAL"),
        ("python", "2026-11-25 03:00:01,123 - backup - INFO - ok\nrc=0\n", "OK"),
        ("info-word", "INFO - mysqld --log-error=/var/log/mysql/error.log\nINFO - dumping table error_log\nINFO - exited with 0\n", "OK"),
        ("fatal-phrase", "INFO - gzip: stdout: No space left on device\n", "CRITICAL"),
        ("status-info", "INFO - backup.sh finished, exit code 4\n", "CRITICAL"),
    ];
    for (name, content, state) in cases {
        let path = write_log(dir.path(), name, content.as_bytes());
        log(&path, &[]).expect(state);
    }
}

#[test]
fn accumulated_runs_judge_only_the_last() {
    let dir = tempfile::tempdir().unwrap();
    let content = "\
2026-11-24 03:00:00 INFO - === backup started\n\
2026-11-24 03:00:05 ERROR - mysqldump exited with 2\n\
2026-11-25 03:00:00 INFO - === backup started\n\
2026-11-25 03:00:07 WARN - slow\n\
2026-11-25 03:12:00 INFO - mysqldump exited with 0\n";
    let path = write_log(dir.path(), "runs.log", content.as_bytes());
    let a = log(&path, &["--log-run-start", "=== backup started"]);
    a.expect("WARNING")
        .says("1 warning line in the log, first line 2:");
    assert_eq!(a.perf("duration"), Some(720.0));
    assert_eq!(a.perf("log_errors"), Some(0.0));
    // The whole file holds the old failure.
    log(&path, &[])
        .expect("CRITICAL")
        .says("exit status 0")
        .says("1 error line");
    // A pattern that never matches: the whole log, with a warning saying so.
    log(&path, &["--log-run-start", "^never$"])
        .expect("CRITICAL")
        .says("no line matches --log-run-start");
}

#[test]
fn success_line_is_required_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_log(
        dir.path(),
        "x.log",
        b"INFO - starting\nINFO - exited with 0\n",
    );
    log(&path, &["--log-success", "backup complete"])
        .expect("CRITICAL")
        .says("no line matching /backup complete/ in the last run");
    let path = write_log(
        dir.path(),
        "y.log",
        b"INFO - starting\nINFO - backup complete\n",
    );
    let a = log(&path, &["--log-success", "backup complete"]);
    a.expect("OK");
    // Met, it has its line in the long output like every other rule.
    assert!(
        a.stdout.contains(
            "[OK] log_success: success line /backup complete/ found (line 2: 'INFO - backup complete')"
        ),
        "{}",
        a.stdout
    );
}

#[test]
fn user_patterns_and_ignores() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_log(dir.path(), "x.log", b"rsync: connection unexpectedly closed\nERROR - harmless known thing\nnote: skipped table\n");
    log(
        &path,
        &[
            "--log-error",
            "unexpectedly closed",
            "--log-ignore",
            "harmless",
            "--log-warning",
            "skipped table",
        ],
    )
    .expect("CRITICAL")
    .says("1 error line in the log, first line 1: 'rsync: connection unexpectedly closed'");
    let a = log(&path, &["--log-ignore", "harmless"]);
    a.expect("OK");
    assert_eq!(a.perf("log_errors"), Some(0.0));
}

#[test]
fn odd_logs_crlf_huge_line_invalid_utf8() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_log(
        dir.path(),
        "crlf.log",
        b"INFO - start\r\nERROR - failed | badly\r\n",
    );
    let a = log(&path, &[]);
    a.expect("CRITICAL")
        .says("line 2: 'ERROR - failed ¦ badly'");
    assert_eq!(a.first_line().matches('|').count(), 1);
    let mut huge = b"INFO - start\n".to_vec();
    huge.extend(std::iter::repeat_n(b'x', 10 * 1024 * 1024));
    huge.extend_from_slice(b"\nWARN - after the huge line\n");
    let path = write_log(dir.path(), "huge.log", &huge);
    log(&path, &[])
        .expect("WARNING")
        .says("line 3: 'WARN - after the huge line'");
    let path = write_log(dir.path(), "bad.log", b"ERROR - caf\xe9 \xff\xfe\n");
    log(&path, &[])
        .expect("CRITICAL")
        .says("ERROR - caf\u{fffd} \u{fffd}\u{fffd}");
}

#[test]
fn empty_missing_unreadable_and_stale_logs() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_log(dir.path(), "empty.log", b"");
    log(&path, &[])
        .expect("CRITICAL")
        .says("is empty: the backup job wrote nothing");
    log(&dir.path().join("missing.log"), &[])
        .expect("CRITICAL")
        .says("does not exist");
    let path = write_aged(dir.path(), "old.log", b"INFO - exited with 0\n", 3 * DAY);
    log(&path, &[])
        .expect("CRITICAL")
        .says("log last written 3d 0h ago: the backup job has not run since");
    log(
        &path,
        &["--log-warning-age", "2d", "--log-critical-age", "4d"],
    )
    .expect("WARNING");
    let fifo = dir.path().join("fifo.log");
    assert!(std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    log(&fifo, &["-t", "5"])
        .expect("UNKNOWN")
        .says("not a regular file");
}

#[test]
fn unreadable_log_is_unknown() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let path = write_log(dir.path(), "secret.log", b"INFO - exited with 0\n");
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let a = Run::check_backup_unprivileged(&["-l", path.to_str().unwrap()]).output();
    a.expect("UNKNOWN");
    assert!(
        a.stdout
            .starts_with("BACKUP UNKNOWN - permission denied reading "),
        "{}",
        a.stdout
    );
    if is_root() {
        assert!(a.stdout.contains("as user nobody"), "{}", a.stdout);
    }
}

#[test]
fn a_run_that_started_after_the_dump_produced_no_dump() {
    let dir = tempfile::tempdir().unwrap();
    let dump = write_aged(dir.path(), "db.sql.gz", &gzip(&mysqldump(100, true)), HOUR);
    // Timestamped run that started 30 minutes ago, i.e. after the dump was written.
    let started = chrono::Local::now() - chrono::Duration::minutes(30);
    let content = format!(
        "{} INFO - === backup started\n{} INFO - exited with 0\n",
        started.format("%Y-%m-%d %H:%M:%S"),
        (started + chrono::Duration::minutes(1)).format("%Y-%m-%d %H:%M:%S")
    );
    let logf = write_log(dir.path(), "job.log", content.as_bytes());
    check(&dump, &["-l", logf.to_str().unwrap()])
        .expect("CRITICAL")
        .says("produced no dump: the newest dump was written 30m ");
    // Without timestamps, the log's mtime decides, with --log-dump-slack.
    let plain = write_aged(dir.path(), "plain.log", b"INFO - exited with 0\n", 60);
    check(&dump, &["-l", plain.to_str().unwrap()]).expect("OK");
    check(
        &dump,
        &["-l", plain.to_str().unwrap(), "--log-dump-slack", "30m"],
    )
    .expect("CRITICAL")
    .says("the log was written 59m");
}

#[test]
fn json_carries_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let path = fresh_copy(dir.path(), &real("logs/mariadb-killed.log"));
    let a = log(&path, &["--output", "json"]);
    assert_eq!(a.code, 2);
    let v: serde_json::Value = serde_json::from_str(&a.stdout).unwrap();
    assert_eq!(v["state"], "CRITICAL");
    assert_eq!(v["facts"]["log"]["exit_status"], 3);
    assert_eq!(v["facts"]["log"]["errors"], 2);
    assert_eq!(v["log_lines"][0]["level"], "ERROR");
    assert!(v["log_lines"][0]["text"]
        .as_str()
        .unwrap()
        .contains("Lost connection"));
    assert_eq!(v["file"], serde_json::Value::Null);
}

#[test]
fn dump_or_log_is_required() {
    run(&["-w", "1h"])
        .expect("UNKNOWN")
        .says("invalid arguments");
}
