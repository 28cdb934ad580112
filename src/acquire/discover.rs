//! Finding the dump to check: a file, the newest regular file of a directory, or the newest
//! match of a glob. Files that backup jobs leave beside a dump (checksums, signatures, their
//! log) are skipped by name, as are the operator's `--exclude` globs; never by content: a
//! damaged newest dump must be judged, not passed over for an older good one.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use thiserror::Error;

use super::backup_dir;
use crate::facts::DirKind;
use crate::sys;

pub use crate::facts::Candidate;

/// How a dump was looked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// A file named explicitly.
    File,
    /// A directory that is itself one backup (pg_dump -Fd, mydumper, mariabackup).
    BackupDirectory,
    /// The newest entry of a directory.
    Directory,
    /// The newest match of a glob.
    Glob,
    /// The newest dump of one database of a per-database set.
    PerDatabase,
    /// The newest entry of one kind of a pg_backupcluster directory.
    PgCluster,
}

impl std::fmt::Display for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Mode::File => "file",
            Mode::BackupDirectory => "backup directory",
            Mode::Directory => "directory",
            Mode::Glob => "glob",
            Mode::PerDatabase => "per database",
            Mode::PgCluster => "pg_backupcluster directory",
        })
    }
}

/// What discovery found: the chosen dump and how it got there (for `-v`).
#[derive(Debug, Clone)]
pub struct Discovery {
    /// The newest candidate.
    pub chosen: Candidate,
    /// How the spec was read.
    pub mode: Mode,
    /// Number of candidates considered.
    pub considered: usize,
    /// Up to 8 runners-up, newest first (the size trend, the previous dump, the trace).
    pub runners_up: Vec<Candidate>,
    /// Entries passed over, with the reason (bounded).
    pub skipped: Vec<(PathBuf, &'static str)>,
    /// Count of all skipped entries.
    pub skipped_total: usize,
    /// The newest file with a writer's temporary name (`*.tmp`, `*.part`, `.name.XXXX`...)
    /// beside the dump: a sign that a new dump is being written.
    pub newest_temporary: Option<Candidate>,
}

/// Why no dump could be chosen. Each variant knows which monitoring state it means.
#[derive(Debug, Error)]
pub enum DiscoverError {
    /// Nothing matched: the backup did not run, or wrote elsewhere.
    #[error("no dump found {0}")]
    NoDump(String),
    /// The directory that should hold the dump does not exist (volume not mounted?).
    #[error("directory {} does not exist (backup volume not mounted?)", .0.display())]
    MissingDirectory(PathBuf),
    /// The monitoring user may not read the path.
    #[error("permission denied reading {} as user {user}: {hint}", path.display())]
    PermissionDenied {
        /// The path that was refused.
        path: PathBuf,
        /// Who we run as.
        user: String,
        /// The typical fix.
        hint: String,
    },
    /// A FIFO, device or socket where a dump file was expected: never read.
    #[error("{} is a {kind}, not a regular file: refusing to read it", path.display())]
    NotRegular {
        /// The path.
        path: PathBuf,
        /// "FIFO", "character device", ...
        kind: &'static str,
    },
    /// Any other I/O error.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// The glob pattern does not parse.
    #[error("invalid glob pattern '{pattern}': {reason}")]
    BadGlob {
        /// As given.
        pattern: String,
        /// The glob crate's complaint.
        reason: String,
    },
}

impl DiscoverError {
    /// True for the errors that mean "the backup is missing" (CRITICAL) rather than "the
    /// check could not look" (UNKNOWN).
    pub fn is_missing_backup(&self) -> bool {
        matches!(
            self,
            DiscoverError::NoDump(_) | DiscoverError::MissingDirectory(_)
        )
    }
}

fn io_error(path: &Path, err: io::Error) -> DiscoverError {
    if err.kind() == io::ErrorKind::PermissionDenied {
        DiscoverError::PermissionDenied {
            path: path.to_path_buf(),
            user: sys::current_user(),
            hint: sys::permission_hint(path),
        }
    } else {
        DiscoverError::Io {
            path: path.to_path_buf(),
            source: err,
        }
    }
}

/// How to look: the operator's choices.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Follow symlinks found in a directory or glob.
    pub follow_symlinks: bool,
    /// `--exclude`: file names that are not dumps, matched against the name alone.
    pub exclude: Vec<glob::Pattern>,
    /// How many dumps before the newest to keep at least (`--restore-points` needs more
    /// than the size trend's 8); bounded by [`MAX_RUNNERS_UP`].
    pub keep_older: usize,
}

