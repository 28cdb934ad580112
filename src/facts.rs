//! Plain data that every layer shares: what reading a dump, an archive or a backup
//! directory established. No I/O and no judgement here: the acquiring modules fill these
//! in, the formats interpret them, `judge` turns them into findings, the cache stores them.

use std::fmt;
use std::path::PathBuf;
use std::time::SystemTime;

/// How a dump file is compressed, as told by its first bytes (never by its name).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// Not compressed.
    Plain,
    /// gzip (RFC 1952), possibly several members (pigz, concatenation).
    Gzip,
    /// Zstandard, possibly several frames.
    Zstd,
    /// xz, possibly several streams.
    Xz,
    /// bzip2, possibly several streams (pbzip2, lbzip2).
    Bzip2,
    /// A compression this plugin recognises but cannot verify.
    Unsupported(&'static str),
}

impl Compression {
    /// Short lowercase name used in output and JSON.
    pub fn name(&self) -> &'static str {
        match self {
            Compression::Plain => "plain",
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
            Compression::Xz => "xz",
            Compression::Bzip2 => "bzip2",
            Compression::Unsupported(name) => name,
        }
    }

    /// The compression with this [`name`](Compression::name), for reading cached facts.
    pub fn from_name(name: &str) -> Option<Compression> {
        const ALL: [Compression; 10] = [
            Compression::Plain,
            Compression::Gzip,
            Compression::Zstd,
            Compression::Xz,
            Compression::Bzip2,
            Compression::Unsupported("lz4"),
            Compression::Unsupported("lzma"),
            Compression::Unsupported("zip"),
            Compression::Unsupported("7z"),
            Compression::Unsupported("lzop"),
        ];
        ALL.into_iter().find(|c| c.name() == name)
    }
}

impl serde::Serialize for Compression {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> serde::Deserialize<'de> for Compression {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        Compression::from_name(&name)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown compression {name}")))
    }
}

impl fmt::Display for Compression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What is wrong with a compression stream.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum StreamProblem {
    /// The file ends before the stream's end marker (a cut or still-growing file).
    Truncated {
        /// File size: where the data stopped.
        at: u64,
    },
    /// The decoder rejected the data (bad CRC, flipped byte, bad header).
    Corrupt {
        /// Compressed offset the decoder had read up to when it failed (approximate: the
        /// decoder reads ahead).
        near: u64,
        /// The decoder's words.
        detail: String,
    },
    /// Bytes after the last complete stream that do not start another one.
    TrailingData {
        /// Where the extra bytes start.
        at: u64,
        /// How many there are.
        bytes: u64,
    },
}

impl StreamProblem {
    /// Human text, naming the compression.
    pub fn describe(&self, compression: Compression, file_size: u64) -> String {
        match self {
            StreamProblem::Truncated { at } => format!(
                "{compression} stream truncated: file ends at byte {at} before the end of the stream (cut copy, full disk, or still being written)"
            ),
            StreamProblem::Corrupt { near, detail } => format!(
                "{compression} stream corrupt near byte {near} of {file_size}: {detail}"
            ),
            StreamProblem::TrailingData { at, bytes } => format!(
                "{bytes} bytes of garbage after the end of the {compression} stream at byte {at}"
            ),
        }
    }
}

/// Decoded bytes from both ends of a stream.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sample {
    /// The first bytes (at most the decoder's head size, 16 KiB).
    pub head: Vec<u8>,
    /// The last bytes (at least the decoder's tail size, 64 KiB, when the stream is that long).
    pub tail: Vec<u8>,
    /// True when `tail` starts at the beginning of the stream (so its first line is whole).
    pub tail_is_whole: bool,
}

/// The facts one pass over a dump file establishes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamFacts {
    /// Detected compression.
    pub compression: Compression,
    /// Decoded (uncompressed) bytes; for a broken stream, those decoded before the break.
    pub uncompressed_size: u64,
    /// Compressed bytes read.
    pub compressed_read: u64,
    /// The content's identity as the format states it for free while decoding (gzip: every
    /// member's CRC32 and length), when the stream is whole; None where there is none.
    pub fingerprint: Option<String>,
    /// None when the stream is whole.
    pub problem: Option<StreamProblem>,
    /// Head and tail of the decoded text.
    pub sample: Sample,
    /// For a pg_dump custom-format archive: what walking its blocks established.
    pub archive: Option<ArchiveFacts>,
    /// For a tar archive: what walking its members established.
    pub tar: Option<TarFacts>,
    /// For an encrypted file: what walking its structure without the key established.
    pub encrypted: Option<EncryptedFacts>,
    /// The tables of a compressed SQL dump, counted while decoding (None: not decoded, or
    /// more tables than are counted).
    pub tables: Option<Vec<TableCount>>,
    /// The databases a SQL dump's sections name (`-- Current Database:`, `\connect`, or a
    /// single-database mysqldump's header), sorted, collected while decoding (None: not
    /// decoded whole in this pass, e.g. a plain file, of which only the ends are read).
    pub sections: Option<Vec<String>>,
}

