//! Judging facts: pure functions from what was measured (and the operator's thresholds) to
//! findings with states and perfdata. No I/O here, so every rule is unit-tested directly.

use std::path::Path;
use std::time::SystemTime;

pub use nagiosplugin::ServiceState as State;

use crate::decode::Compression;
use crate::dumpformat::{ContentFacts, MarkerVerdict, Writer};
use crate::range::Range;
use crate::units::{human_duration, human_size};

/// One judged aspect of the backup: the long output prints one line per finding.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    /// Short name of the aspect: `dump`, `age`, `size`, `stream`, `marker`, `check`...
    pub check: &'static str,
    /// Its state.
    pub state: State,
    /// What was found, in words (already made safe for output).
    pub message: String,
}

impl Finding {
    /// A finding.
    pub fn new(check: &'static str, state: State, message: impl Into<String>) -> Finding {
        Finding {
            check,
            state,
            message: message.into(),
        }
    }
}

/// One perfdata metric, in base units.
#[derive(Debug, Clone, PartialEq)]
pub struct PerfDatum {
    /// Label, `[a-z0-9_]`.
    pub label: String,
    /// Measured value.
    pub value: f64,
    /// Unit of measure: `s`, `B`, `%`, `c` or empty.
    pub uom: &'static str,
    /// Warning threshold.
    pub warn: Option<Range>,
    /// Critical threshold.
    pub crit: Option<Range>,
    /// Minimum possible value.
    pub min: Option<f64>,
    /// Maximum possible value.
    pub max: Option<f64>,
}

/// Everything the presenters need: findings, perfdata, facts and the trace.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// All findings, in the order they were made.
    pub findings: Vec<Finding>,
    /// Metrics.
    pub perfdata: Vec<PerfDatum>,
    /// The dump that was checked, if one was found (made safe for output).
    pub file: Option<String>,
    /// Facts for machine readers (JSON).
    pub facts: Facts,
    /// Steps taken, for `-v`.
    pub trace: Vec<String>,
    /// The log's error and warning lines to list in the long output.
    pub log_lines: Vec<(&'static str, crate::log::LogLine)>,
    /// How many more error and warning lines the log has than are listed.
    pub log_more: u64,
}

impl Report {
    /// The worst state of all findings; a report with no finding is UNKNOWN (nothing was
    /// verified, so nothing may be called OK).
    pub fn state(&self) -> State {
        self.findings
            .iter()
            .map(|f| f.state)
            .max()
            .unwrap_or(State::Unknown)
    }

    /// Adds a finding.
    pub fn push(&mut self, finding: Finding) {
        self.findings.push(finding);
    }
}

/// Measured facts, as reported in JSON (`null` when not established).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Facts {
    /// Seconds since the dump's mtime.
    pub age_seconds: Option<f64>,
    /// mtime, RFC 3339.
    pub mtime: Option<String>,
    /// Size on disk.
    pub size_bytes: Option<u64>,
    /// Decoded size.
    pub uncompressed_bytes: Option<u64>,
    /// gzip, zstd, xz, bzip2, plain...
    pub compression: Option<&'static str>,
    /// mysqldump, pg_dump, pg_dumpall...
    pub writer: Option<&'static str>,
    /// The completion marker line found.
    pub marker: Option<String>,
    /// mysqldump's trailer date.
    pub marker_date: Option<String>,
    /// Whether the content verdict came from the cache.
    pub content_cached: Option<bool>,
    /// When the content was verified, if from the cache (RFC 3339).
    pub content_verified_at: Option<String>,
    /// What the backup log says, when one was given.
    pub log: Option<LogSummary>,
    /// With --per-database: one entry per database.
    pub databases: Option<Vec<DatabaseSummary>>,
    /// The databases an --all-databases mysqldump or a pg_dumpall holds (its
    /// `-- Current Database:` / `\connect` sections), when they were read.
    pub sections: Option<Vec<String>>,
}

/// One database of a per-database set, for JSON and the headline.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct DatabaseSummary {
    /// Database name (from the --per-database regex).
    pub name: String,
    /// Its worst state.
    pub state: String,
    /// Its newest dump (made safe), or null when it has none.
    pub file: Option<String>,
    /// Age of that dump in seconds.
    pub age_seconds: Option<f64>,
    /// Size of that dump in bytes.
    pub size_bytes: Option<u64>,
}

