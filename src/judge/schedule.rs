//! Schedule-aware freshness: the newest dump must be newer than the start of the last run
//! that was due (a scheduled start plus its grace), whatever the job's period, so a weekly
//! or weekday job is not paged every seventh day by fixed age thresholds.

use std::time::SystemTime;

use chrono::{DateTime, TimeZone};
use croner::Cron;

use super::{Check, Finding, PerfDatum, State};
use crate::units::human_duration;

/// How many missed runs are counted at most (a long-dead job is CRITICAL long before).
const MAX_COUNTED: u32 = 1000;

/// The operator's schedule: when runs start (`--schedule`), how long after its start a run
/// is due (`--grace`), how many missed runs are CRITICAL (`--missed-critical`).
#[derive(Debug, Clone)]
pub struct Schedule {
    /// The cron expression (5 fields, or `@daily`, `@weekly`, `@monthly`...).
    pub cron: Cron,
    /// The expression as given, for messages.
    pub text: String,
    /// Seconds after a scheduled start before its dump is due.
    pub grace: f64,
    /// Missed runs from which the state is CRITICAL (1 missed run is WARNING).
    pub missed_critical: u32,
}

/// Parses a schedule expression: 5-field cron or an `@` nickname, in local time.
pub fn parse(text: &str) -> Result<Cron, String> {
    let fields = text.split_whitespace().count();
    if !text.trim_start().starts_with('@') && fields != 5 {
        return Err(format!(
            "'{text}' is not a 5-field cron expression (minute hour day-of-month month day-of-week) or @daily, @weekly, @monthly"
        ));
    }
    text.parse::<Cron>()
        .map_err(|e| format!("'{text}' is not a cron expression: {e}"))
}

fn shown<Tz: TimeZone>(t: DateTime<Tz>) -> String
where
    Tz::Offset: std::fmt::Display,
{
    t.format("%Y-%m-%d %H:%M").to_string()
}

/// The schedule for JSON and the report.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ScheduleSummary {
    /// The expression as given.
    pub expression: String,
    /// Seconds after a start before its dump is due.
    pub grace_seconds: f64,
    /// The start of the last run that was due (RFC 3339), null when none was yet.
    pub last_due: Option<String>,
    /// The next scheduled start (RFC 3339), null when there is none.
    pub next_run: Option<String>,
}

/// The schedule's last due start and next start at `now`.
pub fn summary<Tz: TimeZone + Copy>(s: &Schedule, now: DateTime<Tz>) -> ScheduleSummary
where
    Tz::Offset: std::fmt::Display,
{
    let rfc = |t: DateTime<Tz>| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, false);
    let grace = chrono::Duration::milliseconds((s.grace * 1000.0) as i64);
    let due_by = now.clone() - grace;
    // As in `evaluate`: the backward search only seeds a forward one (DST).
    let last_due = s
        .cron
        .find_previous_occurrence(&due_by, true)
        .ok()
        .map(|approx| {
            s.cron
                .iter_after(approx.clone() - chrono::Duration::hours(2))
                .take_while(|start| *start <= due_by)
                .take(MAX_COUNTED as usize)
                .last()
                .unwrap_or(approx)
        });
    ScheduleSummary {
        expression: s.text.clone(),
        grace_seconds: s.grace,
        last_due: last_due.map(rfc),
        next_run: s.cron.find_next_occurrence(&now, false).ok().map(rfc),
    }
}

