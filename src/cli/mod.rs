//! The command line: a contract that monitoring configs and packages depend on.
//!
//! Usage errors must not reach clap's default handling (exit 2 = CRITICAL, text on stderr,
//! which NRPE drops): they become UNKNOWN (3) with the message on stdout.

pub mod config;

use clap::builder::TypedValueParser;
use clap::{ArgAction, Parser, ValueEnum};
use regex::{Regex, RegexBuilder};
use std::ffi::OsString;
use std::time::Duration;

use crate::acquire::log::LogRules;
use crate::facts::{DecryptTool, Decryption, KeySource};
use crate::formats::writer::{MarkerChoice, MarkerRule};
use crate::judge::checksum::Mode as ChecksumMode;
use crate::judge::encrypted::Policy as EncryptedPolicy;
use crate::judge::log::LogThresholds;
use crate::judge::{State, Thresholds};
use crate::present::Format;
use crate::range::Range;
use crate::units::{parse_duration, parse_size};

const EXIT_CODES: &str = "\
Exit codes: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (bad arguments, unreadable files, timeouts,
internal errors; also after --help and --version, as the Monitoring Plugins guidelines ask).

Thresholds: DURATION is seconds or a number with s, m, h, d, w (90m, 26h, 1d12h). SIZE takes
B, K, M, G, T (1024-based: 1200K = 1228800 bytes). Both also accept the Monitoring Plugins
range syntax ([@]start:end, ~ for minus infinity), e.g. -w 1h:26h.";

/// Which completion marker to require.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MarkerKind {
    /// Recognise the writer from the dump's first lines and require its trailer.
    Auto,
    /// mysqldump / mariadb-dump: `-- Dump completed` as the last line.
    #[value(alias = "mariadb-dump")]
    Mysqldump,
    /// pg_dump plain format: `-- PostgreSQL database dump complete`.
    #[value(name = "pg_dump")]
    PgDump,
    /// pg_dumpall: `-- PostgreSQL database cluster dump complete`.
    #[value(name = "pg_dumpall")]
    PgDumpall,
    /// Do not check the content; still verify the compression stream.
    None,
}

/// Which kind of pg_backupcluster entry to require.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EntryKind {
    /// `pg_backupcluster ... dump`: `<timestamp>.dump/`.
    Dump,
    /// `pg_backupcluster ... basebackup`: `<timestamp>.backup/`.
    Basebackup,
}

