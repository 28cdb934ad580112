//! pg_dump's custom archive format (`pg_dump -Fc`, magic `PGDMP`): the header, the table of
//! contents, and every data block walked to its end.
//!
//! The format has no trailer: a cut archive is recognised by a data block that stops before
//! its end-of-data chunk, or by TOC entries whose data never comes. Layout (PostgreSQL's
//! pg_backup_archiver.c and pg_backup_custom.c): integers are a sign byte plus `intSize`
//! little-endian bytes; strings an integer length (-1 = NULL) plus bytes; offsets a flag
//! byte plus `offSize` bytes. After the TOC come the data blocks: a type byte (1 = table
//! data, 3 = large objects), the dump id, then chunks, each an integer length and that many
//! bytes, ended by a zero length (large objects: an OID before each object's chunks, ended
//! by OID 0). Compressed archives hold one zlib (or, from PostgreSQL 16, lz4/zstd) stream
//! per block, spread over the chunks: zlib and zstd streams are decoded and checked.

use std::collections::BTreeMap;
use std::io::{self, Read};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::facts::{ArchiveFacts, ArchiveKind};

/// Oldest and newest archive versions this parser knows (1.12: PostgreSQL 11 and older
/// supported branches; 1.14: 12–15; 1.15: 16; 1.16: 17–18).
pub const OLDEST: (u8, u8) = (1, 12);
/// See [`OLDEST`].
pub const NEWEST: (u8, u8) = (1, 16);

const K_OFFSET_NO_DATA: u8 = 3;
const FORMAT_CUSTOM: u8 = 1;
const FORMAT_DIRECTORY: u8 = 5;
const FORMAT_TAR: u8 = 3;
const BLK_DATA: u8 = 1;
const BLK_BLOBS: u8 = 3;

/// A reader that knows where it is, and says "cut" at an unexpected end.
struct Cursor<'a, R> {
    inner: R,
    pos: u64,
    progress: &'a AtomicU64,
    int_size: usize,
    off_size: usize,
}

/// Why walking stopped.
enum Stop {
    /// The file ended here (inside a structure).
    Cut,
    /// The content makes no sense here.
    Bad(String),
    /// The file could not be read.
    Io(io::Error),
}

impl From<io::Error> for Stop {
    fn from(e: io::Error) -> Stop {
        if e.kind() == io::ErrorKind::UnexpectedEof {
            Stop::Cut
        } else {
            Stop::Io(e)
        }
    }
}

impl<R: Read> Cursor<'_, R> {
    fn bytes(&mut self, buf: &mut [u8]) -> Result<(), Stop> {
        self.inner.read_exact(buf)?;
        self.pos += buf.len() as u64;
        self.progress.store(self.pos, Ordering::Relaxed);
        Ok(())
    }

    fn byte(&mut self) -> Result<u8, Stop> {
        let mut b = [0u8; 1];
        self.bytes(&mut b)?;
        Ok(b[0])
    }

    /// True at a clean end of file (nothing more to read).
    fn at_end(&mut self) -> Result<Option<u8>, Stop> {
        let mut b = [0u8; 1];
        loop {
            match self.inner.read(&mut b) {
                Ok(0) => return Ok(None),
                Ok(_) => {
                    self.pos += 1;
                    return Ok(Some(b[0]));
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(Stop::Io(e)),
            }
        }
    }

    fn int(&mut self) -> Result<i64, Stop> {
        let sign = self.byte()?;
        let mut value: i64 = 0;
        for i in 0..self.int_size {
            let b = self.byte()?;
            if i < 8 {
                value |= i64::from(b) << (i * 8);
            }
        }
        Ok(if sign != 0 { -value } else { value })
    }

    fn string(&mut self) -> Result<Option<String>, Stop> {
        let len = self.int()?;
        if len < 0 {
            return Ok(None);
        }
        if len > 256 * 1024 * 1024 {
            return Err(Stop::Bad(format!(
                "string of {len} bytes at byte {}",
                self.pos
            )));
        }
        let mut buf = vec![0u8; len as usize];
        self.bytes(&mut buf)?;
        Ok(Some(String::from_utf8_lossy(&buf).into_owned()))
    }

    fn offset_flag(&mut self) -> Result<u8, Stop> {
        let flag = self.byte()?;
        let mut skip = vec![0u8; self.off_size];
        self.bytes(&mut skip)?;
        if !(1..=3).contains(&flag) {
            return Err(Stop::Bad(format!("unexpected data offset flag {flag}")));
        }
        Ok(flag)
    }

    /// Skips `n` bytes, feeding them to `sink` (the block's decompressor).
    fn chunk(&mut self, n: usize, sink: &mut BlockCheck) -> Result<(), Stop> {
        let mut buf = [0u8; 64 * 1024];
        let mut left = n;
        while left > 0 {
            let take = left.min(buf.len());
            self.bytes(&mut buf[..take])?;
            sink.feed(&mut buf[..take])?;
            left -= take;
        }
        Ok(())
    }
}