/// One table of a SQL dump, as counted while decoding it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TableCount {
    /// Its name (qualified with the database of a whole-server dump's section).
    pub name: String,
    /// mysqldump: its `INSERT INTO` statements; pg_dump: the data lines of its `COPY`.
    pub rows: u64,
}

/// An encryption format recognised by its magic or structure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Encryption {
    /// OpenPGP binary packets (`gpg -e`, `gpg -c`).
    OpenPgp,
    /// OpenPGP ASCII armour (`gpg -a`): `-----BEGIN PGP MESSAGE-----`.
    OpenPgpArmored,
    /// age (`age-encryption.org/v1`).
    Age,
    /// age armour: `-----BEGIN AGE ENCRYPTED FILE-----`.
    AgeArmored,
    /// `openssl enc` with a salt: `Salted__`.
    OpensslEnc,
    /// CMS / S/MIME enveloped data in DER or BER (`openssl cms|smime -encrypt -outform DER`).
    Cms,
}

impl Encryption {
    /// Its name in messages.
    pub fn name(&self) -> &'static str {
        match self {
            Encryption::OpenPgp => "OpenPGP",
            Encryption::OpenPgpArmored => "OpenPGP, ASCII-armoured",
            Encryption::Age => "age",
            Encryption::AgeArmored => "age, armoured",
            Encryption::OpensslEnc => "openssl enc",
            Encryption::Cms => "CMS/S-MIME",
        }
    }
}

/// What walking an encrypted file's structure, without the key, established.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct EncryptedFacts {
    /// The format.
    pub encryption: Encryption,
    /// The cipher and container as far as visible, e.g. "AES256 via SEIPD" (may be empty).
    pub cipher: String,
    /// Recipients as far as visible: OpenPGP key IDs, age stanza types, CMS recipient count.
    pub recipients: Vec<String>,
    /// What the walk verified, in words (for the OK message).
    pub verified: String,
    /// What cannot be verified without the key beyond the content itself (e.g. "a cut on a
    /// chunk boundary"), in words; may be empty.
    pub blind_spot: String,
    /// False when the format carries no integrity protection at all (openssl enc, OpenPGP
    /// SED): even with the key a change could pass unseen.
    pub integrity: bool,
    /// What is broken, if anything.
    pub problem: Option<String>,
    /// Why the structure, not provably broken, cannot be called whole either (an `openssl
    /// enc` file of odd length: a stream cipher's whole file, or a block cipher's cut one):
    /// never OK, whatever `--encrypted-without-key` says.
    #[serde(default)]
    pub doubt: Option<String>,
    /// The byte offset (in the file) where the problem was found.
    pub offset: Option<u64>,
    /// The tool that decrypted the file (`--decrypt-with`), when it was decrypted: then the
    /// decrypted content was judged like an unencrypted dump's, and `problem` is the
    /// tool's complaint, if any.
    #[serde(default)]
    pub decrypted_with: Option<String>,
}

/// The tool that decrypts a dump (`--decrypt-with`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecryptTool {
    /// GnuPG, with the monitoring user's keyring (`--gpg-homedir`).
    Gpg,
    /// age, with an identity file (`--age-identity`).
    Age,
}

impl DecryptTool {
    /// The command line's name (and the program run).
    pub fn name(&self) -> &'static str {
        match self {
            DecryptTool::Gpg => "gpg",
            DecryptTool::Age => "age",
        }
    }
}

/// What the key path of a [`Decryption`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeySource {
    /// `--gpg-homedir`: a GnuPG home directory holding the secret key.
    GpgHomedir,
    /// `--gpg-key`: an exported secret (sub)key file, imported into a throwaway home
    /// directory in memory-backed space for each decryption.
    GpgKeyFile,
    /// `--age-identity`: an age identity file.
    AgeIdentity,
}

impl KeySource {
    /// The command-line option that gives it.
    pub fn option(&self) -> &'static str {
        match self {
            KeySource::GpgHomedir => "--gpg-homedir",
            KeySource::GpgKeyFile => "--gpg-key",
            KeySource::AgeIdentity => "--age-identity",
        }
    }
}

