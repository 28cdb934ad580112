//! Pure readers of what Debian's `pg_backupcluster` (package postgresql-common) writes into
//! `/var/backups/postgresql/<version>-<cluster>/<timestamp>.dump|.backup/`: the `status`
//! JSON written last, `databases.sql` (one `CREATE DATABASE` per database besides
//! `postgres` and `template1`), and pg_basebackup's `backup_manifest` (PostgreSQL 13+)
//! with the checksums it lists. No file is opened here.

use std::io::{self, Read};

use sha2::Digest;

/// The `status` file: one JSON object, written after everything else, e.g.
/// `{"status":"ok","duration":1,"end":"Tue Dec  1 17:24:20 2026","start":"Tue Dec  1
/// 17:24:19 2026","type":"dump","cluster":"ckbtest","version":15}` (key order varies:
/// Perl's JSON module writes a hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// `"ok"` (the only value pg_backupcluster 248 writes; anything else is a failure).
    pub status: String,
    /// `"dump"` or `"basebackup"`.
    pub kind: String,
    /// When the run ended (UTC, Perl's `scalar gmtime` format: pg_backupcluster 248 writes
    /// `end => scalar(gmtime($endtime))`).
    pub end: String,
    /// Seconds the run took.
    pub duration: Option<u64>,
    /// The cluster's major version and name.
    pub version: String,
    /// The cluster's name.
    pub cluster: String,
}

/// Parses `status`; the error says what is wrong with it.
pub fn parse_status(bytes: &[u8]) -> Result<Status, String> {
    let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| {
        format!(
            "status is not JSON ({e}): {}",
            crate::text::safe_bytes(bytes, 80)
        )
    })?;
    let obj = value
        .as_object()
        .ok_or_else(|| "status is not a JSON object".to_string())?;
    let text = |key: &str| match obj.get(key) {
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(serde_json::Value::Number(n)) => n.to_string(),
        _ => String::new(),
    };
    if !obj.contains_key("status") {
        return Err("status has no \"status\" field".into());
    }
    Ok(Status {
        status: text("status"),
        kind: text("type"),
        end: text("end"),
        duration: obj.get("duration").and_then(|d| d.as_u64()),
        version: text("version"),
        cluster: text("cluster"),
    })
}

/// A time of `status` (`"Tue Dec  1 17:24:20 2026"`: Perl's `scalar gmtime`, so UTC
/// whatever the server's time zone) as seconds since the epoch; None when it is not one.
pub fn status_time(text: &str) -> Option<i64> {
    chrono::NaiveDateTime::parse_from_str(text.trim(), "%a %b %e %H:%M:%S %Y")
        .ok()
        .map(|t| t.and_utc().timestamp())
}

/// The databases `databases.sql` creates: its `CREATE DATABASE <name> WITH ...` lines
/// (names as PostgreSQL's `format('%I')` quotes them).
pub fn databases_created(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| l.strip_prefix("CREATE DATABASE "))
        .filter_map(identifier)
        .collect()
}

/// The identifier at the start of `s`: `name` or `"quoted ""name"""`.
fn identifier(s: &str) -> Option<String> {
    if let Some(rest) = s.strip_prefix('"') {
        let mut out = String::new();
        let mut chars = rest.chars().peekable();
        while let Some(c) = chars.next() {
            if c == '"' {
                if chars.peek() == Some(&'"') {
                    chars.next();
                    out.push('"');
                } else {
                    return Some(out);
                }
            } else {
                out.push(c);
            }
        }
        None
    } else {
        let name: String = s.chars().take_while(|c| !c.is_whitespace()).collect();
        (!name.is_empty()).then_some(name)
    }
}

/// A checksum algorithm of `backup_manifest`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    /// `NONE`: nothing to compare.
    None,
    /// `CRC32C` (pg_basebackup's default), written as the 4 bytes of the CRC in
    /// little-endian order.
    Crc32c,
    /// `SHA224`.
    Sha224,
    /// `SHA256`.
    Sha256,
    /// `SHA384`.
    Sha384,
    /// `SHA512`.
    Sha512,
}

impl Algorithm {
    fn parse(name: &str) -> Option<Algorithm> {
        Some(match name.to_ascii_uppercase().as_str() {
            "NONE" => Algorithm::None,
            "CRC32C" => Algorithm::Crc32c,
            "SHA224" => Algorithm::Sha224,
            "SHA256" => Algorithm::Sha256,
            "SHA384" => Algorithm::Sha384,
            "SHA512" => Algorithm::Sha512,
            _ => return None,
        })
    }

