//! Reading a backup job's log: the last run's exit status, its error and warning lines (by
//! level, not by substring), its timestamps, and whether a required success line is there.
//!
//! The log is streamed line by line with a bounded line length; with a run-start pattern it
//! is first read backwards from the end to the last run start, so a 1 GB log of many runs
//! costs only its last run.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::Path;
use std::sync::OnceLock;

use chrono::{DateTime, Datelike, Local, NaiveDateTime, TimeZone};
use regex::Regex;

/// Bytes of each line that are examined and kept; the rest of a longer line is skipped.
pub const MAX_LINE: usize = 8 * 1024;
/// How many error and warning lines are kept for the report (all are counted).
pub const KEEP_LINES: usize = 20;

/// What to look for, from the command line.
#[derive(Debug, Clone, Default)]
pub struct LogRules {
    /// Extra patterns that make a line an error.
    pub error: Vec<Regex>,
    /// Extra patterns that make a line a warning.
    pub warning: Vec<Regex>,
    /// Lines matching any of these are skipped entirely.
    pub ignore: Vec<Regex>,
    /// A line matching this must be in the run.
    pub success: Option<Regex>,
    /// Where a run begins; only the last run is judged.
    pub run_start: Option<Regex>,
}

/// The level a line was given by the job (or recognised from its content).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// Nothing to report.
    Info,
    /// WARN / WARNING, a tool's `warning:`.
    Warning,
    /// ERROR / CRITICAL / FATAL / PANIC, a tool's `error:`, or a fatal phrase.
    Error,
}

/// One line of the log worth quoting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    /// 1-based line number, counted from the start of the judged run.
    pub number: u64,
    /// The line (at most [`MAX_LINE`] bytes, lossy UTF-8, not yet made safe for output).
    pub text: String,
}

/// The facts read from a log.
#[derive(Debug, Clone, Default)]
pub struct LogFacts {
    /// Size of the log file.
    pub size: u64,
    /// Byte offset where the judged run starts (0: the whole file).
    pub run_offset: u64,
    /// A run-start pattern was given but matched no line (the whole log was judged).
    pub run_start_missing: bool,
    /// A run-start pattern was given and matched: the judged run begins at its line.
    pub run_start_found: bool,
    /// Lines in the judged run.
    pub lines: u64,
    /// Error lines (the first [`KEEP_LINES`]).
    pub errors: Vec<LogLine>,
    /// Count of all error lines.
    pub error_count: u64,
    /// Warning lines (the first [`KEEP_LINES`]).
    pub warnings: Vec<LogLine>,
    /// Count of all warning lines.
    pub warning_count: u64,
    /// The last exit status reported in the run, with its line.
    pub exit_status: Option<(i64, LogLine)>,
    /// Whether the success pattern was seen (None when none was asked for).
    pub success_seen: Option<bool>,
    /// The last line of the run that matched the success pattern.
    pub success_line: Option<LogLine>,
    /// The first timestamp of the run.
    pub first_time: Option<DateTime<Local>>,
    /// The last timestamp of the run.
    pub last_time: Option<DateTime<Local>>,
    /// Lines longer than [`MAX_LINE`] (only their start was examined).
    pub long_lines: u64,
    /// What the lines say if this is mariabackup's or xtrabackup's own output (see
    /// [`MariabackupLog::tool`]).
    pub mariabackup: MariabackupLog,
    /// What the lines say if this is backupninja's log.
    pub backupninja: BackupninjaLog,
}

/// What backupninja's log says about its last run. backupninja appends every run to one
/// log; each action is bracketed by `>>>> starting action` and `<<<< finished action`, and
/// the run ends with `FINISHED: N actions run. F fatal. E error. W warning.`. Lines outside
/// the actions (its Prometheus report: `Error: /var/lib/prometheus/node-exporter does not
/// exist!` on every run of Debian's default configuration) are not counted by backupninja
/// itself, and not here either.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BackupninjaLog {
    /// A `FINISHED:` summary was found near the end of the log: this is backupninja's log.
    pub tool: bool,
    /// The last run has its `FINISHED:` summary (else it was killed, or is still running).
    pub finished: bool,
    /// Inside a `>>>> starting action` ... `<<<< finished action` block (while reading).
    in_action: bool,
}

/// What a mariabackup/xtrabackup log says about its run. These tools end a successful run,
/// backup or `--prepare`, with `completed OK!`; only a backup run connects to the server
/// and says `Backup created in directory`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MariabackupLog {
    /// The tool's banner was seen: this is its log.
    pub tool: bool,
    /// The backup phase ran (it connected to the server, or created the backup).
    pub backup_phase: bool,
    /// A `--prepare` run (it applied the redo log to an existing backup).
    pub prepare_phase: bool,
    /// The last non-blank line ends with `completed OK!`.
    pub completed: bool,
}