/// The operator's age and size thresholds.
#[derive(Debug, Clone)]
pub struct Thresholds {
    /// Warning when the age (seconds) alerts this range.
    pub warn_age: Range,
    /// Critical when the age alerts this range.
    pub crit_age: Range,
    /// Warning when the size (bytes) alerts this range.
    pub warn_size: Option<Range>,
    /// Critical when the size alerts this range.
    pub crit_size: Option<Range>,
    /// How far in the future an mtime may be before it is a clock or copy problem.
    pub future_tolerance: f64,
}

/// Critical before warning, as the guidelines say.
fn threshold_state(value: f64, warn: Option<&Range>, crit: Option<&Range>) -> State {
    if crit.is_some_and(|r| r.alerts(value)) {
        State::Critical
    } else if warn.is_some_and(|r| r.alerts(value)) {
        State::Warning
    } else {
        State::Ok
    }
}

fn describe_limit(range: &Range, human: fn(f64) -> String) -> String {
    if range.inside {
        return format!("inside {range}");
    }
    match (
        range.start.is_finite() && range.start != 0.0,
        range.end.is_finite(),
    ) {
        (true, true) => format!("outside {}..{}", human(range.start), human(range.end)),
        (true, false) => format!("< {}", human(range.start)),
        (false, true) => format!("> {}", human(range.end)),
        (false, false) => "never".into(),
    }
}

/// Seconds from `earlier` to `later` (negative when `later` is before).
pub fn seconds_between(later: SystemTime, earlier: SystemTime) -> f64 {
    match later.duration_since(earlier) {
        Ok(d) => d.as_secs_f64(),
        Err(e) => -e.duration().as_secs_f64(),
    }
}

/// Signs that a backup is being written right now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InProgress {
    /// The newest dump itself was modified less than `settle` ago: it may be unfinished,
    /// so the previous dump is the last finished one.
    Newest(String),
    /// A writer's temporary file beside it was written that recently: a new dump is on its
    /// way; the newest finished dump is still the one to judge.
    Temporary(String),
}

/// Whether a backup is being written: `settle` 0 turns the rule off.
pub fn in_progress(
    dump: &crate::discover::Candidate,
    temporary: Option<&crate::discover::Candidate>,
    now: SystemTime,
    settle: f64,
) -> Option<InProgress> {
    if settle <= 0.0 {
        return None;
    }
    let since = |t: SystemTime| seconds_between(now, t);
    let name = |c: &crate::discover::Candidate| {
        crate::text::safe_path(c.path.file_name().map(Path::new).unwrap_or(&c.path), 120)
    };
    let recent = |t: SystemTime| (-60.0..settle).contains(&since(t));
    if recent(dump.mtime) {
        return Some(InProgress::Newest(format!(
            "{} was modified {} ago (less than --settle {})",
            name(dump),
            human_duration(since(dump.mtime).max(0.0)),
            human_duration(settle)
        )));
    }
    temporary.filter(|t| recent(t.mtime)).map(|tmp| {
        InProgress::Temporary(format!(
            "{} is being written ({}, modified {} ago)",
            name(tmp),
            human_size(tmp.size as f64),
            human_duration(since(tmp.mtime).max(0.0))
        ))
    })
}

/// Judges the dump's age; also returns the `age` metric.
pub fn evaluate_age(mtime: SystemTime, now: SystemTime, t: &Thresholds) -> (Finding, PerfDatum) {
    let age = seconds_between(now, mtime);
    let shown = human_duration(age);
    let finding = if age < -t.future_tolerance {
        Finding::new(
            "age",
            State::Warning,
            format!(
                "dump is dated {} in the future (clock skew or copied with a wrong date)",
                human_duration(-age)
            ),
        )
    } else {
        // A little in the future (clock skew within tolerance) counts as brand new.
        let state = threshold_state(age.max(0.0), Some(&t.warn_age), Some(&t.crit_age));
        let message = match state {
            State::Ok => format!("{shown} old"),
            State::Critical => format!(
                "dump is {shown} old (critical {})",
                describe_limit(&t.crit_age, human_duration)
            ),
            _ => format!(
                "dump is {shown} old (warning {})",
                describe_limit(&t.warn_age, human_duration)
            ),
        };
        Finding::new("age", state, message)
    };
    let perf = PerfDatum {
        label: "age".into(),
        value: age.round(),
        uom: "s",
        warn: Some(t.warn_age),
        crit: Some(t.crit_age),
        min: Some(0.0),
        max: None,
    };
    (finding, perf)
}

