//! Backups that are directories: pg_dump's directory format (`pg_dump -Fd`), mydumper, and
//! mariabackup/xtrabackup. Each is recognised by its layout, never by its name, and
//! verified by what its tool writes last: `toc.dat` and the data files it names, mydumper's
//! `metadata` with its `Finished dump at` line, the `xtrabackup_checkpoints` file.

use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU64;
use std::time::SystemTime;

use super::cache::FileKey;
use crate::facts::{ArchiveFacts, ArchiveKind, ClusterEntryFacts, DirKind};
use crate::formats::pg_archive;

impl DirKind {
    /// The file whose mtime dates the backup (written at its end), if present.
    fn completion_file(&self, dir: &Path) -> Option<PathBuf> {
        let names: &[&str] = match self {
            DirKind::PgDirectory => &["toc.dat"],
            DirKind::Mydumper => &["metadata", "metadata.partial"],
            DirKind::Xtrabackup => &["xtrabackup_checkpoints", "mariadb_backup_checkpoints"],
            DirKind::NoBackup => &[],
            DirKind::PgClusterDump | DirKind::PgBaseBackup => &["status"],
        };
        names.iter().map(|n| dir.join(n)).find(|p| p.is_file())
    }
}

fn is_pg_data_file(name: &str) -> bool {
    let stem = name
        .trim_end_matches(".gz")
        .trim_end_matches(".lz4")
        .trim_end_matches(".zst");
    stem.strip_suffix(".dat")
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

fn is_mydumper_schema(name: &str) -> bool {
    let stem = name.trim_end_matches(".gz").trim_end_matches(".zst");
    stem.ends_with("-schema.sql") || stem.ends_with("-schema-create.sql")
}

/// Recognises a backup directory by its layout.
pub fn detect(dir: &Path) -> Option<DirKind> {
    let has = |name: &str| dir.join(name).is_file();
    if has("toc.dat") {
        return Some(DirKind::PgDirectory);
    }
    if let Some(kind) = super::pg_cluster::detect_entry(dir) {
        return Some(kind);
    }
    // A finished backup has its checkpoints file; an unfinished one (killed, disk full)
    // still has what the tool copies first.
    if [
        "xtrabackup_checkpoints",
        "mariadb_backup_checkpoints",
        "backup-my.cnf",
        "xtrabackup_logfile",
        "ib_logfile0",
        "ibdata1",
        "aria_log_control",
    ]
    .iter()
    .any(|n| has(n))
    {
        return Some(DirKind::Xtrabackup);
    }
    let names: Vec<String> = fs::read_dir(dir)
        .ok()?
        .flatten()
        .take(10_000)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    if (has("metadata") || has("metadata.partial")) && names.iter().any(|n| is_mydumper_schema(n)) {
        return Some(DirKind::Mydumper);
    }
    // pg_dump -Fd writes toc.dat last: data files alone are an unfinished archive.
    if !names.is_empty() && names.iter().any(|n| is_pg_data_file(n)) {
        return Some(DirKind::PgDirectory);
    }
    None
}

/// The files of a backup directory (recursively for xtrabackup), bounded.
fn files(dir: &Path, recursive: bool) -> io::Result<Vec<(PathBuf, fs::Metadata)>> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in fs::read_dir(&d)? {
            let entry = entry?;
            let meta = entry.metadata()?;
            if meta.is_dir() && recursive && !meta.file_type().is_symlink() {
                todo.push(entry.path());
            } else if meta.is_file() {
                out.push((entry.path(), meta));
            }
            if out.len() > 1_000_000 {
                return Err(io::Error::other("more than a million files"));
            }
        }
    }
    Ok(out)
}

/// Age, size and cache key of a backup directory: its completion file's mtime, the total
/// size of its files, and a key that changes when any file in it changes (the newest
/// ctime of the directory and all its files).
pub fn metadata(dir: &Path, kind: DirKind) -> io::Result<(SystemTime, u64, FileKey)> {
    let dir_meta = fs::metadata(dir)?;
    let all = files(dir, kind == DirKind::Xtrabackup)?;
    let size: u64 = all.iter().map(|(_, m)| m.len()).sum();
    let mtime = match kind.completion_file(dir) {
        Some(p) => fs::metadata(p)?.modified()?,
        None => all
            .iter()
            .filter_map(|(_, m)| m.modified().ok())
            .max()
            .unwrap_or(dir_meta.modified()?),
    };
    let mut key = FileKey::of(&dir_meta);
    key.size = size;
    for (_, m) in &all {
        let k = FileKey::of(m);
        key.mtime_ns = key.mtime_ns.max(k.mtime_ns);
        key.ctime_ns = key.ctime_ns.max(k.ctime_ns);
    }
    Ok((mtime, size, key))
}