impl Options {
    /// How many dumps before the newest discovery keeps.
    fn keep(&self) -> usize {
        self.keep_older.clamp(KEEP_RUNNERS_UP, MAX_RUNNERS_UP)
    }

    /// Why an entry called `name` is not a dump candidate, if it is not one by its name.
    fn not_a_dump(&self, path: &Path, name: &str) -> Option<&'static str> {
        if self.exclude.iter().any(|p| p.matches(name)) {
            return Some("matches --exclude");
        }
        sidecar_reason_at(path, name)
    }
}

/// [`sidecar_reason`] for the entry at `path`. `.asc` is the one suffix shared by a file
/// beside a dump (an armoured detached signature) and a dump (`gpg --armor --encrypt`
/// writes `shop.sql.gz.asc`), so there its first line decides: an armoured *message* is a
/// dump.
pub fn sidecar_reason_at(path: &Path, name: &str) -> Option<&'static str> {
    let why = sidecar_reason(name)?;
    if name.to_ascii_lowercase().ends_with(".asc") && is_armoured_message(path) {
        return None;
    }
    Some(why)
}

/// Whether the file begins like an armoured OpenPGP message (encrypted data), as opposed
/// to a signature or key. Unreadable: no (it stays a skipped sidecar, as by its name).
fn is_armoured_message(path: &Path) -> bool {
    let Ok(file) = sys::open_readonly(path) else {
        return false;
    };
    let mut head = Vec::with_capacity(32);
    if io::Read::read_to_end(&mut io::Read::take(file, 32), &mut head).is_err() {
        return false;
    }
    head.starts_with(b"-----BEGIN PGP MESSAGE-----")
}

/// Suffixes of the files backup jobs write beside a dump, with what they are.
const SIDECAR_SUFFIXES: [(&str, &str); 10] = [
    (".sha256", "checksum file, not a dump"),
    (".sha512", "checksum file, not a dump"),
    (".sha1", "checksum file, not a dump"),
    (".md5", "checksum file, not a dump"),
    (".b2", "checksum file, not a dump"),
    (".sum", "checksum file, not a dump"),
    (".sig", "signature, not a dump"),
    (".asc", "signature, not a dump"),
    (".minisig", "signature, not a dump"),
    (".log", "log file, not a dump"),
];

/// Why a file called `name` is a file beside a dump rather than a dump (by its name only:
/// `shop.sql.gz.sha256`, `SHA256SUMS`, `backup.log`...), or None.
pub fn sidecar_reason(name: &str) -> Option<&'static str> {
    let lower = name.to_ascii_lowercase();
    if let Some((_, why)) = SIDECAR_SUFFIXES.iter().find(|(s, _)| lower.ends_with(s)) {
        return Some(why);
    }
    let list = ["sha256sums", "sha512sums", "sha1sums", "md5sums", "b2sums"]
        .iter()
        .any(|stem| {
            lower
                .strip_prefix(stem)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with(['.', '-', '_']))
        });
    list.then_some("checksum list, not a dump")
}

/// Names that are never a finished dump: hidden files and writers' temporary names.
pub fn is_temporary_name(name: &str) -> bool {
    name.starts_with('.')
        || [".tmp", ".part", ".partial", ".inprogress"]
            .iter()
            .any(|suffix| name.ends_with(suffix))
}

fn file_kind(ft: &fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if ft.is_fifo() {
        "FIFO"
    } else if ft.is_socket() {
        "socket"
    } else if ft.is_char_device() {
        "character device"
    } else if ft.is_block_device() {
        "block device"
    } else if ft.is_dir() {
        "directory"
    } else {
        "special file"
    }
}

