//! The drill's disk budget: it never fills the disk. Before any server starts, the space
//! the drill will need (an estimate, [`estimate`]) must fit into `--max-disk` and into the
//! work directory's free space less a reserve ([`reserve`]); while it runs, a watcher
//! measures the work directory (a walk summing allocated blocks, twice a second) and the
//! file system's free space (statvfs), and stops the drill cleanly — every process killed,
//! the directory removed, exit 3 — when either limit is crossed.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use super::{procs, DrillError};
use crate::units::human_size;

/// What an empty throwaway MariaDB data directory takes (system tables, InnoDB's system
/// tablespace, undo and redo logs: 126 MiB measured with `du` of the work directory of a
/// started MariaDB 10.11.19), rounded up.
pub const MARIADB_BASE: u64 = 160 << 20;
/// What a fresh PostgreSQL cluster takes (39 MiB, measured likewise with PostgreSQL
/// 15.20), rounded up.
pub const POSTGRES_BASE: u64 = 64 << 20;
/// The restored tables with their indexes against the decoded dump text.
pub const RESTORED_FACTOR: u64 = 2;
/// The decoded size of a dump whose decoded size check_backup did not measure (pg_dump
/// -Fc and -Fd, mydumper directories with compressed files), from its size on disk.
pub const COMPRESSED_FACTOR: u64 = 5;
/// How often the watcher measures.
const INTERVAL: Duration = Duration::from_millis(500);

/// The space a drill needs: the server's own files plus [`RESTORED_FACTOR`] times the
/// decoded dump (`decoded`, else [`COMPRESSED_FACTOR`] times `on_disk`).
pub fn estimate(base: u64, decoded: Option<u64>, on_disk: u64) -> u64 {
    let decoded = decoded.unwrap_or_else(|| on_disk.saturating_mul(COMPRESSED_FACTOR));
    base.saturating_add(decoded.saturating_mul(RESTORED_FACTOR))
}

/// The free space the drill leaves on the work directory's file system for everything
/// else: 5% of its size, at most 1 GiB.
pub fn reserve(total: u64) -> u64 {
    (total / 20).min(1 << 30)
}

/// A file system's size and the space still available to unprivileged users.
#[derive(Debug, Clone, Copy)]
pub struct Space {
    /// Its size in bytes.
    pub total: u64,
    /// Bytes available to unprivileged users (the server runs as one).
    pub available: u64,
}

/// The file system of `dir` (statvfs).
pub fn space(dir: &Path) -> std::io::Result<Space> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(dir.as_os_str().as_bytes())?;
    // SAFETY: a zeroed statvfs is a valid out-parameter; the path is NUL-terminated.
    let mut s: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    if unsafe { libc::statvfs(c.as_ptr(), &mut s) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    let unit = s.f_frsize as u64;
    Ok(Space {
        total: (s.f_blocks as u64).saturating_mul(unit),
        available: (s.f_bavail as u64).saturating_mul(unit),
    })
}

/// The bytes allocated below `dir` (as `du`: blocks, not lengths; what vanishes while it
/// is walked is skipped).
pub fn usage(dir: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    walkdir::WalkDir::new(dir)
        .into_iter()
        .flatten()
        .filter_map(|e| e.metadata().ok())
        .map(|m| m.blocks().saturating_mul(512))
        .sum()
}

/// Refuses (before any server starts) when `need` bytes do not fit into `max` or into the
/// free space of `dir`'s file system less the reserve.
pub fn check_room(dir: &Path, need: u64, max: Option<u64>) -> Result<(), DrillError> {
    let shown = crate::text::safe_path(dir, 200);
    if let Some(max) = max.filter(|m| need > *m) {
        return Err(DrillError::Refused(format!(
            "not enough temporary space in {shown}: need ~{}, --max-disk allows {}",
            human_size(need as f64),
            human_size(max as f64)
        )));
    }
    let s = space(dir).map_err(|e| DrillError::Setup(format!("statvfs {shown}: {e}")))?;
    let keep = reserve(s.total);
    if s.available < need.saturating_add(keep) {
        return Err(DrillError::Refused(format!(
            "not enough temporary space in {shown}: need ~{}, {} free ({} of it kept free \
             for the rest of the system); choose another --work-dir or free space",
            human_size(need as f64),
            human_size(s.available as f64),
            human_size(keep as f64)
        )));
    }
    Ok(())
}

