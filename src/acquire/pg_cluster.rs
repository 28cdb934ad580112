//! Debian's `pg_backupcluster` (postgresql-common): the cluster directory
//! `/var/backups/postgresql/<version>-<cluster>/` and its entries, `<timestamp>.dump/`
//! (`<db>.dump` per database, `globals.sql`, `databases.sql`, `createcluster.opts`,
//! `config.tar.gz`, then `status`) and `<timestamp>.backup/` (pg_basebackup's
//! `base.tar.gz`, `pg_wal.tar.gz`, `backup_manifest`, then `config.tar.gz` and `status`).
//! Reading them is here; what is wrong is decided by `judge::pg_cluster`.

use std::collections::HashMap;
use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU64;

use crate::decode;
use crate::facts::{ClusterEntryFacts, Compression, DirKind, EntryFile, EntryStatus, TarFacts};
use crate::formats::pg_cluster::{self as pgc, Hasher, ManifestFile};
use crate::formats::tar::{self, MemberSink};
use crate::formats::writer::{check_marker, detect_writer, MarkerOutcome, MarkerRule};

/// The kind an entry's name says: `<anything>.dump` or `<anything>.backup`.
fn kind_by_name(name: &str) -> Option<DirKind> {
    if name.ends_with(".dump") && name.len() > 5 {
        Some(DirKind::PgClusterDump)
    } else if name.ends_with(".backup") && name.len() > 7 {
        Some(DirKind::PgBaseBackup)
    } else {
        None
    }
}

/// pg_backupcluster's entry names: `2026-12-01T172419Z.dump`, `...Z.backup`.
fn is_entry_name(name: &str) -> bool {
    let stem = name
        .strip_suffix(".dump")
        .or_else(|| name.strip_suffix(".backup"));
    stem.is_some_and(|s| {
        let b = s.as_bytes();
        b.len() == 18
            && b[4] == b'-'
            && b[7] == b'-'
            && b[10] == b'T'
            && b[17] == b'Z'
            && b.iter()
                .enumerate()
                .all(|(i, c)| matches!(i, 4 | 7 | 10 | 17) || c.is_ascii_digit())
    })
}

/// Recognises one entry by its layout: what pg_backupcluster writes first (dump:
/// `createcluster.opts`, `globals.sql`, `databases.sql`; base backup: pg_basebackup's
/// files), or a `status` in a directory named like an entry.
pub fn detect_entry(dir: &Path) -> Option<DirKind> {
    let has = |name: &str| dir.join(name).is_file();
    if ["createcluster.opts", "globals.sql", "databases.sql"]
        .iter()
        .any(|n| has(n))
    {
        return Some(DirKind::PgClusterDump);
    }
    if ["backup_manifest", "base.tar.gz", "pg_wal.tar.gz"]
        .iter()
        .any(|n| has(n))
    {
        return Some(DirKind::PgBaseBackup);
    }
    let name = dir.file_name()?.to_string_lossy();
    kind_by_name(&name).filter(|_| has("status"))
}

/// The entries of a cluster directory, each kind newest first (by name: the names are the
/// runs' start times), or None when `dir` holds no entry named as pg_backupcluster names
/// them. Every directory named like an entry counts, even an empty one (a run killed at
/// once): an older good entry must never hide it.
pub fn entries(dir: &Path) -> io::Result<Option<[Vec<PathBuf>; 2]>> {
    let mut dumps = Vec::new();
    let mut backups = Vec::new();
    for entry in fs::read_dir(dir)?.take(100_000) {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if !is_entry_name(&name) || !entry.file_type()?.is_dir() {
            continue;
        }
        match kind_by_name(&name) {
            Some(DirKind::PgClusterDump) => dumps.push(entry.path()),
            Some(_) => backups.push(entry.path()),
            None => {}
        }
    }
    if dumps.is_empty() && backups.is_empty() {
        return Ok(None);
    }
    dumps.sort_by(|a, b| b.cmp(a));
    backups.sort_by(|a, b| b.cmp(a));
    Ok(Some([dumps, backups]))
}

