//! `--restore-points N[/WINDOW]` and `--oldest-age` (issue 14, part 3): every dump of the
//! set within the window verified whole and complete, over the real mariadb-dump fixtures
//! dated daily with filetime.

use crate::util::*;
use std::path::{Path, PathBuf};

fn real(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/real/mariadb")
        .join(name)
}

/// The real complete dump as the night `i` days ago would have written it: its trailer
/// carries that night's date (nightly dumps never have the same content; the same content
/// again is the stuck-job warning), gzip-compressed.
fn night(i: i64) -> Vec<u8> {
    let sql = std::fs::read_to_string(real("shop.sql")).unwrap();
    let date = format!("2026-11-{:02}  1:36:28", 26 - i.min(25));
    gzip(sql.replace("2026-11-26  1:36:28", &date).as_bytes())
}

/// Daily dumps `shop-<i>.sql.gz`, `i` days (and one hour) old: the real complete dump of
/// that night, or for `cut[i]` the real dump gzip cut short on a full disk.
fn daily(dir: &Path, days: std::ops::Range<i64>, cut: &[i64], missing: &[i64]) {
    for i in days.filter(|i| !missing.contains(i)) {
        let path = dir.join(format!("shop-{i}.sql.gz"));
        if cut.contains(&i) {
            std::fs::copy(real("shop-truncated.sql.gz"), &path).unwrap();
        } else {
            std::fs::write(&path, night(i)).unwrap();
        }
        set_age(&path, i * DAY + HOUR);
    }
}

fn check_set(dir: &Path, cache: &Path, extra: &[&str]) -> Answer {
    let mut args = vec![
        "-f",
        dir.to_str().unwrap(),
        "--cache-dir",
        cache.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    run(&args)
}

#[test]
fn seven_restore_points_with_one_cut_and_one_missing_are_critical() {
    let dir = tempfile::tempdir().unwrap();
    let (set, cache) = (dir.path().join("set"), dir.path().join("cache"));
    std::fs::create_dir(&set).unwrap();
    // Eight days of daily dumps: the one of day 2 cut short, the one of day 4 never written.
    daily(&set, 0..8, &[2], &[4]);
    let a = check_set(&set, &cache, &["--restore-points", "7/8d"]);
    a.expect("CRITICAL")
        .says("only 6 good restore points in 8d (need 7): shop-2.sql.gz gzip stream truncated: file ends at byte 16384")
        .says("; a dump missing between ");
    assert_eq!(a.perf("restore_points"), Some(6.0));
    // The newest dump itself is fine, and says so.
    assert!(
        a.stdout.contains("[OK] stream: gzip stream intact"),
        "{}",
        a.stdout
    );
    // Cached after the first time: the second check decodes none of them, same verdict.
    let b = check_set(&set, &cache, &["--restore-points", "7/8d", "-v"]);
    b.expect("CRITICAL")
        .says("shop-2.sql.gz gzip stream truncated");
    assert_eq!(
        b.stdout.matches("cache: hit, dump not decoded").count(),
        7,
        "{}",
        b.stdout
    );
}

#[test]
fn seven_good_restore_points_are_ok_and_listed_in_json() {
    let dir = tempfile::tempdir().unwrap();
    let (set, cache) = (dir.path().join("set"), dir.path().join("cache"));
    std::fs::create_dir(&set).unwrap();
    // Nine daily dumps: the two older than the window do not count (one is cut: no matter).
    daily(&set, 0..10, &[9], &[]);
    let a = check_set(&set, &cache, &["--restore-points", "7/7d"]);
    a.expect("OK");
    assert!(
        a.stdout
            .contains("[OK] restore_points: 7 restore points in 7d, oldest 6d 1h; all verified"),
        "{}",
        a.stdout
    );
    assert_eq!(a.perf("restore_points"), Some(7.0));
    // JSON lists them (validated against the schema by the helper), N as the lower bound.
    let j = check_set(
        &set,
        &cache,
        &["--restore-points", "7/7d", "--output", "json"],
    );
    assert_eq!(j.code, 0, "{}", j.stdout);
    let v: serde_json::Value = serde_json::from_str(&j.stdout).unwrap();
    let points = v["facts"]["restore_points"].as_array().unwrap();
    assert_eq!(points.len(), 7);
    assert!(points.iter().all(|p| p["verdict"] == "good"), "{points:?}");
    assert!(points[0]["file"]
        .as_str()
        .unwrap()
        .ends_with("shop-0.sql.gz"));
    assert!(points[6]["file"]
        .as_str()
        .unwrap()
        .ends_with("shop-6.sql.gz"));
    let perf = v["perfdata"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["label"] == "restore_points")
        .unwrap();
    assert_eq!(
        (perf["value"].as_f64(), &perf["crit"]),
        (Some(7.0), &serde_json::json!("7:"))
    );
    // Without a window every dump counts, the cut one too: 9 good of 10, one bad.
    check_set(&set, &cache, &["--restore-points", "9"])
        .expect("WARNING")
        .says("9 restore points, oldest 8d 1h; verified (need 9), but 1 bad: shop-9.sql.gz gzip stream truncated");
}

#[test]
fn a_retention_that_does_not_hold_is_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let (set, cache) = (dir.path().join("set"), dir.path().join("cache"));
    std::fs::create_dir(&set).unwrap();
    daily(&set, 0..4, &[], &[]);
    let a = check_set(
        &set,
        &cache,
        &["--restore-points", "3/14d", "--oldest-age", "7d"],
    );
    a.expect("WARNING").says(
        "the oldest restore point is only 3d 1h old (--oldest-age 7d): retention not holding?",
    );
    assert_eq!(a.perf("restore_points"), Some(4.0));
    let b = check_set(
        &set,
        &cache,
        &["--restore-points", "3/14d", "--oldest-age", "3d"],
    );
    b.expect("OK");
    assert!(
        b.stdout
            .contains("[OK] restore_points: 4 restore points in 14d, oldest 3d 1h; all verified"),
        "{}",
        b.stdout
    );
    // An --oldest-age beyond the window could never hold: a usage error.
    run(&[
        "-f",
        set.to_str().unwrap(),
        "--restore-points",
        "3/2d",
        "--oldest-age",
        "3d",
    ])
    .expect("UNKNOWN")
    .says("--oldest-age is longer than the --restore-points window");
    run(&["-f", set.to_str().unwrap(), "--oldest-age", "3d"]).expect("UNKNOWN");
    run(&["-f", set.to_str().unwrap(), "--restore-points", "0/2d"]).expect("UNKNOWN");
}