fn has_glob_chars(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

/// Finds the dump named by `spec`: a file, a directory (newest regular file in it, no
/// descent), or a glob (newest match). Symlinks inside a directory or glob are followed
/// only with `follow_symlinks`; an explicitly named file may be a symlink (and is checked
/// whatever its name).
pub fn discover(spec: &str, options: &Options) -> Result<Discovery, DiscoverError> {
    let path = Path::new(spec);
    match fs::metadata(path) {
        Ok(meta) if meta.is_dir() => match backup_dir::detect(path) {
            // The directory is itself one backup (pg_dump -Fd, mydumper, mariabackup).
            Some(kind) => Ok(Discovery {
                chosen: backup_dir_candidate(path, kind).map_err(|e| io_error(path, e))?,
                mode: Mode::BackupDirectory,
                considered: 1,
                runners_up: Vec::new(),
                skipped: Vec::new(),
                skipped_total: 0,
                newest_temporary: None,
            }),
            None => discover_directory(path, options),
        },
        Ok(meta) if meta.is_file() => Ok(Discovery {
            chosen: Candidate {
                path: path.to_path_buf(),
                mtime: meta.modified().map_err(|e| io_error(path, e))?,
                size: meta.len(),
                dir_kind: None,
            },
            mode: Mode::File,
            considered: 1,
            runners_up: Vec::new(),
            skipped: Vec::new(),
            skipped_total: 0,
            newest_temporary: temporary_sibling(path),
        }),
        Ok(meta) => Err(DiscoverError::NotRegular {
            path: path.to_path_buf(),
            kind: file_kind(&meta.file_type()),
        }),
        Err(_) if has_glob_chars(spec) => discover_glob(spec, options),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            // `-f /mnt/backup/`: the operator named a directory.
            if spec.ends_with('/') {
                return Err(DiscoverError::MissingDirectory(nearest_missing(path)));
            }
            match path.parent().filter(|p| !p.as_os_str().is_empty()) {
                Some(parent) if fs::metadata(parent).is_err() => {
                    Err(DiscoverError::MissingDirectory(nearest_missing(parent)))
                }
                _ => Err(DiscoverError::NoDump(format!(
                    "at {} (file does not exist)",
                    path.display()
                ))),
            }
        }
        Err(e) => Err(io_error(path, e)),
    }
}

/// A regular file as a candidate, from its metadata (None without a modification time).
fn file_candidate(path: PathBuf, meta: &fs::Metadata) -> Option<Candidate> {
    Some(Candidate {
        mtime: meta.modified().ok()?,
        size: meta.len(),
        path,
        dir_kind: None,
    })
}

fn backup_dir_candidate(path: &Path, kind: DirKind) -> io::Result<Candidate> {
    let (mtime, size, _) = backup_dir::metadata(path, kind)?;
    Ok(Candidate {
        path: path.to_path_buf(),
        mtime,
        size,
        dir_kind: Some(kind),
    })
}

/// The newest temporary file a writer may be writing in place of `file`: `file.tmp`,
/// `file.part`, `file.partial`, `file.inprogress`, or rsync's `.file.XXXXXX`.
fn temporary_sibling(file: &Path) -> Option<Candidate> {
    let name = file.file_name()?.to_string_lossy().into_owned();
    let dir = match file.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let hidden = format!(".{name}.");
    let mut newest: Option<Candidate> = None;
    for entry in fs::read_dir(dir).ok()?.flatten() {
        let other = entry.file_name().to_string_lossy().into_owned();
        let related = (other.starts_with(&name) && other != name && is_temporary_name(&other))
            || other.starts_with(&hidden);
        if !related {
            continue;
        }
        if let Ok(meta) = entry.metadata() {
            if meta.is_file() {
                if let Ok(mtime) = meta.modified() {
                    if newest.as_ref().is_none_or(|n| mtime > n.mtime) {
                        newest = Some(Candidate {
                            path: entry.path(),
                            mtime,
                            size: meta.len(),
                            dir_kind: None,
                        });
                    }
                }
            }
        }
    }
    newest
}

