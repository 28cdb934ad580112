//! `--schedule`: freshness judged by the job's own schedule (issue 14), over the real
//! mariadb-dump fixture dated relative to now.

use crate::util::*;
use std::path::{Path, PathBuf};

fn dated_dump(dir: &Path, age_secs: i64) -> PathBuf {
    let real =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/real/mariadb/shop.sql.gz");
    let path = dir.join("shop.sql.gz");
    std::fs::copy(real, &path).unwrap();
    set_age(&path, age_secs);
    path
}

#[test]
fn a_fresh_dump_delivers_the_last_due_run() {
    let dir = tempfile::tempdir().unwrap();
    let dump = dated_dump(dir.path(), 5 * MINUTE);
    let a = check(&dump, &["--schedule", "@hourly", "--grace", "10m"]);
    a.expect("OK");
    assert!(
        a.stdout.contains("[OK] schedule: last run due "),
        "{}",
        a.stdout
    );
    assert!(a.stdout.contains("delivered (dump "), "{}", a.stdout);
    assert_eq!(a.perf("overdue"), Some(0.0));
}

#[test]
fn missed_runs_are_warning_then_critical() {
    let dir = tempfile::tempdir().unwrap();
    // Hourly starts, due 10 minutes after: a dump 75 minutes old missed one or two runs.
    let dump = dated_dump(dir.path(), 75 * MINUTE);
    let args = [
        "--schedule",
        "0 * * * *",
        "--grace",
        "10m",
        "--missed-critical",
        "3",
    ];
    let a = check(&dump, &args);
    a.expect("WARNING").says("missed ");
    let overdue = a.perf("overdue").unwrap();
    assert!(overdue > 0.0 && overdue <= 65.0 * 60.0, "overdue {overdue}");
    // Five hours old: at least four runs missed.
    set_age(&dump, 5 * HOUR);
    check(&dump, &args)
        .expect("CRITICAL")
        .says("runs scheduled since");
}

#[test]
fn a_job_not_due_today_is_ok_beyond_the_fixed_thresholds() {
    // A weekly job on the weekday two days ago at midnight; its dump is 36 h old: far past
    // the default -w 26h, but the next run is not due before five days from now.
    let dir = tempfile::tempdir().unwrap();
    let dump = dated_dump(dir.path(), 36 * HOUR);
    let two_days_ago = chrono::Local::now() - chrono::Duration::days(2);
    let dow = chrono::Datelike::weekday(&two_days_ago).num_days_from_sunday();
    let weekly = format!("0 0 * * {dow}");
    let a = check(&dump, &["--schedule", &weekly]);
    a.expect("OK").says("1d 12h old");
    assert!(
        a.perf_item("age").unwrap().ends_with("s;;;0"),
        "no age limits: {}",
        a.first_line()
    );
    // An explicit -w still applies: the worse answer wins.
    check(&dump, &["--schedule", &weekly, "-w", "26h"])
        .expect("WARNING")
        .says("dump is 1d 12h old");
    // Without --schedule, the classic default thresholds.
    check(&dump, &[]).expect("WARNING");
}

#[test]
fn a_bad_schedule_is_a_usage_error() {
    let a = run(&["-f", "/nonexistent", "--schedule", "30 2 * *"]);
    a.expect("UNKNOWN").says("is not a 5-field cron expression");
}

