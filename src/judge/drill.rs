//! The last restore drill of a dump set (`--drill-max-age`): pure, from the result
//! `backup-drill` wrote and the newest dump check_backup found.
//!
//! A failed drill is CRITICAL (the dump did not restore: its client error is quoted); a
//! drill older than the limit, or of an older dump than the newest, is WARNING (the
//! newest dump is not proven restorable); no drill at all is WARNING saying how to run one.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::{seconds_between, Check, Finding, PerfDatum, State};
use crate::facts::{DrillOutcome, DrillResult};
use crate::text::safe;
use crate::units::human_duration;

/// The newest dump of the set, as check_backup found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Newest {
    /// Canonical path.
    pub path: String,
    /// mtime, nanoseconds since the epoch.
    pub mtime_ns: i64,
    /// Size in bytes.
    pub size: u64,
}

pub use crate::units::grouped;

fn file_name(path: &str) -> String {
    let name = path.rsplit('/').next().unwrap_or(path);
    safe(name, 120)
}

/// How long a restore took, in words: tenths below 10 s (small restores are common: "0s"
/// would say nothing), else as every other duration (`3m 12s`).
pub fn took(seconds: f64) -> String {
    if seconds < 10.0 {
        format!("{:.1}s", seconds.max(0.0))
    } else {
        human_duration(seconds)
    }
}

/// What a restored drill proved, in words: `42 tables, 1,204,331 rows restored in 3m 12s`.
pub fn restored_words(r: &DrillResult) -> String {
    if r.tables == 0 && r.views == 0 {
        // backup-drill makes this claim only after finding no table in the restored server.
        return format!(
            "no table to compare (the dump creates none, the restored server holds none), \
             restored in {}",
            took(r.restore_seconds)
        );
    }
    format!(
        "{} table{}, {} row{} restored in {}",
        grouped(r.tables),
        if r.tables == 1 { "" } else { "s" },
        grouped(r.rows),
        if r.rows == 1 { "" } else { "s" },
        took(r.restore_seconds)
    )
}

/// A drill's perfdata: `restore_seconds` (s) and `restore_rows` (0 for a failed drill: it
/// proved no row restored), as backup-drill and check_backup --drill-max-age print them.
pub fn perfdata(r: &DrillResult) -> Vec<PerfDatum> {
    let datum = |label: &str, value: f64, uom: &'static str| PerfDatum {
        label: label.into(),
        value,
        uom,
        warn: None,
        crit: None,
        min: Some(0.0),
        max: None,
    };
    let rows = if r.outcome == DrillOutcome::Failed {
        0.0
    } else {
        r.rows as f64
    };
    vec![
        datum("restore_seconds", r.restore_seconds, "s"),
        datum("restore_rows", rows, ""),
    ]
}

