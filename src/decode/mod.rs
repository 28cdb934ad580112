//! Streaming verification of a dump file's compression: detect the format by magic bytes,
//! decode every byte in bounded memory, check the format's own integrity data (gzip CRC32 and
//! length, zstd frame end and checksum, xz check and index, bzip2 CRC), and keep a small
//! sample of the decoded head and tail for the completion-marker rules.

use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};
use std::sync::atomic::{AtomicU64, Ordering};

mod bz2;
mod gzip;
pub use gzip::ZlibCheck;
pub mod sections;
pub mod tables;

use crate::facts::ArchiveFacts;
pub use crate::facts::{Compression, Sample, StreamFacts, StreamProblem};

impl Compression {
    /// True when `bytes` (possibly fewer than a full magic number) may start another
    /// member/stream/frame of this format.
    fn may_start_member(&self, bytes: &[u8]) -> bool {
        let magics: &[&[u8]] = match self {
            Compression::Gzip => &[&[0x1f, 0x8b]],
            Compression::Zstd => &[&[0x28, 0xb5, 0x2f, 0xfd]],
            Compression::Xz => &[&[0xfd, b'7', b'z', b'X', b'Z', 0x00]],
            Compression::Bzip2 => &[b"BZh"],
            _ => &[],
        };
        let skippable_zstd = *self == Compression::Zstd
            && bytes.len() >= 4
            && bytes[0] & 0xf0 == 0x50
            && bytes[1..4] == [0x2a, 0x4d, 0x18];
        skippable_zstd
            || magics.iter().any(|m| {
                let n = m.len().min(bytes.len());
                n > 0 && bytes[..n] == m[..n]
            })
    }
}

/// Reads the compression from a file's first bytes.
pub fn detect(magic: &[u8]) -> Compression {
    let starts = |m: &[u8]| magic.starts_with(m);
    if starts(&[0x1f, 0x8b]) {
        Compression::Gzip
    } else if starts(&[0x28, 0xb5, 0x2f, 0xfd]) || Compression::Zstd.may_start_member(magic) {
        Compression::Zstd
    } else if starts(&[0xfd, b'7', b'z', b'X', b'Z', 0x00]) {
        Compression::Xz
    } else if magic.len() >= 4 && starts(b"BZh") && (b'1'..=b'9').contains(&magic[3]) {
        Compression::Bzip2
    } else if starts(&[0x04, 0x22, 0x4d, 0x18]) {
        Compression::Unsupported("lz4")
    } else if starts(&[0x5d, 0x00, 0x00]) {
        Compression::Unsupported("lzma")
    } else if starts(b"PK\x03\x04") {
        Compression::Unsupported("zip")
    } else if starts(&[b'7', b'z', 0xbc, 0xaf, 0x27, 0x1c]) {
        Compression::Unsupported("7z")
    } else if starts(&[0x89, b'L', b'Z', b'O']) {
        Compression::Unsupported("lzop")
    } else {
        Compression::Plain
    }
}

/// How much decoded text is kept from each end of the stream.
pub const HEAD_BYTES: usize = 16 * 1024;
/// At least this much decoded text is kept from the end (the completion markers are short
/// and near the end; pg_dump puts a few lines after its marker).
pub const TAIL_BYTES: usize = 64 * 1024;
/// The size of one read (and of each of the two tail buffers).
pub const CHUNK: usize = 256 * 1024;

/// Counts bytes read from the file (progress for the watchdog, offsets for errors) and
/// remembers whether a failure came from the file itself rather than from the decoder.
pub struct CountingReader<'a, R> {
    inner: R,
    count: u64,
    progress: &'a AtomicU64,
    io_error: Option<io::Error>,
}

impl<'a, R> CountingReader<'a, R> {
    /// Counts what is read from `inner` into `progress`.
    pub fn new(inner: R, progress: &'a AtomicU64) -> Self {
        CountingReader {
            inner,
            count: 0,
            progress,
            io_error: None,
        }
    }

    /// Bytes read from the file so far.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The file's own read error, if the last failure was one (taken: asked once).
    pub fn take_io_error(&mut self) -> Option<io::Error> {
        self.io_error.take()
    }
}

impl<R: Read> Read for CountingReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        #[cfg(debug_assertions)]
        crate::sys::test_delay("CHECK_BACKUP_TEST_READ_DELAY_MS");
        match self.inner.read(buf) {
            Ok(n) => {
                self.count += n as u64;
                self.progress.store(self.count, Ordering::Relaxed);
                Ok(n)
            }
            Err(e) => {
                self.io_error = Some(io::Error::new(e.kind(), e.to_string()));
                Err(e)
            }
        }
    }
}