/// Decodes one block's compressed data as it streams by, to prove it whole.
enum BlockCheck {
    None,
    Zlib(Box<crate::decode::ZlibCheck>),
    Zstd(Box<zstd::stream::raw::Decoder<'static>>, bool),
}

impl BlockCheck {
    fn new(compression: &str) -> BlockCheck {
        match compression {
            "gzip" => BlockCheck::Zlib(Box::default()),
            "zstd" => match zstd::stream::raw::Decoder::new() {
                Ok(d) => BlockCheck::Zstd(Box::new(d), false),
                Err(_) => BlockCheck::None,
            },
            _ => BlockCheck::None,
        }
    }

    fn feed(&mut self, input: &mut [u8]) -> Result<(), Stop> {
        match self {
            BlockCheck::None => Ok(()),
            BlockCheck::Zlib(z) => z
                .feed(input)
                .map_err(|e| Stop::Bad(format!("corrupt zlib data: {e}"))),
            BlockCheck::Zstd(d, done) => {
                let mut input: &[u8] = input;
                let mut out = [0u8; 64 * 1024];
                use zstd::stream::raw::Operation;
                while !input.is_empty() {
                    let status = d
                        .run_on_buffers(input, &mut out)
                        .map_err(|e| Stop::Bad(format!("corrupt zstd data: {e}")))?;
                    input = &input[status.bytes_read..];
                    *done = status.remaining == 0;
                    if status.bytes_read == 0 && status.bytes_written == 0 {
                        break;
                    }
                }
                Ok(())
            }
        }
    }

