//! `backup-report`: every backup set of a host — or a whole fleet — in one report, with
//! size history.
//!
//! 1. **collect** — [`local`] runs `check_backup --config FILE --set NAME --output json` for
//!    every set of the configuration file (in parallel, each with its own time limit);
//!    [`fleet`] reads results other hosts produced (`--from DIR`); [`icinga`] pulls the last
//!    results of the `backup` services from an Icinga 2 REST API (`--icinga-api`);
//! 2. **remember** — [`history`] appends one line per set to a JSON Lines file and reads the
//!    `--days` window back for the sparklines;
//! 3. **present** — [`text`] (the daily mail), JSON (the results array, written by
//!    [`json_text`] from each result's compact text), [`html`] (one self-contained page).
//!
//! A [`result::SetResult`] holds what the renderers read as typed fields and its document
//! as compact JSON text (about 5–6 KiB per set, not a tree of maps), so 10,000 sets fit in
//! well under 100 MiB (BENCHMARKS.md).
//!
//! The exit code is the worst state (CRITICAL 2 > WARNING 1 > UNKNOWN 3 > OK 0, the
//! plugin's own ranking), so cron can alert on it; a report that could not do its job (an
//! unreadable configuration, an unreachable API, a set that timed out) is at least UNKNOWN.

pub mod fleet;
pub mod history;
pub mod html;
pub mod icinga;
pub mod json_text;
pub mod local;
pub mod result;
pub mod text;

use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Parser, ValueEnum};

use crate::cli::config::ConfigFile;
use crate::judge::State;
use result::{worst, SetResult, Source};

/// Report format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    /// Plain text for mail: a table, then the details of every set that is not OK.
    Text,
    /// The array of results, each in check_backup's JSON schema plus `set` (and `host`).
    Json,
    /// One self-contained HTML page with state colours and size sparklines.
    Html,
}

const AFTER_HELP: &str = "\
Exit code: the worst state of all sets (2 CRITICAL, 1 WARNING, 3 UNKNOWN, 0 OK, ranked as
check_backup ranks its findings); 3 when the configuration cannot be read or a source fails.

Examples:
  backup-report --config /etc/check_backup/backups.toml --format text | mail -s 'backup report' ops@example.com
  backup-report --format html --output /var/www/html/backups.html
  backup-report --from /srv/backup-results --icinga-api https://icinga.example.com:5665 \\
      --icinga-user report --icinga-ca /var/lib/icinga2/certs/ca.crt --format html --output page.html
  (the password comes from --icinga-password or BACKUP_REPORT_ICINGA_PASSWORD)";

/// backup-report: every backup set on one page, with trends.
#[derive(Debug, Parser)]
#[command(
    name = "backup-report",
    version,
    about = "Checks every backup set of the configuration file (and, optionally, results of \
             other hosts) and writes a daily report: text for mail, JSON, or an HTML page.",
    after_help = AFTER_HELP
)]
pub struct Args {
    /// Configuration file of backup sets (default: /etc/check_backup/backups.toml, unless
    /// only fleet sources are given).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    pub format: ReportFormat,

    /// Write the report to this file (atomically: a temporary file renamed) instead of stdout.
    #[arg(long, value_name = "PATH")]
    pub output: Option<PathBuf>,

    /// History file (JSON Lines): one line per set is appended each run; the sparklines read it.
    #[arg(long, value_name = "FILE", default_value = history::DEFAULT_PATH)]
    pub history: PathBuf,

    /// Neither read nor write the history.
    #[arg(long, conflicts_with = "history")]
    pub no_history: bool,

    /// The history window of the sparklines, in days.
    #[arg(long, value_name = "N", default_value = "30", value_parser = clap::value_parser!(u32).range(1..=3660))]
    pub days: u32,

    /// Add the results other hosts wrote with `check_backup --output json` (or
    /// `backup-report --format json`) as DIR/*.json; host = `host` field or file name (repeatable).
    #[arg(long, value_name = "DIR", help_heading = "Fleet")]
    pub from: Vec<PathBuf>,

    /// Add the last results of the Icinga 2 services whose check command is `backup`, from
    /// this REST API (e.g. https://icinga.example.com:5665).
    #[arg(long, value_name = "URL", help_heading = "Fleet")]
    pub icinga_api: Option<String>,

