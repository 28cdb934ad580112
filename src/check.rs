//! One check run, wired together: acquire the facts (`acquire`), have them judged
//! (`judge`), collect the report. No rule lives here: every finding is made by a `judge`
//! function, and every dump, single or one of a per-database set, goes through
//! [`Run::judge_newest`], which turns every way a read can end into a finding.

use std::cell::RefCell;
use std::fs::File;
use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use crate::acquire::cache::{Cache, FileKey, Lookup, ProgressNote};
use crate::acquire::checksum::{self, Search};
use crate::acquire::discover::{self, DiscoverError, Discovery};
use crate::acquire::prefetch::{self, Job, Prefetch};
use crate::acquire::{self, backup_dir, Unreadable};
use crate::cli::{Config, LogConfig};
use crate::facts::{
    Candidate, ChecksumFacts, Compression, ContentFacts, DirKind, MarkerVerdict, Writer,
};
use crate::judge::restore_points::{Point, Verdict};
use crate::judge::{self, databases, obstacles, Check, Report, PATH_CHARS};
use crate::sys;
use crate::text::{safe, safe_path};
use crate::units::human_size;
use crate::watchdog::Progress;

/// Runs the check described by `config`; never panics on bad input, never prints.
pub fn run(config: &Config, progress: &Progress) -> Report {
    let started = Instant::now();
    let mut report = Report::default();
    let cache = match &config.dump {
        Some(_) => locate_cache(config, &mut report),
        None => None,
    };
    let run = Run {
        config,
        cache,
        now: SystemTime::now(),
        progress,
        prefetch: RefCell::new(None),
    };
    // The dumps judged, by database (None for a single dump), for the log to be held against.
    let dumps: Vec<(Option<String>, DumpSeen)> = match (&config.dump, &config.per_database) {
        (Some(spec), Some(re)) => run
            .per_database(spec, re, &mut report)
            .into_iter()
            .map(|(db, seen)| (Some(db), seen))
            .collect(),
        (Some(spec), None) => {
            let seen = run.single(spec, &mut report);
            if let (Some(expected), Some(dump)) = (&config.expect_databases, &seen) {
                read_sections(dump, progress, &mut report);
                let found = report.facts.sections.clone();
                report.push(databases::sections(expected, found.as_deref()));
            }
            seen.into_iter().map(|seen| (None, seen)).collect()
        }
        (None, _) => Vec::new(),
    };
    if let Some(log) = &config.log {
        run.log(log, &dumps, &mut report);
    }
    // Per database, the drills were judged with each database's dump (`per_database`).
    if let (Some(max_age), Some(spec), None) =
        (config.drill_max_age, &config.dump, &config.per_database)
    {
        let newest = dumps.first().map(|(_, seen)| &seen.path);
        drill(
            config,
            (spec, None),
            newest.map(|p| p.as_path()),
            max_age,
            run.now,
            &mut report,
        );
    }
    report.trace.push(format!(
        "check took {:.3}s",
        started.elapsed().as_secs_f64()
    ));
    report
}

/// The window of RPO compliance, in days.
pub const RPO_DAYS: u32 = 30;

/// What one check run shares: the operator's settings, the cache, the clock, the progress
/// the watchdog reports from.
pub struct Run<'a> {
    /// The operator's settings.
    pub config: &'a Config,
    /// The verdict cache, when one is usable.
    pub cache: Option<Cache>,
    /// "Now" for every age in this run.
    pub now: SystemTime,
    /// What the watchdog reports if time runs out.
    pub progress: &'a Progress,
    /// Dumps being read ahead by worker threads (`--per-database`, restore points).
    prefetch: RefCell<Option<Arc<Prefetch>>>,
}

/// What the log check needs to know about the dump.
struct DumpSeen {
    path: std::path::PathBuf,
    mtime: SystemTime,
    has_marker: bool,
    writer: Option<&'static str>,
    dir_kind: Option<DirKind>,
    /// A background verifier is reading its content: not verified by this run.
    pending: bool,
    /// What its content findings make of it as a restore point.
    restore_point: Verdict,
    /// What identifies its content without reading it again (`ContentFacts::identities`).
    identities: Vec<String>,
    /// The databases its sections name, as collected while verifying it (or cached): for
    /// `--expect-databases`, without a second read.
    sections: Option<Vec<String>>,
}

/// How reading one candidate ended: judged, or a reason it could not be judged. Dropping
/// one would leave a dump unjudged, which is how a false OK happens.
#[must_use = "a candidate that vanished or changed must become a finding"]
enum Checked {
    /// Judged (the findings are in the report).
    Done(DumpSeen),
    /// It was gone (deleted or renamed) before it could be opened.
    Vanished,
    /// It changed while being read: still being written.
    Changed(String),
}

impl Checked {
    fn done(chosen: &Candidate, report: &Report) -> Checked {
        Checked::Done(DumpSeen {
            path: chosen.path.clone(),
            mtime: chosen.mtime,
            has_marker: report.facts.marker.is_some(),
            writer: report.facts.writer,
            dir_kind: chosen.dir_kind,
            pending: false,
            restore_point: Verdict::Good,
            identities: Vec::new(),
            sections: None,
        })
    }

    /// Its content is being verified by a background verifier, not by this run.
    fn pending(chosen: &Candidate, report: &Report) -> Checked {
        match Checked::done(chosen, report) {
            Checked::Done(seen) => Checked::Done(DumpSeen {
                pending: true,
                ..seen
            }),
            other => other,
        }
    }
}

/// Why the content of a dump was not read.
struct NotRead {
    /// The finding that says so.
    finding: judge::Finding,
    /// A background verifier is at it (this run must not count it as verified).
    background: bool,
}

impl From<judge::Finding> for NotRead {
    fn from(finding: judge::Finding) -> NotRead {
        NotRead {
            finding,
            background: false,
        }
    }
}

/// Why a chosen dump could not be opened for reading.
enum Unopened {
    Vanished,
    Changed(String),
    Finding(judge::Finding),
}

