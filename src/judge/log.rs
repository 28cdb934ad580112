//! Judging a backup log: the last run's exit status, its error and warning lines, the
//! required success line, the log's age, and the log against the dump it should have made.

use std::time::SystemTime;

use super::{seconds_between, threshold_state, Check, Finding, PerfDatum, State};
use crate::acquire::log::{LogFacts, LogLine, LogRules};
use crate::range::Range;
use crate::units::human_duration;

/// The operator's thresholds for the backup log.
#[derive(Debug, Clone)]
pub struct LogThresholds {
    /// Warning when the log was last written longer ago than this range allows.
    pub warn_age: Option<Range>,
    /// Critical when the log was last written longer ago than this range allows.
    pub crit_age: Option<Range>,
    /// How long after writing the dump the job may keep writing its log (uploads,
    /// rotation); used when the log lines carry no timestamps.
    pub dump_slack: f64,
    /// Clock skew allowed between the log's timestamps and the dump's mtime.
    pub skew: f64,
    /// How long a run may take (`--grace`): a run still in progress after this is stuck.
    pub run_grace: f64,
}

/// What the log says, for the JSON facts.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct LogSummary {
    /// The log file (made safe for output).
    pub file: String,
    /// Seconds since the log was last written.
    pub age_seconds: f64,
    /// The last exit status in the judged run.
    pub exit_status: Option<i64>,
    /// Error lines in the run.
    pub errors: u64,
    /// Warning lines in the run.
    pub warnings: u64,
    /// Lines in the run.
    pub lines: u64,
    /// Start of the run, from its first timestamp (RFC 3339).
    pub run_started: Option<String>,
    /// Seconds between the run's first and last timestamps.
    pub duration_seconds: Option<f64>,
}

const QUOTE_CHARS: usize = 160;

fn quote_line(line: &LogLine) -> String {
    format!(
        "line {}: '{}'",
        line.number,
        crate::text::safe(line.text.trim(), QUOTE_CHARS)
    )
}

/// True when the last run is still in progress: its start line was found
/// (`--log-run-start`), it has not reached its success line (`--log-success`) yet, and it
/// reported neither an exit status nor an error. (Without both patterns nothing tells a
/// run in progress from a finished one.)
pub fn in_progress(log: &LogFacts) -> bool {
    log.run_start_found
        && log.success_seen == Some(false)
        && log.exit_status.is_none()
        && log.error_count == 0
        && log.first_time.is_some()
        && !log.mariabackup.tool
        && !log.backupninja.tool
}

/// The run in progress, against `--grace`: OK "run in progress since 02:30 (12m)" within
/// it, WARNING "run started 02:30 still not finished after 3h" (a stuck job) beyond it.
pub fn run_progress(log: &LogFacts, now: SystemTime, grace: f64) -> Option<Finding> {
    if !in_progress(log) {
        return None;
    }
    let started = log.first_time?;
    let now = chrono::DateTime::<chrono::Local>::from(now);
    let running = (now - started).num_milliseconds() as f64 / 1000.0;
    let at = if started.date_naive() == now.date_naive() {
        started.format("%H:%M").to_string()
    } else {
        started.format("%Y-%m-%d %H:%M").to_string()
    };
    Some(if running <= grace {
        Finding::new(
            Check::LogRun,
            State::Ok,
            format!(
                "run in progress since {at} ({})",
                human_duration(running.max(0.0))
            ),
        )
    } else {
        Finding::new(
            Check::LogRun,
            State::Warning,
            format!(
                "run started {at} still not finished after {} (--grace {}): a stuck job?",
                human_duration(running),
                human_duration(grace)
            ),
        )
    })
}

/// True when the log says the last run failed: a non-zero exit status, an error line, or
/// a missing success line (unless the run is still in progress).
pub fn log_says_failed(log: &LogFacts) -> bool {
    if in_progress(log) {
        return false;
    }
    let mb = &log.mariabackup;
    log.exit_status.as_ref().is_some_and(|(s, _)| *s != 0)
        || log.error_count > 0
        || log.success_seen == Some(false)
        || (mb.tool && (!mb.completed || !mb.backup_phase))
        || (log.backupninja.tool && !log.backupninja.finished)
}

