//! Every restore point: the set's dumps within a window (the newest and the ones before
//! it) must number at least N, each verified whole and complete by the same content rules
//! as the newest dump. Retention is checked, not assumed: `--oldest-age` warns when the
//! oldest good restore point is younger than it should be (a cleanup deleting too much).

use std::time::SystemTime;

use super::{seconds_between, Check, Finding, PerfDatum, State};
use crate::range::Range;
use crate::units::human_duration;

/// How many characters of one restore point's problem a message quotes.
const PROBLEM_CHARS: usize = 160;
/// How many bad or missing restore points a message names at most.
const NAMED: usize = 5;

/// The operator's retention policy (`--restore-points N[/WINDOW]`, `--oldest-age`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Policy {
    /// Good restore points required.
    pub need: u32,
    /// Only dumps at most this many seconds old count (None: every dump of the set).
    pub window: Option<f64>,
    /// WARNING when the oldest good restore point is younger than this many seconds.
    pub oldest_age: Option<f64>,
}

/// Parses `N` or `N/WINDOW` (`7/8d`); `duration` parses the window.
pub fn parse_policy(s: &str, duration: fn(&str) -> Result<f64, String>) -> Result<Policy, String> {
    let (n, window) = match s.split_once('/') {
        Some((n, w)) => (n, Some(w)),
        None => (s, None),
    };
    let need: u32 = n
        .trim()
        .parse()
        .ok()
        .filter(|n| (1..=crate::acquire::discover::MAX_RUNNERS_UP as u32).contains(n))
        .ok_or_else(|| {
            format!(
                "'{s}': N must be a whole number from 1 to {} (N or N/WINDOW, e.g. 7/8d)",
                crate::acquire::discover::MAX_RUNNERS_UP
            )
        })?;
    let window = match window {
        Some(w) => {
            let secs = duration(w.trim())?;
            if secs <= 0.0 {
                return Err(format!("'{s}': the window must be longer than 0"));
            }
            Some(secs)
        }
        None => None,
    };
    Ok(Policy {
        need,
        window,
        oldest_age: None,
    })
}

impl Policy {
    /// Whether a dump modified at `mtime` lies within the window at `now`.
    pub fn in_window(&self, mtime: SystemTime, now: SystemTime) -> bool {
        self.window.is_none_or(|w| seconds_between(now, mtime) <= w)
    }
}

/// What verifying one restore point established.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// Verified whole and complete.
    Good,
    /// Not whole or not complete: the finding's words (already made safe).
    Bad(String),
    /// Not verified (yet): why; `background` when a background verifier is at it.
    Unverified {
        /// Why it is not verified.
        reason: String,
        /// A background verifier is reading it.
        background: bool,
    },
}

/// One restore point: a dump of the set, newest first.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    /// Its name in messages (already made safe).
    pub name: String,
    /// Its path, for JSON (already made safe).
    pub path: String,
    /// Its modification time.
    pub mtime: SystemTime,
    /// What verifying it established.
    pub verdict: Verdict,
}

/// One restore point, for JSON.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct PointSummary {
    /// Its path (made safe).
    pub file: String,
    /// Its mtime, RFC 3339.
    pub mtime: String,
    /// Seconds since its mtime.
    pub age_seconds: f64,
    /// `good`, `bad` or `unverified`.
    pub verdict: &'static str,
    /// What is wrong with it, or why it is not verified.
    pub problem: Option<String>,
}

/// The verdict in words, for the findings of one restore point.
pub fn verdict_of(findings: &[Finding], size: u64) -> Verdict {
    if size == 0 {
        return Verdict::Bad("empty file".into());
    }
    let worst = findings.iter().map(|f| f.state).max();
    let message = |state: State| {
        findings
            .iter()
            .filter(|f| f.state == state)
            .map(|f| f.message.as_str())
            .collect::<Vec<_>>()
            .join("; ")
    };
    match worst {
        Some(State::Ok) => Verdict::Good,
        // Nothing judged its content: not verified, so not good.
        None => Verdict::Unverified {
            reason: "content not verified".into(),
            background: false,
        },
        Some(State::Unknown) => Verdict::Unverified {
            reason: message(State::Unknown),
            background: false,
        },
        Some(s) => Verdict::Bad(message(s)),
    }
}

fn short(s: &str) -> String {
    crate::text::safe(s, PROBLEM_CHARS)
}

/// Names up to [`NAMED`] items, saying how many more there are.
fn name_some(items: &[String]) -> String {
    let mut out = items
        .iter()
        .take(NAMED)
        .cloned()
        .collect::<Vec<_>>()
        .join("; ");
    if items.len() > NAMED {
        out.push_str(&format!("; {} more", items.len() - NAMED));
    }
    out
}

