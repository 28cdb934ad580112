//! History rules (issue 14, part 2) over the real mariadb-dump fixtures dated daily with
//! filetime: `--max-growth`.

use crate::util::*;
use std::path::Path;

fn put(dir: &Path, fixture: &str, name: &str, age: i64) {
    let real = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/real/mariadb")
        .join(fixture);
    let path = dir.join(name);
    std::fs::copy(real, &path).unwrap();
    set_age(&path, age);
}

#[test]
fn a_dump_much_larger_than_the_earlier_ones_is_a_warning_with_max_growth() {
    let dir = tempfile::tempdir().unwrap();
    for i in 1..4 {
        put(
            dir.path(),
            "shop.sql.gz",
            &format!("db-{i}.sql.gz"),
            i * DAY + HOUR,
        );
    }
    // The newest dump holds every database, not just shop: 123623 bytes against 66670.
    put(dir.path(), "all-databases.sql.gz", "db-0.sql.gz", HOUR);
    let d = dir.path();
    let a = check(d, &["--max-growth", "50", "--no-cache"]);
    a.expect("WARNING").says(
        "dump grew: 121 KiB is 85% larger than the median 65 KiB of the 3 previous dumps (limit --max-growth 50%)",
    );
    assert_eq!(a.perf("size_change"), Some(85.4));
    // Within the limit, or the rule off (the default): OK, the same metric.
    let b = check(d, &["--max-growth", "100", "--no-cache"]);
    b.expect("OK");
    assert_eq!(b.perf("size_change"), Some(85.4));
    check(d, &["--no-cache"]).expect("OK");
    check(d, &["--max-growth", "-5"]).expect("UNKNOWN");
}

#[test]
fn a_dump_whose_content_shrank_is_a_warning_even_when_its_file_did_not() {
    let dir = tempfile::tempdir().unwrap();
    let (set, cache) = (dir.path().join("set"), dir.path().join("cache"));
    std::fs::create_dir(&set).unwrap();
    let cache_arg = cache.to_str().unwrap();
    // Three nights of the real dump compressed with xz (22 KiB for 491 KiB of SQL), each
    // verified when it was the newest: the cache knows their decoded sizes.
    for i in (1..4).rev() {
        let name = format!("shop-{i}.sql.xz");
        put(&set, "shop.sql.xz", &name, i * DAY + HOUR);
        let a = check(&set.join(&name), &["--cache-dir", cache_arg]);
        assert!(
            a.stdout.contains("[OK] stream: xz stream intact"),
            "{}",
            a.stdout
        );
    }
    // Then the job writes plain SQL and loses the big table's rows (the real dump without
    // lines 127-8137, its trailer kept): the file grew, the content shrank to a tenth.
    let real = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/real/mariadb/shop.sql"),
    )
    .unwrap();
    let lines: Vec<&str> = real.lines().collect();
    let kept = [&lines[..126], &lines[8137..]].concat().join("\n") + "\n";
    let newest = set.join("shop-0.sql");
    std::fs::write(&newest, &kept).unwrap();
    set_age(&newest, HOUR);
    let a = check(&set, &["--cache-dir", cache_arg, "-v"]);
    a.expect("WARNING").says("dump content shrank: ");
    assert!(
        a.stdout.contains("[OK] size_trend: +"),
        "the file alone grew: {}",
        a.stdout
    );
    assert!(
        a.stdout
            .contains("decoded sizes of 3 of 3 earlier dumps known from the cache"),
        "{}",
        a.stdout
    );
    let change = a.perf("uncompressed_change").unwrap();
    assert!(change < -50.0, "{change}");
    // No decoded size known without the cache: only the file's size is judged.
    check(&set, &["--no-cache"]).expect("OK");
}

