//! Backups that are not one text stream: pg_dump custom and directory archives, mydumper
//! and mariabackup/xtrabackup directories — recognised by content and layout, not names.

use crate::util::*;
use std::path::Path;
use std::time::Instant;

fn mydumper_dir(parent: &Path, name: &str, finished: bool, age: i64) -> std::path::PathBuf {
    let dir = parent.join(name);
    std::fs::create_dir(&dir).unwrap();
    let meta = if finished {
        "Started dump at: 2026-11-26 02:00:00\nSHOW MASTER STATUS:\n\tLog: mysql-bin.000003\n\nFinished dump at: 2026-11-26 02:00:05\n"
    } else {
        "Started dump at: 2026-11-26 02:00:00\n"
    };
    let meta_name = if finished {
        "metadata"
    } else {
        "metadata.partial"
    };
    write_aged(&dir, meta_name, meta.as_bytes(), age);
    write_aged(
        &dir,
        "shop-schema-create.sql",
        b"CREATE DATABASE `shop`;\n",
        age,
    );
    write_aged(
        &dir,
        "shop.log-schema.sql.gz",
        &gzip(b"CREATE TABLE `log` (id int);\n"),
        age,
    );
    write_aged(&dir, "shop.log.sql.gz", &gzip(&mysqldump(500, false)), age);
    dir
}

#[test]
fn mydumper_directories() {
    let tmp = tempfile::tempdir().unwrap();
    let done = mydumper_dir(tmp.path(), "done", true, HOUR);
    check(&done, &[])
        .expect("OK")
        .says("mydumper directory complete")
        .says("done: 1h 0m old");
    let running = mydumper_dir(tmp.path(), "running", false, HOUR);
    check(&running, &[])
        .expect("CRITICAL")
        .says("only metadata.partial exists: mydumper has not finished");
    let cut = mydumper_dir(tmp.path(), "cut", true, HOUR);
    let data = gzip(&mysqldump(500, false));
    write_aged(&cut, "shop.log.sql.gz", &data[..data.len() / 2], HOUR);
    check(&cut, &[])
        .expect("CRITICAL")
        .says("shop.log.sql.gz: gzip stream truncated");
}

#[test]
fn a_directory_of_dated_backup_directories_picks_the_newest() {
    let tmp = tempfile::tempdir().unwrap();
    mydumper_dir(tmp.path(), "2026-11-24", true, 50 * HOUR);
    mydumper_dir(tmp.path(), "2026-11-25", true, 26 * HOUR);
    mydumper_dir(tmp.path(), "2026-11-26", false, 2 * HOUR);
    check(tmp.path(), &[])
        .expect("CRITICAL")
        .says("2026-11-26")
        .says("mydumper has not finished");
}

fn xtrabackup_dir(parent: &Path, name: &str, checkpoints: &str) -> std::path::PathBuf {
    let dir = parent.join(name);
    std::fs::create_dir_all(dir.join("shop")).unwrap();
    write_aged(&dir, "ibdata1", &vec![0u8; 4096], HOUR);
    write_aged(&dir.join("shop"), "log.ibd", &vec![0u8; 4096], HOUR);
    write_aged(
        &dir,
        "xtrabackup_info",
        b"tool_name = mariabackup\ntool_version = 10.11.19-MariaDB\n",
        HOUR,
    );
    write_aged(&dir, "xtrabackup_checkpoints", checkpoints.as_bytes(), HOUR);
    dir
}

#[test]
fn mariabackup_directories() {
    let tmp = tempfile::tempdir().unwrap();
    let full = xtrabackup_dir(
        tmp.path(),
        "full",
        "backup_type = full-backuped\nfrom_lsn = 0\nto_lsn = 47532\nlast_lsn = 47532\n",
    );
    let a = check(&full, &[]);
    a.expect("OK")
        .says("mariabackup/xtrabackup directory complete")
        .says("full: 1h 0m old, 8.1 KiB");
    assert!(
        a.stdout.contains("backup_type full-backuped, to_lsn 47532"),
        "{}",
        a.stdout
    );
    let inc = xtrabackup_dir(
        tmp.path(),
        "inc",
        "backup_type = incremental\nfrom_lsn = 47532\nto_lsn = 48100\n",
    );
    check(&inc, &[])
        .expect("OK")
        .says("mariabackup/xtrabackup directory complete");
    let broken = xtrabackup_dir(
        tmp.path(),
        "broken",
        "backup_type = full-backuped\nfrom_lsn = 0\n",
    );
    check(&broken, &[]).expect("CRITICAL").says("no to_lsn");
}