    /// Its name as the manifest writes it.
    pub fn name(&self) -> &'static str {
        match self {
            Algorithm::None => "NONE",
            Algorithm::Crc32c => "CRC32C",
            Algorithm::Sha224 => "SHA224",
            Algorithm::Sha256 => "SHA256",
            Algorithm::Sha384 => "SHA384",
            Algorithm::Sha512 => "SHA512",
        }
    }
}

/// One file listed in the manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestFile {
    /// Its path inside the data directory (`Path`, or `Encoded-Path` decoded from hex).
    pub path: String,
    /// Its size.
    pub size: u64,
    /// The algorithm of its checksum.
    pub algorithm: Algorithm,
    /// The checksum, as raw bytes (empty for `NONE`).
    pub checksum: Vec<u8>,
}

/// One range of WAL the backup needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WalRange {
    /// Timeline.
    pub timeline: u32,
    /// First LSN.
    pub start: u64,
    /// Last LSN.
    pub end: u64,
}

/// A parsed `backup_manifest`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    /// `PostgreSQL-Backup-Manifest-Version`: 1 (PostgreSQL 13-16) or 2 (17+).
    pub version: u64,
    /// `System-Identifier` (version 2).
    pub system_identifier: Option<u64>,
    /// The files.
    pub files: Vec<ManifestFile>,
    /// `WAL-Ranges`.
    pub wal_ranges: Vec<WalRange>,
}

fn hex_decode(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Hex digits, lowercase.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn lsn(s: &str) -> Option<u64> {
    let (hi, lo) = s.split_once('/')?;
    Some((u64::from_str_radix(hi, 16).ok()? << 32) | u64::from_str_radix(lo, 16).ok()?)
}

/// Verifies the manifest's own checksum: SHA-256 over every byte up to and including the
/// newline before the `"Manifest-Checksum"` line, as pg_verifybackup computes it.
pub fn check_manifest_checksum(bytes: &[u8]) -> Result<(), String> {
    read_manifest(bytes).map_or_else(|e| Err(e.to_string()), |(sum, _)| sum)
}

/// Parses a `backup_manifest` (versions 1 and 2).
pub fn parse_manifest(bytes: &[u8]) -> Result<Manifest, String> {
    read_manifest(bytes).map_or_else(|e| Err(e.to_string()), |(_, m)| m)
}

/// The longest line kept whole while the manifest streams by: the checksum line is about
/// 90 bytes, a file's line at most a few KiB (`Encoded-Path` of a 1024-byte path).
const MAX_LINE: usize = 16 * 1024;

/// Passes the manifest through, hashing it one line late: when the file ends, the last
/// line (which should be the `"Manifest-Checksum"` line) is not yet hashed, everything
/// before it is. Memory: one or two lines.
struct LineHasher<R> {
    inner: R,
    hasher: sha2::Sha256,
    /// The last complete line (with its newline), not hashed yet.
    held: Vec<u8>,
    /// The line being read, not hashed yet (unless longer than `MAX_LINE`).
    pending: Vec<u8>,
    /// The line in `pending` was longer than `MAX_LINE`: its start is hashed already.
    pending_long: bool,
    held_long: bool,
    newlines: u64,
    io_error: Option<io::Error>,
}

impl<R: Read> LineHasher<R> {
    fn feed(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            let (line, rest, newline) = match memchr::memchr(b'\n', bytes) {
                Some(i) => (&bytes[..=i], &bytes[i + 1..], true),
                None => (bytes, &[][..], false),
            };
            self.pending.extend_from_slice(line);
            if newline {
                self.newlines += 1;
                self.hasher.update(&self.held);
                self.held = std::mem::take(&mut self.pending);
                self.held_long = std::mem::take(&mut self.pending_long);
            } else if self.pending.len() > MAX_LINE {
                // Too long to be the checksum line: hash what came before it and its start.
                self.hasher.update(&self.held);
                self.held.clear();
                self.hasher.update(&self.pending);
                self.pending.clear();
                self.pending_long = true;
            }
            bytes = rest;
        }
    }

    /// The manifest's own checksum, compared with its last line.
    fn verdict(self) -> Result<(), String> {
        let LineHasher {
            mut hasher,
            held,
            pending,
            pending_long,
            held_long,
            newlines,
            ..
        } = self;
        // The last line is `pending` when the file does not end with a newline.
        let (last, last_long, body_newlines) = if pending.is_empty() && !pending_long {
            let line = held.strip_suffix(b"\n").unwrap_or(&held).to_vec();
            (line, held_long, newlines.saturating_sub(1))
        } else {
            hasher.update(&held);
            (pending, pending_long, newlines)
        };
        if body_newlines == 0 {
            return Err("backup_manifest has no Manifest-Checksum line".into());
        }
        let last = String::from_utf8_lossy(&last);
        let stored = last
            .strip_prefix("\"Manifest-Checksum\": \"")
            .and_then(|r| r.strip_suffix("\"}"))
            .filter(|_| !last_long);
        let Some(stored) = stored else {
            return Err(format!(
                "backup_manifest does not end with its Manifest-Checksum line (cut?): last line '{}'",
                crate::text::safe(&last, 80)
            ));
        };
        let computed = hex(&hasher.finalize());
        if !computed.eq_ignore_ascii_case(stored) {
            return Err(format!(
                "backup_manifest checksum mismatch: it says {}, its content hashes to {computed} (the manifest was edited or damaged)",
                crate::text::safe(stored, 70)
            ));
        }
        Ok(())
    }
}

