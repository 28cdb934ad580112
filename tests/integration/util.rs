//! Shared helpers: run the built binaries (killed, and the test failed, if they hang), read
//! the plugin's answer, make dumps with the real compressors, age files, wait for a
//! condition, and look at a running process's open files.

use std::ffi::OsStr;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub const MINUTE: i64 = 60;
pub const HOUR: i64 = 60 * MINUTE;
pub const DAY: i64 = 24 * HOUR;

/// How long a process started by a test, or a condition a test waits for, may take before
/// the test fails as hung. A guard against hangs, not a speed requirement: far above what
/// the slowest machine needs. (How fast the plugin answers is for `-t` to enforce, and
/// for the tests of `-t` to check through its answer.)
pub const HANG_LIMIT: Duration = Duration::from_secs(120);

/// What a program answered.
pub struct Answer {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Answer {
    pub fn first_line(&self) -> &str {
        self.stdout.lines().next().unwrap_or("")
    }

    /// The state word of the first line: `BACKUP <STATE> - ...`.
    pub fn state(&self) -> &str {
        self.first_line()
            .strip_prefix("BACKUP ")
            .and_then(|rest| rest.split(' ').next())
            .unwrap_or("")
    }

    /// The summary (between the state and the perfdata).
    pub fn summary(&self) -> &str {
        let line = self.first_line();
        let text = line.split_once(" - ").map(|x| x.1).unwrap_or("");
        text.split(" | ").next().unwrap_or("")
    }

    /// A perfdata value by label, from the first line.
    pub fn perf(&self, label: &str) -> Option<f64> {
        self.perf_item(label)?
            .split(';')
            .next()?
            .trim_end_matches(|c: char| c.is_ascii_alphabetic() || c == '%')
            .parse()
            .ok()
    }

    /// A whole perfdata item by label (`age=123s;93600;180000;0`).
    pub fn perf_item(&self, label: &str) -> Option<&str> {
        let perf = self.first_line().split_once(" | ")?.1;
        perf.split(' ')
            .find(|item| item.split('=').next() == Some(label))
            .map(|item| item.split_once('=').unwrap().1)
    }

    /// Asserts the exit code and the state word agree with `state`.
    pub fn expect(&self, state: &str) -> &Self {
        assert_eq!(
            (self.code, self.state()),
            (state_code(state), state),
            "unexpected answer:\n{}\nstderr: {}",
            self.stdout,
            self.stderr
        );
        self
    }

    /// Asserts the first line contains `text`.
    pub fn says(&self, text: &str) -> &Self {
        assert!(
            self.first_line().contains(text),
            "first line lacks {text:?}:\n{}",
            self.stdout
        );
        self
    }
}

/// The exit code of a monitoring-plugin state.
pub fn state_code(state: &str) -> i32 {
    match state {
        "OK" => 0,
        "WARNING" => 1,
        "CRITICAL" => 2,
        "UNKNOWN" => 3,
        _ => panic!("no such state {state}"),
    }
}

/// A process to start: one of the built binaries (or any command), its environment, and
/// the [`HANG_LIMIT`] after which it is killed and the test fails.
pub struct Run {
    cmd: Command,
    what: String,
    limit: Duration,
    /// The private cache directory given to check_backup, removed after the run.
    cache: Option<tempfile::TempDir>,
}

impl Run {
    /// check_backup with `args` and a fresh, private cache directory (tests that exercise
    /// the cache pass `--cache-dir` themselves, which wins over the environment).
    pub fn check_backup(args: &[&str]) -> Run {
        Self::with_cache(Command::new(env!("CARGO_BIN_EXE_check_backup")), args)
    }

    /// check_backup as the user `nobody` when the tests run as root (root reads
    /// everything), else as the current user.
    pub fn check_backup_unprivileged(args: &[&str]) -> Run {
        if !is_root() {
            return Self::check_backup(args);
        }
        let mut cmd = Command::new("setpriv");
        cmd.args(["--reuid=nobody", "--regid=nogroup", "--clear-groups"])
            .arg(env!("CARGO_BIN_EXE_check_backup"));
        Self::with_cache(cmd, args)
    }

