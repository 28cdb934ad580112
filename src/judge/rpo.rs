//! RPO compliance: over the last days, the share of time during which a good dump newer
//! than the set's recovery point objective existed. The RPO is the schedule (a dump newer
//! than the start of the last run that was due) or, without one, the warning age (`-w`).
//!
//! The history is the set's dumps still on disk, with their mtimes and the verdicts the
//! verification cache holds: a dump deleted by retention no longer counts, a dump never
//! verified counts as not good (never a compliance that was not proven). The span before the
//! oldest dump on disk is not known and is left out of the share.

use std::time::{Duration, SystemTime};

use chrono::{DateTime, Local};

use super::schedule::Schedule;
use super::seconds_between;

/// One dump of the set's history.
#[derive(Debug, Clone, PartialEq)]
pub struct Dump {
    /// Its mtime.
    pub mtime: SystemTime,
    /// `Some(true)` verified good, `Some(false)` verified bad, `None` not verified.
    pub good: Option<bool>,
}

/// What the RPO is.
#[derive(Debug, Clone)]
pub enum Objective<'a> {
    /// A dump newer than the last due scheduled start (`--schedule`, `--grace`).
    Schedule(&'a Schedule),
    /// A dump younger than this many seconds (`-w`).
    Age(f64),
}

/// RPO compliance, for JSON and the report.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RpoSummary {
    /// `schedule` or `warning age`.
    pub basis: &'static str,
    /// The RPO in seconds (the warning age; null for a schedule, whose period varies).
    pub rpo_seconds: Option<f64>,
    /// The window asked for, in days.
    pub days: u32,
    /// The part of the window the history covers (from the oldest dump on disk), seconds.
    pub observed_seconds: f64,
    /// Percent of the observed span during which a good dump within the RPO existed.
    pub percent: f64,
    /// Dumps in the observed span verified good.
    pub good_dumps: u32,
    /// Dumps in the observed span verified bad.
    pub bad_dumps: u32,
    /// Dumps in the observed span whose verdict is not known (not counted as good).
    pub unverified_dumps: u32,
}

/// Until when a good dump made at `mtime` keeps the set within its RPO.
fn covered_until(objective: &Objective, mtime: SystemTime) -> Option<SystemTime> {
    match objective {
        Objective::Age(seconds) => mtime.checked_add(Duration::from_secs_f64(seconds.max(0.0))),
        Objective::Schedule(s) => {
            // Covered until the first start after the dump is due.
            let at = DateTime::<Local>::from(mtime);
            let next = s.cron.find_next_occurrence(&at, false).ok()?;
            SystemTime::from(next).checked_add(Duration::from_secs_f64(s.grace.max(0.0)))
        }
    }
}

