//! Real backups of every format (tests/fixtures/real/formats, made by real PostgreSQL 15,
//! MariaDB 10.11, mariadb-backup and mydumper by tests/fixtures/regenerate-formats.sh, with
//! cut copies made by that script). The verdicts and the names each answer must contain come
//! from its EXPECTED.tsv.

use crate::util::*;
use std::path::{Path, PathBuf};

fn formats_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/real/formats")
}

/// Splits an argument string the way a shell would for the quoting EXPECTED.tsv uses.
fn shell_words(s: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut any = false;
    for c in s.chars() {
        match c {
            '\'' => {
                quoted = !quoted;
                any = true;
            }
            c if c.is_whitespace() && !quoted => {
                if any {
                    words.push(std::mem::take(&mut cur));
                    any = false;
                }
            }
            c => {
                cur.push(c);
                any = true;
            }
        }
    }
    if any {
        words.push(cur);
    }
    words
}

/// A copy of the fixtures with mtimes a check can judge: everything written 10 minutes
/// ago, except the dated per-database dumps, which keep their spacing (MTIMES.tsv) with the
/// newest 10 minutes old.
fn fresh_copy() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    let status = std::process::Command::new("cp")
        .arg("-a")
        .arg(formats_dir())
        .arg(tmp.path().join("formats"))
        .status()
        .unwrap();
    assert!(status.success());
    let root = tmp.path().join("formats");
    // The fixtures keep only the small files of each mariabackup directory and list the
    // rest in FILES.txt: lay those out again (sparse, same names and sizes).
    for entry in std::fs::read_dir(&root).unwrap() {
        let dir = entry.unwrap().path();
        let Ok(list) = std::fs::read_to_string(dir.join("FILES.txt")) else {
            continue;
        };
        for line in list.lines().filter(|l| !l.starts_with('#')) {
            let Some((name, size)) = line.split_once('\t') else {
                continue;
            };
            let path = dir.join(name);
            if path.exists() {
                continue;
            }
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            let f = std::fs::File::create(&path).unwrap();
            f.set_len(size.trim().parse().unwrap()).unwrap();
        }
    }
    let walk = std::process::Command::new("find")
        .arg(&root)
        .arg("-type")
        .arg("f")
        .output()
        .unwrap();
    for line in String::from_utf8_lossy(&walk.stdout).lines() {
        set_age(Path::new(line), 600);
    }
    let dated = read_mtimes(&root.join("MTIMES.tsv"));
    let newest = dated.iter().map(|(_, t)| *t).max().unwrap();
    for (path, t) in &dated {
        set_age(&root.join(path), 600 + (newest - t));
    }
    tmp
}

#[test]
fn every_real_format_fixture_gets_its_verdict() {
    let tmp = fresh_copy();
    let root = tmp.path().join("formats");
    let table = std::fs::read_to_string(root.join("EXPECTED.tsv")).unwrap();
    let mut checked = 0;
    for line in table
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let f: Vec<&str> = line.split('\t').collect();
        let (path, kind, verdict, log, with_log, args, names) =
            (f[0], f[1], f[2], f[3], f[4], f[5], f[6]);
        let target = root.join(path.trim_end_matches('/'));
        let mut argv: Vec<String> = if kind == "mariabackup-log" {
            vec!["-l".into(), target.display().to_string()]
        } else {
            vec!["-f".into(), target.display().to_string()]
        };
        if args != "-" {
            argv.extend(shell_words(args));
        }
        let run_with = |argv: &[String], want: &str, context: &str| {
            let refs: Vec<&str> = argv.iter().map(String::as_str).collect();
            let a = run(&refs);
            assert_eq!(
                a.state(),
                want,
                "{path} ({kind}{context}): expected {want}\n{}",
                a.stdout
            );
            a
        };
        let a = run_with(&argv, verdict, "");
        if names != "-" && verdict != "OK" {
            for name in names.split(',') {
                assert!(
                    a.stdout.contains(name),
                    "{path}: the answer must name {name}:\n{}",
                    a.stdout
                );
            }
        }
        if log != "-" {
            let mut with = argv.clone();
            with.extend(["-l".to_string(), root.join(log).display().to_string()]);
            run_with(&with, with_log, &format!(" with {log}"));
        }
        checked += 1;
    }
    assert!(checked >= 50, "only {checked} rows");
}
