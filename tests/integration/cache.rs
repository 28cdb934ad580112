//! The content-verdict cache, `--verify-only` and the background verification that takes
//! over when a check runs out of time.

use crate::util::*;
use std::path::Path;

fn with_cache(path: &Path, cache: &Path, extra: &[&str]) -> Answer {
    with_cache_env(path, cache, extra, &[])
}

fn with_cache_env(path: &Path, cache: &Path, extra: &[&str], env: &[(&str, &str)]) -> Answer {
    let mut args = vec![
        "-f",
        path.to_str().unwrap(),
        "--cache-dir",
        cache.to_str().unwrap(),
        "-v",
    ];
    args.extend_from_slice(extra);
    run_env(&args, env)
}

fn decoded(a: &Answer) -> bool {
    a.stdout.contains("  read ") && !a.stdout.contains("cache: hit")
}

#[test]
fn second_check_is_a_hit_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let dump = write_aged(dir.path(), "db.sql.gz", &gzip(&mysqldump(5000, true)), HOUR);
    let first = with_cache(&dump, &cache, &[]);
    first.expect("OK");
    assert!(decoded(&first), "{}", first.stdout);
    assert!(
        first.stdout.contains("cache: verdict stored"),
        "{}",
        first.stdout
    );
    let second = with_cache(&dump, &cache, &[]);
    second.expect("OK").says("mysqldump complete");
    assert!(
        second.stdout.contains("cache: hit, dump not decoded"),
        "{}",
        second.stdout
    );
    assert!(
        second.stdout.contains("stream intact, ")
            && second.stdout.contains("s ago, cached)")
            && second.stdout.contains("(verified "),
        "{}",
        second.stdout
    );
    // Facts are the same either way.
    assert_eq!(
        first.perf("uncompressed_size"),
        second.perf("uncompressed_size")
    );
    // A different marker rule is a different verdict.
    let other = with_cache(&dump, &cache, &["--marker", "pg_dump"]);
    other.expect("CRITICAL");
    assert!(decoded(&other));
    // --no-cache decodes.
    let a = run(&[
        "-f",
        dump.to_str().unwrap(),
        "--cache-dir",
        cache.to_str().unwrap(),
        "--no-cache",
        "-v",
    ]);
    a.expect("OK");
    assert!(a.stdout.contains("cache: disabled (--no-cache)"));
}

#[test]
fn any_change_to_the_dump_invalidates() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let good = gzip(&mysqldump(5000, true));
    let dump = write_aged(dir.path(), "db.sql.gz", &good, HOUR);
    with_cache(&dump, &cache, &[]).expect("OK");

    // touch: new mtime, same content.
    set_age(&dump, 2 * HOUR);
    let a = with_cache(&dump, &cache, &[]);
    a.expect("OK");
    assert!(
        a.stdout.contains("cache: miss: ") && a.stdout.contains("the dump changed"),
        "{}",
        a.stdout
    );

    // append junk, keeping the mtime: size and ctime change.
    use std::io::Write;
    std::fs::OpenOptions::new()
        .append(true)
        .open(&dump)
        .unwrap()
        .write_all(b"junk")
        .unwrap();
    set_age(&dump, 2 * HOUR);
    with_cache(&dump, &cache, &[])
        .expect("CRITICAL")
        .says("garbage after the end");

    // replace with a killed dump of the same size class, same name and mtime.
    let bad = gzip(&mysqldump(5000, false));
    let tmp = dir.path().join("new.tmp");
    std::fs::write(&tmp, &bad).unwrap();
    std::fs::rename(&tmp, &dump).unwrap();
    set_age(&dump, 2 * HOUR);
    with_cache(&dump, &cache, &[])
        .expect("CRITICAL")
        .says("no completion marker");
    // and the cached CRITICAL is served as such.
    let a = with_cache(&dump, &cache, &[]);
    a.expect("CRITICAL").says("no completion marker");
    assert!(a.stdout.contains("cache: hit"), "{}", a.stdout);
}