    /// Icinga 2 ApiUser (needs the permission objects/query/Service).
    #[arg(
        long,
        value_name = "USER",
        env = "BACKUP_REPORT_ICINGA_USER",
        help_heading = "Fleet"
    )]
    pub icinga_user: Option<String>,

    /// Its password (better: the environment variable, which `ps` does not show).
    #[arg(
        long,
        value_name = "PASSWORD",
        env = "BACKUP_REPORT_ICINGA_PASSWORD",
        hide_env_values = true,
        help_heading = "Fleet"
    )]
    pub icinga_password: Option<String>,

    /// CA certificate (PEM) that signed the API's certificate, e.g. /var/lib/icinga2/certs/ca.crt.
    #[arg(long, value_name = "FILE", help_heading = "Fleet")]
    pub icinga_ca: Option<PathBuf>,

    /// Do not verify the API's certificate (for tests only).
    #[arg(long, help_heading = "Fleet")]
    pub icinga_insecure: bool,

    /// The check command whose services are reported.
    #[arg(
        long,
        value_name = "NAME",
        default_value = "backup",
        help_heading = "Fleet"
    )]
    pub icinga_check_command: String,

    /// Sets checked at once (default: the number of cores).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=256))]
    pub jobs: Option<u16>,

    /// Time limit per set (and for the API request), e.g. 60 or 2m; a set that has not answered
    /// by then is UNKNOWN. Keep the sets' own `timeout` (check_backup's -t, default 50s) below it.
    #[arg(long, value_name = "SECONDS", default_value = "60", value_parser = positive_duration)]
    pub timeout: f64,

    /// The check_backup binary (default: next to backup-report, then
    /// /usr/lib/nagios/plugins, /usr/lib64/nagios/plugins, then PATH).
    #[arg(long, value_name = "PATH")]
    pub check_backup: Option<PathBuf>,

    /// The host name shown and recorded for this host's sets (default: the system's).
    #[arg(long, value_name = "NAME")]
    pub hostname: Option<String>,
}

fn positive_duration(s: &str) -> Result<f64, String> {
    let v = crate::units::parse_duration(s).map_err(|e| e.to_string())?;
    if v <= 0.0 {
        return Err("must be more than 0".into());
    }
    Ok(v)
}

/// What the renderers need.
pub struct Page<'a> {
    /// This host's name.
    pub host: &'a str,
    /// Report time, RFC 3339.
    pub time: String,
    /// Report time for people.
    pub time_display: String,
    /// The results, worst first.
    pub results: &'a [SetResult],
    /// History entries of the window (the current run included).
    pub history: &'a [history::Entry],
    /// The window.
    pub days: u32,
    /// The history file, when used.
    pub history_file: Option<&'a str>,
    /// Problems of the report itself (config, sources, history).
    pub notes: &'a [String],
}

/// The system's host name.
pub fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname NUL-terminates within it
    // (or truncates, handled by taking up to the first NUL).
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc == 0 {
        let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
        let name = String::from_utf8_lossy(&buf[..end]).trim().to_string();
        if !name.is_empty() {
            return name;
        }
    }
    "localhost".into()
}

/// Everything a run produced, before rendering.
pub struct Outcome {
    /// Results, worst first.
    pub results: Vec<SetResult>,
    /// Notes about the report itself.
    pub notes: Vec<String>,
    /// The worst state, notes included (a note is UNKNOWN unless it is only about history).
    pub state: State,
}