/// At least this many earlier runs with a duration are needed for their median to mean
/// something.
const MIN_EARLIER_RUNS: usize = 3;

/// `--min-duration-ratio`: WARNING when the judged run took less than `ratio` times the
/// median duration of the earlier runs in the log (`earlier`, seconds): a job that
/// "succeeded" in seconds while dumping nothing (`mysqldump | gpg` without pipefail). OK
/// otherwise, and OK saying why nothing was compared when the run has no two timestamps or
/// the log fewer than 3 earlier runs. Nothing while the run is in progress.
pub fn duration_ratio(log: &LogFacts, earlier: &[f64], ratio: f64) -> Option<Finding> {
    if ratio <= 0.0 || in_progress(log) {
        return None;
    }
    let ok = |message: String| Some(Finding::new(Check::LogRun, State::Ok, message));
    let Some(last) = log
        .first_time
        .zip(log.last_time)
        .map(|(a, b)| (b - a).num_milliseconds() as f64 / 1000.0)
    else {
        return ok("the last run has no two timestamps: its duration is not compared".into());
    };
    if earlier.len() < MIN_EARLIER_RUNS {
        return ok(format!(
            "run took {}; {} earlier run{} with timestamps in the log (need {MIN_EARLIER_RUNS} to compare durations)",
            human_duration(last.max(0.0)),
            earlier.len(),
            if earlier.len() == 1 { "" } else { "s" }
        ));
    }
    let mut sorted = earlier.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    let median = if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    };
    if last < ratio * median {
        Some(Finding::new(
            Check::LogRun,
            State::Warning,
            format!(
                "the last run took {}, less than {ratio} x the median {} of the {n} earlier runs in the log: finished suspiciously fast",
                human_duration(last.max(0.0)),
                human_duration(median)
            ),
        ))
    } else {
        ok(format!(
            "run took {} (median of the {n} earlier runs {})",
            human_duration(last.max(0.0)),
            human_duration(median)
        ))
    }
}