/// Judges the dump file's size on disk; an empty file is always CRITICAL.
pub fn evaluate_size(size: u64, t: &Thresholds) -> (Finding, PerfDatum) {
    let shown = human_size(size as f64);
    let finding = if size == 0 {
        Finding::new("size", State::Critical, "dump file is empty (0 bytes)")
    } else {
        let state = threshold_state(size as f64, t.warn_size.as_ref(), t.crit_size.as_ref());
        let message = match state {
            State::Ok => shown,
            State::Critical => format!(
                "dump is only {shown} (critical {})",
                describe_limit(
                    t.crit_size.as_ref().expect("critical implies a range"),
                    human_size
                )
            ),
            _ => format!(
                "dump is only {shown} (warning {})",
                describe_limit(
                    t.warn_size.as_ref().expect("warning implies a range"),
                    human_size
                )
            ),
        };
        Finding::new("size", state, message)
    };
    let perf = PerfDatum {
        label: "size".into(),
        value: size as f64,
        uom: "B",
        warn: t.warn_size,
        crit: t.crit_size,
        min: Some(0.0),
        max: None,
    };
    (finding, perf)
}

/// The size-trend rule: the dump compared with the median size of up to 7 earlier dumps
/// (at least 2 are needed). WARNING when it is smaller by more than `max_shrink` percent;
/// 0 turns the rule off. Returns the finding and the `size_change` metric (%).
pub fn evaluate_shrink(
    size: u64,
    earlier: &[u64],
    max_shrink: f64,
) -> Option<(Finding, PerfDatum)> {
    if max_shrink <= 0.0 || earlier.len() < 2 {
        return None;
    }
    let mut sorted: Vec<u64> = earlier.iter().copied().take(7).collect();
    sorted.sort_unstable();
    let n = sorted.len();
    let median = if n % 2 == 1 {
        sorted[n / 2] as f64
    } else {
        (sorted[n / 2 - 1] as f64 + sorted[n / 2] as f64) / 2.0
    };
    if median <= 0.0 {
        return None;
    }
    let change = (size as f64 - median) / median * 100.0;
    let finding = if -change > max_shrink {
        Finding::new(
            "size_trend",
            State::Warning,
            format!(
                "dump shrank: {} is {:.0}% smaller than the median {} of the {n} previous dumps (limit --max-shrink {max_shrink}%)",
                human_size(size as f64),
                -change,
                human_size(median)
            ),
        )
    } else {
        Finding::new(
            "size_trend",
            State::Ok,
            format!(
                "{:+.0}% against the median {} of the {n} previous dumps",
                change,
                human_size(median)
            ),
        )
    };
    let perf = PerfDatum {
        label: "size_change".into(),
        value: (change * 10.0).round() / 10.0,
        uom: "%",
        warn: None,
        crit: None,
        min: None,
        max: None,
    };
    Some((finding, perf))
}

/// Judges the content facts: the compression stream, the decoded size and the writer's
/// completion marker. Returns the findings and the `uncompressed_size` metric.
pub fn evaluate_content(
    content: &ContentFacts,
    file_size: u64,
    out: &mut Facts,
) -> (Vec<Finding>, Option<PerfDatum>) {
    let mut findings = Vec::new();
    let compression = content.compression;
    out.compression = Some(compression.name());
    if let Compression::Unsupported(name) = compression {
        findings.push(Finding::new(
            "stream",
            State::Warning,
            format!(
                "cannot verify: {name} compression is not supported (use gzip, zstd, xz or bzip2)"
            ),
        ));
        return (findings, None);
    }
    if let Some(problem) = &content.problem {
        findings.push(Finding::new(
            "stream",
            State::Critical,
            crate::text::safe(&problem.describe(compression, file_size), 300),
        ));
        // What a broken stream's tail says proves nothing either way.
        return (findings, None);
    }
    out.uncompressed_bytes = Some(content.uncompressed_size);
    let perf = PerfDatum {
        label: "uncompressed_size".into(),
        value: content.uncompressed_size as f64,
        uom: "B",
        warn: None,
        crit: None,
        min: Some(0.0),
        max: None,
    };
    if compression != Compression::Plain {
        findings.push(Finding::new(
            "stream",
            State::Ok,
            format!(
                "{compression} stream intact, {} uncompressed",
                human_size(content.uncompressed_size as f64)
            ),
        ));
    }
    if content.uncompressed_size == 0 {
        if file_size > 0 {
            findings.push(Finding::new(
                "content",
                State::Critical,
                format!("dump decompresses to nothing (0 bytes of {compression} content)"),
            ));
        }
        return (findings, Some(perf));
    }
    if let Some(archive) = &content.archive {
        out.writer = Some(content.writer.name());
        findings.push(evaluate_archive(archive, out));
        return (findings, Some(perf));
    }
    if content.binary {
        // Not text and not a known compression: a damaged magic number, or a format we do
        // not know. Either way nothing is verified.
        findings.push(Finding::new(
            "stream",
            State::Warning,
            "cannot verify: binary content in no known compression format (damaged header or unsupported format)",
        ));
        return (findings, Some(perf));
    }
    out.writer = Some(content.writer.name());
    findings.push(evaluate_marker(content, out));
    (findings, Some(perf))
}