/// The discovery of one database's dumps (as [`discover_per_database`] groups them, newest
/// first), so that each database is judged exactly as a single dump is.
pub fn per_database_discovery(mut candidates: Vec<Candidate>) -> Option<Discovery> {
    if candidates.is_empty() {
        return None;
    }
    let chosen = candidates.remove(0);
    Some(Discovery {
        chosen,
        mode: Mode::PerDatabase,
        considered: candidates.len() + 1,
        runners_up: candidates,
        skipped: Vec::new(),
        skipped_total: 0,
        newest_temporary: None,
    })
}

/// The entries of one kind of a pg_backupcluster directory (as
/// [`super::pg_cluster::entries`] lists them, newest first) as a discovery: the newest, and
/// up to 8 before it. The error names the newest entry when it cannot be read.
pub fn cluster_discovery(
    paths: &[PathBuf],
    kind: DirKind,
) -> Result<Option<Discovery>, (PathBuf, io::Error)> {
    let Some(newest) = paths.first() else {
        return Ok(None);
    };
    let chosen = backup_dir_candidate(newest, kind).map_err(|e| (newest.clone(), e))?;
    let runners_up: Vec<Candidate> = paths[1..]
        .iter()
        .take(KEEP_RUNNERS_UP)
        .filter_map(|p| backup_dir_candidate(p, kind).ok())
        .collect();
    Ok(Some(Discovery {
        chosen,
        mode: Mode::PgCluster,
        considered: paths.len(),
        runners_up,
        skipped: Vec::new(),
        skipped_total: 0,
        newest_temporary: None,
    }))
}

/// One dump per database: walks `root` (at most 4 levels, 200,000 entries) and groups the
/// regular files whose path below `root` matches `re` by the regex's first group, each
/// group newest first (at most 9: the newest and the earlier ones for the size trend).
pub fn discover_per_database(
    root: &Path,
    re: &regex::Regex,
    options: &Options,
) -> Result<std::collections::BTreeMap<String, Vec<Candidate>>, DiscoverError> {
    match fs::metadata(root) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => {
            return Err(DiscoverError::NoDump(format!(
                "per database: {} is not a directory",
                root.display()
            )))
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(DiscoverError::MissingDirectory(nearest_missing(root)))
        }
        Err(e) => return Err(io_error(root, e)),
    }
    let mut groups: std::collections::BTreeMap<String, Vec<Candidate>> = Default::default();
    let mut todo = vec![(root.to_path_buf(), 0usize)];
    let mut seen = 0usize;
    let mut denied = None;
    while let Some((dir, depth)) = todo.pop() {
        let entries = match fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if dir == root => return Err(io_error(root, e)),
            // A subdirectory we may not list (lost+found of a backup volume, or a
            // database's directory): an error only if it leaves no dump at all.
            Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {
                denied.get_or_insert((dir, e));
                continue;
            }
            Err(_) => continue,
        };
        for entry in entries.flatten() {
            seen += 1;
            if seen > 200_000 {
                break;
            }
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if is_temporary_name(&name) || options.not_a_dump(&path, &name).is_some() {
                continue;
            }
            let lmeta = match fs::symlink_metadata(&path) {
                Ok(m) => m,
                // A directory we may list but not traverse: its dumps are invisible.
                Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {
                    return Err(io_error(&dir, e));
                }
                Err(_) => continue,
            };
            let meta = if lmeta.file_type().is_symlink() {
                if !options.follow_symlinks {
                    continue;
                }
                match fs::metadata(&path) {
                    Ok(m) => m,
                    Err(_) => continue,
                }
            } else {
                lmeta
            };
            // The path below the root (`daily/shop/...`), else the file name alone.
            let rel = path
                .strip_prefix(root)
                .unwrap_or(&path)
                .to_string_lossy()
                .into_owned();
            let db_of = |text: &str| {
                re.captures(text)
                    .and_then(|c| c.get(1))
                    .map(|m| m.as_str().to_string())
            };
            let candidate = if meta.is_dir() {
                // A backup directory (pg_dump -Fd, mydumper, mariabackup) named like a
                // database's dumps is one dump of it, and so is an empty one (a run that
                // wrote nothing); other directories are walked.
                let db = db_of(&rel).or_else(|| db_of(&name));
                let kind = db.as_ref().and_then(|_| {
                    backup_dir::detect(&path)
                        .or_else(|| backup_dir::is_empty(&path).then_some(DirKind::NoBackup))
                });
                match (db, kind) {
                    (Some(db), Some(kind)) => match backup_dir_candidate(&path, kind) {
                        Ok(c) => (db, c),
                        Err(_) => continue,
                    },
                    _ => {
                        if depth < 4 {
                            todo.push((path, depth + 1));
                        }
                        continue;
                    }
                }
            } else if meta.is_file() {
                let Some(db) = db_of(&rel).or_else(|| db_of(&name)) else {
                    continue;
                };
                let Some(candidate) = file_candidate(path, &meta) else {
                    continue;
                };
                (db, candidate)
            } else {
                continue;
            };
            let (db, candidate) = candidate;
            let group = groups.entry(db).or_default();
            group.push(candidate);
            group.sort_by(|a, b| (b.mtime, &b.path).cmp(&(a.mtime, &a.path)));
            group.truncate(options.keep() + 1);
        }
    }
    if let (true, Some((dir, e))) = (groups.is_empty(), denied) {
        return Err(io_error(&dir, e));
    }
    Ok(groups)
}

