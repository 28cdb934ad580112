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
