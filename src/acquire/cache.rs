//! The content-verdict cache: a dump that has not changed is not decoded again.
//!
//! Icinga checks every few minutes and dumps are often tens of GB: decoding them on every
//! check is what makes operators skip content checks. The cache keeps the [`ContentFacts`]
//! of a dump, keyed by device, inode, size, mtime and ctime (nanoseconds), by the marker
//! choice and by the checksum file used (its path and version: a rewritten or new checksum
//! file is checked again), in one small JSON file per dump. Any change to the file changes its ctime, so the
//! entry no longer matches. Entries are written atomically (temp file + rename); an entry
//! that is corrupt, of another format or version, for another file, or writable by other
//! users is ignored, never trusted. Age, size and log checks are never cached.
//!
//! The backup job (root, `--verify-only`) and the monitoring user (`nagios`) share the
//! directory: entries are readable by all (0644), and an entry owned by root or by the
//! reading user is trusted (one owned by anybody else, or writable by group or others, is
//! not). Every file is opened relative to a handle on the directory, never following a
//! symlink planted there (`O_NOFOLLOW`); new files are created with `O_EXCL` under a fresh
//! name and renamed over the entry.
//!
//! The same directory holds, per dump, a lock file and a progress file for a background
//! verification still running (see [`BackgroundLock`]).
//!
//! Pruning: the directory would otherwise grow by one entry per dump version forever. When
//! an entry is stored, at most once per [`PRUNE_INTERVAL`] (the mtime of the stamp file
//! `.prune`), the cache drops the entries of dumps that no longer exist, entries older than
//! [`PRUNE_MAX_AGE`], and the oldest beyond [`PRUNE_MAX_ENTRIES`]; with an entry go its lock
//! and progress files. Lock or progress files without an entry, and temporary files a crash
//! left, go once older than a day. A lock a verifier holds is never removed (nor its entry
//! or progress): it is `flock`ed non-blocking first, and unlinked while held. Only regular
//! files owned by us or root are touched, relative to the directory handle, never through
//! a symlink. Pruning never fails a check: any error just leaves the file in place.

use std::ffi::CString;
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::os::unix::io::{AsRawFd, FromRawFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::facts::ContentFacts;

/// Identifies one version of a file: any write, truncation, replacement or rename changes
/// at least one of these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FileKey {
    /// Device.
    pub dev: u64,
    /// Inode.
    pub ino: u64,
    /// Size in bytes.
    pub size: u64,
    /// mtime, nanoseconds since the epoch.
    pub mtime_ns: i64,
    /// ctime, nanoseconds since the epoch.
    pub ctime_ns: i64,
}

impl FileKey {
    /// The key of a file's current metadata (take it from the open file, `fstat`).
    pub fn of(meta: &fs::Metadata) -> FileKey {
        FileKey {
            dev: meta.dev(),
            ino: meta.ino(),
            size: meta.size(),
            mtime_ns: meta.mtime().saturating_mul(1_000_000_000) + meta.mtime_nsec(),
            ctime_ns: meta.ctime().saturating_mul(1_000_000_000) + meta.ctime_nsec(),
        }
    }
}

/// Bumped whenever the meaning of a cached verdict changes; the plugin version is part of
/// the format too, so an upgrade re-verifies everything once.
const FORMAT: &str = concat!("check_backup-cache-5/", env!("CARGO_PKG_VERSION"));
/// An entry is a few hundred bytes; anything much larger is not ours.
const MAX_ENTRY_BYTES: u64 = 256 * 1024;
/// Pruning runs at most this often (per cache directory).
pub const PRUNE_INTERVAL: Duration = Duration::from_secs(60 * 60);
/// Entries verified longer ago than this are dropped (the dump is re-verified if still checked).
pub const PRUNE_MAX_AGE: Duration = Duration::from_secs(60 * 24 * 60 * 60);
/// At most this many entries are kept; the oldest beyond go.
pub const PRUNE_MAX_ENTRIES: usize = 10_000;
/// Lock and progress files without an entry, and temporary files, older than this go.
const ORPHAN_AGE: Duration = Duration::from_secs(24 * 60 * 60);
/// The stamp file whose mtime says when the directory was last pruned.
const PRUNE_STAMP: &str = ".prune";

/// The limits of one pruning pass.
#[derive(Debug, Clone, Copy)]
pub struct PruneLimits {
    /// Entries verified longer ago go.
    pub max_age: Duration,
    /// The oldest entries beyond this many go.
    pub max_entries: usize,
}

impl Default for PruneLimits {
    fn default() -> Self {
        PruneLimits {
            max_age: PRUNE_MAX_AGE,
            max_entries: PRUNE_MAX_ENTRIES,
        }
    }
}

/// What a pruning pass removed (entries count their lock and progress files with them).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Pruned {
    /// Entries of dumps that no longer exist.
    pub gone: usize,
    /// Entries older than the maximum age.
    pub old: usize,
    /// Entries beyond the maximum count.
    pub excess: usize,
    /// Lock, progress and temporary files without an entry.
    pub orphans: usize,
    /// Entries kept because their verifier holds the lock.
    pub locked: usize,
}

/// Only what pruning needs of an entry.
#[derive(serde::Deserialize)]
struct EntryHead {
    path: String,
    verified_at: u64,
}

#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct Entry {
    format: String,
    path: String,
    key: FileKey,
    marker: String,
    checksum: String,
    verified_at: u64,
    content: ContentFacts,
}