/// How to decrypt an encrypted dump: the tool and its key material.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decryption {
    /// The tool.
    pub tool: DecryptTool,
    /// What `key` is.
    pub source: KeySource,
    /// The home directory, key file or identity file (see `source`).
    pub key: std::path::PathBuf,
}

impl Decryption {
    /// Its part of the cache key: a verdict with decryption is not one without.
    pub fn cache_key(&self) -> String {
        let how = match self.source {
            KeySource::GpgKeyFile => "gpg-key",
            _ => self.tool.name(),
        };
        format!("decrypt={how}:{}", self.key.display())
    }
}

/// One regular member of a tar archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// Its name.
    pub name: String,
    /// Its size.
    pub size: u64,
    /// Decoded head and tail, for the marker rules.
    pub sample: Sample,
}

/// What walking a tar archive established.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TarFacts {
    /// Regular members (the first [`MAX_SAMPLED`] with samples).
    pub members: Vec<Member>,
    /// Count of all regular members.
    pub member_count: u64,
    /// Names of all regular members (at most 100,000).
    pub names: Vec<String>,
    /// The archive ends with its two zero blocks.
    pub end_marker: bool,
    /// What is wrong, if anything.
    pub problem: Option<String>,
    /// The contents of a `toc.dat` member (pg_dump -Ft), if any (bounded).
    pub pg_toc: Option<Vec<u8>>,
    /// The member the archive was cut in, if it was.
    pub cut_member: Option<String>,
}

/// The tool that wrote a dump, recognised from its first lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Writer {
    /// mysqldump or mariadb-dump (`-- MySQL dump` / `-- MariaDB dump`).
    Mysqldump,
    /// pg_dump, plain format (`-- PostgreSQL database dump`).
    PgDump,
    /// pg_dumpall (`-- PostgreSQL database cluster dump`).
    PgDumpall,
    /// pg_dump custom format (binary, `PGDMP`): no text trailer.
    PgCustom,
    /// Not recognised.
    Unknown,
    /// A tar archive (of dumps, or pg_dump -Ft), walked member by member.
    Tar,
    /// A backup directory (pg_dump -Fd, mydumper, mariabackup), recognised by its layout.
    Directory(DirKind),
}

impl Writer {
    /// Name used in output and JSON.
    pub fn name(&self) -> &'static str {
        match self {
            Writer::Mysqldump => "mysqldump",
            Writer::PgDump => "pg_dump",
            Writer::PgDumpall => "pg_dumpall",
            Writer::PgCustom => "pg_dump custom format",
            Writer::Unknown => "unknown",
            Writer::Directory(kind) => kind.name(),
            Writer::Tar => "tar archive",
        }
    }
}

/// The kinds of backup that are more than one text stream.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ArchiveKind {
    /// `pg_dump -Fc` (magic `PGDMP`).
    #[default]
    PgCustom,
    /// `pg_dump -Fd`.
    PgDirectory,
    /// `pg_dump -Ft`.
    PgTar,
    /// A tar archive of dumps.
    Tar,
    /// A mydumper directory.
    Mydumper,
    /// A mariabackup / xtrabackup directory.
    Xtrabackup,
    /// A directory that holds no backup (see [`DirKind::NoBackup`]).
    NoBackup,
    /// A `pg_backupcluster ... dump` entry (`<timestamp>.dump/`).
    PgClusterDump,
    /// A `pg_backupcluster ... basebackup` entry (`<timestamp>.backup/`).
    PgBaseBackup,
}

impl ArchiveKind {
    /// Name used in output.
    pub fn name(&self) -> &'static str {
        match self {
            ArchiveKind::PgCustom => "pg_dump custom archive",
            ArchiveKind::PgDirectory => "pg_dump directory archive",
            ArchiveKind::PgTar => "pg_dump tar archive",
            ArchiveKind::Tar => "tar archive",
            ArchiveKind::Mydumper => DirKind::Mydumper.name(),
            ArchiveKind::Xtrabackup => DirKind::Xtrabackup.name(),
            ArchiveKind::NoBackup => DirKind::NoBackup.name(),
            ArchiveKind::PgClusterDump => DirKind::PgClusterDump.name(),
            ArchiveKind::PgBaseBackup => DirKind::PgBaseBackup.name(),
        }
    }

    /// A pg_dump archive (custom, directory or tar), judged by its table of contents.
    pub fn is_pg_dump(&self) -> bool {
        matches!(
            self,
            ArchiveKind::PgCustom | ArchiveKind::PgDirectory | ArchiveKind::PgTar
        )
    }
}

