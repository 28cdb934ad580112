//! Acquiring facts: all the I/O of a check. Finding the dump (`discover`), reading a dump
//! file's content once (`content`), the checksum file beside it (`checksum`), verifying
//! backup directories (`backup_dir`), the verdict cache (`cache`) and reading the backup
//! log (`log`). Nothing here decides a state: what is found is handed to `judge` as plain
//! facts.

pub mod backup_dir;
pub mod cache;
pub mod checksum;
pub mod content;
pub mod decrypt;
pub mod discover;
pub mod log;
pub mod pg_cluster;
pub mod prefetch;

use std::io;
use std::path::{Path, PathBuf};

/// Why a file could not be read: what the finding is made from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unreadable {
    /// The file.
    pub path: PathBuf,
    /// The kind of error.
    pub kind: io::ErrorKind,
    /// The system's words.
    pub error: String,
    /// The user the check runs as (for a permission error).
    pub user: String,
    /// How to grant access (for a permission error).
    pub hint: String,
}

impl Unreadable {
    /// The facts of an error reading `path`.
    pub fn new(path: &Path, e: &io::Error) -> Unreadable {
        let denied = e.kind() == io::ErrorKind::PermissionDenied;
        Unreadable {
            path: path.to_path_buf(),
            kind: e.kind(),
            error: e.to_string(),
            user: if denied {
                crate::sys::current_user()
            } else {
                String::new()
            },
            hint: if denied {
                crate::sys::permission_hint(path)
            } else {
                String::new()
            },
        }
    }
}