/// Fills `buf` as far as the reader allows; returns the number of bytes read (less than
/// `buf.len()` only at the end of the stream).
pub fn read_full(reader: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// Receives a whole decoded stream, keeping the head and (by alternating two buffers, so
/// that no byte is copied) the tail. Decoders write straight into [`SampleSink::spare`] and
/// then [`SampleSink::commit`] what they wrote.
struct SampleSink {
    buffers: [Vec<u8>; 2],
    /// Bytes held by each buffer; `buffers[current]` is the last full one.
    lens: [usize; 2],
    current: usize,
    /// Bytes already written into the other buffer, `buffers[1 - current]`.
    filling: usize,
    total: u64,
    head: Vec<u8>,
    /// Counts the tables over the decoded text as it passes.
    tables: tables::TableScan,
    /// CRC32 of the whole decoded content, for formats whose own checksums the decoders do
    /// not hand out (zstd, xz, bzip2): the content's identity for the "identical dump" rule.
    content_crc: Option<crc32fast::Hasher>,
}

impl SampleSink {
    /// A sink that also takes the CRC32 of the whole content.
    fn with_crc() -> Self {
        SampleSink {
            content_crc: Some(crc32fast::Hasher::new()),
            ..SampleSink::new()
        }
    }

    fn new() -> Self {
        SampleSink {
            buffers: [vec![0; CHUNK], vec![0; CHUNK]],
            lens: [0, 0],
            current: 0,
            filling: 0,
            total: 0,
            head: Vec::new(),
            tables: tables::TableScan::new(),
            content_crc: None,
        }
    }

    /// Where the next decoded bytes go: never empty.
    fn spare(&mut self) -> &mut [u8] {
        let next = 1 - self.current;
        &mut self.buffers[next][self.filling..]
    }

    /// Takes the first `n` bytes of [`SampleSink::spare`] as decoded.
    fn commit(&mut self, n: usize) {
        let next = 1 - self.current;
        if self.head.len() < HEAD_BYTES {
            let take = (HEAD_BYTES - self.head.len()).min(n);
            self.head
                .extend_from_slice(&self.buffers[next][self.filling..self.filling + take]);
        }
        self.tables
            .feed(&self.buffers[next][self.filling..self.filling + n]);
        if let Some(crc) = &mut self.content_crc {
            crc.update(&self.buffers[next][self.filling..self.filling + n]);
        }
        self.filling += n;
        self.total += n as u64;
        if self.filling == CHUNK {
            self.lens[next] = CHUNK;
            self.current = next;
            self.filling = 0;
        }
    }

    /// Takes decoded bytes decoded elsewhere (the parallel bzip2 path's blocks, in order).
    fn write_all(&mut self, mut data: &[u8]) {
        while !data.is_empty() {
            let spare = self.spare();
            let n = spare.len().min(data.len());
            spare[..n].copy_from_slice(&data[..n]);
            self.commit(n);
            data = &data[n..];
        }
    }

    /// The facts of a stream decoded into this sink: `compression`, `compressed_read` bytes
    /// read, ending with `problem`. The content CRC, when taken, becomes the fingerprint of a
    /// whole stream: `<format>:crc32:<crc>:<length>`, equal for two whole files with the same
    /// content.
    fn into_facts(
        mut self,
        compression: Compression,
        compressed_read: u64,
        problem: Option<StreamProblem>,
    ) -> StreamFacts {
        let fingerprint = match (&problem, self.content_crc.take()) {
            (None, Some(crc)) => Some(format!(
                "{}:crc32:{:08x}:{}",
                compression.name(),
                crc.finalize(),
                self.total
            )),
            _ => None,
        };
        let scanned = self.tables.take();
        StreamFacts {
            compression,
            uncompressed_size: self.total,
            compressed_read,
            fingerprint,
            problem,
            tables: scanned.tables,
            sections: Some(scanned.sections),
            sample: self.into_sample(),
            archive: None,
            tar: None,
            encrypted: None,
        }
    }

    /// Reads `reader` to its end; decoder errors are returned after the data before them is
    /// counted and sampled.
    fn drain(&mut self, reader: &mut impl Read) -> io::Result<()> {
        loop {
            match reader.read(self.spare()) {
                Ok(0) => return Ok(()),
                Ok(n) => self.commit(n),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    fn into_sample(mut self) -> Sample {
        if self.filling > 0 {
            let next = 1 - self.current;
            self.lens[next] = self.filling;
            self.current = next;
        }
        let cur = self.current;
        let prev = 1 - cur;
        let mut tail = Vec::with_capacity(self.lens[prev] + self.lens[cur]);
        tail.extend_from_slice(&self.buffers[prev][..self.lens[prev]]);
        tail.extend_from_slice(&self.buffers[cur][..self.lens[cur]]);
        let tail_is_whole = tail.len() as u64 == self.total;
        Sample {
            head: self.head,
            tail,
            tail_is_whole,
        }
    }
}

/// Reads `file` (of `size` bytes: a file, or any seekable reader such as a fuzzer's buffer) once and establishes its [`StreamFacts`]. Plain files are
/// not read whole: only their head and tail, so the cost does not depend on their size.
/// `progress` receives the compressed bytes read so far.
///
/// Errors are I/O errors of the file itself; decoder complaints are facts, not errors.
pub fn verify_stream<R: Read + Seek>(
    mut file: R,
    size: u64,
    progress: &AtomicU64,
) -> io::Result<StreamFacts> {
    let mut magic = [0u8; 8];
    let got = read_full(&mut file, &mut magic)?;
    let mut compression = detect(&magic[..got]);
    if got < 6 && compression == Compression::Plain {
        // A file shorter than a magic number that starts like one is a cut compressed file.
        compression = [
            Compression::Gzip,
            Compression::Zstd,
            Compression::Xz,
            Compression::Bzip2,
        ]
        .into_iter()
        .find(|c| got > 0 && c.may_start_member(&magic[..got]))
        .unwrap_or(Compression::Plain);
    }
    file.seek(SeekFrom::Start(0))?;
    match compression {
        Compression::Plain | Compression::Unsupported(_) => {
            sample_plain(&mut file, size, compression)
        }
        Compression::Bzip2 if bz2::threads() > 1 => {
            let threads = bz2::threads();
            verify_bzip2_parallel(file, size, progress, threads, 2 * threads)
        }
        _ => decode_all(&mut file, size, compression, progress, cores()),
    }
}

/// [`verify_stream`] for a stream that cannot seek and whose length is unknown (a decrypting
/// tool's output): read once, to its end. Offsets in problems are in the stream's bytes.
pub fn verify_unseekable<R: Read>(input: R, progress: &AtomicU64) -> io::Result<StreamFacts> {
    verify_unseekable_walking(input, progress, None)
}

/// Walks an archive read from a plain stream to its end (pg_dump's custom format, which
/// has no trailer to sample): given all of the stream, returns what it found.
pub type ArchiveWalker<'a> = &'a mut dyn FnMut(&mut dyn Read) -> io::Result<ArchiveFacts>;

/// [`verify_unseekable`]; plain content that begins with `walk.0` (e.g. `PGDMP`) is also
/// given to the walker `walk.1` as it passes (one read: the stream cannot be read twice),
/// its result in [`StreamFacts::archive`].
pub fn verify_unseekable_walking<R: Read>(
    mut input: R,
    progress: &AtomicU64,
    walk: Option<(&[u8], ArchiveWalker)>,
) -> io::Result<StreamFacts> {
    let mut magic = [0u8; 8];
    let got = read_full(&mut input, &mut magic)?;
    let compression = detect(&magic[..got]);
    // Counts the stream's length; `progress` is fed by the decoder below.
    let length = AtomicU64::new(0);
    let mut counted =
        CountingReader::new(io::Cursor::new(magic[..got].to_vec()).chain(input), &length);
    let mut facts = match compression {
        Compression::Plain | Compression::Unsupported(_) => {
            let mut sink = SampleSink::new();
            let archive = match walk {
                Some((prefix, walker)) if magic[..got].starts_with(prefix) => {
                    let mut tee = SamplingReader {
                        inner: &mut counted,
                        sink: &mut sink,
                    };
                    let archive = walker(&mut tee)?;
                    // What the walker left (junk after the archive's end) is sampled too.
                    sink.drain(&mut counted)?;
                    Some(archive)
                }
                _ => {
                    sink.drain(&mut counted)?;
                    None
                }
            };
            let total = sink.total;
            StreamFacts {
                // Read whole here (unlike a plain file): its sections are known, its tables
                // are not counted, as for a plain file.
                tables: None,
                archive,
                ..sink.into_facts(compression, total, None)
            }
        }
        // One thread: the input arrives through a pipe at the tool's pace anyway.
        _ => decode_all(&mut counted, u64::MAX, compression, progress, 1)?,
    };
    // The decoder may stop before the end (garbage after the stream): read the rest, both to
    // learn the stream's length and to let the tool finish (it checks integrity at its end).
    io::copy(&mut counted, &mut io::sink())?;
    let total = counted.count;
    facts.compressed_read = total;
    facts.problem = facts.problem.map(|p| match p {
        StreamProblem::Truncated { .. } => StreamProblem::Truncated { at: total },
        StreamProblem::TrailingData { at, .. } => StreamProblem::TrailingData {
            at,
            bytes: total.saturating_sub(at),
        },
        StreamProblem::Corrupt { near, detail } => StreamProblem::Corrupt {
            near: near.min(total),
            detail,
        },
    });
    Ok(facts)
}

/// Passes what it reads through a [`SampleSink`] (head, tail, length) on its way to a
/// reader that wants the bytes themselves (an archive walker).
struct SamplingReader<'a, R> {
    inner: R,
    sink: &'a mut SampleSink,
}

impl<R: Read> Read for SamplingReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.sink.write_all(&buf[..n]);
        Ok(n)
    }
}

/// bzip2 on `threads` cores; a file the parallel pass cannot prove whole is decoded again
/// on one thread, whose verdict and offsets are the reference (see `bz2`).
fn verify_bzip2_parallel<R: Read + Seek>(
    mut file: R,
    size: u64,
    progress: &AtomicU64,
    threads: usize,
    in_flight: usize,
) -> io::Result<StreamFacts> {
    if let Some(whole) = bz2::verify(&mut file, progress, threads, in_flight)? {
        // The blocks went through the same sink, in order: head, tail, tables, sections and
        // content CRC as the single-threaded path has them.
        return Ok(whole
            .sink
            .into_facts(Compression::Bzip2, whole.compressed_read, None));
    }
    file.seek(SeekFrom::Start(0))?;
    decode_all(&mut file, size, Compression::Bzip2, progress, 1)
}

/// A plain multi-stream decoder for a second pass over a file already verified (tar walks,
/// database sections): `R` positioned at the file's start.
pub fn reference_decoder<'a, R: Read + 'a>(
    compression: Compression,
    input: R,
) -> io::Result<Box<dyn Read + 'a>> {
    let input = BufReader::with_capacity(CHUNK, input);
    Ok(match compression {
        Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(input)),
        Compression::Zstd => {
            let mut d = zstd::stream::read::Decoder::with_buffer(input)?;
            d.window_log_max(31)?;
            Box::new(d)
        }
        Compression::Xz => Box::new(liblzma::bufread::XzDecoder::new_multi_decoder(input)),
        Compression::Bzip2 => Box::new(bzip2::bufread::MultiBzDecoder::new(input)),
        _ => Box::new(input),
    })
}