#[test]
fn a_changed_backup_directory_is_verified_again() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");
    let done = mydumper_dir(tmp.path(), "done", true, HOUR);
    let c = cache.to_str().unwrap();
    let first = run(&["-f", done.to_str().unwrap(), "--cache-dir", c, "-v"]);
    first.expect("OK");
    let second = run(&["-f", done.to_str().unwrap(), "--cache-dir", c, "-v"]);
    second.expect("OK");
    assert!(second.stdout.contains("cache: hit"), "{}", second.stdout);
    // Cut a table file in place (keeping its mtime): its ctime changes, the key changes.
    let data = gzip(&mysqldump(500, false));
    write_aged(&done, "shop.log.sql.gz", &data[..data.len() / 2], HOUR);
    let third = run(&["-f", done.to_str().unwrap(), "--cache-dir", c, "-v"]);
    third.expect("CRITICAL").says("gzip stream truncated");
}

fn automysqlbackup(root: &Path) {
    for (db, rows) in [("shop", 800), ("crm", 300), ("wiki", 200)] {
        let dir = root.join("daily").join(db);
        std::fs::create_dir_all(&dir).unwrap();
        write_aged(
            &dir,
            &format!("{db}_2026-11-24_03h00m.sql.gz"),
            &gzip(&mysqldump(rows, true)),
            26 * HOUR,
        );
        write_aged(
            &dir,
            &format!("{db}_2026-11-25_03h00m.sql.gz"),
            &gzip(&mysqldump(rows, true)),
            2 * HOUR,
        );
    }
}

#[test]
fn one_dump_per_database() {
    let tmp = tempfile::tempdir().unwrap();
    let written = Instant::now();
    automysqlbackup(tmp.path());
    let root = tmp.path().to_str().unwrap();
    let a = run(&["-f", root, "--per-database", "^daily/([^/]+)/"]);
    a.expect("OK").says("3 databases (crm, shop, wiki)");
    for db in ["crm", "shop", "wiki"] {
        assert_age(a.perf(&format!("{db}_age")).unwrap(), 2 * HOUR, written);
        assert!(a.perf(&format!("{db}_size")).is_some());
        assert!(
            a.stdout.contains(&format!("[OK] database: {db}: ")),
            "{}",
            a.stdout
        );
    }
    // A database whose newest dump was cut.
    let cut = gzip(&mysqldump(300, true));
    write_aged(
        &tmp.path().join("daily/crm"),
        "crm_2026-11-26_03h00m.sql.gz",
        &cut[..cut.len() / 2],
        HOUR,
    );
    run(&["-f", root, "--per-database", "^daily/([^/]+)/"])
        .expect("CRITICAL")
        .says("crm: gzip stream truncated");
    // Coverage: a database with no dump at all.
    run(&[
        "-f",
        root,
        "--per-database",
        "^daily/([^/]+)/",
        "--expect-databases",
        "shop,wiki,billing",
    ])
    .expect("CRITICAL")
    .says("no dump of database billing (expected by --expect-databases)")
    // The headline counts the databases that have dumps, not the expected one without.
    .says("3 databases (crm, shop, wiki)");
    run(&["-f", root, "--per-database", "^nothing/(x)"])
        .expect("CRITICAL")
        .says("no dump found below");
}

#[test]
fn expect_databases_on_a_single_database_dump() {
    let tmp = tempfile::tempdir().unwrap();
    // The generated dump's header says `Database: shop`.
    let dump = write_aged(
        tmp.path(),
        "shop.sql.gz",
        &gzip(&mysqldump(100, true)),
        HOUR,
    );
    check(&dump, &["--expect-databases", "shop"]).expect("OK");
    check(&dump, &["--expect-databases", "shop,billing"])
        .expect("CRITICAL")
        .says("the dump lacks database billing (it holds shop)");
}

/// A tar archive made by the system's GNU tar from files in `dir`.
fn system_tar(dir: &Path, names: &[&str]) -> Vec<u8> {
    let out = std::process::Command::new("tar")
        .arg("-C")
        .arg(dir)
        .arg("-cf")
        .arg("-")
        .args(names)
        .output()
        .expect("tar");
    assert!(out.status.success());
    out.stdout
}