/// What verifying a backup directory established.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DirFacts {
    /// An archive's facts, ready for the content findings.
    Archive(ArchiveFacts),
    /// A pg_backupcluster entry's facts, for `judge::pg_cluster` to summarise.
    ClusterEntry(ClusterEntryFacts),
}

/// Verifies a backup directory of the given kind.
pub fn verify(dir: &Path, kind: DirKind, progress: &AtomicU64) -> io::Result<DirFacts> {
    Ok(match kind {
        DirKind::PgDirectory => DirFacts::Archive(verify_pg_directory(dir, progress)?),
        DirKind::Mydumper => DirFacts::Archive(verify_mydumper(dir, progress)?),
        DirKind::Xtrabackup => DirFacts::Archive(verify_xtrabackup(dir)?),
        DirKind::NoBackup => DirFacts::Archive(verify_no_backup(dir)?),
        DirKind::PgClusterDump | DirKind::PgBaseBackup => {
            DirFacts::ClusterEntry(super::pg_cluster::verify(dir, kind, progress)?)
        }
    })
}

/// The databases a backup directory holds, from its layout: mydumper's
/// `<db>-schema-create.sql[.gz|.zst]` files, mariabackup's database subdirectories. Empty
/// for layouts that hold one database without naming it (pg_dump -Fd's name is in its TOC).
pub fn databases(dir: &Path, kind: DirKind) -> io::Result<Vec<String>> {
    let mut names: Vec<String> = match kind {
        DirKind::Mydumper => fs::read_dir(dir)?
            .flatten()
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                let stem = name.trim_end_matches(".gz").trim_end_matches(".zst");
                stem.strip_suffix("-schema-create.sql").map(str::to_string)
            })
            .collect(),
        DirKind::Xtrabackup => fs::read_dir(dir)?
            .flatten()
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect(),
        DirKind::PgDirectory | DirKind::NoBackup => Vec::new(),
        // pg_backupcluster entries are judged against their own databases.sql.
        DirKind::PgClusterDump | DirKind::PgBaseBackup => Vec::new(),
    };
    names.sort();
    Ok(names)
}

/// Whether a directory has no entry at all.
pub fn is_empty(dir: &Path) -> bool {
    fs::read_dir(dir).is_ok_and(|mut entries| entries.next().is_none())
}

/// A directory where a backup was due but none is: always a problem, saying what is there.
fn verify_no_backup(dir: &Path) -> io::Result<ArchiveFacts> {
    let mut facts = ArchiveFacts::new(ArchiveKind::NoBackup);
    let count = fs::read_dir(dir)?.take(100_001).count();
    facts.problem = Some(if count == 0 {
        "it is empty: the run that made it left no backup (server down, or killed before writing)"
            .into()
    } else {
        format!(
            "it holds {count} entries in no layout this check recognises (pg_dump -Fd, mydumper, mariabackup): the run that made it left no backup that can be verified"
        )
    });
    Ok(facts)
}

fn read_small(path: &Path) -> io::Result<String> {
    let mut text = String::new();
    crate::sys::open_readonly(path)?
        .take(1 << 20)
        .read_to_string(&mut text)?;
    Ok(text)
}

/// mydumper's table and schema files (`*.sql*`), sorted, with their sizes.
fn mydumper_files(dir: &Path) -> io::Result<Vec<(PathBuf, u64)>> {
    let mut names: Vec<(PathBuf, u64)> = files(dir, false)?
        .into_iter()
        .map(|(p, m)| (p, m.len()))
        .filter(|(p, _)| {
            p.file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .contains(".sql")
        })
        .collect();
    names.sort();
    Ok(names)
}

