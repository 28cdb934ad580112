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