/// At most this many bytes before the judged run are read for the earlier runs' durations.
pub const EARLIER_BYTES: u64 = 16 * 1024 * 1024;
/// At most this many earlier runs are kept (the latest ones).
pub const EARLIER_RUNS: usize = 30;

/// The first and last timestamp of a run, as far as read.
type Span = (Option<DateTime<Local>>, Option<DateTime<Local>>);

/// The durations (seconds from the first to the last timestamp of each run, as for the
/// judged run) of the runs before the judged one, which starts at byte `end`, oldest first:
/// runs are told apart by `run_start` lines; at most [`EARLIER_RUNS`] runs, read from at most
/// [`EARLIER_BYTES`] before `end` (a run cut by that limit is left out); runs without two
/// timestamps have no duration and are left out.
pub fn earlier_run_durations<R: Read + Seek>(
    mut file: R,
    run_start: &Regex,
    end: u64,
    now: DateTime<Local>,
) -> io::Result<Vec<f64>> {
    let from = end.saturating_sub(EARLIER_BYTES);
    // Whether `from` is a line start: the byte before it is a newline.
    let mut at_line_start = from == 0;
    if from > 0 {
        file.seek(SeekFrom::Start(from - 1))?;
        let mut b = [0u8; 1];
        at_line_start = file.read(&mut b)? == 1 && b[0] == b'\n';
    }
    file.seek(SeekFrom::Start(from))?;
    let mut reader = BufReader::with_capacity(64 * 1024, Read::take(file, end - from));
    let mut line = Vec::with_capacity(MAX_LINE);
    let mut durations = std::collections::VecDeque::new();
    let mut keep = |run: Span| {
        if let (Some(a), Some(b)) = run {
            durations.push_back((b - a).num_milliseconds() as f64 / 1000.0);
            if durations.len() > EARLIER_RUNS {
                durations.pop_front();
            }
        }
    };
    // Lines before the first run start in the window belong to a run cut by the limit.
    let mut current: Option<Span> = None;
    let mut first = true;
    while read_bounded_line(&mut reader, &mut line)?.is_some() {
        if std::mem::take(&mut first) && !at_line_start {
            continue; // the rest of a line that began before the window
        }
        let text = String::from_utf8_lossy(&line);
        let text = text.trim_end_matches(['\r', '\n']);
        if run_start.is_match(text) {
            if let Some(run) = current.take() {
                keep(run);
            }
            current = Some((None, None));
        }
        if let Some((a, b)) = &mut current {
            if let Some(t) = parse_prefix(text, now).time {
                a.get_or_insert(t);
                *b = Some(t);
            }
        }
    }
    if let Some(run) = current {
        keep(run);
    }
    Ok(durations.into())
}

/// Reads and classifies a log (opened read-only). `now` dates syslog timestamps, which carry
/// no year.
pub fn read_log<R: Read + Seek>(
    mut file: R,
    rules: &LogRules,
    now: DateTime<Local>,
) -> io::Result<LogFacts> {
    let size = file.seek(SeekFrom::End(0))?;
    let mut facts = LogFacts {
        size,
        success_seen: rules.success.as_ref().map(|_| false),
        ..LogFacts::default()
    };
    if let Some(start) = &rules.run_start {
        match find_last_line_matching(&mut file, size, start, 0)? {
            Some(offset) => {
                facts.run_offset = offset;
                facts.run_start_found = true;
            }
            None => facts.run_start_missing = true,
        }
    } else if let Some(offset) = backupninja_last_run(&mut file, size)? {
        facts.backupninja.tool = true;
        facts.run_offset = offset;
    }
    file.seek(SeekFrom::Start(facts.run_offset))?;
    let mut reader = BufReader::with_capacity(64 * 1024, file);
    let mut line = Vec::with_capacity(MAX_LINE);
    let mut number = 0;
    while let Some(truncated) = read_bounded_line(&mut reader, &mut line)? {
        number += 1;
        if truncated {
            facts.long_lines += 1;
        }
        let text = String::from_utf8_lossy(&line);
        let text = text.trim_end_matches(['\r', '\n']);
        classify_into(&mut facts, text, number, rules, now);
    }
    facts.lines = number;
    Ok(facts)
}