/// Gaps between consecutive restore points (newest first) longer than 1.5 times their
/// median interval: where a run's dump is missing, in words. Needs three points.
fn gaps(points: &[&Point]) -> Vec<String> {
    if points.len() < 3 {
        return Vec::new();
    }
    let mut intervals: Vec<f64> = points
        .windows(2)
        .map(|w| seconds_between(w[0].mtime, w[1].mtime))
        .collect();
    let mut sorted = intervals.clone();
    sorted.sort_by(f64::total_cmp);
    let median = sorted[sorted.len() / 2];
    if median <= 0.0 {
        return Vec::new();
    }
    let mut out = Vec::new();
    for (i, gap) in intervals.drain(..).enumerate() {
        let missing = (gap / median).round() as i64 - 1;
        if gap > 1.5 * median && missing >= 1 {
            out.push(format!(
                "{} missing between {} and {}",
                if missing == 1 {
                    "a dump".to_string()
                } else {
                    format!("{missing} dumps")
                },
                day(points[i + 1].mtime),
                day(points[i].mtime)
            ));
        }
    }
    out
}

/// A window or limit in words: `8d`, `36h`, else as an age is said.
fn span(seconds: f64) -> String {
    let s = seconds.round() as u64;
    if s > 0 && s % 86_400 == 0 {
        format!("{}d", s / 86_400)
    } else if s > 0 && s % 3600 == 0 {
        format!("{}h", s / 3600)
    } else {
        human_duration(seconds)
    }
}

fn day(t: SystemTime) -> String {
    chrono::DateTime::<chrono::Local>::from(t)
        .format("%Y-%m-%d %H:%M")
        .to_string()
}