/// The real wrapper log of a clean run, cut after its first `lines` lines (a run still
/// going), its timestamps moved to `started_ago` seconds before now.
fn run_log(dir: &Path, lines: usize, started_ago: i64) -> PathBuf {
    let real = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/real/logs/mariadb-clean.log"),
    )
    .unwrap();
    let started = chrono::Local::now() - chrono::Duration::seconds(started_ago);
    let stamp = started.format("%Y-%m-%d %H:%M:%S").to_string();
    let text: String = real
        .lines()
        .take(lines)
        .map(|l| format!("{}\n", l.replace("2026-11-26 01:36:28", &stamp)))
        .collect();
    let path = dir.join("backup.log");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn a_run_in_progress_is_ok_within_grace_and_a_stuck_run_warns() {
    let dir = tempfile::tempdir().unwrap();
    // Yesterday's dump, and tonight's run that has started but not finished.
    let dump = dated_dump(dir.path(), 23 * HOUR);
    let rules = [
        "--log-run-start",
        "INFO - starting ",
        "--log-success",
        "backup complete",
    ];
    let with_log = |log: &Path, extra: &[&str]| {
        let mut args = vec!["-l", log.to_str().unwrap()];
        args.extend_from_slice(&rules);
        args.extend_from_slice(extra);
        check(&dump, &args)
    };
    let log = run_log(dir.path(), 2, 12 * MINUTE);
    let a = with_log(&log, &[]);
    a.expect("OK");
    assert!(
        a.stdout.contains("[OK] log_run: run in progress since ") && a.stdout.contains(" (12m "),
        "{}",
        a.stdout
    );
    // No "the job did not finish", no "produced no dump": it is still running.
    assert!(!a.stdout.contains("did not finish"), "{}", a.stdout);
    assert!(!a.stdout.contains("produced no dump"), "{}", a.stdout);
    // Three hours on: a stuck job.
    let log = run_log(dir.path(), 2, 3 * HOUR);
    with_log(&log, &[])
        .expect("WARNING")
        .says("still not finished after 3h 0m (--grace 2h 0m): a stuck job?");
    with_log(&log, &["--grace", "4h"]).expect("OK");
    // The whole run, finished, its dump written an hour after it started: judged as ever.
    let log = run_log(dir.path(), 4, 3 * HOUR);
    set_age(&dump, 2 * HOUR);
    let done = with_log(&log, &[]);
    done.expect("OK");
    assert!(!done.stdout.contains("in progress"), "{}", done.stdout);
    // An error line in a run without its end: failed, not in progress.
    std::fs::write(
        &log,
        format!(
            "{}{} ERROR - mariadb-dump shop: Lost connection\n",
            std::fs::read_to_string(run_log(dir.path(), 2, 10 * MINUTE)).unwrap(),
            chrono::Local::now().format("%Y-%m-%d %H:%M:%S")
        ),
    )
    .unwrap();
    with_log(&log, &[]).expect("CRITICAL");
}

/// The real wrapper log's four lines as one run started `started_ago` seconds ago that
/// took `took` seconds (its first line stamped at the start, the others at the end).
fn one_run(started_ago: i64, took: i64) -> String {
    let real = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/real/logs/mariadb-clean.log"),
    )
    .unwrap();
    let start = chrono::Local::now() - chrono::Duration::seconds(started_ago);
    let end = start + chrono::Duration::seconds(took);
    real.lines()
        .enumerate()
        .map(|(i, l)| {
            let t = if i == 0 { start } else { end };
            format!(
                "{}\n",
                l.replace(
                    "2026-11-26 01:36:28",
                    &t.format("%Y-%m-%d %H:%M:%S").to_string()
                )
            )
        })
        .collect()
}

#[test]
fn a_run_that_finished_suspiciously_fast_is_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let dump = dated_dump(dir.path(), HOUR);
    // Four nights of about ten minutes, then tonight's run of 4 seconds.
    let mut text = String::new();
    for (night, took) in [(4, 600), (3, 540), (2, 660), (1, 610)] {
        text.push_str(&one_run(night * DAY + HOUR + 700, took));
    }
    text.push_str(&one_run(HOUR + 10, 4));
    let log = dir.path().join("backup.log");
    std::fs::write(&log, &text).unwrap();
    let args = |ratio: &'static str| {
        [
            "-l",
            log.to_str().unwrap(),
            "--log-run-start",
            "INFO - starting ",
            "--log-success",
            "backup complete",
            "--min-duration-ratio",
            ratio,
        ]
        .map(str::to_string)
    };
    let run = |ratio: &'static str| {
        let a = args(ratio);
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        check(&dump, &a)
    };
    run("0.2").expect("WARNING").says(
        "the last run took 4s, less than 0.2 x the median 10m 5s of the 4 earlier runs in the log: finished suspiciously fast",
    );
    // The rule off, or a ratio the run meets: OK.
    let ok = run("0.005");
    ok.expect("OK");
    assert!(
        ok.stdout
            .contains("[OK] log_run: run took 4s (median of the 4 earlier runs 10m 5s)"),
        "{}",
        ok.stdout
    );
    // Without --log-run-start the earlier runs cannot be told apart: a usage error.
    check(
        &dump,
        &["-l", log.to_str().unwrap(), "--min-duration-ratio", "0.2"],
    )
    .expect("UNKNOWN")
    .says("--min-duration-ratio needs -l and --log-run-start");
    check(&dump, &["--min-duration-ratio", "2"]).expect("UNKNOWN");
}