/// The topmost missing ancestor, so the message names the mount point that is absent.
fn nearest_missing(dir: &Path) -> PathBuf {
    let mut missing = dir.to_path_buf();
    while let Some(parent) = missing.parent() {
        if parent.as_os_str().is_empty() || fs::metadata(parent).is_ok() {
            break;
        }
        missing = parent.to_path_buf();
    }
    missing
}

const KEEP_SKIPPED: usize = 20;
/// Enough earlier dumps for the size-trend rule (7) plus one, should the newest be in
/// progress and the previous one judged instead.
const KEEP_RUNNERS_UP: usize = 8;
/// The most dumps before the newest ever kept (memory stays bounded in a huge directory).
pub const MAX_RUNNERS_UP: usize = 1000;

/// Collects candidates and keeps only the newest (plus a few runners-up): a directory of
/// 100,000 files costs one stat each and no sorting.
struct Collector {
    best: Vec<Candidate>,
    considered: usize,
    skipped: Vec<(PathBuf, &'static str)>,
    skipped_total: usize,
    newest_temporary: Option<Candidate>,
    /// The newest subdirectory that is not a backup directory.
    newest_other_dir: Option<Candidate>,
    /// The first entry whose metadata the user may not read (a directory it may list but
    /// not traverse): such an entry may be the newest dump, so nothing can be chosen.
    denied: Option<PathBuf>,
}

impl Collector {
    fn new() -> Self {
        Collector {
            best: Vec::new(),
            considered: 0,
            skipped: Vec::new(),
            skipped_total: 0,
            newest_temporary: None,
            newest_other_dir: None,
            denied: None,
        }
    }

    fn skip(&mut self, path: PathBuf, reason: &'static str) {
        self.skipped_total += 1;
        if self.skipped.len() < KEEP_SKIPPED {
            self.skipped.push((path, reason));
        }
    }