/// check_backup: is last night's database backup really good?
#[derive(Debug, Parser)]
#[command(
    name = "check_backup",
    version,
    about = "Monitoring plugin: checks that the newest database dump is recent, big enough, \
             whole (compression stream intact) and complete (the dump tool's own trailer).",
    after_help = EXIT_CODES
)]
pub struct Args {
    /// Dump file, directory (its newest regular file is checked) or quoted glob (newest match).
    #[arg(
        short = 'f',
        long = "dump",
        value_name = "PATH",
        required_unless_present = "log"
    )]
    pub dump: Option<String>,

    /// WARNING when the dump is older than this [default: 26h; none with --schedule].
    #[arg(short = 'w', long, value_name = "DURATION", value_parser = age_range)]
    pub warning_age: Option<Range>,

    /// CRITICAL when the dump is older than this [default: 50h; none with --schedule].
    #[arg(short = 'c', long, value_name = "DURATION", value_parser = age_range)]
    pub critical_age: Option<Range>,

    /// When the backup job starts: a 5-field cron expression in local time ('30 2 * * 1-5')
    /// or @daily, @weekly, @monthly. The newest dump must be newer than the start of the last
    /// run that is due (its start plus --grace); -w/-c become optional extra limits.
    #[arg(long, value_name = "CRON", value_parser = schedule_expr, help_heading = "Schedule")]
    pub schedule: Option<croner::Cron>,

    /// How long after its scheduled start a run's dump is due; also how long a run the log
    /// shows in progress (--log-run-start, --log-success) may take before it is stuck.
    #[arg(long, value_name = "DURATION", default_value = "2h", value_parser = duration, help_heading = "Schedule")]
    pub grace: f64,

    /// Missed runs from which the state is CRITICAL (one missed run is WARNING).
    #[arg(long, value_name = "N", default_value = "2", value_parser = clap::value_parser!(u32).range(1..), help_heading = "Schedule")]
    pub missed_critical: u32,

    /// WARNING when the dump file is smaller than this.
    #[arg(short = 'W', long, value_name = "SIZE", value_parser = size_range)]
    pub warning_size: Option<Range>,

    /// CRITICAL when the dump file is smaller than this.
    #[arg(short = 'C', long, value_name = "SIZE", value_parser = size_range)]
    pub critical_size: Option<Range>,

    /// WARNING when the dump is smaller than the median of up to 7 earlier dumps in the same
    /// directory or glob by more than this many percent (0 = off; needs 2 earlier dumps);
    /// also their decoded sizes, when the cache knows the earlier ones'.
    #[arg(long, value_name = "PERCENT", default_value = "50", value_parser = percent)]
    pub max_shrink: f64,

    /// WARNING when the dump is larger than the median of up to 7 earlier dumps in the same
    /// directory or glob by more than this many percent (e.g. 200; 0 = off; needs 2 earlier
    /// dumps): a runaway log table, the wrong database.
    #[arg(long, value_name = "PERCENT", default_value = "0", value_parser = growth_percent)]
    pub max_growth: f64,

    /// Every restore point: the set (directory, glob, or each database's dumps) must hold at
    /// least N dumps within WINDOW (e.g. 7/8d; all of its dumps without /WINDOW), each
    /// verified whole and complete as the newest is (cached after the first time).
    #[arg(long, value_name = "N[/WINDOW]", value_parser = restore_points, help_heading = "Sets of dumps")]
    pub restore_points: Option<crate::judge::restore_points::Policy>,

    /// WARNING when the oldest good restore point is younger than this (retention not
    /// holding); needs --restore-points, at most its WINDOW.
    #[arg(long, value_name = "DURATION", value_parser = duration, help_heading = "Sets of dumps")]
    pub oldest_age: Option<f64>,

    /// One dump per database (automysqlbackup, pg_back): a regex matched against each file's
    /// path below the --dump directory (or else its name), whose first group is the database
    /// name; the newest dump of each database is judged, the state is the worst.
    #[arg(long, value_name = "RE", value_parser = per_database_regex, help_heading = "Sets of dumps")]
    pub per_database: Option<Regex>,

    /// Databases that must each have a dump (comma-separated, or @FILE with one per line).
    #[arg(long, value_name = "LIST", value_parser = database_list, help_heading = "Sets of dumps")]
    pub expect_databases: Option<DatabaseList>,

    /// Debian's pg_backupcluster (--dump /var/backups/postgresql/15-main): judge only this
    /// kind of entry and require one; by default the newest entry of each kind there is judged.
    #[arg(long, value_enum, value_name = "KIND", help_heading = "Sets of dumps")]
    pub kind: Option<EntryKind>,

    /// Completion marker to require.
    #[arg(long, value_enum, value_name = "KIND", default_value = "auto")]
    pub marker: MarkerKind,

    /// Custom regex the last non-blank line must match (overrides --marker).
    #[arg(long, value_name = "RE", value_parser = marker_regex)]
    pub marker_regex: Option<Regex>,

    /// A dump dated further in the future than this is a WARNING (clock or copy problem).
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = duration)]
    pub future_tolerance: f64,

    /// A dump modified less than this long ago, or with a writer's temporary file beside it
    /// written that recently, is "backup in progress" (0 = off).
    #[arg(long, value_name = "DURATION", default_value = "120s", value_parser = duration)]
    pub settle: f64,

    /// Report the last restore drill of the dump set (written by backup-drill into the
    /// cache directory): OK when it restored the newest dump within this long, WARNING when
    /// it is older or drilled an older dump (or there is none), CRITICAL when it failed.
    #[arg(long, value_name = "DURATION", value_parser = duration, help_heading = "Restore drill")]
    pub drill_max_age: Option<f64>,

    /// State of "backup in progress" (the previous dump is judged too, when there is one).
    #[arg(long, value_name = "STATE", default_value = "warning", value_parser = service_state)]
    pub in_progress_state: State,

    /// Follow symlinks found in a directory or glob (an explicitly named file may always be one).
    #[arg(long)]
    pub follow_symlinks: bool,

    /// In a directory or glob, files whose name matches this glob are not dumps (repeatable;
    /// checksum, signature and log files such as *.sha256, SHA256SUMS, *.asc, *.log are
    /// skipped without it).
    #[arg(long, value_name = "GLOB", value_parser = name_glob)]
    pub exclude: Vec<glob::Pattern>,

    /// The checksum file beside the dump (<dump>.sha256, .sha512, .sha1, .md5, or its line in
    /// SHA256SUMS, MD5SUMS...): auto = verify the dump against it when there is one; require =
    /// also WARNING when there is none; off = ignore checksum files.
    #[arg(
        long,
        value_name = "MODE",
        default_value = "auto",
        value_parser = clap::builder::PossibleValuesParser::new(ChecksumMode::NAMES)
            .map(|s: String| ChecksumMode::from_name(&s).unwrap_or_default())
    )]
    pub checksum: ChecksumMode,

    /// State of an encrypted dump (OpenPGP, age, openssl enc, CMS) whose structure is whole:
    /// without the key nobody can see whether it holds a whole dump. warning, ok (accept
    /// what can be verified without the key) or critical; a broken structure is always
    /// CRITICAL.
    #[arg(
        long,
        value_name = "STATE",
        default_value = "warning",
        value_parser = clap::builder::PossibleValuesParser::new(EncryptedPolicy::NAMES)
            .map(|s: String| EncryptedPolicy::from_name(&s).unwrap_or_default())
    )]
    pub encrypted_without_key: EncryptedPolicy,

    /// Decrypt an OpenPGP (gpg) or age encrypted dump with the real tool and judge its
    /// content like an unencrypted dump's (stream, completion marker); the plaintext is
    /// streamed, never written to disk. Needs --gpg-key, --gpg-homedir or --age-identity.
    #[arg(
        long,
        value_name = "TOOL",
        value_parser = clap::builder::PossibleValuesParser::new(["gpg", "age"])
            .map(|s: String| if s == "age" { DecryptTool::Age } else { DecryptTool::Gpg })
    )]
    pub decrypt_with: Option<DecryptTool>,

    /// An OpenPGP dump must be encrypted to this key ID (the encryption subkey's long ID or
    /// fingerprint), repeatable: CRITICAL when it is not (that key cannot restore it: a
    /// wrong or rotated key). age, CMS and openssl enc files do not show their recipients'
    /// identities: not checked there.
    #[arg(long, value_name = "KEYID")]
    pub expect_recipient: Vec<String>,

    /// For --decrypt-with gpg: the GnuPG home directory holding the secret (sub)key the
    /// dumps are encrypted to, owned by the monitoring user, mode 700.
    #[arg(long, value_name = "DIR")]
    pub gpg_homedir: Option<std::path::PathBuf>,

    /// For --decrypt-with gpg: an exported secret (sub)key file (what gpg's
    /// export-secret-subkeys command writes for KEYID!), mode 600; imported for each check into a throwaway
    /// keyring in memory-backed space ($XDG_RUNTIME_DIR or /dev/shm), removed with its
    /// gpg-agent afterwards. Instead of --gpg-homedir.
    #[arg(long, value_name = "FILE")]
    pub gpg_key: Option<std::path::PathBuf>,

    /// For --decrypt-with age: the identity file (the secret key), mode 600.
    #[arg(long, value_name = "FILE")]
    pub age_identity: Option<std::path::PathBuf>,

    /// The backup job's log: its last run's exit status, ERROR and WARN lines, and age.
    #[arg(short = 'l', long, value_name = "PATH", help_heading = "Backup log")]
    pub log: Option<String>,

    /// Extra regex that makes a log line an error (repeatable).
    #[arg(long, value_name = "RE", value_parser = bounded_regex, help_heading = "Backup log")]
    pub log_error: Vec<Regex>,

    /// Extra regex that makes a log line a warning (repeatable).
    #[arg(long, value_name = "RE", value_parser = bounded_regex, help_heading = "Backup log")]
    pub log_warning: Vec<Regex>,

    /// Log lines matching this regex are ignored (repeatable).
    #[arg(long, value_name = "RE", value_parser = bounded_regex, help_heading = "Backup log")]
    pub log_ignore: Vec<Regex>,

    /// A line matching this regex must be in the last run (e.g. 'backup complete'), else CRITICAL.
    #[arg(long, value_name = "RE", value_parser = bounded_regex, help_heading = "Backup log")]
    pub log_success: Option<Regex>,

    /// Regex of the line that starts a run, for logs that accumulate runs: only the last run is judged.
    #[arg(long, value_name = "RE", value_parser = bounded_regex, help_heading = "Backup log")]
    pub log_run_start: Option<Regex>,

    /// WARNING when the last run took less than R times the median duration of the earlier
    /// runs in the log (e.g. 0.2; needs --log-run-start and timestamped lines, and 3 earlier
    /// runs): a job that finished suspiciously fast.
    #[arg(long, value_name = "R", default_value = "0", value_parser = ratio, help_heading = "Backup log")]
    pub min_duration_ratio: f64,

    /// WARNING when the log was last written longer ago (default: --warning-age).
    #[arg(long, value_name = "DURATION", value_parser = age_range, help_heading = "Backup log")]
    pub log_warning_age: Option<Range>,

    /// CRITICAL when the log was last written longer ago (default: --critical-age).
    #[arg(long, value_name = "DURATION", value_parser = age_range, help_heading = "Backup log")]
    pub log_critical_age: Option<Range>,

    /// How long the job may keep writing its log after the dump (uploads); used when log lines have no timestamps.
    #[arg(long, value_name = "DURATION", default_value = "2h", value_parser = duration, help_heading = "Backup log")]
    pub log_dump_slack: f64,

    /// Give up with UNKNOWN after this many seconds (0 = never; default 50, none with
    /// --verify-only); keep it below the monitoring system's own limit (60 s in Icinga 2,
    /// Nagios and NRPE).
    #[arg(short = 't', long, value_name = "SECONDS", value_parser = timeout)]
    pub timeout: Option<f64>,

    /// Directory of the content-verdict cache (default: /var/cache/check_backup when
    /// writable, else $XDG_CACHE_HOME/check_backup or ~/.cache/check_backup).
    #[arg(
        long,
        value_name = "DIR",
        env = "CHECK_BACKUP_CACHE_DIR",
        help_heading = "Cache"
    )]
    pub cache_dir: Option<std::path::PathBuf>,

    /// Do not read or write the cache: decode the dump on every check.
    #[arg(long, help_heading = "Cache")]
    pub no_cache: bool,

    /// Verify the dump fully (no time limit unless -t) and fill the cache; for the backup
    /// job to run right after writing the dump (so --settle does not apply). Exit code: the
    /// verdict's. Entries are readable by the monitoring user (0644).
    #[arg(long, help_heading = "Cache")]
    pub verify_only: bool,

    /// State while the content is still being verified (in the background, after a timeout).
    #[arg(long, value_name = "STATE", default_value = "unknown", value_parser = service_state, help_heading = "Cache")]
    pub unverified_state: State,

    /// Configuration file of backup sets (default with --set: /etc/check_backup/backups.toml).
    #[arg(long, value_name = "FILE", help_heading = "Configuration")]
    pub config: Option<std::path::PathBuf>,

    /// Check the backup set NAME of the configuration file; command-line options override it.
    #[arg(long, value_name = "NAME", help_heading = "Configuration")]
    pub set: Option<String>,

    /// Internal: the background verifier started after a timeout.
    #[arg(long, hide = true)]
    pub background: bool,

    /// Output format.
    #[arg(long, value_enum, value_name = "FORMAT", default_value = "nagios")]
    pub output: Format,

    /// More detail: the steps taken (repeatable).
    #[arg(short = 'v', long, action = ArgAction::Count)]
    pub verbose: u8,
}