fn verify_mydumper(dir: &Path, progress: &AtomicU64) -> io::Result<ArchiveFacts> {
    let mut facts = ArchiveFacts::new(ArchiveKind::Mydumper);
    let metadata = dir.join("metadata");
    if !metadata.is_file() {
        let mut problem: String = if dir.join("metadata.partial").is_file() {
            "only metadata.partial exists: mydumper has not finished (still running, or killed)"
                .into()
        } else {
            "no metadata file: mydumper did not finish".into()
        };
        // Say which table it was at: the first empty or cut table file.
        for (path, size) in &mydumper_files(dir)? {
            let name = path.file_name().unwrap_or_default().to_string_lossy();
            if *size == 0 {
                problem.push_str(&format!("; {name} is empty"));
                break;
            }
            let stream =
                crate::decode::verify_stream(crate::sys::open_readonly(path)?, *size, progress)?;
            if let Some(p) = stream.problem {
                problem.push_str(&format!(
                    "; {name}: {}",
                    p.describe(stream.compression, *size)
                ));
                break;
            }
        }
        facts.problem = Some(problem);
        return Ok(facts);
    }
    let text = read_small(&metadata)?;
    let Some(finished) = text
        .lines()
        .find_map(|l| l.trim_start_matches("# ").strip_prefix("Finished dump at:"))
    else {
        facts.problem =
            Some("metadata has no 'Finished dump at:' line: mydumper did not finish".into());
        return Ok(facts);
    };
    let names = mydumper_files(dir)?;
    let mut compressed = 0;
    for (path, size) in &names {
        facts.data_entries += 1;
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        // A compressed file holds at least its format's header: an empty one was cut before
        // its first byte (mydumper 0.10 on a full disk leaves them, finishes and exits 0).
        if *size == 0 && [".gz", ".zst"].iter().any(|s| name.ends_with(s)) {
            facts.problem = Some(format!(
                "{name} is empty (0 bytes, not even a compression header): written on a full disk, or cut"
            ));
            return Ok(facts);
        }
        let file = crate::sys::open_readonly(path)?;
        let stream = crate::decode::verify_stream(file, *size, progress)?;
        if stream.compression != crate::facts::Compression::Plain {
            compressed += 1;
            facts.compression = stream.compression.name().into();
        }
        if let Some(problem) = stream.problem {
            facts.problem = Some(format!(
                "{}: {}",
                path.file_name().unwrap_or_default().to_string_lossy(),
                problem.describe(stream.compression, *size)
            ));
            return Ok(facts);
        }
        facts.tables += 1;
    }
    if names.is_empty() {
        facts.problem = Some("no table files (*.sql*) in the mydumper directory".into());
        return Ok(facts);
    }
    facts.detail = format!(
        "finished at{}, {} files verified{}",
        finished.trim_end(),
        facts.tables,
        if compressed > 0 {
            format!(" ({compressed} compressed streams whole)")
        } else {
            String::new()
        }
    );
    Ok(facts)
}

/// The `key = value` pairs of an xtrabackup_checkpoints file.
fn checkpoints(text: &str) -> Vec<(&str, &str)> {
    text.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim(), v.trim()))
        .collect()
}

fn verify_xtrabackup(dir: &Path) -> io::Result<ArchiveFacts> {
    let mut facts = ArchiveFacts::new(ArchiveKind::Xtrabackup);
    let Some(path) = DirKind::Xtrabackup.completion_file(dir) else {
        facts.problem = Some("no xtrabackup_checkpoints file: the backup did not finish".into());
        return Ok(facts);
    };
    let text = read_small(&path)?;
    let pairs = checkpoints(&text);
    let get = |k: &str| pairs.iter().find(|(key, _)| *key == k).map(|(_, v)| *v);
    let backup_type = get("backup_type").unwrap_or("");
    if ![
        "full-backuped",
        "incremental",
        "full-prepared",
        "log-applied",
    ]
    .contains(&backup_type)
    {
        facts.problem = Some(format!(
            "xtrabackup_checkpoints has backup_type '{}', not a finished backup",
            crate::text::safe(backup_type, 40)
        ));
        return Ok(facts);
    }
    let Some(to_lsn) =
        get("to_lsn").filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
    else {
        facts.problem =
            Some("xtrabackup_checkpoints has no to_lsn: the backup did not finish".into());
        return Ok(facts);
    };
    if let Ok(info) = read_small(&dir.join("xtrabackup_info")) {
        if let Some(v) = info.lines().find_map(|l| {
            l.strip_prefix("tool_version")
                .map(|r| r.trim_start_matches([' ', '=']).trim())
        }) {
            facts.version = v.to_string();
        }
    }
    facts.detail = format!(
        "backup_type {backup_type}, to_lsn {to_lsn}{}",
        get("from_lsn")
            .filter(|_| backup_type == "incremental")
            .map(|f| format!(", from_lsn {f}"))
            .unwrap_or_default()
    );
    Ok(facts)
}