/// Progress of a background verification, as its verifier last wrote it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ProgressNote {
    /// Process id of the verifier.
    pub pid: u32,
    /// The file version being verified.
    pub key: FileKey,
    /// Compressed bytes read so far.
    pub bytes_read: u64,
    /// Unix time the verification started.
    pub started: u64,
}

/// The result of a cache lookup.
#[derive(Debug)]
pub enum Lookup {
    /// A verdict for exactly this file version and marker choice.
    Hit {
        /// The cached facts.
        content: Box<ContentFacts>,
        /// When they were established.
        verified_at: SystemTime,
    },
    /// No usable entry, and why (for `-v`).
    Miss(String),
}

/// A cache directory.
#[derive(Debug, Clone)]
pub struct Cache {
    dir: PathBuf,
}

fn writable(dir: &Path) -> bool {
    let Ok(c) = std::ffi::CString::new(dir.as_os_str().as_encoded_bytes()) else {
        return false;
    };
    // SAFETY: `c` is a valid NUL-terminated path for the duration of the call.
    unsafe { libc::access(c.as_ptr(), libc::W_OK | libc::X_OK) == 0 }
}

fn ensure_dir(dir: &Path) -> io::Result<()> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

impl Cache {
    /// The cache directory: `explicit` if given (created if missing); else
    /// `/var/cache/check_backup` when it is writable (packages create it for `nagios`);
    /// else `$XDG_CACHE_HOME/check_backup` or `~/.cache/check_backup`.
    pub fn locate(explicit: Option<&Path>) -> Result<Cache, String> {
        if let Some(dir) = explicit {
            ensure_dir(dir)
                .map_err(|e| format!("cannot create cache dir {}: {e}", dir.display()))?;
            if !writable(dir) {
                return Err(format!("cache dir {} is not writable", dir.display()));
            }
            return Ok(Cache {
                dir: dir.to_path_buf(),
            });
        }
        let system = Path::new("/var/cache/check_backup");
        if system.is_dir() && writable(system) {
            return Ok(Cache {
                dir: system.to_path_buf(),
            });
        }
        let user = std::env::var_os("XDG_CACHE_HOME")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| {
                std::env::var_os("HOME")
                    .filter(|v| !v.is_empty())
                    .map(|h| PathBuf::from(h).join(".cache"))
            })
            .map(|base| base.join("check_backup"))
            .ok_or("no writable cache dir (/var/cache/check_backup, $XDG_CACHE_HOME, $HOME)")?;
        ensure_dir(&user)
            .map_err(|e| format!("cannot create cache dir {}: {e}", user.display()))?;
        if !writable(&user) {
            return Err(format!("cache dir {} is not writable", user.display()));
        }
        Ok(Cache { dir: user })
    }

    /// The directory in use.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Per-dump file name: a hash of the canonical path (FNV-1a; the entry repeats the
    /// path, so a collision is a miss, never a wrong verdict) and `extension`.
    fn name(dump: &Path, extension: &str) -> String {
        Self::keyed_name(dump, None, extension)
    }

    /// The file `extension` of `dump`, or of one database of the set `dump` (a NUL, which
    /// no path holds, between the two keeps every (set, database) apart from every path).
    fn keyed_name(dump: &Path, database: Option<&str>, extension: &str) -> String {
        let canonical = fs::canonicalize(dump).unwrap_or_else(|_| dump.to_path_buf());
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        let mut key = canonical.as_os_str().as_encoded_bytes().to_vec();
        if let Some(db) = database {
            key.push(0);
            key.extend_from_slice(db.as_bytes());
        }
        for b in key {
            hash ^= u64::from(b);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
        format!("{hash:016x}.{extension}")
    }

    /// Where the file `extension` of `dump` is (for messages and tests).
    fn path_of(&self, dump: &Path, extension: &str) -> PathBuf {
        self.dir.join(Self::name(dump, extension))
    }

    /// A handle on the cache directory, every file is opened relative to.
    fn open_dir(&self) -> io::Result<File> {
        fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_DIRECTORY | libc::O_CLOEXEC)
            .open(&self.dir)
    }

    fn canonical(dump: &Path) -> String {
        fs::canonicalize(dump)
            .unwrap_or_else(|_| dump.to_path_buf())
            .to_string_lossy()
            .into_owned()
    }

    /// Reads a file of the cache: a regular file (never through a symlink), owned by root
    /// (the backup job's `--verify-only`) or by us, not writable by group or others, small.
    fn read_trusted(&self, name: &str) -> Result<Vec<u8>, String> {
        let path = self.dir.join(name);
        let opened = self.open_dir().and_then(|dir| {
            openat(
                &dir,
                name,
                libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC,
                0,
            )
        });
        let mut f = match opened {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Err("no entry".into()),
            Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
                return Err(format!("{} is a symlink: ignored", path.display()))
            }
            Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
        };
        let meta = f.metadata().map_err(|e| e.to_string())?;
        // SAFETY: geteuid cannot fail.
        let me = unsafe { libc::geteuid() };
        if !meta.is_file() {
            return Err(format!("{} is not a regular file: ignored", path.display()));
        }
        if (meta.uid() != me && meta.uid() != 0) || meta.mode() & 0o022 != 0 {
            return Err(format!(
                "{} is owned by neither root nor us, or is writable by others: ignored",
                path.display()
            ));
        }
        if meta.len() > MAX_ENTRY_BYTES {
            return Err(format!(
                "{} is too large to be an entry: ignored",
                path.display()
            ));
        }
        let mut bytes = Vec::new();
        f.read_to_end(&mut bytes).map_err(|e| e.to_string())?;
        Ok(bytes)
    }

    /// Looks up the verdict for `dump` at version `key` under marker choice `marker`, with
    /// the checksum file `checksum` (its identity, or "none").
    pub fn lookup(&self, dump: &Path, key: &FileKey, marker: &str, checksum: &str) -> Lookup {
        let path = self.path_of(dump, "json");
        let bytes = match self.read_trusted(&Self::name(dump, "json")) {
            Ok(b) => b,
            Err(reason) => return Lookup::Miss(reason),
        };
        let entry: Entry = match serde_json::from_slice(&bytes) {
            Ok(e) => e,
            Err(e) => return Lookup::Miss(format!("corrupt entry {}: {e}", path.display())),
        };
        let stale = if entry.format != FORMAT {
            Some("written by another version")
        } else if entry.path != Self::canonical(dump) {
            Some("for another file")
        } else if entry.key != *key {
            Some("the dump changed since it was verified")
        } else if entry.marker != marker {
            Some("verified with another marker rule")
        } else if entry.checksum != checksum {
            Some("the checksum file beside it is new, changed or gone")
        } else {
            None
        };
        match stale {
            Some(why) => Lookup::Miss(format!("entry {} is stale: {why}", path.display())),
            None => Lookup::Hit {
                content: Box::new(entry.content),
                verified_at: UNIX_EPOCH + Duration::from_secs(entry.verified_at),
            },
        }
    }

    /// What verifying this exact version of `dump` established, whatever marker rule or
    /// checksum file it was verified with: the facts the history rules compare (the decoded
    /// size) do not depend on them. None when it was never verified (or the entry is stale).
    pub fn known_content(&self, dump: &Path, key: &FileKey) -> Option<ContentFacts> {
        let bytes = self.read_trusted(&Self::name(dump, "json")).ok()?;
        let entry: Entry = serde_json::from_slice(&bytes).ok()?;
        (entry.format == FORMAT && entry.path == Self::canonical(dump) && entry.key == *key)
            .then_some(entry.content)
    }

    /// Stores the verdict atomically (temp file in the same directory, then rename), so a
    /// concurrent reader sees the old entry or the new one, never half of one.
    pub fn store(
        &self,
        dump: &Path,
        key: &FileKey,
        marker: &str,
        checksum: &str,
        content: &ContentFacts,
    ) -> io::Result<()> {
        let entry = Entry {
            format: FORMAT.into(),
            path: Self::canonical(dump),
            key: *key,
            marker: marker.into(),
            checksum: checksum.into(),
            verified_at: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0),
            content: content.clone(),
        };
        self.write_atomic(&Self::name(dump, "json"), &serde_json::to_vec(&entry)?)?;
        self.maybe_prune(SystemTime::now());
        Ok(())
    }

    /// Prunes the directory if the last pass is older than [`PRUNE_INTERVAL`] (the stamp
    /// file's mtime), and renews the stamp first so concurrent checks do not all prune.
    /// Never fails: pruning is housekeeping.
    fn maybe_prune(&self, now: SystemTime) -> Option<Pruned> {
        let dir = self.open_dir().ok()?;
        if let Ok(meta) = stat_at(&dir, PRUNE_STAMP) {
            let stamped =
                UNIX_EPOCH + Duration::from_secs(u64::try_from(meta.st_mtime).unwrap_or(0));
            if now
                .duration_since(stamped)
                .is_ok_and(|d| d < PRUNE_INTERVAL)
                || stamped > now + PRUNE_INTERVAL
            {
                return None;
            }
        }
        self.write_atomic(PRUNE_STAMP, b"").ok()?;
        Some(self.prune_with(&dir, PruneLimits::default(), now))
    }

    /// One pruning pass now, whatever the stamp says (for tests and tools).
    pub fn prune(&self, limits: PruneLimits, now: SystemTime) -> io::Result<Pruned> {
        let dir = self.open_dir()?;
        Ok(self.prune_with(&dir, limits, now))
    }

    fn prune_with(&self, dir: &File, limits: PruneLimits, now: SystemTime) -> Pruned {
        let mut pruned = Pruned::default();
        let Ok(listing) = fs::read_dir(&self.dir) else {
            return pruned;
        };
        let mut entries: Vec<(String, u64)> = Vec::new(); // (hash, verified_at) kept so far
        let mut others: Vec<(String, String)> = Vec::new(); // (name, hash) of lock/progress
        let mut stems = std::collections::HashSet::new();
        let now_secs = now
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        for item in listing.flatten() {
            let Ok(name) = item.file_name().into_string() else {
                continue;
            };
            if let Some(hash) = name.strip_suffix(".json").filter(|h| is_hash(h)) {
                stems.insert(hash.to_string());
                let Ok(meta) = stat_at(dir, &name) else {
                    continue;
                };
                if !removable(&meta) {
                    continue;
                }
                let head = openat(
                    dir,
                    &name,
                    libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC,
                    0,
                )
                .ok()
                .and_then(|f| {
                    let mut bytes = Vec::new();
                    f.take(MAX_ENTRY_BYTES).read_to_end(&mut bytes).ok()?;
                    serde_json::from_slice::<EntryHead>(&bytes).ok()
                });
                let mtime = u64::try_from(meta.st_mtime).unwrap_or(0);
                let verified_at = head.as_ref().map_or(mtime, |h| h.verified_at);
                let gone = head.as_ref().is_some_and(|h| {
                    matches!(fs::symlink_metadata(&h.path), Err(e) if e.kind() == io::ErrorKind::NotFound)
                });
                let old = now_secs.saturating_sub(verified_at) > limits.max_age.as_secs();
                if gone || old {
                    match self.remove_entry(dir, hash) {
                        Removal::Removed if gone => pruned.gone += 1,
                        Removal::Removed => pruned.old += 1,
                        Removal::Locked => pruned.locked += 1,
                        Removal::Kept => {}
                    }
                } else {
                    entries.push((hash.to_string(), verified_at));
                }
            } else if let Some(hash) = name
                .strip_suffix(".lock")
                .or_else(|| name.strip_suffix(".progress"))
                .filter(|h| is_hash(h))
            {
                others.push((name.clone(), hash.to_string()));
            } else if name.starts_with(".tmp-") {
                if let Ok(meta) = stat_at(dir, &name) {
                    if removable(&meta)
                        && older_than(&meta, now_secs, ORPHAN_AGE)
                        && unlinkat(dir, &name).is_ok()
                    {
                        pruned.orphans += 1;
                    }
                }
            }
        }
        if entries.len() > limits.max_entries {
            entries.sort_by(|a, b| a.1.cmp(&b.1).then_with(|| a.0.cmp(&b.0)));
            let excess = entries.len() - limits.max_entries;
            for (hash, _) in entries.iter().take(excess) {
                match self.remove_entry(dir, hash) {
                    Removal::Removed => pruned.excess += 1,
                    Removal::Locked => pruned.locked += 1,
                    Removal::Kept => {}
                }
            }
        }
        // Lock and progress files of no entry: a verifier that never finished, or whose
        // entry went above. Kept while a verifier holds the lock, and for a day.
        for (name, hash) in others {
            if stems.contains(&hash) {
                continue;
            }
            let Ok(meta) = stat_at(dir, &name) else {
                continue; // removed with its entry above
            };
            if !removable(&meta) || !older_than(&meta, now_secs, ORPHAN_AGE) {
                continue;
            }
            let held = match stat_at(dir, &format!("{hash}.lock")) {
                Ok(_) => lock_held(dir, &format!("{hash}.lock")),
                Err(_) => false,
            };
            if held {
                continue;
            }
            if name.ends_with(".lock") {
                if let Some(guard) = take_lock(dir, &name) {
                    if unlinkat(dir, &name).is_ok() {
                        pruned.orphans += 1;
                    }
                    drop(guard);
                }
            } else if unlinkat(dir, &name).is_ok() {
                pruned.orphans += 1;
            }
        }
        pruned
    }

    /// Removes the entry `hash` with its lock and progress files, unless a verifier holds
    /// the lock: the lock is taken first (non-blocking) and unlinked while held.
    fn remove_entry(&self, dir: &File, hash: &str) -> Removal {
        let lock = format!("{hash}.lock");
        let guard = match stat_at(dir, &lock) {
            Ok(meta) if removable(&meta) => match take_lock(dir, &lock) {
                Some(g) => Some(g),
                None => return Removal::Locked,
            },
            Ok(_) => return Removal::Kept, // not ours, or not a regular file: leave it all
            Err(_) => None,
        };
        if guard.is_some() {
            let _ = unlinkat(dir, &lock);
        }
        let progress = format!("{hash}.progress");
        if stat_at(dir, &progress).is_ok_and(|m| removable(&m)) {
            let _ = unlinkat(dir, &progress);
        }
        let removed = unlinkat(dir, &format!("{hash}.json")).is_ok();
        drop(guard);
        if removed {
            Removal::Removed
        } else {
            Removal::Kept
        }
    }

    /// Writes `name` atomically: a new file (`O_EXCL | O_NOFOLLOW`, so nothing planted in
    /// the directory is followed or reused) readable by all (0644, whatever the umask: the
    /// monitoring user reads what the backup job wrote), synced, then renamed over `name`.
    fn write_atomic(&self, name: &str, bytes: &[u8]) -> io::Result<()> {
        static SEQ: AtomicU64 = AtomicU64::new(0);
        let dir = self.open_dir()?;
        let mut attempt = 0;
        let (tmp_name, mut tmp) = loop {
            let nanos = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.subsec_nanos())
                .unwrap_or(0);
            let tmp_name = format!(
                ".tmp-{}-{}-{nanos:08x}",
                std::process::id(),
                SEQ.fetch_add(1, Ordering::Relaxed)
            );
            let flags =
                libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW | libc::O_CLOEXEC;
            match openat(&dir, &tmp_name, flags, 0o644) {
                Ok(f) => break (tmp_name, f),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists && attempt < 10 => {
                    attempt += 1;
                }
                Err(e) => return Err(e),
            }
        };
        let written = (|| {
            // SAFETY: fchmod on a descriptor we own.
            if unsafe { libc::fchmod(tmp.as_raw_fd(), 0o644) } != 0 {
                return Err(io::Error::last_os_error());
            }
            tmp.write_all(bytes)?;
            tmp.sync_data()?;
            renameat(&dir, &tmp_name, name)
        })();
        if written.is_err() {
            let _ = unlinkat(&dir, &tmp_name);
        }
        written
    }

    /// Writes the result of a restore drill of the set `set` (the `-f` argument; with
    /// `database`, that database's dumps of a `--per-database` set) atomically, as
    /// `<hash>.drill` beside the verification entries (never pruned with them: one file per
    /// set or database). `backup-drill` writes it; check_backup reads it with
    /// [`Cache::drill`].
    pub fn store_drill(
        &self,
        set: &Path,
        database: Option<&str>,
        result: &crate::facts::DrillResult,
    ) -> io::Result<()> {
        self.write_atomic(
            &Self::keyed_name(set, database, "drill"),
            &serde_json::to_vec_pretty(result)?,
        )
    }

    /// The last restore drill of the set `set` (of its database `database`): `Ok(None)`
    /// when there is none; an error (saying why) when the file is corrupt, not a regular
    /// file, or not trusted.
    pub fn drill(
        &self,
        set: &Path,
        database: Option<&str>,
    ) -> Result<Option<crate::facts::DrillResult>, String> {
        let name = Self::keyed_name(set, database, "drill");
        let bytes = match self.read_trusted(&name) {
            Ok(b) => b,
            Err(reason) if reason == "no entry" => return Ok(None),
            Err(reason) => return Err(reason),
        };
        serde_json::from_slice(&bytes).map(Some).map_err(|e| {
            format!(
                "corrupt drill result {}: {e}",
                self.dir.join(&name).display()
            )
        })
    }

    /// The canonical form of a set's `-f` argument, as drill results record it.
    pub fn canonical_set(set: &Path) -> String {
        Self::canonical(set)
    }

    /// Records the progress of a background verification.
    pub fn write_progress(&self, dump: &Path, note: &ProgressNote) -> io::Result<()> {
        self.write_atomic(&Self::name(dump, "progress"), &serde_json::to_vec(note)?)
    }

    /// The progress of a background verification of exactly this file version, if one is
    /// running now (its verifier holds the lock).
    pub fn running_verification(&self, dump: &Path, key: &FileKey) -> Option<ProgressNote> {
        if self.lock(dump).is_some() {
            return None; // nobody holds it: nothing running
        }
        let bytes = self.read_trusted(&Self::name(dump, "progress")).ok()?;
        let note: ProgressNote = serde_json::from_slice(&bytes).ok()?;
        (note.key == *key).then_some(note)
    }

    /// Takes the per-dump verifier lock, unless another verifier holds it.
    pub fn try_lock(&self, dump: &Path) -> Option<BackgroundLock> {
        self.lock(dump)
    }

    fn lock(&self, dump: &Path) -> Option<BackgroundLock> {
        let dir = self.open_dir().ok()?;
        BackgroundLock::try_acquire_at(&dir, &Self::name(dump, "lock"))
    }
}