fn read_small(path: &Path, limit: u64) -> io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    crate::sys::open_readonly(path)?
        .take(limit)
        .read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// A file's bytes, or None when it does not exist.
fn read_optional(path: &Path, limit: u64) -> io::Result<Option<Vec<u8>>> {
    match read_small(path, limit) {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

fn status(dir: &Path) -> io::Result<EntryStatus> {
    Ok(match read_optional(&dir.join("status"), 64 * 1024)? {
        None => EntryStatus::Missing,
        Some(bytes) => match pgc::parse_status(&bytes) {
            Ok(s) => EntryStatus::Parsed {
                ended: pgc::status_time(&s.end),
                status: s.status,
                kind: s.kind,
                end: s.end,
            },
            Err(e) => EntryStatus::Invalid(e),
        },
    })
}

/// The entry's files with their sizes, and with their modification times.
#[allow(clippy::type_complexity)]
fn present(dir: &Path) -> io::Result<(Vec<(String, u64)>, Vec<(String, i64)>)> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir)?.take(100_000) {
        let entry = entry?;
        let meta = entry.metadata()?;
        if meta.is_file() {
            let mtime = meta
                .modified()
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_secs() as i64);
            out.push((
                entry.file_name().to_string_lossy().into_owned(),
                meta.len(),
                mtime,
            ));
        }
    }
    out.sort();
    Ok((
        out.iter().map(|(n, s, _)| (n.clone(), *s)).collect(),
        out.into_iter().map(|(n, _, t)| (n, t)).collect(),
    ))
}

fn file(name: &str, problem: Option<String>) -> EntryFile {
    EntryFile {
        name: name.to_string(),
        problem,
        unverified: None,
    }
}

/// Verifies one entry of the given kind.
pub fn verify(dir: &Path, kind: DirKind, progress: &AtomicU64) -> io::Result<ClusterEntryFacts> {
    let (present, modified) = present(dir)?;
    let mut facts = ClusterEntryFacts {
        kind,
        status: status(dir)?,
        present,
        modified,
        files: Vec::new(),
        created_databases: None,
        dumped_databases: Vec::new(),
        manifest: None,
    };
    // Without a status the run did not finish: what it left is listed, not verified.
    if facts.status == EntryStatus::Missing {
        return Ok(facts);
    }
    match kind {
        DirKind::PgBaseBackup => verify_base_backup(dir, &mut facts, progress)?,
        _ => verify_dump(dir, &mut facts, progress)?,
    }
    Ok(facts)
}

fn verify_dump(dir: &Path, facts: &mut ClusterEntryFacts, progress: &AtomicU64) -> io::Result<()> {
    if !dir.join("createcluster.opts").is_file() {
        facts.files.push(file(
            "createcluster.opts",
            Some("createcluster.opts is missing".into()),
        ));
    }
    facts.files.push(globals(dir, progress)?);
    match read_optional(&dir.join("databases.sql"), 16 << 20)? {
        Some(bytes) => {
            facts.created_databases = Some(pgc::databases_created(&String::from_utf8_lossy(&bytes)))
        }
        None => facts.files.push(file(
            "databases.sql",
            Some("databases.sql is missing".into()),
        )),
    }
    let dumps: Vec<String> = facts
        .present
        .iter()
        .map(|(n, _)| n.clone())
        .filter(|n| n.ends_with(".dump") && n.len() > 5)
        .collect();
    for name in dumps {
        let db = name.trim_end_matches(".dump").to_string();
        let path = dir.join(&name);
        let f = crate::sys::open_readonly(&path)?;
        let size = f.metadata()?.len();
        let mut entry = file(&name, None);
        if size == 0 {
            entry.problem = Some(format!(
                "{name} (database {}) is empty (0 bytes)",
                crate::text::safe(&db, 60)
            ));
        } else {
            let stream = super::content::read(f, size, progress)?;
            match stream.archive {
                None => {
                    entry.problem = Some(format!(
                        "{name} (database {}) is not a pg_dump custom-format archive",
                        crate::text::safe(&db, 60)
                    ))
                }
                Some(a) if !a.supported => {
                    entry.unverified = Some(format!(
                        "{name}: archive version {} is not one this check knows",
                        crate::text::safe(&a.version, 20)
                    ))
                }
                Some(a) => match a.problem {
                    Some(p) => {
                        entry.problem = Some(format!(
                            "{name} (database {}) is incomplete: {p}",
                            crate::text::safe(&db, 60)
                        ))
                    }
                    None => facts.dumped_databases.push(db),
                },
            }
        }
        facts.files.push(entry);
    }
    facts.files.push(tarball(dir, "config.tar.gz", progress)?.0);
    Ok(())
}