    /// True when the block's compressed stream ended properly (or nothing to check).
    fn complete(&self) -> bool {
        match self {
            BlockCheck::None => true,
            BlockCheck::Zlib(z) => z.complete(),
            BlockCheck::Zstd(_, done) => *done,
        }
    }
}

/// One entry of an archive's table of contents.
pub struct Entry {
    /// The object's name.
    pub tag: String,
    /// Its kind (`TABLE DATA`, `BLOBS`...).
    pub desc: String,
    /// Its schema.
    pub namespace: Option<String>,
    /// It has a data block (or file).
    pub has_data: bool,
    /// Directory format: the entry's data file.
    pub file: Option<String>,
}

impl Entry {
    /// The entry in words: kind, schema and name.
    pub fn name(&self) -> String {
        match &self.namespace {
            Some(ns) if !ns.is_empty() => format!("{} {ns}.{}", self.desc, self.tag),
            _ => format!("{} {}", self.desc, self.tag),
        }
    }
}

/// Walks a whole custom-format archive. Errors are I/O errors of the file; everything
/// wrong with the archive itself is in [`ArchiveFacts::problem`].
pub fn verify<R: Read>(reader: R, progress: &AtomicU64) -> io::Result<ArchiveFacts> {
    let mut facts = ArchiveFacts::new(ArchiveKind::PgCustom);
    let mut cur = Cursor {
        inner: reader,
        pos: 0,
        progress,
        int_size: 4,
        off_size: 8,
    };
    let mut entries = BTreeMap::new();
    match walk(&mut cur, &mut facts, &mut entries) {
        Ok(()) => {}
        Err(Stop::Io(e)) => return Err(e),
        Err(Stop::Bad(why)) => {
            facts.problem = Some(format!("archive damaged at byte {}: {why}", cur.pos))
        }
        Err(Stop::Cut) if facts.problem.is_none() => {
            facts.problem = Some(format!(
                "archive cut at byte {} inside its header or table of contents",
                cur.pos
            ))
        }
        Err(Stop::Cut) => {}
    }
    Ok(facts)
}

fn walk<R: Read>(
    cur: &mut Cursor<'_, R>,
    facts: &mut ArchiveFacts,
    entries: &mut BTreeMap<i64, Entry>,
) -> Result<(), Stop> {
    let mut magic = [0u8; 5];
    cur.bytes(&mut magic)?;
    if &magic != b"PGDMP" {
        return Err(Stop::Bad("not a pg_dump custom archive".into()));
    }
    let (vmaj, vmin, vrev) = (cur.byte()?, cur.byte()?, cur.byte()?);
    facts.version = format!("{vmaj}.{vmin}.{vrev}");
    let v = (vmaj, vmin);
    if v < OLDEST || v > NEWEST {
        facts.supported = false;
        return Ok(());
    }
    cur.int_size = cur.byte()? as usize;
    cur.off_size = cur.byte()? as usize;
    if !(1..=8).contains(&cur.int_size) || !(1..=16).contains(&cur.off_size) {
        return Err(Stop::Bad(format!(
            "implausible integer size {} / offset size {}",
            cur.int_size, cur.off_size
        )));
    }
    let format = cur.byte()?;
    if ![FORMAT_CUSTOM, FORMAT_DIRECTORY, FORMAT_TAR].contains(&format) {
        return Err(Stop::Bad(format!(
            "archive format {format} is neither the custom nor the directory format"
        )));
    }
    facts.compression = if v >= (1, 15) {
        match cur.byte()? {
            0 => "none",
            1 => "gzip",
            2 => "lz4",
            3 => "zstd",
            other => return Err(Stop::Bad(format!("unknown compression algorithm {other}"))),
        }
    } else {
        match cur.int()? {
            0 => "none",
            _ => "gzip",
        }
    }
    .to_string();
    for _ in 0..7 {
        cur.int()?; // creation time
    }
    facts.database = cur.string()?.unwrap_or_default();
    cur.string()?; // server version
    cur.string()?; // pg_dump version
    let count = cur.int()?;
    if !(0..=10_000_000).contains(&count) {
        return Err(Stop::Bad(format!("implausible TOC entry count {count}")));
    }
    facts.toc_entries = count as u32;
    for _ in 0..count {
        let id = cur.int()?;
        let had_dumper = cur.int()? != 0;
        cur.string()?; // table oid
        cur.string()?; // oid
        let tag = cur.string()?.unwrap_or_default();
        let desc = cur.string()?.unwrap_or_default();
        cur.int()?; // section
        cur.string()?; // definition
        cur.string()?; // drop statement
        cur.string()?; // copy statement
        let namespace = cur.string()?;
        cur.string()?; // tablespace
        cur.string()?; // table access method
        if v >= (1, 16) {
            cur.int()?; // relkind
        }
        cur.string()?; // owner
        cur.string()?; // "with oids"
        while cur.string()?.is_some() {} // dependencies
        let (has_data, file) = if format == FORMAT_DIRECTORY || format == FORMAT_TAR {
            let file = cur.string()?;
            (had_dumper && file.is_some(), file)
        } else {
            // Read the offset whatever had_dumper says: it is always there.
            let flag = cur.offset_flag()?;
            (had_dumper && flag != K_OFFSET_NO_DATA, None)
        };
        if has_data {
            facts.data_entries += 1;
        }
        if desc == "TABLE" {
            facts.tables_defined += 1;
        }
        entries.insert(
            id,
            Entry {
                tag,
                desc,
                namespace,
                has_data,
                file,
            },
        );
    }
    if format == FORMAT_DIRECTORY || format == FORMAT_TAR {
        // toc.dat holds only the TOC: the data is in the files (members) it names.
        return Ok(());
    }
    // The data blocks, in whatever order pg_dump wrote them.
    let mut seen = 0u32;
    loop {
        let block_type = match cur.at_end()? {
            None => break,
            Some(b) => b,
        };
        let id = cur.int()?;
        let name = entries
            .get(&id)
            .map(Entry::name)
            .unwrap_or_else(|| format!("dump id {id}"));
        let result = match block_type {
            BLK_DATA => read_chunks(cur, &facts.compression),
            BLK_BLOBS => read_blobs(cur, &facts.compression),
            other => {
                return Err(Stop::Bad(format!(
                    "unknown block type {other} (entry {name})"
                )))
            }
        };
        match result {
            Ok(()) => {}
            Err(Stop::Cut) => {
                facts.problem = Some(format!(
                    "archive cut inside the data of {name} (the part from byte {} on is incomplete): {seen} of {} data blocks complete",
                    cur.pos, facts.data_entries
                ));
                return Err(Stop::Cut);
            }
            Err(Stop::Bad(why)) => return Err(Stop::Bad(format!("{why} in the data of {name}"))),
            Err(e) => return Err(e),
        }
        seen += 1;
        if block_type == BLK_BLOBS {
            facts.blobs += 1;
        } else {
            facts.tables += 1;
        }
        if let Some(e) = entries.get_mut(&id) {
            e.has_data = false; // done
        }
    }
    let missing: Vec<String> = entries
        .values()
        .filter(|e| e.has_data)
        .map(Entry::name)
        .collect();
    if !missing.is_empty() {
        facts.problem = Some(format!(
            "archive ends after {seen} of {} data blocks: no data for {}{}",
            facts.data_entries,
            missing
                .iter()
                .take(3)
                .cloned()
                .collect::<Vec<_>>()
                .join(", "),
            if missing.len() > 3 {
                format!(" and {} more", missing.len() - 3)
            } else {
                String::new()
            }
        ));
    }
    Ok(())
}

/// Reads the header and table of contents of a `toc.dat` (directory and tar formats, which
/// keep the data elsewhere). A damaged or cut TOC is a problem in `facts` (then None).
pub fn toc_only<R: Read>(
    inner: R,
    facts: &mut ArchiveFacts,
    progress: &AtomicU64,
) -> io::Result<Option<BTreeMap<i64, Entry>>> {
    let mut cur = Cursor {
        inner,
        pos: 0,
        progress,
        int_size: 4,
        off_size: 8,
    };
    let mut entries = BTreeMap::new();
    match walk(&mut cur, facts, &mut entries) {
        Ok(()) => Ok(Some(entries)),
        Err(Stop::Io(e)) => Err(e),
        Err(Stop::Bad(why)) => {
            facts.problem = Some(format!("toc.dat damaged at byte {}: {why}", cur.pos));
            Ok(None)
        }
        Err(Stop::Cut) => {
            facts.problem = Some(format!("toc.dat cut at byte {}", cur.pos));
            Ok(None)
        }
    }
}

/// Verifies the TOC of a pg_dump tar-format archive (`pg_dump -Ft`) against the members
/// the tar walk found: every data entry's member must be there (and was read whole).
pub fn verify_tar_toc(toc: &[u8], members: &[String], cut_member: Option<&str>) -> ArchiveFacts {
    let mut facts = ArchiveFacts::new(ArchiveKind::PgTar);
    let Ok(Some(entries)) = toc_only(toc, &mut facts, &AtomicU64::new(0)) else {
        return facts;
    };
    if let Some(cut) = cut_member {
        let base = cut.rsplit('/').next().unwrap_or(cut);
        let owner = entries
            .values()
            .find(|e| e.file.as_deref() == Some(base))
            .map(|e| format!(": the data of {}", e.name()))
            .unwrap_or_default();
        facts.problem = Some(format!("cut inside member {base}{owner}"));
        return facts;
    }
    for entry in entries.values().filter(|e| e.has_data) {
        let Some(name) = &entry.file else { continue };
        // Large objects go to blobs.toc (blobs_ID.toc from PostgreSQL 17) and blob_OID.dat,
        // whatever file name the TOC gives their entry.
        let blobs = entry.desc == "BLOBS" || entry.desc == "BLOB DATA";
        let present = members.iter().any(|m| {
            let base = m.rsplit('/').next().unwrap_or(m);
            base == name || (blobs && base.starts_with("blobs") && base.ends_with(".toc"))
        });
        if !present {
            facts.problem = Some(format!(
                "member {name} with the data of {} is missing",
                entry.name()
            ));
            return facts;
        }
        facts.tables += 1;
    }
    facts
}

fn read_chunks<R: Read>(cur: &mut Cursor<'_, R>, compression: &str) -> Result<(), Stop> {
    let mut check = BlockCheck::new(compression);
    let mut any = false;
    loop {
        let len = cur.int()?;
        if len == 0 {
            break;
        }
        if !(0..=1 << 31).contains(&len) {
            return Err(Stop::Bad(format!("implausible chunk length {len}")));
        }
        any = true;
        cur.chunk(len as usize, &mut check)?;
    }
    if any && !check.complete() {
        return Err(Stop::Bad(format!(
            "{compression} stream of a data block does not end"
        )));
    }
    Ok(())
}

fn read_blobs<R: Read>(cur: &mut Cursor<'_, R>, compression: &str) -> Result<(), Stop> {
    loop {
        let oid = cur.int()?;
        if oid == 0 {
            return Ok(());
        }
        read_chunks(cur, compression)?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn real() -> Vec<u8> {
        std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/real/postgres/shop.dump"
        ))
        .unwrap()
    }

