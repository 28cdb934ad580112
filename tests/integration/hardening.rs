//! Issue 6, points 7 and 8, proven on the running binary: the dump is opened read-only
//! with O_NOATIME and left exactly as it was (content, mtime, atime), a lock held by the
//! backup job does not block the check, and operator regexes cannot make it hang.

use crate::util::*;
use filetime::FileTime;
use std::os::unix::fs::MetadataExt;
use std::os::unix::io::AsRawFd;

#[test]
fn the_dump_is_read_only_with_noatime_and_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let dump = write_aged(dir.path(), "db.sql.gz", &gzip(&mysqldump(2000, true)), HOUR);
    let log = write_aged(
        dir.path(),
        "backup.log",
        b"2026-11-25 03:00:01 INFO - mariadb-dump shop exited with 0\n",
        HOUR,
    );
    // An access time older than the mtime: with the usual `relatime` mount, any ordinary
    // read would update it.
    let now = FileTime::now().unix_seconds();
    for p in [&dump, &log] {
        filetime::set_file_times(
            p,
            FileTime::from_unix_time(now - 3 * HOUR, 0),
            FileTime::from_unix_time(now - HOUR, 0),
        )
        .unwrap();
    }
    let before: Vec<_> = [&dump, &log]
        .iter()
        .map(|p| (std::fs::read(p).unwrap(), std::fs::metadata(p).unwrap()))
        .collect();
    // Slow reads (debug-build seam) so that the open descriptor can be looked at.
    let mut child = Run::check_backup(&[
        "-f",
        dump.to_str().unwrap(),
        "-l",
        log.to_str().unwrap(),
        "--no-cache",
        "-t",
        "60",
    ])
    .env("CHECK_BACKUP_TEST_READ_DELAY_MS", "200")
    .start();
    let mut flags = 0;
    let holding = "check_backup holding the dump open";
    wait_for(holding, || {
        child.assert_running(holding);
        open_file(child.id(), &dump)
            .map(|f| flags = f.flags)
            .is_some()
    });
    let out = child.finish();
    let stdout = &out.stdout;
    assert_eq!(out.code, 0, "{stdout}");
    assert_eq!(flags & libc::O_ACCMODE, libc::O_RDONLY, "flags {flags:o}");
    // O_NOATIME is granted to the owner and to root; the test runs as one of them.
    assert_ne!(flags & libc::O_NOATIME, 0, "no O_NOATIME: flags {flags:o}");
    // Non-blocking: a FIFO swapped in would not hang the open.
    assert_ne!(
        flags & libc::O_NONBLOCK,
        0,
        "no O_NONBLOCK: flags {flags:o}"
    );
    for ((bytes, meta), p) in before.iter().zip([&dump, &log]) {
        let after = std::fs::metadata(p).unwrap();
        assert_eq!(&std::fs::read(p).unwrap(), bytes, "{} changed", p.display());
        assert_eq!(
            (after.mtime(), after.mtime_nsec()),
            (meta.mtime(), meta.mtime_nsec())
        );
        assert_eq!(
            (after.atime(), after.atime_nsec()),
            (meta.atime(), meta.atime_nsec()),
            "{}: access time changed",
            p.display()
        );
        assert_eq!(
            after.ctime(),
            meta.ctime(),
            "{}: ctime changed",
            p.display()
        );
    }
}

#[test]
fn a_lock_held_by_the_backup_job_does_not_block_the_check() {
    let dir = tempfile::tempdir().unwrap();
    let dump = write_aged(dir.path(), "db.sql.gz", &gzip(&mysqldump(100, true)), HOUR);
    let held = std::fs::OpenOptions::new().write(true).open(&dump).unwrap();
    // SAFETY: flock on a descriptor this test owns.
    assert_eq!(
        unsafe { libc::flock(held.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) },
        0
    );
    // Had it waited for the lock, `-t 10` would answer "timed out".
    check(&dump, &["-t", "10"]).expect("OK");
    drop(held);
}

#[test]
fn operator_regexes_are_linear_time_and_size_limited() {
    // Too big to compile within the limit: a usage error, not minutes of compiling (that
    // would be a hang, killed by the helper).
    run(&["-l", "/x", "--log-error", "(?:a{1000}){1000}"])
        .expect("UNKNOWN")
        .says("invalid arguments");
    // A pattern that backtracking engines take exponential time on, over long lines: with
    // such an engine the check would run out of its `-t` and answer "timed out".
    let dir = tempfile::tempdir().unwrap();
    let mut log = Vec::new();
    for _ in 0..500 {
        log.extend(std::iter::repeat_n(b'a', 8000));
        log.extend_from_slice(b"!\n");
    }
    log.extend_from_slice(b"INFO - exited with 0\n");
    let path = write_aged(dir.path(), "backup.log", &log, 600);
    run(&[
        "-l",
        path.to_str().unwrap(),
        "--log-error",
        "^(a+)+$",
        "--log-warning",
        "(a|aa)*b",
        "-t",
        "20",
    ])
    .expect("OK");
}