impl<R: Read> Read for LineHasher<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.inner.read(buf) {
            Ok(n) => {
                self.feed(&buf[..n]);
                Ok(n)
            }
            Err(e) => {
                self.io_error = Some(io::Error::new(e.kind(), e.to_string()));
                Err(e)
            }
        }
    }
}

/// One entry of `Files` as written.
#[derive(serde::Deserialize)]
struct RawFile {
    #[serde(rename = "Path")]
    path: Option<String>,
    #[serde(rename = "Encoded-Path")]
    encoded_path: Option<String>,
    #[serde(rename = "Size")]
    size: Option<u64>,
    #[serde(rename = "Checksum-Algorithm")]
    algorithm: Option<String>,
    #[serde(rename = "Checksum")]
    checksum: Option<String>,
}

/// One entry of `WAL-Ranges` as written.
#[derive(serde::Deserialize)]
struct RawRange {
    #[serde(rename = "Timeline")]
    timeline: Option<u64>,
    #[serde(rename = "Start-LSN")]
    start: Option<String>,
    #[serde(rename = "End-LSN")]
    end: Option<String>,
}

fn file_entry(i: usize, f: RawFile) -> Result<ManifestFile, String> {
    let path = match (f.path, f.encoded_path) {
        (Some(p), _) => p,
        (_, Some(e)) => hex_decode(&e)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .ok_or_else(|| format!("backup_manifest file {i}: bad Encoded-Path"))?,
        _ => return Err(format!("backup_manifest file {i} has no Path")),
    };
    let size = f.size.ok_or_else(|| {
        format!(
            "backup_manifest: {} has no Size",
            crate::text::safe(&path, 120)
        )
    })?;
    let algorithm = match &f.algorithm {
        None => Algorithm::None,
        Some(name) => Algorithm::parse(name).ok_or_else(|| {
            format!(
                "backup_manifest: {} has an unknown checksum algorithm {}",
                crate::text::safe(&path, 120),
                crate::text::safe(name, 20)
            )
        })?,
    };
    let checksum = match (algorithm, &f.checksum) {
        (Algorithm::None, _) => Vec::new(),
        (_, Some(h)) => hex_decode(h).ok_or_else(|| {
            format!(
                "backup_manifest: {} has a bad checksum",
                crate::text::safe(&path, 120)
            )
        })?,
        (_, None) => {
            return Err(format!(
                "backup_manifest: {} has no Checksum",
                crate::text::safe(&path, 120)
            ))
        }
    };
    Ok(ManifestFile {
        path,
        size,
        algorithm,
        checksum,
    })
}

/// The top-level object, read key by key; `Files` entry by entry, each turned into a
/// [`ManifestFile`] as it is read. The first semantic error (a file without a path...) is
/// kept in `error`: the JSON error that stops the parse carries no better words.
struct ManifestSeed<'a> {
    error: &'a mut Option<String>,
}

#[derive(Default)]
struct Parts {
    version: Option<u64>,
    system_identifier: Option<u64>,
    files: Option<Vec<ManifestFile>>,
    wal_ranges: Option<Vec<RawRange>>,
}