fn schedule_expr(s: &str) -> Result<croner::Cron, String> {
    crate::judge::schedule::parse(s)
}

fn age_range(s: &str) -> Result<Range, String> {
    // A bare duration is an upper bound: alert when older.
    Range::parse_with(s, parse_duration).map_err(|e| e.to_string())
}

fn size_range(s: &str) -> Result<Range, String> {
    // A bare size is a lower bound: alert when the dump is smaller.
    let t = s.trim();
    if t.contains(':') || t.starts_with('@') {
        Range::parse_with(t, parse_size).map_err(|e| e.to_string())
    } else {
        parse_size(t).map(Range::lower).map_err(|e| e.to_string())
    }
}

fn name_glob(s: &str) -> Result<glob::Pattern, String> {
    if s.contains('/') {
        return Err(format!(
            "invalid --exclude '{s}': it is matched against file names alone, without '/'"
        ));
    }
    glob::Pattern::new(s).map_err(|e| format!("invalid glob '{s}': {e}"))
}

fn service_state(s: &str) -> Result<State, String> {
    s.parse::<State>()
        .map_err(|_| format!("invalid state '{s}': use ok, warning, critical or unknown"))
}

/// The databases of `--expect-databases`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatabaseList(pub Vec<String>);

fn database_list(s: &str) -> Result<DatabaseList, String> {
    let text = match s.strip_prefix('@') {
        Some(path) => std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read database list {path}: {e}"))?,
        None => s.to_string(),
    };
    let names: Vec<String> = text
        .split([',', '\n'])
        .map(|n| n.trim().to_string())
        .filter(|n| !n.is_empty() && !n.starts_with('#'))
        .collect();
    if names.is_empty() {
        return Err(format!("empty database list '{s}'"));
    }
    Ok(DatabaseList(names))
}

