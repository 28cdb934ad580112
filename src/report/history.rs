//! The report's history: one JSON line per set and run, appended to a JSON Lines file
//! (default `/var/lib/check_backup/history.jsonl`). The page's sparklines and the
//! `--days N` window are read from it.
//!
//! Concurrent report runs must not corrupt it: the file is opened with `O_APPEND`, every
//! line is written with a single `write(2)`, and the writer holds an exclusive `flock` on the
//! file while appending (readers a shared one). A line left unfinished by a crash (full disk,
//! power cut) is closed with a newline by the next writer, so it stays one corrupt line
//! that readers skip with a note, instead of swallowing the next valid one.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::{DirBuilderExt, FileExt, OpenOptionsExt};
use std::os::unix::io::AsRawFd;
use std::path::Path;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::result::SetResult;

/// Default history file.
pub const DEFAULT_PATH: &str = "/var/lib/check_backup/history.jsonl";

/// How long a writer or reader waits for another run's lock.
const LOCK_WAIT: Duration = Duration::from_secs(10);

/// A longer line is not one of ours (and is not read whole into memory twice).
const MAX_LINE: usize = 64 * 1024;

/// One line of the history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// When the report ran (RFC 3339).
    pub time: String,
    /// The set.
    pub set: String,
    /// The host (this host's name for local sets).
    pub host: String,
    /// `OK`, `WARNING`, `CRITICAL`, `UNKNOWN`.
    pub state: String,
    /// Dump size on disk, bytes.
    pub size: Option<u64>,
    /// Decoded size, bytes.
    pub uncompressed_size: Option<u64>,
    /// Dump age, seconds.
    pub age: Option<f64>,
}

impl Entry {
    /// The entry of a result at `time`.
    pub fn of(result: &SetResult, local_host: &str, time: &str) -> Entry {
        let bytes = |v: Option<f64>| v.filter(|x| *x >= 0.0).map(|x| x as u64);
        Entry {
            time: time.to_string(),
            set: result.set.clone(),
            host: result.host_or(local_host).to_string(),
            state: result.state().to_string(),
            size: bytes(result.size_bytes()),
            uncompressed_size: bytes(result.uncompressed_bytes()),
            age: result.age_seconds(),
        }
    }

    /// The time as seconds since the epoch, if it parses.
    pub fn epoch(&self) -> Option<i64> {
        chrono::DateTime::parse_from_rfc3339(&self.time)
            .ok()
            .map(|t| t.timestamp())
    }
}

/// Takes `flock(op)` on `file`, retrying for up to [`LOCK_WAIT`].
fn lock(file: &File, op: libc::c_int) -> std::io::Result<()> {
    let start = Instant::now();
    loop {
        // SAFETY: flock on a descriptor we own; no memory is shared with the kernel.
        if unsafe { libc::flock(file.as_raw_fd(), op | libc::LOCK_NB) } == 0 {
            return Ok(());
        }
        let e = std::io::Error::last_os_error();
        if e.kind() != std::io::ErrorKind::WouldBlock && e.raw_os_error() != Some(libc::EINTR) {
            return Err(e);
        }
        if start.elapsed() >= LOCK_WAIT {
            return Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!("still locked by another run after {}s", LOCK_WAIT.as_secs()),
            ));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// One `write(2)` of the whole buffer; a short write is an error (it cannot happen on a
/// local file short of a full disk, and a retry would break the single-write rule).
fn write_once(file: &mut File, bytes: &[u8]) -> std::io::Result<()> {
    let n = file.write(bytes)?;
    if n != bytes.len() {
        return Err(std::io::Error::other(format!(
            "short write ({n} of {} bytes): disk full?",
            bytes.len()
        )));
    }
    Ok(())
}

/// Appends entries, one line each, under an exclusive lock. Creates the file (mode 0644)
/// and its directory (0755) when missing.
pub fn append(path: &Path, entries: &[Entry]) -> Result<(), String> {
    let fail =
        |what: &str, e: &dyn std::fmt::Display| format!("history {}: {what}: {e}", path.display());
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        if !dir.is_dir() {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o755)
                .create(dir)
                .map_err(|e| fail("cannot create its directory", &e))?;
        }
    }
    let mut file = OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        .mode(0o644)
        .custom_flags(libc::O_CLOEXEC)
        .open(path)
        .map_err(|e| fail("cannot open for appending", &e))?;
    lock(&file, libc::LOCK_EX).map_err(|e| fail("cannot lock", &e))?;
    // A line left unfinished by a crashed writer is closed first.
    let len = file.metadata().map_err(|e| fail("cannot stat", &e))?.len();
    if len > 0 {
        let mut last = [0u8; 1];
        if file.read_at(&mut last, len - 1).is_ok() && last[0] != b'\n' {
            write_once(&mut file, b"\n").map_err(|e| fail("cannot write", &e))?;
        }
    }
    for entry in entries {
        let mut line = serde_json::to_vec(entry).map_err(|e| fail("cannot encode an entry", &e))?;
        line.push(b'\n');
        write_once(&mut file, &line).map_err(|e| fail("cannot write", &e))?;
    }
    // The lock goes with the descriptor.
    Ok(())
}

