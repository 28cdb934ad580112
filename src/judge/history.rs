//! History rules: the newest dump against the dumps of the same set before it, from what
//! verifying them established (kept in the verification cache, so never a second read).

use std::time::SystemTime;

use super::{Check, Finding, PerfDatum, State};
use crate::facts::TableCount;
use crate::units::human_size;

/// What an identity of a kind says, in words.
fn identity_words(kind: &str) -> String {
    match kind {
        "gzip" => "the same CRC32 and length of every gzip member".into(),
        "zstd" | "xz" | "bzip2" => "the same CRC32 and length of the decoded content".into(),
        other => format!("the same {other} digest of the whole file"),
    }
}

/// The same content as the previous dump: WARNING "identical to the dump of DATE (stuck
/// job?)". `newest` and `previous` are identities by kind (`gzip:...`, `sha256:...`); they
/// are compared kind by kind, and only when they share one (none: nothing is said).
/// `dated_by_run`: the newest dump carries the date of its run (mysqldump's `-- Dump
/// completed on DATE`). Without one the rule says nothing: pg_dump writes no date, so an
/// unchanged database dumps to the same bytes every night, which is no stuck job.
pub fn identical(
    newest: &[String],
    previous: &[String],
    previous_name: &str,
    previous_mtime: SystemTime,
    dated_by_run: bool,
) -> Option<Finding> {
    if !dated_by_run {
        return None;
    }
    let kind = |s: &String| s.split_once(':').map(|(k, _)| k.to_string());
    let shared: Vec<(&String, &String)> = newest
        .iter()
        .filter_map(|n| previous.iter().find(|p| kind(p) == kind(n)).map(|p| (n, p)))
        .collect();
    if shared.is_empty() || shared.iter().any(|(n, p)| n != p) {
        return None;
    }
    let what: Vec<String> = shared
        .iter()
        .filter_map(|(n, _)| kind(n))
        .map(|k| identity_words(&k))
        .collect();
    let date = chrono::DateTime::<chrono::Local>::from(previous_mtime).format("%Y-%m-%d %H:%M");
    Some(Finding::new(
        Check::History,
        State::Warning,
        format!(
            "identical to the dump of {date} (stuck job?): {} as {previous_name}",
            what.join(", ")
        ),
    ))
}

/// At most this many missing tables are named.
const NAMED: usize = 10;

/// Tables of the previous good dump that the newest lacks: WARNING naming them ("a table
/// that disappeared": a `DROP TABLE`, a dump run with the wrong table list). Both lists come
/// from decoding (the previous one from the cache); an empty previous list says nothing.
pub fn disappeared(
    newest: &[TableCount],
    previous: &[TableCount],
    previous_name: &str,
    previous_mtime: SystemTime,
    unit: &str,
) -> Option<Finding> {
    // A whole-server dump names its tables with their database (`shop.orders`), a
    // single-database dump does not (`orders`): either form matches the other.
    let same = |a: &str, b: &str| {
        a == b
            || a.strip_suffix(b).is_some_and(|r| r.ends_with('.'))
            || b.strip_suffix(a).is_some_and(|r| r.ends_with('.'))
    };
    let missing: Vec<&TableCount> = previous
        .iter()
        .filter(|p| !newest.iter().any(|n| same(&n.name, &p.name)))
        .collect();
    if missing.is_empty() {
        return None;
    }
    let date = chrono::DateTime::<chrono::Local>::from(previous_mtime).format("%Y-%m-%d %H:%M");
    let mut names: Vec<String> = missing
        .iter()
        .take(NAMED)
        .map(|t| {
            format!(
                "{} (had {} {unit})",
                crate::text::safe(&t.name, 120),
                t.rows
            )
        })
        .collect();
    if missing.len() > NAMED {
        names.push(format!("and {} more", missing.len() - NAMED));
    }
    let what = if missing.len() == 1 {
        "table".to_string()
    } else {
        format!("{} tables", missing.len())
    };
    Some(Finding::new(
        Check::History,
        State::Warning,
        format!(
            "{what} of the dump of {date} ({previous_name}) missing now: {}",
            names.join(", ")
        ),
    ))
}