/// Set when the server has stopped: from then on the drill writes nothing more there.
static DONE: AtomicBool = AtomicBool::new(false);

/// Stops the watcher (the server is stopped, the work directory grows no more).
pub fn done() {
    DONE.store(true, Ordering::SeqCst);
}

/// Watches `work` in a thread: `on_exit(reason)` (which cleans up and exits 3) when it uses
/// more than `max` bytes, or when its file system's available space falls below the
/// reserve.
pub fn watch(work: PathBuf, max: Option<u64>, on_exit: fn(String) -> !) {
    std::thread::spawn(move || {
        let keep = space(&work).map(|s| reserve(s.total)).unwrap_or(0);
        let shown = crate::text::safe_path(&work, 200);
        loop {
            std::thread::sleep(INTERVAL);
            if DONE.load(Ordering::SeqCst) {
                return;
            }
            let reason = match max {
                Some(max) => {
                    let used = usage(&work);
                    (used > max).then(|| {
                        format!(
                            "the work directory {shown} grew to {} while {}, more than \
                             --max-disk {}: stopped and removed",
                            human_size(used as f64),
                            procs::current_step(),
                            human_size(max as f64)
                        )
                    })
                }
                None => None,
            }
            .or_else(|| {
                let s = space(&work).ok()?;
                (s.available < keep).then(|| {
                    format!(
                        "free space in {shown} fell to {} while {} (below the {} kept free \
                         for the rest of the system): stopped and removed",
                        human_size(s.available as f64),
                        procs::current_step(),
                        human_size(keep as f64)
                    )
                })
            });
            if let Some(reason) = reason {
                if DONE.load(Ordering::SeqCst) {
                    return;
                }
                procs::begin_stop();
                on_exit(format!("not enough temporary space: {reason}"));
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_estimate_and_the_reserve() {
        // Decoded size known: twice it, plus the server's own files.
        assert_eq!(estimate(100, Some(10), 3), 120);
        // Not known: five times the size on disk, twice.
        assert_eq!(estimate(100, None, 3), 130);
        assert_eq!(estimate(u64::MAX, Some(u64::MAX), 0), u64::MAX);
        assert_eq!(reserve(10 << 30), 512 << 20);
        assert_eq!(reserve(1 << 40), 1 << 30);
    }

    #[test]
    fn usage_counts_allocated_blocks_below_the_directory() {
        let dir = tempfile::tempdir().unwrap();
        let before = usage(dir.path());
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("sub/data"), vec![1u8; 1 << 20]).unwrap();
        let after = usage(dir.path());
        assert!(after >= before + (1 << 20), "{before} {after}");
        // A sparse file takes what it allocated, not its length.
        let sparse = std::fs::File::create(dir.path().join("sparse")).unwrap();
        sparse.set_len(1 << 30).unwrap();
        assert!(usage(dir.path()) < after + (1 << 20));
    }

    #[test]
    fn a_budget_below_the_need_is_refused_naming_both() {
        let dir = tempfile::tempdir().unwrap();
        let e = check_room(dir.path(), 200 << 20, Some(1 << 20))
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("not enough temporary space in ")
                && e.ends_with(": need ~200 MiB, --max-disk allows 1.0 MiB"),
            "{e}"
        );
        // More than the file system has.
        let e = check_room(dir.path(), u64::MAX / 2, None)
            .unwrap_err()
            .to_string();
        assert!(e.contains(" free ("), "{e}");
        check_room(dir.path(), 1, Some(1 << 20)).unwrap();
    }
}