fn evaluate_archive(archive: &crate::dumpformat::ArchiveFacts, out: &mut Facts) -> Finding {
    let kind = crate::text::safe(&archive.kind, 60);
    if !archive.supported {
        let why = if archive.detail.is_empty() {
            format!(
                "version {} is not one this check knows; upgrade check_backup",
                crate::text::safe(&archive.version, 20)
            )
        } else {
            crate::text::safe(&archive.detail, 200)
        };
        return Finding::new(
            "archive",
            State::Warning,
            format!("cannot verify: {kind}: {why}"),
        );
    }
    if let Some(problem) = &archive.problem {
        return Finding::new(
            "archive",
            State::Critical,
            format!("{kind} incomplete: {}", crate::text::safe(problem, 300)),
        );
    }
    let (summary, message) = if archive.kind.starts_with("pg_dump") {
        let summary = format!(
            "all {} data blocks complete",
            archive.tables + archive.blobs
        );
        let message = format!(
            "{kind} of '{}' complete: {summary} ({} tables, {} large-object blocks), {} TOC entries, {} inside, format {}",
            crate::text::safe(&archive.database, 60),
            archive.tables,
            archive.blobs,
            archive.toc_entries,
            archive.compression,
            archive.version
        );
        (summary, message)
    } else {
        let detail = crate::text::safe(&archive.detail, 200);
        (detail.clone(), format!("{kind} complete: {detail}"))
    };
    out.marker = Some(summary);
    Finding::new("archive", State::Ok, message)
}