impl<'de> serde::de::DeserializeSeed<'de> for ManifestSeed<'_> {
    type Value = Parts;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Parts, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> serde::de::Visitor<'de> for ManifestSeed<'_> {
    type Value = Parts;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a backup_manifest object")
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Parts, A::Error> {
        let mut parts = Parts::default();
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "PostgreSQL-Backup-Manifest-Version" => {
                    parts.version = map.next_value::<serde_json::Value>()?.as_u64()
                }
                "System-Identifier" => {
                    parts.system_identifier = map.next_value::<serde_json::Value>()?.as_u64()
                }
                "Files" => {
                    parts.files = Some(map.next_value_seed(FilesSeed {
                        error: &mut *self.error,
                    })?)
                }
                "WAL-Ranges" => parts.wal_ranges = Some(map.next_value()?),
                _ => {
                    map.next_value::<serde::de::IgnoredAny>()?;
                }
            }
        }
        Ok(parts)
    }
}

struct FilesSeed<'a> {
    error: &'a mut Option<String>,
}

impl<'de> serde::de::DeserializeSeed<'de> for FilesSeed<'_> {
    type Value = Vec<ManifestFile>;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> serde::de::Visitor<'de> for FilesSeed<'_> {
    type Value = Vec<ManifestFile>;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a list of files")
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut files = Vec::new();
        while let Some(raw) = seq.next_element::<RawFile>()? {
            match file_entry(files.len(), raw) {
                Ok(f) => files.push(f),
                Err(e) => {
                    *self.error = Some(e);
                    return Err(serde::de::Error::custom("bad file entry"));
                }
            }
        }
        Ok(files)
    }
}

/// Reads a `backup_manifest` (versions 1 and 2) in one streaming pass: its own checksum
/// (first result) and its content (second). Memory is proportional to the number of
/// files it lists (one [`ManifestFile`] each, plus a line of text), never to its size in
/// bytes. Errors are the reader's; what is wrong with the manifest is in the results.
#[allow(clippy::type_complexity)]
pub fn read_manifest<R: Read>(r: R) -> io::Result<(Result<(), String>, Result<Manifest, String>)> {
    let hashing = LineHasher {
        inner: r,
        hasher: sha2::Sha256::new(),
        held: Vec::new(),
        pending: Vec::new(),
        pending_long: false,
        held_long: false,
        newlines: 0,
        io_error: None,
    };
    let mut input = io::BufReader::with_capacity(64 * 1024, hashing);
    let mut semantic = None;
    let parsed = {
        use serde::de::DeserializeSeed;
        let mut de = serde_json::Deserializer::from_reader(&mut input);
        ManifestSeed {
            error: &mut semantic,
        }
        .deserialize(&mut de)
        .and_then(|p| de.end().map(|()| p))
    };
    // The checksum covers every byte: read what the parser left (after an error too).
    if input.get_ref().io_error.is_none() {
        let _ = io::copy(&mut input, &mut io::sink());
    }
    let hashing = input.into_inner();
    if let Some(e) = hashing.io_error {
        return Err(e);
    }
    let content = match parsed {
        Err(e) => {
            Err(semantic.unwrap_or_else(|| format!("backup_manifest is not valid JSON: {e}")))
        }
        Ok(p) => manifest_from(p),
    };
    Ok((hashing.verdict(), content))
}

fn manifest_from(p: Parts) -> Result<Manifest, String> {
    let version = p
        .version
        .ok_or("backup_manifest has no PostgreSQL-Backup-Manifest-Version")?;
    if !(1..=2).contains(&version) {
        return Err(format!(
            "backup_manifest version {version} is not one this check knows (1, 2)"
        ));
    }
    let files = p.files.ok_or("backup_manifest has no Files list")?;
    let mut wal_ranges = Vec::new();
    for r in p.wal_ranges.ok_or("backup_manifest has no WAL-Ranges")? {
        let get = |v: &Option<String>| v.as_deref().and_then(lsn);
        match (r.timeline, get(&r.start), get(&r.end)) {
            (Some(t), Some(start), Some(end)) if t <= u64::from(u32::MAX) && start <= end => {
                wal_ranges.push(WalRange {
                    timeline: t as u32,
                    start,
                    end,
                })
            }
            _ => return Err("backup_manifest has a malformed WAL-Ranges entry".into()),
        }
    }
    Ok(Manifest {
        version,
        system_identifier: p.system_identifier,
        files,
        wal_ranges,
    })
}

