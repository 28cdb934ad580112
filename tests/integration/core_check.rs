//! The core check, end to end through the built binary, on dumps generated here with the
//! real compressors. Every test asserts the exit code and the state word.

use crate::util::*;
use std::time::Instant;

fn complete() -> Vec<u8> {
    mysqldump(5000, true)
}

#[test]
fn complete_dump_in_every_compression_is_ok() {
    let dir = tempfile::tempdir().unwrap();
    let data = complete();
    for (suffix, compress) in COMPRESSORS {
        let written = Instant::now();
        let path = write_aged(
            dir.path(),
            &format!("db.sql.{suffix}"),
            &compress(&data),
            HOUR,
        );
        let a = check(&path, &[]);
        a.expect("OK")
            .says("mysqldump complete on 2026-11-25  3:04:05")
            .says("1h 0m old");
        assert_eq!(
            a.perf("uncompressed_size"),
            Some(data.len() as f64),
            "{suffix}"
        );
        assert_eq!(
            a.perf("size"),
            Some(std::fs::metadata(&path).unwrap().len() as f64)
        );
        assert_age(a.perf("age").unwrap(), HOUR, written);
        assert_eq!(a.perf_item("age").unwrap().split(';').nth(1), Some("93600"));
        assert_eq!(
            a.perf_item("age").unwrap().split(';').nth(2),
            Some("180000")
        );
    }
    // Plain text too.
    let path = write_aged(dir.path(), "db.sql", &data, HOUR);
    check(&path, &[]).expect("OK").says("mysqldump complete");
}

#[test]
fn pg_dump_with_unrestrict_is_ok_and_cut_is_critical() {
    let dir = tempfile::tempdir().unwrap();
    let ok = write_aged(dir.path(), "pg.sql.gz", &gzip(&pg_dump(2000, true)), HOUR);
    check(&ok, &[]).expect("OK").says("pg_dump complete");
    let cut = write_aged(dir.path(), "cut.sql.gz", &gzip(&pg_dump(2000, false)), HOUR);
    check(&cut, &[])
        .expect("CRITICAL")
        .says("expected '-- PostgreSQL database dump complete' at the end")
        .says(
            "last line is '1999\tentry 1999'"
                .replace('\t', "\\x09")
                .as_str(),
        );
}

#[test]
fn the_incident_valid_gzip_without_trailer_is_critical() {
    let dir = tempfile::tempdir().unwrap();
    let mut killed = mysqldump(5000, false);
    killed.extend_from_slice(b"INSERT INTO `log` VALUES (6259040,'a'),(6259041,'b|c'),(62590");
    let path = write_aged(dir.path(), "db.sql.gz", &gzip(&killed), HOUR);
    let a = check(&path, &[]);
    a.expect("CRITICAL")
        .says(
            "dump incomplete: no completion marker, expected '-- Dump completed' as the last line",
        )
        .says("last line is 'INSERT INTO `log` VALUES (6259040,'a'),(6259041,'b¦c'),(62590'");
    // The stream itself is fine, and the output says so in the long output.
    assert!(
        a.stdout.contains("[OK] stream: gzip stream intact"),
        "{}",
        a.stdout
    );
    assert_eq!(a.first_line().matches('|').count(), 1, "{}", a.first_line());
}

#[test]
fn broken_streams_are_critical_with_offsets() {
    let dir = tempfile::tempdir().unwrap();
    let data = complete();
    for (suffix, compress) in COMPRESSORS {
        let full = compress(&data);
        let half = write_aged(
            dir.path(),
            &format!("half.{suffix}"),
            &full[..full.len() / 2],
            HOUR,
        );
        check(&half, &[]).expect("CRITICAL").says(&format!(
            "stream truncated: file ends at byte {}",
            full.len() / 2
        ));
        let mut flipped = full.clone();
        let at = full.len() / 3;
        flipped[at] ^= 0x10;
        let path = write_aged(dir.path(), &format!("flip.{suffix}"), &flipped, HOUR);
        let a = check(&path, &[]);
        a.expect("CRITICAL");
        assert!(
            a.summary().contains("stream corrupt near byte") || a.summary().contains("truncated"),
            "{suffix}: {}",
            a.stdout
        );
        let mut junk = full.clone();
        junk.extend_from_slice(b"\0\0junk");
        let path = write_aged(dir.path(), &format!("junk.{suffix}"), &junk, HOUR);
        check(&path, &[])
            .expect("CRITICAL")
            .says("6 bytes of garbage after the end of the")
            .says(&format!("stream at byte {}", full.len()));
    }
}

