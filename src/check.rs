//! One check run: acquire the facts (find the dump, read it once), have them judged, and
//! collect the report. I/O happens here and in the modules it calls; judging is `evaluate`'s.

use std::io;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::{Instant, SystemTime};

use crate::cache::{Cache, FileKey, Lookup, ProgressNote};
use crate::cli::{Config, LogConfig};
use crate::decode;
use crate::discover::{self, DiscoverError, Discovery};
use crate::dumpformat::ContentFacts;
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
    let cache = match &config.dump {
        Some(_) => locate_cache(config, &mut report),
        None => None,
    };
    let dump = match (&config.dump, &config.per_database) {
        (Some(spec), Some(re)) => {
            check_per_database(spec, re, config, cache.as_ref(), now, progress, &mut report);
            None
        }
        (Some(spec), None) => {
            let seen = check_dump(spec, config, cache.as_ref(), now, progress, &mut report);
            if let (Some(expected), Some(dump)) = (&config.expect_databases, &seen) {
                read_sections(&dump.path, progress, &mut report);
                check_sections(expected, &mut report);
            }
            seen
        }
        (None, _) => None,
    };
    if let Some(log) = &config.log {
        check_log(log, dump.as_ref(), now, progress, &mut report);
    }
    report.trace.push(format!(
        "check took {:.3}s",
        started.elapsed().as_secs_f64()
    ));
    report
}

/// One dump per database: the newest dump of each database is judged on its own, each
/// becoming one line of the long output and `<db>_...` perfdata; the state is the worst.
/// With `--expect-databases`, a listed database without a dump is CRITICAL.
fn check_per_database(
    spec: &str,
    re: &regex::Regex,
    config: &Config,
    cache: Option<&Cache>,
    now: SystemTime,
    progress: &Progress,
    report: &mut Report,
) {
    let root = Path::new(spec);
    report.file = Some(safe_path(root, PATH_CHARS));
    let groups = match discover::discover_per_database(root, re, config.follow_symlinks) {
        Ok(g) => g,
        Err(e) => {
            report.push(discovery_finding(&e));
            return;
        }
    };
    let expected = config.expect_databases.clone().unwrap_or_default();
    if groups.is_empty() && expected.is_empty() {
        report.push(Finding::new(
            "dump",
            State::Critical,
            format!(
                "no dump found below {} whose path matches --per-database /{}/",
                safe_path(root, PATH_CHARS),
                safe(re.as_str(), 100)
            ),
        ));
        return;
    }
    let mut databases = Vec::new();
    for (db, candidates) in &groups {
        let mut sub = Report::default();
        let _ = check_candidate(
            &candidates[0],
            &candidates[1..],
            config,
            cache,
            now,
            progress,
            &mut sub,
        );
        let state = sub.state();
        let problems: Vec<String> = sub
            .findings
            .iter()
            .filter(|f| f.state == state && state != State::Ok)
            .map(|f| f.message.clone())
            .collect();
        let name = safe(db, 60);
        let message = if problems.is_empty() {
            format!("{name}: {}", crate::output::summary(&sub))
        } else {
            format!("{name}: {}", problems.join("; "))
        };
        report.push(Finding::new("database", state, message));
        for mut p in sub.perfdata {
            p.label = format!("{}_{}", crate::output::perf_label(db), p.label);
            report.perfdata.push(p);
        }
        report
            .trace
            .extend(sub.trace.into_iter().map(|t| format!("{name}: {t}")));
        databases.push(evaluate::DatabaseSummary {
            name: db.clone(),
            state: state.to_string(),
            file: sub.file,
            age_seconds: sub.facts.age_seconds,
            size_bytes: sub.facts.size_bytes,
        });
    }
    for db in expected.iter().filter(|db| !groups.contains_key(*db)) {
        report.push(Finding::new(
            "coverage",
            State::Critical,
            format!(
                "no dump of database {} (expected by --expect-databases)",
                safe(db, 60)
            ),
        ));
        databases.push(evaluate::DatabaseSummary {
            name: db.clone(),
            state: State::Critical.to_string(),
            ..Default::default()
        });
    }
    report.facts.databases = Some(databases);
    progress.set_partial(report);
}