#[test]
fn a_dump_with_the_same_content_as_the_previous_one_is_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let (set, cache) = (dir.path().join("set"), dir.path().join("cache"));
    std::fs::create_dir(&set).unwrap();
    let cache_arg = cache.to_str().unwrap();
    // Yesterday's real dump, verified when it was the newest.
    put(&set, "shop.sql.gz", "shop-1.sql.gz", DAY + HOUR);
    check(&set, &["--cache-dir", cache_arg]).expect("OK");
    // Today the stuck job delivers the same content again, compressed anew (other bytes,
    // other size: gzip -1 of the same SQL).
    let sql = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/real/mariadb/shop.sql"),
    )
    .unwrap();
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut e, &sql).unwrap();
    let newest = write_aged(&set, "shop-0.sql.gz", &e.finish().unwrap(), HOUR);
    assert_ne!(std::fs::metadata(&newest).unwrap().len(), 66670);
    let a = check(&set, &["--cache-dir", cache_arg]);
    a.expect("WARNING")
        .says("identical to the dump of ")
        .says("(stuck job?): the same CRC32 and length of every gzip member as shop-1.sql.gz");
    // The next night's dump holds more: no finding, OK.
    put(&set, "all-databases.sql.gz", "shop-00.sql.gz", MINUTE * 10);
    let b = check(&set, &["--cache-dir", cache_arg]);
    b.expect("OK");
    assert!(!b.stdout.contains("identical"), "{}", b.stdout);
}

/// zstd (and xz): the CRC32 of the decoded content, computed while verifying, tells the
/// same content recompressed (another level, other bytes) from the previous night's.
#[test]
fn a_zstd_dump_with_the_same_content_as_the_previous_one_is_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let (set, cache) = (dir.path().join("set"), dir.path().join("cache"));
    std::fs::create_dir(&set).unwrap();
    let cache_arg = cache.to_str().unwrap();
    put(&set, "shop.sql.zst", "shop-1.sql.zst", DAY + HOUR);
    check(&set, &["--cache-dir", cache_arg]).expect("OK");
    let sql = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/real/mariadb/shop.sql"),
    )
    .unwrap();
    let again = zstd::encode_all(&sql[..], 19).unwrap();
    let newest = write_aged(&set, "shop-0.sql.zst", &again, HOUR);
    let old_len = std::fs::metadata(set.join("shop-1.sql.zst")).unwrap().len();
    assert_ne!(std::fs::metadata(&newest).unwrap().len(), old_len);
    check(&set, &["--cache-dir", cache_arg])
        .expect("WARNING")
        .says("identical to the dump of ")
        .says("(stuck job?): the same CRC32 and length of the decoded content as shop-1.sql.zst");
    // Other content: no finding.
    let other = zstd::encode_all(&sql[..sql.len() / 2], 3).unwrap();
    write_aged(&set, "shop-00.sql.zst", &other, MINUTE * 10);
    let b = check(&set, &["--cache-dir", cache_arg]);
    assert!(!b.stdout.contains("identical"), "{}", b.stdout);
}

/// Copies a fixture of tests/fixtures/real/history/ (made by regenerate-history.sh: the
/// real servers' dump, `DROP TABLE log`, the dump again) into `dir`, `age` seconds old.
fn put_history(dir: &Path, fixture: &str, name: &str, age: i64) -> std::path::PathBuf {
    let real = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/real/history")
        .join(fixture);
    let path = dir.join(name);
    std::fs::copy(real, &path).unwrap();
    set_age(&path, age);
    path
}

