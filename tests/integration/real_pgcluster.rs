//! Debian's pg_backupcluster, for real (tests/fixtures/real/pg_backupcluster, written by
//! postgresql-common's pg_backupcluster against a PostgreSQL 15 cluster by
//! tests/fixtures/regenerate-pgcluster.sh, with damaged copies made by that script): every
//! scenario of its EXPECTED.tsv gets its exit code, state word and names; a data file
//! changed inside a re-packed base.tar.gz (made here: too big to keep) is caught by the
//! manifest's checksum; a run still going is "in progress", never skipped; an unreadable
//! entry is UNKNOWN naming the user.

use crate::util::*;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/real/pg_backupcluster")
}

/// A copy of the fixtures whose files keep the spacing of MTIMES.tsv (git keeps no mtimes),
/// the newest `newest_age` seconds old.
fn fresh_copy(newest_age: i64) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("pg_backupcluster");
    let status = std::process::Command::new("cp")
        .arg("-a")
        .arg(fixtures())
        .arg(&root)
        .status()
        .unwrap();
    assert!(status.success());
    let dated = read_mtimes(&root.join("MTIMES.tsv"));
    assert!(dated.len() > 30, "MTIMES.tsv lists {} files", dated.len());
    let newest = dated.iter().map(|(_, t)| *t).max().unwrap();
    // `status` says when each run started and ended (UTC): shifted with the files, so
    // that each keeps its real distance from the end of its run.
    let now = chrono::Utc::now().timestamp();
    let shift = now - newest_age - newest;
    for (path, _) in dated.iter().filter(|(p, _)| p.ends_with("/status")) {
        shift_status(&root.join(path), shift);
    }
    for (path, t) in &dated {
        set_age(&root.join(path), newest_age + (newest - t));
    }
    (tmp, root)
}

/// Moves `start` and `end` of a `status` file by `shift` seconds.
fn shift_status(path: &Path, shift: i64) {
    let text = std::fs::read_to_string(path).unwrap();
    let mut status: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(&text).unwrap();
    for key in ["start", "end"] {
        let old = status[key].as_str().unwrap();
        let t = chrono::NaiveDateTime::parse_from_str(old, "%a %b %e %H:%M:%S %Y").unwrap();
        let moved = t + chrono::Duration::seconds(shift);
        status[key] = moved.format("%a %b %e %H:%M:%S %Y").to_string().into();
    }
    std::fs::write(path, serde_json::to_string(&status).unwrap() + "\n").unwrap();
}

fn expected(root: &Path) -> Vec<Vec<String>> {
    std::fs::read_to_string(root.join("EXPECTED.tsv"))
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| l.split('\t').map(String::from).collect())
        .collect()
}

#[test]
fn every_pg_backupcluster_scenario_gets_its_verdict() {
    let (_tmp, root) = fresh_copy(600);
    let rows = expected(&root);
    assert!(rows.len() >= 15, "only {} rows", rows.len());
    for row in &rows {
        let (scenario, args, verdict, names) = (&row[0], &row[1], &row[2], &row[3]);
        let target = root.join(scenario);
        let mut argv = vec!["-f".to_string(), target.display().to_string()];
        if args != "-" {
            argv.extend(args.split(' ').map(String::from));
        }
        let refs: Vec<&str> = argv.iter().map(String::as_str).collect();
        let a = run(&refs);
        assert_eq!(
            a.code,
            state_code(verdict),
            "{scenario} {args}: exit code\n{}",
            a.stdout
        );
        assert_eq!(a.state(), verdict, "{scenario} {args}\n{}", a.stdout);
        for name in names.split(',') {
            assert!(
                a.first_line().contains(name),
                "{scenario} {args}: the first line must name {name}:\n{}",
                a.stdout
            );
        }
    }
}

#[test]
fn healthy_cluster_names_both_entries_and_what_was_verified() {
    let (_tmp, root) = fresh_copy(600);
    let a = check(&root.join("healthy"), &[]);
    a.expect("OK");
    // Both kinds, each with what was verified: every database's archive, the manifest.
    a.says("dump 20").says("basebackup 20");
    for text in [
        "3 database dumps complete (postgres, shop, template1)",
        "globals.sql complete",
        "files present with their sizes",
        "CRC32C checksums match",
        "WAL 0000000100000000000000",
    ] {
        assert!(a.stdout.contains(text), "lacks {text}:\n{}", a.stdout);
    }
    assert!(a.perf("dump_age").is_some() && a.perf("basebackup_size").is_some());
    // --expect-databases covers the newest dump entry.
    check(
        &root.join("healthy"),
        &["--expect-databases", "shop,postgres"],
    )
    .expect("OK");
    check(&root.join("healthy"), &["--expect-databases", "shop,crm"])
        .expect("CRITICAL")
        .says("lacks database crm");
    // An age threshold applies to each kind.
    check(&root.join("healthy"), &["-w", "5m", "-c", "1h"])
        .expect("WARNING")
        .says("old");
}

/// The GNU tar layout pg_basebackup writes (ustar headers, 512-byte blocks): flips the
/// middle byte of `member`'s data.
fn flip_member_byte(tar: &mut [u8], member: &str) {
    let mut off = 0;
    while off + 512 <= tar.len() && tar[off..off + 512].iter().any(|&b| b != 0) {
        let h = &tar[off..off + 512];
        let end = h[..100].iter().position(|&b| b == 0).unwrap_or(100);
        let name = String::from_utf8_lossy(&h[..end]).into_owned();
        let size_text = String::from_utf8_lossy(&h[124..136]);
        let size = u64::from_str_radix(size_text.trim_matches(|c| c == '\0' || c == ' '), 8)
            .unwrap() as usize;
        if name == member {
            tar[off + 512 + size / 2] ^= 0x01;
            return;
        }
        off += 512 + size.div_ceil(512) * 512;
    }
    panic!("{member} not in the tar");
}