/// Compliance over the `days` before `now`, from `dumps` (any order).
pub fn compliance(
    objective: &Objective,
    dumps: &[Dump],
    now: SystemTime,
    days: u32,
) -> Option<RpoSummary> {
    let window_start = now
        .checked_sub(Duration::from_secs(u64::from(days) * 86_400))
        .unwrap_or(SystemTime::UNIX_EPOCH);
    let oldest = dumps.iter().map(|d| d.mtime).min()?;
    let start = oldest.max(window_start);
    if start >= now {
        return None;
    }
    // The good dumps' covered intervals, clipped to [start, now], merged.
    let mut intervals: Vec<(SystemTime, SystemTime)> = dumps
        .iter()
        .filter(|d| d.good == Some(true) && d.mtime <= now)
        .map(|d| {
            let end = covered_until(objective, d.mtime).unwrap_or(now).min(now);
            (d.mtime.max(start), end)
        })
        .filter(|(a, b)| a < b)
        .collect();
    intervals.sort();
    let mut covered = 0.0;
    let mut current: Option<(SystemTime, SystemTime)> = None;
    for (a, b) in intervals {
        match current {
            Some((ca, cb)) if a <= cb => current = Some((ca, cb.max(b))),
            Some((ca, cb)) => {
                covered += seconds_between(cb, ca);
                current = Some((a, b));
            }
            None => current = Some((a, b)),
        }
    }
    if let Some((ca, cb)) = current {
        covered += seconds_between(cb, ca);
    }
    let observed = seconds_between(now, start);
    let in_span = |d: &&Dump| d.mtime >= start && d.mtime <= now;
    let count = |good: Option<bool>| {
        dumps
            .iter()
            .filter(in_span)
            .filter(|d| d.good == good)
            .count() as u32
    };
    Some(RpoSummary {
        basis: match objective {
            Objective::Schedule(_) => "schedule",
            Objective::Age(_) => "warning age",
        },
        rpo_seconds: match objective {
            Objective::Schedule(_) => None,
            Objective::Age(s) => Some(*s),
        },
        days,
        observed_seconds: observed.round(),
        percent: (covered / observed * 1000.0).round() / 10.0,
        good_dumps: count(Some(true)),
        bad_dumps: count(Some(false)),
        unverified_dumps: count(None),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    const H: u64 = 3600;

    fn at(now: SystemTime, hours_ago: u64) -> SystemTime {
        now - Duration::from_secs(hours_ago * H)
    }

    fn dump(now: SystemTime, hours_ago: u64, good: Option<bool>) -> Dump {
        Dump {
            mtime: at(now, hours_ago),
            good,
        }
    }

    #[test]
    fn daily_good_dumps_within_the_warning_age_are_fully_compliant() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let dumps: Vec<_> = (0..40).map(|d| dump(now, d * 24 + 1, Some(true))).collect();
        let s = compliance(&Objective::Age(26.0 * 3600.0), &dumps, now, 30).unwrap();
        assert_eq!(s.percent, 100.0);
        assert_eq!(s.observed_seconds, 30.0 * 86_400.0);
        assert_eq!(s.basis, "warning age");
        assert_eq!(s.rpo_seconds, Some(93_600.0));
        // 30 dumps fall in the window (1 h, 25 h, ... 697 h ago).
        assert_eq!((s.good_dumps, s.bad_dumps, s.unverified_dumps), (30, 0, 0));
    }

    #[test]
    fn a_bad_and_an_unverified_dump_leave_gaps() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        // Ten daily dumps; the one 5 days ago bad, the one 8 days ago not verified.
        let dumps: Vec<_> = (0..10)
            .map(|d| {
                let good = match d {
                    5 => Some(false),
                    8 => None,
                    _ => Some(true),
                };
                dump(now, d * 24, good)
            })
            .collect();
        let s = compliance(&Objective::Age(26.0 * 3600.0), &dumps, now, 30).unwrap();
        // Observed from the oldest dump (216 h); each missing good dump leaves 24 - 2 h bare.
        assert_eq!(s.observed_seconds, 216.0 * 3600.0);
        let expected = ((216.0 - 2.0 * 22.0) / 216.0 * 1000.0_f64).round() / 10.0;
        assert_eq!(s.percent, expected);
        assert_eq!((s.good_dumps, s.bad_dumps, s.unverified_dumps), (8, 1, 1));
        // No dump at all: nothing to say.
        assert!(compliance(&Objective::Age(3600.0), &[], now, 30).is_none());
        // Only bad dumps: 0 %.
        let bad = [dump(now, 48, Some(false)), dump(now, 24, Some(false))];
        assert_eq!(
            compliance(&Objective::Age(3600.0), &bad, now, 30)
                .unwrap()
                .percent,
            0.0
        );
    }

    #[test]
    fn a_schedule_covers_until_the_next_run_is_due() {
        let schedule = Schedule {
            cron: super::super::schedule::parse("30 2 * * *").unwrap(),
            text: "30 2 * * *".into(),
            grace: 7200.0,
            missed_critical: 2,
        };
        // Daily dumps at 02:40 on Nov 1..=10, now Nov 12 12:00: Nov 11 and 12 missed.
        let day = |d: u32, h: u32, m: u32| {
            SystemTime::from(Local.with_ymd_and_hms(2026, 11, d, h, m, 0).unwrap())
        };
        let now = day(12, 12, 0);
        let dumps: Vec<_> = (1..=10)
            .map(|d| Dump {
                mtime: day(d, 2, 40),
                good: Some(true),
            })
            .collect();
        let s = compliance(&Objective::Schedule(&schedule), &dumps, now, 30).unwrap();
        assert_eq!(s.basis, "schedule");
        assert_eq!(s.rpo_seconds, None);
        // Covered from Nov 1 02:40 until Nov 11 04:30 (the run of Nov 11 due); bare since.
        let covered = seconds_between(day(11, 4, 30), day(1, 2, 40));
        let observed = seconds_between(now, day(1, 2, 40));
        assert_eq!(s.observed_seconds, observed.round());
        assert_eq!(s.percent, (covered / observed * 1000.0).round() / 10.0);
        // 10d 1h 50m of 11d 9h 20m.
        assert_eq!(s.percent, 88.5);
    }
}