#[test]
fn tar_archives_of_dumps() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    std::fs::create_dir(&src).unwrap();
    std::fs::write(src.join("shop.sql"), mysqldump(3000, true)).unwrap();
    std::fs::write(src.join("README"), b"restore with mysql < shop.sql\n").unwrap();
    std::fs::write(src.join("killed.sql"), mysqldump(3000, false)).unwrap();
    let good = system_tar(&src, &["README", "shop.sql"]);
    let path = write_aged(tmp.path(), "shop.tar.gz", &gzip(&good), HOUR);
    let a = check(&path, &[]);
    a.expect("OK").says("tar archive complete");
    assert!(
        a.stdout
            .contains("2 members, end-of-archive present; shop.sql complete"),
        "{}",
        a.stdout
    );
    let path = write_aged(tmp.path(), "shop.tar.zst", &zstd(&good), HOUR);
    check(&path, &[]).expect("OK").says("tar archive complete");
    let path = write_aged(tmp.path(), "shop.tar", &good, HOUR);
    check(&path, &[]).expect("OK").says("tar archive complete");
    // A member that is a killed dump.
    let killed = system_tar(&src, &["killed.sql"]);
    let path = write_aged(tmp.path(), "killed.tar.gz", &gzip(&killed), HOUR);
    check(&path, &[])
        .expect("CRITICAL")
        .says("member killed.sql: dump incomplete: no completion marker");
    // The tar cut inside its member, then compressed: a valid gzip of an incomplete tar.
    let path = write_aged(
        tmp.path(),
        "cut.tar.gz",
        &gzip(&good[..good.len() / 2]),
        HOUR,
    );
    check(&path, &[])
        .expect("CRITICAL")
        .says("tar archive cut inside member shop.sql");
    // No end-of-archive blocks.
    let end = good.iter().rposition(|&b| b != 0).unwrap();
    let no_end = &good[..(end / 512 + 1) * 512];
    let path = write_aged(tmp.path(), "noend.tar.gz", &gzip(no_end), HOUR);
    check(&path, &[])
        .expect("CRITICAL")
        .says("without its end-of-archive blocks");
    // A tar with no dump inside cannot be vouched for.
    let other = system_tar(&src, &["README"]);
    let path = write_aged(tmp.path(), "other.tar.gz", &gzip(&other), HOUR);
    check(&path, &[])
        .expect("WARNING")
        .says("cannot verify: tar archive");
}

/// Issue 12: a database the newest run no longer dumped (dropped, renamed, permission lost)
/// is WARNING at once, named, although its older dump is still young enough for `-w`.
#[test]
fn a_database_missing_from_the_newest_run_is_named() {
    let tmp = tempfile::tempdir().unwrap();
    automysqlbackup(tmp.path());
    let root = tmp.path().to_str().unwrap();
    // The newest run (2 h ago) dumped shop and wiki only: crm's newest is the day before.
    std::fs::remove_file(tmp.path().join("daily/crm/crm_2026-11-25_03h00m.sql.gz")).unwrap();
    set_age(
        &tmp.path().join("daily/crm/crm_2026-11-24_03h00m.sql.gz"),
        25 * HOUR,
    );
    let a = run(&["-f", root, "--per-database", "^daily/([^/]+)/"]);
    a.expect("WARNING")
        .says("crm: no dump from the newest run")
        .says("23h 0m earlier");
    assert!(
        a.stdout.contains("[OK] database: crm: "),
        "crm's own dump is fine: {}",
        a.stdout
    );
    // The same set with every database in the newest run is OK.
    automysqlbackup(tmp.path());
    run(&["-f", root, "--per-database", "^daily/([^/]+)/"]).expect("OK");
}

/// Issue 12: the newest of a set of backup directories that holds no backup is the last
/// run, failed (mydumper with the server down leaves an empty dated directory): CRITICAL,
/// never hidden by the older complete directory.
#[test]
fn an_empty_newest_backup_directory_is_a_failed_run() {
    let tmp = tempfile::tempdir().unwrap();
    let fixture =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/real/formats/mydumper-shop");
    let older = tmp.path().join("2026-11-26");
    std::fs::create_dir(&older).unwrap();
    for entry in std::fs::read_dir(&fixture).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), older.join(entry.file_name())).unwrap();
        set_age(&older.join(entry.file_name()), 25 * HOUR);
    }
    let root = tmp.path().to_str().unwrap();
    run(&["-f", root])
        .expect("OK")
        .says("mydumper directory complete");
    let newest = tmp.path().join("2026-11-27");
    std::fs::create_dir(&newest).unwrap();
    set_age(&newest, HOUR);
    run(&["-f", root])
        .expect("CRITICAL")
        .says("2026-11-27")
        .says("it is empty: the run that made it left no backup");
}

/// Real pg_dump archives of a schema without its rows (tests/fixtures/regenerate-sections.sh):
/// whole, so not CRITICAL, but no good backup of the data: WARNING naming why; the rows
/// without the schema (--section=data) stay OK.
#[test]
fn a_pg_dump_archive_without_table_data_is_a_warning() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/real/sections");
    for (name, kind) in [
        ("shop-pre-data.dump", "pg_dump custom archive"),
        ("shop-schema-only.tar", "pg_dump tar archive"),
    ] {
        let a = check(
            &dir.join(name),
            &["--settle", "0", "-w", "10000d", "-c", "20000d"],
        );
        a.expect("WARNING").says(&format!(
            "{kind} of 'shop' holds no table data: it creates 3 tables but none of their rows"
        ));
        assert!(
            a.stdout.contains("--section=pre-data"),
            "{name}: {}",
            a.stdout
        );
    }
    let a = check(
        &dir.join("shop-data.dump"),
        &["--settle", "0", "-w", "10000d", "-c", "20000d"],
    );
    a.expect("OK").says("pg_dump custom format complete");
}