/// Judges the restore points (newest first; only those in the window are counted) at
/// `now`: returns the findings, the `restore_points` metric (good ones, N as the critical
/// lower bound) and the summaries for JSON.
pub fn evaluate(
    policy: &Policy,
    points: &[Point],
    now: SystemTime,
) -> (Vec<Finding>, PerfDatum, Vec<PointSummary>) {
    let counted: Vec<&Point> = points
        .iter()
        .filter(|p| policy.in_window(p.mtime, now))
        .collect();
    let good: Vec<&&Point> = counted
        .iter()
        .filter(|p| p.verdict == Verdict::Good)
        .collect();
    let bad: Vec<String> = counted
        .iter()
        .filter_map(|p| match &p.verdict {
            Verdict::Bad(why) => Some(format!("{} {}", p.name, short(why))),
            _ => None,
        })
        .collect();
    let unverified: Vec<(&Point, &String, bool)> = counted
        .iter()
        .filter_map(|p| match &p.verdict {
            Verdict::Unverified { reason, background } => Some((*p, reason, *background)),
            _ => None,
        })
        .collect();
    let need = policy.need as usize;
    let in_window = match policy.window {
        Some(w) => format!(" in {}", span(w)),
        None => String::new(),
    };
    let oldest_good = good.last().map(|p| seconds_between(now, p.mtime));
    let oldest = oldest_good
        .map(|a| format!("oldest {}", human_duration(a)))
        .unwrap_or_default();
    let pending = |u: &[(&Point, &String, bool)]| -> String {
        name_some(
            &u.iter()
                .map(|(p, why, _)| format!("{} not verified: {}", p.name, short(why)))
                .collect::<Vec<_>>(),
        )
    };
    let mut findings = Vec::new();
    let finding = if good.len() >= need {
        let mut message = format!(
            "{} restore point{}{in_window}, {oldest}",
            good.len(),
            if good.len() == 1 { "" } else { "s" }
        );
        if bad.is_empty() && unverified.is_empty() {
            message.push_str("; all verified");
            Finding::new(Check::RestorePoints, State::Ok, message)
        } else if bad.is_empty() {
            message.push_str(&format!(
                "; verified (need {need}); {}",
                pending(&unverified)
            ));
            Finding::new(Check::RestorePoints, State::Ok, message)
        } else {
            // Enough good ones, but an older dump someone may restore from is broken.
            message.push_str(&format!(
                "; verified (need {need}), but {} bad: {}",
                bad.len(),
                name_some(&bad)
            ));
            Finding::new(Check::RestorePoints, State::Warning, message)
        }
    } else if good.len() + unverified.len() >= need {
        // Not enough verified yet, but they may still be good: say what is being done.
        let background = unverified.iter().filter(|(_, _, b)| *b).count();
        let message = if background > 0 {
            format!(
                "verifying restore points in the background, {} of {need} done",
                good.len()
            )
        } else {
            format!(
                "only {} of {need} restore points{in_window} verified: {}",
                good.len(),
                pending(&unverified)
            )
        };
        let mut message = message;
        if !bad.is_empty() {
            message.push_str(&format!("; {} bad: {}", bad.len(), name_some(&bad)));
        }
        Finding::new(Check::RestorePoints, State::Unknown, message)
    } else {
        let mut problems = bad.clone();
        let seen: Vec<&Point> = counted.clone();
        let missing = gaps(&seen);
        if missing.is_empty() && counted.len() < need {
            problems.push(format!(
                "{} dump{} of the set{in_window}",
                counted.len(),
                if counted.len() == 1 { "" } else { "s" }
            ));
        }
        problems.extend(missing);
        if !unverified.is_empty() {
            problems.push(pending(&unverified));
        }
        Finding::new(
            Check::RestorePoints,
            State::Critical,
            format!(
                "only {} good restore point{}{in_window} (need {need}): {}",
                good.len(),
                if good.len() == 1 { "" } else { "s" },
                name_some(&problems)
            ),
        )
    };
    findings.push(finding);
    if let (Some(min), Some(age)) = (policy.oldest_age, oldest_good) {
        if age < min && good.len() >= need {
            findings.push(Finding::new(
                Check::RestorePoints,
                State::Warning,
                format!(
                    "the oldest restore point is only {} old (--oldest-age {}): retention not holding?",
                    human_duration(age),
                    span(min)
                ),
            ));
        }
    }
    let perf = PerfDatum {
        label: "restore_points".into(),
        value: good.len() as f64,
        uom: "",
        warn: None,
        crit: Some(Range::lower(need as f64)),
        min: Some(0.0),
        max: None,
    };
    let summaries = counted
        .iter()
        .map(|p| {
            let (verdict, problem) = match &p.verdict {
                Verdict::Good => ("good", None),
                Verdict::Bad(why) => ("bad", Some(short(why))),
                Verdict::Unverified { reason, .. } => ("unverified", Some(short(reason))),
            };
            PointSummary {
                file: p.path.clone(),
                mtime: chrono::DateTime::<chrono::Local>::from(p.mtime)
                    .to_rfc3339_opts(chrono::SecondsFormat::Secs, false),
                age_seconds: seconds_between(now, p.mtime).round(),
                verdict,
                problem,
            }
        })
        .collect();
    (findings, perf, summaries)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const DAY: u64 = 86_400;

    fn now() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000)
    }

    /// Daily dumps, newest 1h old: `verdicts[i]` is the dump `i` days before the newest.
    fn daily(verdicts: &[Verdict]) -> Vec<Point> {
        verdicts
            .iter()
            .enumerate()
            .map(|(i, v)| Point {
                name: format!("db-{i}.sql.gz"),
                path: format!("/b/db-{i}.sql.gz"),
                mtime: now() - Duration::from_secs(3600 + i as u64 * DAY),
                verdict: v.clone(),
            })
            .collect()
    }

    fn policy(need: u32, window_days: Option<u64>) -> Policy {
        Policy {
            need,
            window: window_days.map(|d| (d * DAY) as f64),
            oldest_age: None,
        }
    }

    fn bad(why: &str) -> Verdict {
        Verdict::Bad(why.into())
    }

    #[test]
    fn seven_good_daily_dumps_are_ok_and_say_the_oldest() {
        let points = daily(&vec![Verdict::Good; 7]);
        let (f, perf, json) = evaluate(&policy(7, Some(8)), &points, now());
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].state, State::Ok);
        assert_eq!(
            f[0].message,
            "7 restore points in 8d, oldest 6d 1h; all verified"
        );
        assert_eq!(perf.value, 7.0);
        assert_eq!(perf.crit, Some(Range::lower(7.0)));
        assert_eq!(json.len(), 7);
        assert!(json.iter().all(|p| p.verdict == "good"));
    }

    #[test]
    fn dumps_outside_the_window_do_not_count() {
        let points = daily(&vec![Verdict::Good; 10]);
        let (f, perf, json) = evaluate(&policy(7, Some(5)), &points, now());
        assert_eq!(f[0].state, State::Critical, "{}", f[0].message);
        assert_eq!(perf.value, 5.0);
        assert_eq!(json.len(), 5);
        assert!(
            f[0].message
                .starts_with("only 5 good restore points in 5d (need 7): 5 dumps of the set"),
            "{}",
            f[0].message
        );
        // Without a window every dump counts.
        let (f, perf, _) = evaluate(&policy(7, None), &points, now());
        assert_eq!((f[0].state, perf.value), (State::Ok, 10.0));
    }

    #[test]
    fn a_cut_and_a_missing_dump_are_named() {
        let mut points = daily(&[
            Verdict::Good,
            Verdict::Good,
            bad("gzip stream cut at byte 10459"),
            Verdict::Good,
            Verdict::Good,
            Verdict::Good,
            Verdict::Good,
        ]);
        // The dump of day 4 was never written.
        points.remove(4);
        let (f, perf, json) = evaluate(&policy(7, Some(8)), &points, now());
        assert_eq!(f[0].state, State::Critical);
        let m = &f[0].message;
        assert!(
            m.starts_with("only 5 good restore points in 8d (need 7): db-2.sql.gz gzip stream cut at byte 10459; a dump missing between "),
            "{m}"
        );
        assert_eq!(perf.value, 5.0);
        assert_eq!(json[2].verdict, "bad");
        assert_eq!(
            json[2].problem.as_deref(),
            Some("gzip stream cut at byte 10459")
        );
    }

    #[test]
    fn a_bad_dump_beside_enough_good_ones_is_a_warning() {
        let mut v = vec![Verdict::Good; 8];
        v[5] = bad("no completion marker");
        let (f, _, _) = evaluate(&policy(7, Some(9)), &daily(&v), now());
        assert_eq!(f[0].state, State::Warning);
        assert!(
            f[0].message
                .contains("; verified (need 7), but 1 bad: db-5.sql.gz no completion marker"),
            "{}",
            f[0].message
        );
    }

    #[test]
    fn points_verified_in_the_background_are_unknown_until_done() {
        let running = Verdict::Unverified {
            reason: "content verification in progress".into(),
            background: true,
        };
        let mut v = vec![Verdict::Good; 3];
        v.extend(vec![running; 4]);
        let (f, perf, _) = evaluate(&policy(7, Some(8)), &daily(&v), now());
        assert_eq!(f[0].state, State::Unknown);
        assert_eq!(
            f[0].message,
            "verifying restore points in the background, 3 of 7 done"
        );
        assert_eq!(perf.value, 3.0);
        // Even the ones being verified cannot make up for too few dumps: CRITICAL.
        let (f, _, _) = evaluate(&policy(9, Some(8)), &daily(&v), now());
        assert_eq!(f[0].state, State::Critical, "{}", f[0].message);
    }

    #[test]
    fn an_unreadable_point_is_unknown_not_ok() {
        let mut v = vec![Verdict::Good; 7];
        v[3] = Verdict::Unverified {
            reason: "permission denied".into(),
            background: false,
        };
        let (f, _, _) = evaluate(&policy(7, None), &daily(&v), now());
        assert_eq!(f[0].state, State::Unknown);
        assert!(
            f[0].message.contains(
                "only 6 of 7 restore points verified: db-3.sql.gz not verified: permission denied"
            ),
            "{}",
            f[0].message
        );
    }

    #[test]
    fn oldest_age_warns_when_retention_does_not_hold() {
        let points = daily(&vec![Verdict::Good; 7]);
        let mut p = policy(3, Some(30));
        p.oldest_age = Some((14 * DAY) as f64);
        let (f, _, _) = evaluate(&p, &points, now());
        assert_eq!(f.len(), 2);
        assert_eq!(f[0].state, State::Ok);
        assert_eq!(f[1].state, State::Warning);
        assert_eq!(
            f[1].message,
            "the oldest restore point is only 6d 1h old (--oldest-age 14d): retention not holding?"
        );
        p.oldest_age = Some((6 * DAY) as f64);
        let (f, _, _) = evaluate(&p, &points, now());
        assert_eq!(f.len(), 1);
    }

    #[test]
    fn verdicts_from_findings() {
        let ok = Finding::new(Check::Stream, State::Ok, "gzip stream intact");
        let cut = Finding::new(Check::Stream, State::Critical, "gzip stream cut at byte 9");
        let unknown = Finding::new(Check::Read, State::Unknown, "permission denied");
        assert_eq!(verdict_of(std::slice::from_ref(&ok), 10), Verdict::Good);
        assert_eq!(
            verdict_of(&[ok.clone(), cut], 10),
            bad("gzip stream cut at byte 9")
        );
        assert!(matches!(
            verdict_of(&[ok.clone(), unknown], 10),
            Verdict::Unverified { .. }
        ));
        assert!(matches!(verdict_of(&[], 10), Verdict::Unverified { .. }));
        assert_eq!(verdict_of(&[ok], 0), bad("empty file"));
    }

    #[test]
    fn policy_syntax() {
        let d = |s: &str| crate::units::parse_duration(s).map_err(|e| e.to_string());
        assert_eq!(
            parse_policy("7/8d", d),
            Ok(Policy {
                need: 7,
                window: Some(8.0 * DAY as f64),
                oldest_age: None
            })
        );
        assert_eq!(parse_policy("3", d).map(|p| p.window), Ok(None));
        assert!(parse_policy("0", d).is_err());
        assert!(parse_policy("x/8d", d).is_err());
        assert!(parse_policy("7/", d).is_err());
        assert!(parse_policy("7/0", d).is_err());
    }
}