impl Run<'_> {
    /// One dump: the newest of a file, directory or glob.
    fn single(&self, spec: &str, report: &mut Report) -> Option<DumpSeen> {
        self.progress.step(
            "looking for the dump",
            "dump presence, age, size, stream integrity, completion marker",
        );
        let options = &self.config.discovery;
        // Debian's pg_backupcluster directory: the newest entry of each kind.
        let root = Path::new(spec);
        if root.is_dir() {
            if let Ok(Some(entries)) = acquire::pg_cluster::entries(root) {
                self.pg_cluster(root, entries, report);
                return None;
            }
        }
        let discovery = match discover::discover(spec, options) {
            Ok(d) => d,
            Err(e) => {
                report.push(obstacles::discovery(&e));
                return None;
            }
        };
        trace_discovery(report, &discovery);
        if let Some(kind) = self.config.kind {
            if discovery.chosen.dir_kind != Some(kind) {
                let what = match discovery.chosen.dir_kind {
                    Some(k) => format!("a {}", k.name()),
                    None => "a file".into(),
                };
                report.push(judge::pg_cluster::kind_mismatch(
                    kind.entry_word().unwrap_or("dump"),
                    &discovery.chosen.path,
                    &what,
                ));
                return None;
            }
        }
        // RPO compliance for the report (JSON output) of a plain set only.
        let rpo = self.config.format == crate::present::Format::Json;
        self.judge_newest(
            discovery,
            &|| discover::discover(spec, options),
            rpo,
            report,
        )
    }

    /// One dump per database: the newest dump of each database is judged exactly as a single
    /// dump is, each becoming one line of the long output and `<db>_...` perfdata; the state
    /// is the worst. With `--expect-databases`, a listed database without a dump is CRITICAL.
    fn per_database(
        &self,
        spec: &str,
        re: &regex::Regex,
        report: &mut Report,
    ) -> Vec<(String, DumpSeen)> {
        let root = Path::new(spec);
        let options = &self.config.discovery;
        report.file = Some(safe_path(root, PATH_CHARS));
        let groups = match discover::discover_per_database(root, re, options) {
            Ok(g) => g,
            Err(e) => {
                report.push(obstacles::discovery(&e));
                return Vec::new();
            }
        };
        let expected = self.config.expect_databases.clone().unwrap_or_default();
        if groups.is_empty() && expected.is_empty() {
            report.push(databases::none_found(root, re.as_str()));
            return Vec::new();
        }
        let mut summaries = Vec::new();
        let mut seen = Vec::new();
        // The newest dump of each database is read ahead on the other cores; each is still
        // judged below, in this order, exactly as when read here.
        let jobs: Vec<Job> = groups
            .values()
            .filter_map(|c| discover::per_database_discovery(c.clone()))
            .filter_map(|d| self.prefetch_job(&d.chosen))
            .collect();
        self.with_prefetch(jobs, || {
            for (db, candidates) in &groups {
                let again = || {
                    discover::discover_per_database(root, re, options)?
                        .remove(db)
                        .and_then(discover::per_database_discovery)
                        .ok_or_else(|| {
                            DiscoverError::NoDump(format!(
                            "for database {db} below {} any more (it vanished while being checked)",
                            root.display()
                        ))
                        })
                };
                let mut sub = Report::default();
                match discover::per_database_discovery(candidates.clone()) {
                    Some(discovery) => {
                        let dump = self.judge_newest(discovery, &again, false, &mut sub);
                        if let Some(max_age) = self.config.drill_max_age {
                            let newest = dump.as_ref().map(|d| d.path.as_path());
                            drill(
                                self.config,
                                (spec, Some(db)),
                                newest,
                                max_age,
                                self.now,
                                &mut sub,
                            );
                        }
                        if let Some(dump) = dump {
                            seen.push((db.clone(), dump));
                        }
                    }
                    None => sub.push(obstacles::discovery(&DiscoverError::NoDump(format!(
                        "for database {db}"
                    )))),
                }
                let (finding, summary) = databases::database(db, &sub);
                report.push(finding);
                let name = safe(db, 60);
                for mut p in sub.perfdata {
                    p.label = format!("{}_{}", crate::present::perf_label(db), p.label);
                    report.perfdata.push(p);
                }
                report
                    .trace
                    .extend(sub.trace.into_iter().map(|t| format!("{name}: {t}")));
                summaries.push(summary);
            }
        });
        for db in expected.iter().filter(|db| !groups.contains_key(*db)) {
            let (finding, summary) = databases::missing_expected(db);
            report.push(finding);
            summaries.push(summary);
        }
        let runs: Vec<databases::DatabaseRuns> = groups
            .iter()
            .map(|(db, c)| databases::DatabaseRuns {
                name: db.clone(),
                newest: c[0].mtime,
                previous: c.get(1).map(|c| c.mtime),
            })
            .collect();
        report
            .findings
            .extend(databases::missing_from_newest_run(&runs));
        report.facts.databases = Some(summaries);
        self.progress.set_partial(report);
        seen
    }

    /// The read-ahead job for `chosen`, unless the check will not read it (a backup
    /// directory, an empty file, a background verifier, a verdict in the cache), reads it
    /// through a decrypting tool, or it already decodes on all cores (bzip2, xz).
    fn prefetch_job(&self, chosen: &Candidate) -> Option<Job> {
        let config = self.config;
        if chosen.dir_kind.is_some()
            || chosen.size == 0
            || config.background
            || config.decryption.is_some()
            || !prefetch::alongside_others(&chosen.path)
        {
            return None;
        }
        let search = match config.checksum {
            judge::checksum::Mode::Off => Search::default(),
            _ => checksum::find(&chosen.path),
        };
        let sidecar = search.found.as_ref();
        if let (Some(cache), false) = (&self.cache, config.verify_only) {
            let meta = std::fs::metadata(&chosen.path).ok()?;
            let checksum_key = sidecar.map_or_else(|| "none".to_string(), |s| s.identity());
            let lookup = cache.lookup(
                &chosen.path,
                &FileKey::of(&meta),
                &config.marker.key(),
                &checksum_key,
            );
            if let Lookup::Hit { .. } = lookup {
                return None;
            }
        }
        Some(Job {
            path: chosen.path.clone(),
            algorithm: sidecar.map(|s| s.algorithm),
        })
    }

    /// Runs `body` while worker threads read `jobs` ahead ([`prefetch::workers`] of them;
    /// none on one core, for fewer than two jobs, or inside another read-ahead).
    fn with_prefetch<T>(&self, jobs: Vec<Job>, body: impl FnOnce() -> T) -> T {
        let workers = prefetch::workers().min(jobs.len());
        if workers < 2 || self.prefetch.borrow().is_some() {
            return body();
        }
        let pool = Arc::new(Prefetch::new(jobs, workers));
        /// Stops the workers however `body` ends, so that the scope can join them.
        struct Stop<'p>(&'p Prefetch);
        impl Drop for Stop<'_> {
            fn drop(&mut self) {
                self.0.stop();
            }
        }
        std::thread::scope(|scope| {
            for _ in 0..workers {
                let pool = &*pool;
                scope.spawn(move || pool.work());
            }
            let _stop = Stop(&pool);
            *self.prefetch.borrow_mut() = Some(Arc::clone(&pool));
            let out = body();
            *self.prefetch.borrow_mut() = None;
            out
        })
    }

    /// Debian's pg_backupcluster directory (`/var/backups/postgresql/15-main`): the newest
    /// entry of each kind (`<timestamp>.dump`, `<timestamp>.backup`) is judged exactly as a
    /// single backup directory is, each becoming one line and `<kind>_...` perfdata; the
    /// state is the worst. `--kind` judges one kind and requires it.
    fn pg_cluster(&self, root: &Path, entries: [Vec<std::path::PathBuf>; 2], report: &mut Report) {
        report.file = Some(safe_path(root, PATH_CHARS));
        let mut summaries = Vec::new();
        let [dumps, backups] = entries;
        for (kind, paths) in [
            (DirKind::PgClusterDump, dumps),
            (DirKind::PgBaseBackup, backups),
        ] {
            let word = kind.entry_word().unwrap_or("dump");
            if self.config.kind.is_some_and(|k| k != kind) {
                continue;
            }
            let mut sub = Report::default();
            match discover::cluster_discovery(&paths, kind) {
                Ok(None) => {
                    if self.config.kind == Some(kind) {
                        report.push(judge::pg_cluster::missing_kind(word, root));
                    }
                    continue;
                }
                Ok(Some(discovery)) => {
                    trace_discovery(&mut sub, &discovery);
                    let again = || {
                        let paths = acquire::pg_cluster::entries(root)
                            .map_err(|e| DiscoverError::Io {
                                path: root.to_path_buf(),
                                source: e,
                            })?
                            .map(|[d, b]| if kind == DirKind::PgClusterDump { d } else { b })
                            .unwrap_or_default();
                        discover::cluster_discovery(&paths, kind)
                            .map_err(|(path, source)| DiscoverError::Io { path, source })?
                            .ok_or_else(|| {
                                DiscoverError::NoDump(format!(
                                    "in {} any more (the {word} entries vanished while being checked)",
                                    root.display()
                                ))
                            })
                    };
                    let _judged = self.judge_newest(discovery, &again, false, &mut sub);
                }
                Err((path, e)) => {
                    sub.file = Some(safe_path(&path, PATH_CHARS));
                    sub.push(obstacles::unreadable(
                        Check::Access,
                        &Unreadable::new(&path, &e),
                    ));
                }
            }
            if let (DirKind::PgClusterDump, Some(expected)) = (kind, &self.config.expect_databases)
            {
                let found = sub.facts.sections.clone();
                sub.push(databases::sections(expected, found.as_deref()));
            }
            let (finding, summary) = judge::pg_cluster::entry_line(word, &sub);
            report.push(finding);
            for mut p in sub.perfdata {
                p.label = format!("{word}_{}", p.label);
                report.perfdata.push(p);
            }
            report
                .trace
                .extend(sub.trace.into_iter().map(|t| format!("{word}: {t}")));
            summaries.push(summary);
        }
        if report.findings.is_empty() {
            report.push(judge::pg_cluster::missing_kind("dump or basebackup", root));
        }
        report.facts.entries = Some(summaries);
        self.progress.set_partial(report);
    }

    /// Judges the newest dump of a discovery: metadata, then content; a dump still being
    /// written hands over to the previous one; a dump that vanishes is looked for once more
    /// with `rediscover`. Every way this can end is a finding in `report`.
    fn judge_newest(
        &self,
        mut discovery: Discovery,
        rediscover: &dyn Fn() -> Result<Discovery, DiscoverError>,
        rpo: bool,
        report: &mut Report,
    ) -> Option<DumpSeen> {
        let config = self.config;
        #[cfg(debug_assertions)]
        sys::test_delay("CHECK_BACKUP_TEST_PAUSE_AFTER_DISCOVERY_MS");
        let (findings_before, perf_before) = (report.findings.len(), report.perfdata.len());
        // A dump rotated away between discovery and reading is looked for once more.
        for attempt in 0..2 {
            let chosen = discovery.chosen.clone();
            let in_progress = judge::dump::in_progress(
                &chosen,
                discovery.newest_temporary.as_ref(),
                self.now,
                config.settle,
            );
            let (candidate, earlier, previous) = match in_progress {
                Some(judge::dump::InProgress::Temporary(reason)) => {
                    report.push(obstacles::in_progress(&reason, config.in_progress_state));
                    (chosen, &discovery.runners_up[..], false)
                }
                Some(judge::dump::InProgress::Newest(reason)) => {
                    report.push(obstacles::in_progress(&reason, config.in_progress_state));
                    let Some(previous) = discovery.runners_up.first() else {
                        judge::dump::metadata(&chosen, &config.thresholds, self.now, report);
                        return None;
                    };
                    // The last finished dump is what a restore would use: judge it.
                    report.trace.push(format!(
                        "judging the previous dump {} instead",
                        safe_path(&previous.path, PATH_CHARS)
                    ));
                    (previous.clone(), &discovery.runners_up[1..], true)
                }
                None => (chosen, &discovery.runners_up[..], false),
            };
            match self.check_candidate(&candidate, earlier, report) {
                Checked::Done(seen) => {
                    if previous {
                        judge::dump::as_previous(report);
                    }
                    if let Some(policy) = &config.restore_points {
                        self.restore_points(policy, &candidate, &seen, earlier, report);
                    }
                    if rpo && seen.dir_kind.is_none() {
                        self.rpo(&seen, earlier, report);
                    }
                    return Some(seen);
                }
                Checked::Changed(why) => {
                    report.push(obstacles::in_progress(&why, config.in_progress_state));
                    return None;
                }
                Checked::Vanished if attempt == 0 => {
                    report.findings.truncate(findings_before);
                    report.perfdata.truncate(perf_before);
                    report.trace.push(format!(
                        "{} vanished before it could be read: looking again",
                        safe_path(&candidate.path, PATH_CHARS)
                    ));
                    match rediscover() {
                        Ok(d) => discovery = d,
                        Err(e) => {
                            report.push(obstacles::discovery(&e));
                            return None;
                        }
                    }
                }
                Checked::Vanished => break,
            }
        }
        report.push(obstacles::vanished_twice(&discovery.chosen.path));
        None
    }

    /// Checks one dump (with the dumps before it, newest first): metadata, size trend, then
    /// content (from the cache or by reading it).
    fn check_candidate(
        &self,
        chosen: &Candidate,
        earlier: &[Candidate],
        report: &mut Report,
    ) -> Checked {
        let config = self.config;
        judge::dump::metadata(chosen, &config.thresholds, self.now, report);
        if let Some(schedule) = &config.schedule {
            let now = chrono::DateTime::<chrono::Local>::from(self.now);
            let (finding, perf) = judge::schedule::evaluate(schedule, chosen.mtime, now);
            report.push(finding);
            report.perfdata.push(perf);
            report.facts.schedule = Some(judge::schedule::summary(schedule, now));
        }
        let sizes: Vec<u64> = earlier.iter().take(7).map(|c| c.size).collect();
        if let Some((finding, perf)) =
            judge::dump::evaluate_shrink(chosen.size, &sizes, config.max_shrink, config.max_growth)
        {
            report.push(finding);
            report.perfdata.push(perf);
        }
        self.progress.set_partial(report);
        let mark = report.findings.len();
        match self.check_content(chosen, report, true) {
            Checked::Done(seen) => {
                self.history(&seen, earlier, report);
                let restore_point = if seen.pending {
                    Verdict::Unverified {
                        reason: "being verified in the background".into(),
                        background: true,
                    }
                } else {
                    judge::restore_points::verdict_of(&report.findings[mark..], chosen.size)
                };
                Checked::Done(DumpSeen {
                    restore_point,
                    ..seen
                })
            }
            other => other,
        }
    }

    /// The history rules, from what the cache knows of the earlier dumps (each was verified
    /// when it was the newest): no dump is read again. The same content as the previous
    /// dump (a stuck job); `--max-shrink` on the decoded size.
    fn history(&self, seen: &DumpSeen, earlier: &[Candidate], report: &mut Report) {
        let Some(cache) = &self.cache else {
            return;
        };
        let known: Vec<(&Candidate, ContentFacts)> = earlier
            .iter()
            .take(7)
            .filter_map(|c| {
                let meta = std::fs::metadata(&c.path).ok()?;
                Some((c, cache.known_content(&c.path, &FileKey::of(&meta))?))
            })
            .collect();
        if let (Some(previous), Some((c, content))) = (earlier.first(), known.first()) {
            if std::ptr::eq(previous, *c) {
                let name = c
                    .path
                    .file_name()
                    .map(|n| safe(&n.to_string_lossy(), 120))
                    .unwrap_or_default();
                if let Some(finding) = judge::history::identical(
                    &seen.identities,
                    &content.identities(),
                    &name,
                    c.mtime,
                    report.facts.marker_date.is_some(),
                ) {
                    report.push(finding);
                }
            }
        }
        // Tables of the previous good dump missing from this one.
        if let Some(tables) = &report.facts.tables {
            let previous_good = known.iter().find(|(_, k)| {
                k.problem.is_none()
                    && k.tables.is_some()
                    && !matches!(k.marker, crate::facts::MarkerVerdict::Missing { .. })
            });
            if let Some((c, k)) = previous_good {
                let name = c
                    .path
                    .file_name()
                    .map(|n| safe(&n.to_string_lossy(), 120))
                    .unwrap_or_default();
                let unit = if seen.writer == Some("mysqldump") {
                    "INSERT statements"
                } else {
                    "rows"
                };
                let previous = k.tables.as_deref().unwrap_or_default();
                if let Some(finding) =
                    judge::history::disappeared(tables, previous, &name, c.mtime, unit)
                {
                    report.push(finding);
                }
            }
        }
        let Some(uncompressed) = report.facts.uncompressed_bytes else {
            return;
        };
        if self.config.max_shrink <= 0.0 {
            return;
        }
        let known: Vec<u64> = known
            .iter()
            .filter(|(_, content)| content.problem.is_none())
            .map(|(_, content)| content.uncompressed_size)
            .collect();
        report.trace.push(format!(
            "decoded sizes of {} of {} earlier dumps known from the cache",
            known.len(),
            earlier.len().min(7)
        ));
        if let Some((finding, perf)) =
            judge::history::uncompressed_shrink(uncompressed, &known, self.config.max_shrink)
        {
            report.push(finding);
            report.perfdata.push(perf);
        }
    }

    /// Checks one dump's content (from the cache or by reading it): stream, archive,
    /// marker, checksum file. The newest dump and every restore point take this path;
    /// `publish` hands the report to the watchdog as it grows (only the main report).
    fn check_content(&self, chosen: &Candidate, report: &mut Report, publish: bool) -> Checked {
        let config = self.config;
        if let Some(kind) = chosen.dir_kind {
            return self.check_backup_dir(chosen, kind, report);
        }
        if chosen.size == 0 {
            return Checked::done(chosen, report);
        }
        self.progress
            .step("opening the dump", "stream integrity, completion marker");
        let path = &chosen.path;
        let (file, meta) = match open_checked(chosen) {
            Ok(f) => f,
            Err(Unopened::Vanished) => return Checked::Vanished,
            Err(Unopened::Changed(why)) => return Checked::Changed(why),
            Err(Unopened::Finding(finding)) => {
                report.push(finding);
                return Checked::done(chosen, report);
            }
        };
        let sidecar = self.find_checksum(path, report);
        let (content, verified_at) = match self.content_facts(&file, &meta, path, &sidecar, report)
        {
            Ok(c) => c,
            Err(NotRead {
                finding,
                background,
            }) => {
                report.push(finding);
                return if background {
                    Checked::pending(chosen, report)
                } else {
                    Checked::done(chosen, report)
                };
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
        judge::dump::content(
            &content,
            verified_at,
            chosen.size,
            self.now,
            &self.config.encrypted_rules(),
            report,
        );
        // The tables of a whole, complete dump only: a cut one lacks the tables after its
        // cut, which its missing marker already says (no second, noisier finding).
        if content.problem.is_none()
            && !matches!(content.marker, crate::facts::MarkerVerdict::Missing { .. })
        {
            if let Some(tables) = &content.tables {
                let shown: Vec<String> = tables
                    .iter()
                    .take(20)
                    .map(|t| format!("{} {}", safe(&t.name, 80), t.rows))
                    .collect();
                report.trace.push(format!(
                    "tables: {} ({}{}; INSERT statements or COPY rows each)",
                    tables.len(),
                    shown.join(", "),
                    if tables.len() > 20 { ", ..." } else { "" }
                ));
                report.facts.tables = Some(tables.clone());
            }
        }
        let dump_name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let context = judge::checksum::Context {
            mode: config.checksum,
            dump_name: &dump_name,
            dump_mtime: chosen.mtime,
            settle: config.settle,
            ignored: &sidecar.ignored,
        };
        judge::checksum::checksum(&content, verified_at, &context, self.now, report);
        if publish {
            self.progress.set_partial(report);
        }
        match Checked::done(chosen, report) {
            Checked::Done(seen) => Checked::Done(DumpSeen {
                identities: content.identities(),
                sections: content.sections.clone(),
                ..seen
            }),
            other => other,
        }
    }

    /// Every restore point (`--restore-points`): the judged dump's verdict and each earlier
    /// dump in the window, verified by [`Run::check_content`] (cached after the first
    /// time), judged together. Should time run out, the watchdog hands the dump being read
    /// to a background verifier and says how many restore points were done.
    fn restore_points(
        &self,
        policy: &judge::restore_points::Policy,
        judged: &Candidate,
        seen: &DumpSeen,
        earlier: &[Candidate],
        report: &mut Report,
    ) {
        let name = |c: &Candidate| match c.path.file_name() {
            Some(n) => safe(&n.to_string_lossy(), 120),
            None => safe_path(&c.path, PATH_CHARS),
        };
        let mut points = vec![Point {
            name: name(judged),
            path: safe_path(&judged.path, PATH_CHARS),
            mtime: judged.mtime,
            verdict: seen.restore_point.clone(),
        }];
        let need = policy.need as usize;
        let good = |points: &[Point]| points.iter().filter(|p| p.verdict == Verdict::Good).count();
        // Without a window: as many as discovery kept for the count (JSON output keeps more,
        // for the RPO history, which must not all be verified here).
        let at_most = if policy.window.is_none() {
            need.max(8)
        } else {
            usize::MAX
        };
        let points_to_read = || {
            earlier
                .iter()
                .filter(|c| policy.in_window(c.mtime, self.now))
                .take(at_most)
        };
        // Read ahead on the other cores; judged below in this order, as when read here.
        let jobs: Vec<Job> = points_to_read()
            .filter_map(|c| self.prefetch_job(c))
            .collect();
        self.with_prefetch(jobs, || {
            for candidate in points_to_read() {
                self.progress
                    .set_restore_points(Some((good(&points).min(need), need)));
                let mut sub = Report::default();
                let verdict = match self.check_content(candidate, &mut sub, false) {
                    Checked::Done(seen) if seen.pending => Verdict::Unverified {
                        reason: "being verified in the background".into(),
                        background: true,
                    },
                    Checked::Done(_) => {
                        judge::restore_points::verdict_of(&sub.findings, candidate.size)
                    }
                    // Deleted since it was listed (a retention cleanup): no restore point.
                    Checked::Vanished => {
                        report.trace.push(format!(
                            "restore point {} vanished before it could be read",
                            name(candidate)
                        ));
                        continue;
                    }
                    Checked::Changed(why) => Verdict::Unverified {
                        reason: why,
                        background: false,
                    },
                };
                report.trace.extend(
                    sub.trace
                        .into_iter()
                        .map(|t| format!("restore point {}: {t}", name(candidate))),
                );
                points.push(Point {
                    name: name(candidate),
                    path: safe_path(&candidate.path, PATH_CHARS),
                    mtime: candidate.mtime,
                    verdict,
                });
            }
        });
        self.progress.set_restore_points(None);
        let (findings, perf, summaries) =
            judge::restore_points::evaluate(policy, &points, self.now);
        report.findings.extend(findings);
        report.perfdata.push(perf);
        report.facts.restore_points = Some(summaries);
        self.progress.set_partial(report);
    }

    /// RPO compliance over [`RPO_DAYS`] (JSON output only): the judged dump's verdict and
    /// the earlier dumps' verdicts from the cache (never read again here; a dump the cache
    /// does not know counts as not verified).
    fn rpo(&self, seen: &DumpSeen, earlier: &[Candidate], report: &mut Report) {
        let objective = match (&self.config.schedule, &self.config.thresholds.warn_age) {
            (Some(s), _) => judge::rpo::Objective::Schedule(s),
            (None, Some(r)) if !r.inside && r.end.is_finite() && r.end > 0.0 => {
                judge::rpo::Objective::Age(r.end)
            }
            _ => return,
        };
        let window_start = self
            .now
            .checked_sub(std::time::Duration::from_secs(RPO_DAYS as u64 * 86_400))
            .unwrap_or(SystemTime::UNIX_EPOCH);
        let good = |v: &Verdict| match v {
            Verdict::Good => Some(true),
            Verdict::Bad(_) => Some(false),
            Verdict::Unverified { .. } => None,
        };
        let mut dumps = vec![judge::rpo::Dump {
            mtime: seen.mtime,
            good: good(&seen.restore_point),
        }];
        // Every dump in the window, and the one before it (it may cover the window's start).
        let before = earlier.iter().position(|c| c.mtime < window_start);
        let upto = before.map_or(earlier.len(), |i| i + 1);
        for c in &earlier[..upto] {
            let verdict = if c.size == 0 {
                Some(false)
            } else {
                self.cache.as_ref().and_then(|cache| {
                    let meta = std::fs::metadata(&c.path).ok()?;
                    let content = cache.known_content(&c.path, &FileKey::of(&meta))?;
                    let mut sub = Report::default();
                    judge::dump::content(
                        &content,
                        None,
                        c.size,
                        self.now,
                        &self.config.encrypted_rules(),
                        &mut sub,
                    );
                    good(&judge::restore_points::verdict_of(&sub.findings, c.size))
                })
            };
            dumps.push(judge::rpo::Dump {
                mtime: c.mtime,
                good: verdict,
            });
        }
        report.facts.rpo = judge::rpo::compliance(&objective, &dumps, self.now, RPO_DAYS);
        if let Some(r) = &report.facts.rpo {
            report.trace.push(format!(
                "RPO compliance {:.1}% over {} ({} good, {} bad, {} unverified dumps)",
                r.percent,
                crate::units::human_duration(r.observed_seconds),
                r.good_dumps,
                r.bad_dumps,
                r.unverified_dumps
            ));
        }
    }

    /// The checksum file of the dump at `path` (unless `--checksum off`), said in the trace.
    fn find_checksum(&self, path: &Path, report: &mut Report) -> Search {
        if self.config.checksum == judge::checksum::Mode::Off {
            return Search::default();
        }
        let search = checksum::find(path);
        for note in &search.ignored {
            report.trace.push(format!("checksum: {note}"));
        }
        match &search.found {
            Some(s) => report.trace.push(format!(
                "checksum: {} of the dump in {}",
                s.algorithm,
                safe_path(&s.path, PATH_CHARS)
            )),
            None => report
                .trace
                .push("checksum: no checksum file for the dump".into()),
        }
        search
    }

    /// Verifies a backup directory (from the cache when nothing in it changed).
    fn check_backup_dir(&self, chosen: &Candidate, kind: DirKind, report: &mut Report) -> Checked {
        let path = &chosen.path;
        let key = match backup_dir::metadata(path, kind) {
            Ok((_, _, key)) => key,
            Err(e) => {
                report.push(obstacles::unreadable(
                    Check::Read,
                    &Unreadable::new(path, &e),
                ));
                return Checked::done(chosen, report);
            }
        };
        const MARKER_KEY: &str = "backup-directory";
        if let (Some(cache), false) = (&self.cache, self.config.verify_only) {
            match cache.lookup(path, &key, MARKER_KEY, "none") {
                Lookup::Hit {
                    content,
                    verified_at,
                } => {
                    report
                        .trace
                        .push("cache: hit, directory not verified again".into());
                    judge::dump::content(
                        &content,
                        Some(verified_at),
                        chosen.size,
                        self.now,
                        &self.config.encrypted_rules(),
                        report,
                    );
                    cluster_sections(kind, &content, report);
                    return Checked::done(chosen, report);
                }
                Lookup::Miss(why) => report
                    .trace
                    .push(format!("cache: miss: {}", safe(&why, 300))),
            }
        }
        self.progress.step(
            "verifying the backup directory",
            "backup directory completeness",
        );
        let facts = match backup_dir::verify(path, kind, &self.progress.bytes_read) {
            Ok(backup_dir::DirFacts::Archive(f)) => f,
            Ok(backup_dir::DirFacts::ClusterEntry(entry)) => judge::pg_cluster::summarise(&entry),
            Err(e) => {
                report.push(obstacles::unreadable(
                    Check::Read,
                    &Unreadable::new(path, &e),
                ));
                return Checked::done(chosen, report);
            }
        };
        if let Ok((_, _, after)) = backup_dir::metadata(path, kind) {
            if after != key {
                return Checked::Changed(format!(
                    "{} changed while being verified",
                    safe_path(path, PATH_CHARS)
                ));
            }
        }
        let content = ContentFacts {
            compression: Compression::Plain,
            uncompressed_size: chosen.size,
            problem: None,
            binary: false,
            writer: Writer::Directory(kind),
            marker: MarkerVerdict::NotChecked,
            archive: Some(facts),
            checksum: None,
            encrypted: None,
            fingerprint: None,
            tables: None,
            sections: None,
        };
        if let Some(cache) = &self.cache {
            if cache
                .store(path, &key, MARKER_KEY, "none", &content)
                .is_ok()
            {
                report.trace.push("cache: verdict stored".into());
            }
        }
        judge::dump::content(
            &content,
            None,
            chosen.size,
            self.now,
            &self.config.encrypted_rules(),
            report,
        );
        cluster_sections(kind, &content, report);
        Checked::done(chosen, report)
    }

    /// The content facts of the dump: from the cache when this exact file version was
    /// verified before against this version of its checksum file (with the time it was),
    /// else by reading it once, hashing it in the same pass when it has a checksum file (and
    /// caching the result).
    fn content_facts(
        &self,
        file: &File,
        meta: &std::fs::Metadata,
        path: &Path,
        sidecar: &Search,
        report: &mut Report,
    ) -> Result<(ContentFacts, Option<SystemTime>), NotRead> {
        let (config, progress, cache) = (self.config, self.progress, self.cache.as_ref());
        let key = FileKey::of(meta);
        // A verdict reached with the key is not one reached without it, and vice versa.
        let marker = match &config.decryption {
            Some(d) => format!("{}|{}", config.marker.key(), d.cache_key()),
            None => config.marker.key(),
        };
        let sidecar = sidecar.found.as_ref();
        let checksum_key = sidecar.map_or_else(|| "none".to_string(), |s| s.identity());
        if let (Some(cache), false) = (cache, config.verify_only) {
            match cache.lookup(path, &key, &marker, &checksum_key) {
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
                return Err(NotRead {
                    finding: obstacles::verification_running(
                        &note,
                        meta.len(),
                        config.unverified_state,
                    ),
                    background: true,
                });
            }
        }
        // In background mode only one verifier per dump runs; the others leave quietly.
        let _lock = match (config.background, cache) {
            (true, Some(cache)) => match cache.try_lock(path) {
                Some(lock) => Some(lock),
                None => {
                    return Err(NotRead {
                        finding: obstacles::another_verifier(config.unverified_state),
                        background: true,
                    })
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
            if let Some(d) = &config.decryption {
                args.extend([
                    "--decrypt-with".into(),
                    d.tool.name().into(),
                    d.source.option().into(),
                    d.key.as_os_str().to_owned(),
                ]);
            }
            args.extend(["--checksum".into(), config.checksum.name().into()]);
            args.extend(["--cache-dir".into(), cache.dir().as_os_str().to_owned()]);
            progress.set_background(Some(args));
        }
        progress.bytes_total.store(meta.len(), Ordering::Relaxed);
        progress.step(
            "verifying the compression stream",
            "stream integrity, completion marker",
        );
        let read_started = Instant::now();
        // Read ahead by a worker (the same read of this very file version), or read here.
        // Never when decrypting: the workers read the file as it is, not through the tool.
        let prefetched = match config.background || config.decryption.is_some() {
            true => None,
            false => self.prefetch.borrow().as_ref().and_then(|p| {
                p.take(
                    path,
                    sidecar.map(|s| s.algorithm),
                    meta,
                    &progress.bytes_read,
                )
            }),
        };
        let done = AtomicBool::new(false);
        let result = if let Some(read) = prefetched {
            report
                .trace
                .push("read ahead on another thread (the same file version)".into());
            Ok((read.facts, read.digest))
        } else {
            std::thread::scope(|scope| {
                if let (true, Some(cache)) = (config.background, cache) {
                    scope.spawn(|| write_progress_until(&done, cache, path, key, progress));
                }
                let result = file.try_clone().and_then(|f| {
                    acquire::content::read_decrypting(
                        &f,
                        meta.len(),
                        &progress.bytes_read,
                        sidecar.map(|s| s.algorithm),
                        config.decryption.as_ref(),
                    )
                });
                done.store(true, Ordering::Relaxed);
                result
            })
        };
        progress.set_background(None);
        let (facts, digest) = result.map_err(|e| {
            // The decrypting tool or its key, not the file: UNKNOWN naming that fix.
            let finding = match e
                .get_ref()
                .and_then(|inner| inner.downcast_ref::<acquire::decrypt::DecryptError>())
            {
                Some(why) => obstacles::decrypt_error(path, why),
                None => obstacles::read_error(path, &e),
            };
            NotRead::from(finding)
        })?;
        report.trace.push(format!(
            "read {} of {} ({}) in {:.3}s, decoded {}",
            human_size(facts.compressed_read as f64),
            human_size(meta.len() as f64),
            facts.compression,
            read_started.elapsed().as_secs_f64(),
            human_size(facts.uncompressed_size as f64),
        ));
        if let (Some(s), Some(_)) = (sidecar, &digest) {
            report.trace.push(format!(
                "hashed all {} ({}) in the same pass",
                human_size(meta.len() as f64),
                s.algorithm
            ));
        }
        let mut content = crate::formats::interpret(&facts, &config.marker);
        content.checksum = sidecar.zip(digest).map(|(s, actual)| ChecksumFacts {
            file: s.name.clone(),
            algorithm: s.algorithm,
            expected: s.digest.clone(),
            actual,
            mtime: s.mtime,
        });
        if let Some(cache) = cache {
            match cache.store(path, &key, &marker, &checksum_key, &content) {
                Ok(()) => report.trace.push("cache: verdict stored".into()),
                Err(e) => report.trace.push(format!(
                    "cache: cannot store: {}",
                    safe(&e.to_string(), 200)
                )),
            }
        }
        Ok((content, None))
    }

    /// The backup log: read it (its last run), judge it, and judge it against the dumps
    /// (one, or the newest of each database).
    fn log(&self, log: &LogConfig, dumps: &[(Option<String>, DumpSeen)], report: &mut Report) {
        self.progress.step("reading the backup log", "backup log");
        let path = Path::new(&log.path);
        let shown = safe_path(path, PATH_CHARS);
        let meta = match std::fs::metadata(path) {
            Ok(m) if m.is_file() => m,
            Ok(_) => {
                report.push(obstacles::log_not_regular(path));
                return;
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                report.push(obstacles::log_missing(path));
                return;
            }
            Err(e) => {
                report.push(obstacles::unreadable(
                    Check::Log,
                    &Unreadable::new(path, &e),
                ));
                return;
            }
        };
        let read_started = Instant::now();
        let facts = match acquire::log::open(path)
            .and_then(|file| acquire::log::read_log(file, &log.rules, chrono::Local::now()))
        {
            Ok(f) => f,
            Err(e) => {
                report.push(obstacles::unreadable(
                    Check::Log,
                    &Unreadable::new(path, &e),
                ));
                return;
            }
        };
        let mtime = meta.modified().unwrap_or(self.now);
        report.trace.push(format!(
            "log {shown}: read {} lines from byte {} of {} in {:.3}s",
            facts.lines,
            facts.run_offset,
            facts.size,
            read_started.elapsed().as_secs_f64()
        ));
        let (findings, perf, summary) =
            judge::log::evaluate_log(&facts, &shown, mtime, self.now, &log.thresholds, &log.rules);
        report.findings.extend(findings);
        // --min-duration-ratio: the earlier runs' durations, read on demand.
        if let (true, Some(start)) = (log.min_duration_ratio > 0.0, &log.rules.run_start) {
            if facts.run_start_found {
                match acquire::log::open(path).and_then(|file| {
                    acquire::log::earlier_run_durations(
                        file,
                        start,
                        facts.run_offset,
                        chrono::Local::now(),
                    )
                }) {
                    Ok(earlier) => {
                        report.trace.push(format!(
                            "log {shown}: {} earlier runs with a duration before byte {}",
                            earlier.len(),
                            facts.run_offset
                        ));
                        if let Some(f) =
                            judge::log::duration_ratio(&facts, &earlier, log.min_duration_ratio)
                        {
                            report.push(f);
                        }
                    }
                    Err(e) => report.push(obstacles::unreadable(
                        Check::Log,
                        &Unreadable::new(path, &e),
                    )),
                }
            }
        }
        // One finding for the run, naming the databases whose dumps look complete.
        let complete: Vec<&(Option<String>, DumpSeen)> =
            dumps.iter().filter(|(_, d)| d.has_marker).collect();
        if let Some((_, dump)) = complete.first() {
            if let Some(mut f) = judge::log::failed_run_vs_complete_dump(&facts, true, dump.writer)
            {
                let names: Vec<&str> = complete
                    .iter()
                    .filter_map(|(db, _)| db.as_deref())
                    .collect();
                if !names.is_empty() {
                    f.message = format!("{}: {}", safe(&names.join(", "), 200), f.message);
                }
                report.push(f);
            }
        }
        for (db, dump) in dumps {
            if let Some(mut f) =
                judge::log::run_after_dump(&facts, mtime, dump.mtime, &log.thresholds)
            {
                if let Some(db) = db {
                    f.message = format!("{}: {}", safe(db, 60), f.message);
                }
                report.push(f);
            }
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
}

/// The databases a pg_backupcluster dump entry holds a complete dump of (for
/// `--expect-databases`).
fn cluster_sections(kind: DirKind, content: &ContentFacts, report: &mut Report) {
    if let (DirKind::PgClusterDump, Some(a)) = (kind, &content.archive) {
        if a.problem.is_none() {
            report.facts.sections = Some(a.databases.clone());
        }
    }
}

/// Which databases a whole-server dump holds (only for `--expect-databases`, and only when
/// its stream was found whole): as collected while verifying it, or, for a dump not decoded
/// whole in that pass (a plain file: only its ends were read) or cached before they were
/// collected, by a second pass over it.
fn read_sections(dump: &DumpSeen, progress: &Progress, report: &mut Report) {
    let names = match dump.dir_kind {
        // Backup directories name their databases in their layout.
        Some(kind) => backup_dir::databases(&dump.path, kind),
        None => {
            let whole = report.facts.uncompressed_bytes.is_some()
                && matches!(
                    report.facts.writer,
                    Some("mysqldump" | "pg_dump" | "pg_dumpall")
                );
            if !whole {
                return;
            }
            if let Some(names) = &dump.sections {
                report.trace.push(format!(
                    "databases in the dump: {} (collected while verifying it)",
                    names.len()
                ));
                report.facts.sections = Some(names.clone());
                return;
            }
            progress.step("listing the databases in the dump", "database coverage");
            report
                .trace
                .push("databases in the dump: listed by reading it a second time".into());
            sys::open_readonly(&dump.path).and_then(crate::formats::sections::databases)
        }
    };
    match names {
        Ok(names) => report.facts.sections = Some(names),
        Err(e) => report.trace.push(format!(
            "cannot list the databases in the dump: {}",
            safe(&e.to_string(), 200)
        )),
    }
}

/// The background verifier's heartbeat: progress notes every second until `done`.
fn write_progress_until(
    done: &AtomicBool,
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

/// The last restore drill of the set `spec` (of one of its databases, with
/// `--per-database`) against the newest dump judged (`newest`).
fn drill(
    config: &Config,
    (spec, database): (&str, Option<&str>),
    newest: Option<&Path>,
    max_age: f64,
    now: SystemTime,
    report: &mut Report,
) {
    // The drill results live in the cache directory even with --no-cache (which is about
    // verdicts, not drills).
    let cache = match Cache::locate(config.cache_dir.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            let (finding, _) = judge::drill::evaluate(Err(&e), None, now, max_age, "backup-drill");
            report.push(finding);
            return;
        }
    };
    let newest = newest.and_then(|p| {
        let meta = std::fs::metadata(p).ok()?;
        let key = FileKey::of(&meta);
        Some(judge::drill::Newest {
            path: Cache::canonical_set(p),
            mtime_ns: key.mtime_ns,
            size: key.size,
        })
    });
    let read = cache.drill(Path::new(spec), database);
    // The regex itself may hold a `|`, which plugin output cannot carry: named, not quoted.
    let per_database = match (&config.per_database, database) {
        (Some(_), Some(db)) => format!(" --per-database RE --database {}", safe(db, 60)),
        _ => String::new(),
    };
    let hint = format!(
        "backup-drill -f {}{per_database} --cache-dir {}",
        safe(spec, PATH_CHARS),
        safe_path(cache.dir(), PATH_CHARS)
    );
    let (finding, perf) = judge::drill::evaluate(
        read.as_ref().map(|r| r.as_ref()).map_err(|e| e.as_str()),
        newest.as_ref(),
        now,
        max_age,
        &hint,
    );
    report.trace.push(format!(
        "drill: results in {}",
        safe_path(cache.dir(), PATH_CHARS)
    ));
    report.push(finding);
    report.perfdata.extend(perf);
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
        "chose {} (newest by {})",
        safe_path(&d.chosen.path, PATH_CHARS),
        if d.mode == discover::Mode::File {
            "mtime, named explicitly"
        } else if d.mode == discover::Mode::PgCluster {
            "entry name: the run's start time"
        } else {
            "mtime, ties broken by name"
        }
    ));
    // (Up to 1000 with --restore-points: the trace names the first few.)
    const SHOWN: usize = 20;
    for c in d.runners_up.iter().take(SHOWN) {
        t.push(format!(
            "older candidate {}",
            safe_path(&c.path, PATH_CHARS)
        ));
    }
    if d.runners_up.len() > SHOWN {
        t.push(format!(
            "and {} older candidates more",
            d.runners_up.len() - SHOWN
        ));
    }
}

/// Opens the chosen dump read-only and makes sure it is still the regular file that was
/// found (a FIFO swapped in, or a rotated file, must not be read as if it were the dump).
fn open_checked(chosen: &Candidate) -> Result<(File, std::fs::Metadata), Unopened> {
    let path = &chosen.path;
    let file = sys::open_readonly(path).map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => Unopened::Vanished,
        io::ErrorKind::PermissionDenied => Unopened::Finding(obstacles::unreadable(
            Check::Access,
            &Unreadable::new(path, &e),
        )),
        _ => Unopened::Finding(obstacles::unreadable(
            Check::Read,
            &Unreadable::new(path, &e),
        )),
    })?;
    let meta = file
        .metadata()
        .map_err(|e| Unopened::Finding(obstacles::cannot_stat(path, &e)))?;
    if !meta.is_file() {
        return Err(Unopened::Finding(obstacles::not_regular(path)));
    }
    if meta.len() != chosen.size || meta.modified().ok() != Some(chosen.mtime) {
        return Err(Unopened::Changed(format!(
            "{} changed while being checked (size {} -> {})",
            safe_path(path, PATH_CHARS),
            chosen.size,
            meta.len()
        )));
    }
    Ok((file, meta))
}