#[test]
fn a_data_file_changed_inside_a_repacked_base_tar_is_caught_by_its_checksum() {
    let (_tmp, root) = fresh_copy(600);
    let healthy = root.join("healthy");
    let entry = std::fs::read_dir(&healthy)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "backup"))
        .unwrap();
    let base = entry.join("base.tar.gz");
    let mtime = std::fs::metadata(&base).unwrap().modified().unwrap();
    let mut tar = Vec::new();
    flate2::read::MultiGzDecoder::new(std::fs::File::open(&base).unwrap())
        .read_to_end(&mut tar)
        .unwrap();
    // pg_proc of template1: in every cluster, and a file the manifest lists.
    flip_member_byte(&mut tar, "base/1/1255");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&tar).unwrap();
    std::fs::write(&base, gz.finish().unwrap()).unwrap();
    filetime::set_file_mtime(&base, filetime::FileTime::from_system_time(mtime)).unwrap();
    // gzip and tar are whole, the size is the same: only the checksum can tell.
    check(&healthy, &[])
        .expect("CRITICAL")
        .says("base/1/1255 has CRC32C checksum")
        .says("does not match backup_manifest");
    check(&healthy, &["--kind", "dump"]).expect("OK");
}

#[test]
fn a_run_still_going_is_in_progress_and_the_previous_entry_is_judged() {
    let (_tmp, root) = fresh_copy(600);
    let dir = root.join("dump-killed");
    let mut entries: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    let newest = entries.last().unwrap();
    for f in std::fs::read_dir(newest).unwrap() {
        set_age(&f.unwrap().path(), 5);
    }
    let a = check(&dir, &[]);
    a.expect("WARNING")
        .says("backup in progress")
        .says(&newest.file_name().unwrap().to_string_lossy());
    // The settle time off: the unfinished run is judged as it is.
    check(&dir, &["--settle", "0"])
        .expect("CRITICAL")
        .says("no status file");
}

#[test]
fn an_entry_the_monitoring_user_cannot_read_is_unknown_naming_the_user() {
    if !is_root() {
        return; // as a normal user every copy is readable
    }
    let (tmp, root) = fresh_copy(600);
    let dir = root.join("healthy");
    for p in [tmp.path(), root.as_path(), dir.as_path()] {
        std::fs::set_permissions(p, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    }
    // The entries 0700 (pg_backupcluster makes them 0750 postgres:postgres; a git checkout
    // does not keep that).
    for e in std::fs::read_dir(&dir).unwrap() {
        std::fs::set_permissions(
            e.unwrap().path(),
            std::os::unix::fs::PermissionsExt::from_mode(0o700),
        )
        .unwrap();
    }
    let a = Run::check_backup_unprivileged(&["-f", dir.to_str().unwrap()]).output();
    a.expect("UNKNOWN")
        .says("permission denied")
        .says("as user nobody");
}

/// A file changed after pg_backupcluster's run ended (its `status` written) is no longer
/// what the run vouched for: WARNING naming it. The time in `status` is UTC whatever the
/// server's zone (pg_backupcluster writes `scalar gmtime`): TZ does not move it.
#[test]
fn a_file_changed_after_the_run_ended_is_a_warning_naming_it() {
    let (_tmp, root) = fresh_copy(600);
    let healthy = root.join("healthy");
    for tz in ["UTC", "Europe/Berlin", "America/New_York", "Asia/Tokyo"] {
        let a = run_env(&["-f", healthy.to_str().unwrap()], &[("TZ", tz)]);
        assert_eq!(a.state(), "OK", "TZ={tz}\n{}", a.stdout);
    }
    set_age(&healthy.join("2026-12-01T172416Z.backup/config.tar.gz"), 60);
    let a = run(&["-f", healthy.to_str().unwrap()]);
    assert_eq!(a.code, 1, "{}", a.stdout);
    assert_eq!(a.state(), "WARNING");
    assert!(
        a.stdout.contains("basebackup 2026-12-01T172416Z.backup: config.tar.gz changed after the run ended: modified "),
        "{}",
        a.stdout
    );
    // The dump entry is untouched and still OK on its line.
    assert!(
        a.stdout
            .contains("[OK] entry: dump 2026-12-01T172419Z.dump"),
        "{}",
        a.stdout
    );
}

/// An `end` that is not a time is said under -v only; nothing is compared with it.
#[test]
fn an_end_that_is_not_a_time_is_said_under_verbose_only() {
    let (_tmp, root) = fresh_copy(600);
    let entry = root.join("healthy/2026-12-01T172419Z.dump");
    let status = entry.join("status");
    let text = std::fs::read_to_string(&status).unwrap();
    let end = text
        .split("\"end\":\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    std::fs::write(&status, text.replace(&end, "soon")).unwrap();
    set_age(&status, 600);
    let quiet = run(&["-f", entry.to_str().unwrap(), "--no-cache"]);
    assert_eq!(quiet.state(), "OK", "{}", quiet.stdout);
    assert!(!quiet.stdout.contains("not a time"), "{}", quiet.stdout);
    let verbose = run(&["-f", entry.to_str().unwrap(), "--no-cache", "-v"]);
    assert_eq!(verbose.state(), "OK", "{}", verbose.stdout);
    assert!(
        verbose.stdout.contains("status: end 'soon' is not a time"),
        "{}",
        verbose.stdout
    );
}
