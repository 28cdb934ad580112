//! Judging one dump: presence in progress, age, size, size trend and content (compression
//! stream, archive walk, completion marker).

use std::path::Path;
use std::time::SystemTime;

use super::{
    describe_limit, seconds_between, threshold_state, Check, Facts, Finding, PerfDatum, Report,
    State, Thresholds, PATH_CHARS,
};
use crate::facts::{ArchiveFacts, Candidate, Compression, ContentFacts, MarkerVerdict, Writer};
use crate::units::{human_duration, human_size};

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
    dump: &Candidate,
    temporary: Option<&Candidate>,
    now: SystemTime,
    settle: f64,
) -> Option<InProgress> {
    if settle <= 0.0 {
        return None;
    }
    let since = |t: SystemTime| seconds_between(now, t);
    let name = |c: &Candidate| {
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

/// Judges a candidate's age and size into `report` (findings, perfdata, facts).
pub fn metadata(chosen: &Candidate, t: &Thresholds, now: SystemTime, report: &mut Report) {
    report.file = Some(crate::text::safe_path(&chosen.path, PATH_CHARS));
    let (age, age_perf) = evaluate_age(chosen.mtime, now, t);
    let (mut size, size_perf) = evaluate_size(chosen.size, t);
    if chosen.dir_kind.is_some() && chosen.size == 0 {
        size.message = "backup directory holds no data (0 bytes)".into();
    }
    report.facts.age_seconds = Some(age_perf.value);
    report.facts.mtime = Some(
        chrono::DateTime::<chrono::Local>::from(chosen.mtime)
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, false),
    );
    report.facts.size_bytes = Some(chosen.size);
    report.push(age);
    report.push(size);
    report.perfdata.push(age_perf);
    report.perfdata.push(size_perf);
}

/// Says that the age judged is the previous dump's (the newest is still being written).
pub fn as_previous(report: &mut Report) {
    if let Some(f) = report.findings.iter_mut().find(|f| f.check == Check::Age) {
        f.message = format!("previous dump: {}", f.message);
    }
}

/// Judges content facts, fresh or cached (verified at `verified_at`), into `report`.
pub fn content(
    content: &ContentFacts,
    verified_at: Option<SystemTime>,
    size: u64,
    now: SystemTime,
    encrypted: &super::encrypted::Rules,
    report: &mut Report,
) {
    let (mut findings, content_perf) =
        evaluate_content_with(content, size, encrypted, &mut report.facts);
    if let Some(archive) = &content.archive {
        report.trace.extend(archive.notes.iter().cloned());
    }
    if let Some(at) = verified_at {
        let ago = human_duration(seconds_between(now, at));
        report.facts.content_verified_at = Some(
            chrono::DateTime::<chrono::Local>::from(at)
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, false),
        );
        report.facts.content_cached = Some(true);
        for f in findings
            .iter_mut()
            .filter(|f| matches!(f.check, Check::Stream | Check::Marker | Check::Archive))
        {
            f.message
                .push_str(&format!(" (verified {ago} ago, cached)"));
        }
    } else {
        report.facts.content_cached = Some(false);
    }
    if let Some(writer) = report.facts.writer {
        report
            .trace
            .push(format!("writer detected from the header: {writer}"));
    }
    report.findings.extend(findings);
    report.perfdata.extend(content_perf);
}

/// Judges the dump's age; also returns the `age` metric.
pub fn evaluate_age(mtime: SystemTime, now: SystemTime, t: &Thresholds) -> (Finding, PerfDatum) {
    let age = seconds_between(now, mtime);
    let shown = human_duration(age);
    let finding = if age < -t.future_tolerance {
        Finding::new(
            Check::Age,
            State::Warning,
            format!(
                "dump is dated {} in the future (clock skew or copied with a wrong date)",
                human_duration(-age)
            ),
        )
    } else {
        // A little in the future (clock skew within tolerance) counts as brand new.
        let state = threshold_state(age.max(0.0), t.warn_age.as_ref(), t.crit_age.as_ref());
        let message = match state {
            State::Ok => format!("{shown} old"),
            State::Critical => format!(
                "dump is {shown} old (critical {})",
                t.crit_age
                    .as_ref()
                    .map_or(String::new(), |r| describe_limit(r, human_duration))
            ),
            _ => format!(
                "dump is {shown} old (warning {})",
                t.warn_age
                    .as_ref()
                    .map_or(String::new(), |r| describe_limit(r, human_duration))
            ),
        };
        Finding::new(Check::Age, state, message)
    };
    let perf = PerfDatum {
        label: "age".into(),
        value: age.round(),
        uom: "s",
        warn: t.warn_age,
        crit: t.crit_age,
        min: Some(0.0),
        max: None,
    };
    (finding, perf)
}