fn percent(s: &str) -> Result<f64, String> {
    let v: f64 = s
        .trim()
        .trim_end_matches('%')
        .parse()
        .map_err(|_| format!("invalid percentage '{s}'"))?;
    if !(0.0..=100.0).contains(&v) {
        return Err(format!("invalid percentage '{s}': use 0 to 100"));
    }
    Ok(v)
}

fn ratio(s: &str) -> Result<f64, String> {
    let v: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("invalid ratio '{s}'"))?;
    if !(0.0..=1.0).contains(&v) {
        return Err(format!("invalid ratio '{s}': use 0 (off) to 1, e.g. 0.2"));
    }
    Ok(v)
}

fn growth_percent(s: &str) -> Result<f64, String> {
    let v: f64 = s
        .trim()
        .trim_end_matches('%')
        .parse()
        .map_err(|_| format!("invalid percentage '{s}'"))?;
    if !(0.0..=100_000.0).contains(&v) {
        return Err(format!("invalid percentage '{s}': use 0 (off) to 100000"));
    }
    Ok(v)
}

fn restore_points(s: &str) -> Result<crate::judge::restore_points::Policy, String> {
    crate::judge::restore_points::parse_policy(s, duration)
}

fn duration(s: &str) -> Result<f64, String> {
    parse_duration(s).map_err(|e| e.to_string())
}

/// The longest time limit accepted: far beyond any check, and small enough that the
/// watchdog's deadline (now + limit) can always be computed.
const MAX_TIMEOUT: f64 = 366.0 * 86_400.0;

fn timeout(s: &str) -> Result<f64, String> {
    let t = duration(s)?;
    if t > MAX_TIMEOUT {
        return Err(format!(
            "invalid timeout '{s}': at most 366d (use 0 for no limit)"
        ));
    }
    Ok(t)
}

/// Compiles an operator-supplied regex with the linear-time engine and a size limit, so no
/// pattern can make the check hang or eat memory.
pub fn bounded_regex(s: &str) -> Result<Regex, String> {
    RegexBuilder::new(s)
        .size_limit(1 << 20)
        .dfa_size_limit(4 << 20)
        .build()
        .map_err(|e| format!("invalid regex '{s}': {e}"))
}

fn marker_regex(s: &str) -> Result<Regex, String> {
    bounded_regex(s)
}

/// `--per-database`: its first capture group names the database, so it must have one.
pub fn per_database_regex(s: &str) -> Result<Regex, String> {
    let re = bounded_regex(s)?;
    if re.captures_len() < 2 {
        return Err(format!(
            "'{s}' has no capture group: its first group (...) must match the database name, e.g. '^([^/_]+)_' or '/([^/]+)/[^/]+$'"
        ));
    }
    Ok(re)
}

/// What the check needs, validated.
#[derive(Debug, Clone)]
pub struct Config {
    /// File, directory or glob.
    pub dump: Option<String>,
    /// The backup log, with its rules and thresholds.
    pub log: Option<LogConfig>,
    /// Age and size thresholds.
    pub thresholds: Thresholds,
    /// Size-trend limit in percent (0 = off).
    pub max_shrink: f64,
    /// `--max-growth` (0 = off).
    pub max_growth: f64,
    /// The job's schedule, when given.
    pub schedule: Option<crate::judge::schedule::Schedule>,
    /// `--restore-points` and `--oldest-age`, when given.
    pub restore_points: Option<crate::judge::restore_points::Policy>,
    /// `--drill-max-age`: report the last restore drill, which must be this recent (seconds).
    pub drill_max_age: Option<f64>,
    /// One dump per database: the regex whose first group names the database.
    pub per_database: Option<Regex>,
    /// Databases that must have a dump.
    pub expect_databases: Option<Vec<String>>,
    /// pg_backupcluster: the one kind of entry to judge and require.
    pub kind: Option<crate::facts::DirKind>,
    /// Completion marker to require.
    pub marker: MarkerChoice,
    /// How discovery looks: symlinks, `--exclude`.
    pub discovery: crate::acquire::discover::Options,
    /// `--checksum`.
    pub checksum: ChecksumMode,
    /// `--encrypted-without-key`.
    pub encrypted_without_key: EncryptedPolicy,
    /// `--decrypt-with` and its key material.
    pub decryption: Option<Decryption>,
    /// `--expect-recipient`.
    pub expect_recipients: Vec<String>,
    /// Seconds within which a modified dump counts as still being written.
    pub settle: f64,
    /// State of "backup in progress".
    pub in_progress_state: State,
    /// None = no time limit.
    pub timeout: Option<Duration>,
    /// Cache directory chosen on the command line.
    pub cache_dir: Option<std::path::PathBuf>,
    /// `--no-cache`.
    pub no_cache: bool,
    /// `--verify-only`: always decode, fill the cache.
    pub verify_only: bool,
    /// State while the content is not yet verified.
    pub unverified_state: State,
    /// Running as the background verifier.
    pub background: bool,
    /// Output format.
    pub format: Format,
    /// `-v` count.
    pub verbose: u8,
}

impl Config {
    /// The rules for encrypted dumps, as the judge takes them.
    pub fn encrypted_rules(&self) -> crate::judge::encrypted::Rules {
        crate::judge::encrypted::Rules {
            without_key: self.encrypted_without_key,
            recipients: self.expect_recipients.clone(),
        }
    }
}

/// The backup log to read and how to judge it.
#[derive(Debug, Clone)]
pub struct LogConfig {
    /// Path of the log.
    pub path: String,
    /// Patterns.
    pub rules: LogRules,
    /// Age and consistency thresholds.
    pub thresholds: LogThresholds,
    /// `--min-duration-ratio` (0: off).
    pub min_duration_ratio: f64,
}