/// `globals.sql`: pg_dumpall --globals-only, whose last lines are
/// `-- PostgreSQL database cluster dump complete`, `--`, and a blank line (the
/// `\unrestrict` line of 15.14+ comes before them).
fn globals(dir: &Path, progress: &AtomicU64) -> io::Result<EntryFile> {
    let name = "globals.sql";
    let path = dir.join(name);
    let f = match crate::sys::open_readonly(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Ok(file(name, Some("globals.sql is missing".into())))
        }
        Err(e) => return Err(e),
    };
    let size = f.metadata()?.len();
    let stream = decode::verify_stream(f, size, progress)?;
    let problem = if let Some(p) = stream.problem {
        Some(format!(
            "globals.sql: {}",
            p.describe(stream.compression, size)
        ))
    } else if detect_writer(&stream.sample.head) != crate::facts::Writer::PgDumpall {
        Some("globals.sql does not start like pg_dumpall output".into())
    } else {
        match check_marker(&MarkerRule::PgDumpall, &stream.sample) {
            MarkerOutcome::Found { .. } => None,
            MarkerOutcome::Missing { last_line, .. } => Some(format!(
                "globals.sql is incomplete: no '-- PostgreSQL database cluster dump complete' trailer; last line '{}'",
                crate::text::safe(last_line.as_deref().unwrap_or(""), 80)
            )),
        }
    };
    Ok(file(name, problem))
}

/// A tarball of the entry read to its end: the compression stream whole, every tar member
/// and the end-of-archive blocks. `sink` receives the members' data. A gzip tarball (what
/// pg_basebackup -Ft -z writes) is read and decoded once ([`walk_gzip_tar`]); any other
/// compression is verified by `decode` first and walked in a second pass.
fn tarball_with(
    dir: &Path,
    name: &str,
    progress: &AtomicU64,
    sink: &mut dyn MemberSink,
) -> io::Result<(EntryFile, Option<TarFacts>)> {
    let path = dir.join(name);
    let mut f = match crate::sys::open_readonly(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Ok((file(name, Some(format!("{name} is missing"))), None))
        }
        Err(e) => return Err(e),
    };
    let size = f.metadata()?.len();
    let mut magic = [0u8; 2];
    let got = decode::read_full(&mut f, &mut magic)?;
    use std::io::Seek;
    f.seek(io::SeekFrom::Start(0))?;
    if got == 2 && decode::detect(&magic) == Compression::Gzip {
        let (problem, walked) = walk_gzip_tar(f, size, progress, sink)?;
        return Ok(match problem {
            Some(p) => (
                file(
                    name,
                    Some(format!("{name}: {}", p.describe(Compression::Gzip, size))),
                ),
                None,
            ),
            None => {
                let problem = walked.problem.as_ref().map(|p| format!("{name}: {p}"));
                (file(name, problem), Some(walked))
            }
        });
    }
    let stream = decode::verify_stream(&mut f, size, progress)?;
    if let Some(p) = stream.problem {
        return Ok((
            file(
                name,
                Some(format!("{name}: {}", p.describe(stream.compression, size))),
            ),
            None,
        ));
    }
    if matches!(stream.compression, Compression::Unsupported(_)) {
        let mut e = file(name, None);
        e.unverified = Some(format!("{name}: {} compression", stream.compression));
        return Ok((e, None));
    }
    f.seek(io::SeekFrom::Start(0))?;
    let walked = tar::walk_with(decode::reference_decoder(stream.compression, f)?, sink)?;
    let problem = walked.problem.as_ref().map(|p| format!("{name}: {p}"));
    Ok((file(name, problem), Some(walked)))
}