enum Removal {
    Removed,
    Locked,
    Kept,
}

/// A cache file name: 16 lowercase hex digits.
fn is_hash(s: &str) -> bool {
    s.len() == 16
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// A regular file (not a symlink, not a directory) owned by us or by root.
fn removable(meta: &libc::stat) -> bool {
    // SAFETY: geteuid cannot fail.
    let me = unsafe { libc::geteuid() };
    meta.st_mode & libc::S_IFMT == libc::S_IFREG && (meta.st_uid == me || meta.st_uid == 0)
}

fn older_than(meta: &libc::stat, now_secs: u64, age: Duration) -> bool {
    now_secs.saturating_sub(u64::try_from(meta.st_mtime).unwrap_or(0)) > age.as_secs()
}

/// Takes the lock file `name` (never creating it, never through a symlink), non-blocking.
fn take_lock(dir: &File, name: &str) -> Option<File> {
    let file = openat(
        dir,
        name,
        libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC,
        0,
    )
    .ok()?;
    // SAFETY: flock on a file descriptor we own.
    let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    (rc == 0).then_some(file)
}

/// Whether a verifier holds the lock file `name` now.
fn lock_held(dir: &File, name: &str) -> bool {
    take_lock(dir, name).is_none()
}

/// `fstatat(2)` relative to `dir`, not following a symlink.
fn stat_at(dir: &File, name: &str) -> io::Result<libc::stat> {
    let c = c_name(name)?;
    let mut st = std::mem::MaybeUninit::<libc::stat>::uninit();
    // SAFETY: a valid NUL-terminated name, an open descriptor and a buffer of the right size.
    let rc = unsafe {
        libc::fstatat(
            dir.as_raw_fd(),
            c.as_ptr(),
            st.as_mut_ptr(),
            libc::AT_SYMLINK_NOFOLLOW,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fstatat succeeded, so it filled the buffer.
    Ok(unsafe { st.assume_init() })
}

fn c_name(name: &str) -> io::Result<CString> {
    if name.contains('/') {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a file name",
        ));
    }
    CString::new(name).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))
}