impl Args {
    /// Options that parse one by one but contradict each other.
    fn conflicts(&self) -> Option<String> {
        // (Not clap's `requires`: a configuration file's entries are checked one by one.)
        if self.oldest_age.is_some() && self.restore_points.is_none() {
            return Some(
                "--oldest-age needs --restore-points (the restore points whose oldest it judges)"
                    .into(),
            );
        }
        if self.min_duration_ratio > 0.0 && (self.log.is_none() || self.log_run_start.is_none()) {
            return Some(
                "--min-duration-ratio needs -l and --log-run-start (the earlier runs are told apart by their start lines)"
                    .into(),
            );
        }
        let gpg = usize::from(self.gpg_homedir.is_some()) + usize::from(self.gpg_key.is_some());
        let age = self.age_identity.is_some();
        let wrong_tool = "--gpg-key and --gpg-homedir go with --decrypt-with gpg, --age-identity with --decrypt-with age";
        match self.decrypt_with {
            Some(DecryptTool::Gpg) if age => return Some(wrong_tool.into()),
            Some(DecryptTool::Gpg) if gpg == 0 => {
                return Some("--decrypt-with gpg needs --gpg-key (an exported secret subkey) or --gpg-homedir (a keyring holding it)".into())
            }
            Some(DecryptTool::Gpg) if gpg > 1 => {
                return Some("--gpg-key and --gpg-homedir exclude each other: give one".into())
            }
            Some(DecryptTool::Age) if gpg > 0 => return Some(wrong_tool.into()),
            Some(DecryptTool::Age) if !age => {
                return Some("--decrypt-with age needs --age-identity (the identity file)".into())
            }
            None if gpg > 0 || age => {
                return Some("--gpg-key, --gpg-homedir and --age-identity need --decrypt-with".into())
            }
            _ => {}
        }
        if let (Some(p), Some(age)) = (&self.restore_points, self.oldest_age) {
            if p.window.is_some_and(|w| age > w) {
                return Some(
                    "--oldest-age is longer than the --restore-points window: the oldest restore point in the window can never be that old".into(),
                );
            }
        }
        None
    }

    /// Turns parsed arguments into a [`Config`].
    pub fn into_config(self) -> Config {
        let marker = match (self.marker_regex, self.marker) {
            (Some(re), _) => MarkerChoice::Rule(MarkerRule::Regex(re)),
            (None, MarkerKind::Auto) => MarkerChoice::Auto,
            (None, MarkerKind::Mysqldump) => MarkerChoice::Rule(MarkerRule::Mysqldump),
            (None, MarkerKind::PgDump) => MarkerChoice::Rule(MarkerRule::PgDump),
            (None, MarkerKind::PgDumpall) => MarkerChoice::Rule(MarkerRule::PgDumpall),
            (None, MarkerKind::None) => MarkerChoice::None,
        };
        // With a schedule, the age limits are only those given; else the classic defaults.
        let (warn_age, crit_age) = match (&self.schedule, self.warning_age, self.critical_age) {
            (Some(_), w, c) => (w, c),
            (None, w, c) => (
                Some(w.unwrap_or(Range::upper(26.0 * 3600.0))),
                Some(c.unwrap_or(Range::upper(50.0 * 3600.0))),
            ),
        };
        let schedule = self.schedule.map(|cron| crate::judge::schedule::Schedule {
            text: cron.pattern.to_string(),
            cron,
            grace: self.grace,
            missed_critical: self.missed_critical,
        });
        let log = self.log.map(|path| LogConfig {
            path,
            rules: LogRules {
                error: self.log_error,
                warning: self.log_warning,
                ignore: self.log_ignore,
                success: self.log_success,
                run_start: self.log_run_start,
            },
            thresholds: LogThresholds {
                warn_age: self.log_warning_age.or(warn_age),
                crit_age: self.log_critical_age.or(crit_age),
                dump_slack: self.log_dump_slack,
                run_grace: self.grace,
                skew: self.future_tolerance,
            },
            min_duration_ratio: self.min_duration_ratio,
        });
        Config {
            dump: self.dump,
            log,
            thresholds: Thresholds {
                warn_age,
                crit_age,
                warn_size: self.warning_size,
                crit_size: self.critical_size,
                future_tolerance: self.future_tolerance,
            },
            marker,
            max_shrink: self.max_shrink,
            max_growth: self.max_growth,
            schedule,
            restore_points: self
                .restore_points
                .map(|p| crate::judge::restore_points::Policy {
                    oldest_age: self.oldest_age,
                    ..p
                }),
            drill_max_age: self.drill_max_age,
            per_database: self.per_database,
            expect_databases: self.expect_databases.map(|l| l.0),
            discovery: crate::acquire::discover::Options {
                follow_symlinks: self.follow_symlinks,
                exclude: self.exclude,
                // Restore points beyond the size trend's 8 earlier dumps (more for a window,
                // whose count is not known before listing).
                // JSON output: the RPO history (30 days of dumps).
                keep_older: if self.output == crate::present::Format::Json {
                    crate::acquire::discover::MAX_RUNNERS_UP
                } else {
                    0
                }
                .max(self.restore_points.map_or(0, |p| {
                    if p.window.is_some() {
                        crate::acquire::discover::MAX_RUNNERS_UP
                    } else {
                        p.need as usize
                    }
                })),
            },
            checksum: self.checksum,
            encrypted_without_key: self.encrypted_without_key,
            expect_recipients: self.expect_recipient,
            decryption: match (
                self.decrypt_with,
                self.gpg_key,
                self.gpg_homedir,
                self.age_identity,
            ) {
                (Some(DecryptTool::Gpg), Some(key), _, _) => Some(Decryption {
                    tool: DecryptTool::Gpg,
                    source: KeySource::GpgKeyFile,
                    key,
                }),
                (Some(DecryptTool::Gpg), None, Some(key), _) => Some(Decryption {
                    tool: DecryptTool::Gpg,
                    source: KeySource::GpgHomedir,
                    key,
                }),
                (Some(DecryptTool::Age), _, _, Some(key)) => Some(Decryption {
                    tool: DecryptTool::Age,
                    source: KeySource::AgeIdentity,
                    key,
                }),
                // Refused by `conflicts`.
                _ => None,
            },
            kind: self.kind.map(|k| match k {
                EntryKind::Dump => crate::facts::DirKind::PgClusterDump,
                EntryKind::Basebackup => crate::facts::DirKind::PgBaseBackup,
            }),
            // The job runs --verify-only once the dump is written: it is finished, however
            // recent (no "backup in progress", no waiting).
            settle: if self.verify_only || self.background {
                0.0
            } else {
                self.settle
            },
            in_progress_state: self.in_progress_state,
            timeout: {
                let default = if self.verify_only { 0.0 } else { 50.0 };
                let t = self.timeout.unwrap_or(default);
                (t > 0.0).then(|| Duration::from_secs_f64(t))
            },
            cache_dir: self.cache_dir,
            no_cache: self.no_cache,
            verify_only: self.verify_only || self.background,
            unverified_state: self.unverified_state,
            background: self.background,
            format: self.output,
            verbose: self.verbose,
        }
    }
}

