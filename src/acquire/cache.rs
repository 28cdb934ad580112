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
//! The same directory holds, per dump, a lock file and a progress file for a background
//! verification still running (see [`BackgroundLock`]).

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
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
const FORMAT: &str = concat!("check_backup-cache-3/", env!("CARGO_PKG_VERSION"));
/// An entry is a few hundred bytes; anything much larger is not ours.
const MAX_ENTRY_BYTES: u64 = 256 * 1024;

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

    /// Per-dump file stem: a hash of the canonical path (FNV-1a; the entry repeats the
    /// path, so a collision is a miss, never a wrong verdict).
    fn stem(&self, dump: &Path) -> PathBuf {
        let canonical = fs::canonicalize(dump).unwrap_or_else(|_| dump.to_path_buf());
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for b in canonical.as_os_str().as_encoded_bytes() {
            hash ^= u64::from(*b);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
        self.dir.join(format!("{hash:016x}"))
    }

    fn canonical(dump: &Path) -> String {
        fs::canonicalize(dump)
            .unwrap_or_else(|_| dump.to_path_buf())
            .to_string_lossy()
            .into_owned()
    }

    /// Reads a file of ours: owned by us, not writable by others, small.
    fn read_trusted(path: &Path) -> Result<Vec<u8>, String> {
        let mut f = match File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Err("no entry".into()),
            Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
        };
        let meta = f.metadata().map_err(|e| e.to_string())?;
        // SAFETY: geteuid cannot fail.
        let me = unsafe { libc::geteuid() };
        if meta.uid() != me || meta.mode() & 0o022 != 0 {
            return Err(format!(
                "{} is not ours or is writable by others: ignored",
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
        let path = self.stem(dump).with_extension("json");
        let bytes = match Self::read_trusted(&path) {
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
        self.write_atomic(
            &self.stem(dump).with_extension("json"),
            &serde_json::to_vec(&entry)?,
        )
    }

    fn write_atomic(&self, path: &Path, bytes: &[u8]) -> io::Result<()> {
        let mut tmp = tempfile::Builder::new()
            .prefix(".tmp-")
            .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o600))
            .tempfile_in(&self.dir)?;
        tmp.write_all(bytes)?;
        tmp.as_file().sync_data()?;
        tmp.persist(path).map_err(|e| e.error)?;
        Ok(())
    }

    /// Records the progress of a background verification.
    pub fn write_progress(&self, dump: &Path, note: &ProgressNote) -> io::Result<()> {
        self.write_atomic(
            &self.stem(dump).with_extension("progress"),
            &serde_json::to_vec(note)?,
        )
    }

    /// The progress of a background verification of exactly this file version, if one is
    /// running now (its verifier holds the lock).
    pub fn running_verification(&self, dump: &Path, key: &FileKey) -> Option<ProgressNote> {
        let lock = self.stem(dump).with_extension("lock");
        if BackgroundLock::try_acquire_path(&lock).is_some() {
            return None; // nobody holds it: nothing running
        }
        let bytes = Self::read_trusted(&self.stem(dump).with_extension("progress")).ok()?;
        let note: ProgressNote = serde_json::from_slice(&bytes).ok()?;
        (note.key == *key).then_some(note)
    }

    /// Takes the per-dump verifier lock, unless another verifier holds it.
    pub fn try_lock(&self, dump: &Path) -> Option<BackgroundLock> {
        BackgroundLock::try_acquire_path(&self.stem(dump).with_extension("lock"))
    }
}

/// An exclusive `flock` on a per-dump lock file in the cache directory (never on the
/// backup itself): held by a background verifier for as long as it runs.
#[derive(Debug)]
pub struct BackgroundLock {
    _file: File,
}

impl BackgroundLock {
    fn try_acquire_path(path: &Path) -> Option<BackgroundLock> {
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(path)
            .ok()?;
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
        let entry = cache.stem(&dump).with_extension("json");
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
}