#[test]
fn gzip_missing_its_trailer_is_critical() {
    let dir = tempfile::tempdir().unwrap();
    let full = gzip(&complete());
    let path = write_aged(dir.path(), "db.sql.gz", &full[..full.len() - 8], HOUR);
    check(&path, &[])
        .expect("CRITICAL")
        .says("gzip stream truncated");
    // Even with the content check off, a cut stream is not OK.
    check(&path, &["--marker", "none"]).expect("CRITICAL");
}

#[test]
fn gzip_with_bad_crc_is_critical() {
    let dir = tempfile::tempdir().unwrap();
    let mut full = gzip(&complete());
    let n = full.len();
    full[n - 8] ^= 0xff; // CRC32 in the trailer
    let path = write_aged(dir.path(), "db.sql.gz", &full, HOUR);
    check(&path, &[])
        .expect("CRITICAL")
        .says("gzip stream corrupt");
}

#[test]
fn multi_member_gzip_is_read_to_the_end() {
    let dir = tempfile::tempdir().unwrap();
    let data = complete();
    let (a, b) = data.split_at(data.len() / 2);
    let mut bytes = gzip(a);
    bytes.extend(gzip(b));
    let path = write_aged(dir.path(), "pigz.sql.gz", &bytes, HOUR);
    let answer = check(&path, &[]);
    answer.expect("OK").says("mysqldump complete");
    assert_eq!(answer.perf("uncompressed_size"), Some(data.len() as f64));
}

#[test]
fn compression_is_detected_by_content_not_name() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_aged(dir.path(), "db.sql", &zstd(&complete()), HOUR);
    check(&path, &[]).expect("OK").says("zstd");
    let path = write_aged(dir.path(), "db.sql.gz", &complete(), HOUR);
    check(&path, &[]).expect("OK").says("mysqldump complete");
}

#[test]
fn empty_and_garbage_files() {
    let dir = tempfile::tempdir().unwrap();
    let empty = write_aged(dir.path(), "empty.sql.gz", b"", HOUR);
    check(&empty, &[])
        .expect("CRITICAL")
        .says("dump file is empty (0 bytes)");
    assert_eq!(check(&empty, &[]).perf("size"), Some(0.0));
    let nothing = write_aged(dir.path(), "nothing.sql.gz", &gzip(b""), HOUR);
    check(&nothing, &[])
        .expect("CRITICAL")
        .says("decompresses to nothing");
    let garbage: Vec<u8> = (0..5000u32)
        .map(|i| (i.wrapping_mul(7919) % 251) as u8)
        .collect();
    let path = write_aged(dir.path(), "garbage.sql.gz", &garbage, HOUR);
    check(&path, &[]).expect("WARNING").says("cannot verify");
    // Regression (issue 11): the operator named the trailer that must be there; binary
    // content in no known format does not have it.
    check(&path, &["--marker", "mysqldump"])
        .expect("CRITICAL")
        .says(
            "dump incomplete: no completion marker, expected '-- Dump completed' as the last line",
        )
        .says("binary in no known compression format");
    check(&path, &["--marker", "pg_dump"])
        .expect("CRITICAL")
        .says("expected '-- PostgreSQL database dump complete'");
    check(&path, &["--marker", "pg_dumpall"]).expect("CRITICAL");
    check(&path, &["--marker-regex", "^done$"])
        .expect("CRITICAL")
        .says("/^done$/");
    check(&path, &["--marker", "none"])
        .expect("WARNING")
        .says("cannot verify");
    let text = write_aged(dir.path(), "notes.txt", b"just some text\n", HOUR);
    check(&text, &[])
        .expect("WARNING")
        .says("cannot verify completeness: unknown dump format (use --marker or --marker-regex)");
    check(&text, &["--marker", "none"]).expect("OK");
    check(&text, &["--marker-regex", "^just some"]).expect("OK");
    check(&text, &["--marker-regex", "^done$"])
        .expect("CRITICAL")
        .says("last line matching /^done$/");
}