fn classify_into(
    facts: &mut LogFacts,
    text: &str,
    number: u64,
    rules: &LogRules,
    now: DateTime<Local>,
) {
    if text.trim().is_empty() || rules.ignore.iter().any(|re| re.is_match(text)) {
        return;
    }
    {
        let mb = &mut facts.mariabackup;
        if text.contains("mariabackup based on MariaDB server")
            || text.starts_with("xtrabackup version")
            || text.contains("xtrabackup: recognized server arguments")
            || (text.starts_with("[00] ") && text.contains("Connecting to MariaDB server"))
        {
            mb.tool = true;
        }
        mb.completed = text.trim_end().ends_with("completed OK!");
        if text.contains("Connecting to MariaDB server")
            || text.contains("Connecting to MySQL server")
            || text.contains("Backup created in directory")
        {
            mb.backup_phase = true;
        }
        if text.contains("This target seems to be not prepared yet")
            || text.contains("Starting InnoDB instance for recovery")
        {
            mb.prepare_phase = true;
        }
    }
    let parsed = parse_prefix(text, now);
    if let Some(t) = parsed.time {
        facts.first_time.get_or_insert(t);
        facts.last_time = Some(t);
    }
    let keep = || LogLine {
        number,
        text: text.to_string(),
    };
    if let Some(status) = exit_status(text) {
        facts.exit_status = Some((status, keep()));
    }
    if let (Some(_), Some(re)) = (facts.success_seen, &rules.success) {
        if re.is_match(text) {
            facts.success_seen = Some(true);
            facts.success_line = Some(keep());
        }
    }
    let mut level = parsed.level.max(content_level(parsed.message));
    // automysqlbackup's header of its error section is not itself an error.
    if text.trim() == "Error log below.." {
        level = Level::Info;
    }
    if facts.backupninja.tool {
        level = backupninja_level(&mut facts.backupninja, text);
    }
    if rules.warning.iter().any(|re| re.is_match(text)) {
        level = level.max(Level::Warning);
    }
    if rules.error.iter().any(|re| re.is_match(text)) {
        level = Level::Error;
    }
    match level {
        Level::Error => {
            facts.error_count += 1;
            if facts.errors.len() < KEEP_LINES {
                facts.errors.push(keep());
            }
        }
        Level::Warning => {
            facts.warning_count += 1;
            if facts.warnings.len() < KEEP_LINES {
                facts.warnings.push(keep());
            }
        }
        Level::Info => {}
    }
}

/// backupninja's own accounting of a line (`Nov 27 01:00:00 Level: message`): inside an
/// action its level counts; outside, only `Fatal`/`Halt` and the run's summary do
/// (backupninja counts nothing else either).
fn backupninja_level(bn: &mut BackupninjaLog, text: &str) -> Level {
    // After the 16-character timestamp `Nov 27 01:00:00 ` come the level and the message.
    let (word, message) = text
        .get(16..)
        .and_then(|rest| rest.split_once(": "))
        .unwrap_or(("", text));
    let level = match word {
        "Fatal" | "Halt" | "Error" => Level::Error,
        "Warning" => Level::Warning,
        _ => Level::Info,
    }
    .max(content_level(message));
    if message.starts_with(">>>> starting action") {
        bn.in_action = true;
        return level;
    }
    if message.starts_with("<<<< finished action") {
        bn.in_action = false;
        return level;
    }
    if let Some(c) = message
        .strip_prefix("FINISHED: ")
        .and_then(|_| backupninja_counts().captures(message))
    {
        bn.finished = true;
        let n = |k: &str| c[k].parse::<u64>().unwrap_or(1);
        return if n("fatal") + n("error") > 0 {
            Level::Error
        } else if n("warning") > 0 {
            Level::Warning
        } else {
            Level::Info
        };
    }
    if bn.in_action || word == "Fatal" || word == "Halt" {
        level
    } else {
        Level::Info
    }
}

fn backupninja_counts() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(r"(?P<fatal>\d+) fatal\. (?P<error>\d+) error\. (?P<warning>\d+) warning\.")
            .expect("backupninja counts regex")
    })
}

/// Reads one line into `line`, keeping at most [`MAX_LINE`] bytes of it; returns whether it
/// was longer, or None at the end of the file. Memory stays bounded whatever the line length.
fn read_bounded_line(reader: &mut impl BufRead, line: &mut Vec<u8>) -> io::Result<Option<bool>> {
    line.clear();
    let mut truncated = false;
    let mut any = false;
    loop {
        let buf = match reader.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if buf.is_empty() {
            return Ok(any.then_some(truncated));
        }
        any = true;
        let (chunk, done) = match memchr::memchr(b'\n', buf) {
            Some(i) => (&buf[..i], Some(i + 1)),
            None => (buf, None),
        };
        let room = MAX_LINE - line.len();
        if chunk.len() > room {
            truncated = true;
        }
        line.extend_from_slice(&chunk[..chunk.len().min(room)]);
        match done {
            Some(n) => {
                reader.consume(n);
                return Ok(Some(truncated));
            }
            None => {
                let n = buf.len();
                reader.consume(n);
            }
        }
    }
}