    /// Looks at one directory entry or glob match.
    fn consider(&mut self, path: PathBuf, options: &Options) {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        // The operator's --exclude first: it also keeps a temporary name from counting as a
        // backup in progress.
        if options.exclude.iter().any(|p| p.matches(&name)) {
            return self.skip(path, "matches --exclude");
        }
        if is_temporary_name(&name) {
            if let Ok(meta) = fs::symlink_metadata(&path) {
                if let (true, Ok(mtime)) = (meta.is_file(), meta.modified()) {
                    if self
                        .newest_temporary
                        .as_ref()
                        .is_none_or(|n| mtime > n.mtime)
                    {
                        self.newest_temporary = Some(Candidate {
                            path: path.clone(),
                            mtime,
                            size: meta.len(),
                            dir_kind: None,
                        });
                    }
                }
            }
            return self.skip(path, "hidden or temporary name");
        }
        if let Some(why) = sidecar_reason_at(&path, &name) {
            return self.skip(path, why);
        }
        let meta = match fs::symlink_metadata(&path) {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {
                self.denied.get_or_insert_with(|| path.clone());
                return self.skip(path, "permission denied");
            }
            Err(_) => return self.skip(path, "vanished or unreadable"),
        };
        let meta = if meta.file_type().is_symlink() {
            if !options.follow_symlinks {
                return self.skip(path, "symlink (use --follow-symlinks)");
            }
            match fs::metadata(&path) {
                Ok(m) => m,
                Err(_) => return self.skip(path, "dangling symlink"),
            }
        } else {
            meta
        };
        let candidate = if meta.is_dir() {
            // Subdirectories are not descended into, but one that is itself a backup
            // (dated pg_dump -Fd, mydumper or mariabackup directories) is a candidate.
            let Some(kind) = backup_dir::detect(&path) else {
                // Remembered: when the others are backup directories, a newer one that
                // holds none is a failed run (see `finish`).
                if let Ok(mtime) = meta.modified() {
                    if self
                        .newest_other_dir
                        .as_ref()
                        .is_none_or(|d| mtime > d.mtime)
                    {
                        self.newest_other_dir = Some(Candidate {
                            path,
                            mtime,
                            size: 0,
                            dir_kind: Some(DirKind::NoBackup),
                        });
                    }
                }
                return;
            };
            match backup_dir_candidate(&path, kind) {
                Ok(c) => c,
                Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {
                    self.denied.get_or_insert_with(|| path.clone());
                    return self.skip(path, "permission denied");
                }
                Err(_) => return self.skip(path, "unreadable backup directory"),
            }
        } else if meta.is_file() {
            match file_candidate(path.clone(), &meta) {
                Some(c) => c,
                None => return self.skip(path, "no modification time"),
            }
        } else {
            return self.skip(path, "not a regular file");
        };
        self.considered += 1;
        // Newest first; ties broken by name, the greater name wins (date-stamped names).
        let pos = self
            .best
            .iter()
            .position(|c| (candidate.mtime, &candidate.path) > (c.mtime, &c.path))
            .unwrap_or(self.best.len());
        if pos <= options.keep() {
            self.best.insert(pos, candidate);
            self.best.truncate(options.keep() + 1);
        }
    }