/// What verifying a backup that is more than one text stream established: a pg_dump
/// custom or directory archive, a mydumper directory, a mariabackup/xtrabackup directory.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ArchiveFacts {
    /// What it is.
    pub kind: ArchiveKind,
    /// Format or tool version, e.g. "1.14.0".
    pub version: String,
    /// False for a version this check does not know (then nothing else was checked).
    pub supported: bool,
    /// Compression inside: "none", "gzip", "lz4", "zstd".
    pub compression: String,
    /// Database name, when the format records one.
    pub database: String,
    /// Entries in the table of contents (pg_dump).
    pub toc_entries: u32,
    /// Entries or files that carry data.
    pub data_entries: u32,
    /// Table-data blocks or files found complete.
    pub tables: u32,
    /// Tables the archive creates (pg_dump TOC entries `TABLE`): with no data entries at
    /// all, the archive is a schema without its rows (`--schema-only`, `--section=pre-data`).
    #[serde(default)]
    pub tables_defined: u32,
    /// Large-object blocks found complete (pg_dump).
    pub blobs: u32,
    /// What is wrong, if anything (names the entry or file where it stops).
    pub problem: Option<String>,
    /// Extra words for the OK message (e.g. mariabackup's backup type and LSN).
    #[serde(default)]
    pub detail: String,
    /// The databases it holds a dump of, when it is a set of them (pg_backupcluster).
    #[serde(default)]
    pub databases: Vec<String>,
    /// What is doubtful though nothing is broken (a pg_backupcluster file changed after
    /// the run ended): a WARNING of its own.
    #[serde(default)]
    pub warning: Option<String>,
    /// What only `-v` shows (a time that could not be read).
    #[serde(default)]
    pub notes: Vec<String>,
}

impl ArchiveFacts {
    /// Empty facts about a backup of this kind.
    pub fn new(kind: ArchiveKind) -> ArchiveFacts {
        ArchiveFacts {
            kind,
            supported: true,
            ..ArchiveFacts::default()
        }
    }
}

/// What the completion-marker rule concluded.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum MarkerVerdict {
    /// `--marker none`: not looked at.
    NotChecked,
    /// `--marker auto` on content whose completeness no rule can prove.
    CannotVerify,
    /// The marker is there.
    Found {
        /// The marker line.
        line: String,
        /// mysqldump's date, when present.
        date: Option<String>,
        /// Which rule found it: a writer name or "custom".
        rule: String,
    },
    /// The marker is missing.
    Missing {
        /// What the rule expected, in words.
        expected: String,
        /// The last non-blank line found instead.
        last_line: Option<String>,
        /// That line has no final newline (the file was cut).
        #[serde(default)]
        unterminated: bool,
    },
}

/// The content facts of one dump: everything the content findings are judged from, and all
/// that the cache keeps (so a cached verdict is judged exactly like a fresh one).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ContentFacts {
    /// Detected compression.
    pub compression: Compression,
    /// Decoded size (up to the problem, if any).
    pub uncompressed_size: u64,
    /// None when the stream is whole.
    pub problem: Option<StreamProblem>,
    /// Plain content with NUL bytes that no writer claims: a damaged or unknown format.
    pub binary: bool,
    /// The writer recognised from the head.
    pub writer: Writer,
    /// The marker rule's conclusion.
    pub marker: MarkerVerdict,
    /// For an archive format walked block by block (pg_dump custom), what it established.
    #[serde(default)]
    pub archive: Option<ArchiveFacts>,
    /// The checksum file found for the dump and what hashing the dump gave (None: no
    /// checksum file, or `--checksum off`).
    #[serde(default)]
    pub checksum: Option<ChecksumFacts>,
    /// For an encrypted file: what walking its structure without the key established.
    #[serde(default)]
    pub encrypted: Option<EncryptedFacts>,
    /// The content's identity from decoding (see [`StreamFacts::fingerprint`]).
    #[serde(default)]
    pub fingerprint: Option<String>,
    /// The tables of a mysqldump or pg_dump text dump (see [`StreamFacts::tables`]).
    #[serde(default)]
    pub tables: Option<Vec<TableCount>>,
    /// The databases a mysqldump or pg_dump(all) text dump holds (see
    /// [`StreamFacts::sections`]); None in entries cached before they were collected.
    #[serde(default)]
    pub sections: Option<Vec<String>>,
}