    #[test]
    fn real_archive_is_complete() {
        let facts = verify(&real()[..], &AtomicU64::new(0)).unwrap();
        assert_eq!(facts.problem, None, "{facts:?}");
        assert!(facts.supported);
        assert_eq!(facts.version, "1.14.0");
        assert_eq!(facts.compression, "gzip");
        assert_eq!(facts.database, "shop");
        assert_eq!(facts.toc_entries, 18);
        assert_eq!(facts.tables, 3);
        assert_eq!(facts.data_entries, 3);
    }

    #[test]
    fn every_cut_is_detected() {
        let data = real();
        for cut in (0..data.len())
            .step_by(97)
            .chain([data.len() - 1, data.len() - 5])
        {
            let facts = verify(&data[..cut], &AtomicU64::new(0)).unwrap();
            assert!(
                facts.problem.is_some(),
                "cut at {cut} of {} not detected",
                data.len()
            );
        }
    }

    #[test]
    fn cuts_name_the_table() {
        let data = real();
        let facts = verify(&data[..data.len() - 100], &AtomicU64::new(0)).unwrap();
        let p = facts.problem.unwrap();
        assert!(p.contains("inside the data of TABLE DATA public."), "{p}");
    }

    #[test]
    fn unknown_versions_are_not_judged() {
        let mut data = real();
        data[6] = 99;
        let facts = verify(&data[..], &AtomicU64::new(0)).unwrap();
        assert!(!facts.supported);
        assert_eq!(facts.version, "1.99.0");
    }
}