type GzInput<'a, R> = io::BufReader<decode::CountingReader<'a, R>>;

/// A gzip file decoded member by member in one pass, its decoded bytes handed to whoever
/// reads it (the tar walk). Each member's CRC32 and length are checked by the decoder;
/// between members the next bytes decide: the end of the file, another member, or
/// garbage. What is wrong with the stream becomes a [`StreamProblem`] (as
/// `decode::verify_stream` words it) and ends the decoded stream; only an I/O error of
/// the file is returned as an error.
struct GzMembers<'a, R> {
    decoder: Option<flate2::bufread::GzDecoder<GzInput<'a, R>>>,
    /// The input between two members.
    between: Option<GzInput<'a, R>>,
    size: u64,
    problem: Option<crate::facts::StreamProblem>,
}

impl<'a, R: Read> GzMembers<'a, R> {
    fn new(file: R, size: u64, progress: &'a AtomicU64) -> Self {
        let counted = decode::CountingReader::new(file, progress);
        GzMembers {
            decoder: None,
            between: Some(io::BufReader::with_capacity(decode::CHUNK, counted)),
            size,
            problem: None,
        }
    }
}

/// Tells a cut file from a corrupt one, as `decode` does: the error's words and whether
/// the input was exhausted both count.
fn classify(
    error: &io::Error,
    input: &mut GzInput<'_, impl Read>,
    size: u64,
) -> crate::facts::StreamProblem {
    use crate::facts::StreamProblem;
    use io::BufRead;
    let read = input.get_ref().count();
    let consumed = read - input.buffer().len() as u64;
    let at_end = consumed >= size || input.fill_buf().map(|b| b.is_empty()).unwrap_or(false);
    let text = error.to_string();
    let lower = text.to_ascii_lowercase();
    let looks_cut = error.kind() == io::ErrorKind::UnexpectedEof
        || ["unexpected end", "premature", "incomplete", "truncated"]
            .iter()
            .any(|w| lower.contains(w));
    if looks_cut && at_end {
        StreamProblem::Truncated { at: size }
    } else {
        StreamProblem::Corrupt {
            near: read.min(size),
            detail: text,
        }
    }
}

impl<R: Read> Read for GzMembers<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        use io::BufRead;
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            if self.problem.is_some() {
                return Ok(0);
            }
            if let Some(decoder) = &mut self.decoder {
                match decoder.read(buf) {
                    Ok(0) => {
                        // The member ended with its trailer verified.
                        self.between = self.decoder.take().map(|d| d.into_inner());
                    }
                    Ok(n) => return Ok(n),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => {
                        let input = decoder.get_mut();
                        if let Some(io_error) = input.get_mut().take_io_error() {
                            return Err(io_error);
                        }
                        self.problem = Some(classify(&e, input, self.size));
                        return Ok(0);
                    }
                }
                continue;
            }
            let Some(mut input) = self.between.take() else {
                return Ok(0);
            };
            let rest = input.fill_buf()?;
            if rest.is_empty() {
                return Ok(0);
            }
            // A member starts with 1f 8b (a lone 1f at the end of the buffer may too).
            if rest[0] == 0x1f && (rest.len() < 2 || rest[1] == 0x8b) {
                self.decoder = Some(flate2::bufread::GzDecoder::new(input));
            } else {
                let at = input.get_ref().count() - input.buffer().len() as u64;
                self.problem = Some(crate::facts::StreamProblem::TrailingData {
                    at,
                    bytes: self.size.saturating_sub(at),
                });
                return Ok(0);
            }
        }
    }
}