/// The head and tail of a file that is not decoded (plain text, or a format read by
/// other means): only those bytes are read, whatever the file's size.
pub fn sample_plain<R: Read + Seek>(
    mut file: R,
    size: u64,
    compression: Compression,
) -> io::Result<StreamFacts> {
    let mut head = vec![0; HEAD_BYTES.min(size as usize)];
    let n = read_full(&mut file, &mut head)?;
    head.truncate(n);
    let tail_len = (2 * CHUNK as u64).min(size);
    file.seek(SeekFrom::Start(size - tail_len))?;
    let mut tail = vec![0; tail_len as usize];
    let n = read_full(&mut file, &mut tail)?;
    tail.truncate(n);
    Ok(StreamFacts {
        compression,
        uncompressed_size: size,
        compressed_read: (head.len() + tail.len()) as u64,
        fingerprint: None,
        problem: None,
        sample: Sample {
            head,
            tail_is_whole: tail_len == size,
            tail,
        },
        archive: None,
        tar: None,
        encrypted: None,
        tables: None,
        sections: None,
    })
}

/// Memory liblzma's threaded decoder may use (per stream) before it decodes the next block
/// on one thread instead: two threads of a `xz -6 -T2` file (24 MiB blocks, 8 MiB
/// dictionary) need about 70 MiB; more threads or bigger blocks fall back to one thread.
const XZ_MEMLIMIT_THREADING: u64 = 80 << 20;

/// An xz stream decoder: liblzma's threaded one when there are several cores (it decodes
/// multi-block files, whose block headers carry their sizes, on `threads` threads, and
/// anything else on one), as the single-threaded one otherwise. Neither limits memory
/// beyond that (`memlimit_stop`), as before.
fn xz_decoder(threads: usize) -> io::Result<liblzma::stream::Stream> {
    let stream = if threads > 1 {
        liblzma::stream::MtStreamBuilder::new()
            .threads(threads.min(8) as u32)
            .memlimit_threading(XZ_MEMLIMIT_THREADING)
            .memlimit_stop(u64::MAX)
            .decoder()
    } else {
        liblzma::stream::Stream::new_stream_decoder(u64::MAX, 0)
    };
    stream.map_err(io::Error::other)
}

/// Worker threads for a decoder: the machine's cores.
fn cores() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