fn evaluate_marker(content: &ContentFacts, out: &mut Facts) -> Finding {
    match &content.marker {
        MarkerVerdict::NotChecked => Finding::new(
            "marker",
            State::Ok,
            "completion marker not checked (--marker none)",
        ),
        MarkerVerdict::CannotVerify if content.writer == Writer::PgCustom => Finding::new(
            "marker",
            State::Warning,
            "cannot verify completeness: pg_dump custom-format archive has no text trailer (use --marker none to accept stream integrity alone)",
        ),
        MarkerVerdict::CannotVerify => Finding::new(
            "marker",
            State::Warning,
            "cannot verify completeness: unknown dump format (use --marker or --marker-regex)",
        ),
        MarkerVerdict::Found { line, date, rule } => {
            out.marker = Some(line.clone());
            out.marker_date = date.clone();
            let who = match (rule.as_str(), content.writer) {
                ("custom", _) => "custom marker".to_string(),
                (rule, Writer::Unknown) => format!("{rule} marker"),
                (_, w) => format!("{} complete", w.name()),
            };
            Finding::new(
                "marker",
                State::Ok,
                format!("{who} ('{}')", crate::text::safe(line, 80)),
            )
        }
        MarkerVerdict::Missing {
            expected,
            last_line,
            unterminated,
        } => {
            let found = match (last_line, unterminated) {
                (Some(line), false) => format!("last line is '{}'", crate::text::safe(line, 80)),
                (Some(line), true) => format!(
                    "last line is '{}' with no final newline (file cut?)",
                    crate::text::safe(line, 80)
                ),
                (None, _) => "the dump has no complete last line".into(),
            };
            Finding::new(
                "marker",
                State::Critical,
                // `expected` quotes the operator's --marker-regex: foreign text too.
                format!(
                    "dump incomplete: no completion marker, expected {}; {found}",
                    crate::text::safe(expected, 200)
                ),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::{Sample, StreamFacts, StreamProblem};
    use crate::dumpformat::{judge_content, MarkerChoice, MarkerRule};
    use std::time::Duration;

    fn thresholds() -> Thresholds {
        Thresholds {
            warn_age: Range::upper(26.0 * 3600.0),
            crit_age: Range::upper(50.0 * 3600.0),
            warn_size: Some(Range::lower(1000.0)),
            crit_size: Some(Range::lower(100.0)),
            future_tolerance: 300.0,
        }
    }

    #[test]
    fn age_states() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let t = thresholds();
        let table: &[(i64, State)] = &[
            (0, State::Ok),
            (3600, State::Ok),
            (26 * 3600, State::Ok),
            (26 * 3600 + 1, State::Warning),
            (50 * 3600 + 1, State::Critical),
            (-200, State::Ok),
            (-400, State::Warning),
        ];
        for (age, want) in table {
            let mtime = if *age >= 0 {
                now - Duration::from_secs(*age as u64)
            } else {
                now + Duration::from_secs(age.unsigned_abs())
            };
            let (f, p) = evaluate_age(mtime, now, &t);
            assert_eq!(f.state, *want, "age {age}: {}", f.message);
            assert_eq!(p.value, *age as f64);
        }
    }

    #[test]
    fn shrink_rule() {
        let table: &[(u64, &[u64], f64, Option<State>)] = &[
            (100, &[100, 100], 50.0, Some(State::Ok)),
            (49, &[100, 100, 100], 50.0, Some(State::Warning)),
            (50, &[100, 100, 100], 50.0, Some(State::Ok)),
            (40, &[100], 50.0, None),     // one earlier dump is not a trend
            (10, &[100, 100], 0.0, None), // turned off
            (80, &[10, 100, 100, 1000], 10.0, Some(State::Warning)), // even count: median 100
            (300, &[100, 100], 50.0, Some(State::Ok)), // growth is fine
        ];
        for (size, earlier, max, want) in table {
            let got = evaluate_shrink(*size, earlier, *max).map(|(f, _)| f.state);
            assert_eq!(got, *want, "{size} vs {earlier:?} max {max}");
        }
        let (_, perf) = evaluate_shrink(38, &[100, 100, 90], 50.0).unwrap();
        assert_eq!(
            (perf.label.as_str(), perf.value, perf.uom),
            ("size_change", -62.0, "%")
        );
    }

    #[test]
    fn size_states() {
        let t = thresholds();
        for (size, want) in [
            (0, State::Critical),
            (99, State::Critical),
            (100, State::Warning),
            (999, State::Warning),
            (1000, State::Ok),
        ] {
            let (f, p) = evaluate_size(size, &t);
            assert_eq!(f.state, want, "size {size}: {}", f.message);
            assert_eq!(p.value, size as f64);
        }
    }

    fn stream(text: &str, compression: Compression, problem: Option<StreamProblem>) -> StreamFacts {
        StreamFacts {
            compression,
            uncompressed_size: text.len() as u64,
            compressed_read: 10,
            problem,
            sample: Sample {
                head: text.as_bytes().to_vec(),
                tail: text.as_bytes().to_vec(),
                tail_is_whole: true,
            },
            archive: None,
            tar: None,
        }
    }

    fn worst(findings: &[Finding]) -> State {
        findings.iter().map(|f| f.state).max().unwrap()
    }

    #[test]
    fn content_rules() {
        let complete = "-- MySQL dump 10.13\nINSERT;\n-- Dump completed on 2026-11-25  3:04:05\n";
        let killed = "-- MySQL dump 10.13\nINSERT INTO `log` VALUES (1,'a'),(2,'b'\n";
        let unknown = "CREATE TABLE t (id int);\n";
        let mut facts = Facts::default();
        let cases: Vec<(StreamFacts, MarkerChoice, State)> = vec![
            (
                stream(complete, Compression::Gzip, None),
                MarkerChoice::Auto,
                State::Ok,
            ),
            (
                stream(killed, Compression::Gzip, None),
                MarkerChoice::Auto,
                State::Critical,
            ),
            (
                stream(unknown, Compression::Gzip, None),
                MarkerChoice::Auto,
                State::Warning,
            ),
            (
                stream(unknown, Compression::Gzip, None),
                MarkerChoice::None,
                State::Ok,
            ),
            (
                stream(unknown, Compression::Gzip, None),
                MarkerChoice::Rule(MarkerRule::Mysqldump),
                State::Critical,
            ),
            (
                stream(
                    complete,
                    Compression::Gzip,
                    Some(StreamProblem::Truncated { at: 5 }),
                ),
                MarkerChoice::Auto,
                State::Critical,
            ),
            (
                stream("", Compression::Gzip, None),
                MarkerChoice::Auto,
                State::Critical,
            ),
            (
                stream(complete, Compression::Unsupported("lz4"), None),
                MarkerChoice::Auto,
                State::Warning,
            ),
            (
                stream("PGDMP\x01", Compression::Plain, None),
                MarkerChoice::Auto,
                State::Warning,
            ),
            (
                stream("\x1e\x0b\x08\x00\x00", Compression::Plain, None),
                MarkerChoice::None,
                State::Warning,
            ),
        ];
        for (i, (s, marker, want)) in cases.iter().enumerate() {
            let content = judge_content(s, marker);
            let (findings, _) = evaluate_content(&content, 10, &mut facts);
            assert_eq!(worst(&findings), *want, "case {i}: {findings:?}");
        }
    }

    #[test]
    fn missing_marker_quotes_last_line_safely() {
        let killed = "-- MySQL dump 10.13\nINSERT INTO `log` VALUES (1,'a|b'),(2,'\x1b[31m'\n";
        let content = judge_content(
            &stream(killed, Compression::Gzip, None),
            &MarkerChoice::Auto,
        );
        let (findings, _) = evaluate_content(&content, 10, &mut Facts::default());
        let marker = findings.iter().find(|f| f.check == "marker").unwrap();
        assert!(
            marker
                .message
                .contains("expected '-- Dump completed' as the last line"),
            "{}",
            marker.message
        );
        assert!(
            marker.message.contains("VALUES (1,'a¦b'),(2,'\\x1b[31m'"),
            "{}",
            marker.message
        );
    }

    #[test]
    fn report_state_is_worst_and_empty_is_unknown() {
        let mut r = Report::default();
        assert_eq!(r.state(), State::Unknown);
        r.push(Finding::new("a", State::Ok, ""));
        r.push(Finding::new("b", State::Critical, ""));
        r.push(Finding::new("c", State::Warning, ""));
        assert_eq!(r.state(), State::Critical);
    }
}

/// The operator's thresholds for the backup log.
#[derive(Debug, Clone)]
pub struct LogThresholds {
    /// Warning when the log was last written longer ago than this range allows.
    pub warn_age: Range,
    /// Critical when the log was last written longer ago than this range allows.
    pub crit_age: Range,
    /// How long after writing the dump the job may keep writing its log (uploads,
    /// rotation); used when the log lines carry no timestamps.
    pub dump_slack: f64,
    /// Clock skew allowed between the log's timestamps and the dump's mtime.
    pub skew: f64,
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

fn quote_line(line: &crate::log::LogLine) -> String {
    format!(
        "line {}: '{}'",
        line.number,
        crate::text::safe(line.text.trim(), QUOTE_CHARS)
    )
}

/// True when the log says the last run failed: a non-zero exit status, an error line, or
/// a missing success line.
pub fn log_says_failed(log: &crate::log::LogFacts) -> bool {
    let mb = &log.mariabackup;
    log.exit_status.as_ref().is_some_and(|(s, _)| *s != 0)
        || log.error_count > 0
        || log.success_seen == Some(false)
        || (mb.tool && (!mb.completed || !mb.backup_phase))
}

/// Judges a backup log: exit status, error and warning lines, success line, age.
pub fn evaluate_log(
    log: &crate::log::LogFacts,
    file: &str,
    mtime: SystemTime,
    now: SystemTime,
    t: &LogThresholds,
    rules: &crate::log::LogRules,
) -> (Vec<Finding>, Vec<PerfDatum>, LogSummary) {
    let mut findings = Vec::new();
    let age = seconds_between(now, mtime);
    if log.lines == 0 && log.size == 0 {
        findings.push(Finding::new(
            "log",
            State::Critical,
            format!("log {file} is empty: the backup job wrote nothing"),
        ));
    }
    // The exit status goes first: it is the line an operator needs on the first line.
    match &log.exit_status {
        Some((status, line)) if *status != 0 => findings.push(Finding::new(
            "log_status",
            State::Critical,
            format!(
                "job failed with exit status {status} ({})",
                quote_line(line)
            ),
        )),
        Some((_, line)) => findings.push(Finding::new(
            "log_status",
            State::Ok,
            format!("job exited with status 0 ({})", quote_line(line)),
        )),
        None => {}
    }
    let mb = &log.mariabackup;
    if mb.tool {
        findings.push(if !mb.completed {
            Finding::new(
                "log_success",
                State::Critical,
                "mariabackup/xtrabackup did not complete: its log does not end with 'completed OK!'",
            )
        } else if !mb.backup_phase {
            Finding::new(
                "log_success",
                State::Critical,
                if mb.prepare_phase {
                    "this is a mariabackup --prepare log, not a backup log: it does not prove that a backup ran"
                } else {
                    "the mariabackup log shows no backup phase (no server connection, no 'Backup created')"
                },
            )
        } else {
            Finding::new(
                "log_success",
                State::Ok,
                "mariabackup backup completed OK!",
            )
        });
    }
    if log.success_seen == Some(false) {
        let re = rules.success.as_ref().map(|r| r.as_str()).unwrap_or("");
        findings.push(Finding::new(
            "log_success",
            State::Critical,
            format!(
                "no line matching /{}/ in the last run: the job did not finish",
                crate::text::safe(re, 80)
            ),
        ));
    }
    let list = |lines: &[crate::log::LogLine], count: u64, what: &str| {
        format!(
            "{count} {what} line{} in the log, first {}",
            if count == 1 { "" } else { "s" },
            quote_line(&lines[0])
        )
    };
    if log.error_count > 0 {
        findings.push(Finding::new(
            "log_errors",
            State::Critical,
            list(&log.errors, log.error_count, "error"),
        ));
    }
    if log.warning_count > 0 {
        findings.push(Finding::new(
            "log_warnings",
            State::Warning,
            list(&log.warnings, log.warning_count, "warning"),
        ));
    }
    if log.run_start_missing {
        let re = rules.run_start.as_ref().map(|r| r.as_str()).unwrap_or("");
        findings.push(Finding::new(
            "log_run",
            State::Warning,
            format!(
                "no line matches --log-run-start /{}/: judged the whole log",
                crate::text::safe(re, 80)
            ),
        ));
    }
    let state = threshold_state(age.max(0.0), Some(&t.warn_age), Some(&t.crit_age));
    let shown = human_duration(age);
    findings.push(Finding::new(
        "log_age",
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
            warn: Some(t.warn_age),
            crit: Some(t.crit_age),
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
/// the trailer is there (`mysqldump --force`), and a run that started after the newest dump
/// was written produced no dump at all.
pub fn evaluate_log_vs_dump(
    log: &crate::log::LogFacts,
    log_mtime: SystemTime,
    dump_mtime: SystemTime,
    dump_has_marker: bool,
    t: &LogThresholds,
) -> Vec<Finding> {
    let mut findings = Vec::new();
    if dump_has_marker && log_says_failed(log) {
        findings.push(Finding::new(
            "consistency",
            State::Critical,
            "the dump has its completion marker but the job's last run failed (mysqldump --force writes the trailer even after errors): the dump is not trustworthy",
        ));
    }
    let dump_time = chrono::DateTime::<chrono::Local>::from(dump_mtime);
    let shown = |t: chrono::DateTime<chrono::Local>| t.format("%Y-%m-%d %H:%M:%S").to_string();
    match log.first_time {
        Some(started) => {
            let after = (started - dump_time).num_milliseconds() as f64 / 1000.0;
            if after > t.skew {
                findings.push(Finding::new(
                    "consistency",
                    State::Critical,
                    format!(
                        "the job's last run (started {}) produced no dump: the newest dump was written {} before it, at {}",
                        shown(started),
                        human_duration(after),
                        shown(dump_time)
                    ),
                ));
            }
        }
        None => {
            let after = seconds_between(log_mtime, dump_mtime);
            if after > t.dump_slack {
                findings.push(Finding::new(
                    "consistency",
                    State::Critical,
                    format!(
                        "the log was written {} after the newest dump (more than --log-dump-slack {}): the last run produced no dump",
                        human_duration(after),
                        human_duration(t.dump_slack)
                    ),
                ));
            }
        }
    }
    findings
}