#[test]
fn forced_marker_kind_is_required() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_aged(dir.path(), "db.sql.gz", &gzip(&complete()), HOUR);
    check(&path, &["--marker", "mysqldump"]).expect("OK");
    check(&path, &["--marker", "pg_dump"]).expect("CRITICAL");
    let cluster = b"--\n-- PostgreSQL database cluster dump\n--\n\\connect db\n--\n-- PostgreSQL database dump complete\n--\n\n";
    let path = write_aged(dir.path(), "all.sql.gz", &gzip(cluster), HOUR);
    // A cut pg_dumpall whose last database was finished: its header says cluster.
    check(&path, &[])
        .expect("CRITICAL")
        .says("PostgreSQL database cluster dump complete");
}

#[test]
fn missing_things_are_critical() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("db.sql.gz");
    check(&missing, &[])
        .expect("CRITICAL")
        .says("no dump found at");
    let no_dir = dir.path().join("mnt/backup/db.sql.gz");
    check(&no_dir, &[]).expect("CRITICAL").says(&format!(
        "directory {} does not exist",
        dir.path().join("mnt").display()
    ));
    let empty = tempfile::tempdir().unwrap();
    check(empty.path(), &[])
        .expect("CRITICAL")
        .says("no dump found in");
    let glob = format!("{}/*.sql.gz", empty.path().display());
    run(&["-f", &glob])
        .expect("CRITICAL")
        .says(&format!("no dump found matching {glob}"));
}

#[test]
fn directory_newest_bad_dump_wins_over_older_good_ones() {
    let dir = tempfile::tempdir().unwrap();
    write_aged(dir.path(), "db-1.sql.gz", &gzip(&complete()), 50 * HOUR);
    write_aged(dir.path(), "db-2.sql.gz", &gzip(&complete()), 26 * HOUR);
    write_aged(
        dir.path(),
        "db-3.sql.gz",
        &gzip(&mysqldump(100, false)),
        HOUR,
    );
    write_aged(dir.path(), "db-4.sql.gz.tmp", b"in progress", 0);
    let a = check(dir.path(), &[]);
    a.expect("CRITICAL")
        .says("db-3.sql.gz")
        .says("no completion marker");
    let verbose = check(dir.path(), &["-v"]);
    assert!(
        verbose
            .stdout
            .contains("directory: 3 candidate(s) considered, 1 skipped"),
        "{}",
        verbose.stdout
    );
    assert!(
        verbose
            .stdout
            .contains("db-4.sql.gz.tmp: hidden or temporary name"),
        "{}",
        verbose.stdout
    );
}

#[test]
fn glob_picks_the_newest_match() {
    let dir = tempfile::tempdir().unwrap();
    write_aged(dir.path(), "shop-1.sql.gz", &gzip(&complete()), 2 * HOUR);
    write_aged(
        dir.path(),
        "shop-2.sql.gz",
        &gzip(&mysqldump(10, false)),
        30 * HOUR,
    );
    write_aged(dir.path(), "other.sql.gz", &gzip(b"x"), 0);
    let glob = format!("{}/shop-*.sql.gz", dir.path().display());
    run(&["-f", &glob]).expect("OK").says("shop-1.sql.gz");
}

#[test]
fn age_thresholds() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_aged(dir.path(), "db.sql.gz", &gzip(&complete()), 27 * HOUR);
    check(&path, &[])
        .expect("WARNING")
        .says("dump is 1d 3h old (warning > 1d 2h)");
    set_age(&path, 51 * HOUR);
    check(&path, &[])
        .expect("CRITICAL")
        .says("dump is 2d 3h old (critical > 2d 2h)");
    check(&path, &["-w", "3d", "-c", "4d"]).expect("OK");
    let a = check(&path, &["-w", "90m", "-c", "1d12h"]);
    a.expect("CRITICAL");
    assert_eq!(
        a.perf_item("age")
            .unwrap()
            .split(';')
            .skip(1)
            .take(2)
            .collect::<Vec<_>>(),
        ["5400", "129600"]
    );
    set_age(&path, -2 * HOUR);
    check(&path, &[]).expect("WARNING").says("in the future");
}