/// The outcome of parsing: a config, or text to print before exiting UNKNOWN (usage errors,
/// `--help`, `--version`).
pub enum Parsed {
    /// Run the check.
    Run(Box<Config>),
    /// Print this on stdout and exit 3.
    Exit(String),
}

impl Args {
    /// Parses `argv` and returns only whether it parses, with clap's complaint (first line).
    pub fn try_parse_from_check(argv: Vec<OsString>) -> Result<(), String> {
        Args::try_parse_from(argv).map(|_| ()).map_err(|e| {
            let text = e.render().to_string();
            text.lines()
                .next()
                .unwrap_or("invalid value")
                .trim_start_matches("error: ")
                .to_string()
        })
    }
}

/// The value of `--name VALUE` or `--name=VALUE` in raw arguments.
fn raw_option(args: &[OsString], name: &str) -> Option<OsString> {
    let long = format!("--{name}");
    let with_eq = format!("--{name}=");
    let mut it = args.iter().skip(1);
    while let Some(a) = it.next() {
        let s = a.to_string_lossy();
        if s == long {
            return it.next().cloned();
        }
        if let Some(v) = s.strip_prefix(&with_eq) {
            return Some(v.into());
        }
    }
    None
}

/// Expands `--set NAME` into the set's options from the configuration file, placed before
/// the command line's own (which are left out of the expansion, so they win).
fn expand_config(args: Vec<OsString>) -> Result<Vec<OsString>, String> {
    let set = raw_option(&args, "set");
    let config = raw_option(&args, "config");
    let Some(set) = set else {
        return match config {
            Some(_) => Err("--config needs --set NAME: which backup set to check".into()),
            None => Ok(args),
        };
    };
    let path = config.map_or_else(
        || std::path::PathBuf::from(config::DEFAULT_PATH),
        std::path::PathBuf::from,
    );
    let file = config::ConfigFile::load(&path).map_err(|e| e.to_string())?;
    let given = config::given_options(&args);
    let expanded = file
        .args_for(&set.to_string_lossy(), &given)
        .map_err(|e| e.to_string())?;
    let mut argv = Vec::with_capacity(args.len() + expanded.len());
    argv.push(
        args.first()
            .cloned()
            .unwrap_or_else(|| "check_backup".into()),
    );
    argv.extend(expanded);
    argv.extend(args.into_iter().skip(1));
    Ok(argv)
}

/// Parses the command line (expanding `--set` from the configuration file); never exits
/// the process and never prints.
pub fn parse<I, T>(args: I) -> Parsed
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
    // A script that asked for JSON gets JSON for usage errors too.
    let json = raw_option(&args, "output").is_some_and(|v| v == "json");
    let args = match expand_config(args) {
        Ok(a) => a,
        Err(message) => {
            let message = crate::text::safe(&message, 600);
            return Parsed::Exit(if json {
                usage_json(&message, "")
            } else {
                format!("BACKUP UNKNOWN - {message}\n")
            });
        }
    };
    match Args::try_parse_from(&args) {
        Ok(args) => match args.conflicts() {
            Some(message) => Parsed::Exit(if json {
                usage_json(&format!("invalid arguments: {message}"), "")
            } else {
                format!("BACKUP UNKNOWN - invalid arguments: {message}\n")
            }),
            None => Parsed::Run(Box::new(args.into_config())),
        },
        Err(e) => {
            use clap::error::ErrorKind;
            match e.kind() {
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => Parsed::Exit(e.to_string()),
                _ => {
                    let (first, rest) = usage_error(&e, &args);
                    let first = crate::text::safe(&first, 600);
                    let rest: String = rest
                        .iter()
                        .filter(|l| !l.trim().is_empty())
                        .map(|l| format!("{}\n", crate::text::safe(l, 300)))
                        .collect();
                    Parsed::Exit(if json {
                        usage_json(&format!("invalid arguments: {first}"), &rest)
                    } else {
                        format!("BACKUP UNKNOWN - invalid arguments: {first}\n{rest}")
                    })
                }
            }
        }
    }
}

/// A usage error as the JSON document of a check (the same fields, state UNKNOWN, one
/// finding `usage`); `detail` (clap's further lines) goes into the trace.
fn usage_json(message: &str, detail: &str) -> String {
    let mut report = crate::judge::Report::default();
    report.push(crate::judge::Finding::new(
        crate::judge::Check::Usage,
        State::Unknown,
        message.to_string(),
    ));
    report.trace.extend(detail.lines().map(str::to_string));
    let mut text = crate::present::json(&report, 1);
    if !text.ends_with('\n') {
        text.push('\n');
    }
    text
}

/// What to check, for a command line that names nothing to check.
const NOTHING_TO_CHECK: &str = "nothing to check: give -f/--dump PATH (a dump file, a directory or a quoted glob), -l/--log PATH (the backup job's log), or --set NAME (a backup set of the configuration file, /etc/check_backup/backups.toml by default)";