fn decode_all<R: Read>(
    file: R,
    size: u64,
    compression: Compression,
    progress: &AtomicU64,
    threads: usize,
) -> io::Result<StreamFacts> {
    let mut sink = SampleSink::new();
    if compression == Compression::Gzip {
        let mut trailers = gzip::Trailers::default();
        let (problem, compressed_read) =
            gzip::verify(file, size, progress, &mut sink, &mut trailers)?;
        let fingerprint = problem.is_none().then(|| trailers.fingerprint());
        return Ok(StreamFacts {
            fingerprint,
            ..sink.into_facts(compression, compressed_read, problem)
        });
    }
    sink.content_crc = Some(crc32fast::Hasher::new());
    let counter = CountingReader {
        inner: file,
        count: 0,
        progress,
        io_error: None,
    };
    let mut input = BufReader::with_capacity(CHUNK, counter);
    let mut problem = None;
    // One member/stream/frame per turn, so that what follows each one can be judged: another
    // member, the end of the file, or garbage.
    loop {
        let result = match compression {
            Compression::Zstd => {
                let mut decoder = zstd::stream::read::Decoder::with_buffer(&mut input)?;
                // Dumps compressed with `zstd --long` use windows up to 2 GiB.
                decoder.window_log_max(31)?;
                sink.drain(&mut decoder.single_frame())
            }
            Compression::Xz => sink.drain(&mut liblzma::bufread::XzDecoder::new_stream(
                &mut input,
                xz_decoder(threads)?,
            )),
            Compression::Bzip2 => sink.drain(&mut bzip2::bufread::BzDecoder::new(&mut input)),
            Compression::Gzip | Compression::Plain | Compression::Unsupported(_) => {
                unreachable!("decoded above, or not decoded")
            }
        };
        let consumed = input.get_ref().count - input.buffer().len() as u64;
        if let Err(e) = result {
            if let Some(io_error) = input.get_mut().io_error.take() {
                return Err(io_error);
            }
            let at_end =
                consumed >= size || input.fill_buf().map(|b| b.is_empty()).unwrap_or(false);
            problem = Some(classify(e, at_end, input.get_ref().count, size));
            break;
        }
        let rest = input.fill_buf()?;
        if rest.is_empty() {
            break;
        }
        if !compression.may_start_member(rest) {
            problem = Some(StreamProblem::TrailingData {
                at: consumed,
                bytes: size.saturating_sub(consumed),
            });
            break;
        }
    }
    let compressed_read = input.get_ref().count;
    Ok(sink.into_facts(compression, compressed_read, problem))
}

