//! `backup-drill`: proves the newest dump of a set restores, by restoring it into a
//! throwaway server, and records how long it took (issue 15).
//!
//! The layers, as in the plugin: `count` is pure (what the dump creates and inserts,
//! counted while it streams); `procs` owns the children and the work directory and removes
//! them on every way out; `server` starts the throwaway servers; `restore` streams the dump
//! into the client and compares; this module wires one drill: find the newest dump and
//! have check_backup's own verification ([`crate::check::run`], from the cache when it is
//! fresh) judge it whole and complete — only such a dump is drilled — then server, restore,
//! compare, and the result, written atomically into the cache directory
//! ([`crate::acquire::cache::Cache::store_drill`]) where `check_backup --drill-max-age`
//! reads it.
//!
//! Exit codes: 0 the dump restored and matches, 2 the drill failed (client error or
//! differences), 3 it could not drill (usage, no verified dump, missing server binaries,
//! the time limit, a signal).

pub mod count;
pub mod databases;
pub mod disk;
pub mod mariabackup;
pub mod mydumper;
pub mod procs;
pub mod restore;
pub mod server;

use std::ffi::OsString;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clap::{Parser, ValueEnum};

use crate::acquire::cache::{Cache, FileKey};
use crate::acquire::discover;
use crate::facts::{DrillDatabase, DrillOutcome, DrillResult};
use crate::judge::{Check, State};
use crate::text::{safe, safe_path};
use count::Dialect;
use procs::RunAs;

/// Why a drill could not be made (exit 3).
#[derive(Debug, thiserror::Error)]
pub enum DrillError {
    /// A program the drill needs is not installed.
    #[error("{0} is not installed")]
    Missing(String),
    /// Preparing, starting or talking to the throwaway server failed.
    #[error("{0}")]
    Setup(String),
    /// The dump is not one the drill may restore.
    #[error("{0}")]
    Refused(String),
}

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    /// One Nagios-style line (`DRILL OK - ...`).
    Nagios,
    /// The result as JSON.
    Json,
}

/// backup-drill: restore the newest verified dump into a throwaway server.
#[derive(Debug, Parser)]
#[command(
    name = "backup-drill",
    version,
    about = "Restores the newest dump of a set (verified whole and complete by check_backup) \
             into a throwaway MariaDB or PostgreSQL server (unix socket only), compares tables \
             and row counts with the dump, and records the result where check_backup \
             --drill-max-age reads it.",
    after_help = "Exit codes: 0 restored and matching, 2 the drill failed (client error or \
                  differences), 3 could not drill (usage, no verified dump, missing server, time \
                  limit, signal)."
)]
pub struct Args {
    /// Dump file, directory (its newest dump) or quoted glob, as for check_backup -f.
    #[arg(
        short = 'f',
        long = "dump",
        value_name = "PATH",
        required_unless_present = "set"
    )]
    pub dump: Option<String>,

    /// The backup job's log, judged as check_backup -l judges it: a dump whose run the log
    /// says failed (exit status, error lines, a missing success line) is not drilled. With
    /// --set: instead of the set's log file (its patterns kept).
    #[arg(short = 'l', long = "log", value_name = "PATH")]
    pub log: Option<String>,

    /// The configuration file of --set (check_backup's).
    #[arg(long, value_name = "FILE", requires = "set")]
    pub config: Option<PathBuf>,

    /// Drill backup set NAME of the configuration file: its dump (with its --exclude and
    /// --follow-symlinks), its log (with its patterns) and its cache directory, as
    /// check_backup --set NAME checks it.
    #[arg(long, value_name = "NAME", conflicts_with = "dump")]
    pub set: Option<String>,

    /// One dump per database, as check_backup --per-database RE finds them below the -f
    /// directory: each database's newest dump is drilled in a throwaway server of its own,
    /// one after another, and its result kept per database (a set with per-database = RE
    /// in the configuration file is drilled the same way).
    #[arg(long, value_name = "RE", value_parser = crate::cli::per_database_regex,
          requires = "dump")]
    pub per_database: Option<regex::Regex>,

    /// With a --per-database set: drill only this database's newest dump.
    #[arg(long, value_name = "NAME")]
    pub database: Option<String>,

    /// Where results are written (the directory check_backup reads; also its verification
    /// cache) [default: as check_backup].
    #[arg(long, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,

    /// The unprivileged user that runs the throwaway server and the clients; required
    /// when started as root.
    #[arg(long, value_name = "USER")]
    pub user: Option<String>,

    /// Where the temporary server directory is made (removed afterwards).
    #[arg(long, value_name = "DIR", default_value = "/var/tmp")]
    pub work_dir: PathBuf,

    /// The most the work directory may use (e.g. 20G): refused before any server starts
    /// when the estimate is larger, stopped (exit 3, all removed) when the restore grows
    /// beyond it. In any case the drill neither starts nor goes on without room on the
    /// work directory's file system (5% of it, at most 1 GiB, stays free).
    #[arg(long, value_name = "SIZE", value_parser = size)]
    pub max_disk: Option<u64>,

    /// Time limit for the whole drill (0 = none).
    #[arg(short = 't', long, value_name = "DURATION", default_value = "6h", value_parser = duration)]
    pub timeout: f64,

    /// Output format.
    #[arg(long, value_enum, default_value = "nagios")]
    pub output: Output,
}

fn duration(s: &str) -> Result<f64, String> {
    crate::units::parse_duration(s).map_err(|e| e.to_string())
}