#[test]
fn per_database_each_database_has_its_restore_points() {
    let dir = tempfile::tempdir().unwrap();
    let (set, cache) = (dir.path().join("set"), dir.path().join("cache"));
    std::fs::create_dir(&set).unwrap();
    for (db, cut) in [("shop", None), ("crm", Some(1))] {
        for i in 0..3 {
            let source = if cut == Some(i) {
                real("shop-truncated.sql.gz")
            } else {
                real("shop.sql.gz")
            };
            let path = set.join(format!("{db}_{i}.sql.gz"));
            std::fs::copy(source, &path).unwrap();
            set_age(&path, i * DAY + HOUR);
        }
    }
    let a = check_set(
        &set,
        &cache,
        &[
            "--per-database",
            r"^([a-z]+)_\d\.sql\.gz$",
            "--restore-points",
            "3/4d",
        ],
    );
    a.expect("CRITICAL");
    assert_eq!(a.perf("shop_restore_points"), Some(3.0), "{}", a.stdout);
    assert_eq!(a.perf("crm_restore_points"), Some(2.0), "{}", a.stdout);
}

#[test]
fn restore_points_not_verified_in_time_continue_in_the_background() {
    let dir = tempfile::tempdir().unwrap();
    let (set, cache) = (dir.path().join("set"), dir.path().join("cache"));
    std::fs::create_dir(&set).unwrap();
    // The newest dump verified (and cached) beforehand; the older one is big and read slowly
    // (the debug-build read delay, inherited by the background verifier): it cannot be
    // verified within a 0.3 s limit, whatever the machine's speed.
    let newest = set.join("shop-0.sql.gz");
    std::fs::copy(real("shop.sql.gz"), &newest).unwrap();
    set_age(&newest, HOUR);
    check_set(&newest, &cache, &[]).expect("OK");
    write_aged(
        &set,
        "shop-1.sql.gz",
        &gzip(&mysqldump(400_000, true)),
        DAY + HOUR,
    );
    let slow = [("CHECK_BACKUP_TEST_READ_DELAY_MS", "100")];
    let args = [
        "-f",
        set.to_str().unwrap(),
        "--cache-dir",
        cache.to_str().unwrap(),
        "--restore-points",
        "2/3d",
        "-t",
        "0.3",
    ];
    let first = run_env(&args, &slow);
    first
        .expect("UNKNOWN")
        .says("verifying restore points in the background, 1 of 2 done")
        .says("pid ");
    // What was judged stays in the answer.
    assert!(
        first.stdout.contains("[OK] stream: gzip stream intact"),
        "{}",
        first.stdout
    );
    // The verifier holds its lock until its verdict is stored; then the next check counts
    // the older dump from the cache.
    let in_cache = |extension: &str| {
        std::fs::read_dir(&cache)
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.extension().is_some_and(|x| x == extension))
    };
    // It announces itself with a progress file once it holds its lock.
    wait_for("the background verifier's progress file", || {
        in_cache("progress").is_some()
    });
    // Its lock is the one beside its progress file (the newest dump has one too, free).
    let lock = in_cache("progress")
        .expect("the verifier's progress file")
        .with_extension("lock");
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
    let done = check_set(&set, &cache, &["--restore-points", "2/3d", "-v"]);
    done.expect("OK");
    assert!(
        done.stdout
            .contains("[OK] restore_points: 2 restore points in 3d, oldest 1d 1h; all verified"),
        "{}",
        done.stdout
    );
    assert_eq!(
        done.stdout.matches("cache: hit, dump not decoded").count(),
        2,
        "{}",
        done.stdout
    );
}