/// Reads `file` backwards from `size` (down to `floor` at most) and returns the offset of
/// the last line matching `re`. Only the first [`MAX_LINE`] bytes of a line are matched.
fn find_last_line_matching<R: Read + Seek>(
    file: &mut R,
    size: u64,
    re: &Regex,
    floor: u64,
) -> io::Result<Option<u64>> {
    const BLOCK: u64 = 64 * 1024;
    let mut block = vec![0u8; BLOCK as usize];
    // The start of the line being assembled (its bytes nearest the line start, bounded).
    let mut line_head: Vec<u8> = Vec::new();
    let mut pos = size;
    let matches = |head: &[u8]| {
        let text = String::from_utf8_lossy(head);
        re.is_match(text.trim_end_matches(['\r', '\n']))
    };
    while pos > floor {
        let start = pos.saturating_sub(BLOCK).max(floor);
        let len = (pos - start) as usize;
        file.seek(SeekFrom::Start(start))?;
        file.read_exact(&mut block[..len])?;
        let mut end = len; // exclusive end of the unprocessed part of this block
        while let Some(nl) = memchr::memrchr(b'\n', &block[..end]) {
            // The line after this newline is complete: block[nl+1..end] + line_head.
            let mut head = block[nl + 1..end].to_vec();
            head.extend_from_slice(&line_head);
            head.truncate(MAX_LINE);
            let line_start = start + nl as u64 + 1;
            if line_start < size && matches(&head) {
                return Ok(Some(line_start));
            }
            line_head.clear();
            end = nl;
        }
        let mut head = block[..end].to_vec();
        head.extend_from_slice(&line_head);
        head.truncate(MAX_LINE);
        line_head = head;
        pos = start;
    }
    // The first line starts at 0 even when it is empty (a pattern for blank lines).
    if floor == 0 && size > 0 && matches(&line_head) {
        return Ok(Some(0));
    }
    Ok(None)
}

fn backupninja_summary() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(
            r"^[A-Z][a-z]{2} [ \d]\d \d{2}:\d{2}:\d{2} \w+: FINISHED: \d+ actions? run\. (?P<fatal>\d+) fatal\. (?P<error>\d+) error\. (?P<warning>\d+) warning\.",
        )
        .expect("backupninja summary regex")
    })
}

/// How far from its end a log is searched for backupninja's last `FINISHED:` summary.
const BACKUPNINJA_TAIL: u64 = 1024 * 1024;

/// Where the last run of a backupninja log starts, if this is one: after the summary of the
/// run before it (or at the end of the last summary, when a run is under way after it).
fn backupninja_last_run<R: Read + Seek>(file: &mut R, size: u64) -> io::Result<Option<u64>> {
    let re = backupninja_summary();
    let floor = size.saturating_sub(BACKUPNINJA_TAIL);
    let Some(last) = find_last_line_matching(file, size, re, floor)? else {
        return Ok(None);
    };
    let end = line_end(file, last, size)?;
    if has_text(file, end, size)? {
        return Ok(Some(end));
    }
    Ok(Some(match find_last_line_matching(file, last, re, 0)? {
        Some(previous) => line_end(file, previous, size)?,
        None => 0,
    }))
}

/// The offset just after the line that starts at `start`.
fn line_end<R: Read + Seek>(file: &mut R, start: u64, size: u64) -> io::Result<u64> {
    file.seek(SeekFrom::Start(start))?;
    let mut pos = start;
    let mut block = [0u8; 8192];
    while pos < size {
        let n = file.read(&mut block)?;
        if n == 0 {
            break;
        }
        if let Some(i) = memchr::memchr(b'\n', &block[..n]) {
            return Ok(pos + i as u64 + 1);
        }
        pos += n as u64;
    }
    Ok(size)
}

/// Whether anything but white space lies between `from` and `size`.
fn has_text<R: Read + Seek>(file: &mut R, from: u64, size: u64) -> io::Result<bool> {
    file.seek(SeekFrom::Start(from))?;
    let mut block = [0u8; 8192];
    let mut pos = from;
    while pos < size {
        let n = file.read(&mut block)?;
        if n == 0 {
            break;
        }
        if block[..n].iter().any(|b| !b.is_ascii_whitespace()) {
            return Ok(true);
        }
        pos += n as u64;
    }
    Ok(false)
}

/// What a line's prefix says: its timestamp, its level, and the message after them.
#[derive(Debug, PartialEq)]
pub struct Prefix<'a> {
    /// Timestamp at the start of the line, if any.
    pub time: Option<DateTime<Local>>,
    /// Level named in the prefix (Info when none).
    pub level: Level,
    /// The rest of the line.
    pub message: &'a str,
}

fn prefix_regex() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(
            r"(?x)^
            \s*
            (?:
                \[? (?P<iso>\d{4}-\d{2}-\d{2}[T\ ]\d{1,2}:\d{2}:\d{2}) (?:[.,]\d+)? (?P<zone>Z|[+-]\d{2}:?\d{2})? \]?
              | (?P<syslog>[A-Z][a-z]{2}\ [\ \d]\d\ \d{2}:\d{2}:\d{2}) (?: \s+ \S+ \s+ [^\s:]+: )?
            )?
            \s*
            (?:[-|:]\s*)?
            (?:
                [\[<]? (?P<level>(?i:emerg|alert|panic|fatal|halt|critical|crit|error|err|warning|warn|notice|info|debug)) [\]>]?
                (?:\s*[-:|]\s*|\s+|$)
            )?
            (?P<message>.*)$",
        )
        .expect("prefix regex")
    })
}