/// The WAL segment files (`TTTTTTTTXXXXXXXXYYYYYYYY`) a range needs, for a segment size.
pub fn wal_segments(range: &WalRange, seg_size: u64) -> Vec<String> {
    if seg_size == 0 || !seg_size.is_power_of_two() {
        return Vec::new();
    }
    let per_id = 0x1_0000_0000u64 / seg_size.min(0x1_0000_0000);
    let first = range.start / seg_size;
    // An end exactly on a segment boundary needs nothing of the next segment.
    let last = if range.end > range.start && range.end % seg_size == 0 {
        range.end / seg_size - 1
    } else {
        range.end / seg_size
    };
    (first..=last.max(first))
        .take(100_000)
        .map(|seg| {
            format!(
                "{:08X}{:08X}{:08X}",
                range.timeline,
                seg / per_id,
                seg % per_id
            )
        })
        .collect()
}

/// CRC-32C (Castagnoli), slicing by 8.
pub struct Crc32c {
    crc: u32,
}

const fn crc32c_tables() -> [[u32; 256]; 8] {
    let mut t = [[0u32; 256]; 8];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                (c >> 1) ^ 0x82F6_3B78
            } else {
                c >> 1
            };
            k += 1;
        }
        t[0][i] = c;
        i += 1;
    }
    let mut i = 0;
    while i < 256 {
        let mut s = 1;
        while s < 8 {
            let prev = t[s - 1][i];
            t[s][i] = (prev >> 8) ^ t[0][(prev & 0xff) as usize];
            s += 1;
        }
        i += 1;
    }
    t
}

static CRC32C: [[u32; 256]; 8] = crc32c_tables();

impl Crc32c {
    /// A new CRC.
    pub fn new() -> Crc32c {
        Crc32c { crc: !0 }
    }

    /// Feeds bytes.
    pub fn update(&mut self, data: &[u8]) {
        let t = &CRC32C;
        let mut crc = self.crc;
        let mut chunks = data.chunks_exact(8);
        for c in &mut chunks {
            let lo = crc ^ u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
            crc = t[7][(lo & 0xff) as usize]
                ^ t[6][((lo >> 8) & 0xff) as usize]
                ^ t[5][((lo >> 16) & 0xff) as usize]
                ^ t[4][(lo >> 24) as usize]
                ^ t[3][c[4] as usize]
                ^ t[2][c[5] as usize]
                ^ t[1][c[6] as usize]
                ^ t[0][c[7] as usize];
        }
        for &b in chunks.remainder() {
            crc = (crc >> 8) ^ t[0][((crc ^ u32::from(b)) & 0xff) as usize];
        }
        self.crc = crc;
    }

    /// The CRC value.
    pub fn value(&self) -> u32 {
        !self.crc
    }
}

impl Default for Crc32c {
    fn default() -> Self {
        Crc32c::new()
    }
}

/// A running checksum of one of the manifest's algorithms.
pub enum Hasher {
    /// Nothing.
    None,
    /// CRC-32C.
    Crc32c(Crc32c),
    /// SHA-224.
    Sha224(sha2::Sha224),
    /// SHA-256.
    Sha256(sha2::Sha256),
    /// SHA-384.
    Sha384(sha2::Sha384),
    /// SHA-512.
    Sha512(sha2::Sha512),
}

impl Hasher {
    /// A hasher for `algorithm`.
    pub fn new(algorithm: Algorithm) -> Hasher {
        match algorithm {
            Algorithm::None => Hasher::None,
            Algorithm::Crc32c => Hasher::Crc32c(Crc32c::new()),
            Algorithm::Sha224 => Hasher::Sha224(sha2::Sha224::new()),
            Algorithm::Sha256 => Hasher::Sha256(sha2::Sha256::new()),
            Algorithm::Sha384 => Hasher::Sha384(sha2::Sha384::new()),
            Algorithm::Sha512 => Hasher::Sha512(sha2::Sha512::new()),
        }
    }

    /// Feeds bytes.
    pub fn update(&mut self, data: &[u8]) {
        match self {
            Hasher::None => {}
            Hasher::Crc32c(c) => c.update(data),
            Hasher::Sha224(h) => h.update(data),
            Hasher::Sha256(h) => h.update(data),
            Hasher::Sha384(h) => h.update(data),
            Hasher::Sha512(h) => h.update(data),
        }
    }

    /// The checksum as the manifest writes it (CRC-32C little-endian).
    pub fn finish(self) -> Vec<u8> {
        match self {
            Hasher::None => Vec::new(),
            Hasher::Crc32c(c) => c.value().to_le_bytes().to_vec(),
            Hasher::Sha224(h) => h.finalize().to_vec(),
            Hasher::Sha256(h) => h.finalize().to_vec(),
            Hasher::Sha384(h) => h.finalize().to_vec(),
            Hasher::Sha512(h) => h.finalize().to_vec(),
        }
    }
}

