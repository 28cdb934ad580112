//! Checksum files beside a dump: finding the one for the chosen dump (`<dump>.sha256`,
//! `.sha512`, `.sha1`, `.md5`, else an entry in a `SHA256SUMS`-style list in the same
//! directory) and hashing the dump's bytes while `content` reads them.
//!
//! What a checksum file says is parsed by `formats::checksums`; whether it matches is for
//! `judge::checksum` to say.

use std::fs;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use sha2::Digest;

use super::cache::FileKey;
use crate::facts::ChecksumAlgorithm;
use crate::formats::checksums::{self, Entry};
use crate::sys;
use crate::text::safe;

/// A checksum file larger than this is not read (a `SHA256SUMS` of 10,000 dumps is 1 MB).
const MAX_SUMS_BYTES: u64 = 4 << 20;

/// The checksum file that records the dump's digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sidecar {
    /// Its path.
    pub path: PathBuf,
    /// Its file name, for messages.
    pub name: String,
    /// The algorithm.
    pub algorithm: ChecksumAlgorithm,
    /// The digest recorded for the dump, lowercase hex.
    pub digest: String,
    /// The version of the checksum file that was read (part of the cache key: a rewritten
    /// checksum file is checked again).
    pub key: FileKey,
    /// Its modification time.
    pub mtime: SystemTime,
}

impl Sidecar {
    /// What identifies this claim in the cache key: the algorithm and the checksum file's
    /// version (device and inode name the file whatever path it was found by: the background
    /// verifier finds it beside the dump's canonical path).
    pub fn identity(&self) -> String {
        let k = &self.key;
        format!(
            "{} {}:{}:{}:{}:{}",
            self.algorithm, k.dev, k.ino, k.size, k.mtime_ns, k.ctime_ns
        )
    }
}

/// The result of looking for the dump's checksum file.
#[derive(Debug, Clone, Default)]
pub struct Search {
    /// The checksum file used, if one records the dump.
    pub found: Option<Sidecar>,
    /// Checksum files passed over, and why (for `-v`, and the `--checksum require` message).
    pub ignored: Vec<String>,
}

/// The algorithm a checksum list's name stands for: `SHA256SUMS`, `sha256sums.txt`,
/// `MD5SUMS`... (case-insensitive; `B2SUMS` is recognised by discovery but not hashed).
pub fn sums_list_algorithm(name: &str) -> Option<ChecksumAlgorithm> {
    let lower = name.to_ascii_lowercase();
    ChecksumAlgorithm::ALL.into_iter().find(|a| {
        lower
            .strip_prefix(&format!("{}sums", a.name()))
            .is_some_and(|rest| rest.is_empty() || rest.starts_with(['.', '-', '_']))
    })
}

/// Reads a checksum file: regular, bounded; returns its bytes and metadata.
fn read_bounded(path: &Path) -> io::Result<(Vec<u8>, fs::Metadata)> {
    let file = sys::open_readonly(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(io::Error::other("not a regular file"));
    }
    if meta.len() > MAX_SUMS_BYTES {
        return Err(io::Error::other(format!(
            "larger than {} MiB",
            MAX_SUMS_BYTES >> 20
        )));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(MAX_SUMS_BYTES).read_to_end(&mut bytes)?;
    Ok((bytes, meta))
}

/// Looks for the checksum file of `dump`: its own sidecars first (`.sha256`, `.sha512`,
/// `.sha1`, `.md5`), then the checksum lists of its directory. Checksum files that cannot be
/// read, hold no usable line or name other files only are passed over, with a note.
pub fn find(dump: &Path) -> Search {
    let mut search = Search::default();
    let Some(dump_name) = dump.file_name().map(|n| n.to_string_lossy().into_owned()) else {
        return search;
    };
    let dir = match dump.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mut candidates: Vec<(PathBuf, ChecksumAlgorithm, bool)> = ChecksumAlgorithm::ALL
        .into_iter()
        .map(|a| (dir.join(format!("{dump_name}.{}", a.name())), a, true))
        .collect();
    let mut lists: Vec<(PathBuf, ChecksumAlgorithm, bool)> = fs::read_dir(&dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            sums_list_algorithm(&name).map(|a| (e.path(), a, false))
        })
        .collect();
    let rank = |a: &ChecksumAlgorithm| ChecksumAlgorithm::ALL.iter().position(|x| x == a);
    lists.sort_by(|x, y| (rank(&x.1), &x.0).cmp(&(rank(&y.1), &y.0)));
    candidates.extend(lists);
    for (path, algorithm, own) in candidates {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let shown = safe(&name, 120);
        let (bytes, meta) = match read_bounded(&path) {
            Ok(r) => r,
            Err(e) if e.kind() == io::ErrorKind::NotFound && own => continue,
            Err(e) => {
                search.ignored.push(format!(
                    "{shown}: cannot read it: {}",
                    safe(&e.to_string(), 120)
                ));
                continue;
            }
        };
        match checksums::find_entry(&bytes, algorithm, &dump_name, own) {
            Entry::Found { algorithm, digest } => {
                search.found = Some(Sidecar {
                    path,
                    name,
                    algorithm,
                    digest,
                    key: FileKey::of(&meta),
                    mtime: meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
                });
                return search;
            }
            Entry::OtherFiles { names } if own => search.ignored.push(format!(
                "{shown} names {}, not {}: ignored",
                safe(&names.join(", "), 200),
                safe(&dump_name, 120)
            )),
            // A list of other dumps is what a directory of dated dumps has: only a note.
            Entry::OtherFiles { .. } => search
                .ignored
                .push(format!("{shown} has no line for {}", safe(&dump_name, 120))),
            Entry::Unusable(why) => search
                .ignored
                .push(format!("{shown}: {}: ignored", safe(&why, 120))),
        }
    }
    search
}

