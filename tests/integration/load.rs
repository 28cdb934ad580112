//! Load (issue 6, point 9): many checks of the same dump at once, sharing one cache. The
//! full-size version (50 checks of a 1 GiB dump, also with the default time limit) is in
//! bench/resources.sh; this one runs in the normal suite.

use crate::util::*;
use std::time::Duration;

const CHECKS: usize = 50;

#[test]
fn fifty_concurrent_checks_agree_and_leave_one_valid_cache_entry() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    // About 50 MB of dump text.
    let text = mysqldump(1_000_000, true);
    assert!(text.len() > 50_000_000, "{}", text.len());
    let dump = write_aged(dir.path(), "db.sql.gz", &gzip(&text), HOUR);
    let cache_dir = cache.to_str().unwrap();
    let children: Vec<Running> = (0..CHECKS)
        .map(|_| {
            // A limit far above the expected few seconds: a check that hangs fails the test
            // with its answer (and, should even that not come, the helper kills it).
            Run::check_backup(&[
                "-f",
                dump.to_str().unwrap(),
                "--cache-dir",
                cache_dir,
                "-t",
                "300",
            ])
            .hang_limit(Duration::from_secs(330))
            .start()
        })
        .collect();
    let answers: Vec<Answer> = children.into_iter().map(Running::finish).collect();
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
            .all(|n| n.ends_with(".json") || n.ends_with(".lock") || n == ".prune"),
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
}
