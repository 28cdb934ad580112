//! Judging what kept a fact from being established: a dump that could not be found, read or
//! finished reading, a verification still running elsewhere, a missing log. Each is a
//! finding with a state, never silence: nothing unverified may pass for OK.

use std::io;

use super::{Check, Finding, State, PATH_CHARS};
use crate::acquire::cache::ProgressNote;
use crate::acquire::discover::DiscoverError;
use crate::acquire::Unreadable;
use crate::text::{safe, safe_path};
use crate::units::human_size;

/// UNKNOWN for a file the check could not read, naming the path, the user and the fix.
pub fn unreadable(check: Check, u: &Unreadable) -> Finding {
    let message = if u.kind == io::ErrorKind::PermissionDenied {
        format!(
            "permission denied reading {} as user {}: {}",
            u.path.display(),
            u.user,
            u.hint
        )
    } else {
        format!("cannot read {}: {}", u.path.display(), u.error)
    };
    Finding::new(check, State::Unknown, safe(&message, 600))
}

/// No dump could be chosen: CRITICAL when the backup is missing, UNKNOWN when the check
/// could not look.
pub fn discovery(e: &DiscoverError) -> Finding {
    let (check, state) = if e.is_missing_backup() {
        (Check::Dump, State::Critical)
    } else {
        (Check::Access, State::Unknown)
    };
    Finding::new(check, state, safe(&e.to_string(), 600))
}

/// A backup still being written (`reason` is already safe): `state` is --in-progress-state.
pub fn in_progress(reason: &str, state: State) -> Finding {
    Finding::new(
        Check::InProgress,
        state,
        format!("backup in progress: {reason}"),
    )
}

/// The dump that was found went away twice before it could be read.
pub fn vanished_twice(last_seen: &std::path::Path) -> Finding {
    Finding::new(
        Check::Dump,
        State::Unknown,
        format!(
            "the newest dump disappeared twice while being checked (rotation running?): run the check again; last seen {}",
            safe_path(last_seen, PATH_CHARS)
        ),
    )
}

/// The path found as a regular file is something else now (a FIFO swapped in...).
pub fn not_regular(path: &std::path::Path) -> Finding {
    Finding::new(
        Check::Dump,
        State::Unknown,
        format!(
            "{} is no longer a regular file: refusing to read it",
            safe_path(path, PATH_CHARS)
        ),
    )
}

/// The opened dump could not be examined.
pub fn cannot_stat(path: &std::path::Path, e: &io::Error) -> Finding {
    Finding::new(
        Check::Read,
        State::Unknown,
        format!(
            "cannot stat {}: {}",
            safe_path(path, PATH_CHARS),
            safe(&e.to_string(), 200)
        ),
    )
}

/// The dump could not be decrypted for a reason that is not the dump's (tool, key).
pub fn decrypt_error(path: &std::path::Path, e: &dyn std::fmt::Display) -> Finding {
    Finding::new(
        Check::Read,
        State::Unknown,
        format!(
            "cannot decrypt {}: {}",
            safe_path(path, PATH_CHARS),
            safe(&e.to_string(), 300)
        ),
    )
}

/// Reading the dump failed part-way.
pub fn read_error(path: &std::path::Path, e: &io::Error) -> Finding {
    Finding::new(
        Check::Read,
        State::Unknown,
        format!(
            "I/O error reading {}: {} (check the disk or network filesystem)",
            safe_path(path, PATH_CHARS),
            safe(&e.to_string(), 200)
        ),
    )
}

/// A background verifier is reading this dump version right now.
pub fn verification_running(note: &ProgressNote, size: u64, state: State) -> Finding {
    let pct = note.bytes_read.saturating_mul(100) / size.max(1);
    Finding::new(
        Check::Content,
        state,
        format!(
            "content verification in progress ({pct}% done, {} of {} read, in the background, pid {}); stream integrity and completion marker not verified yet",
            human_size(note.bytes_read as f64),
            human_size(size as f64),
            note.pid
        ),
    )
}

/// Another background verifier holds this dump's lock.
pub fn another_verifier(state: State) -> Finding {
    Finding::new(
        Check::Content,
        state,
        "another verifier is already verifying this dump",
    )
}

/// The log path is not a regular file.
pub fn log_not_regular(path: &std::path::Path) -> Finding {
    Finding::new(
        Check::Log,
        State::Unknown,
        format!(
            "log {} is not a regular file: refusing to read it",
            safe_path(path, PATH_CHARS)
        ),
    )
}

/// The log does not exist: the job did not run, or logs elsewhere.
pub fn log_missing(path: &std::path::Path) -> Finding {
    Finding::new(
        Check::Log,
        State::Critical,
        format!(
            "log {} does not exist: the backup job did not run, or logs elsewhere",
            safe_path(path, PATH_CHARS)
        ),
    )
}