/// Judges the dump file's size on disk; an empty file is always CRITICAL.
pub fn evaluate_size(size: u64, t: &Thresholds) -> (Finding, PerfDatum) {
    let shown = human_size(size as f64);
    let finding = if size == 0 {
        Finding::new(Check::Size, State::Critical, "dump file is empty (0 bytes)")
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
        Finding::new(Check::Size, state, message)
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
/// (at least 2 are needed). WARNING when it is smaller by more than `max_shrink` percent,
/// or larger by more than `max_growth` percent (a runaway table, the wrong database); 0
/// turns either off. Returns the finding and the `size_change` metric (%).
pub fn evaluate_shrink(
    size: u64,
    earlier: &[u64],
    max_shrink: f64,
    max_growth: f64,
) -> Option<(Finding, PerfDatum)> {
    if (max_shrink <= 0.0 && max_growth <= 0.0) || earlier.len() < 2 {
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
    let finding = if max_shrink > 0.0 && -change > max_shrink {
        Finding::new(
            Check::SizeTrend,
            State::Warning,
            format!(
                "dump shrank: {} is {:.0}% smaller than the median {} of the {n} previous dumps (limit --max-shrink {max_shrink}%)",
                human_size(size as f64),
                -change,
                human_size(median)
            ),
        )
    } else if max_growth > 0.0 && change > max_growth {
        Finding::new(
            Check::SizeTrend,
            State::Warning,
            format!(
                "dump grew: {} is {:.0}% larger than the median {} of the {n} previous dumps (limit --max-growth {max_growth}%)",
                human_size(size as f64),
                change,
                human_size(median)
            ),
        )
    } else {
        Finding::new(
            Check::SizeTrend,
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
    evaluate_content_with(content, file_size, &super::encrypted::Rules::default(), out)
}

/// [`evaluate_content`] with the state of an encrypted dump whose structure is whole
/// (`--encrypted-without-key`).
pub fn evaluate_content_with(
    content: &ContentFacts,
    file_size: u64,
    encrypted: &super::encrypted::Rules,
    out: &mut Facts,
) -> (Vec<Finding>, Option<PerfDatum>) {
    let mut findings = Vec::new();
    let compression = content.compression;
    out.compression = Some(compression.name());
    if let Compression::Unsupported(name) = compression {
        findings.push(Finding::new(
            Check::Stream,
            State::Warning,
            format!(
                "cannot verify: {name} compression is not supported (use gzip, zstd, xz or bzip2)"
            ),
        ));
        return (findings, None);
    }
    // Decrypted (`--decrypt-with`): the plaintext is judged below like any dump's.
    let decrypted = content
        .encrypted
        .as_ref()
        .filter(|f| f.decrypted_with.is_some() && f.problem.is_none());
    if let Some(facts) = &content.encrypted {
        findings.extend(super::encrypted::expected_recipients(
            facts,
            &encrypted.recipients,
        ));
    }
    if let (Some(facts), None) = (&content.encrypted, decrypted) {
        // Nothing inside can be decoded without the key: the structure's verdict is all.
        findings.push(super::encrypted::evaluate(facts, encrypted.without_key));
        return (findings, None);
    }
    if let Some(facts) = decrypted {
        out.decrypted_with = match facts.decrypted_with.as_deref() {
            Some("age") => Some("age"),
            _ => Some("gpg"),
        };
        findings.push(super::encrypted::decrypted(facts));
    }
    if let Some(problem) = &content.problem {
        findings.push(Finding::new(
            Check::Stream,
            State::Critical,
            crate::text::safe(&problem.describe(compression, file_size), 300),
        ));
        // What a broken stream's tail says proves nothing either way.
        return (findings, None);
    }
    out.uncompressed_bytes = Some(content.uncompressed_size);
    // A directory or an uncompressed archive has no decoded size of its own to graph.
    let perf =
        (compression != Compression::Plain || content.archive.is_none()).then(|| PerfDatum {
            label: "uncompressed_size".into(),
            value: content.uncompressed_size as f64,
            uom: "B",
            warn: None,
            crit: None,
            min: Some(0.0),
            max: None,
        });
    if compression != Compression::Plain {
        findings.push(Finding::new(
            Check::Stream,
            State::Ok,
            format!(
                "{compression} stream intact, {} uncompressed",
                human_size(content.uncompressed_size as f64)
            ),
        ));
    }
    // A directory's or an archive's own verdict says more than its size.
    if let (Some(archive), Compression::Plain) = (&content.archive, compression) {
        out.writer = Some(writer_of_archive(content.writer, archive));
        findings.push(evaluate_archive(archive, out));
        findings.extend(archive_warning(archive));
        return (findings, perf);
    }
    if content.uncompressed_size == 0 {
        if file_size > 0 {
            findings.push(Finding::new(
                Check::Content,
                State::Critical,
                format!("dump decompresses to nothing (0 bytes of {compression} content)"),
            ));
        }
        return (findings, perf);
    }
    if let Some(archive) = &content.archive {
        out.writer = Some(writer_of_archive(content.writer, archive));
        findings.push(evaluate_archive(archive, out));
        findings.extend(archive_warning(archive));
        return (findings, perf);
    }
    if content.binary {
        // Not text and not a known compression: a damaged magic number, or a format we do
        // not know. Either way nothing is verified. When the operator named the trailer that
        // must be there (--marker mysqldump, --marker-regex...), it is not: CRITICAL.
        let finding = match &content.marker {
            MarkerVerdict::Missing { expected, .. } => Finding::new(
                Check::Marker,
                State::Critical,
                format!(
                    "dump incomplete: no completion marker, expected {}; the content is binary in no known compression format (damaged header or unsupported format)",
                    crate::text::safe(expected, 200)
                ),
            ),
            _ => Finding::new(
                Check::Stream,
                State::Warning,
                "cannot verify: binary content in no known compression format (damaged header or unsupported format)",
            ),
        };
        findings.push(finding);
        return (findings, perf);
    }
    out.writer = Some(content.writer.name());
    findings.push(evaluate_marker(content, out));
    (findings, perf)
}

/// Who wrote an archive: a tar archive's own kind says more (`pg_dump tar archive` for
/// `pg_dump -Ft`) than the container it was found in.
fn writer_of_archive(writer: Writer, archive: &ArchiveFacts) -> &'static str {
    match writer {
        Writer::Tar => archive.kind.name(),
        w => w.name(),
    }
}

/// What is doubtful about an archive though nothing in it is broken: a WARNING.
fn archive_warning(archive: &ArchiveFacts) -> Option<Finding> {
    if let Some(w) = &archive.warning {
        return Some(Finding::new(
            Check::Archive,
            State::Warning,
            crate::text::safe(w, 300),
        ));
    }
    schema_without_data(archive)
}

/// A whole pg_dump archive that creates tables but holds none of their rows (made with
/// `--schema-only` or `--section=pre-data`/`post-data`, often by a mistyped job): it cannot
/// restore a single row, so it is no good backup of the data, though nothing in it is broken.
pub fn schema_without_data(archive: &ArchiveFacts) -> Option<Finding> {
    let whole = archive.supported && archive.problem.is_none();
    (whole && archive.kind.is_pg_dump() && archive.tables_defined > 0 && archive.data_entries == 0)
        .then(|| {
            Finding::new(
                Check::Archive,
                State::Warning,
                format!(
                    "{} of '{}' holds no table data: it creates {} tables but none of their rows (made with --schema-only or --section=pre-data/post-data?); it cannot restore the data",
                    archive.kind.name(),
                    crate::text::safe(&archive.database, 60),
                    archive.tables_defined
                ),
            )
        })
}

fn evaluate_archive(archive: &ArchiveFacts, out: &mut Facts) -> Finding {
    let kind = archive.kind.name();
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
            Check::Archive,
            State::Warning,
            format!("cannot verify: {kind}: {why}"),
        );
    }
    if let Some(problem) = &archive.problem {
        return Finding::new(
            Check::Archive,
            State::Critical,
            format!("{kind} incomplete: {}", crate::text::safe(problem, 300)),
        );
    }
    let (summary, message) = if archive.kind.is_pg_dump() {
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
    Finding::new(Check::Archive, State::Ok, message)
}

fn evaluate_marker(content: &ContentFacts, out: &mut Facts) -> Finding {
    match &content.marker {
        MarkerVerdict::NotChecked => Finding::new(
            Check::Marker,
            State::Ok,
            "completion marker not checked (--marker none)",
        ),
        MarkerVerdict::CannotVerify if content.writer == Writer::PgCustom => Finding::new(
            Check::Marker,
            State::Warning,
            "cannot verify completeness: pg_dump custom-format archive has no text trailer (use --marker none to accept stream integrity alone)",
        ),
        MarkerVerdict::CannotVerify => Finding::new(
            Check::Marker,
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
                Check::Marker,
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
                Check::Marker,
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
    use crate::facts::{Sample, StreamFacts, StreamProblem};
    use crate::formats::interpret as judge_content;
    use crate::formats::writer::{MarkerChoice, MarkerRule};
    use crate::range::Range;
    use std::time::Duration;

    #[test]
    fn a_pg_archive_of_tables_without_rows_is_a_warning() {
        let mut a = ArchiveFacts::new(crate::facts::ArchiveKind::PgCustom);
        a.database = "shop".into();
        a.tables_defined = 3;
        let f = schema_without_data(&a).expect("a warning");
        assert_eq!(f.state, State::Warning);
        assert!(
            f.message
                .contains("holds no table data: it creates 3 tables"),
            "{}",
            f.message
        );
        // Rows of one table are enough (--exclude-table-data of a log table is usual).
        a.data_entries = 1;
        assert!(schema_without_data(&a).is_none());
        // A cut archive is CRITICAL for its cut already; no tables, nothing to say.
        a.data_entries = 0;
        a.problem = Some("cut".into());
        assert!(schema_without_data(&a).is_none());
        a.problem = None;
        a.tables_defined = 0;
        assert!(schema_without_data(&a).is_none());
        // Not a pg_dump archive: the rule does not apply.
        let mut t = ArchiveFacts::new(crate::facts::ArchiveKind::Tar);
        t.tables_defined = 3;
        assert!(schema_without_data(&t).is_none());
    }

    fn thresholds() -> Thresholds {
        Thresholds {
            warn_age: Some(Range::upper(26.0 * 3600.0)),
            crit_age: Some(Range::upper(50.0 * 3600.0)),
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
            let got = evaluate_shrink(*size, earlier, *max, 0.0).map(|(f, _)| f.state);
            assert_eq!(got, *want, "{size} vs {earlier:?} max {max}");
        }
        let (_, perf) = evaluate_shrink(38, &[100, 100, 90], 50.0, 0.0).unwrap();
        assert_eq!(
            (perf.label.as_str(), perf.value, perf.uom),
            ("size_change", -62.0, "%")
        );
    }

    #[test]
    fn growth_rule() {
        /// (size, earlier sizes, --max-shrink, --max-growth, state)
        type Case = (u64, &'static [u64], f64, f64, Option<State>);
        let table: &[Case] = &[
            (300, &[100, 100], 50.0, 200.0, Some(State::Ok)), // exactly +200%
            (301, &[100, 100], 50.0, 200.0, Some(State::Warning)),
            (301, &[100, 100], 0.0, 200.0, Some(State::Warning)), // growth alone
            (10, &[100, 100], 0.0, 200.0, Some(State::Ok)),       // shrink off
            (10, &[100, 100], 50.0, 200.0, Some(State::Warning)), // shrink still judged
            (1000, &[100], 50.0, 200.0, None),                    // no trend from one
            (1000, &[100, 100], 0.0, 0.0, None),                  // both off
            (1000, &[100, 100], 50.0, 0.0, Some(State::Ok)),      // growth off
        ];
        for (size, earlier, shrink, growth, want) in table {
            let got = evaluate_shrink(*size, earlier, *shrink, *growth).map(|(f, _)| f.state);
            assert_eq!(
                got, *want,
                "{size} vs {earlier:?} shrink {shrink} growth {growth}"
            );
        }
        let (f, perf) = evaluate_shrink(350, &[100, 120, 90], 50.0, 200.0).unwrap();
        assert_eq!(
            f.message,
            "dump grew: 350 B is 250% larger than the median 100 B of the 3 previous dumps (limit --max-growth 200%)"
        );
        assert_eq!(perf.value, 250.0);
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
            fingerprint: None,
            problem,
            sample: Sample {
                head: text.as_bytes().to_vec(),
                tail: text.as_bytes().to_vec(),
                tail_is_whole: true,
            },
            archive: None,
            tar: None,
            encrypted: None,
            tables: None,
            sections: None,
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
        let marker = findings.iter().find(|f| f.check == Check::Marker).unwrap();
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
        r.push(Finding::new(Check::Age, State::Ok, ""));
        r.push(Finding::new(Check::Size, State::Critical, ""));
        r.push(Finding::new(Check::Stream, State::Warning, ""));
        assert_eq!(r.state(), State::Critical);
    }
}