/// clap's complaint (first line, further lines) with what a newcomer needs to fix it: what
/// to check when nothing is named; to quote a glob the shell expanded; no far-fetched
/// "similar argument" for a misspelt option.
fn usage_error(e: &clap::Error, args: &[OsString]) -> (String, Vec<String>) {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    let rendered = e.render().to_string();
    let mut lines = rendered.lines().map(str::to_string);
    let first = lines
        .next()
        .unwrap_or_else(|| "invalid arguments".into())
        .trim_start_matches("error: ")
        .to_string();
    let mut rest: Vec<String> = lines.collect();
    let invalid = match e.get(ContextKind::InvalidArg) {
        Some(ContextValue::String(s)) => s.clone(),
        Some(ContextValue::Strings(v)) => v.join(" "),
        _ => String::new(),
    };
    match e.kind() {
        ErrorKind::MissingRequiredArgument if invalid.starts_with("--dump") => {
            rest.retain(|l| l.trim() != invalid.trim() && !l.starts_with("Usage:"));
            rest.insert(0, "Usage: check_backup -f PATH [OPTIONS], or -l PATH [OPTIONS], or --set NAME [OPTIONS]".into());
            (NOTHING_TO_CHECK.to_string(), rest)
        }
        ErrorKind::UnknownArgument if !invalid.starts_with('-') => {
            let dump_given = args.iter().skip(1).any(|a| {
                let a = a.to_string_lossy();
                a == "-f" || a == "--dump" || a.starts_with("--dump=") || a.starts_with("-f")
            });
            if dump_given {
                (
                    format!(
                        "{first}: more than one path given; if -f was an unquoted glob, the shell expanded it into every match: quote it (-f '/var/backups/mysql/shop-*.sql.gz'), check_backup picks the newest match itself"
                    ),
                    rest,
                )
            } else {
                (first, rest)
            }
        }
        ErrorKind::UnknownArgument => {
            // clap suggests the closest option however far it is (--bogus: --log-run-start):
            // keep the tip only for a near miss (same first three letters).
            let stem = |o: &str| {
                o.trim_start_matches('-')
                    .chars()
                    .take(3)
                    .collect::<String>()
            };
            let suggested = match e.get(ContextKind::SuggestedArg) {
                Some(ContextValue::String(s)) => Some(s.clone()),
                _ => None,
            };
            if let Some(suggested) = suggested {
                if stem(&suggested) != stem(&invalid) {
                    rest.retain(|l| {
                        !l.trim_start().starts_with("tip:") && !l.starts_with("Usage:")
                    });
                    rest.insert(
                        0,
                        "Usage: check_backup -f PATH [OPTIONS] (see --help for the options)".into(),
                    );
                }
            }
            (first, rest)
        }
        _ => (first, rest),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(args: &[&str]) -> Config {
        match parse(std::iter::once("check_backup").chain(args.iter().copied())) {
            Parsed::Run(c) => *c,
            Parsed::Exit(text) => panic!("unexpected exit: {text}"),
        }
    }

    fn exit_text(args: &[&str]) -> String {
        match parse(std::iter::once("check_backup").chain(args.iter().copied())) {
            Parsed::Run(_) => panic!("expected a usage error for {args:?}"),
            Parsed::Exit(text) => text,
        }
    }

    #[test]
    fn the_clap_definition_is_consistent() {
        use clap::CommandFactory;
        Args::command().debug_assert();
    }

    /// Every option with a valid value, in one parse: a value-parser/field type mismatch in
    /// the derive panics at parse time, which this catches.
    #[test]
    fn every_option_parses() {
        let c = config(&[
            "-f",
            "/x",
            "-w",
            "1h",
            "-c",
            "2h",
            "-W",
            "1K",
            "-C",
            "1B",
            "--max-shrink",
            "30",
            "--per-database",
            "^(\\w+)/",
            "--expect-databases",
            "a,b",
            "--kind",
            "basebackup",
            "--marker",
            "mysqldump",
            "--marker-regex",
            "^x$",
            "--future-tolerance",
            "1m",
            "--settle",
            "10s",
            "--in-progress-state",
            "critical",
            "--follow-symlinks",
            "--exclude",
            "*.txt",
            "--exclude",
            "README*",
            "--checksum",
            "require",
            "-l",
            "/y",
            "--log-error",
            "e",
            "--log-warning",
            "w",
            "--log-ignore",
            "i",
            "--log-success",
            "s",
            "--log-run-start",
            "r",
            "--log-warning-age",
            "1h",
            "--log-critical-age",
            "2h",
            "--log-dump-slack",
            "5m",
            "-t",
            "9",
            "--cache-dir",
            "/tmp/c",
            "--no-cache",
            "--verify-only",
            "--unverified-state",
            "warning",
            "--output",
            "json",
            "-vv",
        ]);
        assert_eq!(
            c.expect_databases,
            Some(vec!["a".to_string(), "b".to_string()])
        );
        assert!(c.per_database.is_some() && c.no_cache && c.verify_only);
        assert_eq!(c.discovery.exclude.len(), 2);
        assert!(c.discovery.follow_symlinks);
        assert_eq!(c.checksum, ChecksumMode::Require);
        assert_eq!(c.kind, Some(crate::facts::DirKind::PgBaseBackup));
        assert_eq!(c.verbose, 2);
    }

    #[test]
    fn defaults() {
        let c = config(&["-f", "/x"]);
        assert_eq!(c.thresholds.warn_age, Some(Range::upper(93_600.0)));
        assert_eq!(c.thresholds.crit_age, Some(Range::upper(180_000.0)));
        assert_eq!(c.timeout, Some(Duration::from_secs(50)));
        assert!(matches!(c.marker, MarkerChoice::Auto));
        assert_eq!(c.format, Format::Nagios);
        assert_eq!(c.checksum, ChecksumMode::Auto);
        assert!(c.discovery.exclude.is_empty());
        assert_eq!(c.encrypted_without_key, EncryptedPolicy::Warning);
        for (name, policy) in [
            ("ok", EncryptedPolicy::Ok),
            ("critical", EncryptedPolicy::Critical),
            ("warning", EncryptedPolicy::Warning),
        ] {
            let c = config(&["-f", "/x", "--encrypted-without-key", name]);
            assert_eq!(c.encrypted_without_key, policy);
            assert_eq!(policy.name(), name);
        }
    }

    #[test]
    fn sizes_are_lower_bounds_unless_ranges() {
        let c = config(&["-f", "/x", "-W", "1200K", "-C", "@0:10"]);
        assert_eq!(c.thresholds.warn_size, Some(Range::lower(1_228_800.0)));
        assert_eq!(
            c.thresholds.crit_size,
            Some(Range {
                start: 0.0,
                end: 10.0,
                inside: true
            })
        );
    }

    #[test]
    fn marker_choices() {
        assert!(matches!(
            config(&["-f", "x", "--marker", "pg_dumpall"]).marker,
            MarkerChoice::Rule(MarkerRule::PgDumpall)
        ));
        assert!(matches!(
            config(&["-f", "x", "--marker", "none"]).marker,
            MarkerChoice::None
        ));
        assert!(matches!(
            config(&["-f", "x", "--marker", "none", "--marker-regex", "^done$"]).marker,
            MarkerChoice::Rule(MarkerRule::Regex(_))
        ));
        assert_eq!(config(&["-f", "x", "-t", "0"]).timeout, None);
        assert_eq!(config(&["-f", "x", "--verify-only"]).timeout, None);
        assert_eq!(config(&["-f", "x"]).settle, 120.0);
        assert_eq!(
            config(&["-f", "x", "--verify-only", "--settle", "10m"]).settle,
            0.0
        );
        assert_eq!(
            config(&["-f", "x", "--verify-only", "-t", "9"]).timeout,
            Some(Duration::from_secs(9))
        );
        assert_eq!(
            config(&["-f", "x", "--unverified-state", "warning"]).unverified_state,
            State::Warning
        );
    }

    #[test]
    fn usage_errors_are_unknown_text() {
        for args in [
            &["-f", "x", "-w", "10x"][..],
            &["-f", "x", "--marker", "oracle"],
            &["-f", "x", "--marker-regex", "("],
            &["-w", "1h"],
            &["-l", "x", "--log-error", "(("],
            &["-f", "x", "--bogus"],
            &["-f", "x", "-w", "20h:10h"],
            &["-f", "x", "--unverified-state", "maybe"],
            &["-f", "x", "--checksum", "yes"],
            &["-f", "x", "--encrypted-without-key", "unknown"],
            &["-f", "x", "--exclude", "/backups/*.txt"],
            &["-f", "x", "--exclude", "[a"],
        ] {
            let text = exit_text(args);
            assert!(
                text.starts_with("BACKUP UNKNOWN - invalid arguments: "),
                "{args:?}: {text}"
            );
            assert_eq!(text.lines().next().unwrap().matches('|').count(), 0);
        }
        assert!(exit_text(&["--version"]).contains(env!("CARGO_PKG_VERSION")));
        assert!(exit_text(&["--help"]).contains("--warning-age"));
    }

    #[test]
    fn usage_errors_tell_a_newcomer_what_to_do() {
        // Nothing to check: all three ways to name something.
        for args in [&[][..], &["-w", "1h"]] {
            let text = exit_text(args);
            for needle in [
                "nothing to check",
                "-f/--dump PATH",
                "-l/--log PATH",
                "--set NAME",
            ] {
                assert!(text.contains(needle), "{args:?}: {text}");
            }
        }
        // An unquoted glob the shell expanded: quote it.
        let text = exit_text(&[
            "-f",
            "/b/shop-2026-11-21.sql.gz",
            "/b/shop-2026-11-22.sql.gz",
        ]);
        assert!(
            text.contains("unexpected argument '/b/shop-2026-11-22.sql.gz'")
                && text.contains("unquoted glob")
                && text.contains("quote it"),
            "{text}"
        );
        // --per-database names the database with its first group.
        let text = exit_text(&["-f", "/b", "--per-database", "^[a-z]+_"]);
        assert!(text.contains("has no capture group"), "{text}");
        assert!(config(&["-f", "/b", "--per-database", "^([a-z]+)_"])
            .per_database
            .is_some());
        // A misspelt option: a near miss is suggested, a far-fetched one is not.
        let text = exit_text(&["-f", "x", "--bogus"]);
        assert!(!text.contains("--log-run-start"), "{text}");
        let text = exit_text(&["-f", "x", "--warnin-age", "1h"]);
        assert!(text.contains("'--warning-age'"), "{text}");
    }

    #[test]
    fn usage_errors_are_json_with_output_json() {
        for args in [
            &["-f", "x", "-w", "10x", "--output", "json"][..],
            &["--output=json", "-f", "x", "--bogus"],
            &[
                "--output",
                "json",
                "--set",
                "shop",
                "--config",
                "/nonexistent/backups.toml",
            ],
        ] {
            let text = exit_text(args);
            let v: serde_json::Value =
                serde_json::from_str(&text).unwrap_or_else(|e| panic!("{args:?}: {e}: {text}"));
            assert_eq!(v["state"], "UNKNOWN", "{text}");
            assert_eq!(v["exit_code"], 3, "{text}");
            assert_eq!(v["findings"][0]["check"], "usage", "{text}");
            assert_eq!(v["plugin"], "check_backup", "{text}");
            assert!(v["summary"].as_str().unwrap().len() > 10, "{text}");
        }
        assert!(exit_text(&["-f", "x", "--bogus"]).starts_with("BACKUP UNKNOWN - "));
    }

    #[test]
    fn mariadb_dump_is_an_alias_of_mysqldump() {
        assert!(matches!(
            config(&["-f", "x", "--marker", "mariadb-dump"]).marker,
            MarkerChoice::Rule(MarkerRule::Mysqldump)
        ));
        assert!(!exit_text(&["-f", "x", "--marker", "oracle"]).is_empty());
        assert!(exit_text(&["--help"]).contains("--warning-age"));
    }
}
