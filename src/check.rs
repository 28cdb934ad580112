//! One check run: acquire the facts (find the dump, read it once), have them judged, and
//! collect the report. I/O happens here and in the modules it calls; judging is `evaluate`'s.

use std::io;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::{Instant, SystemTime};

use crate::cli::{Config, LogConfig};
use crate::decode;
use crate::discover::{self, DiscoverError, Discovery};
use crate::evaluate::{self, Finding, Report, State};
use crate::sys;
use crate::text::{safe, safe_path};
use crate::units::human_size;
use crate::watchdog::Progress;

const PATH_CHARS: usize = 200;

/// Runs the check described by `config`; never panics on bad input, never prints.
pub fn run(config: &Config, progress: &Progress) -> Report {
    let started = Instant::now();
    let now = SystemTime::now();
    let mut report = Report::default();
    let dump = config
        .dump
        .as_ref()
        .and_then(|spec| check_dump(spec, config, now, progress, &mut report));
    if let Some(log) = &config.log {
        check_log(log, dump.as_ref(), now, progress, &mut report);
    }
    report.trace.push(format!(
        "check took {:.3}s",
        started.elapsed().as_secs_f64()
    ));
    report
}

/// What the log check needs to know about the dump.
struct DumpSeen {
    mtime: SystemTime,
    has_marker: bool,
}

fn check_dump(
    spec: &str,
    config: &Config,
    now: SystemTime,
    progress: &Progress,
    report: &mut Report,
) -> Option<DumpSeen> {
    progress.step(
        "looking for the dump",
        "dump presence, age, size, stream integrity, completion marker",
    );
    let discovery = match discover::discover(spec, config.follow_symlinks) {
        Ok(d) => d,
        Err(e) => {
            report.push(discovery_finding(&e));
            return None;
        }
    };
    trace_discovery(report, &discovery);
    let chosen = &discovery.chosen;
    let path = &chosen.path;
    report.file = Some(safe_path(path, PATH_CHARS));

    let t = &config.thresholds;
    let (age, age_perf) = evaluate::evaluate_age(chosen.mtime, now, t);
    let (size, size_perf) = evaluate::evaluate_size(chosen.size, t);
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
    progress.set_partial(report);
    let seen = |report: &Report| {
        Some(DumpSeen {
            mtime: chosen.mtime,
            has_marker: report.facts.marker.is_some(),
        })
    };
    if chosen.size == 0 {
        return seen(report);
    }

    progress.step("opening the dump", "stream integrity, completion marker");
    let file = match open_checked(path, chosen) {
        Ok(f) => f,
        Err(finding) => {
            report.push(finding);
            return seen(report);
        }
    };
    progress.bytes_total.store(chosen.size, Ordering::Relaxed);
    progress.step(
        "verifying the compression stream",
        "stream integrity, completion marker",
    );
    let read_started = Instant::now();
    let facts = match decode::verify_stream(file, chosen.size, &progress.bytes_read) {
        Ok(facts) => facts,
        Err(e) => {
            report.push(Finding::new(
                "read",
                State::Unknown,
                format!(
                    "I/O error reading {}: {} (check the disk or network filesystem)",
                    safe_path(path, PATH_CHARS),
                    safe(&e.to_string(), 200)
                ),
            ));
            return seen(report);
        }
    };
    report.trace.push(format!(
        "read {} of {} ({}) in {:.3}s, decoded {}",
        human_size(facts.compressed_read as f64),
        human_size(chosen.size as f64),
        facts.compression,
        read_started.elapsed().as_secs_f64(),
        human_size(facts.uncompressed_size as f64),
    ));
    let content = crate::dumpformat::judge_content(&facts, &config.marker);
    let (content, content_perf) =
        evaluate::evaluate_content(&content, chosen.size, &mut report.facts);
    if let Some(writer) = report.facts.writer {
        report
            .trace
            .push(format!("writer detected from the header: {writer}"));
    }
    report.findings.extend(content);
    report.perfdata.extend(content_perf);
    progress.set_partial(report);
    seen(report)
}