/// Judges a backup log: exit status, error and warning lines, success line, age.
pub fn evaluate_log(
    log: &LogFacts,
    file: &str,
    mtime: SystemTime,
    now: SystemTime,
    t: &LogThresholds,
    rules: &LogRules,
) -> (Vec<Finding>, Vec<PerfDatum>, LogSummary) {
    let mut findings = Vec::new();
    let age = seconds_between(now, mtime);
    if log.lines == 0 && log.size == 0 {
        findings.push(Finding::new(
            Check::Log,
            State::Critical,
            format!("log {file} is empty: the backup job wrote nothing"),
        ));
    }
    // The exit status goes first: it is the line an operator needs on the first line.
    match &log.exit_status {
        Some((status, line)) if *status != 0 => findings.push(Finding::new(
            Check::LogStatus,
            State::Critical,
            format!(
                "job failed with exit status {status} ({})",
                quote_line(line)
            ),
        )),
        Some((_, line)) => findings.push(Finding::new(
            Check::LogStatus,
            State::Ok,
            format!("job exited with status 0 ({})", quote_line(line)),
        )),
        None => {}
    }
    let mb = &log.mariabackup;
    if mb.tool {
        findings.push(if !mb.completed {
            Finding::new(
                Check::LogSuccess,
                State::Critical,
                "mariabackup/xtrabackup did not complete: its log does not end with 'completed OK!'",
            )
        } else if !mb.backup_phase {
            Finding::new(
                Check::LogSuccess,
                State::Critical,
                if mb.prepare_phase {
                    "this is a mariabackup --prepare log, not a backup log: it does not prove that a backup ran"
                } else {
                    "the mariabackup log shows no backup phase (no server connection, no 'Backup created')"
                },
            )
        } else {
            Finding::new(
                Check::LogSuccess,
                State::Ok,
                "mariabackup backup completed OK!",
            )
        });
    }
    let bn = &log.backupninja;
    if bn.tool {
        findings.push(if bn.finished {
            Finding::new(
                Check::LogSuccess,
                State::Ok,
                "backupninja's last run finished (its FINISHED summary is in the log)",
            )
        } else {
            Finding::new(
                Check::LogSuccess,
                State::Warning,
                "backupninja's last run has no FINISHED summary yet: it was killed, or is still running",
            )
        });
    }
    if let (Some(true), Some(line)) = (log.success_seen, &log.success_line) {
        let re = rules.success.as_ref().map(|r| r.as_str()).unwrap_or("");
        findings.push(Finding::new(
            Check::LogSuccess,
            State::Ok,
            format!(
                "success line /{}/ found ({})",
                crate::text::safe(re, 80),
                quote_line(line)
            ),
        ));
    }
    if let Some(progress) = run_progress(log, now, t.run_grace) {
        // Not finished yet, so no success line yet: that is not a failure.
        findings.push(progress);
    } else if log.success_seen == Some(false) {
        let re = rules.success.as_ref().map(|r| r.as_str()).unwrap_or("");
        findings.push(Finding::new(
            Check::LogSuccess,
            State::Critical,
            format!(
                "no line matching /{}/ in the last run: the job did not finish",
                crate::text::safe(re, 80)
            ),
        ));
    }
    let list = |lines: &[LogLine], count: u64, what: &str| {
        format!(
            "{count} {what} line{} in the log, first {}",
            if count == 1 { "" } else { "s" },
            quote_line(&lines[0])
        )
    };
    if log.error_count > 0 {
        findings.push(Finding::new(
            Check::LogErrors,
            State::Critical,
            list(&log.errors, log.error_count, "error"),
        ));
    }
    if log.warning_count > 0 {
        findings.push(Finding::new(
            Check::LogWarnings,
            State::Warning,
            list(&log.warnings, log.warning_count, "warning"),
        ));
    }
    if log.run_start_missing {
        let re = rules.run_start.as_ref().map(|r| r.as_str()).unwrap_or("");
        findings.push(Finding::new(
            Check::LogRun,
            State::Warning,
            format!(
                "no line matches --log-run-start /{}/: judged the whole log",
                crate::text::safe(re, 80)
            ),
        ));
    }
    let state = threshold_state(age.max(0.0), t.warn_age.as_ref(), t.crit_age.as_ref());
    let shown = human_duration(age);
    findings.push(Finding::new(
        Check::LogAge,
        state,
        match state {
            State::Ok => format!("log last written {shown} ago"),
            _ => format!("log last written {shown} ago: the backup job has not run since"),
        },
    ));
    let duration = match (log.first_time, log.last_time) {
        (Some(a), Some(b)) => Some((b - a).num_milliseconds() as f64 / 1000.0),
        _ => None,
    };
    let count = |label: &str, value: u64, warn: Option<Range>, crit: Option<Range>| PerfDatum {
        label: label.into(),
        value: value as f64,
        uom: "",
        warn,
        crit,
        min: Some(0.0),
        max: None,
    };
    let mut perf = vec![
        count("log_errors", log.error_count, None, Some(Range::upper(0.0))),
        count(
            "log_warnings",
            log.warning_count,
            Some(Range::upper(0.0)),
            None,
        ),
        PerfDatum {
            label: "log_age".into(),
            value: age.round(),
            uom: "s",
            warn: t.warn_age,
            crit: t.crit_age,
            min: Some(0.0),
            max: None,
        },
    ];
    if let Some(d) = duration {
        perf.push(PerfDatum {
            label: "duration".into(),
            value: d.round(),
            uom: "s",
            warn: None,
            crit: None,
            min: Some(0.0),
            max: None,
        });
    }
    let summary = LogSummary {
        file: file.to_string(),
        age_seconds: age.round(),
        exit_status: log.exit_status.as_ref().map(|s| s.0),
        errors: log.error_count,
        warnings: log.warning_count,
        lines: log.lines,
        run_started: log
            .first_time
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, false)),
        duration_seconds: duration,
    };
    (findings, perf, summary)
}

