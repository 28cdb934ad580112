//! Load (issue 6, point 9): many checks of the same dump at once, sharing one cache. The
//! full-size version (50 checks of a 1 GiB dump, also with the default time limit) is in
//! bench/resources.sh; this one runs in the normal suite.

mod common;

use common::*;
use std::process::{Command, Stdio};
use std::time::Instant;

const CHECKS: usize = 50;

#[test]
fn fifty_concurrent_checks_agree_and_leave_one_valid_cache_entry() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    // About 50 MB of dump text.
    let text = mysqldump(1_000_000, true);
    assert!(text.len() > 50_000_000, "{}", text.len());
    let dump = write_aged(dir.path(), "db.sql.gz", &gzip(&text), 3600);
    let started = Instant::now();
    let children: Vec<_> = (0..CHECKS)
        .map(|_| {
            Command::new(binary())
                .args(["-f", dump.to_str().unwrap(), "--cache-dir"])
                .arg(&cache)
                // A limit far above the expected few seconds: a check that hangs fails the
                // test with its answer instead of hanging it.
                .args(["-t", "300"])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("start check_backup")
        })
        .collect();
    let answers: Vec<Answer> = children
        .into_iter()
        .map(|c| {
            let out = c.wait_with_output().unwrap();
            Answer {
                code: out.status.code().unwrap_or(-1),
                stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
                stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            }
        })
        .collect();
    let took = started.elapsed();
    // All finished, all agree, and on the right answer.
    for a in &answers {
        a.expect("OK");
        assert!(
            a.stdout.contains("[OK] marker: mysqldump complete"),
            "{}",
            a.stdout
        );
    }
    // Exactly one entry, valid, for this dump; no temporary file left behind.
    let names: Vec<String> = std::fs::read_dir(&cache)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let entries: Vec<&String> = names.iter().filter(|n| n.ends_with(".json")).collect();
    assert_eq!(entries.len(), 1, "one entry per dump: {names:?}");
    assert!(
        names
            .iter()
            .all(|n| n.ends_with(".json") || n.ends_with(".lock")),
        "no temporary or stray file: {names:?}"
    );
    let entry: serde_json::Value =
        serde_json::from_slice(&std::fs::read(cache.join(entries[0])).unwrap()).unwrap();
    assert_eq!(
        entry["path"],
        std::fs::canonicalize(&dump).unwrap().to_str().unwrap()
    );
    assert_eq!(entry["content"]["problem"], serde_json::Value::Null);
    assert_eq!(entry["content"]["uncompressed_size"], text.len() as u64);
    // And the entry is used: the next check does not decode.
    let again = run(&[
        "-f",
        dump.to_str().unwrap(),
        "--cache-dir",
        cache.to_str().unwrap(),
        "-v",
    ]);
    again.expect("OK");
    assert!(again.stdout.contains("cache: hit"), "{}", again.stdout);
    eprintln!("{CHECKS} concurrent checks of a 50 MB dump took {took:?}");
}