fn level_word(word: &str) -> Level {
    match word.to_ascii_lowercase().as_str() {
        "emerg" | "alert" | "panic" | "fatal" | "halt" | "critical" | "crit" | "error" | "err" => {
            Level::Error
        }
        "warning" | "warn" => Level::Warning,
        _ => Level::Info,
    }
}

/// Splits a line into timestamp, level and message. The level counts only where loggers
/// put it: first, or right after the timestamp (or syslog's `host prog[pid]:`).
pub fn parse_prefix(line: &str, now: DateTime<Local>) -> Prefix<'_> {
    let Some(caps) = prefix_regex().captures(line) else {
        return Prefix {
            time: None,
            level: Level::Info,
            message: line,
        };
    };
    let time = if let Some(iso) = caps.name("iso") {
        parse_iso(iso.as_str(), caps.name("zone").map(|z| z.as_str()))
    } else if let Some(s) = caps.name("syslog") {
        parse_syslog(s.as_str(), now)
    } else {
        None
    };
    let level = caps
        .name("level")
        .map(|l| level_word(l.as_str()))
        .unwrap_or(Level::Info);
    let message = caps.name("message").map_or(line, |m| m.as_str());
    Prefix {
        time,
        level,
        message,
    }
}

fn parse_iso(text: &str, zone: Option<&str>) -> Option<DateTime<Local>> {
    let naive = NaiveDateTime::parse_from_str(&text.replace('T', " "), "%Y-%m-%d %H:%M:%S").ok()?;
    match zone {
        None => Local.from_local_datetime(&naive).earliest(),
        Some("Z") => Some(
            DateTime::<chrono::Utc>::from_naive_utc_and_offset(naive, chrono::Utc)
                .with_timezone(&Local),
        ),
        Some(z) => {
            let digits: String = z.chars().filter(|c| c.is_ascii_digit()).collect();
            let hours: i32 = digits.get(..2)?.parse().ok()?;
            let minutes: i32 = digits.get(2..4)?.parse().ok()?;
            let sign = if z.starts_with('-') { -1 } else { 1 };
            let offset = chrono::FixedOffset::east_opt(sign * (hours * 3600 + minutes * 60))?;
            offset
                .from_local_datetime(&naive)
                .single()
                .map(|t| t.with_timezone(&Local))
        }
    }
}

/// Syslog timestamps have no year: take this year, or last year if that would be in the
/// future (a log line from December read in January).
fn parse_syslog(text: &str, now: DateTime<Local>) -> Option<DateTime<Local>> {
    let squeezed = text.split_whitespace().collect::<Vec<_>>().join(" ");
    for year in [now.year(), now.year() - 1] {
        let with_year = format!("{year} {squeezed}");
        let naive = NaiveDateTime::parse_from_str(&with_year, "%Y %b %d %H:%M:%S").ok()?;
        let t = Local.from_local_datetime(&naive).earliest()?;
        if t <= now + chrono::Duration::days(1) {
            return Some(t);
        }
    }
    None
}

fn tool_regex() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        // `pg_dump: error: ...`, `pg_dump: warning: ...`, `mysqldump: Got error: ...`,
        // `mariadb-dump: Error 2013: ...`, `mysqldump: Couldn't execute ...`, possibly after
        // bracketed tags such as `[child]`.
        Regex::new(
            r"(?i)^(?:\[[^\]]*\]\s*)*[\w.-]+:\s+(?P<what>error|fatal|panic|warning|got error|couldn't|can't|access denied)\b",
        )
        .expect("tool regex")
    })
}

fn fatal_regex() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(
            r"\bKilled\b|\bFATAL ERROR\b|(?i:out of memory|lost connection|server has gone away|no space left on device|cannot allocate memory|segmentation fault|file too large|disk quota exceeded|input/output error|read-only file system|failed to connect to|access denied for user|errors reported during auto(?:mysql|postgresql)backup execution)",
        )
        .expect("fatal regex")
    })
}

/// The level a message has by its content: a dump tool's own error or warning prefix, or a
/// phrase that always means the job failed.
pub fn content_level(message: &str) -> Level {
    if fatal_regex().is_match(message) {
        return Level::Error;
    }
    match tool_regex().captures(message) {
        Some(c) if c["what"].eq_ignore_ascii_case("warning") => Level::Warning,
        Some(_) => Level::Error,
        None => Level::Info,
    }
}

fn status_regex() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(
            r"(?i)(?:\bexited\s+with(?:\s+(?:exit\s+)?(?:code|status))?|\bexit\s+(?:status|code)|\breturned(?:\s+(?:code|status))?|\brc\s*=|\bstatus\s*=)\s*[:=]?\s*(?P<n>-?\d+)",
        )
        .expect("status regex")
    })
}