/// The median of `values` (None when empty).
fn median(values: &[u64]) -> Option<f64> {
    let mut sorted = values.to_vec();
    sorted.sort_unstable();
    let n = sorted.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(sorted[n / 2] as f64),
        _ => Some((sorted[n / 2 - 1] as f64 + sorted[n / 2] as f64) / 2.0),
    }
}

/// `--max-shrink` on the decoded size: the compressed size alone flips when the compression
/// level changes, the decoded size does not. `earlier` are the decoded sizes of up to 7
/// earlier dumps whose streams were found whole (at least 2 are needed). WARNING when the
/// newest decoded size is smaller than their median by more than `max_shrink` percent (0:
/// off). Returns the finding and the `uncompressed_change` metric (%).
pub fn uncompressed_shrink(
    uncompressed: u64,
    earlier: &[u64],
    max_shrink: f64,
) -> Option<(Finding, PerfDatum)> {
    if max_shrink <= 0.0 || earlier.len() < 2 {
        return None;
    }
    let earlier = &earlier[..earlier.len().min(7)];
    let n = earlier.len();
    let median = median(earlier).filter(|m| *m > 0.0)?;
    let change = (uncompressed as f64 - median) / median * 100.0;
    let finding = if -change > max_shrink {
        Finding::new(
            Check::SizeTrend,
            State::Warning,
            format!(
                "dump content shrank: {} decoded is {:.0}% less than the median {} of the {n} previous dumps (limit --max-shrink {max_shrink}%)",
                human_size(uncompressed as f64),
                -change,
                human_size(median)
            ),
        )
    } else {
        Finding::new(
            Check::SizeTrend,
            State::Ok,
            format!(
                "decoded {:+.0}% against the median {} of the {n} previous dumps",
                change,
                human_size(median)
            ),
        )
    };
    let perf = PerfDatum {
        label: "uncompressed_change".into(),
        value: (change * 10.0).round() / 10.0,
        uom: "%",
        warn: None,
        crit: None,
        min: None,
        max: None,
    };
    Some((finding, perf))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_of_the_previous_dump_missing_now_are_named() {
        let t = SystemTime::UNIX_EPOCH;
        let tc = |name: &str, rows: u64| TableCount {
            name: name.into(),
            rows,
        };
        let before = [tc("orders", 12), tc("items", 3), tc("log", 0)];
        assert!(disappeared(&before, &before, "db-1.sql.gz", t, "INSERT statements").is_none());
        // The same tables in a whole-server dump (qualified with their database), and back.
        let all = [
            tc("shop.orders", 1),
            tc("shop.items", 1),
            tc("shop.log", 1),
            tc("crm.x", 1),
        ];
        assert!(disappeared(&all, &before, "db-1.sql.gz", t, "INSERT statements").is_none());
        assert!(disappeared(&before, &all[..3], "db-1.sql.gz", t, "INSERT statements").is_none());
        // ... but not a table that merely ends the same way.
        assert!(disappeared(&[tc("backlog", 1)], &[tc("log", 1)], "x", t, "rows").is_some());
        // A new table is no problem.
        let more = [tc("orders", 13), tc("items", 3), tc("log", 0), tc("new", 1)];
        assert!(disappeared(&more, &before, "db-1.sql.gz", t, "INSERT statements").is_none());
        let f = disappeared(
            &[tc("items", 3)],
            &before,
            "db-1.sql.gz",
            t,
            "INSERT statements",
        )
        .unwrap();
        assert_eq!(f.state, State::Warning);
        assert_eq!(f.check, Check::History);
        assert!(
            f.message.starts_with("2 tables of the dump of ")
                && f.message.ends_with(
                    " (db-1.sql.gz) missing now: orders (had 12 INSERT statements), log (had 0 INSERT statements)"
                ),
            "{}",
            f.message
        );
        let one = disappeared(&before[1..], &before, "pg.sql.gz", t, "rows").unwrap();
        assert!(
            one.message.starts_with("table of the dump of "),
            "{}",
            one.message
        );
        assert!(one.message.ends_with("missing now: orders (had 12 rows)"));
        // Many: ten named, the rest counted.
        let many: Vec<TableCount> = (0..15).map(|i| tc(&format!("t{i}"), 1)).collect();
        let f = disappeared(&[], &many, "x", t, "rows").unwrap();
        assert!(f.message.starts_with("15 tables"), "{}", f.message);
        assert!(
            f.message.ends_with("t9 (had 1 rows), and 5 more"),
            "{}",
            f.message
        );
    }

    #[test]
    fn identical_content_by_the_identities_both_have() {
        let t = SystemTime::UNIX_EPOCH;
        let gz = |h: &str| format!("gzip:1:{h}");
        let sha = |h: &str| format!("sha256:{h}");
        let same = identical(&[gz("aa")], &[gz("aa")], "db-1.sql.gz", t, true).unwrap();
        assert_eq!(same.state, State::Warning);
        assert!(
            same.message.ends_with(
                "(stuck job?): the same CRC32 and length of every gzip member as db-1.sql.gz"
            ),
            "{}",
            same.message
        );
        assert!(identical(&[gz("aa")], &[gz("ab")], "x", t, true).is_none());
        // The same bytes from a dump without the date of its run (pg_dump): nothing said.
        assert!(identical(&[gz("aa")], &[gz("aa")], "x", t, false).is_none());
        // Kinds the other lacks are not compared; a differing shared kind decides.
        let both = identical(&[gz("aa"), sha("11")], &[sha("11")], "x", t, true).unwrap();
        assert!(both
            .message
            .contains("the same sha256 digest of the whole file"));
        assert!(identical(&[gz("aa"), sha("11")], &[gz("aa"), sha("12")], "x", t, true).is_none());
        // Nothing shared (an xz dump, no checksum file; an old cache entry): nothing said.
        assert!(identical(&[gz("aa")], &[sha("11")], "x", t, true).is_none());
        assert!(identical(&[], &[], "x", t, true).is_none());
    }

    #[test]
    fn decoded_size_shrink() {
        // (decoded size, earlier decoded sizes, --max-shrink, state)
        type Case = (u64, &'static [u64], f64, Option<State>);
        let table: &[Case] = &[
            (1000, &[1000, 1000], 50.0, Some(State::Ok)),
            (499, &[1000, 1000, 1000], 50.0, Some(State::Warning)),
            (500, &[1000, 1000, 1000], 50.0, Some(State::Ok)),
            (10, &[1000], 50.0, None),      // one earlier dump is no trend
            (10, &[1000, 1000], 0.0, None), // --max-shrink 0: off
            (10, &[0, 0], 50.0, None),      // nothing to compare with
            (5000, &[1000, 1000], 50.0, Some(State::Ok)), // growth is another rule's
            // Only the 7 newest earlier dumps count: the old huge ones do not.
            (
                100,
                &[
                    100, 100, 100, 100, 100, 100, 100, 9000, 9000, 9000, 9000, 9000, 9000, 9000,
                    9000,
                ],
                50.0,
                Some(State::Ok),
            ),
        ];
        for (size, earlier, max, want) in table {
            let got = uncompressed_shrink(*size, earlier, *max).map(|(f, _)| f.state);
            assert_eq!(got, *want, "{size} vs {earlier:?} max {max}");
        }
        let (f, p) =
            uncompressed_shrink(120 * 1024, &[491 * 1024, 490 * 1024, 500 * 1024], 50.0).unwrap();
        assert_eq!(
            f.message,
            "dump content shrank: 120 KiB decoded is 76% less than the median 491 KiB of the 3 previous dumps (limit --max-shrink 50%)"
        );
        assert_eq!(
            (p.label.as_str(), p.value, p.uom),
            ("uncompressed_change", -75.6, "%")
        );
    }
}