    /// The newest candidate, unless an entry could not be looked at for lack of permission
    /// (`listed`: the directory or glob that was listed): then the newest dump is unknown,
    /// and saying "no dump" or judging an older one would be wrong.
    fn finish(
        mut self,
        mode: Mode,
        nothing: String,
        listed: &Path,
    ) -> Result<Discovery, DiscoverError> {
        if let Some(entry) = self.denied.take() {
            // Stat refused inside a listable directory: the directory lacks x (search)
            // permission for us; else it is the entry itself (a backup directory).
            let parent = entry.parent().unwrap_or(listed);
            let at = if fs::symlink_metadata(&entry).is_err() {
                parent
            } else {
                &entry
            };
            return Err(io_error(
                at,
                io::Error::from(io::ErrorKind::PermissionDenied),
            ));
        }
        if self.best.is_empty() {
            return Err(DiscoverError::NoDump(nothing));
        }
        // Dated backup directories, the newest of which holds no backup: that is the last
        // run, and it failed. An older good directory must not hide it.
        if let Some(other) = self.newest_other_dir.take() {
            let backup_dirs = self.best.iter().any(|c| c.dir_kind.is_some());
            if backup_dirs && other.mtime > self.best[0].mtime {
                self.best.insert(0, other);
                self.best.truncate(KEEP_RUNNERS_UP + 1);
            }
        }
        let chosen = self.best.remove(0);
        Ok(Discovery {
            chosen,
            mode,
            considered: self.considered,
            runners_up: self.best,
            skipped: self.skipped,
            skipped_total: self.skipped_total,
            newest_temporary: self.newest_temporary,
        })
    }
}

fn discover_directory(dir: &Path, options: &Options) -> Result<Discovery, DiscoverError> {
    let entries = fs::read_dir(dir).map_err(|e| io_error(dir, e))?;
    let mut collector = Collector::new();
    for entry in entries {
        let entry = entry.map_err(|e| io_error(dir, e))?;
        collector.consider(entry.path(), options);
    }
    let what = format!("in {}", dir.display());
    let nothing = if collector.skipped_total > 0 {
        format!(
            "{what} ({} entries skipped, e.g. {}: {})",
            collector.skipped_total,
            collector.skipped[0].0.display(),
            collector.skipped[0].1
        )
    } else {
        format!("{what} (directory is empty)")
    };
    collector.finish(Mode::Directory, nothing, dir)
}

fn discover_glob(pattern: &str, options: &Options) -> Result<Discovery, DiscoverError> {
    let paths = glob::glob(pattern).map_err(|e| DiscoverError::BadGlob {
        pattern: pattern.to_string(),
        reason: e.to_string(),
    })?;
    let mut collector = Collector::new();
    let mut denied = None;
    for entry in paths {
        match entry {
            Ok(path) => collector.consider(path, options),
            Err(e) => {
                if e.error().kind() == io::ErrorKind::PermissionDenied && denied.is_none() {
                    denied = Some(e.path().to_path_buf());
                }
            }
        }
    }
    if collector.best.is_empty() {
        if let Some(path) = denied {
            return Err(io_error(
                &path,
                io::Error::from(io::ErrorKind::PermissionDenied),
            ));
        }
        // A glob whose fixed directory part is missing: same message as for a file.
        let fixed: PathBuf = Path::new(pattern)
            .components()
            .take_while(|c| !has_glob_chars(&c.as_os_str().to_string_lossy()))
            .collect();
        if !fixed.as_os_str().is_empty() && fs::metadata(&fixed).is_err() {
            return Err(DiscoverError::MissingDirectory(nearest_missing(&fixed)));
        }
    }
    let nothing = format!("matching {pattern}");
    collector.finish(Mode::Glob, nothing, Path::new(pattern))
}

#[cfg(test)]
mod tests {
    use super::*;
    use filetime::{set_file_mtime, FileTime};

    fn touch(dir: &Path, name: &str, mtime: i64) -> PathBuf {
        let p = dir.join(name);
        fs::write(&p, b"x").unwrap();
        set_file_mtime(&p, FileTime::from_unix_time(mtime, 0)).unwrap();
        p
    }

    fn follow() -> Options {
        Options {
            follow_symlinks: true,
            ..Options::default()
        }
    }

    #[test]
    fn sidecar_names() {
        for n in [
            "shop.sql.gz.sha256",
            "shop.sql.gz.SHA512",
            "x.sha1",
            "x.md5",
            "x.b2",
            "x.sum",
            "x.sig",
            "x.asc",
            "x.minisig",
            "backup.log",
            "SHA256SUMS",
            "sha512sums",
            "SHA1SUMS.txt",
            "MD5SUMS",
            "B2SUMS",
            "sha256sums-2026-12-01",
        ] {
            assert!(sidecar_reason(n).is_some(), "{n}");
        }
        for n in [
            "shop.sql.gz",
            "log.sql",
            "catalog.sql.gz",
            "summary.sql",
            "md5sumsdb.sql",
            "shop.sql.gz.1",
            "x.logs.tar",
        ] {
            assert_eq!(sidecar_reason(n), None, "{n}");
        }
    }

    #[test]
    fn sidecars_and_excluded_names_are_skipped_with_a_reason() {
        let d = tempfile::tempdir().unwrap();
        touch(d.path(), "shop.sql.gz", 1000);
        touch(d.path(), "shop.sql.gz.sha256", 2000);
        touch(d.path(), "SHA256SUMS", 2000);
        touch(d.path(), "backup.log", 3000);
        touch(d.path(), "notes.txt", 4000);
        let options = Options {
            exclude: vec![glob::Pattern::new("*.txt").unwrap()],
            ..Options::default()
        };
        let found = discover(d.path().to_str().unwrap(), &options).unwrap();
        assert_eq!(found.chosen.path, d.path().join("shop.sql.gz"));
        assert_eq!((found.considered, found.skipped_total), (1, 4));
        let mut reasons: Vec<_> = found
            .skipped
            .iter()
            .map(|(p, why)| format!("{}: {why}", p.file_name().unwrap().to_string_lossy()))
            .collect();
        reasons.sort();
        assert_eq!(
            reasons,
            [
                "SHA256SUMS: checksum list, not a dump",
                "backup.log: log file, not a dump",
                "notes.txt: matches --exclude",
                "shop.sql.gz.sha256: checksum file, not a dump",
            ]
        );
        // A glob skips them too; a file named explicitly is checked whatever its name.
        let pattern = format!("{}/shop*", d.path().display());
        let found = discover(&pattern, &Options::default()).unwrap();
        assert_eq!(found.chosen.path, d.path().join("shop.sql.gz"));
        let named = d.path().join("backup.log");
        let found = discover(named.to_str().unwrap(), &options).unwrap();
        assert_eq!(found.chosen.path, named);
    }