/// The exit status a line reports (`exited with 3`, `exit status 1`, `rc=0`, ...), if any.
/// A number followed by a word (`returned 5 rows`) is not a status.
pub fn exit_status(line: &str) -> Option<i64> {
    let mut found = None;
    for caps in status_regex().captures_iter(line) {
        let n = caps.name("n")?;
        let rest = line[n.end()..].trim_start();
        if rest.chars().next().is_some_and(|c| c.is_alphanumeric()) {
            continue;
        }
        found = n.as_str().parse().ok();
    }
    found
}

/// Opens a log read-only (no atime update, no blocking on a FIFO).
pub fn open(path: &Path) -> io::Result<File> {
    crate::sys::open_readonly(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn now() -> DateTime<Local> {
        Local.with_ymd_and_hms(2026, 11, 26, 9, 0, 0).unwrap()
    }

    #[test]
    fn levels_by_position_not_substring() {
        let table: &[(&str, Level)] = &[
            (
                "ERROR - mysqldump --all-databases exited with 3",
                Level::Error,
            ),
            ("ERROR: connection refused", Level::Error),
            ("[ERROR] disk full", Level::Error),
            ("<error> x", Level::Error),
            ("2026-11-25 03:00:01 ERROR cannot connect", Level::Error),
            ("2026-11-25T03:00:01.123+01:00 [WARN] slow", Level::Warning),
            ("[2026-11-25 03:00:01] FATAL: out of cheese", Level::Error),
            (
                "Nov 25 03:00:01 db1 backup[123]: ERROR - dump failed",
                Level::Error,
            ),
            ("Nov 25 03:00:01 db1 backup[123]: starting", Level::Info),
            (
                "WARN - [child] mysqldump: Error 2013: Lost connection to MySQL server",
                Level::Warning,
            ),
            ("WARNING: table t is empty", Level::Warning),
            (
                "INFO - mysqld --log-error=/var/log/mysql/error.log",
                Level::Info,
            ),
            ("INFO - dumping table error_log", Level::Info),
            ("2026-11-25 03:00:01 INFO errors so far: none", Level::Info),
            ("PANIC: the sky", Level::Error),
            ("CRITICAL - x", Level::Error),
            ("Everything fine, no error", Level::Info),
        ];
        for (line, want) in table {
            assert_eq!(parse_prefix(line, now()).level, *want, "{line}");
        }
    }

    #[test]
    fn content_levels() {
        let table: &[(&str, Level)] = &[
            (
                "pg_dump: error: query failed: server closed the connection",
                Level::Error,
            ),
            (
                "pg_dump: warning: there are circular foreign-key constraints on this table:",
                Level::Warning,
            ),
            ("pg_dump: detail: Consider using a full dump", Level::Info),
            (
                "mysqldump: Got error: 1045: Access denied for user",
                Level::Error,
            ),
            (
                "[child] mariadb-dump: Error 2013: Lost connection to server",
                Level::Error,
            ),
            (
                "mariadb-dump: Couldn't execute 'SHOW FIELDS FROM `v`'",
                Level::Error,
            ),
            ("gzip: stdout: No space left on device", Level::Error),
            ("[child] gzip: stdout: File too large", Level::Error),
            (
                "/usr/local/bin/backup.sh: line 12: 4242 Killed  mysqldump",
                Level::Error,
            ),
            ("skilled workers", Level::Info),
            ("dumping table error_log", Level::Info),
            ("Out of memory: Killed process 1234 (mysqld)", Level::Error),
        ];
        for (line, want) in table {
            assert_eq!(content_level(line), *want, "{line}");
        }
    }

    #[test]
    fn exit_statuses() {
        let table: &[(&str, Option<i64>)] = &[
            (
                "ERROR - mysqldump --all-databases .... exited with 3",
                Some(3),
            ),
            ("INFO - mysqldump exited with 0", Some(0)),
            ("command exited with code 2", Some(2)),
            ("exit status 1", Some(1)),
            ("Exit code: 137", Some(137)),
            ("pg_dump returned 1", Some(1)),
            ("job finished rc=0", Some(0)),
            ("status=255 (failure)", Some(255)),
            ("query returned 5 rows", None),
            ("returned 0. done", Some(0)),
            ("status is fine", None),
            ("HTTP status 200", None),
            ("a exited with 1; b exited with 0", Some(0)),
        ];
        for (line, want) in table {
            assert_eq!(exit_status(line), *want, "{line}");
        }
    }

    #[test]
    fn timestamps() {
        let p = parse_prefix("2026-11-25 03:00:01 INFO - start", now());
        assert_eq!(
            p.time,
            Local.with_ymd_and_hms(2026, 11, 25, 3, 0, 1).single()
        );
        assert_eq!(p.message, "start");
        let p = parse_prefix("2026-11-25T02:00:01Z x", now());
        assert_eq!(p.time.unwrap().timestamp(), 1_795_572_001);
        // Syslog without a year: December read in January belongs to last year.
        let january = Local.with_ymd_and_hms(2027, 1, 2, 0, 0, 0).unwrap();
        let p = parse_prefix("Dec 31 23:59:00 host cron[1]: done", january);
        assert_eq!(p.time.unwrap().year(), 2026);
        assert_eq!(parse_prefix("no time here", now()).time, None);
    }

    fn write(content: &[u8]) -> File {
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(content).unwrap();
        f.seek(SeekFrom::Start(0)).unwrap();
        f
    }

    /// Real lines written by backupninja 1.2.2, automysqlbackup 2.6, autopostgresqlbackup,
    /// mariabackup 10.11 and mydumper 0.10 (tests/fixtures/real/tools/).
    #[test]
    fn packaged_tools_lines() {
        let table: &[(&str, Level)] = &[
            ("Nov 27 01:00:00 Fatal: Authentication problem, maybe user/password is wrong or mysqld is not running?", Level::Error),
            ("Nov 27 01:00:00 Halt: no more actions", Level::Error),
            ("Nov 27 01:00:01 Warning: Failed to dump pgsql cluster", Level::Warning),
            ("Nov 27 01:00:01 Info: Successfully finished dump of pgsql cluster", Level::Info),
            ("[00] 2026-11-27 02:25:00 Failed to connect to MariaDB server: Access denied for user 'backup'@'localhost' (using password: YES).", Level::Error),
            ("[00] 2026-11-26 02:25:01 FATAL ERROR: mariabackup: Error: failed to copy datafile.", Level::Error),
            ("ERROR 2002 (HY000): Can't connect to local server through socket '/run/mysqld/mysqld.sock' (2)", Level::Error),
            ("Errors reported during AutoPostgreSQLBackup execution.. Backup failed", Level::Error),
            ("2026-11-27 02:25:01 [ERROR] - Error dumping table (shop.log) data: Server has gone away", Level::Error),
        ];
        for (line, want) in table {
            let p = parse_prefix(line, now());
            assert_eq!(p.level.max(content_level(p.message)), *want, "{line}");
        }
        let p = parse_prefix("Nov 27 01:00:00 Fatal: Authentication problem", now());
        assert_eq!(
            p.time,
            Some(Local.with_ymd_and_hms(2026, 11, 27, 1, 0, 0).unwrap()),
            "syslog timestamp without host or program"
        );
        // automysqlbackup's header of its error section is not an error itself.
        let log = "Error log below..\npg_dumpall: error: connection to server failed\n";
        let facts = read_log(write(log.as_bytes()), &LogRules::default(), now()).unwrap();
        assert_eq!(facts.error_count, 1);
        assert_eq!(facts.errors[0].number, 2);
    }

    /// backupninja appends every run to one log: only the last run counts, by backupninja's
    /// own accounting (its Prometheus report line outside the actions is not an error).
    #[test]
    fn backupninja_last_run() {
        let run = |day: u32, mysql: &str, summary: &str| {
            format!(
                "Nov {day} 01:00:00 Info: >>>> starting action /etc/backup.d/20.mysql (because current time matches everyday at 01:00)\n\
                 {mysql}\n\
                 Nov {day} 01:00:01 Error: /var/lib/prometheus/node-exporter does not exist!\n\
                 Nov {day} 01:00:01 Info: FINISHED: 1 actions run. {summary}\n"
            )
        };
        let ok = "Nov 26 01:00:00 Info: <<<< finished action /etc/backup.d/20.mysql: SUCCESS";
        let failed = "Nov 27 01:00:00 Fatal: Authentication problem, maybe user/password is wrong or mysqld is not running?\nNov 27 01:00:00 Fatal: <<<< finished action /etc/backup.d/20.mysql: FAILED";
        let healthy_then_failed = run(26, ok, "0 fatal. 0 error. 0 warning.")
            + &run(27, failed, "1 fatal. 0 error. 0 warning.");
        let facts = read_log(
            write(healthy_then_failed.as_bytes()),
            &LogRules::default(),
            now(),
        )
        .unwrap();
        assert!(facts.backupninja.tool && facts.backupninja.finished);
        assert_eq!(
            facts.run_offset,
            healthy_then_failed.find("Nov 27").unwrap() as u64
        );
        // The Fatal line, the FAILED action and the summary; not the Prometheus line.
        assert_eq!(facts.error_count, 3, "{:?}", facts.errors);
        assert!(facts.errors[0].text.contains("Authentication problem"));
        let failed_then_healthy =
            run(
                26,
                &failed.replace("27", "26"),
                "1 fatal. 0 error. 0 warning.",
            ) + &run(27, &ok.replace("26", "27"), "0 fatal. 0 error. 0 warning.");
        let facts = read_log(
            write(failed_then_healthy.as_bytes()),
            &LogRules::default(),
            now(),
        )
        .unwrap();
        assert_eq!(facts.error_count, 0, "{:?}", facts.errors);
        assert!(facts.backupninja.finished);
        // A run still going (or killed) after the last summary: its lines, no summary yet.
        let unfinished = run(26, ok, "0 fatal. 0 error. 0 warning.")
            + "Nov 27 01:00:00 Info: >>>> starting action /etc/backup.d/20.mysql (because current time matches everyday at 01:00)\n";
        let facts = read_log(write(unfinished.as_bytes()), &LogRules::default(), now()).unwrap();
        assert!(facts.backupninja.tool && !facts.backupninja.finished);
        assert_eq!(facts.lines, 1);
    }

    #[test]
    fn earlier_runs_durations_oldest_first() {
        let log = "noise before any run\n=== run 1\n2026-11-28 02:30:00 INFO - start\n2026-11-28 02:40:00 INFO - done\n=== run 2\n2026-11-29 02:30:00 INFO - start\n2026-11-29 02:42:30 INFO - done\n=== run 3\nno timestamps at all\n=== run 4\n2026-11-30 02:30:00 INFO - start\n2026-11-30 02:30:04 INFO - done\n";
        let start = Regex::new("^=== run").unwrap();
        let end = log.find("=== run 4").unwrap() as u64;
        let d = earlier_run_durations(write(log.as_bytes()), &start, end, now()).unwrap();
        assert_eq!(d, [600.0, 750.0]);
        // Nothing before the first run start: no earlier run.
        let first = log.find("=== run 1").unwrap() as u64;
        assert!(
            earlier_run_durations(write(log.as_bytes()), &start, first, now())
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn last_run_only() {
        let log = "=== run 1\nERROR - old failure\nexited with 1\n=== run 2\nINFO - fine\nexited with 0\n";
        let rules = LogRules {
            run_start: Some(Regex::new("^=== run").unwrap()),
            ..LogRules::default()
        };
        let facts = read_log(write(log.as_bytes()), &rules, now()).unwrap();
        assert_eq!(facts.error_count, 0);
        assert_eq!(facts.exit_status.as_ref().map(|s| s.0), Some(0));
        assert_eq!(facts.lines, 3);
        assert_eq!(facts.run_offset, log.find("=== run 2").unwrap() as u64);
        // Without the pattern, the whole file counts.
        let facts = read_log(write(log.as_bytes()), &LogRules::default(), now()).unwrap();
        assert_eq!(facts.error_count, 1);
        assert_eq!(facts.lines, 6);
    }

    #[test]
    fn backwards_search_handles_block_edges_and_long_lines() {
        let mut log = Vec::new();
        log.extend_from_slice(b"=== run 1\n");
        log.extend(std::iter::repeat_n(b'x', 200_000));
        log.extend_from_slice(b"\n=== run 2\n");
        log.extend(std::iter::repeat_n(b'y', 150_000));
        log.extend_from_slice(b"\nERROR - late\n");
        let re = Regex::new("^=== run").unwrap();
        let mut f = write(&log);
        let at = find_last_line_matching(&mut f, log.len() as u64, &re, 0).unwrap();
        assert_eq!(at, Some(200_011));
        let first_only = b"=== run 1\nabc\n";
        let mut f = write(first_only);
        assert_eq!(
            find_last_line_matching(&mut f, 14, &re, 0).unwrap(),
            Some(0)
        );
        let mut f = write(b"nothing\n");
        assert_eq!(find_last_line_matching(&mut f, 8, &re, 0).unwrap(), None);
    }

    #[test]
    fn bounded_lines_crlf_and_invalid_utf8() {
        let mut log = b"INFO - start\r\nERROR - bad \xff\xfe byte\r\n".to_vec();
        log.extend(std::iter::repeat_n(b'z', 3_000_000));
        log.extend_from_slice(b" ERROR at the end of a huge line\nWARN - last\n");
        let facts = read_log(write(&log), &LogRules::default(), now()).unwrap();
        assert_eq!(facts.lines, 4);
        assert_eq!(facts.error_count, 1);
        assert_eq!(facts.errors[0].text, "ERROR - bad \u{fffd}\u{fffd} byte");
        assert_eq!(facts.warning_count, 1);
        assert_eq!(facts.long_lines, 1);
    }

    #[test]
    fn user_patterns() {
        let log = "INFO - backup complete\nnote: table skipped\nrsync: connection unexpectedly closed\nERROR - known noise\n";
        let rules = LogRules {
            error: vec![Regex::new("connection unexpectedly closed").unwrap()],
            warning: vec![Regex::new("table skipped").unwrap()],
            ignore: vec![Regex::new("known noise").unwrap()],
            success: Some(Regex::new("backup complete").unwrap()),
            run_start: None,
        };
        let facts = read_log(write(log.as_bytes()), &rules, now()).unwrap();
        assert_eq!((facts.error_count, facts.warning_count), (1, 1));
        assert_eq!(facts.errors[0].number, 3);
        assert_eq!(facts.success_seen, Some(true));
    }
}