/// Judges the last drill. `read` is the drill result (None: no drill yet; Err: it could not
/// be read, with the reason and the fix); `newest` the newest dump found (None when none
/// was); `run_hint` how to run a drill for this set.
pub fn evaluate(
    read: Result<Option<&DrillResult>, &str>,
    newest: Option<&Newest>,
    now: SystemTime,
    max_age: f64,
    run_hint: &str,
) -> (Finding, Vec<PerfDatum>) {
    let r = match read {
        Err(why) => {
            return (
                Finding::new(
                    Check::Drill,
                    State::Unknown,
                    format!(
                        "cannot read the restore drill result: {}; run backup-drill again",
                        safe(why, 300)
                    ),
                ),
                Vec::new(),
            )
        }
        Ok(None) => {
            return (
                Finding::new(
                    Check::Drill,
                    State::Warning,
                    format!(
                        "no restore drill of this dump set yet: run {run_hint} from cron or a \
                         systemd timer (README, \"Restore drill\")"
                    ),
                ),
                Vec::new(),
            )
        }
        Ok(Some(r)) => r,
    };
    let finished = UNIX_EPOCH + Duration::from_secs(r.finished_at);
    let age = seconds_between(now, finished).max(0.0);
    let ago = format!("{} ago", human_duration(age));
    let perf = perfdata(r);
    let name = file_name(&r.dump);
    if r.outcome == DrillOutcome::Failed {
        let why = r.error.as_deref().unwrap_or("no reason recorded");
        return (
            Finding::new(
                Check::Drill,
                State::Critical,
                format!("restore drill of {name} failed ({ago}): {}", safe(why, 300)),
            ),
            perf,
        );
    }
    let words = restored_words(r);
    let drilled_newest = newest
        .is_none_or(|n| n.path == r.dump && n.mtime_ns == r.dump_mtime_ns && n.size == r.dump_size);
    let (state, message) = if !drilled_newest {
        let newest_name = newest.map(|n| file_name(&n.path)).unwrap_or_default();
        (
            State::Warning,
            format!(
                "restore drill {ago} drilled {name}, not the newest dump {newest_name}: {words}"
            ),
        )
    } else if age > max_age {
        (
            State::Warning,
            format!(
                "restore drill {ago} is older than {}: {words}",
                human_duration(max_age)
            ),
        )
    } else {
        (State::Ok, format!("restore drill {ago}: {words}"))
    };
    (Finding::new(Check::Drill, state, message), perf)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::DrillDatabase;

    const DAY: f64 = 86_400.0;

    fn result(outcome: DrillOutcome) -> DrillResult {
        DrillResult {
            set: "/b".into(),
            dump: "/b/shop_2026-11-29.sql.gz".into(),
            dump_size: 10,
            dump_mtime_ns: 5,
            writer: "mysqldump".into(),
            server: "mariadbd".into(),
            finished_at: 1_000_000,
            outcome,
            error: (outcome == DrillOutcome::Failed).then(|| {
                "ERROR 1146 (42S02) at line 8812: Table 'shop.ghost' doesn't exist".into()
            }),
            differences: Vec::new(),
            restore_seconds: 192.0,
            tables: 42,
            views: 0,
            rows: 1_204_331,
            bytes: 1,
            databases: vec![DrillDatabase::default()],
            database: None,
        }
    }

    fn newest() -> Newest {
        Newest {
            path: "/b/shop_2026-11-29.sql.gz".into(),
            mtime_ns: 5,
            size: 10,
        }
    }

    fn at(days: f64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_000_000) + Duration::from_secs_f64(days * DAY)
    }

    #[test]
    fn recent_drill_of_the_newest_dump_is_ok_with_its_figures() {
        let r = result(DrillOutcome::Restored);
        let (f, perf) = evaluate(Ok(Some(&r)), Some(&newest()), at(2.0), 8.0 * DAY, "x");
        assert_eq!(f.state, State::Ok);
        assert_eq!(
            f.message,
            "restore drill 2d 0h ago: 42 tables, 1,204,331 rows restored in 3m 12s"
        );
        assert_eq!(perf[0].label, "restore_seconds");
        assert_eq!(perf[0].value, 192.0);
        assert_eq!(perf[1].label, "restore_rows");
        assert_eq!(perf[1].value, 1_204_331.0);
    }

    #[test]
    fn failed_drill_is_critical_and_quotes_the_client() {
        let r = result(DrillOutcome::Failed);
        let (f, perf) = evaluate(Ok(Some(&r)), Some(&newest()), at(1.0), 8.0 * DAY, "x");
        assert_eq!(f.state, State::Critical);
        assert_eq!(
            perf[1].value, 0.0,
            "a failed drill restored no row it could prove"
        );
        assert!(f
            .message
            .starts_with("restore drill of shop_2026-11-29.sql.gz failed"));
        assert!(f.message.contains("ERROR 1146 (42S02) at line 8812"));
    }

    #[test]
    fn old_drill_or_older_dump_is_warning() {
        let r = result(DrillOutcome::Restored);
        let (f, _) = evaluate(Ok(Some(&r)), Some(&newest()), at(9.0), 8.0 * DAY, "x");
        assert_eq!(f.state, State::Warning);
        assert!(f.message.contains("older than 8d 0h"), "{}", f.message);
        let mut n = newest();
        n.path = "/b/shop_2026-11-30.sql.gz".into();
        let (f, _) = evaluate(Ok(Some(&r)), Some(&n), at(1.0), 8.0 * DAY, "x");
        assert_eq!(f.state, State::Warning);
        assert!(f
            .message
            .contains("not the newest dump shop_2026-11-30.sql.gz"));
        let mut n = newest();
        n.mtime_ns = 6; // the same name, rewritten
        let (f, _) = evaluate(Ok(Some(&r)), Some(&n), at(1.0), 8.0 * DAY, "x");
        assert_eq!(f.state, State::Warning);
    }

    #[test]
    fn no_drill_is_warning_saying_how_and_unreadable_is_unknown() {
        let (f, perf) = evaluate(
            Ok(None),
            Some(&newest()),
            at(0.0),
            DAY,
            "backup-drill -f /b",
        );
        assert_eq!(f.state, State::Warning);
        assert!(f.message.contains("run backup-drill -f /b"));
        assert!(perf.is_empty());
        let (f, _) = evaluate(Err("corrupt"), None, at(0.0), DAY, "x");
        assert_eq!(f.state, State::Unknown);
    }

    #[test]
    fn grouping_digits() {
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1000), "1,000");
        assert_eq!(grouped(1_204_331), "1,204,331");
    }
}