    fn with_cache(mut cmd: Command, args: &[&str]) -> Run {
        let cache = tempfile::tempdir().unwrap();
        cmd.args(args).env("CHECK_BACKUP_CACHE_DIR", cache.path());
        let mut run = Run::command(cmd);
        run.cache = Some(cache);
        run
    }

    /// backup-report with `args`.
    pub fn backup_report(args: &[&str]) -> Run {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_backup-report"));
        cmd.args(args);
        Run::command(cmd)
    }

    /// Any command.
    pub fn command(cmd: Command) -> Run {
        let what = format!("{cmd:?}");
        Run {
            cmd,
            what,
            limit: HANG_LIMIT,
            cache: None,
        }
    }

    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Run {
        self.cmd.env(key, value);
        self
    }

    pub fn envs(mut self, vars: &[(&str, &str)]) -> Run {
        self.cmd.envs(vars.iter().copied());
        self
    }

    pub fn current_dir(mut self, dir: &Path) -> Run {
        self.cmd.current_dir(dir);
        self
    }

    /// A hang limit other than [`HANG_LIMIT`], for a run whose own `-t` is longer.
    pub fn hang_limit(mut self, limit: Duration) -> Run {
        self.limit = limit;
        self
    }

    /// Starts the process, reading its output in the background.
    pub fn start(mut self) -> Running {
        let mut child = self
            .cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", self.what));
        let drain = |pipe: Option<Box<dyn Read + Send>>| {
            std::thread::spawn(move || {
                let mut bytes = Vec::new();
                if let Some(mut pipe) = pipe {
                    pipe.read_to_end(&mut bytes).unwrap();
                }
                bytes
            })
        };
        let stdout = drain(child.stdout.take().map(|p| Box::new(p) as _));
        let stderr = drain(child.stderr.take().map(|p| Box::new(p) as _));
        Running {
            child,
            stdout,
            stderr,
            deadline: Instant::now() + self.limit,
            what: self.what,
            _cache: self.cache,
        }
    }