#[test]
fn size_thresholds() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = gzip(&complete());
    let size = bytes.len();
    let path = write_aged(dir.path(), "db.sql.gz", &bytes, HOUR);
    check(&path, &["-W", &format!("{}", size + 1)])
        .expect("WARNING")
        .says("dump is only");
    check(&path, &["-W", "1G", "-C", "1M"])
        .expect("CRITICAL")
        .says("critical < 1.0 MiB");
    check(&path, &["-W", &format!("{size}"), "-C", "1K"]).expect("OK");
    assert_eq!(
        check(&path, &["-W", "1K"]).perf_item("size").unwrap(),
        format!("{size}B;;;0")
    );
}

#[test]
fn bad_arguments_are_unknown_on_stdout() {
    for args in [
        &["-f", "/x", "-w", "soon"][..],
        &["-f", "/x", "-W", "12X"],
        &["-f", "/x", "--marker", "oracle"],
        &["-f", "/x", "--marker-regex", "(unclosed"],
        &["-f", "/x", "-c", "20:10"],
        &["--no-such-option"],
        &[],
    ] {
        let a = run(args);
        a.expect("UNKNOWN").says("invalid arguments");
        assert!(a.stderr.is_empty(), "stderr must stay empty: {}", a.stderr);
    }
    let help = run(&["--help"]);
    assert_eq!(help.code, 3);
    assert!(help.stdout.contains("--warning-age"));
    let version = run(&["-V"]);
    assert_eq!(version.code, 3);
    assert!(version.stdout.contains(env!("CARGO_PKG_VERSION")));
}

#[test]
fn fifo_is_unknown_and_never_opened() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("db.sql.gz");
    let status = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(status.success());
    // Had it opened the FIFO and waited for a writer, `-t 5` would answer "timed out".
    check(&fifo, &["-t", "5"])
        .expect("UNKNOWN")
        .says("is a FIFO, not a regular file");
}

#[test]
fn unreadable_dump_is_unknown_naming_user_and_fix() {
    // Root reads everything: drop to nobody for this test when we can.
    let dir = tempfile::tempdir().unwrap();
    let path = write_aged(dir.path(), "db.sql.gz", &gzip(&complete()), HOUR);
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let out = Run::check_backup_unprivileged(&["-f", path.to_str().unwrap()]).output();
    let stdout = &out.stdout;
    assert_eq!(out.code, 3, "{stdout}");
    assert!(
        stdout.starts_with("BACKUP UNKNOWN - permission denied reading "),
        "{stdout}"
    );
    assert!(stdout.contains(&path.display().to_string()), "{stdout}");
    assert!(stdout.contains("as user "), "{stdout}");
    if is_root() {
        // The fix for the file, and for tomorrow's dump in the same directory.
        let d = dir.path().display();
        for hint in [
            format!("'setfacl -m u:nobody:r {}'", path.display()),
            format!("'setfacl -R -m u:nobody:rX {d} && setfacl -d -m u:nobody:rX {d}'"),
            "apt-get install acl".to_string(),
        ] {
            assert!(stdout.contains(&hint), "{hint}: {stdout}");
        }
    }
}

/// A directory the monitoring user may list but not traverse (r without x): its entries
/// cannot even be looked at, so the newest dump is unknown: UNKNOWN naming the directory,
/// the user and the fix, never CRITICAL "no dump found (1 entries skipped)". The same
/// through a glob and per database.
#[test]
fn listable_but_not_traversable_directory_is_unknown_naming_user_and_fix() {
    if !is_root() {
        return; // the owner of a directory can always fix it: only meaningful as root
    }
    let top = tempfile::tempdir().unwrap();
    chmod(top.path(), 0o755);
    let dir = top.path().join("mysql");
    std::fs::create_dir(&dir).unwrap();
    write_aged(&dir, "shop-2026-11-24.sql.gz", &gzip(&complete()), HOUR);
    chmod(&dir, 0o744);
    let d = dir.display().to_string();
    let glob = format!("{d}/shop-*.sql.gz");
    for args in [
        vec!["-f", d.as_str()],
        vec!["-f", glob.as_str()],
        vec!["-f", d.as_str(), "--per-database", "^([a-z]+)-"],
    ] {
        let a = Run::check_backup_unprivileged(&args).output();
        a.expect("UNKNOWN")
            .says(&format!(
                "permission denied reading {d} as user nobody (uid "
            ))
            .says(&format!(
                "'setfacl -R -m u:nobody:rX {d} && setfacl -d -m u:nobody:rX {d}'"
            ))
            .says("apt-get install acl");
    }
}

