//! Backups being written, files rotated under the check, reads that never return.

use crate::util::*;
use std::io::Write;
use std::time::Instant;

#[test]
fn a_fresh_dump_is_in_progress_and_the_previous_one_is_judged() {
    let dir = tempfile::tempdir().unwrap();
    let written = Instant::now();
    write_aged(
        dir.path(),
        "db-1.sql.gz",
        &gzip(&mysqldump(1000, true)),
        25 * HOUR,
    );
    // Being written: cut in the middle, modified 10 s ago.
    let full = gzip(&mysqldump(1000, true));
    write_aged(dir.path(), "db-2.sql.gz", &full[..full.len() / 2], 10);
    let a = check(dir.path(), &[]);
    a.expect("WARNING")
        .says("backup in progress: db-2.sql.gz was modified 1")
        .says("s ago (less than --settle 2m 0s)")
        .says("db-1.sql.gz: 1d 1h old");
    assert!(
        a.stdout.contains("[OK] marker: mysqldump complete"),
        "{}",
        a.stdout
    );
    assert!(
        !a.stdout.contains("truncated"),
        "the unfinished file is not judged: {}",
        a.stdout
    );
    // The previous dump's age.
    assert_age(a.perf("age").unwrap(), 25 * HOUR, written);
    check(dir.path(), &["--in-progress-state", "critical"]).expect("CRITICAL");
    // The previous dump's own problems still count.
    set_age(&dir.path().join("db-1.sql.gz"), 60 * HOUR);
    check(dir.path(), &[])
        .expect("CRITICAL")
        .says("previous dump: dump is 2d 12h old");
    // With the rule off, the cut file is judged, and found cut.
    check(dir.path(), &["--settle", "0"])
        .expect("CRITICAL")
        .says("gzip stream truncated");
}

#[test]
fn a_fresh_single_file_is_in_progress_never_ok() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_aged(dir.path(), "db.sql.gz", &gzip(&mysqldump(100, true)), 5);
    let a = check(&path, &[]);
    a.expect("WARNING").says("backup in progress");
    assert!(a.perf("size").is_some() && a.perf("age").is_some());
    assert!(
        !a.stdout.contains("[OK] marker"),
        "content not vouched for: {}",
        a.stdout
    );
}

#[test]
fn a_temporary_file_beside_the_dump_means_a_new_one_is_being_written() {
    let dir = tempfile::tempdir().unwrap();
    write_aged(
        dir.path(),
        "db.sql.gz",
        &gzip(&mysqldump(100, true)),
        20 * HOUR,
    );
    write_aged(dir.path(), "db.sql.gz.part", b"\x1f\x8b partial", 3);
    let a = check(dir.path(), &[]);
    a.expect("WARNING")
        .says("backup in progress: db.sql.gz.part is being written")
        .says("db.sql.gz: 20h 0m old");
    assert!(a.stdout.contains("[OK] marker"), "{}", a.stdout);
    // Named file, rsync-style temporary name beside it.
    let dir2 = tempfile::tempdir().unwrap();
    let dump = write_aged(
        dir2.path(),
        "db.sql.gz",
        &gzip(&mysqldump(100, true)),
        20 * HOUR,
    );
    write_aged(dir2.path(), ".db.sql.gz.Xy12Zq", b"partial", 1);
    check(&dump, &[])
        .expect("WARNING")
        .says(".db.sql.gz.Xy12Zq is being written");
    // An old leftover temporary file is not "in progress".
    set_age(&dir2.path().join(".db.sql.gz.Xy12Zq"), 3 * HOUR);
    check(&dump, &[]).expect("OK");
}