/// Reads a gzip-compressed tar `file` of `size` bytes once: the gzip stream verified,
/// the tar walked and every member's data handed to `sink`, all in the same pass.
/// Returns the stream's problem (which makes the walk meaningless) and the walk.
fn walk_gzip_tar<R: Read>(
    file: R,
    size: u64,
    progress: &AtomicU64,
    sink: &mut dyn MemberSink,
) -> io::Result<(Option<crate::facts::StreamProblem>, TarFacts)> {
    let mut gz = GzMembers::new(file, size, progress);
    let walked = tar::walk_with(&mut gz, sink)?;
    // A walk that stopped early (a damaged header) leaves the rest of the stream: it is
    // decoded too, since a broken stream says more than the tar problem it caused.
    io::copy(&mut gz, &mut io::sink())?;
    Ok((gz.problem, walked))
}

struct NoSink;
impl MemberSink for NoSink {
    fn begin(&mut self, _: &str, _: u64) {}
    fn data(&mut self, _: &[u8]) {}
    fn end(&mut self) {}
}

fn tarball(
    dir: &Path,
    name: &str,
    progress: &AtomicU64,
) -> io::Result<(EntryFile, Option<TarFacts>)> {
    tarball_with(dir, name, progress, &mut NoSink)
}

/// Compares each member of a data-directory tarball with the manifest as it streams by.
struct ManifestSink<'a> {
    /// Manifest entries by path.
    listed: &'a HashMap<&'a str, &'a ManifestFile>,
    /// Prefix of this tarball's members in the manifest (`pg_tblspc/<oid>/` or empty).
    prefix: String,
    current: Option<(String, Hasher)>,
    /// Paths found (with the prefix).
    found: Vec<String>,
    /// Members not in the manifest.
    unlisted: Vec<String>,
    /// Size and checksum mismatches.
    mismatches: Vec<String>,
    mismatch_count: usize,
    checksummed: usize,
}

impl MemberSink for ManifestSink<'_> {
    fn begin(&mut self, name: &str, size: u64) {
        let path = format!("{}{}", self.prefix, name.trim_start_matches("./"));
        match self.listed.get(path.as_str()) {
            Some(m) => {
                if m.size != size {
                    self.mismatch_count += 1;
                    if self.mismatches.len() < 5 {
                        self.mismatches.push(format!(
                            "{} is {size} bytes, backup_manifest says {}",
                            crate::text::safe(&path, 120),
                            m.size
                        ));
                    }
                    self.current = None;
                } else {
                    self.current = Some((path.clone(), Hasher::new(m.algorithm)));
                }
                self.found.push(path);
            }
            None => {
                if !pgc::unlisted_ok(&path) {
                    self.unlisted.push(path);
                }
                self.current = None;
            }
        }
    }

    fn data(&mut self, bytes: &[u8]) {
        if let Some((_, h)) = &mut self.current {
            h.update(bytes);
        }
    }

    fn end(&mut self) {
        let Some((path, hasher)) = self.current.take() else {
            return;
        };
        let Some(m) = self.listed.get(path.as_str()) else {
            return;
        };
        if m.checksum.is_empty() {
            return;
        }
        let got = hasher.finish();
        self.checksummed += 1;
        if got != m.checksum {
            self.mismatch_count += 1;
            if self.mismatches.len() < 5 {
                self.mismatches.push(format!(
                    "{} has {} checksum {}, backup_manifest says {} (content changed)",
                    crate::text::safe(&path, 120),
                    m.algorithm.name(),
                    pgc::hex(&got),
                    pgc::hex(&m.checksum)
                ));
            }
        }
    }
}