/// A running hash of one of the [`ChecksumAlgorithm`]s.
#[derive(Clone)]
pub enum Hasher {
    /// SHA-256.
    Sha256(sha2::Sha256),
    /// SHA-512.
    Sha512(sha2::Sha512),
    /// SHA-1.
    Sha1(sha1::Sha1),
    /// MD5.
    Md5(md5::Md5),
}

impl Hasher {
    /// A new hash.
    pub fn new(algorithm: ChecksumAlgorithm) -> Hasher {
        match algorithm {
            ChecksumAlgorithm::Sha256 => Hasher::Sha256(sha2::Sha256::new()),
            ChecksumAlgorithm::Sha512 => Hasher::Sha512(sha2::Sha512::new()),
            ChecksumAlgorithm::Sha1 => Hasher::Sha1(sha1::Sha1::new()),
            ChecksumAlgorithm::Md5 => Hasher::Md5(md5::Md5::new()),
        }
    }

    /// Hashes `bytes`.
    pub fn update(&mut self, bytes: &[u8]) {
        match self {
            Hasher::Sha256(h) => h.update(bytes),
            Hasher::Sha512(h) => h.update(bytes),
            Hasher::Sha1(h) => h.update(bytes),
            Hasher::Md5(h) => h.update(bytes),
        }
    }