/// What was read: the entries since a time, and notes about lines that were skipped.
#[derive(Debug, Default)]
pub struct Read {
    /// Valid entries, in file order.
    pub entries: Vec<Entry>,
    /// Skipped lines, described.
    pub notes: Vec<String>,
}

/// Reads the entries at or after `since` (seconds since the epoch) under a shared lock. A
/// missing file is an empty history; a corrupt line is skipped with a note.
pub fn read(path: &Path, since: i64) -> Read {
    let mut out = Read::default();
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return out,
        Err(e) => {
            out.notes
                .push(format!("history {}: cannot read: {e}", path.display()));
            return out;
        }
    };
    if let Err(e) = lock(&file, libc::LOCK_SH) {
        out.notes.push(format!(
            "history {}: read without lock: {e}",
            path.display()
        ));
    }
    let mut reader = BufReader::new(file);
    let mut buf = Vec::new();
    let mut number = 0u64;
    // The first few corrupt lines are described; the rest only counted (bounded memory
    // whatever the file holds).
    let mut skipped = Vec::new();
    let mut n_skipped = 0usize;
    let mut skip = |what: String| {
        n_skipped += 1;
        if skipped.len() < 3 {
            skipped.push(what);
        }
    };
    loop {
        buf.clear();
        match std::io::Read::take(&mut reader, MAX_LINE as u64 + 1).read_until(b'\n', &mut buf) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) => {
                out.notes.push(format!(
                    "history {}: read error after line {number}: {e}",
                    path.display()
                ));
                break;
            }
        }
        let complete = buf.ends_with(b"\n");
        if !complete && buf.len() > MAX_LINE {
            // Skip the rest of an overlong line.
            let mut rest = Vec::new();
            let _ = reader.read_until(b'\n', &mut rest);
        }
        number += 1;
        let text = String::from_utf8_lossy(&buf);
        let text = text.trim();
        if text.is_empty() {
            continue;
        }
        match serde_json::from_str::<Entry>(text) {
            Ok(entry) => match entry.epoch() {
                Some(t) if t >= since => out.entries.push(entry),
                Some(_) => {}
                None => skip(format!(
                    "line {number}: bad time '{}'",
                    crate::text::safe(&entry.time, 40)
                )),
            },
            Err(e) => skip(format!("line {number}: {e}")),
        }
    }
    if n_skipped > 0 {
        let more = if n_skipped > skipped.len() {
            format!(", and {} more", n_skipped - skipped.len())
        } else {
            String::new()
        };
        out.notes.push(format!(
            "history {}: skipped {} corrupt line{} ({}{more})",
            path.display(),
            n_skipped,
            if n_skipped == 1 { "" } else { "s" },
            crate::text::safe(&skipped.join("; "), 400)
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(time: &str, set: &str, size: u64) -> Entry {
        Entry {
            time: time.into(),
            set: set.into(),
            host: "db1".into(),
            state: "OK".into(),
            size: Some(size),
            uncompressed_size: None,
            age: Some(60.0),
        }
    }

    #[test]
    fn append_then_read_with_window_and_corrupt_lines() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("h.jsonl");
        append(&p, &[entry("2026-11-01T07:30:00+00:00", "shop", 100)]).unwrap();
        // A crashed writer left half a line; the next append closes it.
        std::fs::OpenOptions::new()
            .append(true)
            .open(&p)
            .unwrap()
            .write_all(b"{\"time\":\"2026-11-0")
            .unwrap();
        append(
            &p,
            &[
                entry("2026-11-20T07:30:00+00:00", "shop", 200),
                entry("2026-11-21T07:30:00+01:00", "pg", 300),
            ],
        )
        .unwrap();
        let text = std::fs::read_to_string(&p).unwrap();
        assert_eq!(text.lines().count(), 4, "{text}");
        let all = read(&p, 0);
        assert_eq!(all.entries.len(), 3);
        assert_eq!(all.notes.len(), 1, "{:?}", all.notes);
        assert!(
            all.notes[0].contains("skipped 1 corrupt line (line 2: "),
            "{:?}",
            all.notes
        );
        let since = chrono::DateTime::parse_from_rfc3339("2026-11-10T00:00:00Z")
            .unwrap()
            .timestamp();
        let recent = read(&p, since);
        assert_eq!(recent.entries.len(), 2);
        assert_eq!(recent.entries[1].set, "pg");
        // A missing file is an empty history, without a note.
        let none = read(&d.path().join("nope.jsonl"), 0);
        assert!(none.entries.is_empty() && none.notes.is_empty());
        // A missing directory is created; one that cannot be is an error naming the file.
        append(&d.path().join("new/dir/h.jsonl"), &[]).unwrap();
        assert!(d.path().join("new/dir/h.jsonl").is_file());
        let e = append(&p.join("h.jsonl"), &[]).unwrap_err();
        assert!(e.contains("cannot create its directory"), "{e}");
    }
}