/// Reads which databases a whole-server dump holds (a second pass over it, only for
/// `--expect-databases`, and only when its stream was found whole).
fn read_sections(path: &Path, progress: &Progress, report: &mut Report) {
    let whole = report.facts.uncompressed_bytes.is_some()
        && matches!(
            report.facts.writer,
            Some("mysqldump" | "pg_dump" | "pg_dumpall")
        );
    if !whole {
        return;
    }
    progress.step("listing the databases in the dump", "database coverage");
    match sys::open_readonly(path).and_then(crate::sections::databases) {
        Ok(names) => report.facts.sections = Some(names),
        Err(e) => report.trace.push(format!(
            "cannot list the databases in the dump: {}",
            safe(&e.to_string(), 200)
        )),
    }
}

/// `--expect-databases` on one dump: the databases it holds must include the expected ones.
fn check_sections(expected: &[String], report: &mut Report) {
    match &report.facts.sections {
        Some(found) if !found.is_empty() => {
            let missing: Vec<&str> = expected
                .iter()
                .filter(|db| !found.contains(db))
                .map(|s| s.as_str())
                .collect();
            if missing.is_empty() {
                report.push(Finding::new(
                    "coverage",
                    State::Ok,
                    format!("all {} expected databases are in the dump", expected.len()),
                ));
            } else {
                report.push(Finding::new(
                    "coverage",
                    State::Critical,
                    format!(
                        "the dump lacks database{} {} (it holds {})",
                        if missing.len() == 1 { "" } else { "s" },
                        safe(&missing.join(", "), 300),
                        safe(&found.join(", "), 300)
                    ),
                ));
            }
        }
        _ => report.push(Finding::new(
            "coverage",
            State::Unknown,
            "cannot tell which databases the dump holds: --expect-databases needs --per-database, or an --all-databases mysqldump / pg_dumpall dump whose content was read in this check",
        )),
    }
}

/// What the log check needs to know about the dump.
struct DumpSeen {
    path: std::path::PathBuf,
    mtime: SystemTime,
    has_marker: bool,
}

fn check_dump(
    spec: &str,
    config: &Config,
    cache: Option<&Cache>,
    now: SystemTime,
    progress: &Progress,
    report: &mut Report,
) -> Option<DumpSeen> {
    progress.step(
        "looking for the dump",
        "dump presence, age, size, stream integrity, completion marker",
    );
    let mut discovery = match discover::discover(spec, config.follow_symlinks) {
        Ok(d) => d,
        Err(e) => {
            report.push(discovery_finding(&e));
            return None;
        }
    };
    trace_discovery(report, &discovery);
    #[cfg(debug_assertions)]
    sys::test_delay("CHECK_BACKUP_TEST_PAUSE_AFTER_DISCOVERY_MS");
    let (findings_before, perf_before) = (report.findings.len(), report.perfdata.len());
    // A dump rotated away between discovery and reading is looked for once more.
    for attempt in 0..2 {
        let chosen = discovery.chosen.clone();
        match evaluate::in_progress(
            &chosen,
            discovery.newest_temporary.as_ref(),
            now,
            config.settle,
        ) {
            Some(evaluate::InProgress::Temporary(reason)) => report.push(Finding::new(
                "in_progress",
                config.in_progress_state,
                format!("backup in progress: {reason}"),
            )),
            Some(evaluate::InProgress::Newest(reason)) => {
                report.push(Finding::new(
                    "in_progress",
                    config.in_progress_state,
                    format!("backup in progress: {reason}"),
                ));
                let Some(previous) = discovery.runners_up.first() else {
                    judge_metadata(&chosen, config, now, report);
                    return None;
                };
                // The last finished dump is what a restore would use: judge it.
                report.trace.push(format!(
                    "judging the previous dump {} instead",
                    safe_path(&previous.path, PATH_CHARS)
                ));
                let earlier = &discovery.runners_up[1..];
                return match check_candidate(
                    previous, earlier, config, cache, now, progress, report,
                ) {
                    Checked::Done(seen) => {
                        if let Some(f) = report.findings.iter_mut().find(|f| f.check == "age") {
                            f.message = format!("previous dump: {}", f.message);
                        }
                        seen
                    }
                    Checked::Vanished | Checked::Changed(_) => None,
                };
            }
            None => {}
        }
        match check_candidate(
            &chosen,
            &discovery.runners_up,
            config,
            cache,
            now,
            progress,
            report,
        ) {
            Checked::Done(seen) => return seen,
            Checked::Changed(why) => {
                report.push(Finding::new(
                    "in_progress",
                    config.in_progress_state,
                    format!("backup in progress: {why}"),
                ));
                return None;
            }
            Checked::Vanished if attempt == 0 => {
                report.findings.truncate(findings_before);
                report.perfdata.truncate(perf_before);
                report.trace.push(format!(
                    "{} vanished before it could be read: looking again",
                    safe_path(&chosen.path, PATH_CHARS)
                ));
                match discover::discover(spec, config.follow_symlinks) {
                    Ok(d) => discovery = d,
                    Err(e) => {
                        report.push(discovery_finding(&e));
                        return None;
                    }
                }
            }
            Checked::Vanished => break,
        }
    }
    report.push(Finding::new(
        "dump",
        State::Unknown,
        format!(
            "the newest dump disappeared twice while being checked (rotation running?): run the check again; last seen {}",
            safe_path(&discovery.chosen.path, PATH_CHARS)
        ),
    ));
    None
}