#[test]
fn corrupt_cache_entries_are_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let dump = write_aged(dir.path(), "db.sql.gz", &gzip(&mysqldump(100, false)), HOUR);
    with_cache(&dump, &cache, &[]).expect("CRITICAL");
    for entry in std::fs::read_dir(&cache).unwrap() {
        let p = entry.unwrap().path();
        if p.extension().is_some_and(|e| e == "json") {
            // Forge an OK verdict in place: it must not be believed blindly...
            let text = std::fs::read_to_string(&p).unwrap();
            let forged = text.replace("\"Missing\"", "\"Mising\"");
            std::fs::write(&p, forged).unwrap();
        }
    }
    let a = with_cache(&dump, &cache, &[]);
    a.expect("CRITICAL").says("no completion marker");
    assert!(
        a.stdout.contains("cache: miss: corrupt entry"),
        "{}",
        a.stdout
    );
    // ... and garbage is just a miss.
    for entry in std::fs::read_dir(&cache).unwrap() {
        let p = entry.unwrap().path();
        if p.extension().is_some_and(|e| e == "json") {
            std::fs::write(&p, b"\x00\xff garbage").unwrap();
        }
    }
    with_cache(&dump, &cache, &[]).expect("CRITICAL");
}

#[test]
fn unwritable_cache_dir_is_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let dump = write_aged(dir.path(), "db.sql.gz", &gzip(&mysqldump(100, true)), HOUR);
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    std::fs::set_permissions(&dump, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    let cache = dir.path().join("cache");
    std::fs::create_dir(&cache).unwrap();
    std::fs::set_permissions(&cache, std::os::unix::fs::PermissionsExt::from_mode(0o555)).unwrap();
    let out = Run::check_backup_unprivileged(&[
        "-f",
        dump.to_str().unwrap(),
        "--cache-dir",
        cache.to_str().unwrap(),
        "-v",
    ])
    .output();
    let stdout = &out.stdout;
    assert_eq!(out.code, 0, "{stdout}");
    assert!(stdout.contains("cache: not used: cache dir"), "{stdout}");
}

#[test]
fn concurrent_writers_leave_a_valid_entry() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let dump = write_aged(
        dir.path(),
        "db.sql.gz",
        &gzip(&mysqldump(20_000, true)),
        HOUR,
    );
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let (d, c) = (dump.clone(), cache.clone());
            std::thread::spawn(move || {
                let args = [
                    "-f",
                    d.to_str().unwrap(),
                    "--cache-dir",
                    c.to_str().unwrap(),
                    "--verify-only",
                ];
                run(&args).code
            })
        })
        .collect();
    for t in threads {
        assert_eq!(t.join().unwrap(), 0);
    }
    let entries: Vec<_> = std::fs::read_dir(&cache)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    assert_eq!(entries.len(), 1, "one entry per dump: {entries:?}");
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&entries[0]).unwrap()).unwrap();
    assert_eq!(v["content"]["compression"], "gzip");
    let leftovers: Vec<_> = std::fs::read_dir(&cache)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".tmp-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    let a = with_cache(&dump, &cache, &[]);
    a.expect("OK");
    assert!(a.stdout.contains("cache: hit"));
}

#[test]
fn verify_only_fills_the_cache_with_the_usual_exit_code() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let good = write_aged(
        dir.path(),
        "good.sql.zst",
        &zstd(&mysqldump(5000, true)),
        HOUR,
    );
    let a = run(&[
        "--verify-only",
        "-f",
        good.to_str().unwrap(),
        "--cache-dir",
        cache.to_str().unwrap(),
    ]);
    a.expect("OK");
    let b = with_cache(&good, &cache, &[]);
    b.expect("OK");
    assert!(b.stdout.contains("cache: hit"), "{}", b.stdout);
    let full = zstd(&mysqldump(5000, true));
    let cut = write_aged(dir.path(), "cut.sql.zst", &full[..full.len() - 10], HOUR);
    run(&[
        "--verify-only",
        "-f",
        cut.to_str().unwrap(),
        "--cache-dir",
        cache.to_str().unwrap(),
    ])
    .expect("CRITICAL")
    .says("zstd stream truncated");
    // verify-only always decodes, even with an entry present.
    let c = with_cache(&good, &cache, &["--verify-only"]);
    c.expect("OK");
    assert!(decoded(&c), "{}", c.stdout);
}