/// Judges the log against the dump: a run that failed cannot vouch for its dump even when
/// the trailer is there (`mysqldump --force`; mydumper 0.10 writes `Finished dump at:` after a
/// lost connection), and a run that started after the newest dump was written produced no
/// dump at all.
pub fn evaluate_log_vs_dump(
    log: &LogFacts,
    log_mtime: SystemTime,
    dump_mtime: SystemTime,
    dump_has_marker: bool,
    writer: Option<&str>,
    t: &LogThresholds,
) -> Vec<Finding> {
    let mut findings: Vec<Finding> = failed_run_vs_complete_dump(log, dump_has_marker, writer)
        .into_iter()
        .collect();
    findings.extend(run_after_dump(log, log_mtime, dump_mtime, t));
    findings
}

/// A dump that looks complete from a run the log says failed is not trustworthy.
pub fn failed_run_vs_complete_dump(
    log: &LogFacts,
    dump_has_marker: bool,
    writer: Option<&str>,
) -> Option<Finding> {
    (dump_has_marker && log_says_failed(log)).then(|| {
        Finding::new(
            Check::Consistency,
            State::Critical,
            match writer {
                Some("mysqldump") => "the dump has its completion marker but the job's last run failed (mysqldump --force writes the trailer even after errors): the dump is not trustworthy".to_string(),
                Some(w) => format!(
                    "the {} looks complete but the job's last run failed: the backup is not trustworthy",
                    crate::text::safe(w, 60)
                ),
                None => "the backup looks complete but the job's last run failed: it is not trustworthy".to_string(),
            },
        )
    })
}