/// How checking one candidate ended.
enum Checked {
    /// Judged (the findings are in the report).
    Done(Option<DumpSeen>),
    /// It was gone (deleted or renamed) before it could be opened.
    Vanished,
    /// It changed while being read: still being written.
    Changed(String),
}

impl Checked {
    /// Judged: what the log check needs to know about the dump.
    fn done(chosen: &discover::Candidate, report: &Report) -> Checked {
        Checked::Done(Some(DumpSeen {
            path: chosen.path.clone(),
            mtime: chosen.mtime,
            has_marker: report.facts.marker.is_some(),
        }))
    }
}

/// Age and size of a candidate: findings, perfdata and facts.
fn judge_metadata(
    chosen: &discover::Candidate,
    config: &Config,
    now: SystemTime,
    report: &mut Report,
) {
    report.file = Some(safe_path(&chosen.path, PATH_CHARS));
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
}

/// Checks one dump file (with the sizes of the dumps before it, newest first): metadata,
/// size trend, then content (from the cache or by decoding it).
fn check_candidate(
    chosen: &discover::Candidate,
    earlier: &[discover::Candidate],
    config: &Config,
    cache: Option<&Cache>,
    now: SystemTime,
    progress: &Progress,
    report: &mut Report,
) -> Checked {
    let path = &chosen.path;
    judge_metadata(chosen, config, now, report);
    let sizes: Vec<u64> = earlier.iter().take(7).map(|c| c.size).collect();
    if let Some((finding, perf)) = evaluate::evaluate_shrink(chosen.size, &sizes, config.max_shrink)
    {
        report.push(finding);
        report.perfdata.push(perf);
    }
    progress.set_partial(report);
    let seen = |report: &Report| Checked::done(chosen, report);
    if let Some(kind) = chosen.dir_kind {
        return check_backup_dir(chosen, kind, config, cache, now, progress, report);
    }
    if chosen.size == 0 {
        return seen(report);
    }

    progress.step("opening the dump", "stream integrity, completion marker");
    let (file, meta) = match open_checked(path, chosen) {
        Ok(f) => f,
        Err(Unreadable::Vanished) => return Checked::Vanished,
        Err(Unreadable::Changed(why)) => return Checked::Changed(why),
        Err(Unreadable::Finding(finding)) => {
            report.push(finding);
            return seen(report);
        }
    };
    let (content, verified_at) =
        match content_facts(&file, &meta, path, config, cache, progress, report) {
            Ok(c) => c,
            Err(finding) => {
                report.push(finding);
                return seen(report);
            }
        };
    // A dump that grew or was touched while being read was still being written: what was
    // read proves nothing about the finished file.
    if let Ok(after) = file.metadata() {
        if FileKey::of(&after) != FileKey::of(&meta) {
            return Checked::Changed(format!(
                "{} changed while being read (size {} -> {})",
                safe_path(path, PATH_CHARS),
                meta.len(),
                after.len()
            ));
        }
    }
    push_content(&content, verified_at, chosen.size, now, report);
    progress.set_partial(report);
    seen(report)
}