#[test]
fn a_check_that_runs_out_of_time_hands_over_to_a_background_verifier() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    // Reads slowed to 100 ms each (debug-build test seam, inherited by the background
    // verifier): a few seconds of reading against a 0.3 s limit.
    let slow = [("CHECK_BACKUP_TEST_READ_DELAY_MS", "100")];
    let dump = write_aged(
        dir.path(),
        "big.sql.gz",
        &gzip(&mysqldump(400_000, true)),
        HOUR,
    );
    let first = with_cache_env(&dump, &cache, &["-t", "0.3"], &slow);
    first
        .expect("UNKNOWN")
        .says("content verification in progress (")
        .says("continuing in the background (pid ")
        .says("verified: age, size");
    assert!(first.perf("age").is_some());
    let pid: i32 = first
        .first_line()
        .split_once("continuing in the background (pid ")
        .and_then(|(_, rest)| rest.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no pid in {}", first.first_line()));
    // The verifier announces itself with a progress file once it holds its lock.
    let in_cache = |extension: &str| {
        std::fs::read_dir(&cache)
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.extension().is_some_and(|x| x == extension))
    };
    wait_for("the background verifier's progress file", || {
        in_cache("progress").is_some()
    });
    // Stopped (SIGSTOP) while the next check runs, it cannot finish first: that check
    // finds it at work whatever the machine's speed.
    let stopped = Stopped::new(pid);
    let meanwhile = with_cache_env(
        &dump,
        &cache,
        &["-t", "5", "--unverified-state", "warning"],
        &slow,
    );
    drop(stopped);
    // Meanwhile: no second decoder, just the progress, in the state asked for.
    meanwhile
        .expect("WARNING")
        .says("content verification in progress (")
        .says("% done");
    // The verifier holds its lock until its verdict is stored: once the lock is free, the
    // next check is a hit.
    let lock = in_cache("lock").expect("the verifier's lock file");
    wait_for("the background verifier to finish", || {
        let file = std::fs::File::open(&lock).unwrap();
        // SAFETY: flock on a descriptor this test owns (released when it is closed).
        unsafe {
            libc::flock(
                std::os::unix::io::AsRawFd::as_raw_fd(&file),
                libc::LOCK_EX | libc::LOCK_NB,
            ) == 0
        }
    });
    let a = with_cache(&dump, &cache, &["-t", "5"]);
    a.expect("OK").says("mysqldump complete");
    assert!(a.stdout.contains("cache: hit"), "{}", a.stdout);
}

/// A process stopped with SIGSTOP until this is dropped (even by a failing test).
struct Stopped(i32);

impl Stopped {
    fn new(pid: i32) -> Stopped {
        // SAFETY: kill has no memory effects; the pid is the verifier the plugin started.
        assert_eq!(unsafe { libc::kill(pid, libc::SIGSTOP) }, 0, "stop {pid}");
        Stopped(pid)
    }
}

impl Drop for Stopped {
    fn drop(&mut self) {
        // SAFETY: as in `new`.
        unsafe { libc::kill(self.0, libc::SIGCONT) };
    }
}