fn size(s: &str) -> Result<u64, String> {
    let bytes = crate::units::parse_size(s).map_err(|e| e.to_string())?;
    if bytes < 1.0 {
        return Err("the budget must be more than 0 bytes".into());
    }
    Ok(bytes as u64)
}

static FORMAT: std::sync::OnceLock<Output> = std::sync::OnceLock::new();

/// Prints the could-not-drill answer and exits 3 (also from the signal and limit threads).
fn give_up(message: String) -> ! {
    procs::cleanup();
    let text = answer_text(State::Unknown, &format!("could not drill: {message}"), None);
    crate::watchdog::answer(&format!("{text}\n"), 3)
}

fn answer_text(state: State, message: &str, result: Option<&DrillResult>) -> String {
    match FORMAT.get().copied().unwrap_or(Output::Nagios) {
        Output::Json => serde_json::json!({
            "state": state.to_string(),
            "message": message,
            "result": result,
        })
        .to_string(),
        Output::Nagios => {
            let perf = result
                .map(|r| format!(" | {}", perf_text(r, "")))
                .unwrap_or_default();
            let mut text = format!("DRILL {state} - {message}{perf}");
            if let Some(r) = result {
                for d in &r.differences {
                    text.push('\n');
                    text.push_str(d);
                }
            }
            text
        }
    }
}