impl ContentFacts {
    /// What identifies this content without reading it again, by kind: the format's own
    /// fingerprint, and the checksum file's digest of the whole file (as hashed).
    pub fn identities(&self) -> Vec<String> {
        let mut out: Vec<String> = self.fingerprint.iter().cloned().collect();
        if let Some(c) = &self.checksum {
            out.push(format!("{}:{}", c.algorithm, c.actual));
        }
        out
    }
}

/// A hash algorithm that backup jobs write checksum files with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChecksumAlgorithm {
    /// SHA-256 (`sha256sum`).
    Sha256,
    /// SHA-512 (`sha512sum`).
    Sha512,
    /// SHA-1 (`sha1sum`).
    Sha1,
    /// MD5 (`md5sum`).
    Md5,
}

impl ChecksumAlgorithm {
    /// Every algorithm, strongest first (the order sidecars are looked for in).
    pub const ALL: [ChecksumAlgorithm; 4] = [
        ChecksumAlgorithm::Sha256,
        ChecksumAlgorithm::Sha512,
        ChecksumAlgorithm::Sha1,
        ChecksumAlgorithm::Md5,
    ];

    /// Lowercase name, also the sidecar suffix (`.sha256`) and the sums file's stem
    /// (`SHA256SUMS`).
    pub fn name(&self) -> &'static str {
        match self {
            ChecksumAlgorithm::Sha256 => "sha256",
            ChecksumAlgorithm::Sha512 => "sha512",
            ChecksumAlgorithm::Sha1 => "sha1",
            ChecksumAlgorithm::Md5 => "md5",
        }
    }

    /// Length of the digest in hex digits.
    pub fn hex_len(&self) -> usize {
        match self {
            ChecksumAlgorithm::Sha256 => 64,
            ChecksumAlgorithm::Sha512 => 128,
            ChecksumAlgorithm::Sha1 => 40,
            ChecksumAlgorithm::Md5 => 32,
        }
    }
}

impl fmt::Display for ChecksumAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A checksum file's claim about the dump, and what the dump's bytes hash to.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ChecksumFacts {
    /// The checksum file's name (`shop.sql.gz.sha256`, `SHA256SUMS`), as found.
    pub file: String,
    /// Its algorithm.
    pub algorithm: ChecksumAlgorithm,
    /// The digest it records for the dump (lowercase hex).
    pub expected: String,
    /// The digest of the dump's bytes (lowercase hex).
    pub actual: String,
    /// The checksum file's modification time.
    pub mtime: SystemTime,
}

/// The kinds of backup directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum DirKind {
    /// `pg_dump -Fd`: `toc.dat` plus one data file per table.
    PgDirectory,
    /// mydumper: `metadata` (`metadata.partial` while running) plus per-table files.
    Mydumper,
    /// mariabackup / xtrabackup: `xtrabackup_checkpoints` plus the copied data files.
    Xtrabackup,
    /// A directory where a backup directory was due (the newest of a set of backup
    /// directories, or one named like a database's dumps) that holds none: the run that
    /// made it left no backup (server down, killed before writing anything).
    NoBackup,
    /// Debian's `pg_backupcluster ... dump`: `<db>.dump` (pg_dump custom) per database,
    /// `globals.sql`, `databases.sql`, `createcluster.opts`, `config.tar.gz`, then `status`.
    PgClusterDump,
    /// Debian's `pg_backupcluster ... basebackup`: pg_basebackup's `base.tar.gz`,
    /// `pg_wal.tar.gz` and `backup_manifest`, `config.tar.gz`, then `status`.
    PgBaseBackup,
}

impl DirKind {
    /// Name used in output.
    pub fn name(&self) -> &'static str {
        match self {
            DirKind::PgDirectory => "pg_dump directory archive",
            DirKind::Mydumper => "mydumper directory",
            DirKind::Xtrabackup => "mariabackup/xtrabackup directory",
            DirKind::NoBackup => "backup directory",
            DirKind::PgClusterDump => "pg_backupcluster dump",
            DirKind::PgBaseBackup => "pg_backupcluster base backup",
        }
    }

    /// For the two pg_backupcluster entries: the word `--kind` and the output use.
    pub fn entry_word(&self) -> Option<&'static str> {
        match self {
            DirKind::PgClusterDump => Some("dump"),
            DirKind::PgBaseBackup => Some("basebackup"),
            _ => None,
        }
    }
}