fn verify_base_backup(
    dir: &Path,
    facts: &mut ClusterEntryFacts,
    progress: &AtomicU64,
) -> io::Result<()> {
    // Streamed: memory follows the number of files listed, not the manifest's size.
    let manifest = match crate::sys::open_readonly(&dir.join("backup_manifest")) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            facts.files.push(file(
                "backup_manifest",
                Some("backup_manifest is missing".into()),
            ));
            None
        }
        Err(e) => return Err(e),
        Ok(f) => match pgc::read_manifest(f)? {
            (Err(e), _) | (Ok(()), Err(e)) => {
                facts.files.push(file("backup_manifest", Some(e)));
                None
            }
            (Ok(()), Ok(m)) => Some(m),
        },
    };
    // The data directory: base.tar.gz, and one <oid>.tar.gz per tablespace.
    let mut tarballs: Vec<(String, String)> = vec![("base.tar.gz".into(), String::new())];
    for (name, _) in &facts.present {
        if let Some(oid) = name.strip_suffix(".tar.gz") {
            if !oid.is_empty() && oid.bytes().all(|b| b.is_ascii_digit()) {
                tarballs.push((name.clone(), format!("pg_tblspc/{oid}/")));
            }
        }
    }
    let listed: HashMap<&str, &ManifestFile> = manifest
        .as_ref()
        .map(|m| m.files.iter().map(|f| (f.path.as_str(), f)).collect())
        .unwrap_or_default();
    let mut found: Vec<String> = Vec::new();
    let mut whole = true;
    let mut checksummed = 0;
    for (name, prefix) in &tarballs {
        let mut sink = ManifestSink {
            listed: &listed,
            prefix: prefix.clone(),
            current: None,
            found: Vec::new(),
            unlisted: Vec::new(),
            mismatches: Vec::new(),
            mismatch_count: 0,
            checksummed: 0,
        };
        let (mut entry, walked) = tarball_with(dir, name, progress, &mut sink)?;
        whole &= entry.problem.is_none() && walked.is_some();
        if entry.problem.is_none() && manifest.is_some() {
            let mut problems = Vec::new();
            if sink.mismatch_count > 0 {
                problems.push(format!(
                    "{} file{} do{} not match backup_manifest: {}",
                    sink.mismatch_count,
                    if sink.mismatch_count == 1 { "" } else { "s" },
                    if sink.mismatch_count == 1 { "es" } else { "" },
                    sink.mismatches.join(", ")
                ));
            }
            if !sink.unlisted.is_empty() {
                problems.push(format!(
                    "{} file{} not listed in backup_manifest, e.g. {}",
                    sink.unlisted.len(),
                    if sink.unlisted.len() == 1 { "" } else { "s" },
                    crate::text::safe(&sink.unlisted[0], 120)
                ));
            }
            if !problems.is_empty() {
                entry.problem = Some(format!("{name}: {}", problems.join("; ")));
            }
        }
        checksummed += sink.checksummed;
        found.extend(sink.found);
        facts.files.push(entry);
    }
    if let (Some(m), true) = (&manifest, whole) {
        let found: std::collections::HashSet<&str> = found.iter().map(String::as_str).collect();
        let missing: Vec<&str> = m
            .files
            .iter()
            .map(|f| f.path.as_str())
            .filter(|p| !found.contains(p))
            .collect();
        if !missing.is_empty() {
            facts.files.push(file(
                "base.tar.gz",
                Some(format!(
                    "{} file{} listed in backup_manifest {} not in the backup, e.g. {}",
                    missing.len(),
                    if missing.len() == 1 { "" } else { "s" },
                    if missing.len() == 1 { "is" } else { "are" },
                    crate::text::safe(missing[0], 120)
                )),
            ));
        }
    }
    // The WAL the backup needs: pg_wal.tar.gz whole, with every segment of WAL-Ranges.
    let (mut wal, walked) = tarball(dir, "pg_wal.tar.gz", progress)?;
    let mut wal_words = String::new();
    if let (Some(t), Some(m), None) = (&walked, &manifest, &wal.problem) {
        let is_segment = |n: &str| n.len() == 24 && n.bytes().all(|b| b.is_ascii_hexdigit());
        let seg_size = t
            .members
            .iter()
            .find(|mem| is_segment(&mem.name))
            .map(|mem| mem.size)
            .unwrap_or(16 << 20);
        let needed: Vec<String> = m
            .wal_ranges
            .iter()
            .flat_map(|r| pgc::wal_segments(r, seg_size))
            .collect();
        let missing: Vec<&String> = needed.iter().filter(|n| !t.names.contains(n)).collect();
        if let Some(first) = missing.first() {
            wal.problem = Some(format!(
                "pg_wal.tar.gz lacks WAL segment {first} that backup_manifest's WAL-Ranges need{}",
                if missing.len() > 1 {
                    format!(" ({} segments missing)", missing.len())
                } else {
                    String::new()
                }
            ));
        } else {
            wal_words = format!(
                "; WAL {} in pg_wal.tar.gz",
                match needed.as_slice() {
                    [one] => one.clone(),
                    many => format!("{} segments", many.len()),
                }
            );
        }
    }
    facts.files.push(wal);
    facts.files.push(tarball(dir, "config.tar.gz", progress)?.0);
    if let Some(m) = &manifest {
        let algorithms: std::collections::BTreeSet<&str> =
            m.files.iter().map(|f| f.algorithm.name()).collect();
        facts.manifest = Some(format!(
            "backup_manifest v{}: {} files present with their sizes, {} {} checksums match{wal_words}",
            m.version,
            m.files.len(),
            checksummed,
            algorithms.into_iter().collect::<Vec<_>>().join("/")
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Counts every byte read from the file, to prove a tarball is read once.
    struct CountingFile<'a> {
        inner: &'a [u8],
        read: &'a std::cell::Cell<u64>,
    }
    impl Read for CountingFile<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.inner.read(buf)?;
            self.read.set(self.read.get() + n as u64);
            Ok(n)
        }
    }

    /// Collects each member's CRC32C, as the manifest check does.
    #[derive(Default)]
    struct Crcs {
        current: Option<(String, Hasher)>,
        done: Vec<(String, Vec<u8>)>,
    }
    impl MemberSink for Crcs {
        fn begin(&mut self, name: &str, _: u64) {
            self.current = Some((name.into(), Hasher::new(pgc::Algorithm::Crc32c)));
        }
        fn data(&mut self, bytes: &[u8]) {
            self.current.as_mut().unwrap().1.update(bytes);
        }
        fn end(&mut self) {
            let (n, h) = self.current.take().unwrap();
            self.done.push((n, h.finish()));
        }
    }

    fn gzip_tar() -> (Vec<u8>, Vec<u8>) {
        // Two gzip members (pg_basebackup writes one; concatenations are valid gzip too),
        // more than one CHUNK of barely compressible data.
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let big: Vec<u8> = (0..3 * decode::CHUNK)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 32) as u8
            })
            .collect();
        let t = crate::formats::tar::tests::tar(&[("base/1/1255", &big), ("PG_VERSION", b"15\n")]);
        let half = t.len() / 2;
        let mut gz = decode::tests::compress(Compression::Gzip, &t[..half]);
        gz.extend(decode::tests::compress(Compression::Gzip, &t[half..]));
        (t, gz)
    }

    #[test]
    fn a_gzip_tarball_is_read_once_with_its_checksums() {
        let (t, gz) = gzip_tar();
        let read = std::cell::Cell::new(0);
        let file = CountingFile {
            inner: &gz,
            read: &read,
        };
        let mut sink = Crcs::default();
        let (problem, walked) =
            walk_gzip_tar(file, gz.len() as u64, &AtomicU64::new(0), &mut sink).unwrap();
        assert_eq!(problem, None);
        assert_eq!(walked.problem, None);
        assert!(walked.end_marker);
        assert_eq!(walked.member_count, 2);
        // Every compressed byte exactly once: one pass, not two.
        assert_eq!(read.get(), gz.len() as u64);
        let mut want = pgc::Crc32c::new();
        want.update(b"15\n");
        assert_eq!(sink.done[1].0, "PG_VERSION");
        assert_eq!(sink.done[1].1, want.value().to_le_bytes().to_vec());
        assert_eq!(sink.done.len(), 2);
        assert_eq!(sink.done[0].0, "base/1/1255");
        assert!(t.len() > gz.len() / 2);
    }

    /// The one-pass reader finds what `decode::verify_stream` finds, in the same words
    /// for cuts and garbage.
    #[test]
    fn the_one_pass_reader_judges_the_stream_like_decode() {
        use crate::facts::StreamProblem;
        let (_, gz) = gzip_tar();
        let one_pass = |bytes: &[u8]| {
            walk_gzip_tar(bytes, bytes.len() as u64, &AtomicU64::new(0), &mut NoSink)
                .unwrap()
                .0
        };
        let reference = |bytes: &[u8]| {
            decode::verify_stream(
                io::Cursor::new(bytes),
                bytes.len() as u64,
                &AtomicU64::new(0),
            )
            .unwrap()
            .problem
        };
        let mut cases: Vec<Vec<u8>> = Vec::new();
        for cut in [gz.len() - 1, gz.len() - 8, gz.len() / 2, gz.len() / 3, 11] {
            cases.push(gz[..cut].to_vec());
        }
        let mut garbage = gz.clone();
        garbage.extend_from_slice(b"garbage");
        cases.push(garbage);
        let mut lone = gz.clone();
        lone.push(0x1f);
        cases.push(lone);
        for at in [gz.len() - 3, gz.len() - 6, gz.len() / 2, 40] {
            let mut flipped = gz.clone();
            flipped[at] ^= 0x10;
            cases.push(flipped);
        }
        for case in &cases {
            let ours = one_pass(case);
            let theirs = reference(case);
            match (&ours, &theirs) {
                (Some(StreamProblem::Corrupt { .. }), Some(StreamProblem::Corrupt { .. })) => {}
                _ => assert_eq!(ours, theirs, "{} bytes", case.len()),
            }
            assert!(ours.is_some());
        }
        assert_eq!(one_pass(&gz), None);
    }

    #[test]
    fn entry_names() {
        assert!(is_entry_name("2026-12-01T172419Z.dump"));
        assert!(is_entry_name("2026-12-01T172416Z.backup"));
        assert!(!is_entry_name("2026-12-01T172419Z.sql"));
        assert!(!is_entry_name("shop.dump"));
        assert!(!is_entry_name("2026-12-01 172419Z.dump"));
    }

    #[test]
    fn layouts() {
        let d = tempfile::tempdir().unwrap();
        let e = d.path().join("2026-12-01T172419Z.dump");
        fs::create_dir(&e).unwrap();
        assert_eq!(detect_entry(&e), None);
        fs::write(e.join("status"), b"{}").unwrap();
        assert_eq!(detect_entry(&e), Some(DirKind::PgClusterDump));
        let b = d.path().join("x");
        fs::create_dir(&b).unwrap();
        fs::write(b.join("backup_manifest"), b"{}").unwrap();
        assert_eq!(detect_entry(&b), Some(DirKind::PgBaseBackup));
        let [dumps, backups] = entries(d.path()).unwrap().unwrap();
        assert_eq!(dumps, vec![e]);
        assert!(backups.is_empty());
        assert!(entries(&b).unwrap().is_none());
    }
}
