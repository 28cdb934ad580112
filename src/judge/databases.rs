//! Judging a set of databases: one line per database of a per-database set (each judged
//! exactly as a single dump is), and the coverage rules of `--expect-databases`.

use super::{Check, DatabaseSummary, Finding, Report, State, PATH_CHARS};
use crate::text::{safe, safe_path};

/// No dump below `root` matches the per-database pattern.
pub fn none_found(root: &std::path::Path, pattern: &str) -> Finding {
    Finding::new(
        Check::Dump,
        State::Critical,
        format!(
            "no dump found below {} whose path matches --per-database /{}/",
            safe_path(root, PATH_CHARS),
            safe(pattern, 100)
        ),
    )
}

/// One database's line, from the report its newest dump got: its worst problems, or its
/// summary when it is OK. Also returns its summary for JSON.
pub fn database(name: &str, sub: &Report) -> (Finding, DatabaseSummary) {
    let state = sub.state();
    let problems: Vec<String> = sub
        .findings
        .iter()
        .filter(|f| f.state == state && state != State::Ok)
        .map(|f| f.message.clone())
        .collect();
    let shown = safe(name, 60);
    let message = if problems.is_empty() {
        format!("{shown}: {}", sub.summary())
    } else {
        format!("{shown}: {}", problems.join("; "))
    };
    (
        Finding::new(Check::Database, state, message),
        DatabaseSummary {
            name: name.to_string(),
            state: state.to_string(),
            file: sub.file.clone(),
            age_seconds: sub.facts.age_seconds,
            size_bytes: sub.facts.size_bytes,
        },
    )
}

/// An expected database without any dump: CRITICAL.
pub fn missing_expected(name: &str) -> (Finding, DatabaseSummary) {
    (
        Finding::new(
            Check::Coverage,
            State::Critical,
            format!(
                "no dump of database {} (expected by --expect-databases)",
                safe(name, 60)
            ),
        ),
        DatabaseSummary {
            name: name.to_string(),
            state: State::Critical.to_string(),
            ..Default::default()
        },
    )
}

/// `--expect-databases` on one dump: the databases it holds (`found`, when they could be
/// read) must include the expected ones.
pub fn sections(expected: &[String], found: Option<&[String]>) -> Finding {
    match found {
        Some(found) if !found.is_empty() => {
            let missing: Vec<&str> = expected
                .iter()
                .filter(|db| !found.contains(db))
                .map(|s| s.as_str())
                .collect();
            if missing.is_empty() {
                Finding::new(
                    Check::Coverage,
                    State::Ok,
                    format!("all {} expected databases are in the dump", expected.len()),
                )
            } else {
                Finding::new(
                    Check::Coverage,
                    State::Critical,
                    format!(
                        "the dump lacks database{} {} (it holds {})",
                        if missing.len() == 1 { "" } else { "s" },
                        safe(&missing.join(", "), 300),
                        safe(&found.join(", "), 300)
                    ),
                )
            }
        }
        _ => Finding::new(
            Check::Coverage,
            State::Unknown,
            "cannot tell which databases the dump holds: --expect-databases needs --per-database, or an --all-databases mysqldump / pg_dumpall dump whose content was read in this check",
        ),
    }
}

/// Dumps less than this far apart (seconds) belong to the same run.
const SAME_RUN: f64 = 3600.0;

/// When one database's dumps were written: its newest, and the one before.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatabaseRuns {
    /// Database name.
    pub name: String,
    /// Its newest dump's mtime.
    pub newest: std::time::SystemTime,
    /// Its previous dump's mtime, if it has one.
    pub previous: Option<std::time::SystemTime>,
}

/// Every database seen must have a dump from the newest run: one whose newest dump is older
/// than the newest run by more than half the usual time between runs (the median, over the
/// databases with two dumps, of the time between their last two; at least an hour) was left
/// out of it
/// (dropped, renamed, permission lost): WARNING, naming it and the run. Without two dumps of
/// any database the interval is unknown and the rule is silent.
pub fn missing_from_newest_run(dbs: &[DatabaseRuns]) -> Vec<Finding> {
    let Some(newest_run) = dbs.iter().map(|d| d.newest).max() else {
        return Vec::new();
    };
    let mut intervals: Vec<f64> = dbs
        .iter()
        .filter_map(|d| Some(super::seconds_between(d.newest, d.previous?)))
        // Two dumps within an hour are one run writing two rotations (automysqlbackup's
        // daily and monthly copies), not two runs.
        .filter(|s| *s >= SAME_RUN)
        .collect();
    if intervals.is_empty() {
        return Vec::new();
    }
    intervals.sort_by(f64::total_cmp);
    let window = (intervals[intervals.len() / 2] / 2.0).max(SAME_RUN);
    let shown = |t: std::time::SystemTime| {
        chrono::DateTime::<chrono::Local>::from(t)
            .format("%Y-%m-%d %H:%M")
            .to_string()
    };
    dbs.iter()
        .filter(|d| super::seconds_between(newest_run, d.newest) > window)
        .map(|d| {
            Finding::new(
                Check::Coverage,
                State::Warning,
                format!(
                    "{}: no dump from the newest run (its dumps are from {}); its newest dump is from {}, {} earlier (dropped, renamed, or no longer readable by the backup job?)",
                    safe(&d.name, 60),
                    shown(newest_run),
                    shown(d.newest),
                    crate::units::human_duration(super::seconds_between(newest_run, d.newest))
                ),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, SystemTime};

    fn db(name: &str, newest_h: u64, previous_h: Option<u64>) -> DatabaseRuns {
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        DatabaseRuns {
            name: name.into(),
            newest: t0 + Duration::from_secs(newest_h * 3600),
            previous: previous_h.map(|h| t0 + Duration::from_secs(h * 3600)),
        }
    }

    #[test]
    fn a_database_left_out_of_the_newest_run_is_named() {
        // Daily runs: shop dumped at 24 h and 48 h, crm only at 24 h (dropped since).
        let found = missing_from_newest_run(&[db("shop", 48, Some(24)), db("crm", 24, None)]);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].state, State::Warning);
        assert!(
            found[0]
                .message
                .starts_with("crm: no dump from the newest run"),
            "{}",
            found[0].message
        );
        assert!(
            found[0].message.contains("1d 0h earlier"),
            "{}",
            found[0].message
        );
    }

    #[test]
    fn a_run_in_the_same_window_or_no_history_is_fine() {
        // A big database dumped 3 h after the others of the same daily run.
        assert!(
            missing_from_newest_run(&[db("shop", 48, Some(24)), db("big", 51, Some(27))])
                .is_empty()
        );
        // One dump each: the interval between runs is unknown.
        assert!(missing_from_newest_run(&[db("shop", 48, None), db("crm", 24, None)]).is_empty());
        assert!(missing_from_newest_run(&[]).is_empty());
    }
}