/// What a pg_backupcluster entry's `status` file said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryStatus {
    /// There is none: the run did not finish (killed, or failed and kept).
    Missing,
    /// It is not what pg_backupcluster writes (the reason).
    Invalid(String),
    /// It parsed.
    Parsed {
        /// Its `status` value (`ok` on success).
        status: String,
        /// Its `type` (`dump`, `basebackup`).
        kind: String,
        /// Its `end` time, as written.
        end: String,
        /// `end` read as a time (seconds since the epoch; pg_backupcluster writes it in
        /// UTC), or None when it cannot be read.
        ended: Option<i64>,
    },
}

/// One file of a pg_backupcluster entry that was verified, and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryFile {
    /// Its name in the entry.
    pub name: String,
    /// What is wrong (names the database, member or manifest entry), or None.
    pub problem: Option<String>,
    /// What could not be verified (a format version this check does not know), if so.
    pub unverified: Option<String>,
}

/// What verifying one pg_backupcluster entry established (judged by `judge::pg_cluster`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterEntryFacts {
    /// Dump or base backup.
    pub kind: DirKind,
    /// The `status` file.
    pub status: EntryStatus,
    /// Every file in the entry, by name, with its size.
    pub present: Vec<(String, u64)>,
    /// Every file in the entry, by name, with its modification time (seconds since the
    /// epoch).
    pub modified: Vec<(String, i64)>,
    /// Every file verified, in order.
    pub files: Vec<EntryFile>,
    /// Dump entries: the databases `databases.sql` creates (None when it is unreadable).
    pub created_databases: Option<Vec<String>>,
    /// Dump entries: the databases with a `<db>.dump` that verified complete.
    pub dumped_databases: Vec<String>,
    /// Base backups: what the manifest check established, in words.
    pub manifest: Option<String>,
}

/// One regular file that could be the dump.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// Its path, as found.
    pub path: PathBuf,
    /// Last modification time.
    pub mtime: SystemTime,
    /// Size on disk, in bytes (for a backup directory: all its files).
    pub size: u64,
    /// Set when the candidate is a backup directory (pg_dump -Fd, mydumper, mariabackup).
    pub dir_kind: Option<DirKind>,
}

/// How a restore drill ended (`backup-drill`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DrillOutcome {
    /// The dump restored without a client error, and every table and view it creates
    /// exists with the rows it inserts.
    Restored,
    /// The client stopped with an error, or the restored databases differ from the dump.
    Failed,
}

/// One database of a restore drill.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DrillDatabase {
    /// Its name (as the dump's `USE` / `\connect` says, or the one the drill created).
    pub name: String,
    /// Tables the dump creates in it.
    pub tables: u64,
    /// Rows the dump inserts into them.
    pub rows: u64,
    /// Decoded bytes of the dump while this database was current.
    pub bytes: u64,
    /// Seconds spent streaming its part of the dump (at the granularity of one read).
    pub seconds: f64,
}

/// The result of one restore drill, as `backup-drill` writes it into the cache directory
/// and check_backup reads it (`--drill-max-age`).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DrillResult {
    /// The set's `-f` argument (canonical when it names an existing path).
    pub set: String,
    /// The dump drilled (canonical path).
    pub dump: String,
    /// Its size in bytes when drilled.
    pub dump_size: u64,
    /// Its mtime when drilled, nanoseconds since the epoch.
    pub dump_mtime_ns: i64,
    /// Its writer (`mysqldump`, `pg_dump`, `pg_dumpall`, `pg_dump custom format`).
    pub writer: String,
    /// The server the dump was restored into (`mariadbd 10.11.19-MariaDB...`).
    pub server: String,
    /// Unix time the drill finished.
    pub finished_at: u64,
    /// Restored, or failed.
    pub outcome: DrillOutcome,
    /// The client's first error, or the first difference found, when it failed.
    pub error: Option<String>,
    /// Every difference between the dump and the restored databases (bounded).
    pub differences: Vec<String>,
    /// Seconds from the first byte sent to the client to its exit.
    pub restore_seconds: f64,
    /// Tables the dump creates.
    pub tables: u64,
    /// Views the dump creates.
    pub views: u64,
    /// Rows the dump inserts (in a failed drill: counted up to where the client stopped).
    pub rows: u64,
    /// Decoded bytes streamed into the client.
    pub bytes: u64,
    /// Per database.
    pub databases: Vec<DrillDatabase>,
    /// The database of a `--per-database` set whose newest dump this drill restored; None
    /// for a set of whole dumps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database: Option<String>,
}