/// Verifies a pg_dump directory-format archive (`pg_dump -Fd`): `toc.dat` parses, and every
/// data file it names is present and, when compressed, its stream is whole.
fn verify_pg_directory(dir: &Path, progress: &AtomicU64) -> io::Result<ArchiveFacts> {
    let mut facts = ArchiveFacts::new(ArchiveKind::PgDirectory);
    let toc_path = dir.join("toc.dat");
    let toc = match crate::sys::open_readonly(&toc_path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            facts.problem = Some("toc.dat is missing: not a finished pg_dump -Fd archive".into());
            return Ok(facts);
        }
        Err(e) => return Err(e),
    };
    let Some(entries) = pg_archive::toc_only(io::BufReader::new(toc), &mut facts, progress)? else {
        return Ok(facts);
    };
    if !facts.supported {
        return Ok(facts);
    }
    let mut complete = 0u32;
    for entry in entries.values().filter(|e| e.has_data) {
        let Some(name) = &entry.file else { continue };
        if name.contains('/') || name.starts_with('.') {
            facts.problem = Some(format!("toc.dat names an unsafe data file '{name}'"));
            return Ok(facts);
        }
        // gzip/lz4/zstd data files carry a suffix the TOC does not mention.
        let found = ["", ".gz", ".lz4", ".zst"]
            .iter()
            .map(|suffix| dir.join(format!("{name}{suffix}")))
            .find(|p| p.is_file());
        let Some(path) = found else {
            let suffix = match facts.compression.as_str() {
                "gzip" => ".gz",
                "lz4" => ".lz4",
                "zstd" => ".zst",
                _ => "",
            };
            facts.problem = Some(format!(
                "data file {name}{suffix} of {} is missing ({complete} of {} data files verified)",
                entry.name(),
                facts.data_entries
            ));
            return Ok(facts);
        };
        let file = crate::sys::open_readonly(&path)?;
        let size = file.metadata()?.len();
        let stream = crate::decode::verify_stream(file, size, progress)?;
        if let Some(problem) = stream.problem {
            facts.problem = Some(format!(
                "data file {} of {}: {}",
                path.file_name().unwrap_or_default().to_string_lossy(),
                entry.name(),
                problem.describe(stream.compression, size)
            ));
            return Ok(facts);
        }
        complete += 1;
        if entry.desc == "BLOBS" || entry.desc == "BLOB DATA" {
            facts.blobs += 1;
        } else {
            facts.tables += 1;
        }
    }
    Ok(facts)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verify(dir: &Path, kind: DirKind, p: &AtomicU64) -> io::Result<ArchiveFacts> {
        match super::verify(dir, kind, p)? {
            DirFacts::Archive(a) => Ok(a),
            DirFacts::ClusterEntry(_) => panic!("not an archive"),
        }
    }

    fn dir_with(files: &[(&str, &[u8])]) -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        for (name, content) in files {
            fs::write(d.path().join(name), content).unwrap();
        }
        d
    }

    #[test]
    fn databases_from_the_layout() {
        // mydumper 0.10's names (tests/fixtures/real/tools/mydumper-healthy).
        let d = dir_with(&[
            ("metadata", b"Finished dump at: 2026-11-27 02:25:00\n"),
            ("shop-schema-create.sql.gz", b""),
            ("shop.orders-schema.sql.gz", b""),
            ("crm-schema-create.sql.zst", b""),
            ("crm.contacts.sql.gz", b""),
        ]);
        assert_eq!(
            databases(d.path(), DirKind::Mydumper).unwrap(),
            ["crm", "shop"]
        );
        // mariabackup: one subdirectory per database.
        let d = dir_with(&[("xtrabackup_checkpoints", b"backup_type = full-backuped\n")]);
        for db in ["shop", "mysql"] {
            fs::create_dir(d.path().join(db)).unwrap();
        }
        assert_eq!(
            databases(d.path(), DirKind::Xtrabackup).unwrap(),
            ["mysql", "shop"]
        );
    }

    #[test]
    fn an_empty_directory_holds_no_backup() {
        let d = tempfile::tempdir().unwrap();
        assert!(is_empty(d.path()));
        let facts = verify(d.path(), DirKind::NoBackup, &AtomicU64::new(0)).unwrap();
        assert!(facts.problem.unwrap().starts_with("it is empty"));
        fs::write(d.path().join("notes.txt"), b"x").unwrap();
        assert!(!is_empty(d.path()));
        let facts = verify(d.path(), DirKind::NoBackup, &AtomicU64::new(0)).unwrap();
        assert!(facts.problem.unwrap().contains("1 entries in no layout"));
    }

    #[test]
    fn layouts_are_recognised() {
        assert_eq!(
            detect(dir_with(&[("toc.dat", b"PGDMP")]).path()),
            Some(DirKind::PgDirectory)
        );
        assert_eq!(
            detect(dir_with(&[("3362.dat.gz", b"")]).path()),
            Some(DirKind::PgDirectory)
        );
        assert_eq!(
            detect(dir_with(&[("metadata", b""), ("shop-schema-create.sql", b"")]).path()),
            Some(DirKind::Mydumper)
        );
        assert_eq!(
            detect(dir_with(&[("xtrabackup_checkpoints", b"")]).path()),
            Some(DirKind::Xtrabackup)
        );
        assert_eq!(
            detect(dir_with(&[("metadata", b""), ("notes.txt", b"")]).path()),
            None
        );
        assert_eq!(detect(dir_with(&[("db.sql.gz", b"")]).path()), None);
    }

    #[test]
    fn mydumper_needs_its_finish_line() {
        let p = AtomicU64::new(0);
        let partial = dir_with(&[
            ("metadata.partial", b"Started dump at: x\n"),
            ("shop-schema-create.sql", b"CREATE DATABASE shop;\n"),
        ]);
        let f = verify(partial.path(), DirKind::Mydumper, &p).unwrap();
        assert!(f.problem.unwrap().contains("only metadata.partial"));
        let done = dir_with(&[
            (
                "metadata",
                b"Started dump at: 2026-11-26 02:00:00\nFinished dump at: 2026-11-26 02:00:01\n",
            ),
            ("shop-schema-create.sql", b"CREATE DATABASE shop;\n"),
        ]);
        let f = verify(done.path(), DirKind::Mydumper, &p).unwrap();
        assert_eq!(f.problem, None);
        assert!(
            f.detail.contains("finished at 2026-11-26 02:00:01"),
            "{}",
            f.detail
        );
        // Finished, but a table file is empty: mydumper 0.10 on a full disk.
        let full_disk = dir_with(&[
            ("metadata", b"Finished dump at: 2026-11-27 02:25:00\n"),
            ("shop-schema-create.sql", b"CREATE DATABASE shop;\n"),
            ("shop.orders.sql.gz", b""),
        ]);
        assert!(verify(full_disk.path(), DirKind::Mydumper, &p)
            .unwrap()
            .problem
            .unwrap()
            .starts_with("shop.orders.sql.gz is empty (0 bytes"));
        let unfinished = dir_with(&[
            ("metadata", b"Started dump at: x\n"),
            ("shop-schema-create.sql", b""),
        ]);
        assert!(verify(unfinished.path(), DirKind::Mydumper, &p)
            .unwrap()
            .problem
            .is_some());
    }

    #[test]
    fn xtrabackup_checkpoints() {
        let p = AtomicU64::new(0);
        let ok = dir_with(&[(
            "xtrabackup_checkpoints",
            b"backup_type = full-backuped\nfrom_lsn = 0\nto_lsn = 47532\nlast_lsn = 47532\n",
        )]);
        let f = verify(ok.path(), DirKind::Xtrabackup, &p).unwrap();
        assert_eq!(f.problem, None);
        assert!(f.detail.contains("to_lsn 47532"));
        let bad = dir_with(&[(
            "xtrabackup_checkpoints",
            b"backup_type = full-backuped\nfrom_lsn = 0\n",
        )]);
        assert!(verify(bad.path(), DirKind::Xtrabackup, &p)
            .unwrap()
            .problem
            .unwrap()
            .contains("no to_lsn"));
        let odd = dir_with(&[(
            "xtrabackup_checkpoints",
            b"backup_type = something\nto_lsn = 5\n",
        )]);
        assert!(verify(odd.path(), DirKind::Xtrabackup, &p)
            .unwrap()
            .problem
            .is_some());
    }
}
