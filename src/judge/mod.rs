//! Judging facts: pure functions from what was measured (and the operator's thresholds) to
//! findings with states and perfdata. No I/O here, so every rule is unit-tested directly.
//! `dump` judges a dump (age, size, trend, content), `checksum` its checksum file, `log` a
//! backup log, `encrypted` an encrypted dump walked without its key, `databases` a per-database set and coverage, `obstacles` what kept a fact
//! from being established.

pub mod checksum;
pub mod databases;
pub mod drill;
pub mod dump;
pub mod encrypted;
pub mod history;
pub mod log;
pub mod obstacles;
pub mod pg_cluster;
pub mod restore_points;
pub mod rpo;
pub mod schedule;
pub mod summary;

use std::time::SystemTime;

pub use nagiosplugin::ServiceState as State;

/// How many characters of a path a message quotes.
pub const PATH_CHARS: usize = 200;

use crate::range::Range;

/// The aspects a finding can be about (their names are part of the output and the JSON).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    /// Whether there is a dump at all.
    Dump,
    /// Permission to read what is to be checked.
    Access,
    /// Reading it (I/O errors).
    Read,
    /// A backup still being written.
    InProgress,
    /// The dump's age.
    Age,
    /// The dump's size.
    Size,
    /// The dump's size against earlier dumps.
    SizeTrend,
    /// The dump against the earlier dumps' content (the same content: a stuck job).
    History,
    /// The compression stream.
    Stream,
    /// The decoded content as a whole.
    Content,
    /// An archive walked entry by entry.
    Archive,
    /// The writer's completion marker.
    Marker,
    /// The checksum file beside the dump.
    Checksum,
    /// The log against the dump.
    Consistency,
    /// Which databases have a dump.
    Coverage,
    /// One database of a per-database set.
    Database,
    /// The newest entry of one kind of a pg_backupcluster directory.
    Entry,
    /// The log file itself.
    Log,
    /// The log's age.
    LogAge,
    /// Error lines in the log.
    LogErrors,
    /// Warning lines in the log.
    LogWarnings,
    /// The log's last run.
    LogRun,
    /// The newest dump against the job's schedule.
    Schedule,
    /// The set's restore points (`--restore-points`).
    RestorePoints,
    /// The job's exit status in the log.
    LogStatus,
    /// The required success line in the log.
    LogSuccess,
    /// The last restore drill (`--drill-max-age`).
    Drill,
    /// The time limit.
    Timeout,
    /// A bug in the check itself.
    Internal,
    /// The command line or the configuration file (usage errors).
    Usage,
}

impl Check {
    /// The aspect's name in output and JSON.
    pub fn name(&self) -> &'static str {
        match self {
            Check::Dump => "dump",
            Check::Access => "access",
            Check::Read => "read",
            Check::InProgress => "in_progress",
            Check::Age => "age",
            Check::Size => "size",
            Check::SizeTrend => "size_trend",
            Check::History => "history",
            Check::Stream => "stream",
            Check::Content => "content",
            Check::Archive => "archive",
            Check::Marker => "marker",
            Check::Checksum => "checksum",
            Check::Consistency => "consistency",
            Check::Coverage => "coverage",
            Check::Database => "database",
            Check::Entry => "entry",
            Check::Log => "log",
            Check::LogAge => "log_age",
            Check::LogErrors => "log_errors",
            Check::LogWarnings => "log_warnings",
            Check::LogRun => "log_run",
            Check::Schedule => "schedule",
            Check::RestorePoints => "restore_points",
            Check::LogStatus => "log_status",
            Check::LogSuccess => "log_success",
            Check::Drill => "drill",
            Check::Timeout => "timeout",
            Check::Internal => "internal",
            Check::Usage => "usage",
        }
    }
}

impl std::fmt::Display for Check {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One judged aspect of the backup: the long output prints one line per finding.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    /// The aspect.
    pub check: Check,
    /// Its state.
    pub state: State,
    /// What was found, in words (already made safe for output).
    pub message: String,
}

impl Finding {
    /// A finding.
    pub fn new(check: Check, state: State, message: impl Into<String>) -> Finding {
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
    pub log_lines: Vec<(&'static str, crate::acquire::log::LogLine)>,
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
    /// The tool that decrypted the dump (`--decrypt-with`): gpg or age; absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decrypted_with: Option<&'static str>,
    /// mysqldump, pg_dump, pg_dumpall...
    pub writer: Option<&'static str>,
    /// The completion marker line found.
    pub marker: Option<String>,
    /// mysqldump's trailer date.
    pub marker_date: Option<String>,
    /// The checksum file the dump was verified against, when there was one.
    pub checksum: Option<checksum::Summary>,
    /// Whether the content verdict came from the cache.
    pub content_cached: Option<bool>,
    /// When the content was verified, if from the cache (RFC 3339).
    pub content_verified_at: Option<String>,
    /// What the backup log says, when one was given.
    pub log: Option<log::LogSummary>,
    /// With --per-database: one entry per database.
    pub databases: Option<Vec<DatabaseSummary>>,
    /// A pg_backupcluster directory: its newest entry of each kind.
    pub entries: Option<Vec<EntrySummary>>,
    /// The databases an --all-databases mysqldump or a pg_dumpall holds (its
    /// `-- Current Database:` / `\connect` sections), when they were read.
    pub sections: Option<Vec<String>>,
    /// With --restore-points: the set's dumps in the window, newest first.
    pub restore_points: Option<Vec<restore_points::PointSummary>>,
    /// With --schedule: the schedule, its last due run and its next run.
    pub schedule: Option<schedule::ScheduleSummary>,
    /// With JSON output: RPO compliance over the last 30 days, from the dumps on disk.
    pub rpo: Option<rpo::RpoSummary>,
    /// The tables of a compressed mysqldump or pg_dump text dump whose stream is whole, as
    /// counted while decoding it.
    pub tables: Option<Vec<crate::facts::TableCount>>,
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

/// The newest entry of one kind of a pg_backupcluster directory, for JSON and the headline.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct EntrySummary {
    /// `dump` or `basebackup`.
    pub kind: String,
    /// The entry's name (`2026-12-01T172419Z.dump`).
    pub entry: String,
    /// Its worst state.
    pub state: String,
    /// Its path (made safe).
    pub file: Option<String>,
    /// Its age in seconds.
    pub age_seconds: Option<f64>,
    /// Its size in bytes.
    pub size_bytes: Option<u64>,
}

/// The operator's age and size thresholds.
#[derive(Debug, Clone)]
pub struct Thresholds {
    /// Warning when the age (seconds) alerts this range.
    pub warn_age: Option<Range>,
    /// Critical when the age alerts this range.
    pub crit_age: Option<Range>,
    /// Warning when the size (bytes) alerts this range.
    pub warn_size: Option<Range>,
    /// Critical when the size alerts this range.
    pub crit_size: Option<Range>,
    /// How far in the future an mtime may be before it is a clock or copy problem.
    pub future_tolerance: f64,
}

/// Critical before warning, as the guidelines say.
pub(crate) fn threshold_state(value: f64, warn: Option<&Range>, crit: Option<&Range>) -> State {
    if crit.is_some_and(|r| r.alerts(value)) {
        State::Critical
    } else if warn.is_some_and(|r| r.alerts(value)) {
        State::Warning
    } else {
        State::Ok
    }
}

pub(crate) fn describe_limit(range: &Range, human: fn(f64) -> String) -> String {
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