#[test]
fn a_dump_growing_during_the_check_is_in_progress() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_aged(
        dir.path(),
        "db.sql.gz",
        &gzip(&mysqldump(100_000, true)),
        HOUR,
    );
    let size = std::fs::metadata(&path).unwrap().len();
    // Each read of the dump waits 300 ms (debug-build seam): the reading takes a while.
    let args = ["-f", path.to_str().unwrap(), "--no-cache"];
    let mut plugin = Run::check_backup(&args)
        .env("CHECK_BACKUP_TEST_READ_DELAY_MS", "300")
        .start();
    // A file offset past 0: the plugin has opened the dump, taken its size and begun to read.
    let reading = "check_backup reading the dump";
    wait_for(reading, || {
        plugin.assert_running(reading);
        open_file(plugin.id(), &path).is_some_and(|f| f.pos > 0)
    });
    let more = gzip(b"more rows\n");
    std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap()
        .write_all(&more)
        .unwrap();
    // And, after the append, it has still not read up to the old end of the file: the
    // append happened in the middle of its reading, whatever the machine's speed.
    let reading = open_file(plugin.id(), &path);
    assert!(
        reading.is_some_and(|f| f.pos < size),
        "the test's premise failed: check_backup was no longer reading when the dump grew ({reading:?}, size {size})"
    );
    plugin
        .finish()
        .expect("WARNING")
        .says("backup in progress: ")
        .says(&format!(
            "changed while being read (size {size} -> {})",
            size + more.len() as u64
        ));
}

#[test]
fn a_dump_rotated_away_is_looked_for_again() {
    let dir = tempfile::tempdir().unwrap();
    write_aged(
        dir.path(),
        "db-1.sql.gz",
        &gzip(&mysqldump(100, true)),
        30 * HOUR,
    );
    let newest = write_aged(
        dir.path(),
        "db-2.sql.gz",
        &gzip(&mysqldump(100, true)),
        5 * HOUR,
    );
    let args = ["-f", dir.path().to_str().unwrap(), "-v"];
    let mut plugin = Run::check_backup(&args)
        .env("CHECK_BACKUP_TEST_PAUSE_AFTER_DISCOVERY_MS", "1000")
        .start();
    // The pause after discovery (debug-build seam) is the only sleep of the plugin's main
    // thread: once it sleeps, it has chosen db-2 and not opened it yet.
    let pausing = "check_backup pausing after discovery";
    wait_for(pausing, || {
        plugin.assert_running(pausing);
        main_thread_sleeps(plugin.id())
    });
    std::fs::remove_file(&newest).unwrap();
    write_aged(
        dir.path(),
        "db-3.sql.gz",
        &gzip(&mysqldump(100, false)),
        4 * HOUR,
    );
    assert!(
        main_thread_sleeps(plugin.id()),
        "the test's premise failed: check_backup's pause ended before the rotation did"
    );
    let a = plugin.finish();
    // It reports on the file it actually read: the new newest dump, which is cut.
    a.expect("CRITICAL")
        .says("db-3.sql.gz")
        .says("no completion marker");
    assert!(
        a.stdout
            .contains("db-2.sql.gz vanished before it could be read: looking again"),
        "{}",
        a.stdout
    );
    assert!(!a.first_line().contains("db-2"), "{}", a.first_line());
}

/// Whether the main thread of process `pid` is blocked in a sleep (`nanosleep` or
/// `clock_nanosleep`), from `/proc/PID/task/PID/syscall`.
fn main_thread_sleeps(pid: u32) -> bool {
    let path = format!("/proc/{pid}/task/{pid}/syscall");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let number: Option<libc::c_long> = text.split(' ').next().and_then(|n| n.parse().ok());
    number.is_some_and(|n| n == libc::SYS_clock_nanosleep || n == libc::SYS_nanosleep)
}

#[test]
fn the_timeout_fires_even_when_a_read_never_returns() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_aged(dir.path(), "db.sql.gz", &gzip(&mysqldump(1000, true)), HOUR);
    // Every read blocks for 100 s (debug-build seam): only a watchdog can answer before
    // the helper's hang limit.
    let args = ["-f", path.to_str().unwrap(), "-t", "1", "--no-cache"];
    let a = run_env(&args, &[("CHECK_BACKUP_TEST_READ_DELAY_MS", "100000")]);
    a.expect("UNKNOWN")
        .says("check timed out after 1s while verifying the compression stream")
        .says("NOT verified: stream integrity, completion marker");
    assert!(a.perf("age").is_some());
}