#[test]
fn json_output_has_the_documented_schema() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_aged(dir.path(), "db.sql.gz", &gzip(&mysqldump(100, false)), HOUR);
    let a = check(&path, &["--output", "json"]);
    assert_eq!(a.code, 2);
    let v: serde_json::Value = serde_json::from_str(&a.stdout).expect(&a.stdout);
    assert_eq!(v["state"], "CRITICAL");
    assert_eq!(v["exit_code"], 2);
    assert_eq!(v["file"], path.display().to_string());
    assert!(v["summary"]
        .as_str()
        .unwrap()
        .contains("no completion marker"));
    let findings = v["findings"].as_array().unwrap();
    let marker = findings.iter().find(|f| f["check"] == "marker").unwrap();
    assert_eq!(marker["state"], "CRITICAL");
    let age = v["perfdata"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["label"] == "age")
        .unwrap();
    assert_eq!(age["uom"], "s");
    assert_eq!(age["warn"], "93600");
    assert_eq!(age["crit"], "180000");
    assert_eq!(age["min"], 0.0);
    assert_eq!(v["facts"]["compression"], "gzip");
    assert_eq!(v["facts"]["writer"], "mysqldump");
    assert_eq!(
        v["facts"]["size_bytes"],
        std::fs::metadata(&path).unwrap().len()
    );
}

#[test]
fn verbose_lists_the_steps() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_aged(dir.path(), "db.sql.xz", &xz(&complete()), HOUR);
    let a = check(&path, &["-v"]);
    a.expect("OK");
    for step in [
        "file: 1 candidate(s) considered",
        "chose ",
        "(xz) in ",
        "writer detected from the header: mysqldump",
        "check took ",
    ] {
        assert!(a.stdout.contains(step), "missing {step:?} in\n{}", a.stdout);
    }
}

#[test]
fn timeout_reports_what_was_and_was_not_verified() {
    let dir = tempfile::tempdir().unwrap();
    // Reads slowed to 50 ms each (debug-build test seam): ~2 s of reading, the limit is 0.3 s.
    let big = mysqldump(200_000, true);
    let path = write_aged(dir.path(), "big.sql.gz", &gzip(&big), HOUR);
    let args = ["-f", path.to_str().unwrap(), "-t", "0.3", "--no-cache"];
    let a = run_env(&args, &[("CHECK_BACKUP_TEST_READ_DELAY_MS", "50")]);
    a.expect("UNKNOWN")
        .says("check timed out after 0.3s while verifying the compression stream (")
        .says("NOT verified: stream integrity, completion marker")
        .says("verified: age, size");
    assert!(
        a.perf("age").is_some(),
        "age perfdata is kept: {}",
        a.stdout
    );
}

#[test]
fn hostile_file_names_cannot_break_the_output() {
    let dir = tempfile::tempdir().unwrap();
    let name = "db|x=1\n\u{1b}[2J.sql.gz";
    let path = write_aged(dir.path(), name, &gzip(&mysqldump(10, false)), HOUR);
    let a = check(&path, &[]);
    a.expect("CRITICAL");
    assert_eq!(a.first_line().matches('|').count(), 1, "{}", a.stdout);
    assert!(!a.stdout.contains('\u{1b}'));
    assert!(
        a.first_line().contains("db¦x=1\\x0a\\x1b[2J.sql.gz"),
        "{}",
        a.first_line()
    );
}

#[test]
fn paths_with_spaces_and_relative_paths_work() {
    let dir = tempfile::tempdir().unwrap();
    let sub = dir.path().join("my backups");
    std::fs::create_dir(&sub).unwrap();
    write_aged(&sub, "db 1.sql.gz", &gzip(&complete()), HOUR);
    check(&sub, &[]).expect("OK").says("db 1.sql.gz");
    // Relative to the working directory: a directory, a file, a glob.
    for relative in [
        "my backups",
        "./my backups/",
        "my backups/db 1.sql.gz",
        "my backups/*.sql.gz",
    ] {
        Run::check_backup(&["-f", relative])
            .current_dir(dir.path())
            .output()
            .expect("OK")
            .says("db 1.sql.gz");
    }
    // From another working directory the same relative path names nothing.
    Run::check_backup(&["-f", "my backups/db 1.sql.gz"])
        .current_dir(&sub)
        .output()
        .expect("CRITICAL")
        .says("directory my backups does not exist");
}