#[test]
fn a_table_dropped_since_the_previous_dump_is_a_warning_naming_it() {
    for (kind, unit, before) in [
        (
            "mariadb",
            "INSERT statements",
            [("customers", 1), ("orders", 1), ("log", 1)],
        ),
        (
            "pg",
            "rows",
            [
                ("public.customers", 40),
                ("public.log", 2000),
                ("public.orders", 300),
            ],
        ),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let (set, cache) = (dir.path().join("set"), dir.path().join("cache"));
        std::fs::create_dir(&set).unwrap();
        let cache_arg = cache.to_str().unwrap();
        // Last night's dump, verified when it was the newest: the cache knows its tables.
        let first = put_history(
            &set,
            &format!("{kind}-shop-1.sql.gz"),
            "shop-1.sql.gz",
            DAY + HOUR,
        );
        let a = check(&first, &["--cache-dir", cache_arg, "--output", "json"]);
        let v: serde_json::Value = serde_json::from_str(&a.stdout).unwrap();
        assert_eq!(v["state"], "OK", "{kind}: {}", a.stdout);
        let mut tables: Vec<(String, u64)> = v["facts"]["tables"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| {
                (
                    t["name"].as_str().unwrap().to_string(),
                    t["rows"].as_u64().unwrap(),
                )
            })
            .collect();
        tables.sort();
        let mut want: Vec<(String, u64)> =
            before.iter().map(|(n, r)| (n.to_string(), *r)).collect();
        want.sort();
        assert_eq!(tables, want, "{kind}");
        // Tonight's: complete (its trailer is there), but the table log is gone.
        put_history(
            &set,
            &format!("{kind}-shop-2.sql.gz"),
            "shop-2.sql.gz",
            HOUR,
        );
        let log_table = if kind == "pg" { "public.log" } else { "log" };
        let rows = before.iter().find(|(n, _)| *n == log_table).unwrap().1;
        let a = check(&set, &["--cache-dir", cache_arg, "-v"]);
        a.expect("WARNING").says(&format!(
            " (shop-1.sql.gz) missing now: {log_table} (had {rows} {unit})"
        ));
        assert!(
            a.stdout
                .contains("[WARNING] history: table of the dump of "),
            "{kind}: {}",
            a.stdout
        );
        assert!(
            a.stdout.contains("tables: 2 ("),
            "{kind}: -v lists the tables: {}",
            a.stdout
        );
        // Without a cache the previous dump's tables are not known: nothing is said.
        check(&set, &["--no-cache"]).expect("OK");
    }
}

/// The incident after a good night: the killed dump lacks the tables after its cut, which
/// its missing marker already says; "missing now" would only lengthen the first line.
#[test]
fn a_cut_dump_is_not_also_reported_for_the_tables_after_its_cut() {
    let dir = tempfile::tempdir().unwrap();
    let (set, cache) = (dir.path().join("set"), dir.path().join("cache"));
    std::fs::create_dir(&set).unwrap();
    let cache_arg = cache.to_str().unwrap();
    put(&set, "shop.sql.gz", "shop-1.sql.gz", DAY + HOUR);
    check(&set, &["--cache-dir", cache_arg]).expect("OK");
    put(&set, "shop-killed.sql.gz", "shop-0.sql.gz", HOUR);
    let a = check(&set, &["--cache-dir", cache_arg]);
    a.expect("CRITICAL")
        .says("dump incomplete: no completion marker");
    assert!(!a.stdout.contains("missing now"), "{}", a.stdout);
}

/// pg_dump writes no date into its dump: an unchanged database dumps to the same bytes
/// every night, which is no stuck job (the identical rule needs a dated dump).
#[test]
fn an_unchanged_postgres_database_dumped_again_is_not_a_stuck_job() {
    let dir = tempfile::tempdir().unwrap();
    let (set, cache) = (dir.path().join("set"), dir.path().join("cache"));
    std::fs::create_dir(&set).unwrap();
    let cache_arg = cache.to_str().unwrap();
    let real =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/real/postgres/shop.sql.gz");
    let bytes = std::fs::read(real).unwrap();
    write_aged(&set, "shop-1.sql.gz", &bytes, DAY + HOUR);
    check(&set, &["--cache-dir", cache_arg]).expect("OK");
    write_aged(&set, "shop-0.sql.gz", &bytes, HOUR);
    let a = check(&set, &["--cache-dir", cache_arg]);
    a.expect("OK");
    assert!(!a.stdout.contains("identical"), "{}", a.stdout);
}