/// Files pg_basebackup puts in the backup without listing them (pg_verifybackup's ignore
/// list) — and pg_wal/, whose segments are in pg_wal.tar.gz.
pub fn unlisted_ok(path: &str) -> bool {
    matches!(
        path,
        "backup_manifest" | "postgresql.auto.conf" | "standby.signal" | "recovery.signal"
    ) || path.starts_with("pg_wal/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_as_pg_backupcluster_writes_it() {
        let s = parse_status(
            br#"{"status":"ok","duration":1,"end":"Tue Dec  1 17:24:20 2026","start":"Tue Dec  1 17:24:19 2026","type":"dump","cluster":"ckbtest","version":15}
"#,
        )
        .unwrap();
        assert_eq!(s.status, "ok");
        assert_eq!(s.kind, "dump");
        assert_eq!(s.version, "15");
        assert_eq!(s.end, "Tue Dec  1 17:24:20 2026");
        assert_eq!(s.duration, Some(1));
        let other_order = parse_status(
            br#"{"duration":2,"cluster":"main","type":"basebackup","end":"x","status":"failed","version":"15","start":"y"}"#,
        )
        .unwrap();
        assert_eq!(other_order.status, "failed");
        assert_eq!(other_order.kind, "basebackup");
        assert!(parse_status(b"").unwrap_err().contains("not JSON"));
        assert!(parse_status(br#"{"status":"ok","dur"#).is_err());
        assert!(parse_status(b"[1]").is_err());
        assert!(parse_status(br#"{"type":"dump"}"#).is_err());
    }

    #[test]
    fn databases_sql_names() {
        let text = "CREATE DATABASE shop WITH OWNER = postgres TEMPLATE = template0 ENCODING = 'UTF8' LC_COLLATE 'C.UTF-8' LC_CTYPE 'C.UTF-8';\n\
                    CREATE DATABASE \"My \"\"DB\"\"\" WITH OWNER = x;\n\
                    ALTER DATABASE shop SET work_mem = '64MB';\n";
        assert_eq!(databases_created(text), vec!["shop", "My \"DB\""]);
        assert!(databases_created("").is_empty());
    }

    #[test]
    fn crc32c_check_value_and_byte_order() {
        let mut c = Crc32c::new();
        c.update(b"123456789");
        assert_eq!(c.value(), 0xE306_9283);
        // Split feeding gives the same value.
        let mut d = Crc32c::new();
        d.update(b"1234");
        d.update(b"56789");
        assert_eq!(d.value(), 0xE306_9283);
        // The manifest writes the CRC's bytes in little-endian order.
        let mut h = Hasher::new(Algorithm::Crc32c);
        h.update(b"123456789");
        assert_eq!(hex(&h.finish()), "839206e3");
    }

    #[test]
    fn sha_algorithms() {
        for (alg, len) in [
            (Algorithm::Sha224, 28),
            (Algorithm::Sha256, 32),
            (Algorithm::Sha384, 48),
            (Algorithm::Sha512, 64),
            (Algorithm::None, 0),
        ] {
            let mut h = Hasher::new(alg);
            h.update(b"abc");
            assert_eq!(h.finish().len(), len, "{}", alg.name());
        }
        let mut h = Hasher::new(Algorithm::Sha256);
        h.update(b"abc");
        assert_eq!(
            hex(&h.finish()),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    fn manifest_with(files: &str) -> Vec<u8> {
        let body = format!(
            "{{ \"PostgreSQL-Backup-Manifest-Version\": 1,\n\"Files\": [\n{files}\n],\n\"WAL-Ranges\": [\n{{ \"Timeline\": 1, \"Start-LSN\": \"0/2000028\", \"End-LSN\": \"0/2000100\" }}\n],\n"
        );
        let sum = hex(&sha2::Sha256::digest(body.as_bytes()));
        format!("{body}\"Manifest-Checksum\": \"{sum}\"}}\n").into_bytes()
    }

    #[test]
    fn manifest_parses_and_checks_itself() {
        let m = manifest_with(
            "{ \"Path\": \"backup_label\", \"Size\": 225, \"Last-Modified\": \"2026-12-01 17:24:16 GMT\", \"Checksum-Algorithm\": \"CRC32C\", \"Checksum\": \"839206e3\" },\n\
             { \"Encoded-Path\": \"6261736527732f6e616d65\", \"Size\": 0, \"Last-Modified\": \"x\", \"Checksum-Algorithm\": \"SHA256\", \"Checksum\": \"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\" },\n\
             { \"Path\": \"base/1/1255\", \"Size\": 8192, \"Last-Modified\": \"x\" }",
        );
        check_manifest_checksum(&m).unwrap();
        let parsed = parse_manifest(&m).unwrap();
        assert_eq!(parsed.version, 1);
        assert_eq!(parsed.files.len(), 3);
        assert_eq!(parsed.files[0].algorithm, Algorithm::Crc32c);
        assert_eq!(parsed.files[0].checksum, vec![0x83, 0x92, 0x06, 0xe3]);
        assert_eq!(parsed.files[1].path, "base's/name");
        assert_eq!(parsed.files[1].algorithm, Algorithm::Sha256);
        assert_eq!(parsed.files[2].algorithm, Algorithm::None);
        assert_eq!(
            parsed.wal_ranges,
            vec![WalRange {
                timeline: 1,
                start: 0x200_0028,
                end: 0x200_0100
            }]
        );
        // Edited: the checksum no longer matches.
        let edited = String::from_utf8(m.clone()).unwrap().replace("225", "226");
        assert!(check_manifest_checksum(edited.as_bytes())
            .unwrap_err()
            .contains("checksum mismatch"));
        // Cut: neither the checksum line nor the JSON is whole.
        let cut = &m[..m.len() / 2];
        assert!(check_manifest_checksum(cut).is_err());
        assert!(parse_manifest(cut).unwrap_err().contains("not valid JSON"));
        // Version 2 (PostgreSQL 17) carries the system identifier.
        let v2 = String::from_utf8(m).unwrap().replace(
            "Version\": 1,",
            "Version\": 2,\n\"System-Identifier\": 7442316236467486542,",
        );
        let p2 = parse_manifest(v2.as_bytes()).unwrap();
        assert_eq!(p2.version, 2);
        assert_eq!(p2.system_identifier, Some(7442316236467486542));
        let v9 = String::from_utf8(manifest_with(""))
            .unwrap()
            .replace("Version\": 1", "Version\": 9");
        assert!(parse_manifest(v9.as_bytes())
            .unwrap_err()
            .contains("version 9"));
        let bad_alg = manifest_with(
            "{ \"Path\": \"a\", \"Size\": 1, \"Checksum-Algorithm\": \"MD5\", \"Checksum\": \"00\" }",
        );
        assert!(parse_manifest(&bad_alg)
            .unwrap_err()
            .contains("unknown checksum"));
    }

    /// Hands out one byte per read: the streaming parser must not depend on read sizes.
    struct Trickle<'a>(&'a [u8]);
    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.0.len().min(buf.len()).min(1);
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    #[test]
    fn manifest_streams_whatever_the_reads_and_lines() {
        let m = manifest_with(
            "{ \"Path\": \"backup_label\", \"Size\": 225, \"Checksum-Algorithm\": \"CRC32C\", \"Checksum\": \"839206e3\" }",
        );
        let (sum, parsed) = read_manifest(Trickle(&m)).unwrap();
        assert_eq!(sum, Ok(()));
        assert_eq!(parsed.unwrap().files[0].size, 225);
        // Without its final newline the checksum still covers the same bytes.
        let (sum, _) = read_manifest(&m[..m.len() - 1]).unwrap();
        assert_eq!(sum, Ok(()));
        // A line longer than any manifest line (here: the last one) is hashed, not kept.
        let long = format!(
            "{{ \"Path\": \"{}\", \"Size\": 1 }}",
            "x".repeat(3 * MAX_LINE)
        );
        let m = manifest_with(&long);
        let (sum, parsed) = read_manifest(Trickle(&m)).unwrap();
        assert_eq!(sum, Ok(()));
        assert_eq!(parsed.unwrap().files[0].path.len(), 3 * MAX_LINE);
        let mut cut_long = m[..m.len() - 100].to_vec();
        cut_long.extend_from_slice(&vec![b'y'; 2 * MAX_LINE]);
        let (sum, parsed) = read_manifest(&cut_long[..]).unwrap();
        assert!(sum.unwrap_err().contains("does not end with"));
        assert!(parsed.is_err());
        // One line only, and nothing at all.
        assert!(read_manifest(&b"{}"[..])
            .unwrap()
            .0
            .unwrap_err()
            .contains("no Manifest-Checksum"));
        assert!(read_manifest(&b""[..]).unwrap().0.is_err());
        // A file entry that is wrong is named, not drowned in a JSON error.
        let no_size = manifest_with("{ \"Path\": \"base/1/1255\" }");
        assert!(read_manifest(&no_size[..])
            .unwrap()
            .1
            .unwrap_err()
            .contains("base/1/1255 has no Size"));
    }

    /// The checksum as the former whole-file code computed it: the reference for the
    /// streaming one.
    fn checksum_of_whole(bytes: &[u8]) -> Result<(), String> {
        let body = bytes.strip_suffix(b"\n").unwrap_or(bytes);
        let Some(nl) = body.iter().rposition(|&b| b == b'\n') else {
            return Err("no line".into());
        };
        let last = String::from_utf8_lossy(&body[nl + 1..]);
        let stored = last
            .strip_prefix("\"Manifest-Checksum\": \"")
            .and_then(|r| r.strip_suffix("\"}"))
            .ok_or("no checksum line")?;
        let computed = hex(&sha2::Sha256::digest(&bytes[..=nl]));
        if computed.eq_ignore_ascii_case(stored) {
            Ok(())
        } else {
            Err("mismatch".into())
        }
    }

    /// Hands out the bytes in reads of the given sizes, in turn.
    struct Chunked<'a> {
        bytes: &'a [u8],
        sizes: Vec<usize>,
        turn: usize,
    }
    impl Read for Chunked<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let want = self.sizes[self.turn % self.sizes.len()].max(1);
            self.turn += 1;
            let n = want.min(buf.len()).min(self.bytes.len());
            buf[..n].copy_from_slice(&self.bytes[..n]);
            self.bytes = &self.bytes[n..];
            Ok(n)
        }
    }

    proptest::proptest! {
        /// Whatever the bytes (a real manifest cut, edited, lines doubled) and the read
        /// sizes, the streamed checksum agrees with hashing the whole file.
        #[test]
        fn streamed_checksum_agrees_with_the_whole_file(
            cut in proptest::option::of(0usize..2000),
            edit in proptest::option::of((0usize..2000, 0u8..=255)),
            newlines in 0usize..3,
            sizes in proptest::collection::vec(1usize..300, 1..5),
        ) {
            let mut m = manifest_with(
                "{ \"Path\": \"backup_label\", \"Size\": 225, \"Checksum-Algorithm\": \"CRC32C\", \"Checksum\": \"839206e3\" },\n\
                 { \"Path\": \"base/1/1255\", \"Size\": 8192 }",
            );
            if let Some((at, byte)) = edit {
                let at = at % m.len();
                m[at] = byte;
            }
            m.extend(std::iter::repeat_n(b'\n', newlines));
            let m = &m[..m.len() - cut.map_or(0, |c| c % (m.len() + 1))];
            let (streamed, _) = read_manifest(Chunked { bytes: m, sizes, turn: 0 }).unwrap();
            proptest::prop_assert_eq!(streamed.is_ok(), checksum_of_whole(m).is_ok(), "{:?}", String::from_utf8_lossy(m));
        }
    }

    #[test]
    fn a_read_error_of_the_manifest_is_an_error() {
        struct Failing;
        impl Read for Failing {
            fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
                Err(io::Error::new(io::ErrorKind::PermissionDenied, "denied"))
            }
        }
        assert_eq!(
            read_manifest(Failing).unwrap_err().kind(),
            io::ErrorKind::PermissionDenied
        );
    }

    #[test]
    fn wal_segment_names() {
        let r = WalRange {
            timeline: 1,
            start: 0x200_0028,
            end: 0x200_0100,
        };
        assert_eq!(wal_segments(&r, 16 << 20), vec!["000000010000000000000002"]);
        let across = WalRange {
            timeline: 2,
            start: 0x1_FF00_0028,
            end: 0x2_0000_0100,
        };
        assert_eq!(
            wal_segments(&across, 16 << 20),
            vec!["0000000200000001000000FF", "000000020000000200000000"]
        );
        let boundary = WalRange {
            timeline: 1,
            start: 0x100_0028,
            end: 0x200_0000,
        };
        assert_eq!(
            wal_segments(&boundary, 16 << 20),
            vec!["000000010000000000000001"]
        );
        assert_eq!(wal_segments(&r, 1 << 20), vec!["000000010000000000000020"]);
        assert!(wal_segments(&r, 3).is_empty());
    }
}