/// Tells a cut file from a corrupt one: decoders report a premature end differently, so
/// both the error kind and whether the input was exhausted count.
fn classify(error: io::Error, input_exhausted: bool, read: u64, size: u64) -> StreamProblem {
    let text = error.to_string();
    let lower = text.to_ascii_lowercase();
    let looks_cut = error.kind() == io::ErrorKind::UnexpectedEof
        || lower.contains("unexpected end")
        || lower.contains("premature")
        || lower.contains("incomplete")
        || lower.contains("truncated");
    if looks_cut && input_exhausted {
        StreamProblem::Truncated { at: size }
    } else {
        StreamProblem::Corrupt {
            near: read.min(size),
            detail: text,
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::io::Write;

    /// An --all-databases mysqldump-like text of about `lines` lines: a section (and a
    /// table) every 997 lines.
    pub fn all_databases_dump(lines: usize) -> Vec<u8> {
        let mut s = String::from("-- MariaDB dump 10.19  Distrib 10.11.6-MariaDB\n--\n");
        for i in 0..lines {
            if i % 997 == 0 {
                let db = i / 997;
                s.push_str(&format!(
                    "--\n-- Current Database: `db{db}`\n--\n\nUSE `db{db}`;\nCREATE TABLE `t{i}` (id int);\n"
                ));
            }
            s.push_str(&format!(
                "INSERT INTO `t{}` VALUES ({i},'row {i} {}');\n",
                i - i % 997,
                i.wrapping_mul(2_654_435_761) % 1_000_003
            ));
        }
        s.push_str("-- Dump completed on 2026-11-25  3:04:05\n");
        s.into_bytes()
    }

    /// A mysqldump-like text of about `lines` lines.
    pub fn sample_dump(lines: usize) -> Vec<u8> {
        let mut s = String::from("-- MariaDB dump 10.19  Distrib 10.11.6-MariaDB\n--\n");
        for i in 0..lines {
            s.push_str(&format!(
                "INSERT INTO `log` VALUES ({i},'row {i} {}');\n",
                i.wrapping_mul(2_654_435_761) % 1_000_003
            ));
        }
        s.push_str("-- Dump completed on 2026-11-25  3:04:05\n");
        s.into_bytes()
    }

    pub fn compress(kind: Compression, data: &[u8]) -> Vec<u8> {
        match kind {
            Compression::Gzip => {
                let mut e =
                    flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
                e.write_all(data).unwrap();
                e.finish().unwrap()
            }
            Compression::Zstd => {
                // The zstd command line writes a content checksum by default; so do we.
                let mut e = zstd::stream::write::Encoder::new(Vec::new(), 3).unwrap();
                e.include_checksum(true).unwrap();
                e.write_all(data).unwrap();
                e.finish().unwrap()
            }
            Compression::Xz => {
                let mut e = liblzma::write::XzEncoder::new(Vec::new(), 6);
                e.write_all(data).unwrap();
                e.finish().unwrap()
            }
            Compression::Bzip2 => {
                let mut e = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::default());
                e.write_all(data).unwrap();
                e.finish().unwrap()
            }
            _ => data.to_vec(),
        }
    }

    pub const ALL: [Compression; 4] = [
        Compression::Gzip,
        Compression::Zstd,
        Compression::Xz,
        Compression::Bzip2,
    ];

    fn verify_bytes(bytes: &[u8]) -> StreamFacts {
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(bytes).unwrap();
        f.seek(SeekFrom::Start(0)).unwrap();
        verify_stream(f, bytes.len() as u64, &AtomicU64::new(0)).unwrap()
    }

    #[test]
    fn whole_streams_verify_and_sample_both_ends() {
        let data = sample_dump(50_000);
        for kind in ALL {
            let facts = verify_bytes(&compress(kind, &data));
            assert_eq!(facts.compression, kind);
            assert_eq!(facts.problem, None, "{kind}");
            assert_eq!(facts.uncompressed_size, data.len() as u64);
            assert!(data.starts_with(&facts.sample.head));
            assert!(data.ends_with(&facts.sample.tail));
            assert!(facts.sample.tail.len() >= TAIL_BYTES);
        }
    }

    #[test]
    fn plain_reads_only_the_ends() {
        let data = sample_dump(50_000);
        let facts = verify_bytes(&data);
        assert_eq!(facts.compression, Compression::Plain);
        assert_eq!(facts.uncompressed_size, data.len() as u64);
        assert!(facts.compressed_read < data.len() as u64);
        assert!(data.ends_with(&facts.sample.tail));
        assert!(!facts.sample.tail_is_whole);
    }

    #[test]
    fn multi_member_streams() {
        let a = sample_dump(100);
        let b = sample_dump(200);
        for kind in ALL {
            let mut bytes = compress(kind, &a);
            bytes.extend(compress(kind, &b));
            let facts = verify_bytes(&bytes);
            assert_eq!(facts.problem, None, "{kind}");
            assert_eq!(
                facts.uncompressed_size,
                (a.len() + b.len()) as u64,
                "{kind}"
            );
            assert!(b.ends_with(&facts.sample.tail[facts.sample.tail.len() - 100..]));
        }
    }

    #[test]
    fn gzip_fingerprint_is_the_content_as_its_trailers_state_it() {
        let a = sample_dump(100);
        let b = sample_dump(200);
        let gz = |level: u32, data: &[u8]| {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(level));
            std::io::Write::write_all(&mut e, data).unwrap();
            e.finish().unwrap()
        };
        let fingerprint = |bytes: &[u8]| verify_bytes(bytes).fingerprint;
        // The same content compressed differently: the same CRC32 and length.
        let fast = fingerprint(&gz(1, &a));
        assert!(
            fast.as_deref().is_some_and(|f| f.starts_with("gzip:1:")),
            "{fast:?}"
        );
        assert_eq!(fast, fingerprint(&gz(9, &a)));
        // Other content, or the same split into two members: another fingerprint.
        assert_ne!(fast, fingerprint(&gz(6, &b)));
        let (head, tail) = a.split_at(a.len() / 2);
        let mut two = gz(6, head);
        two.extend(gz(6, tail));
        let split = fingerprint(&two);
        assert!(split.as_deref().is_some_and(|f| f.starts_with("gzip:2:")));
        assert_ne!(fast, split);
        // A cut stream has none.
        let whole = gz(6, &a);
        assert_eq!(fingerprint(&whole[..whole.len() - 5]), None);
    }

    /// zstd and xz (and bzip2 on one thread): the CRC32 and length of the decoded content,
    /// equal whatever the level, another for other content, none for a cut file.
    #[test]
    fn other_compressions_fingerprint_their_decoded_content() {
        let a = sample_dump(100);
        let b = sample_dump(200);
        for c in [Compression::Zstd, Compression::Xz] {
            let fp = verify_bytes(&compress(c, &a)).fingerprint;
            let expected = format!("{}:crc32:{:08x}:{}", c.name(), crc32fast::hash(&a), a.len());
            assert_eq!(fp.as_deref(), Some(expected.as_str()), "{c:?}");
            assert_ne!(fp, verify_bytes(&compress(c, &b)).fingerprint, "{c:?}");
            let whole = compress(c, &a);
            assert_eq!(
                verify_bytes(&whole[..whole.len() - 3]).fingerprint,
                None,
                "{c:?}"
            );
        }
        let single = decode_all(
            io::Cursor::new(compress(Compression::Bzip2, &a)),
            0,
            Compression::Bzip2,
            &AtomicU64::new(0),
            1,
        )
        .unwrap();
        assert_eq!(
            single.fingerprint.as_deref(),
            Some(format!("bzip2:crc32:{:08x}:{}", crc32fast::hash(&a), a.len()).as_str())
        );
    }

    #[test]
    fn truncation_is_detected_everywhere() {
        let data = sample_dump(3000);
        for kind in ALL {
            let full = compress(kind, &data);
            // Every cut point in the last 64 bytes (trailers) plus a spread over the body.
            let mut cuts: Vec<usize> = (full.len().saturating_sub(64)..full.len()).collect();
            cuts.extend((1..full.len()).step_by(full.len() / 40 + 1));
            for cut in cuts {
                let facts = verify_bytes(&full[..cut]);
                assert!(
                    facts.problem.is_some(),
                    "{kind} cut at {cut} of {} was not detected",
                    full.len()
                );
            }
        }
    }

    #[test]
    fn cut_at_end_is_reported_as_truncated() {
        let data = sample_dump(3000);
        for kind in ALL {
            let full = compress(kind, &data);
            for cut in [full.len() - 1, full.len() - 4, full.len() / 2] {
                let facts = verify_bytes(&full[..cut]);
                assert!(
                    matches!(facts.problem, Some(StreamProblem::Truncated { .. })),
                    "{kind} cut at {cut}: {:?}",
                    facts.problem
                );
            }
        }
    }

    #[test]
    fn flipped_bytes_are_detected() {
        let data = sample_dump(3000);
        for kind in ALL {
            let full = compress(kind, &data);
            for pos in (0..full.len())
                .step_by(full.len() / 30 + 1)
                .chain([full.len() - 1])
            {
                let mut broken = full.clone();
                broken[pos] ^= 0x01;
                let facts = verify_bytes(&broken);
                if facts.compression != kind {
                    // A flipped magic number: no longer this format (judged as content).
                    continue;
                }
                // Undetected only if the decoded text is intact (gzip header fields such as
                // mtime or OS carry no checksum).
                if facts.problem.is_none() {
                    assert!(facts.sample.tail_is_whole);
                    assert_eq!(
                        facts.sample.tail, data,
                        "{kind} flip at {pos} changed data silently"
                    );
                }
            }
        }
    }

    #[test]
    fn trailing_garbage_is_detected() {
        let data = sample_dump(100);
        for kind in ALL {
            let mut bytes = compress(kind, &data);
            let at = bytes.len() as u64;
            bytes.extend_from_slice(b"garbage after the end");
            let facts = verify_bytes(&bytes);
            assert_eq!(
                facts.problem,
                Some(StreamProblem::TrailingData { at, bytes: 21 }),
                "{kind}"
            );
        }
    }

    /// A gzip member built by hand: `header` (the 10 fixed bytes are written here, with
    /// `flags`) followed by `optional` header fields, then the deflate data and trailer.
    fn gzip_member(flags: u8, optional: &[u8], data: &[u8]) -> Vec<u8> {
        let mut member = vec![0x1f, 0x8b, 8, flags, 0, 0, 0, 0, 0, 3];
        member.extend_from_slice(optional);
        let mut deflate =
            flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
        deflate.write_all(data).unwrap();
        member.extend(deflate.finish().unwrap());
        let mut crc = flate2::Crc::new();
        crc.update(data);
        member.extend_from_slice(&crc.sum().to_le_bytes());
        member.extend_from_slice(&(data.len() as u32).to_le_bytes());
        member
    }

    #[test]
    fn gzip_optional_header_fields_and_header_crc() {
        let data = sample_dump(500);
        let mut optional = vec![5, 0, b'A', b'B', 1, 0, b'x'];
        optional.extend_from_slice(b"shop.sql\0a comment\0");
        let mut member = gzip_member(0x04 | 0x08 | 0x10 | 0x02, &optional, &data);
        // The header CRC: low 16 bits of the CRC32 of the header bytes before it.
        let header_len = 10 + optional.len();
        let mut crc = flate2::Crc::new();
        crc.update(&member[..header_len]);
        let hcrc = (crc.sum() as u16).to_le_bytes();
        member.splice(header_len..header_len, hcrc);
        let facts = verify_bytes(&member);
        assert_eq!(facts.problem, None);
        assert_eq!(facts.uncompressed_size, data.len() as u64);
        member[header_len] ^= 1;
        let facts = verify_bytes(&member);
        assert!(
            matches!(&facts.problem, Some(StreamProblem::Corrupt { detail, .. }) if detail.contains("header CRC")),
            "{:?}",
            facts.problem
        );
    }

    #[test]
    fn gzip_trailer_crc_and_length_are_checked() {
        let data = sample_dump(500);
        let member = gzip_member(0, &[], &data);
        for back in 1..=8 {
            let mut broken = member.clone();
            let at = broken.len() - back;
            broken[at] ^= 0x40;
            let facts = verify_bytes(&broken);
            assert!(
                matches!(facts.problem, Some(StreamProblem::Corrupt { .. })),
                "flip {back} bytes from the end: {:?}",
                facts.problem
            );
        }
    }

    #[test]
    fn gzip_bad_header_and_short_tails() {
        let data = sample_dump(100);
        let member = gzip_member(0, &[], &data);
        let mut bad_method = member.clone();
        bad_method[2] = 9;
        assert!(matches!(
            verify_bytes(&bad_method).problem,
            Some(StreamProblem::Corrupt { .. })
        ));
        let mut reserved = member.clone();
        reserved[3] = 0x20;
        assert!(matches!(
            verify_bytes(&reserved).problem,
            Some(StreamProblem::Corrupt { .. })
        ));
        // One byte that may start a member: a cut member.
        let mut cut = member.clone();
        cut.push(0x1f);
        assert_eq!(
            verify_bytes(&cut).problem,
            Some(StreamProblem::Truncated {
                at: cut.len() as u64
            })
        );
        // Two bytes that cannot: garbage.
        let mut garbage = member.clone();
        garbage.extend_from_slice(&[0x1f, 0x00]);
        assert_eq!(
            verify_bytes(&garbage).problem,
            Some(StreamProblem::TrailingData {
                at: member.len() as u64,
                bytes: 2
            })
        );
        // An empty member between two others is fine.
        let mut three = member.clone();
        three.extend(gzip_member(0, &[], b""));
        three.extend(member.clone());
        let facts = verify_bytes(&three);
        assert_eq!(facts.problem, None);
        assert_eq!(facts.uncompressed_size, 2 * data.len() as u64);
    }

    /// Member boundaries falling anywhere around the decoder's read size: the next header
    /// is split between two reads.
    #[test]
    fn gzip_member_boundary_across_reads() {
        // Barely compressible bytes, so that the first member is nearly CHUNK long and
        // FEXTRA (at most 65535 bytes) can pad it to every length around CHUNK.
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let data: Vec<u8> = (0..CHUNK - 40_000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 32) as u8
            })
            .collect();
        let second = gzip_member(0x08, b"second.sql\0", &data[..5000]);
        let body = gzip_member(0, &[], &data);
        for shift in 0..24usize {
            // FEXTRA pads the first member so that it ends `shift` bytes before CHUNK.
            let target = CHUNK - shift;
            let pad = target - body.len() - 2;
            let mut optional = (pad as u16).to_le_bytes().to_vec();
            optional.resize(2 + pad, b'p');
            let mut bytes = gzip_member(FEXTRA_FLAG, &optional, &data);
            assert_eq!(bytes.len(), target);
            bytes.extend_from_slice(&second);
            let facts = verify_bytes(&bytes);
            assert_eq!(facts.problem, None, "shift {shift}");
            assert_eq!(facts.uncompressed_size, (data.len() + 5000) as u64);
            assert!(data[..5000].ends_with(&facts.sample.tail[facts.sample.tail.len() - 5000..]));
            // And cut inside the second member's header.
            let cut = &bytes[..target + 1 + shift % 12];
            assert_eq!(
                verify_bytes(cut).problem,
                Some(StreamProblem::Truncated {
                    at: cut.len() as u64
                }),
                "cut, shift {shift}"
            );
        }
    }

    const FEXTRA_FLAG: u8 = 0x04;

    /// What the previous gzip path (flate2's decoder, one member at a time, the same
    /// classification) said about `bytes`: ("ok", decoded size), ("truncated", 0),
    /// ("corrupt", 0) or ("trailing", offset).
    fn flate2_verdict(bytes: &[u8]) -> (&'static str, u64) {
        let mut input: &[u8] = bytes;
        let mut decoded = 0;
        loop {
            let mut decoder = flate2::bufread::GzDecoder::new(&mut input);
            match io::copy(&mut decoder, &mut io::sink()) {
                Ok(n) => decoded += n,
                Err(e) => {
                    let text = e.to_string().to_ascii_lowercase();
                    let cut = e.kind() == io::ErrorKind::UnexpectedEof
                        || ["unexpected end", "premature", "incomplete", "truncated"]
                            .iter()
                            .any(|w| text.contains(w));
                    return (
                        if cut && input.is_empty() {
                            "truncated"
                        } else {
                            "corrupt"
                        },
                        0,
                    );
                }
            }
            if input.is_empty() {
                return ("ok", decoded);
            }
            if !Compression::Gzip.may_start_member(input) {
                return ("trailing", (bytes.len() - input.len()) as u64);
            }
        }
    }

    fn verdict(facts: &StreamFacts) -> (&'static str, u64) {
        match facts.problem {
            None => ("ok", facts.uncompressed_size),
            Some(StreamProblem::Truncated { .. }) => ("truncated", 0),
            Some(StreamProblem::Corrupt { .. }) => ("corrupt", 0),
            Some(StreamProblem::TrailingData { at, .. }) => ("trailing", at),
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(150))]

        /// ISA-L's verdicts match flate2's on damaged two-member files: flipped bits, cuts,
        /// appended bytes.
        #[test]
        fn gzip_verdicts_match_flate2(
            kind in 0u8..3,
            at in 0.0f64..1.0,
            bit in 0u8..8,
            extra in proptest::collection::vec(proptest::prelude::any::<u8>(), 1..12),
        ) {
            let data = sample_dump(2000);
            let mut bytes = compress(Compression::Gzip, &data);
            bytes.extend(gzip_member(0x08, b"b.sql\0", &data[..3000]));
            let pos = ((bytes.len() - 1) as f64 * at) as usize;
            match kind {
                0 => bytes[pos] ^= 1 << bit,
                1 => bytes.truncate(pos.max(1)),
                _ => bytes.extend_from_slice(&extra),
            }
            let facts = verify_bytes(&bytes);
            if facts.compression == Compression::Gzip {
                proptest::prop_assert_eq!(verdict(&facts), flate2_verdict(&bytes));
            }
        }
    }

    /// A bzip2 file of three streams, as pbzip2/lbzip2 write them: 100 kB blocks (five of
    /// them), an empty stream, a 900 kB-level stream; the text an --all-databases mysqldump
    /// with sections and tables on both sides of block boundaries.
    fn bzip2_fixture() -> &'static (Vec<u8>, Vec<u8>) {
        static FIXTURE: std::sync::OnceLock<(Vec<u8>, Vec<u8>)> = std::sync::OnceLock::new();
        FIXTURE.get_or_init(|| {
            let data = all_databases_dump(10_000);
            let level = |n: u32, d: &[u8]| {
                let mut e = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::new(n));
                e.write_all(d).unwrap();
                e.finish().unwrap()
            };
            let mut bytes = level(1, &data);
            bytes.extend(level(9, b""));
            bytes.extend(level(9, &data[..7000]));
            let mut decoded = data.clone();
            decoded.extend_from_slice(&data[..7000]);
            (bytes, decoded)
        })
    }

    /// The single-threaded path's facts and the parallel path's (2 workers, 3 blocks in
    /// flight).
    fn bzip2_both_paths(bytes: &[u8]) -> (StreamFacts, StreamFacts) {
        let size = bytes.len() as u64;
        let single = decode_all(
            io::Cursor::new(bytes),
            size,
            Compression::Bzip2,
            &AtomicU64::new(0),
            1,
        );
        let parallel =
            verify_bzip2_parallel(io::Cursor::new(bytes), size, &AtomicU64::new(0), 2, 3);
        (single.unwrap(), parallel.unwrap())
    }

    /// Writes `value`'s low 48 bits over bits `at..at + 48` of `bytes`.
    fn overwrite_48_bits(bytes: &mut [u8], at: u64, value: u64) {
        for i in 0..48u64 {
            let bit = at + i;
            let (byte, mask) = ((bit / 8) as usize, 0x80u8 >> (bit % 8));
            if value >> (47 - i) & 1 == 1 {
                bytes[byte] |= mask;
            } else {
                bytes[byte] &= !mask;
            }
        }
    }

    #[test]
    fn bzip2_parallel_path_reads_whole_files_itself() {
        let (bytes, decoded) = bzip2_fixture();
        let whole = bz2::verify(io::Cursor::new(bytes), &AtomicU64::new(0), 2, 2)
            .unwrap()
            .expect("a whole multi-stream file is proven whole in parallel");
        assert_eq!(whole.sink.total, decoded.len() as u64);
        assert_eq!(whole.compressed_read, bytes.len() as u64);
        let (single, parallel) = bzip2_both_paths(bytes);
        assert_eq!(parallel, single);
        assert_eq!(parallel.problem, None);
        assert_eq!(parallel.uncompressed_size, decoded.len() as u64);
        assert!(decoded.ends_with(&parallel.sample.tail));
        assert!(decoded.starts_with(&parallel.sample.head));
        // Every fact the single-threaded path has: the tables, the sections, the content CRC.
        let mut scan = tables::TableScan::new();
        scan.feed(decoded);
        let want = scan.finish();
        let tables = parallel
            .tables
            .as_ref()
            .expect("tables counted in parallel");
        assert_eq!(Some(tables), want.tables.as_ref());
        assert_eq!(tables.len(), 11, "{tables:?}");
        assert_eq!(tables[1].name, "db1.t997");
        assert_eq!(tables[1].rows, 997);
        assert_eq!(parallel.sections.as_ref(), Some(&want.sections));
        assert_eq!(want.sections.len(), 11);
        assert_eq!(
            parallel.fingerprint,
            Some(format!(
                "bzip2:crc32:{:08x}:{}",
                crc32fast::hash(decoded),
                decoded.len()
            ))
        );
        // One thread, one block in flight: the same.
        let narrow = bz2::verify(io::Cursor::new(bytes), &AtomicU64::new(0), 1, 1)
            .unwrap()
            .unwrap();
        assert_eq!(narrow.compressed_read, whole.compressed_read);
        let facts = |w: bz2::Whole| w.sink.into_facts(Compression::Bzip2, 0, None);
        assert_eq!(facts(narrow), facts(whole));
    }

    #[test]
    fn bzip2_samples_of_every_length_match_the_sink() {
        // Stream lengths around the sink's buffer size, where its tail changes length.
        for total in [
            0,
            1,
            100,
            CHUNK - 1,
            CHUNK,
            CHUNK + 1,
            2 * CHUNK - 1,
            2 * CHUNK,
            2 * CHUNK + 7,
            5 * CHUNK,
        ] {
            let data: Vec<u8> = (0..total).map(|i| (i % 251) as u8).collect();
            let bytes = compress(Compression::Bzip2, &data);
            let (single, parallel) = bzip2_both_paths(&bytes);
            assert_eq!(parallel, single, "{total} bytes");
            assert_eq!(parallel.uncompressed_size, total as u64);
        }
    }

    #[test]
    fn bzip2_damage_gives_up_the_parallel_path_with_the_same_facts() {
        let (bytes, _) = bzip2_fixture();
        let mut cases: Vec<(&str, Vec<u8>)> = Vec::new();
        let mut garbage = bytes.clone();
        garbage.extend_from_slice(b"garbage after the end");
        cases.push(("garbage", garbage));
        cases.push(("cut", bytes[..bytes.len() / 2].to_vec()));
        cases.push(("cut in the last trailer", bytes[..bytes.len() - 3].to_vec()));
        let mut flipped = bytes.clone();
        flipped[bytes.len() / 3] ^= 0x04;
        cases.push(("flipped bit", flipped));
        // A block magic written into the middle of a block's compressed data, and an
        // end-of-stream magic: the split there is false.
        for (name, magic) in [
            ("false block magic", 0x3141_5926_5359),
            ("false end magic", 0x1772_4538_5090),
        ] {
            let mut fake = bytes.clone();
            overwrite_48_bits(&mut fake, (bytes.len() as u64 / 4) * 8 + 3, magic);
            cases.push((name, fake));
        }
        let mut half_header = bytes.clone();
        half_header.extend_from_slice(b"BZh");
        cases.push(("cut stream header", half_header));
        for (name, case) in cases {
            assert!(
                bz2::verify(io::Cursor::new(&case), &AtomicU64::new(0), 2, 2)
                    .unwrap()
                    .is_none(),
                "{name}: the parallel path must not call it whole"
            );
            let (single, parallel) = bzip2_both_paths(&case);
            assert!(single.problem.is_some(), "{name}");
            assert_eq!(parallel, single, "{name}");
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(120))]

        /// The parallel bzip2 path's facts equal the single-threaded path's on damaged
        /// multi-block, multi-stream files: flipped bits, cuts, appended bytes, a block or
        /// end-of-stream magic written at any bit; and on the whole file, whose tables,
        /// database sections and content CRC the parallel path establishes itself, on any
        /// number of workers and blocks in flight.
        #[test]
        fn bzip2_parallel_facts_match_single_threaded(
            kind in 0u8..6,
            threads in 1usize..4,
            in_flight in 1usize..7,
            at in 0.0f64..1.0,
            bit in 0u8..8,
            extra in proptest::collection::vec(proptest::prelude::any::<u8>(), 1..12),
        ) {
            let (whole, _) = bzip2_fixture();
            let mut bytes = whole.clone();
            let pos = ((bytes.len() - 1) as f64 * at) as usize;
            match kind {
                0 => bytes[pos] ^= 1 << bit,
                1 => bytes.truncate(pos.max(4)),
                2 => bytes.extend_from_slice(&extra),
                3 | 4 => {
                    let magic = if kind == 3 { 0x3141_5926_5359 } else { 0x1772_4538_5090 };
                    let at = (pos.min(bytes.len() - 7) * 8) as u64 + u64::from(bit);
                    overwrite_48_bits(&mut bytes, at, magic);
                }
                _ => {} // whole
            }
            if detect(&bytes) == Compression::Bzip2 {
                let size = bytes.len() as u64;
                let single =
                    decode_all(io::Cursor::new(&bytes), size, Compression::Bzip2, &AtomicU64::new(0), 1)
                        .unwrap();
                let proven = bz2::verify(io::Cursor::new(&bytes), &AtomicU64::new(0), threads, in_flight)
                    .unwrap()
                    .map(|w| w.sink.into_facts(Compression::Bzip2, w.compressed_read, None));
                if let Some(parallel) = proven {
                    // Proven whole in parallel: every fact, as the single thread has it.
                    proptest::prop_assert_eq!(&single.problem, &None);
                    proptest::prop_assert!(parallel.tables.as_ref().is_some_and(|t| t.len() == 11));
                    proptest::prop_assert!(parallel.sections.as_ref().is_some_and(|s| s.len() == 11));
                    proptest::prop_assert!(parallel.fingerprint.is_some());
                    proptest::prop_assert_eq!(parallel, single.clone());
                } else {
                    proptest::prop_assert!(kind != 5, "the whole file is proven whole");
                }
                let (single_again, parallel) = bzip2_both_paths(&bytes);
                proptest::prop_assert_eq!(&single_again, &single);
                proptest::prop_assert_eq!(parallel, single);
            }
        }
    }

    /// A multi-block xz file (block sizes in the headers, as `xz -T2` writes), of two
    /// streams, and its text.
    fn xz_fixture() -> &'static (Vec<u8>, Vec<u8>) {
        static FIXTURE: std::sync::OnceLock<(Vec<u8>, Vec<u8>)> = std::sync::OnceLock::new();
        FIXTURE.get_or_init(|| {
            let data = sample_dump(6_000);
            let stream = |d: &[u8]| {
                let encoder = liblzma::stream::MtStreamBuilder::new()
                    .threads(2)
                    .block_size(64 << 10)
                    .preset(1)
                    .encoder()
                    .unwrap();
                let mut e = liblzma::write::XzEncoder::new_stream(Vec::new(), encoder);
                e.write_all(d).unwrap();
                e.finish().unwrap()
            };
            let mut bytes = stream(&data);
            bytes.extend(stream(&data[..5000]));
            let mut decoded = data.clone();
            decoded.extend_from_slice(&data[..5000]);
            (bytes, decoded)
        })
    }

    fn xz_with_threads(bytes: &[u8], threads: usize) -> StreamFacts {
        let size = bytes.len() as u64;
        decode_all(
            io::Cursor::new(bytes),
            size,
            Compression::Xz,
            &AtomicU64::new(0),
            threads,
        )
        .unwrap()
    }

    #[test]
    fn xz_multi_block_files_decode_alike_on_one_and_two_threads() {
        let (bytes, decoded) = xz_fixture();
        let one = xz_with_threads(bytes, 1);
        let two = xz_with_threads(bytes, 2);
        assert_eq!(one.problem, None);
        assert_eq!(one.uncompressed_size, decoded.len() as u64);
        assert!(decoded.ends_with(&two.sample.tail));
        assert_eq!(two, one);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(120))]

        /// liblzma's threaded decoder gives the single-threaded decoder's verdicts on
        /// damaged multi-block files: flipped bits, cuts, appended bytes.
        #[test]
        fn xz_threaded_verdicts_match_single_threaded(
            kind in 0u8..3,
            at in 0.0f64..1.0,
            bit in 0u8..8,
            extra in proptest::collection::vec(proptest::prelude::any::<u8>(), 1..12),
        ) {
            let (whole, _) = xz_fixture();
            let mut bytes = whole.clone();
            let pos = ((bytes.len() - 1) as f64 * at) as usize;
            match kind {
                0 => bytes[pos] ^= 1 << bit,
                1 => bytes.truncate(pos.max(1)),
                _ => bytes.extend_from_slice(&extra),
            }
            if detect(&bytes) == Compression::Xz {
                let one = xz_with_threads(&bytes, 1);
                let two = xz_with_threads(&bytes, 2);
                proptest::prop_assert_eq!(verdict(&two), verdict(&one));
                if one.problem.is_none() {
                    proptest::prop_assert_eq!(two, one);
                }
            }
        }
    }

    #[test]
    fn detection_by_magic() {
        assert_eq!(detect(&[0x1f, 0x8b, 8]), Compression::Gzip);
        assert_eq!(detect(&[0x28, 0xb5, 0x2f, 0xfd]), Compression::Zstd);
        assert_eq!(detect(&[0x50, 0x2a, 0x4d, 0x18]), Compression::Zstd);
        assert_eq!(detect(b"\xfd7zXZ\x00"), Compression::Xz);
        assert_eq!(detect(b"BZh9"), Compression::Bzip2);
        assert_eq!(detect(b"BZhx"), Compression::Plain);
        assert_eq!(detect(b"-- MySQL dump"), Compression::Plain);
        assert_eq!(detect(b""), Compression::Plain);
        assert_eq!(
            detect(&[0x04, 0x22, 0x4d, 0x18]),
            Compression::Unsupported("lz4")
        );
    }
}
