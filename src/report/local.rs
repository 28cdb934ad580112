//! Checking this host's sets: one `check_backup --config FILE --set NAME --output json`
//! subprocess per set, at most `jobs` at a time, each with its own time limit. A subprocess
//! is the simplest robust isolation: a set that hangs in a read, panics or is killed costs
//! only its own result, which becomes UNKNOWN naming the set and the reason.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Mutex};
use std::time::{Duration, Instant};

use super::result::{SetResult, Source};

/// Where packages install the plugin (Debian, RPM).
const PLUGIN_DIRS: [&str; 2] = ["/usr/lib/nagios/plugins", "/usr/lib64/nagios/plugins"];

/// The most of a subprocess's stdout and stderr that is kept (the JSON is a few KiB; with
/// `verbose` in a set it can be more).
const OUTPUT_LIMIT: u64 = 8 << 20;

/// Finds the `check_backup` binary: `explicit` (`--check-backup`), else the one next to
/// this program, else the plugin directories of the packages, else `PATH`.
pub fn find_check_backup(explicit: Option<&Path>) -> Result<PathBuf, String> {
    if let Some(p) = explicit {
        return if p.is_file() {
            Ok(p.to_path_buf())
        } else {
            Err(format!("--check-backup {}: no such file", p.display()))
        };
    }
    let mut tried = Vec::new();
    if let Some(dir) = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(Path::to_path_buf))
    {
        tried.push(dir.display().to_string());
        let candidate = dir.join("check_backup");
        if candidate.is_file() {
            return Ok(candidate);
        }
    }
    for dir in PLUGIN_DIRS {
        tried.push(dir.to_string());
        let candidate = Path::new(dir).join("check_backup");
        if candidate.is_file() {
            return Ok(candidate);
        }
    }
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            let candidate = dir.join("check_backup");
            if candidate.is_file() {
                return Ok(candidate);
            }
        }
    }
    tried.push("PATH".into());
    Err(format!(
        "check_backup not found (looked in {}); give its path with --check-backup",
        tried.join(", ")
    ))
}

/// Reads a pipe to its end in a thread, keeping at most [`OUTPUT_LIMIT`] bytes, and sends
/// the text on a channel (so the caller can stop waiting for it).
fn drain(pipe: Option<impl Read + Send + 'static>) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    if let Some(pipe) = pipe {
        std::thread::spawn(move || {
            let mut kept = Vec::new();
            let mut limited = pipe.take(OUTPUT_LIMIT);
            let _ = limited.read_to_end(&mut kept);
            // Keep draining past the limit, so the child never blocks on a full pipe.
            let _ = std::io::copy(&mut limited.into_inner(), &mut std::io::sink());
            let _ = tx.send(String::from_utf8_lossy(&kept).into_owned());
        });
    } else {
        let _ = tx.send(String::new());
    }
    rx
}

/// The first non-blank line of a text, made safe and short.
fn first_line(text: &str) -> Option<String> {
    text.lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .map(|l| crate::text::safe(l, 300))
}

/// Checks one set.
pub fn check_set(exe: &Path, config: &Path, set: &str, timeout: Duration) -> SetResult {
    let unknown = |reason: String| SetResult::unknown(set, None, Source::Local, &reason);
    let started = Instant::now();
    let mut child = match Command::new(exe)
        .arg("--config")
        .arg(config)
        .arg("--set")
        .arg(set)
        .args(["--output", "json"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(c) => c,
        Err(e) => return unknown(format!("cannot run {}: {e}", exe.display())),
    };
    let stdout = drain(child.stdout.take());
    let stderr = drain(child.stderr.take());
    let deadline = started + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return unknown(format!(
                    "check_backup did not answer within {}s (killed; raise --timeout, or lower the set's own 'timeout' so that it answers in time)",
                    timeout.as_secs_f64()
                ));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            Err(e) => return unknown(format!("cannot wait for check_backup: {e}")),
        }
    };
    // The pipes close when the process exits (the background verifier it may start has no
    // stdio); a grandchild that kept them open must not hold the report.
    let grace = Duration::from_secs(2);
    let out = stdout.recv_timeout(grace).unwrap_or_default();
    let err = stderr.recv_timeout(grace).unwrap_or_default();
    match serde_json::from_str::<serde_json::Value>(out.trim()) {
        Ok(doc) if doc.is_object() => SetResult::from_doc(set, None, Source::Local, doc),
        _ => {
            let how = match status.code() {
                Some(code) => format!("exited with {code}"),
                None => {
                    use std::os::unix::process::ExitStatusExt;
                    format!("was killed by signal {}", status.signal().unwrap_or(0))
                }
            };
            let said = first_line(&out)
                .or_else(|| first_line(&err))
                .map(|l| format!(": {l}"))
                .unwrap_or_else(|| " and printed nothing".into());
            unknown(format!("check_backup {how} without a JSON result{said}"))
        }
    }
}

/// Checks every set, at most `jobs` at once; results in the order of `sets`.
pub fn check_sets(
    exe: &Path,
    config: &Path,
    sets: &[String],
    jobs: usize,
    timeout: Duration,
) -> Vec<SetResult> {
    let next = AtomicUsize::new(0);
    let slots: Mutex<Vec<Option<SetResult>>> = Mutex::new(vec![None; sets.len()]);
    std::thread::scope(|scope| {
        for _ in 0..jobs.clamp(1, sets.len().max(1)) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(set) = sets.get(i) else { break };
                let mut result = check_set(exe, config, set, timeout);
                result.set_drill(last_drill(config, set));
                if let Ok(mut s) = slots.lock() {
                    s[i] = Some(result);
                }
            });
        }
    });
    let slots = slots.into_inner().unwrap_or_default();
    slots
        .into_iter()
        .zip(sets)
        .map(|(r, set)| {
            r.unwrap_or_else(|| {
                SetResult::unknown(set, None, Source::Local, "internal error: no result")
            })
        })
        .collect()
}

/// The last restore drill of `set`, where check_backup --drill-max-age reads it: the set's
/// cache directory, keyed by its dump argument (and database). None without one (or when
/// it cannot be read: check_backup --drill-max-age is what reports that). Of a
/// `--per-database` set, the weakest proof stands for the set: a failed database drill,
/// else the oldest one (a database never drilled leaves the set without one: check_backup
/// warns about it).
pub fn last_drill(config: &Path, set: &str) -> Option<crate::facts::DrillResult> {
    let argv: Vec<std::ffi::OsString> = vec![
        "check_backup".into(),
        "--config".into(),
        config.as_os_str().to_owned(),
        "--set".into(),
        set.into(),
    ];
    let crate::cli::Parsed::Run(c) = crate::cli::parse(argv) else {
        return None;
    };
    let cache = crate::acquire::cache::Cache::locate(c.cache_dir.as_deref()).ok()?;
    let dump = Path::new(c.dump.as_deref()?);
    let Some(re) = &c.per_database else {
        return cache.drill(dump, None).ok().flatten();
    };
    let groups = crate::acquire::discover::discover_per_database(dump, re, &c.discovery).ok()?;
    let mut drills = Vec::new();
    for db in groups.keys() {
        drills.push(cache.drill(dump, Some(db)).ok().flatten()?);
    }
    weakest(drills)
}

/// The drill that proves least: a failed one, else the oldest.
pub(crate) fn weakest(drills: Vec<crate::facts::DrillResult>) -> Option<crate::facts::DrillResult> {
    drills.into_iter().min_by_key(|d| {
        (
            d.outcome != crate::facts::DrillOutcome::Failed,
            d.finished_at,
        )
    })
}