    /// Runs the process to its end.
    pub fn output(self) -> Answer {
        self.start().finish()
    }
}

/// A process started by [`Run::start`].
pub struct Running {
    child: Child,
    stdout: JoinHandle<Vec<u8>>,
    stderr: JoinHandle<Vec<u8>>,
    deadline: Instant,
    what: String,
    _cache: Option<tempfile::TempDir>,
}

impl Running {
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Asserts the process has not ended yet (for a test that waits for it to get
    /// somewhere: better a failure now than at the hang limit).
    pub fn assert_running(&mut self, waiting_for: &str) {
        if let Some(status) = self.child.try_wait().unwrap() {
            panic!("{} ended ({status}) before {waiting_for}", self.what);
        }
    }

    /// Waits for the process to end; kills it and fails the test if it outlives its hang
    /// limit.
    pub fn finish(mut self) -> Answer {
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() >= self.deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!(
                    "hung: {} was still running after the hang limit, killed",
                    self.what
                );
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        let text = |bytes: Vec<u8>| String::from_utf8_lossy(&bytes).into_owned();
        let answer = Answer {
            code: status.code().unwrap_or(-1),
            stdout: text(self.stdout.join().unwrap()),
            stderr: text(self.stderr.join().unwrap()),
        };
        // Every JSON document check_backup prints in any test is checked against the
        // published schema (docs/check_backup-output.schema.json).
        if answer.stdout.starts_with('{') && answer.stdout.contains("\"plugin\": \"check_backup\"")
        {
            crate::schema::assert_valid(&answer.stdout);
        }
        answer
    }
}

/// Runs check_backup (see [`Run::check_backup`]).
pub fn run(args: &[&str]) -> Answer {
    Run::check_backup(args).output()
}

/// [`run`] with extra environment variables (e.g. the debug-build read delay,
/// `CHECK_BACKUP_TEST_READ_DELAY_MS`, that makes timeouts independent of machine speed).
pub fn run_env(args: &[&str], env: &[(&str, &str)]) -> Answer {
    Run::check_backup(args).envs(env).output()
}

/// Checks the dump at `path`.
pub fn check(path: &Path, extra: &[&str]) -> Answer {
    let mut args = vec!["-f", path.to_str().unwrap()];
    args.extend_from_slice(extra);
    run(&args)
}

pub fn is_root() -> bool {
    // SAFETY: geteuid cannot fail and touches no memory.
    unsafe { libc::geteuid() == 0 }
}

/// Polls `condition` until it holds; fails the test as hung after [`HANG_LIMIT`].
pub fn wait_for(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + HANG_LIMIT;
    while !condition() {
        assert!(Instant::now() < deadline, "hung: never saw {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// What `/proc/PID/fdinfo` says of the descriptor a process holds on a file.
#[derive(Debug, Clone, Copy)]
pub struct OpenFile {
    /// The open flags (`O_RDONLY | O_NOATIME | ...`).
    pub flags: i32,
    /// The file offset: how far it has read.
    pub pos: u64,
}

/// The descriptor process `pid` holds on `path` now, if it holds one; of several (a dump
/// opened by the judging thread and read by a read-ahead worker), the one read furthest.
pub fn open_file(pid: u32, path: &Path) -> Option<OpenFile> {
    let mut furthest: Option<OpenFile> = None;
    for fd in std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?.flatten() {
        if std::fs::read_link(fd.path()).ok().as_deref() != Some(path) {
            continue;
        }
        let Some(name) = fd.file_name().to_str().map(str::to_string) else {
            continue;
        };
        let Ok(info) = std::fs::read_to_string(format!("/proc/{pid}/fdinfo/{name}")) else {
            continue;
        };
        let field = |name: &str| {
            info.lines()
                .find_map(|l| l.strip_prefix(name))
                .map(str::trim)
        };
        let (Some(flags), Some(pos)) = (
            field("flags:").and_then(|f| i32::from_str_radix(f, 8).ok()),
            field("pos:").and_then(|p| p.parse().ok()),
        ) else {
            continue;
        };
        if furthest.is_none_or(|f| pos > f.pos) {
            furthest = Some(OpenFile { flags, pos });
        }
    }
    furthest
}

/// A mysqldump-like text (MariaDB header with the sandbox line, INSERTs, trailer).
pub fn mysqldump(rows: usize, complete: bool) -> Vec<u8> {
    let mut s = String::from(
        "/*M!999999\\- enable the sandbox mode */ \n-- MariaDB dump 10.19  Distrib 10.11.14-MariaDB, for debian-linux-gnu (x86_64)\n--\n-- Host: localhost    Database: shop\n\nCREATE TABLE `log` (\n  `id` int NOT NULL\n);\n",
    );
    for i in 0..rows {
        s.push_str(&format!(
            "INSERT INTO `log` VALUES ({i},'entry {i} {}');\n",
            (i as u64).wrapping_mul(2_654_435_761) % 1_000_003
        ));
    }
    if complete {
        s.push_str(
            "/*!40101 SET SQL_MODE=@OLD_SQL_MODE */;\n\n-- Dump completed on 2026-11-25  3:04:05\n",
        );
    }
    s.into_bytes()
}

/// A pg_dump-like plain text, with the `\unrestrict` line that PostgreSQL 17.6+ writes.
pub fn pg_dump(rows: usize, complete: bool) -> Vec<u8> {
    let mut s = String::from(
        "--\n-- PostgreSQL database dump\n--\n\n\\restrict k3y\n\n-- Dumped from database version 15.18\n\nCOPY public.log (id, msg) FROM stdin;\n",
    );
    for i in 0..rows {
        s.push_str(&format!("{i}\tentry {i}\n"));
    }
    if complete {
        s.push_str("\\.\n\n\n--\n-- PostgreSQL database dump complete\n--\n\n\\unrestrict k3y\n\n");
    }
    s.into_bytes()
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

pub fn zstd(data: &[u8]) -> Vec<u8> {
    let mut e = zstd::stream::write::Encoder::new(Vec::new(), 3).unwrap();
    e.include_checksum(true).unwrap();
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

pub fn xz(data: &[u8]) -> Vec<u8> {
    let mut e = liblzma::write::XzEncoder::new(Vec::new(), 6);
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

pub fn bzip2(data: &[u8]) -> Vec<u8> {
    let mut e = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// A compressor function.
pub type Compressor = fn(&[u8]) -> Vec<u8>;

/// Every supported compression, with its conventional file suffix.
pub const COMPRESSORS: [(&str, Compressor); 4] =
    [("gz", gzip), ("zst", zstd), ("xz", xz), ("bz2", bzip2)];

/// Writes `bytes` to `dir/name` with an mtime `age_secs` in the past.
pub fn write_aged(dir: &Path, name: &str, bytes: &[u8], age_secs: i64) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    set_age(&path, age_secs);
    path
}

/// Asserts a reported age (seconds) of a file made `age_secs` old after `since`: the time
/// the test has taken since widens the window (it is not a speed requirement).
pub fn assert_age(reported: f64, age_secs: i64, since: Instant) {
    let low = age_secs as f64 - 1.0;
    let high = age_secs as f64 + since.elapsed().as_secs_f64() + 1.0;
    assert!(
        (low..=high).contains(&reported),
        "age {reported}, expected {low}..={high}"
    );
}

pub fn set_age(path: &Path, age_secs: i64) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    filetime::set_file_mtime(path, filetime::FileTime::from_unix_time(now - age_secs, 0)).unwrap();
}

/// The uid and gid of `nobody`, the user [`Run::check_backup_unprivileged`] runs as.
pub fn nobody() -> (u32, u32) {
    let name = std::ffi::CString::new("nobody").unwrap();
    // SAFETY: getpwnam returns a pointer into static storage, read at once; no other
    // thread of the tests calls getpw* functions.
    unsafe {
        let pw = libc::getpwnam(name.as_ptr());
        assert!(!pw.is_null(), "no user nobody");
        ((*pw).pw_uid, (*pw).pw_gid)
    }
}

/// Sets the permission bits of `path`.
pub fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(mode)).unwrap();
}

/// The `path<TAB>YYYY-MM-DD HH:MM:SS UTC` lines of a fixture's MTIMES.tsv (git keeps no
/// mtimes), as (path, Unix time).
pub fn read_mtimes(file: &Path) -> Vec<(String, i64)> {
    let mtimes =
        std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    mtimes
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let (path, when) = l.split_once('\t').unwrap();
            let t = chrono::NaiveDateTime::parse_from_str(
                when.trim_end_matches(" UTC"),
                "%Y-%m-%d %H:%M:%S",
            )
            .unwrap()
            .and_utc()
            .timestamp();
            (path.to_string(), t)
        })
        .collect()
}

/// Whether the command-line tool `program` (Debian package `package`) can be run; when it
/// cannot and the tests run as root, installs the package with apt-get first (one install at
/// a time). False, with the reason on stderr, only when the tool is really not to be had.
pub fn have_tool(program: &str, package: &str) -> bool {
    static APT: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let found = || {
        Command::new("sh")
            .args(["-c", &format!("command -v {program}")])
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if found() {
        return true;
    }
    let _one = APT.lock().unwrap_or_else(|e| e.into_inner());
    if !found() && is_root() {
        let _ = Command::new("apt-get")
            .args(["install", "-y", "-qq", "--no-install-recommends", package])
            .env("DEBIAN_FRONTEND", "noninteractive")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
    if found() {
        return true;
    }
    // In CI a missing tool is a failure: .ci/run installs every one, and a test that skips
    // there proves nothing.
    assert!(
        std::env::var_os("CI").is_none(),
        "{program} is not installed (package {package}): add it to .ci/run's apt-get line"
    );
    eprintln!("SKIPPED: {program} is not installed and apt-get could not install {package}");
    false
}