/// Judges content facts (fresh or cached) into the report.
fn push_content(
    content: &ContentFacts,
    verified_at: Option<SystemTime>,
    size: u64,
    now: SystemTime,
    report: &mut Report,
) {
    let (mut findings, content_perf) = evaluate::evaluate_content(content, size, &mut report.facts);
    if let Some(at) = verified_at {
        let ago = crate::units::human_duration(evaluate::seconds_between(now, at));
        report.facts.content_verified_at = Some(
            chrono::DateTime::<chrono::Local>::from(at)
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, false),
        );
        report.facts.content_cached = Some(true);
        for f in findings
            .iter_mut()
            .filter(|f| matches!(f.check, "stream" | "marker" | "archive"))
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

/// Verifies a backup directory (from the cache when nothing in it changed).
fn check_backup_dir(
    chosen: &discover::Candidate,
    kind: crate::dirformats::DirKind,
    config: &Config,
    cache: Option<&Cache>,
    now: SystemTime,
    progress: &Progress,
    report: &mut Report,
) -> Checked {
    let path = &chosen.path;
    let seen = |report: &Report| Checked::done(chosen, report);
    let key = match crate::dirformats::metadata(path, kind) {
        Ok((_, _, key)) => key,
        Err(e) => {
            report.push(open_error_finding("read", path, &e));
            return seen(report);
        }
    };
    const MARKER_KEY: &str = "backup-directory";
    if let (Some(cache), false) = (cache, config.verify_only) {
        match cache.lookup(path, &key, MARKER_KEY) {
            Lookup::Hit {
                content,
                verified_at,
            } => {
                report
                    .trace
                    .push("cache: hit, directory not verified again".into());
                push_content(&content, Some(verified_at), chosen.size, now, report);
                return seen(report);
            }
            Lookup::Miss(why) => report
                .trace
                .push(format!("cache: miss: {}", safe(&why, 300))),
        }
    }
    progress.step(
        "verifying the backup directory",
        "backup directory completeness",
    );
    let facts = match crate::dirformats::verify(path, kind, &progress.bytes_read) {
        Ok(f) => f,
        Err(e) => {
            report.push(open_error_finding("read", path, &e));
            return seen(report);
        }
    };
    if let Ok((_, _, after)) = crate::dirformats::metadata(path, kind) {
        if after != key {
            return Checked::Changed(format!(
                "{} changed while being verified",
                safe_path(path, PATH_CHARS)
            ));
        }
    }
    let content = ContentFacts {
        compression: crate::decode::Compression::Plain,
        uncompressed_size: chosen.size,
        problem: None,
        binary: false,
        writer: crate::dumpformat::Writer::Directory(kind),
        marker: crate::dumpformat::MarkerVerdict::NotChecked,
        archive: Some(facts),
    };
    if let Some(cache) = cache {
        if cache.store(path, &key, MARKER_KEY, &content).is_ok() {
            report.trace.push("cache: verdict stored".into());
        }
    }
    push_content(&content, None, chosen.size, now, report);
    seen(report)
}

/// Finds the cache to use, if any, and says why in the trace.
fn locate_cache(config: &Config, report: &mut Report) -> Option<Cache> {
    if config.no_cache {
        report.trace.push("cache: disabled (--no-cache)".into());
        return None;
    }
    match Cache::locate(config.cache_dir.as_deref()) {
        Ok(cache) => {
            report
                .trace
                .push(format!("cache: {}", safe_path(cache.dir(), PATH_CHARS)));
            Some(cache)
        }
        Err(why) => {
            report
                .trace
                .push(format!("cache: not used: {}", safe(&why, 300)));
            None
        }
    }
}

/// The content facts of the dump: from the cache when this exact file version was verified
/// before (with the time it was), else by decoding it once (and caching the result).
#[allow(clippy::too_many_arguments)]
fn content_facts(
    file: &std::fs::File,
    meta: &std::fs::Metadata,
    path: &Path,
    config: &Config,
    cache: Option<&Cache>,
    progress: &Progress,
    report: &mut Report,
) -> Result<(ContentFacts, Option<SystemTime>), Finding> {
    let key = FileKey::of(meta);
    let marker = config.marker.key();
    if let (Some(cache), false) = (cache, config.verify_only) {
        match cache.lookup(path, &key, &marker) {
            Lookup::Hit {
                content,
                verified_at,
            } => {
                report.trace.push("cache: hit, dump not decoded".into());
                return Ok((*content, Some(verified_at)));
            }
            Lookup::Miss(why) => report
                .trace
                .push(format!("cache: miss: {}", safe(&why, 300))),
        }
        if let Some(note) = cache.running_verification(path, &key) {
            return Err(in_progress_finding(
                &note,
                meta.len(),
                config.unverified_state,
            ));
        }
    }
    // In background mode only one verifier per dump runs; the others leave quietly.
    let _lock = match (config.background, cache) {
        (true, Some(cache)) => match cache.try_lock(path) {
            Some(lock) => Some(lock),
            None => {
                return Err(Finding::new(
                    "content",
                    config.unverified_state,
                    "another verifier is already verifying this dump",
                ))
            }
        },
        _ => None,
    };
    if let (Some(cache), false) = (cache, config.verify_only) {
        let canonical = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        let mut args: Vec<std::ffi::OsString> = vec![
            "--verify-only".into(),
            "--background".into(),
            "-f".into(),
            canonical.into(),
        ];
        args.extend(config.marker.to_args().into_iter().map(Into::into));
        args.extend(["--cache-dir".into(), cache.dir().as_os_str().to_owned()]);
        progress.set_background(Some(args));
    }
    progress.bytes_total.store(meta.len(), Ordering::Relaxed);
    progress.step(
        "verifying the compression stream",
        "stream integrity, completion marker",
    );
    let read_started = Instant::now();
    let done = std::sync::atomic::AtomicBool::new(false);
    let result = std::thread::scope(|scope| {
        if let (true, Some(cache)) = (config.background, cache) {
            scope.spawn(|| write_progress_until(&done, cache, path, key, progress));
        }
        let result = file
            .try_clone()
            .and_then(|f| decode::verify_stream(f, meta.len(), &progress.bytes_read));
        done.store(true, Ordering::Relaxed);
        result
    });
    progress.set_background(None);
    let facts = result.map_err(|e| {
        Finding::new(
            "read",
            State::Unknown,
            format!(
                "I/O error reading {}: {} (check the disk or network filesystem)",
                safe_path(path, PATH_CHARS),
                safe(&e.to_string(), 200)
            ),
        )
    })?;
    report.trace.push(format!(
        "read {} of {} ({}) in {:.3}s, decoded {}",
        human_size(facts.compressed_read as f64),
        human_size(meta.len() as f64),
        facts.compression,
        read_started.elapsed().as_secs_f64(),
        human_size(facts.uncompressed_size as f64),
    ));
    let content = crate::dumpformat::judge_content(&facts, &config.marker);
    if let Some(cache) = cache {
        match cache.store(path, &key, &marker, &content) {
            Ok(()) => report.trace.push("cache: verdict stored".into()),
            Err(e) => report.trace.push(format!(
                "cache: cannot store: {}",
                safe(&e.to_string(), 200)
            )),
        }
    }
    Ok((content, None))
}

/// The background verifier's heartbeat: progress notes every second until `done`.
fn write_progress_until(
    done: &std::sync::atomic::AtomicBool,
    cache: &Cache,
    path: &Path,
    key: FileKey,
    progress: &Progress,
) {
    let started = SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    while !done.load(Ordering::Relaxed) {
        let note = ProgressNote {
            pid: std::process::id(),
            key,
            bytes_read: progress.bytes_read.load(Ordering::Relaxed),
            started,
        };
        let _ = cache.write_progress(path, &note);
        for _ in 0..10 {
            if done.load(Ordering::Relaxed) {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }
}

fn in_progress_finding(note: &ProgressNote, size: u64, state: State) -> Finding {
    let pct = note.bytes_read.saturating_mul(100) / size.max(1);
    Finding::new(
        "content",
        state,
        format!(
            "content verification in progress ({pct}% done, {} of {} read, in the background, pid {}); stream integrity and completion marker not verified yet",
            human_size(note.bytes_read as f64),
            human_size(size as f64),
            note.pid
        ),
    )
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

/// Why a chosen dump could not be opened for reading.
enum Unreadable {
    /// Gone (rotated away, deleted).
    Vanished,
    /// Not the file that was found: still being written.
    Changed(String),
    /// Any other reason, as a finding.
    Finding(Finding),
}

/// Opens the chosen dump read-only and makes sure it is still the regular file that was
/// found (a FIFO swapped in, or a rotated file, must not be read as if it were the dump).
fn open_checked(
    path: &Path,
    chosen: &discover::Candidate,
) -> Result<(std::fs::File, std::fs::Metadata), Unreadable> {
    let shown = safe_path(path, PATH_CHARS);
    let file = sys::open_readonly(path).map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => Unreadable::Vanished,
        io::ErrorKind::PermissionDenied => {
            Unreadable::Finding(open_error_finding("access", path, &e))
        }
        _ => Unreadable::Finding(open_error_finding("read", path, &e)),
    })?;
    let meta = file.metadata().map_err(|e| {
        Unreadable::Finding(Finding::new(
            "read",
            State::Unknown,
            format!("cannot stat {shown}: {}", safe(&e.to_string(), 200)),
        ))
    })?;
    if !meta.is_file() {
        return Err(Unreadable::Finding(Finding::new(
            "dump",
            State::Unknown,
            format!("{shown} is no longer a regular file: refusing to read it"),
        )));
    }
    if meta.len() != chosen.size || meta.modified().ok() != Some(chosen.mtime) {
        return Err(Unreadable::Changed(format!(
            "{shown} changed while being checked (size {} -> {})",
            chosen.size,
            meta.len()
        )));
    }
    Ok((file, meta))
}