/// The backup job runs `--verify-only` as root right after writing the dump; the check runs
/// as the monitoring user (here `nobody`) from the same cache directory, set up as the
/// package sets up /var/cache/check_backup (owned by the monitoring user, 0750).
#[test]
fn verify_only_as_root_hands_over_to_the_unprivileged_check() {
    let dir = tempfile::tempdir().unwrap();
    chmod(dir.path(), 0o755);
    let cache = dir.path().join("cache");
    std::fs::create_dir(&cache).unwrap();
    chmod(&cache, 0o750);
    if is_root() {
        let (uid, gid) = nobody();
        std::os::unix::fs::chown(&cache, Some(uid), Some(gid)).unwrap();
    }
    // Written a moment ago: the job knows it is finished.
    let dump = write_aged(dir.path(), "db.sql.gz", &gzip(&mysqldump(2000, true)), 0);
    chmod(&dump, 0o644);
    let job = run(&[
        "--verify-only",
        "-f",
        dump.to_str().unwrap(),
        "--cache-dir",
        cache.to_str().unwrap(),
        "-v",
    ]);
    job.expect("OK").says("mysqldump complete");
    assert!(!job.stdout.contains("in progress"), "{}", job.stdout);
    assert!(
        job.stdout.contains("cache: verdict stored"),
        "{}",
        job.stdout
    );
    let entries: Vec<_> = std::fs::read_dir(&cache)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    assert_eq!(entries.len(), 1, "{entries:?}");
    let meta = std::fs::metadata(&entries[0]).unwrap();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&meta.permissions()) & 0o777,
        0o644
    );
    // The check, as the monitoring user (--settle 0: the dump is seconds old).
    let check = Run::check_backup_unprivileged(&[
        "-f",
        dump.to_str().unwrap(),
        "--cache-dir",
        cache.to_str().unwrap(),
        "--settle",
        "0",
        "-v",
    ])
    .output();
    check.expect("OK");
    assert!(
        check.stdout.contains("cache: hit, dump not decoded") && check.stdout.contains("cached)"),
        "{}",
        check.stdout
    );
}

/// `--verify-only` runs right after the dump is written: no "backup in progress", and its
/// exit code is the verdict's (a cut dump is CRITICAL, not WARNING).
#[test]
fn verify_only_right_after_the_dump_ignores_settle() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let full = gzip(&mysqldump(2000, true));
    let cut = write_aged(dir.path(), "cut.sql.gz", &gzip(&mysqldump(2000, false)), 0);
    let good = write_aged(dir.path(), "good.sql.gz", &full, 0);
    for (path, state) in [(&good, "OK"), (&cut, "CRITICAL")] {
        let a = run(&[
            "--verify-only",
            "-f",
            path.to_str().unwrap(),
            "--cache-dir",
            cache.to_str().unwrap(),
            "--settle",
            "10m",
        ]);
        a.expect(state);
        assert!(!a.stdout.contains("in progress"), "{}", a.stdout);
    }
    // The check itself still applies --settle.
    check(&good, &["--cache-dir", cache.to_str().unwrap()])
        .expect("WARNING")
        .says("in progress");
}

#[test]
fn entries_of_deleted_dumps_are_pruned_when_an_entry_is_stored() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let entries = || {
        let mut v: Vec<String> = std::fs::read_dir(&cache)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".json"))
            .collect();
        v.sort();
        v
    };
    let dump = |name: &str| write_aged(dir.path(), name, &gzip(&mysqldump(50, true)), HOUR);
    let (a, b, c, d) = (
        dump("a.sql.gz"),
        dump("b.sql.gz"),
        dump("c.sql.gz"),
        dump("d.sql.gz"),
    );
    with_cache(&a, &cache, &[]).expect("OK");
    with_cache(&b, &cache, &[]).expect("OK");
    assert_eq!(entries().len(), 2);
    assert!(
        cache.join(".prune").is_file(),
        "the first store prunes and stamps"
    );
    std::fs::remove_file(&a).unwrap();
    // Within the interval: not pruned again.
    with_cache(&c, &cache, &[]).expect("OK");
    assert_eq!(entries().len(), 3);
    // An hour later (the stamp is old): the next store drops the entry of the deleted dump.
    set_age(&cache.join(".prune"), 2 * HOUR);
    with_cache(&d, &cache, &[]).expect("OK");
    assert_eq!(entries().len(), 3, "{:?}", entries());
    // The entries left are those of the dumps that exist: all hits.
    for p in [&b, &c, &d] {
        let again = with_cache(p, &cache, &[]);
        assert!(again.stdout.contains("cache: hit"), "{}", again.stdout);
    }
}