/// A run that started after the dump was written produced no dump (judged by the log's own
/// timestamps, or by its mtime when it has none).
pub fn run_after_dump(
    log: &LogFacts,
    log_mtime: SystemTime,
    dump_mtime: SystemTime,
    t: &LogThresholds,
) -> Option<Finding> {
    // A run in progress has not written its dump yet (run_progress judges it).
    if in_progress(log) {
        return None;
    }
    let dump_time = chrono::DateTime::<chrono::Local>::from(dump_mtime);
    let shown = |t: chrono::DateTime<chrono::Local>| t.format("%Y-%m-%d %H:%M:%S").to_string();
    let message = match log.first_time {
        Some(started) => {
            let after = (started - dump_time).num_milliseconds() as f64 / 1000.0;
            (after > t.skew).then(|| {
                format!(
                    "the job's last run (started {}) produced no dump: the newest dump was written {} before it, at {}",
                    shown(started),
                    human_duration(after),
                    shown(dump_time)
                )
            })
        }
        None => {
            let after = seconds_between(log_mtime, dump_mtime);
            (after > t.dump_slack).then(|| {
                format!(
                    "the log was written {} after the newest dump (more than --log-dump-slack {}): the last run produced no dump",
                    human_duration(after),
                    human_duration(t.dump_slack)
                )
            })
        }
    }?;
    Some(Finding::new(Check::Consistency, State::Critical, message))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use std::time::Duration;

    /// A run that started at 02:30 (local) and has written its start line, no end yet.
    fn running() -> LogFacts {
        LogFacts {
            size: 100,
            lines: 2,
            run_start_found: true,
            success_seen: Some(false),
            first_time: chrono::Local
                .with_ymd_and_hms(2026, 11, 30, 2, 30, 0)
                .single(),
            ..LogFacts::default()
        }
    }

    fn at(h: u32, m: u32) -> SystemTime {
        chrono::Local
            .with_ymd_and_hms(2026, 11, 30, h, m, 0)
            .single()
            .unwrap()
            .into()
    }

    #[test]
    fn a_run_in_progress_is_ok_within_grace_and_stuck_beyond() {
        let log = running();
        let f = run_progress(&log, at(2, 42), 7200.0).unwrap();
        assert_eq!(f.state, State::Ok);
        assert_eq!(f.message, "run in progress since 02:30 (12m 0s)");
        let f = run_progress(&log, at(5, 30), 7200.0).unwrap();
        assert_eq!(f.state, State::Warning);
        assert_eq!(
            f.message,
            "run started 02:30 still not finished after 3h 0m (--grace 2h 0m): a stuck job?"
        );
        // In progress: not a failed run, no "produced no dump".
        assert!(!log_says_failed(&log));
        let t = LogThresholds {
            warn_age: None,
            crit_age: None,
            dump_slack: 7200.0,
            skew: 300.0,
            run_grace: 7200.0,
        };
        let dump = at(2, 30) - Duration::from_secs(86_400);
        assert!(run_after_dump(&log, at(2, 42), dump, &t).is_none());
    }

    #[test]
    fn a_run_much_shorter_than_the_earlier_ones_warns() {
        let at = |h: u32, m: u32, s: u32| {
            chrono::Local
                .with_ymd_and_hms(2026, 11, 30, h, m, s)
                .unwrap()
        };
        let run = |secs: u32| LogFacts {
            first_time: Some(at(2, 30, 0)),
            last_time: Some(at(2, 30 + secs / 60, secs % 60)),
            exit_status: Some((
                0,
                LogLine {
                    number: 3,
                    text: "exited with 0".into(),
                },
            )),
            ..LogFacts::default()
        };
        let earlier = [600.0, 540.0, 660.0, 610.0];
        let f = duration_ratio(&run(4), &earlier, 0.2).unwrap();
        assert_eq!(f.state, State::Warning);
        assert_eq!(f.check, Check::LogRun);
        assert_eq!(
            f.message,
            "the last run took 4s, less than 0.2 x the median 10m 5s of the 4 earlier runs in the log: finished suspiciously fast"
        );
        // 2 min is more than 0.2 x 10m 5s: OK, saying both.
        let f = duration_ratio(&run(125), &earlier, 0.2).unwrap();
        assert_eq!(f.state, State::Ok);
        assert_eq!(
            f.message,
            "run took 2m 5s (median of the 4 earlier runs 10m 5s)"
        );
        // Too few earlier runs, no timestamps, the rule off: nothing is compared.
        let f = duration_ratio(&run(4), &earlier[..2], 0.2).unwrap();
        assert_eq!(f.state, State::Ok);
        assert!(
            f.message
                .contains("2 earlier runs with timestamps in the log (need 3"),
            "{}",
            f.message
        );
        let untimed = LogFacts {
            first_time: None,
            ..run(4)
        };
        assert_eq!(
            duration_ratio(&untimed, &earlier, 0.2).unwrap().state,
            State::Ok
        );
        assert!(duration_ratio(&run(4), &earlier, 0.0).is_none());
    }

    #[test]
    fn a_run_that_ended_or_failed_is_not_in_progress() {
        let line = LogLine {
            number: 3,
            text: "exited with 1".into(),
        };
        let ended = LogFacts {
            exit_status: Some((1, line.clone())),
            ..running()
        };
        let errors = LogFacts {
            error_count: 1,
            errors: vec![line],
            ..running()
        };
        let succeeded = LogFacts {
            success_seen: Some(true),
            ..running()
        };
        // Without --log-run-start or --log-success nothing tells a run in progress.
        let no_start = LogFacts {
            run_start_found: false,
            ..running()
        };
        let no_success = LogFacts {
            success_seen: None,
            ..running()
        };
        for log in [ended, errors, succeeded, no_start, no_success] {
            assert!(run_progress(&log, at(2, 42), 7200.0).is_none(), "{log:?}");
        }
        // The missing success line of a finished run is still CRITICAL.
        let finished = LogFacts {
            exit_status: Some((
                0,
                LogLine {
                    number: 3,
                    text: "exited with 0".into(),
                },
            )),
            ..running()
        };
        assert!(log_says_failed(&finished));
    }
}