    /// The digest, lowercase hex.
    pub fn hex(self) -> String {
        let bytes: Vec<u8> = match self {
            Hasher::Sha256(h) => h.finalize().to_vec(),
            Hasher::Sha512(h) => h.finalize().to_vec(),
            Hasher::Sha1(h) => h.finalize().to_vec(),
            Hasher::Md5(h) => h.finalize().to_vec(),
        };
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// Hashes a file's bytes as they are read, in file order, whatever the reader does: bytes
/// read again after a seek back are not hashed twice, and [`HashingReader::finish`] reads
/// (and hashes) whatever the reader skipped or left unread. Compressed dumps are read whole
/// by their decoder, so their bytes are hashed in that one pass; of a plain dump only the
/// head and tail are read for the marker, so `finish` reads the rest.
pub struct HashingReader<R> {
    inner: R,
    /// File offset of the next byte `inner` returns.
    pos: u64,
    /// Bytes `[0, hashed)` are hashed.
    hashed: u64,
    hasher: Hasher,
}

impl<R: Read + Seek> HashingReader<R> {
    /// Hashes what is read from `inner`, positioned at its start.
    pub fn new(inner: R, algorithm: ChecksumAlgorithm) -> Self {
        HashingReader {
            inner,
            pos: 0,
            hashed: 0,
            hasher: Hasher::new(algorithm),
        }
    }

    /// Reads and hashes the bytes not read yet, to the end of the file, reporting the
    /// offset in `progress`; returns the digest (lowercase hex).
    pub fn finish(mut self, progress: &AtomicU64) -> io::Result<String> {
        if self.pos != self.hashed {
            self.pos = self.inner.seek(SeekFrom::Start(self.hashed))?;
        }
        let mut buf = vec![0u8; crate::decode::CHUNK];
        loop {
            match self.read(&mut buf) {
                Ok(0) => break,
                Ok(_) => progress.store(self.hashed, Ordering::Relaxed),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(self.hasher.hex())
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let end = self.pos + n as u64;
        if self.pos <= self.hashed && end > self.hashed {
            let from = (self.hashed - self.pos) as usize;
            self.hasher.update(&buf[from..n]);
            self.hashed = end;
        }
        self.pos = end;
        Ok(n)
    }
}

impl<R: Seek> Seek for HashingReader<R> {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        self.pos = self.inner.seek(to)?;
        Ok(self.pos)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn digest(algorithm: ChecksumAlgorithm, bytes: &[u8]) -> String {
        let mut h = Hasher::new(algorithm);
        h.update(bytes);
        h.hex()
    }

    #[test]
    fn known_digests() {
        use ChecksumAlgorithm::*;
        assert_eq!(digest(Md5, b""), "d41d8cd98f00b204e9800998ecf8427e");
        assert_eq!(
            digest(Sha1, b"abc"),
            "a9993e364706816aba3e25717850c26c9cd0d89d"
        );
        assert_eq!(
            digest(Sha256, b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert!(digest(Sha512, b"abc").starts_with("ddaf35a193617aba"));
    }

    #[test]
    fn hashes_every_byte_once_whatever_the_reads() {
        let data: Vec<u8> = (0..1_000_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let want = digest(ChecksumAlgorithm::Sha256, &data);
        let progress = AtomicU64::new(0);
        // Head, back to the start, tail, back into the middle: what the readers do.
        let mut r = HashingReader::new(Cursor::new(&data), ChecksumAlgorithm::Sha256);
        let mut buf = vec![0; 5000];
        r.read_exact(&mut buf).unwrap();
        r.seek(SeekFrom::Start(0)).unwrap();
        r.read_exact(&mut buf[..100]).unwrap();
        r.seek(SeekFrom::Start(900_000)).unwrap();
        r.read_exact(&mut buf).unwrap();
        r.seek(SeekFrom::Start(3000)).unwrap();
        r.read_exact(&mut buf).unwrap();
        assert_eq!(r.finish(&progress).unwrap(), want);
        assert_eq!(progress.load(Ordering::Relaxed), data.len() as u64);
        // Read whole by the reader itself.
        let mut r = HashingReader::new(Cursor::new(&data), ChecksumAlgorithm::Sha256);
        io::copy(&mut r, &mut io::sink()).unwrap();
        assert_eq!(r.finish(&progress).unwrap(), want);
    }

    #[test]
    fn sums_list_names() {
        use ChecksumAlgorithm::*;
        for (name, want) in [
            ("SHA256SUMS", Some(Sha256)),
            ("sha256sums.txt", Some(Sha256)),
            ("MD5SUMS", Some(Md5)),
            ("Sha1Sums", Some(Sha1)),
            ("SHA512SUMS-2026-12-01", Some(Sha512)),
            ("B2SUMS", None),
            ("sha256sumsx", None),
            ("shop.sql.gz", None),
        ] {
            assert_eq!(sums_list_algorithm(name), want, "{name}");
        }
    }

    #[test]
    fn finds_own_sidecar_then_lists_with_notes() {
        let d = tempfile::tempdir().unwrap();
        let dump = d.path().join("shop.sql.gz");
        fs::write(&dump, b"dump").unwrap();
        assert_eq!(find(&dump).found, None);
        let sha = digest(ChecksumAlgorithm::Sha256, b"dump");
        fs::write(d.path().join("SHA256SUMS"), format!("{sha}  shop.sql.gz\n")).unwrap();
        let s = find(&dump);
        assert_eq!(
            s.found.as_ref().map(|f| f.name.as_str()),
            Some("SHA256SUMS")
        );
        // The dump's own sidecar comes first; one naming another file is passed over.
        fs::write(
            d.path().join("shop.sql.gz.md5"),
            "0123456789abcdef0123456789abcdef  other.sql.gz\n",
        )
        .unwrap();
        let s = find(&dump);
        assert_eq!(
            s.found.as_ref().map(|f| f.name.as_str()),
            Some("SHA256SUMS")
        );
        assert_eq!(
            s.ignored,
            ["shop.sql.gz.md5 names other.sql.gz, not shop.sql.gz: ignored"]
        );
        fs::write(
            d.path().join("shop.sql.gz.sha1"),
            format!("{}\n", "a".repeat(40)),
        )
        .unwrap();
        let s = find(&dump).found.unwrap();
        assert_eq!(
            (s.name.as_str(), s.algorithm),
            ("shop.sql.gz.sha1", ChecksumAlgorithm::Sha1)
        );
    }
}