/// `openat(2)` relative to the directory handle `dir`.
fn openat(dir: &File, name: &str, flags: libc::c_int, mode: libc::mode_t) -> io::Result<File> {
    let c = c_name(name)?;
    // SAFETY: `c` is a valid NUL-terminated name; the returned descriptor is new and owned
    // by the File it is wrapped in.
    unsafe {
        let fd = libc::openat(dir.as_raw_fd(), c.as_ptr(), flags, libc::c_uint::from(mode));
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(File::from_raw_fd(fd))
    }
}

/// `renameat(2)` within the directory `dir` (atomic: readers see the old file or the new).
fn renameat(dir: &File, from: &str, to: &str) -> io::Result<()> {
    let (f, t) = (c_name(from)?, c_name(to)?);
    // SAFETY: both names are valid NUL-terminated strings; the descriptor is open.
    let rc = unsafe { libc::renameat(dir.as_raw_fd(), f.as_ptr(), dir.as_raw_fd(), t.as_ptr()) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

fn unlinkat(dir: &File, name: &str) -> io::Result<()> {
    let c = c_name(name)?;
    // SAFETY: a valid NUL-terminated name; the descriptor is open.
    if unsafe { libc::unlinkat(dir.as_raw_fd(), c.as_ptr(), 0) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// An exclusive `flock` on a per-dump lock file in the cache directory (never on the
/// backup itself): held by a background verifier for as long as it runs. The file is
/// opened read-only (a `flock` needs no more), so a lock file root created (0644) serves
/// the monitoring user too; a symlink in its place is never followed.
#[derive(Debug)]
pub struct BackgroundLock {
    _file: File,
}

impl BackgroundLock {
    fn try_acquire_at(dir: &File, name: &str) -> Option<BackgroundLock> {
        let flags = libc::O_RDONLY | libc::O_CREAT | libc::O_NOFOLLOW | libc::O_CLOEXEC;
        let file = openat(dir, name, flags, 0o644).ok()?;
        if !file.metadata().ok()?.is_file() {
            return None;
        }
        // SAFETY: flock on a file descriptor we own.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        (rc == 0).then_some(BackgroundLock { _file: file })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::Compression;
    use crate::facts::{MarkerVerdict, Writer};

    fn content() -> ContentFacts {
        ContentFacts {
            compression: Compression::Gzip,
            uncompressed_size: 42,
            problem: None,
            binary: false,
            writer: Writer::Mysqldump,
            marker: MarkerVerdict::Found {
                line: "-- Dump completed".into(),
                date: None,
                rule: "mysqldump".into(),
            },
            archive: None,
            checksum: None,
            encrypted: None,
            fingerprint: None,
            tables: None,
            sections: None,
        }
    }

    fn setup() -> (tempfile::TempDir, Cache, PathBuf, FileKey) {
        let d = tempfile::tempdir().unwrap();
        let cache = Cache::locate(Some(&d.path().join("cache"))).unwrap();
        let dump = d.path().join("db.sql.gz");
        fs::write(&dump, b"x").unwrap();
        let key = FileKey::of(&fs::metadata(&dump).unwrap());
        (d, cache, dump, key)
    }

    #[test]
    fn known_content_ignores_marker_and_checksum_but_not_the_version() {
        let (_d, cache, dump, key) = setup();
        assert!(cache.known_content(&dump, &key).is_none());
        cache
            .store(&dump, &key, "pg_dump", "sha256:abc", &content())
            .unwrap();
        assert_eq!(
            cache
                .known_content(&dump, &key)
                .map(|c| c.uncompressed_size),
            Some(42)
        );
        let other = FileKey {
            size: key.size + 1,
            ..key
        };
        assert!(cache.known_content(&dump, &other).is_none());
    }

    #[test]
    fn hit_after_store_and_miss_on_any_difference() {
        let (_d, cache, dump, key) = setup();
        assert!(matches!(
            cache.lookup(&dump, &key, "auto", "none"),
            Lookup::Miss(_)
        ));
        cache
            .store(&dump, &key, "auto", "none", &content())
            .unwrap();
        match cache.lookup(&dump, &key, "auto", "none") {
            Lookup::Hit { content: c, .. } => assert_eq!(*c, content()),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            cache.lookup(&dump, &key, "none", "none"),
            Lookup::Miss(_)
        ));
        assert!(
            matches!(cache.lookup(&dump, &key, "auto", "sha256 1:2:3:4:5"), Lookup::Miss(m) if m.contains("checksum file"))
        );
        let changed = FileKey {
            ctime_ns: key.ctime_ns + 1,
            ..key
        };
        assert!(
            matches!(cache.lookup(&dump, &changed, "auto", "none"), Lookup::Miss(m) if m.contains("changed"))
        );
    }

    #[test]
    fn corrupt_and_foreign_entries_are_ignored() {
        let (_d, cache, dump, key) = setup();
        cache
            .store(&dump, &key, "auto", "none", &content())
            .unwrap();
        let entry = cache.path_of(&dump, "json");
        fs::write(&entry, b"{not json").unwrap();
        assert!(
            matches!(cache.lookup(&dump, &key, "auto", "none"), Lookup::Miss(m) if m.contains("corrupt"))
        );
        cache
            .store(&dump, &key, "auto", "none", &content())
            .unwrap();
        fs::set_permissions(&entry, std::os::unix::fs::PermissionsExt::from_mode(0o666)).unwrap();
        assert!(
            matches!(cache.lookup(&dump, &key, "auto", "none"), Lookup::Miss(m) if m.contains("writable by others"))
        );
    }

    #[test]
    fn entries_are_readable_by_all_and_root_or_ours_are_trusted() {
        let (_d, cache, dump, key) = setup();
        cache
            .store(&dump, &key, "auto", "none", &content())
            .unwrap();
        let entry = cache.path_of(&dump, "json");
        // The monitoring user reads what the backup job (root) wrote.
        assert_eq!(fs::metadata(&entry).unwrap().mode() & 0o777, 0o644);
        if unsafe { libc::geteuid() } == 0 {
            std::os::unix::fs::chown(&entry, Some(65534), None).unwrap();
            assert!(
                matches!(cache.lookup(&dump, &key, "auto", "none"), Lookup::Miss(m) if m.contains("owned by neither root nor us"))
            );
            std::os::unix::fs::chown(&entry, Some(0), None).unwrap();
            assert!(matches!(
                cache.lookup(&dump, &key, "auto", "none"),
                Lookup::Hit { .. }
            ));
        }
        fs::set_permissions(&entry, std::os::unix::fs::PermissionsExt::from_mode(0o664)).unwrap();
        assert!(
            matches!(cache.lookup(&dump, &key, "auto", "none"), Lookup::Miss(m) if m.contains("writable by others"))
        );
    }

    #[test]
    fn a_symlink_planted_in_the_cache_is_never_followed() {
        let (d, cache, dump, key) = setup();
        // A valid entry elsewhere, and a symlink to it where the entry belongs.
        cache
            .store(&dump, &key, "auto", "none", &content())
            .unwrap();
        let entry = cache.path_of(&dump, "json");
        let elsewhere = d.path().join("elsewhere.json");
        fs::rename(&entry, &elsewhere).unwrap();
        std::os::unix::fs::symlink(&elsewhere, &entry).unwrap();
        assert!(
            matches!(cache.lookup(&dump, &key, "auto", "none"), Lookup::Miss(m) if m.contains("symlink")),
        );
        // Storing replaces the symlink itself; its target is left alone.
        let before = fs::read(&elsewhere).unwrap();
        cache
            .store(&dump, &key, "none", "none", &content())
            .unwrap();
        assert!(fs::symlink_metadata(&entry).unwrap().is_file());
        assert_eq!(fs::read(&elsewhere).unwrap(), before);
        assert!(matches!(
            cache.lookup(&dump, &key, "none", "none"),
            Lookup::Hit { .. }
        ));
        // A symlink as the lock: not followed, nothing created at its target.
        let target = d.path().join("created-through-the-symlink");
        std::os::unix::fs::symlink(&target, cache.path_of(&dump, "lock")).unwrap();
        assert!(cache.try_lock(&dump).is_none());
        assert!(!target.exists());
        // No temporary file is left behind.
        let names: Vec<String> = fs::read_dir(cache.dir())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert!(names.iter().all(|n| !n.starts_with(".tmp-")), "{names:?}");
    }

    #[test]
    fn lock_is_exclusive() {
        let (_d, cache, dump, key) = setup();
        let held = cache.try_lock(&dump).expect("first lock");
        assert!(cache.try_lock(&dump).is_none());
        cache
            .write_progress(
                &dump,
                &ProgressNote {
                    pid: 1,
                    key,
                    bytes_read: 5,
                    started: 0,
                },
            )
            .unwrap();
        assert_eq!(
            cache
                .running_verification(&dump, &key)
                .map(|n| n.bytes_read),
            Some(5)
        );
        drop(held);
        assert!(cache.running_verification(&dump, &key).is_none());
    }

    fn files(cache: &Cache) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(cache.dir())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n != PRUNE_STAMP)
            .collect();
        names.sort();
        names
    }

    fn later(days: u64) -> SystemTime {
        SystemTime::now() + Duration::from_secs(days * 24 * 60 * 60)
    }

    #[test]
    fn pruning_drops_entries_of_gone_dumps_with_their_lock_and_progress() {
        let (d, cache, kept, key) = setup();
        let gone = d.path().join("gone.sql.gz");
        fs::write(&gone, b"y").unwrap();
        let gone_key = FileKey::of(&fs::metadata(&gone).unwrap());
        for (dump, key) in [(&kept, key), (&gone, gone_key)] {
            cache.store(dump, &key, "auto", "none", &content()).unwrap();
            drop(cache.try_lock(dump).unwrap());
            let note = ProgressNote {
                pid: 1,
                key,
                bytes_read: 1,
                started: 0,
            };
            cache.write_progress(dump, &note).unwrap();
        }
        let gone_files: Vec<String> = ["json", "lock", "progress"]
            .iter()
            .map(|e| Cache::name(&gone, e))
            .collect();
        fs::remove_file(&gone).unwrap();
        let pruned = cache
            .prune(PruneLimits::default(), SystemTime::now())
            .unwrap();
        assert_eq!(pruned.gone, 1, "{pruned:?}");
        let left = files(&cache);
        assert_eq!(left.len(), 3, "{left:?}");
        assert!(gone_files.iter().all(|f| !left.contains(f)), "{left:?}");
        assert!(matches!(
            cache.lookup(&kept, &key, "auto", "none"),
            Lookup::Hit { .. }
        ));
        // Nothing more to do the second time.
        assert_eq!(
            cache
                .prune(PruneLimits::default(), SystemTime::now())
                .unwrap(),
            Pruned::default()
        );
    }

    #[test]
    fn pruning_never_removes_a_held_lock_nor_its_entry() {
        let (_d, cache, dump, key) = setup();
        cache
            .store(&dump, &key, "auto", "none", &content())
            .unwrap();
        let held = cache.try_lock(&dump).unwrap();
        fs::remove_file(&dump).unwrap();
        let pruned = cache
            .prune(PruneLimits::default(), SystemTime::now())
            .unwrap();
        assert_eq!((pruned.gone, pruned.locked), (0, 1), "{pruned:?}");
        assert_eq!(files(&cache).len(), 2);
        // The lock is still the one held: nobody else can take it.
        assert!(cache.try_lock(&dump).is_none());
        drop(held);
        let pruned = cache
            .prune(PruneLimits::default(), SystemTime::now())
            .unwrap();
        assert_eq!(pruned.gone, 1, "{pruned:?}");
        assert!(files(&cache).is_empty(), "{:?}", files(&cache));
    }

    #[test]
    fn pruning_drops_old_entries_and_bounds_the_directory() {
        let (d, cache, dump, key) = setup();
        cache
            .store(&dump, &key, "auto", "none", &content())
            .unwrap();
        // Young: kept.
        assert_eq!(
            cache.prune(PruneLimits::default(), later(59)).unwrap(),
            Pruned::default()
        );
        let pruned = cache.prune(PruneLimits::default(), later(61)).unwrap();
        assert_eq!(pruned.old, 1, "{pruned:?}");
        assert!(files(&cache).is_empty());
        // Bounded: the oldest beyond the limit go, the newest stay.
        let mut dumps = Vec::new();
        for i in 0..5 {
            let p = d.path().join(format!("{i}.sql.gz"));
            fs::write(&p, b"z").unwrap();
            let k = FileKey::of(&fs::metadata(&p).unwrap());
            cache.store(&p, &k, "auto", "none", &content()).unwrap();
            // Verified at ascending times: the first ones are the oldest.
            let entry = cache.path_of(&p, "json");
            let mut e: Entry = serde_json::from_slice(&fs::read(&entry).unwrap()).unwrap();
            e.verified_at = 1_000_000 + i;
            fs::remove_file(&entry).unwrap();
            cache
                .write_atomic(&Cache::name(&p, "json"), &serde_json::to_vec(&e).unwrap())
                .unwrap();
            dumps.push(p);
        }
        let limits = PruneLimits {
            max_age: Duration::from_secs(u64::MAX / 4),
            max_entries: 2,
        };
        let pruned = cache.prune(limits, SystemTime::now()).unwrap();
        assert_eq!(pruned.excess, 3, "{pruned:?}");
        let left = files(&cache);
        assert_eq!(left, {
            let mut v = vec![
                Cache::name(&dumps[3], "json"),
                Cache::name(&dumps[4], "json"),
            ];
            v.sort();
            v
        });
    }

    #[test]
    fn pruning_follows_no_symlink_and_leaves_foreign_files() {
        let (d, cache, dump, key) = setup();
        cache
            .store(&dump, &key, "auto", "none", &content())
            .unwrap();
        // The entry of a dump that is gone, moved elsewhere and replaced by a symlink.
        let entry = cache.path_of(&dump, "json");
        let elsewhere = d.path().join("elsewhere.json");
        fs::rename(&entry, &elsewhere).unwrap();
        std::os::unix::fs::symlink(&elsewhere, &entry).unwrap();
        // A lock symlink to a file outside, old progress-looking symlink, a directory.
        let target = d.path().join("target");
        fs::write(&target, b"keep me").unwrap();
        std::os::unix::fs::symlink(&target, cache.dir().join("00000000000000aa.lock")).unwrap();
        std::os::unix::fs::symlink(&target, cache.dir().join("00000000000000bb.json")).unwrap();
        fs::create_dir(cache.dir().join("00000000000000cc.json")).unwrap();
        fs::remove_file(&dump).unwrap();
        let before = files(&cache);
        let pruned = cache.prune(PruneLimits::default(), later(400)).unwrap();
        assert_eq!(pruned, Pruned::default());
        assert_eq!(files(&cache), before);
        assert_eq!(fs::read(&target).unwrap(), b"keep me");
        assert!(elsewhere.is_file());
        // A lock symlink beside a real entry: the entry is kept too (never half removed).
        let (_d2, cache2, dump2, key2) = setup();
        cache2
            .store(&dump2, &key2, "auto", "none", &content())
            .unwrap();
        std::os::unix::fs::symlink(&target, cache2.path_of(&dump2, "lock")).unwrap();
        fs::remove_file(&dump2).unwrap();
        cache2
            .prune(PruneLimits::default(), SystemTime::now())
            .unwrap();
        assert_eq!(files(&cache2).len(), 2);
        assert_eq!(fs::read(&target).unwrap(), b"keep me");
    }

    #[test]
    fn pruning_drops_orphan_locks_and_temporaries_after_a_day_and_runs_once_per_interval() {
        let (_d, cache, dump, key) = setup();
        drop(cache.try_lock(&dump).unwrap());
        fs::write(cache.dir().join(".tmp-1-2-3"), b"").unwrap();
        assert_eq!(
            cache
                .prune(PruneLimits::default(), SystemTime::now())
                .unwrap(),
            Pruned::default()
        );
        let held = cache.try_lock(&dump).unwrap();
        let pruned = cache.prune(PruneLimits::default(), later(2)).unwrap();
        assert_eq!(pruned.orphans, 1, "only the temporary: {pruned:?}");
        drop(held);
        let pruned = cache.prune(PruneLimits::default(), later(2)).unwrap();
        assert_eq!(pruned.orphans, 1, "{pruned:?}");
        assert!(files(&cache).is_empty(), "{:?}", files(&cache));
        // Storing prunes when the stamp is old, and renews it.
        cache
            .store(&dump, &key, "auto", "none", &content())
            .unwrap();
        assert!(cache.dir().join(PRUNE_STAMP).is_file());
        assert!(cache.maybe_prune(SystemTime::now()).is_none());
        assert!(cache
            .maybe_prune(SystemTime::now() + PRUNE_INTERVAL * 2)
            .is_some());
    }
}