fn check_log(
    log: &LogConfig,
    dump: Option<&DumpSeen>,
    now: SystemTime,
    progress: &Progress,
    report: &mut Report,
) {
    progress.step("reading the backup log", "backup log");
    let path = Path::new(&log.path);
    let shown = safe_path(path, PATH_CHARS);
    let meta = match std::fs::metadata(path) {
        Ok(m) if m.is_file() => m,
        Ok(_) => {
            report.push(Finding::new(
                "log",
                State::Unknown,
                format!("log {shown} is not a regular file: refusing to read it"),
            ));
            return;
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            report.push(Finding::new(
                "log",
                State::Critical,
                format!(
                    "log {shown} does not exist: the backup job did not run, or logs elsewhere"
                ),
            ));
            return;
        }
        Err(e) => {
            report.push(open_error_finding("log", path, &e));
            return;
        }
    };
    let file = match crate::log::open(path) {
        Ok(f) => f,
        Err(e) => {
            report.push(open_error_finding("log", path, &e));
            return;
        }
    };
    let read_started = Instant::now();
    let facts = match crate::log::read_log(file, &log.rules, chrono::Local::now()) {
        Ok(f) => f,
        Err(e) => {
            report.push(open_error_finding("log", path, &e));
            return;
        }
    };
    let mtime = meta.modified().unwrap_or(now);
    report.trace.push(format!(
        "log {shown}: read {} lines from byte {} of {} in {:.3}s",
        facts.lines,
        facts.run_offset,
        facts.size,
        read_started.elapsed().as_secs_f64()
    ));
    let (findings, perf, summary) =
        evaluate::evaluate_log(&facts, &shown, mtime, now, &log.thresholds, &log.rules);
    report.findings.extend(findings);
    if let Some(dump) = dump {
        report.findings.extend(evaluate::evaluate_log_vs_dump(
            &facts,
            mtime,
            dump.mtime,
            dump.has_marker,
            &log.thresholds,
        ));
    }
    report.perfdata.extend(perf);
    report.facts.log = Some(summary);
    report.log_lines = facts
        .errors
        .iter()
        .map(|l| ("ERROR", l.clone()))
        .chain(facts.warnings.iter().map(|l| ("WARN", l.clone())))
        .collect();
    report.log_more =
        (facts.error_count + facts.warning_count).saturating_sub(report.log_lines.len() as u64);
    if facts.run_offset > 0 {
        report.trace.push(format!(
            "log line numbers count from the start of the last run, at byte {}",
            facts.run_offset
        ));
    }
}

/// UNKNOWN for a file the check could not read, naming the path, the user and the fix.
fn open_error_finding(check: &'static str, path: &Path, e: &io::Error) -> Finding {
    let message = if e.kind() == io::ErrorKind::PermissionDenied {
        format!(
            "permission denied reading {} as user {}: {}",
            path.display(),
            sys::current_user(),
            sys::permission_hint(path)
        )
    } else {
        format!("cannot read {}: {e}", path.display())
    };
    Finding::new(check, State::Unknown, safe(&message, 600))
}

fn discovery_finding(e: &DiscoverError) -> Finding {
    let state = if e.is_missing_backup() {
        State::Critical
    } else {
        State::Unknown
    };
    let check = if e.is_missing_backup() {
        "dump"
    } else {
        "access"
    };
    Finding::new(check, state, safe(&e.to_string(), 600))
}

fn trace_discovery(report: &mut Report, d: &Discovery) {
    let t = &mut report.trace;
    t.push(format!(
        "{}: {} candidate(s) considered, {} skipped",
        d.mode, d.considered, d.skipped_total
    ));
    for (path, why) in &d.skipped {
        t.push(format!("skipped {}: {why}", safe_path(path, PATH_CHARS)));
    }
    t.push(format!(
        "chose {} (newest by mtime{})",
        safe_path(&d.chosen.path, PATH_CHARS),
        if d.mode == "file" {
            ", named explicitly"
        } else {
            ", ties broken by name"
        }
    ));
    for c in &d.runners_up {
        t.push(format!(
            "older candidate {}",
            safe_path(&c.path, PATH_CHARS)
        ));
    }
}

/// Opens the chosen dump read-only and makes sure it is still the regular file that was
/// found (a FIFO swapped in, or a rotated file, must not be read as if it were the dump).
fn open_checked(path: &Path, chosen: &discover::Candidate) -> Result<std::fs::File, Finding> {
    let shown = safe_path(path, PATH_CHARS);
    let file = sys::open_readonly(path).map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => Finding::new(
            "dump",
            State::Unknown,
            format!("{shown} disappeared while being checked (rotated?); run the check again"),
        ),
        io::ErrorKind::PermissionDenied => open_error_finding("access", path, &e),
        _ => open_error_finding("read", path, &e),
    })?;
    let meta = file.metadata().map_err(|e| {
        Finding::new(
            "read",
            State::Unknown,
            format!("cannot stat {shown}: {}", safe(&e.to_string(), 200)),
        )
    })?;
    if !meta.is_file() {
        return Err(Finding::new(
            "dump",
            State::Unknown,
            format!("{shown} is no longer a regular file: refusing to read it"),
        ));
    }
    if meta.len() != chosen.size || meta.modified().ok() != Some(chosen.mtime) {
        return Err(Finding::new(
            "dump",
            State::Unknown,
            format!(
                "{shown} changed while being checked (size {} -> {}): still being written? run the check again",
                chosen.size,
                meta.len()
            ),
        ));
    }
    Ok(file)
}