/// A drill's perfdata as plugin text, each label after `prefix` (`shop_` per database).
fn perf_text(r: &DrillResult, prefix: &str) -> String {
    crate::judge::drill::perfdata(r)
        .into_iter()
        .map(|mut p| {
            p.label = format!("{prefix}{}", p.label);
            crate::present::perfdata_item(&p)
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Runs backup-drill with `args`; returns the exit code (0, 2 or 3).
pub fn main(args: impl IntoIterator<Item = OsString>) -> i32 {
    let args = match Args::try_parse_from(args) {
        Ok(a) => a,
        Err(e) => {
            // Usage errors, --help and --version: exit 3, as check_backup does.
            print!("{}", e.render());
            return 3;
        }
    };
    let _ = FORMAT.set(args.output);
    let outcome = std::panic::catch_unwind(|| {
        let set = the_set(&args)?;
        if set.per_database.is_some() && set.database.is_none() {
            databases::drill_each(&args, &set).map(Drilled::Databases)
        } else {
            drill(&args, set).map(|one| Drilled::One(Box::new(one)))
        }
    });
    // A stop under way killed the server this outcome may be about: the stop answers (its
    // thread exits the process), not a "server exited" race.
    while procs::stopping() {
        std::thread::park();
    }
    match outcome {
        Ok(Ok(Drilled::Databases(drills))) => {
            procs::cleanup();
            let (text, code) = databases::answer(&drills, args.output);
            crate::watchdog::answer(&format!("{text}\n"), code)
        }
        Ok(Ok(Drilled::One(one))) => {
            let (state, message, result) = *one;
            procs::cleanup();
            let code = if state == State::Ok { 0 } else { 2 };
            let text = answer_text(state, &message, Some(&result));
            crate::watchdog::answer(&format!("{text}\n"), code)
        }
        Ok(Err(e)) => give_up(e.to_string()),
        Err(_) => give_up("internal error (a bug): see stderr".into()),
    }
}

/// What a run of backup-drill did.
enum Drilled {
    /// One dump: its state, the answer in words, the result.
    One(Box<(State, String, DrillResult)>),
    /// A `--per-database` set: each database's drill, run as a child backup-drill.
    Databases(Vec<databases::DatabaseDrill>),
}

/// Who runs the server and clients: `--user` (required as root), else ourselves.
fn run_as(user: Option<&str>) -> Result<Option<RunAs>, DrillError> {
    // SAFETY: geteuid cannot fail.
    let euid = unsafe { libc::geteuid() };
    match (euid, user) {
        (0, None) => Err(DrillError::Refused(
            "running as root: name the unprivileged user that runs the throwaway server with \
             --user (e.g. --user nobody); the drill never runs a server as root"
                .into(),
        )),
        (0, Some(name)) => {
            let r = server::lookup_user(name)
                .ok_or_else(|| DrillError::Refused(format!("no user {}", safe(name, 64))))?;
            if r.uid == 0 {
                return Err(DrillError::Refused(
                    "--user must be an unprivileged user, not root".into(),
                ));
            }
            Ok(Some(r))
        }
        (uid, Some(name)) => match server::lookup_user(name) {
            Some(r) if r.uid == uid => Ok(None),
            _ => Err(DrillError::Refused(format!(
                "--user {} needs root to switch to; run as that user instead",
                safe(name, 64)
            ))),
        },
        (_, None) => Ok(None),
    }
}

/// What the drill restores with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Mysqldump,
    PgPlain,
    PgDumpall,
    PgCustom,
    /// `pg_dump -Fd`.
    PgDirectory,
    /// `pg_dump -Ft`.
    PgTar,
    /// A mydumper directory.
    Mydumper,
    /// A mariabackup/xtrabackup directory.
    Mariabackup,
}

/// Checks that must all be OK for a dump to be drilled: it is there, readable, finished,
/// whole and complete (age and size do not matter: an old dump can still be drilled).
const VERIFICATION: [Check; 9] = [
    Check::Dump,
    Check::Access,
    Check::Read,
    Check::InProgress,
    Check::Stream,
    Check::Content,
    Check::Archive,
    Check::Marker,
    Check::Checksum,
];

/// What check_backup says about the job's log (`-l`): a run the log says failed (or a log
/// that could not be judged) vouches for no dump, however whole it looks. The log's age is
/// the plugin's business; warnings alone do not stop a drill (the plugin reports them).
const LOG_VERDICT: [Check; 7] = [
    Check::Log,
    Check::LogStatus,
    Check::LogSuccess,
    Check::LogErrors,
    Check::LogWarnings,
    Check::LogRun,
    Check::Consistency,
];

/// Why the job's log keeps the dump from being drilled: the log findings of `report` that
/// are CRITICAL or UNKNOWN, in words, or None.
fn log_refusal(findings: &[crate::judge::Finding]) -> Option<String> {
    let bad: Vec<String> = findings
        .iter()
        .filter(|f| {
            LOG_VERDICT.contains(&f.check) && matches!(f.state, State::Critical | State::Unknown)
        })
        .take(3)
        .map(|f| format!("{} {}: {}", f.check, f.state, f.message))
        .collect();
    (!bad.is_empty()).then(|| bad.join("; "))
}

/// What check_backup's verification established about the dump to drill.
struct Verified {
    /// What the drill restores it with.
    kind: Kind,
    /// Its decoded size, when check_backup measured it.
    decoded: Option<u64>,
    /// Its size on disk (a directory's files together).
    on_disk: u64,
}

/// check_backup's verification of exactly `path` (with the job's `log` when given): its
/// writer and sizes, or why it is not drilled.
fn verified(
    path: &Path,
    cache: &Cache,
    log: Option<&crate::cli::LogConfig>,
) -> Result<Verified, DrillError> {
    procs::step("verifying the dump (check_backup)");
    let argv: Vec<OsString> = vec![
        "check_backup".into(),
        "-f".into(),
        path.as_os_str().to_owned(),
        "--cache-dir".into(),
        cache.dir().as_os_str().to_owned(),
        "--settle".into(),
        "0".into(),
        "--max-shrink".into(),
        "0".into(),
        "-t".into(),
        "0".into(),
    ];
    let mut config = match crate::cli::parse(argv) {
        crate::cli::Parsed::Run(c) => *c,
        crate::cli::Parsed::Exit(text) => return Err(DrillError::Setup(text)),
    };
    // Age and size are the plugin's business, not the drill's.
    config.thresholds.warn_age = None;
    config.thresholds.crit_age = None;
    // The set's log, its patterns included, as check_backup --set judges it.
    config.log = log.cloned();
    let progress = crate::watchdog::Progress::default();
    let report = crate::check::run(&config, &progress);
    let name = safe_path(path, 200);
    if let Some(bad) = report
        .findings
        .iter()
        .find(|f| VERIFICATION.contains(&f.check) && f.state != State::Ok)
    {
        return Err(DrillError::Refused(format!(
            "{name} is not verified whole and complete ({} {}: {}); only such a dump is drilled",
            bad.check, bad.state, bad.message
        )));
    }
    if let Some(why) = log_refusal(&report.findings) {
        let log_name = log.map(|l| safe(&l.path, 200)).unwrap_or_default();
        return Err(DrillError::Refused(format!(
            "{name} is not drilled: check_backup with the job's log {log_name} says {why}; \
             a dump whose run the log says failed is not drilled"
        )));
    }
    let complete = report
        .findings
        .iter()
        .any(|f| matches!(f.check, Check::Marker | Check::Archive) && f.state == State::Ok);
    if !complete {
        return Err(DrillError::Refused(format!(
            "{name}: check_backup could not prove it complete (no completion marker or archive \
             check); only such a dump is drilled"
        )));
    }
    let kind = match report.facts.writer {
        Some("mysqldump") => Kind::Mysqldump,
        Some("pg_dump") => Kind::PgPlain,
        Some("pg_dumpall") => Kind::PgDumpall,
        Some("pg_dump custom format") => Kind::PgCustom,
        Some("pg_dump directory archive") => Kind::PgDirectory,
        Some("pg_dump tar archive") => Kind::PgTar,
        Some("mydumper directory") => Kind::Mydumper,
        Some("mariabackup/xtrabackup directory") => Kind::Mariabackup,
        other => {
            return Err(DrillError::Refused(format!(
                "{name}: drilling a {} is not supported yet (mysqldump/mariadb-dump text, \
                 pg_dump plain, -Fc, -Fd and -Ft, pg_dumpall, mydumper and mariabackup \
                 directories are)",
                other.unwrap_or("dump of an unknown writer")
            )))
        }
    };
    // The decoded size of a compressed stream; archives and directories whose members are
    // compressed inside (-Fc, -Fd, mydumper's .sql.gz) are estimated from their size.
    let decoded = match kind {
        Kind::Mysqldump | Kind::PgPlain | Kind::PgDumpall | Kind::PgTar => {
            report.facts.uncompressed_bytes
        }
        Kind::PgCustom | Kind::PgDirectory | Kind::Mydumper | Kind::Mariabackup => None,
    };
    let on_disk = report
        .facts
        .size_bytes
        .or_else(|| std::fs::metadata(path).ok().map(|m| m.len()))
        .unwrap_or(0);
    Ok(Verified {
        kind,
        decoded,
        on_disk,
    })
}

/// The dump at `path` (opened read-only, never locked), its compression and identity.
fn open_dump(
    path: &Path,
) -> Result<(std::fs::File, crate::facts::Compression, FileKey), DrillError> {
    let unreadable =
        |e: std::io::Error| DrillError::Setup(format!("cannot read {}: {e}", safe_path(path, 200)));
    let mut file = crate::sys::open_readonly(path).map_err(unreadable)?;
    let key = FileKey::of(&file.metadata().map_err(unreadable)?);
    let mut magic = [0u8; 8];
    let got = crate::decode::read_full(&mut file, &mut magic).map_err(unreadable)?;
    let compression = crate::decode::detect(&magic[..got]);
    use std::io::{Seek, SeekFrom};
    file.seek(SeekFrom::Start(0)).map_err(unreadable)?;
    Ok((file, compression, key))
}

/// The database a single-database mysqldump was taken of (its header's `Database:`).
fn mysqldump_database(head: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(head);
    let line = text.lines().take(10).find(|l| l.starts_with("-- Host:"))?;
    let name = line.split_once("Database: ")?.1.trim();
    (!name.is_empty()).then(|| name.to_string())
}

/// The database a `pg_dump --create` dump creates when it is one every new cluster has
/// (`postgres`, `template1`): its `CREATE DATABASE` comes before its first `\connect`.
fn recreated_default_database(head: &[u8]) -> Option<&'static str> {
    let text = String::from_utf8_lossy(head);
    for line in text.lines() {
        if line.starts_with("\\connect ") {
            return None;
        }
        if let Some(rest) = line.strip_prefix("CREATE DATABASE ") {
            let name = rest.split([' ', ';']).next().unwrap_or("");
            return ["postgres", "template1"].into_iter().find(|d| *d == name);
        }
    }
    None
}

/// A reader that gives `head` first, then `rest`.
fn rejoin(head: Vec<u8>, rest: Box<dyn Read>) -> impl Read {
    std::io::Cursor::new(head).chain(rest)
}

/// The dump set to drill: `-f`, or `--set NAME` of the configuration file.
struct Set {
    dump: String,
    discovery: discover::Options,
    cache_dir: Option<PathBuf>,
    /// The job's log and its rules (`-l`, or the set's `log`).
    log: Option<crate::cli::LogConfig>,
    /// One dump per database (`--per-database RE`, or the set's `per-database`).
    per_database: Option<regex::Regex>,
    /// The one database of a per-database set to drill (`--database`).
    database: Option<String>,
}

/// The log rules check_backup applies to `check_backup -l PATH` with no other option.
fn default_log(path: &str) -> Result<Option<crate::cli::LogConfig>, DrillError> {
    let argv: Vec<OsString> = vec!["check_backup".into(), "-l".into(), path.into()];
    match crate::cli::parse(argv) {
        crate::cli::Parsed::Run(c) => Ok(c.log),
        crate::cli::Parsed::Exit(text) => Err(DrillError::Refused(
            text.lines().next().unwrap_or("").into(),
        )),
    }
}

fn the_set(args: &Args) -> Result<Set, DrillError> {
    let set = the_dumps(args)?;
    if set.database.is_some() && set.per_database.is_none() {
        return Err(DrillError::Refused(
            "--database names one database of a --per-database set: give --per-database RE \
             (or a set with per-database in the configuration file)"
                .into(),
        ));
    }
    Ok(set)
}

fn the_dumps(args: &Args) -> Result<Set, DrillError> {
    let Some(name) = &args.set else {
        return Ok(Set {
            dump: args.dump.clone().unwrap_or_default(),
            discovery: discover::Options::default(),
            cache_dir: None,
            log: match &args.log {
                Some(path) => default_log(path)?,
                None => None,
            },
            per_database: args.per_database.clone(),
            database: args.database.clone(),
        });
    };
    // The set's options, exactly as check_backup --config FILE --set NAME reads them.
    let mut argv: Vec<OsString> = vec!["check_backup".into(), "--set".into(), name.into()];
    if let Some(c) = &args.config {
        argv.extend(["--config".into(), c.as_os_str().to_owned()]);
    }
    // -l overrides the set's log file, as on check_backup's command line.
    if let Some(l) = &args.log {
        argv.extend(["-l".into(), l.into()]);
    }
    let config = match crate::cli::parse(argv) {
        crate::cli::Parsed::Run(c) => *c,
        crate::cli::Parsed::Exit(text) => {
            return Err(DrillError::Refused(
                text.lines().next().unwrap_or("").into(),
            ))
        }
    };
    let dump = config.dump.ok_or_else(|| {
        DrillError::Refused(format!(
            "set {} has no dump to drill (only a log)",
            safe(name, 64)
        ))
    })?;
    Ok(Set {
        dump,
        discovery: config.discovery,
        cache_dir: config.cache_dir,
        log: config.log,
        per_database: config.per_database,
        database: args.database.clone(),
    })
}

/// One drill: Ok((state, message, result)) when it ran (OK or failed), Err when it could not.
fn drill(args: &Args, set: Set) -> Result<(State, String, DrillResult), DrillError> {
    let run_as = run_as(args.user.as_deref())?;
    let limit = (args.timeout > 0.0).then(|| Duration::from_secs_f64(args.timeout));
    procs::watch(limit, give_up)
        .map_err(|e| DrillError::Setup(format!("cannot handle signals: {e}")))?;
    let cache = Cache::locate(args.cache_dir.as_deref().or(set.cache_dir.as_deref()))
        .map_err(DrillError::Setup)?;
    procs::step("looking for the dump");
    let chosen = match (&set.per_database, &set.database) {
        (Some(re), Some(db)) => {
            discover::discover_per_database(Path::new(&set.dump), re, &set.discovery)
                .map_err(|e| DrillError::Refused(e.to_string()))?
                .remove(db)
                .and_then(discover::per_database_discovery)
                .ok_or_else(|| {
                    DrillError::Refused(format!(
                        "no dump of database {} below {} (--per-database {})",
                        safe(db, 64),
                        safe(&set.dump, 200),
                        safe(re.as_str(), 100)
                    ))
                })?
                .chosen
        }
        _ => {
            discover::discover(&set.dump, &set.discovery)
                .map_err(|e| DrillError::Refused(e.to_string()))?
                .chosen
        }
    };
    let Verified {
        kind,
        decoded,
        on_disk,
    } = verified(&chosen.path, &cache, set.log.as_ref())?;
    let (file, compression, key) =
        if matches!(kind, Kind::PgDirectory | Kind::Mydumper | Kind::Mariabackup) {
            // pg_restore or myloader reads the directory itself; its identity is the
            // directory's, as check_backup --drill-max-age sees the newest dump.
            let meta = std::fs::metadata(&chosen.path).map_err(|e| {
                DrillError::Setup(format!("cannot read {}: {e}", safe_path(&chosen.path, 200)))
            })?;
            (None, crate::facts::Compression::Plain, FileKey::of(&meta))
        } else {
            let (f, c, k) = open_dump(&chosen.path)?;
            (Some(f), c, k)
        };
    // pg_restore runs in the work directory: the archive directory's absolute path.
    let dir_path = std::fs::canonicalize(&chosen.path).unwrap_or_else(|_| chosen.path.clone());

    // The work directory: private to the server's user, removed on every way out.
    std::fs::create_dir_all(&args.work_dir)
        .map_err(|e| DrillError::Setup(format!("--work-dir {}: {e}", args.work_dir.display())))?;
    // Room for the server and the restored data, before any server starts.
    let need = match kind {
        // The copy, prepared (InnoDB's redo log and undo rebuilt), served: the server's own
        // files plus twice the backup.
        Kind::Mariabackup => disk::estimate(disk::MARIADB_BASE, Some(on_disk), 0),
        Kind::Mysqldump | Kind::Mydumper => disk::estimate(disk::MARIADB_BASE, decoded, on_disk),
        _ => disk::estimate(disk::POSTGRES_BASE, decoded, on_disk),
    };
    #[cfg(debug_assertions)]
    let need = if std::env::var_os("BACKUP_DRILL_TEST_NO_ESTIMATE").is_some() {
        // Test seam: the watcher's stop, which the estimate would pre-empt.
        0
    } else {
        need
    };
    disk::check_room(&args.work_dir, need, args.max_disk)?;
    let work = tempfile::Builder::new()
        .prefix("backup-drill.")
        .tempdir_in(&args.work_dir)
        .map_err(|e| DrillError::Setup(format!("--work-dir {}: {e}", args.work_dir.display())))?
        .keep();
    procs::set_work_dir(&work);
    if work.join("mysqld.sock").as_os_str().len() > 100 {
        return Err(DrillError::Setup(format!(
            "--work-dir {} is too long a path for a unix socket: choose a shorter one",
            args.work_dir.display()
        )));
    }
    disk::watch(work.clone(), args.max_disk, give_up);
    // mariabackup: copied while the work directory is still private to the drill (no
    // other user can swap a link into it), then handed over to the server's user.
    let copy = work.join("data");
    if kind == Kind::Mariabackup {
        mariabackup::copy(&dir_path, &copy)?;
        if let Some(r) = run_as {
            mariabackup::hand_over(&copy, r)?;
        }
    }
    if let Some(r) = run_as {
        std::os::unix::fs::chown(&work, Some(r.uid), Some(r.gid))
            .map_err(|e| DrillError::Setup(format!("chown {}: {e}", work.display())))?;
    }
    if kind == Kind::Mariabackup {
        let result = drill_mariabackup(&copy, &work, run_as, &set, &chosen.path, key)?;
        return conclude(&cache, &set, &chosen.path, result);
    }

    if kind == Kind::Mydumper && run_as.is_some() {
        mydumper::readable_by_the_user(&dir_path, &work, run_as)?;
    }

    let (dialect, srv, first_db) = match kind {
        Kind::Mysqldump | Kind::Mydumper => {
            (Dialect::Mysql, server::start_mariadb(&work, run_as)?, None)
        }
        Kind::PgPlain | Kind::PgCustom | Kind::PgDirectory | Kind::PgTar => (
            Dialect::Postgres,
            server::start_postgres(&work, run_as, "postgres")?,
            Some("drill"),
        ),
        // pg_dumpall creates the roles, `postgres` among them: another bootstrap user.
        Kind::PgDumpall => (
            Dialect::Postgres,
            server::start_postgres(&work, run_as, "backup_drill")?,
            Some("postgres"),
        ),
        Kind::Mariabackup => unreachable!("drilled above"),
    };
    #[cfg(debug_assertions)]
    crate::sys::test_delay("BACKUP_DRILL_TEST_PAUSE_AFTER_START_MS");

    let decoder = |file: Option<std::fs::File>| {
        let file = file.ok_or_else(|| DrillError::Setup("the dump is not a file".into()))?;
        crate::decode::reference_decoder(compression, file)
            .map_err(|e| DrillError::Setup(format!("decoding the dump: {e}")))
    };
    let streamed = match kind {
        Kind::Mydumper => {
            procs::step("counting what the mydumper files create and insert");
            let (counter, bytes) = mydumper::count(&dir_path)?;
            mydumper::restore(&dir_path, counter, bytes, &srv, &work, run_as)?
        }
        Kind::Mysqldump => {
            let mut decoded = decoder(file)?;
            let mut head = vec![0u8; 4096];
            let n = crate::decode::read_full(&mut decoded, &mut head)
                .map_err(|e| DrillError::Setup(format!("reading the dump: {e}")))?;
            head.truncate(n);
            let db = mysqldump_database(&head).unwrap_or_else(|| "drill".into());
            let create = format!(
                "CREATE DATABASE IF NOT EXISTS `{}`;\n",
                db.replace('`', "``")
            );
            restore::query(restore::mariadb_client(&srv, &work)?, run_as, &create)
                .map_err(|e| DrillError::Setup(format!("creating database {db}: {e}")))?;
            let mut client = restore::mariadb_client(&srv, &work)?;
            client.arg(format!("--database={db}"));
            restore::stream(rejoin(head, decoded), client, run_as, dialect, &db)?
        }
        Kind::PgPlain | Kind::PgDumpall | Kind::PgCustom | Kind::PgDirectory | Kind::PgTar => {
            let db = first_db.unwrap_or("postgres");
            if db != "postgres" {
                restore::query(
                    restore::psql(&srv, &work, "postgres"),
                    run_as,
                    &format!("CREATE DATABASE {db};\n"),
                )
                .map_err(|e| DrillError::Setup(format!("creating database {db}: {e}")))?;
            }
            let mut client = restore::psql(&srv, &work, db);
            client.args(["-f", "-"]);
            if matches!(kind, Kind::PgCustom | Kind::PgTar | Kind::PgDirectory) {
                let source = match file {
                    Some(f) => Archive::Stream(f, compression),
                    None => Archive::Directory(&dir_path),
                };
                pg_restore(source, &srv, &work, run_as, client, db)?
            } else if kind == Kind::PgPlain {
                let mut decoded = decoder(file)?;
                let mut head = vec![0u8; 64 * 1024];
                let n = crate::decode::read_full(&mut decoded, &mut head)
                    .map_err(|e| DrillError::Setup(format!("reading the dump: {e}")))?;
                head.truncate(n);
                if let Some(name) = recreated_default_database(&head) {
                    // `pg_dump --create` of a database every new cluster has (autopostgresqlbackup
                    // dumps `postgres` and `template1` so): restored into an empty server, as an
                    // operator would, it replaces the new cluster's empty one.
                    procs::step("dropping the new cluster's database the dump creates again");
                    let (from, drop) = match name {
                        "template1" => (
                            "postgres",
                            "ALTER DATABASE template1 IS_TEMPLATE false;\nDROP DATABASE template1;\n",
                        ),
                        _ => ("template1", "DROP DATABASE postgres;\n"),
                    };
                    restore::query(restore::psql(&srv, &work, from), run_as, drop).map_err(
                        |e| DrillError::Setup(format!("dropping the new cluster's {name}: {e}")),
                    )?;
                }
                restore::stream(rejoin(head, decoded), client, run_as, dialect, db)?
            } else {
                restore::stream(decoder(file)?, client, run_as, dialect, db)?
            }
        }
        Kind::Mariabackup => unreachable!("drilled above"),
    };

    // The dump must not have changed while it was drilled.
    let after = std::fs::metadata(&chosen.path)
        .map(|m| FileKey::of(&m))
        .ok();
    if after != Some(key) {
        return Err(DrillError::Setup(format!(
            "{} changed while it was drilled: drill again once it is finished",
            safe_path(&chosen.path, 200)
        )));
    }

    let mut differences = Vec::new();
    if streamed.error.is_none() {
        let mut by_db: std::collections::BTreeMap<&str, Vec<(&count::Object, u64, bool)>> =
            Default::default();
        for (o, c) in &streamed.counter.objects {
            by_db
                .entry(o.database.as_str())
                .or_default()
                .push((o, c.rows, c.view));
        }
        for (db, objects) in &by_db {
            let found = match dialect {
                Dialect::Mysql => restore::compare(
                    dialect,
                    db,
                    objects,
                    || {
                        let mut c =
                            restore::mariadb_client(&srv, &work).expect("found before the restore");
                        c.arg("--skip-column-names");
                        c
                    },
                    run_as,
                )?,
                Dialect::Postgres => restore::compare(
                    dialect,
                    db,
                    objects,
                    || {
                        let mut c = restore::psql(&srv, &work, db);
                        c.args(["-A", "-t", "-f", "-"]);
                        c
                    },
                    run_as,
                )?,
            };
            differences.extend(found);
        }
    }
    let objects = &streamed.counter.objects;
    let tables = objects.values().filter(|c| !c.view).count() as u64;
    // A dump that creates no table (an empty database, pg_dumpall --globals-only) restored
    // without an error proves what it holds only if the restored server holds no table
    // either: else the counter missed what the dump creates, and nothing was compared.
    if streamed.error.is_none() && tables == 0 {
        let found = restore::user_tables(dialect, &srv, &work, run_as)?;
        if let Some(first) = found.first() {
            return Err(DrillError::Refused(format!(
                "{}: the restore went through, but the dump creates no table the drill \
                 recognises while the restored server holds {first}: nothing was compared",
                safe_path(&chosen.path, 200)
            )));
        }
    }
    let mut srv = srv;
    procs::step("stopping the throwaway server");
    procs::stop(&mut srv.child);
    disk::done();

    let views = objects.values().filter(|c| c.view).count() as u64;
    let rows = objects.values().filter(|c| !c.view).map(|c| c.rows).sum();
    let mut databases: Vec<DrillDatabase> = Vec::new();
    for (name, b) in &streamed.counter.databases {
        let mine = objects
            .iter()
            .filter(|(o, c)| &o.database == name && !c.view);
        let (t, r) = mine.fold((0, 0), |(t, r), (_, c)| (t + 1, r + c.rows));
        if let Some(d) = databases.iter_mut().find(|d| &d.name == name) {
            d.bytes += b.bytes;
            continue;
        }
        databases.push(DrillDatabase {
            name: name.clone(),
            tables: t,
            rows: r,
            bytes: b.bytes,
            seconds: streamed.seconds.get(name).copied().unwrap_or(0.0),
        });
    }
    databases.retain(|d| d.tables > 0);
    let total_differences = differences.len();
    differences.truncate(restore::MAX_DIFFERENCES);
    let error = streamed.error.clone().or_else(|| {
        differences.first().map(|d| {
            if total_differences > 1 {
                format!("{d} (and {} more differences)", total_differences - 1)
            } else {
                d.clone()
            }
        })
    });
    let outcome = if error.is_none() {
        DrillOutcome::Restored
    } else {
        DrillOutcome::Failed
    };
    let result = DrillResult {
        set: Cache::canonical_set(Path::new(&set.dump)),
        dump: Cache::canonical_set(&chosen.path),
        dump_size: key.size,
        dump_mtime_ns: key.mtime_ns,
        writer: match kind {
            Kind::Mysqldump => "mysqldump",
            Kind::PgPlain => "pg_dump",
            Kind::PgDumpall => "pg_dumpall",
            Kind::PgCustom => "pg_dump custom format",
            Kind::PgDirectory => "pg_dump directory archive",
            Kind::PgTar => "pg_dump tar archive",
            Kind::Mydumper => "mydumper directory",
            Kind::Mariabackup => "mariabackup/xtrabackup directory",
        }
        .into(),
        server: safe(&srv.version, 200),
        finished_at: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
        outcome,
        error: error.clone(),
        differences,
        restore_seconds: streamed.elapsed,
        tables,
        views,
        rows,
        bytes: streamed.bytes,
        databases,
        database: set.database.clone(),
    };
    conclude(&cache, &set, &chosen.path, result)
}

/// Writes `result` where check_backup reads it; the answer in words.
fn conclude(
    cache: &Cache,
    set: &Set,
    chosen: &Path,
    result: DrillResult,
) -> Result<(State, String, DrillResult), DrillError> {
    let error = result.error.clone();
    procs::step("writing the result");
    cache
        .store_drill(Path::new(&set.dump), set.database.as_deref(), &result)
        .map_err(|e| {
            DrillError::Setup(format!(
                "cannot write the result into {}: {e}",
                cache.dir().display()
            ))
        })?;
    let name = chosen
        .file_name()
        .map(|n| safe(&n.to_string_lossy(), 120))
        .unwrap_or_default();
    Ok(match error {
        None => (
            State::Ok,
            format!(
                "restore drill of {name}: {}",
                crate::judge::drill::restored_words(&result)
            ),
            result,
        ),
        Some(e) => (
            State::Critical,
            format!("restore drill of {name} failed: {e}"),
            result,
        ),
    })
}

/// A mariabackup/xtrabackup directory, copied to `copy`: prepared, served, every table
/// read. The restore's duration is the prepare's and the server's start (crash recovery)
/// together: what a restore from this backup takes once the files are in place.
fn drill_mariabackup(
    copy: &Path,
    work: &Path,
    run_as: Option<RunAs>,
    set: &Set,
    chosen: &Path,
    key: FileKey,
) -> Result<DrillResult, DrillError> {
    let tables = mariabackup::tables(copy)?;
    let bytes = disk::usage(copy);
    let started = std::time::Instant::now();
    let prepared = mariabackup::prepare(copy, work, run_as)?;
    let mut result = DrillResult {
        set: Cache::canonical_set(Path::new(&set.dump)),
        dump: Cache::canonical_set(chosen),
        dump_size: key.size,
        dump_mtime_ns: key.mtime_ns,
        writer: "mariabackup/xtrabackup directory".into(),
        server: String::new(),
        finished_at: 0,
        outcome: DrillOutcome::Failed,
        error: prepared,
        differences: Vec::new(),
        restore_seconds: 0.0,
        tables: tables.iter().filter(|t| !t.view).count() as u64,
        views: tables.iter().filter(|t| t.view).count() as u64,
        rows: 0,
        bytes,
        databases: Vec::new(),
        database: set.database.clone(),
    };
    let served = match result.error {
        Some(_) => None,
        // A prepared backup the server cannot start from does not restore: a failed drill.
        None => match mariabackup::serve(copy, work, run_as) {
            Ok(srv) => Some(srv),
            Err(DrillError::Setup(why)) => {
                result.error = Some(format!(
                    "the server does not start on the prepared backup: {why}"
                ));
                None
            }
            Err(e) => return Err(e),
        },
    };
    if let Some(mut srv) = served {
        result.restore_seconds = started.elapsed().as_secs_f64();
        result.server = safe(&srv.version, 200);
        match mariabackup::count(&tables, &srv, work, run_as)? {
            Err(e) => result.error = Some(e),
            Ok(counts) => {
                result.rows = counts.iter().sum();
                for (t, n) in tables.iter().zip(&counts) {
                    if t.view {
                        continue;
                    }
                    match result.databases.iter_mut().find(|d| d.name == t.database) {
                        Some(d) => {
                            d.tables += 1;
                            d.rows += n;
                        }
                        None => result.databases.push(DrillDatabase {
                            name: t.database.clone(),
                            tables: 1,
                            rows: *n,
                            bytes: 0,
                            seconds: 0.0,
                        }),
                    }
                }
            }
        }
        procs::step("stopping the throwaway server");
        procs::stop(&mut srv.child);
    } else {
        result.restore_seconds = started.elapsed().as_secs_f64();
    }
    disk::done();
    if result.error.is_none() && result.tables == 0 {
        return Err(DrillError::Refused(format!(
            "{}: the backup holds no table (no .frm file in a database directory), so nothing \
             was read",
            safe_path(chosen, 200)
        )));
    }
    // The backup must not have changed while it was copied.
    let after = std::fs::metadata(chosen).map(|m| FileKey::of(&m)).ok();
    if after != Some(key) {
        return Err(DrillError::Setup(format!(
            "{} changed while it was drilled: drill again once it is finished",
            safe_path(chosen, 200)
        )));
    }
    if result.error.is_none() {
        result.outcome = DrillOutcome::Restored;
    }
    result.finished_at = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    Ok(result)
}

/// Where pg_restore reads the archive from.
enum Archive<'a> {
    /// `-Fc`/`-Ft` file, given on pg_restore's stdin.
    Stream(std::fs::File, crate::facts::Compression),
    /// `-Fd` directory, named on pg_restore's command line.
    Directory(&'a Path),
}

/// pg_dump -Fc/-Ft/-Fd: `pg_restore -f -` turns the archive into the script psql restores
/// (and the counter counts). A file reaches pg_restore on its stdin, so the unprivileged
/// user needs no access to the dump: the open file itself when it is not compressed
/// (seekable, as pg_restore prefers), else the decoded stream through a pipe. A directory
/// cannot be passed that way: pg_restore reads it as the caller (root when the drill runs
/// as root), which is safe because `pg_restore -f -` talks to no server, it only writes
/// the script to the pipe into psql, which runs as the unprivileged user.
fn pg_restore(
    source: Archive<'_>,
    srv: &server::Server,
    work: &Path,
    run_as: Option<RunAs>,
    psql: std::process::Command,
    db: &str,
) -> Result<restore::Streamed, DrillError> {
    use std::process::Stdio;
    let bin = srv.bin_dir.clone().unwrap_or_default();
    let mut cmd = server::command(&bin.join("pg_restore"), work);
    cmd.args(["-f", "-"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let (file, compression, user) = match source {
        Archive::Stream(file, compression) => {
            if compression == crate::facts::Compression::Plain {
                cmd.stdin(Stdio::from(file));
                (None, compression, run_as)
            } else {
                cmd.stdin(Stdio::piped());
                (Some(file), compression, run_as)
            }
        }
        Archive::Directory(dir) => {
            cmd.args(["-F", "d", "--"]).arg(dir).stdin(Stdio::null());
            (None, crate::facts::Compression::Plain, None)
        }
    };
    let mut child = procs::spawn(&mut cmd, user)
        .map_err(|e| DrillError::Setup(format!("cannot run pg_restore: {e}")))?;
    let mut stdin = child.stdin.take();
    let feeder = std::thread::spawn(move || {
        if let (Some(s), Some(file)) = (stdin.as_mut(), file) {
            if let Ok(mut decoded) = crate::decode::reference_decoder(compression, file) {
                let _ = std::io::copy(&mut decoded, s);
            }
        }
    });
    let mut err = child.stderr.take();
    let err_reader = std::thread::spawn(move || {
        let mut text = String::new();
        if let Some(e) = err.as_mut() {
            let _ = e.take(64 * 1024).read_to_string(&mut text);
        }
        text
    });
    let out = child
        .stdout
        .take()
        .ok_or_else(|| DrillError::Setup("pg_restore has no stdout".into()))?;
    let mut streamed = restore::stream(out, psql, run_as, Dialect::Postgres, db)?;
    let status = child
        .wait()
        .map_err(|e| DrillError::Setup(format!("waiting for pg_restore: {e}")))?;
    let _ = feeder.join();
    let err_text = err_reader.join().unwrap_or_default();
    if !status.success() && streamed.error.is_none() {
        streamed.error = Some(
            restore::first_error(&err_text)
                .map(|e| format!("pg_restore: {e}"))
                .unwrap_or_else(|| format!("pg_restore exited with {status}")),
        );
    }
    Ok(streamed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_create_dump_of_a_database_every_cluster_has_is_recognised() {
        let dump = |db: &str| {
            format!(
                "--\n-- PostgreSQL database dump\n--\n\nSET statement_timeout = 0;\n\n\
                 CREATE DATABASE {db} WITH TEMPLATE = template0 ENCODING = 'UTF8';\n\n\
                 ALTER DATABASE {db} OWNER TO postgres;\n\\connect {db}\n"
            )
        };
        assert_eq!(
            recreated_default_database(dump("postgres").as_bytes()),
            Some("postgres")
        );
        assert_eq!(
            recreated_default_database(dump("template1").as_bytes()),
            Some("template1")
        );
        // Any other database is created as it is.
        assert_eq!(recreated_default_database(dump("shop").as_bytes()), None);
        assert_eq!(
            recreated_default_database(dump("postgres_x").as_bytes()),
            None
        );
        // A CREATE DATABASE after the first \connect is the dump's content, not its own.
        let later = "\\connect shop\nCREATE DATABASE postgres;\n";
        assert_eq!(recreated_default_database(later.as_bytes()), None);
        // Without --create: nothing.
        assert_eq!(
            recreated_default_database(b"SET x = 0;\nCREATE TABLE public.t (id int);\n"),
            None
        );
    }
}