#[test]
fn json_and_nagios_agree_on_the_state() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        write_aged(dir.path(), "ok.sql.gz", &gzip(&mysqldump(100, true)), HOUR),
        write_aged(
            dir.path(),
            "old.sql.gz",
            &gzip(&mysqldump(100, true)),
            30 * HOUR,
        ),
        write_aged(
            dir.path(),
            "cut.sql.gz",
            &gzip(&mysqldump(100, false)),
            HOUR,
        ),
    ];
    for path in &cases {
        let text = check(path, &[]);
        let json = check(path, &["--output", "json"]);
        let v: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
        assert_eq!(v["state"], text.state());
        assert_eq!(json.code, text.code);
        assert_eq!(v["exit_code"], text.code);
    }
}

/// Regression (issue 11): per database, a dump that grows while it is read used to be
/// reported OK on its age and size alone; it must get the single-dump verdict.
#[test]
fn per_database_a_dump_growing_during_the_check_is_in_progress() {
    let dir = tempfile::tempdir().unwrap();
    let crm = write_aged(
        dir.path(),
        "crm.sql.gz",
        &gzip(&mysqldump(100_000, true)),
        HOUR,
    );
    write_aged(
        dir.path(),
        "shop.sql.gz",
        &gzip(&mysqldump(100, true)),
        HOUR,
    );
    let size = std::fs::metadata(&crm).unwrap().len();
    let args = [
        "-f",
        dir.path().to_str().unwrap(),
        "--per-database",
        r"^([a-z]+)\.sql\.gz$",
        "--no-cache",
    ];
    let mut plugin = Run::check_backup(&args)
        .env("CHECK_BACKUP_TEST_READ_DELAY_MS", "300")
        .start();
    let reading = "check_backup reading crm's dump";
    wait_for(reading, || {
        plugin.assert_running(reading);
        open_file(plugin.id(), &crm).is_some_and(|f| f.pos > 0)
    });
    let more = gzip(b"more rows\n");
    std::fs::OpenOptions::new()
        .append(true)
        .open(&crm)
        .unwrap()
        .write_all(&more)
        .unwrap();
    // The mtime set back, as a copy tool that keeps times would leave it.
    set_age(&crm, HOUR);
    let reading = open_file(plugin.id(), &crm);
    assert!(
        reading.is_some_and(|f| f.pos < size),
        "the test's premise failed: check_backup was no longer reading when the dump grew ({reading:?}, size {size})"
    );
    let a = plugin.finish();
    a.expect("WARNING")
        .says("crm: backup in progress: ")
        .says("changed while being read");
    assert!(
        a.stdout.contains("[OK] database: shop: "),
        "shop is judged on its own: {}",
        a.stdout
    );
}

/// Regression (issue 11): per database, a dump that vanished before it was opened used to
/// leave its database OK on age and size; it is looked for again, and a database left
/// without any dump is CRITICAL.
#[test]
fn per_database_a_dump_that_vanishes_is_looked_for_again() {
    let dir = tempfile::tempdir().unwrap();
    let crm = write_aged(dir.path(), "crm.sql.gz", &gzip(&mysqldump(100, true)), HOUR);
    write_aged(
        dir.path(),
        "shop.sql.gz",
        &gzip(&mysqldump(100, true)),
        HOUR,
    );
    let args = [
        "-f",
        dir.path().to_str().unwrap(),
        "--per-database",
        r"^([a-z]+)\.sql\.gz$",
        "--no-cache",
        "-v",
    ];
    let mut plugin = Run::check_backup(&args)
        .env("CHECK_BACKUP_TEST_PAUSE_AFTER_DISCOVERY_MS", "1000")
        .start();
    // crm is judged first (databases in name order); the plugin sleeps before opening it.
    let pausing = "check_backup pausing before reading crm's dump";
    wait_for(pausing, || {
        plugin.assert_running(pausing);
        main_thread_sleeps(plugin.id())
    });
    std::fs::remove_file(&crm).unwrap();
    assert!(
        main_thread_sleeps(plugin.id()),
        "the test's premise failed: check_backup's pause ended before the dump vanished"
    );
    let a = plugin.finish();
    a.expect("CRITICAL")
        .says("crm: no dump found for database crm below")
        .says("any more (it vanished while being checked)");
    assert!(
        a.stdout
            .contains("crm: crm.sql.gz vanished before it could be read: looking again")
            || a.stdout
                .contains("vanished before it could be read: looking again"),
        "{}",
        a.stdout
    );
    assert!(a.stdout.contains("[OK] database: shop: "), "{}", a.stdout);
}