/// Judges the newest dump's mtime against the schedule at `now`: OK when it is newer than
/// the start of the last due run, WARNING for one missed run, CRITICAL from
/// `missed_critical` on. Also returns the `overdue` metric: seconds since the first missed
/// run was due (0 when none).
/// Times are in `now`'s time zone (the local one in the plugin), DST included.
pub fn evaluate<Tz: TimeZone + Copy>(
    s: &Schedule,
    newest: SystemTime,
    now: DateTime<Tz>,
) -> (Finding, PerfDatum)
where
    Tz::Offset: std::fmt::Display,
{
    let grace = chrono::Duration::milliseconds((s.grace * 1000.0) as i64);
    let dump = DateTime::<chrono::Utc>::from(newest).with_timezone(&now.timezone());
    let next = s
        .cron
        .find_next_occurrence(&now, false)
        .map(shown)
        .unwrap_or_else(|_| "never".into());
    let perf = |overdue: f64| PerfDatum {
        label: "overdue".into(),
        value: overdue.max(0.0).round(),
        uom: "s",
        warn: None,
        crit: None,
        min: Some(0.0),
        max: None,
    };
    let due_by = now.clone() - grace;
    // croner's forward search follows Vixie cron across DST changes (a start in the
    // skipped hour runs when the clock has jumped, a repeated hour runs once); its backward
    // search does not, so every start is found going forward.
    let Ok(approximate) = s.cron.find_previous_occurrence(&due_by, true) else {
        return (
            Finding::new(
                Check::Schedule,
                State::Ok,
                format!(
                    "no run of schedule '{}' was due yet; next run {next}",
                    s.text
                ),
            ),
            perf(0.0),
        );
    };
    let due_from = |from: DateTime<Tz>| {
        s.cron
            .iter_after(from)
            .take_while(|start| *start <= due_by)
            .take(MAX_COUNTED as usize)
    };
    let last_due = due_from(approximate.clone() - chrono::Duration::hours(2))
        .last()
        .unwrap_or(approximate);
    // The due starts after the dump: the runs that delivered nothing.
    let mut missed = 0u32;
    let mut first_missed = None;
    for start in due_from(dump.clone()) {
        missed += 1;
        first_missed.get_or_insert(start);
    }
    let Some(first_missed) = first_missed else {
        let delivered = dump.format("%H:%M").to_string();
        return (
            Finding::new(
                Check::Schedule,
                State::Ok,
                format!(
                    "last run due {} delivered (dump {delivered}); next run {next}",
                    shown(last_due)
                ),
            ),
            perf(0.0),
        );
    };
    let overdue = (now - (first_missed.clone() + grace)).num_milliseconds() as f64 / 1000.0;
    let state = if missed >= s.missed_critical {
        State::Critical
    } else {
        State::Warning
    };
    let message = if missed == 1 {
        format!(
            "missed the run scheduled {} (due {} ago): the newest dump is from {}; next run {next}",
            shown(last_due),
            human_duration(overdue),
            shown(dump)
        )
    } else {
        format!(
            "missed {missed}{} runs scheduled since {} (the first due {} ago): the newest dump is from {}; next run {next}",
            if missed as usize >= MAX_COUNTED as usize { "+" } else { "" },
            shown(first_missed),
            human_duration(overdue),
            shown(dump)
        )
    };
    (Finding::new(Check::Schedule, state, message), perf(overdue))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Local;

    fn schedule(text: &str) -> Schedule {
        Schedule {
            cron: parse(text).unwrap(),
            text: text.into(),
            grace: 7200.0,
            missed_critical: 2,
        }
    }

    fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Local> {
        Local.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
    }

    fn judge(text: &str, dump: DateTime<Local>, now: DateTime<Local>) -> (State, String, f64) {
        let (f, p) = evaluate(&schedule(text), dump.into(), now);
        (f.state, f.message, p.value)
    }

    #[test]
    fn the_summary_names_the_last_due_and_the_next_run() {
        // Sunday evening: Friday's run was the last due, Monday's is next.
        let s = summary(&schedule("30 2 * * 1-5"), at(2026, 11, 29, 20, 0));
        assert_eq!(s.expression, "30 2 * * 1-5");
        assert_eq!(s.grace_seconds, 7200.0);
        let local = |t: DateTime<Local>| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, false);
        assert_eq!(s.last_due, Some(local(at(2026, 11, 27, 2, 30))));
        assert_eq!(s.next_run, Some(local(at(2026, 11, 30, 2, 30))));
        // Monday 03:00: the run started but is not due before 04:30.
        let s = summary(&schedule("30 2 * * 1-5"), at(2026, 11, 30, 3, 0));
        assert_eq!(s.last_due, Some(local(at(2026, 11, 27, 2, 30))));
        assert_eq!(s.next_run, Some(local(at(2026, 12, 1, 2, 30))));
    }

    #[test]
    fn a_weekday_job_over_a_weekend_is_ok() {
        // Mon-Fri at 02:30; Friday's dump checked on Sunday evening and Monday 03:00.
        let friday = at(2026, 11, 27, 2, 41);
        let (state, msg, overdue) = judge("30 2 * * 1-5", friday, at(2026, 11, 29, 20, 0));
        assert_eq!(state, State::Ok, "{msg}");
        assert!(
            msg.starts_with(
                "last run due 2026-11-27 02:30 delivered (dump 02:41); next run 2026-11-30 02:30"
            ),
            "{msg}"
        );
        assert_eq!(overdue, 0.0);
        // Monday's run is not due before 04:30 (grace 2 h).
        assert_eq!(
            judge("30 2 * * 1-5", friday, at(2026, 11, 30, 4, 0)).0,
            State::Ok
        );
    }

    #[test]
    fn missed_runs_warn_then_go_critical() {
        let monday = at(2026, 11, 30, 2, 41);
        let (state, msg, overdue) = judge("30 2 * * *", monday, at(2026, 12, 1, 5, 30));
        assert_eq!(state, State::Warning, "{msg}");
        assert!(
            msg.starts_with("missed the run scheduled 2026-12-01 02:30 (due 1h 0m ago)"),
            "{msg}"
        );
        assert_eq!(overdue, 3600.0);
        let (state, msg, overdue) = judge("30 2 * * *", monday, at(2026, 12, 2, 5, 30));
        assert_eq!(state, State::Critical, "{msg}");
        assert!(
            msg.starts_with("missed 2 runs scheduled since 2026-12-01 02:30"),
            "{msg}"
        );
        assert_eq!(overdue, 86_400.0 + 3600.0);
    }

    #[test]
    fn weekly_and_monthly_nicknames() {
        // @weekly: Sunday 00:00. A dump from Sunday 00:20 is good all week.
        let sunday = at(2026, 11, 29, 0, 20);
        assert_eq!(
            judge("@weekly", sunday, at(2026, 12, 5, 23, 0)).0,
            State::Ok
        );
        assert_eq!(
            judge("@weekly", sunday, at(2026, 12, 6, 3, 0)).0,
            State::Warning
        );
        // @monthly on the 1st: November's dump is fine until December 1st 02:00.
        let nov = at(2026, 11, 1, 0, 30);
        assert_eq!(judge("@monthly", nov, at(2026, 11, 30, 23, 0)).0, State::Ok);
        assert_eq!(
            judge("@monthly", nov, at(2026, 12, 1, 3, 0)).0,
            State::Warning
        );
    }

    #[test]
    fn month_ends_and_leap_days() {
        // The 31st only exists in some months: runs on 2026-12-31 after 2026-10-31.
        let oct = at(2026, 10, 31, 1, 0);
        assert_eq!(
            judge("0 1 31 * *", oct, at(2026, 12, 30, 12, 0)).0,
            State::Ok
        );
        assert_eq!(
            judge("0 1 31 * *", oct, at(2026, 12, 31, 4, 0)).0,
            State::Warning
        );
        // Feb 29th: the next one after 2024 is 2028.
        let leap = at(2024, 2, 29, 1, 0);
        let (state, msg, _) = judge("0 1 29 2 *", leap, at(2027, 3, 1, 0, 0));
        assert_eq!(state, State::Ok, "{msg}");
        assert!(msg.contains("next run 2028-02-29 01:00"), "{msg}");
    }

    #[test]
    fn daylight_saving_changes() {
        use chrono_tz::Europe::Berlin;
        let s = schedule("30 2 * * *");
        let berlin = |y, mo, d, h, mi| Berlin.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap();
        // Spring forward (2026-03-29: 02:00 -> 03:00, 02:30 does not exist): cron runs the
        // job when the clock has jumped, at 03:00, so it is due at 05:00.
        let saturday = berlin(2026, 3, 28, 2, 40);
        let (f, _) = evaluate(&s, saturday.into(), berlin(2026, 3, 29, 4, 59));
        assert_eq!(f.state, State::Ok, "{}", f.message);
        assert!(
            f.message.contains("last run due 2026-03-28 02:30"),
            "{}",
            f.message
        );
        let (f, p) = evaluate(&s, saturday.into(), berlin(2026, 3, 29, 12, 0));
        assert_eq!(f.state, State::Warning, "{}", f.message);
        assert!(
            f.message
                .starts_with("missed the run scheduled 2026-03-29 03:00"),
            "{}",
            f.message
        );
        assert_eq!(p.value, 7.0 * 3600.0);
        let sunday = berlin(2026, 3, 29, 3, 10);
        let (f, _) = evaluate(&s, sunday.into(), berlin(2026, 3, 29, 12, 0));
        assert_eq!(f.state, State::Ok, "{}", f.message);
        assert!(
            f.message.contains("last run due 2026-03-29 03:00"),
            "{}",
            f.message
        );
        // Fall back (2026-10-25: 03:00 -> 02:00, 02:30 happens twice): one run, not two.
        let saturday = berlin(2026, 10, 24, 2, 40);
        let (f, _) = evaluate(&s, saturday.into(), berlin(2026, 10, 25, 12, 0));
        assert_eq!(f.state, State::Warning, "{}", f.message);
        assert!(
            f.message
                .starts_with("missed the run scheduled 2026-10-25 02:30"),
            "{}",
            f.message
        );
    }

    #[test]
    fn bad_expressions_are_refused() {
        assert!(parse("30 2 * *").is_err());
        assert!(parse("0 30 2 * * *").is_err());
        assert!(parse("61 2 * * *").is_err());
        assert!(parse("@daily").is_ok());
    }
}