    #[test]
    fn temporary_names() {
        for n in [".hidden", "db.sql.gz.tmp", "x.part", "x.partial"] {
            assert!(is_temporary_name(n), "{n}");
        }
        for n in ["db.sql.gz", "partial-backup.sql", "tmp.sql"] {
            assert!(!is_temporary_name(n), "{n}");
        }
    }

    #[test]
    fn newest_in_directory_with_name_tiebreak() {
        let d = tempfile::tempdir().unwrap();
        touch(d.path(), "a.sql", 1000);
        touch(d.path(), "b.sql", 2000);
        touch(d.path(), "c.sql", 2000);
        touch(d.path(), "z.sql.tmp", 9000);
        touch(d.path(), ".hidden", 9000);
        fs::create_dir(d.path().join("sub")).unwrap();
        let found = discover(d.path().to_str().unwrap(), &Options::default()).unwrap();
        assert_eq!(found.chosen.path, d.path().join("c.sql"));
        assert_eq!(found.considered, 3);
        assert_eq!(found.skipped_total, 2);
        assert_eq!(found.mode, Mode::Directory);
    }

    #[test]
    fn glob_picks_newest_match() {
        let d = tempfile::tempdir().unwrap();
        touch(d.path(), "db-1.sql.gz", 3000);
        touch(d.path(), "db-2.sql.gz", 1000);
        touch(d.path(), "other.txt", 9000);
        let pattern = format!("{}/db-*.sql.gz", d.path().display());
        let found = discover(&pattern, &Options::default()).unwrap();
        assert_eq!(found.chosen.path, d.path().join("db-1.sql.gz"));
        assert_eq!(found.mode, Mode::Glob);
    }

    #[test]
    fn missing_things() {
        let d = tempfile::tempdir().unwrap();
        let e = discover(
            d.path().join("nope/deeper/x.sql").to_str().unwrap(),
            &Options::default(),
        )
        .unwrap_err();
        assert!(matches!(&e, DiscoverError::MissingDirectory(p) if p == &d.path().join("nope")));
        let e = discover(
            d.path().join("x.sql").to_str().unwrap(),
            &Options::default(),
        )
        .unwrap_err();
        assert!(matches!(e, DiscoverError::NoDump(_)));
        let e = discover(d.path().to_str().unwrap(), &Options::default()).unwrap_err();
        assert!(e.to_string().contains("directory is empty"), "{e}");
        let e = discover(&format!("{}/*.gz", d.path().display()), &Options::default()).unwrap_err();
        assert!(e.to_string().contains("matching"), "{e}");
        assert!(e.is_missing_backup());
    }

    #[test]
    fn symlinks_need_permission() {
        let d = tempfile::tempdir().unwrap();
        let real = touch(d.path(), "real.sql", 1000);
        std::os::unix::fs::symlink(&real, d.path().join("link.sql")).unwrap();
        set_file_mtime(&real, FileTime::from_unix_time(1000, 0)).unwrap();
        let found = discover(d.path().to_str().unwrap(), &Options::default()).unwrap();
        assert_eq!(found.chosen.path, real);
        assert_eq!(found.skipped_total, 1);
        let found = discover(d.path().to_str().unwrap(), &follow()).unwrap();
        assert_eq!(found.considered, 2);
    }
}