/// Collects the results of every source. Notes that mean the report could not do its job
/// make it UNKNOWN at least.
pub fn collect(args: &Args) -> Outcome {
    let mut results = Vec::new();
    let mut notes = Vec::new();
    let mut failed = false;
    let fleet_only = args.config.is_none() && (!args.from.is_empty() || args.icinga_api.is_some());
    if !fleet_only {
        let path = args
            .config
            .clone()
            .unwrap_or_else(|| PathBuf::from(crate::cli::config::DEFAULT_PATH));
        match ConfigFile::load(&path) {
            Ok(config) => {
                let sets = config.set_names();
                if sets.is_empty() {
                    notes.push(format!(
                        "config {}: no backup sets ([set.NAME] tables)",
                        path.display()
                    ));
                    failed = true;
                } else {
                    let timeout = Duration::from_secs_f64(args.timeout);
                    match local::find_check_backup(args.check_backup.as_deref()) {
                        Ok(exe) => {
                            let jobs = args.jobs.map(usize::from).unwrap_or_else(|| {
                                std::thread::available_parallelism()
                                    .map(|n| n.get())
                                    .unwrap_or(2)
                            });
                            results.extend(local::check_sets(&exe, &path, &sets, jobs, timeout));
                        }
                        Err(e) => results.extend(
                            sets.iter()
                                .map(|s| SetResult::unknown(s, None, Source::Local, &e)),
                        ),
                    }
                }
            }
            Err(e) => {
                notes.push(e.to_string());
                failed = true;
            }
        }
    }
    for dir in &args.from {
        match fleet::load_dir(dir) {
            Ok(r) if r.is_empty() => {
                notes.push(format!("--from {}: no *.json results", dir.display()));
                failed = true;
            }
            Ok(r) => results.extend(r),
            Err(e) => {
                notes.push(e);
                failed = true;
            }
        }
    }
    if let Some(url) = &args.icinga_api {
        let opts = icinga::Options {
            url: url.clone(),
            user: args.icinga_user.clone(),
            password: args.icinga_password.clone(),
            ca: args.icinga_ca.clone(),
            insecure: args.icinga_insecure,
            check_command: args.icinga_check_command.clone(),
            timeout: Duration::from_secs_f64(args.timeout),
        };
        match icinga::fetch(&opts) {
            Ok(r) => {
                if r.is_empty() {
                    notes.push(format!(
                        "Icinga 2 API {url}: no service uses the check command '{}'",
                        args.icinga_check_command
                    ));
                    failed = true;
                }
                results.extend(r);
            }
            Err(e) => {
                notes.push(e);
                failed = true;
            }
        }
    }
    result::sort(&mut results);
    let mut state = worst(results.iter().map(SetResult::state));
    if failed {
        state = worst([state, State::Unknown]);
    }
    Outcome {
        results,
        notes,
        state,
    }
}

/// Writes `text` to `path` atomically (temporary file in the same directory, renamed), so
/// a web server never serves half a page.
fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut tmp = tempfile::Builder::new()
        .prefix(".backup-report.")
        .tempfile_in(dir)?;
    tmp.write_all(text.as_bytes())?;
    tmp.as_file().sync_all()?;
    // Readable like a file written with the usual umask (tempfile creates 0600).
    std::fs::set_permissions(
        tmp.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o644),
    )?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// Runs the report; returns the exit code.
pub fn main(argv: impl IntoIterator<Item = OsString>) -> i32 {
    let args = match Args::try_parse_from(argv) {
        Ok(a) => a,
        Err(e) => {
            use clap::error::ErrorKind;
            let code = match e.kind() {
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => 0,
                _ => 3,
            };
            let _ = e.print();
            return code;
        }
    };
    let local_host = args.hostname.clone().unwrap_or_else(hostname);
    let now = chrono::Local::now();
    let time = now.to_rfc3339_opts(chrono::SecondsFormat::Secs, false);
    let time_display = now.format("%Y-%m-%d %H:%M:%S %:z").to_string();

    let Outcome {
        results,
        mut notes,
        state,
    } = collect(&args);

    // History: append this run, then read the window (which now includes it).
    let mut history_entries = Vec::new();
    if !args.no_history {
        let entries: Vec<_> = results
            .iter()
            .map(|r| history::Entry::of(r, &local_host, &time))
            .collect();
        if let Err(e) = history::append(&args.history, &entries) {
            notes.push(e);
        }
        let since = now.timestamp() - i64::from(args.days) * 86_400;
        let read = history::read(&args.history, since);
        notes.extend(read.notes);
        history_entries = read.entries;
    }
    for n in &notes {
        eprintln!("backup-report: {n}");
    }
    let history_file = args.history.to_string_lossy();
    let page = Page {
        host: &local_host,
        time,
        time_display,
        results: &results,
        history: &history_entries,
        days: args.days,
        history_file: (!args.no_history).then_some(history_file.as_ref()),
        notes: &notes,
    };
    let rendered = match args.format {
        ReportFormat::Text => text::render(&page),
        ReportFormat::Html => html::render(&page),
        ReportFormat::Json => {
            // Written from each set's compact text (no document is parsed again).
            let mut s = json_text::pretty_array(results.iter().map(SetResult::doc_json));
            s.push('\n');
            s
        }
    };
    let written = match &args.output {
        Some(path) => write_atomically(path, &rendered)
            .map_err(|e| format!("cannot write {}: {e}", path.display())),
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(rendered.as_bytes())
                .and_then(|_| out.flush())
                .map_err(|e| format!("cannot write the report: {e}"))
        }
    };
    if let Err(e) = written {
        eprintln!("backup-report: {e}");
        return State::Unknown.exit_code();
    }
    state.exit_code()
}
