//! bzip2 on all cores: the file is read once, split at its block magics (bit-aligned, so
//! found by a bit scan), and each block is decoded on a worker thread by the same libbzip2
//! port the single-threaded path uses (`bzip2::Decompress`), as a one-block stream built
//! around it. The decoded blocks are handed in file order to the same [`SampleSink`] as the
//! single-threaded path's (head and tail, table count, database sections, content CRC), with
//! at most 2 blocks per worker read but not yet merged; a block whose text exceeds
//! [`BLOCK_TEXT_MAX`] (runs expand up to 50×) is not kept by its worker but decoded again
//! by the merging thread straight into the sink, so memory stays bounded.
//!
//! This path only ever says "the file is whole": every block decoded with its CRC, each
//! stream's combined CRC matched, the streams followed each other to the end of the file.
//! Anything else — a block that does not decode (a false magic inside compressed data, a
//! flipped bit), a cut file, garbage after the end, a block longer than any real one — makes
//! it give up, and the caller decodes the file again on one thread, whose verdict and
//! offsets are the reference. A damaged file costs a second pass; a good one, none.
//!
//! Crates looked at first (2026-12): `lbzip2` (its own block decoder; reads ~100 MB chunks
//! of input, so no memory bound) and `parallel_bzip2_decoder` (memory-maps the file — a
//! dump cut while read becomes SIGBUS —, rayon, and only a `Read` without offsets or
//! per-stream facts). Neither gives bounded memory and the facts the verdicts need.

use std::collections::BTreeMap;
use std::io::{self, Read};
use std::sync::atomic::AtomicU64;
use std::sync::{mpsc, Mutex};

use super::{CountingReader, SampleSink, CHUNK};

const BLOCK_MAGIC: u64 = 0x3141_5926_5359;
const EOS_MAGIC: u64 = 0x1772_4538_5090;
/// The longest compressed block accepted (a 900 kB block of incompressible bytes is about
/// 1 MB); a longer stretch without a magic is damage, left to the single-threaded path.
const MAX_BLOCK_BYTES: usize = 4 << 20;
/// The most decoded text a worker keeps of one block (a 900 kB block of text without runs
/// decodes to about 1 MB); a longer block is decoded again by the merging thread.
const BLOCK_TEXT_MAX: usize = 2 << 20;

/// Worker threads: the machine's cores (at most 8: beyond that, reading is the limit).
pub(super) fn threads() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(8)
}

/// What the parallel pass established about a whole, good file.
pub(super) struct Whole {
    /// Every decoded byte went through it, in order.
    pub sink: SampleSink,
    /// Compressed bytes read.
    pub compressed_read: u64,
}

/// One decoded block, as a worker hands it back.
enum BlockOut {
    /// The block decoded whole (its CRC checked): its text.
    Text(Vec<u8>),
    /// Its text is longer than [`BLOCK_TEXT_MAX`]: the one-block stream, for the merging
    /// thread to decode again.
    Long(Vec<u8>),
}

/// One block to decode: a one-block bzip2 stream of the same level.
struct Job {
    seq: u64,
    stream: Vec<u8>,
}

/// Decodes `file` on `threads` workers with at most `in_flight` blocks read but not yet
/// merged. `Ok(None)`: the file is not (provably) whole, ask the single-threaded path.
/// Errors are I/O errors of the file.
pub(super) fn verify<R: Read>(
    file: R,
    progress: &AtomicU64,
    threads: usize,
    in_flight: usize,
) -> io::Result<Option<Whole>> {
    let threads = threads.max(1);
    let in_flight = in_flight.max(threads);
    let mut reader = CountingReader::new(file, progress);
    let (job_tx, job_rx) = mpsc::sync_channel::<Job>(threads);
    let job_rx = Mutex::new(job_rx);
    let (out_tx, out_rx) = mpsc::channel::<(u64, Option<BlockOut>)>();
    let outcome = std::thread::scope(|scope| {
        for _ in 0..threads {
            let out_tx = out_tx.clone();
            let job_rx = &job_rx;
            scope.spawn(move || loop {
                // The lock is held only while waiting for the next job.
                let job = match job_rx.lock() {
                    Ok(rx) => rx.recv(),
                    Err(_) => return,
                };
                let Ok(job) = job else { return };
                if out_tx.send((job.seq, decode_job(job.stream))).is_err() {
                    return;
                }
            });
        }
        drop(out_tx);
        let mut merge = Merge::new(out_rx, in_flight);
        let result = split(&mut reader, job_tx, &mut merge);
        // Whatever happened, the workers end once the job channel is gone (dropped in
        // `split`) and finish the blocks they hold.
        match result {
            Ok(true) => Ok(merge.finish()),
            Ok(false) => Ok(None),
            Err(e) => Err(e),
        }
    });
    let outcome = match outcome {
        Ok(Some(sink)) => Some(Whole {
            sink,
            compressed_read: reader.count,
        }),
        Ok(None) => None,
        Err(e) => return Err(reader.io_error.take().unwrap_or(e)),
    };
    Ok(outcome)
}

/// Merges decoded blocks in file order, holding at most `in_flight` out of order.
struct Merge {
    rx: mpsc::Receiver<(u64, Option<BlockOut>)>,
    in_flight: usize,
    sent: u64,
    next: u64,
    pending: BTreeMap<u64, Option<BlockOut>>,
    failed: bool,
    sink: SampleSink,
}

impl Merge {
    fn new(rx: mpsc::Receiver<(u64, Option<BlockOut>)>, in_flight: usize) -> Self {
        Merge {
            rx,
            in_flight,
            sent: 0,
            next: 0,
            pending: BTreeMap::new(),
            failed: false,
            sink: SampleSink::with_crc(),
        }
    }

    /// Waits until another block may be sent; false once a block failed.
    fn make_room(&mut self) -> bool {
        while !self.failed && self.sent - self.next >= self.in_flight as u64 {
            self.receive_one();
        }
        !self.failed
    }

    fn receive_one(&mut self) {
        match self.rx.recv() {
            Ok((seq, out)) => {
                self.pending.insert(seq, out);
                while let Some(out) = self.pending.remove(&self.next) {
                    self.next += 1;
                    match out {
                        Some(out) if !self.failed => self.absorb(out),
                        _ => self.failed = true,
                    }
                }
            }
            // Every worker gone before its blocks came back: treat as a failure.
            Err(_) => self.failed = true,
        }
    }

    /// The next block's text into the sink.
    fn absorb(&mut self, out: BlockOut) {
        match out {
            BlockOut::Text(text) => self.sink.write_all(&text),
            BlockOut::Long(stream) => {
                let sink = &mut self.sink;
                let whole = decode_block(&stream, |piece| {
                    sink.write_all(piece);
                    true
                });
                // The sink has taken part of a block that does not decode: the
                // single-threaded path starts again with a sink of its own.
                if whole != Some(true) {
                    self.failed = true;
                }
            }
        }
    }

    /// Waits for every block sent; the sink if all decoded.
    fn finish(mut self) -> Option<SampleSink> {
        while !self.failed && self.next < self.sent {
            self.receive_one();
        }
        (!self.failed).then_some(self.sink)
    }
}

/// The compressed bytes not yet handed out, as a bit stream.
struct Input<'r, R> {
    reader: &'r mut R,
    buf: Vec<u8>,
    eof: bool,
}

impl<R: Read> Input<'_, R> {
    /// Reads more; false at the end of the file.
    fn more(&mut self) -> io::Result<bool> {
        if self.eof {
            return Ok(false);
        }
        let len = self.buf.len();
        self.buf.resize(len + CHUNK, 0);
        let n = super::read_full(self.reader, &mut self.buf[len..])?;
        self.buf.truncate(len + n);
        if n < CHUNK {
            self.eof = true;
        }
        Ok(n > 0)
    }

    /// Makes sure `bits` bits are buffered; false if the file is shorter.
    fn need(&mut self, bits: u64) -> io::Result<bool> {
        while (self.buf.len() as u64) * 8 < bits {
            if !self.more()? {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Drops the bytes before byte `at`; bit positions shift by `8 * at`.
    fn discard(&mut self, at: usize) {
        self.buf.drain(..at);
    }
}

/// `n` (≤ 57) bits from bit `at` of `buf`, most significant first; zeros past the end.
fn bits(buf: &[u8], at: u64, n: u32) -> u64 {
    let byte = (at / 8) as usize;
    let mut w = [0u8; 8];
    let end = (byte + 8).min(buf.len());
    if byte < end {
        w[..end - byte].copy_from_slice(&buf[byte..end]);
    }
    (u64::from_be_bytes(w) << (at % 8)) >> (64 - n)
}

/// For each byte value, the bit shifts `s` (bit `s` of the mask) at which it can be the
/// second byte of a block or end-of-stream magic starting at bit `s` of the byte before:
/// a cheap filter before comparing 48 bits.
fn second_byte_table() -> [u16; 256] {
    let mut table = [0u16; 256];
    for s in 0..8 {
        for magic in [BLOCK_MAGIC, EOS_MAGIC] {
            table[((magic >> (32 + s)) & 0xff) as usize] |= 1 << s;
        }
    }
    table
}

/// The first magic at a bit position in `from..` whose 48 bits are all in `buf`: its
/// position and whether it ends the stream; or `None` and the first position not checked.
fn find_magic(buf: &[u8], from: u64, table: &[u16; 256]) -> Result<(u64, bool), u64> {
    let total_bits = buf.len() as u64 * 8;
    if total_bits < 48 {
        return Err(from);
    }
    let last = total_bits - 48; // the last position with 48 bits available
    let mut byte = (from / 8) as usize;
    while (byte as u64) * 8 <= last {
        let second = buf.get(byte + 1).copied().unwrap_or(0);
        let shifts = table[second as usize];
        if shifts != 0 {
            for s in 0..8u64 {
                let at = byte as u64 * 8 + s;
                if shifts & (1 << s) == 0 || at < from || at > last {
                    continue;
                }
                let v = bits(buf, at, 48);
                if v == BLOCK_MAGIC || v == EOS_MAGIC {
                    return Ok((at, v == EOS_MAGIC));
                }
            }
        }
        byte += 1;
    }
    Err(from.max(last + 1))
}

/// Splits the file into blocks and hands them to the workers. `Ok(true)`: the file is a
/// sequence of whole streams (each combined CRC matched) to its end and every block was
/// sent; `Ok(false)`: it is not, or a block failed.
fn split<R: Read>(
    reader: &mut R,
    jobs: mpsc::SyncSender<Job>,
    merge: &mut Merge,
) -> io::Result<bool> {
    let table = second_byte_table();
    let mut input = Input {
        reader,
        buf: Vec::with_capacity(2 * CHUNK),
        eof: false,
    };
    let mut first = true;
    loop {
        // A stream starts at byte 0 of the buffer.
        if !input.need(32)? {
            // The end: fine after a stream, not before the first one.
            return Ok(!first && input.buf.is_empty());
        }
        first = false;
        if &input.buf[..3] != b"BZh" || !(b'1'..=b'9').contains(&input.buf[3]) {
            return Ok(false);
        }
        let level = input.buf[3];
        let mut at = 32u64;
        if !input.need(at + 48)? {
            return Ok(false);
        }
        let mut magic = bits(&input.buf, at, 48);
        let mut combined = 0u32;
        loop {
            if magic == EOS_MAGIC {
                if !input.need(at + 80)? {
                    return Ok(false);
                }
                let crc = bits(&input.buf, at + 48, 32) as u32;
                let end = at + 80;
                let pad = (8 - end % 8) % 8;
                if crc != combined || (pad > 0 && bits(&input.buf, end, pad as u32) != 0) {
                    return Ok(false);
                }
                input.discard(((end + pad) / 8) as usize);
                break;
            }
            if magic != BLOCK_MAGIC {
                return Ok(false);
            }
            // A block from `at` to the next magic.
            let mut from = at + 48;
            let (next, next_is_eos) = loop {
                match find_magic(&input.buf, from, &table) {
                    Ok(found) => break found,
                    Err(resume) => {
                        from = resume;
                        if input.buf.len() - (at / 8) as usize > MAX_BLOCK_BYTES || !input.more()? {
                            return Ok(false);
                        }
                    }
                }
            };
            let crc = bits(&input.buf, at + 48, 32) as u32;
            combined = combined.rotate_left(1) ^ crc;
            let stream = one_block_stream(&input.buf, level, at, next, crc);
            if !merge.make_room() {
                return Ok(false);
            }
            if jobs
                .send(Job {
                    seq: merge.sent,
                    stream,
                })
                .is_err()
            {
                return Ok(false);
            }
            merge.sent += 1;
            // Keep from the byte holding the next magic.
            let keep = (next / 8) as usize;
            input.discard(keep);
            at = next - keep as u64 * 8;
            magic = if next_is_eos { EOS_MAGIC } else { BLOCK_MAGIC };
        }
    }
}

/// A bzip2 stream of level `level` holding the block at bits `from..to` of `buf`, closed
/// by an end-of-stream magic whose combined CRC is the block's own CRC (one block).
fn one_block_stream(buf: &[u8], level: u8, from: u64, to: u64, crc: u32) -> Vec<u8> {
    let nbits = to - from;
    let whole = (nbits / 8) as usize;
    let mut out = Vec::with_capacity(whole + 16);
    out.extend_from_slice(b"BZh");
    out.push(level);
    let start = (from / 8) as usize;
    let shift = (from % 8) as u32;
    if shift == 0 {
        out.extend_from_slice(&buf[start..start + whole]);
    } else {
        out.extend(
            buf[start..start + whole + 1]
                .windows(2)
                .map(|w| (w[0] << shift) | (w[1] >> (8 - shift))),
        );
    }
    // The last bits of the block, the end-of-stream magic and CRC, zero padding.
    let rest = (nbits % 8) as u32;
    let mut acc: u128 = u128::from(bits(buf, from + whole as u64 * 8, rest.max(1)));
    if rest == 0 {
        acc = 0;
    }
    acc = (acc << 48) | u128::from(EOS_MAGIC);
    acc = (acc << 32) | u128::from(crc);
    let mut n = rest + 80;
    let pad = (8 - n % 8) % 8;
    acc <<= pad;
    n += pad;
    while n > 0 {
        n -= 8;
        out.push((acc >> n) as u8);
    }
    out
}

/// A worker's part: the block's text, or the stream back if its text is too long to keep;
/// `None` if it does not decode.
fn decode_job(stream: Vec<u8>) -> Option<BlockOut> {
    let mut text = Vec::new();
    let whole = decode_block(&stream, |piece| {
        if text.len() + piece.len() > BLOCK_TEXT_MAX {
            return false;
        }
        text.extend_from_slice(piece);
        true
    })?;
    Some(if whole {
        BlockOut::Text(text)
    } else {
        BlockOut::Long(stream)
    })
}

/// Decodes a one-block stream, handing its text to `emit` piece by piece (false: stop).
/// `Some(true)`: it decoded whole (CRCs included) and used every byte given;
/// `Some(false)`: `emit` stopped it; `None`: it does not decode.
fn decode_block(stream: &[u8], mut emit: impl FnMut(&[u8]) -> bool) -> Option<bool> {
    let mut d = bzip2::Decompress::new(false);
    let mut scratch = vec![0u8; CHUNK];
    loop {
        let consumed = d.total_in() as usize;
        let before = d.total_out();
        let status = d.decompress(&stream[consumed..], &mut scratch).ok()?;
        let n = (d.total_out() - before) as usize;
        if n > 0 && !emit(&scratch[..n]) {
            return Some(false);
        }
        if let bzip2::Status::StreamEnd = status {
            return (d.total_in() as usize == stream.len()).then_some(true);
        }
        if n == 0 && d.total_in() as usize == consumed {
            // No progress: the stream ended early (a cut block).
            return None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn magics_are_found_at_every_bit_shift() {
        let table = second_byte_table();
        for magic in [BLOCK_MAGIC, EOS_MAGIC] {
            for shift in 0..24u64 {
                // 48 bits of magic placed at bit `shift + 8` of a zeroed buffer.
                let mut buf = vec![0u8; 16];
                let at = shift + 8;
                for i in 0..48 {
                    if magic >> (47 - i) & 1 == 1 {
                        let bit = at + i;
                        buf[(bit / 8) as usize] |= 0x80 >> (bit % 8);
                    }
                }
                assert_eq!(
                    find_magic(&buf, 0, &table),
                    Ok((at, magic == EOS_MAGIC)),
                    "shift {shift}"
                );
                assert_eq!(bits(&buf, at, 48), magic);
                // Not found from a later position, and the resume point is past the end.
                assert!(find_magic(&buf, at + 1, &table).is_err());
            }
        }
    }

    #[test]
    fn one_block_streams_decode_and_reject_damage() {
        let data = super::super::tests::sample_dump(20_000);
        let mut e = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::new(1));
        std::io::Write::write_all(&mut e, &data).unwrap();
        let file = e.finish().unwrap();
        let table = second_byte_table();
        let (second, _) = find_magic(&file, 32 + 48, &table).unwrap();
        let crc = bits(&file, 32 + 48, 32) as u32;
        let block = one_block_stream(&file, b'1', 32, second, crc);
        let Some(BlockOut::Text(text)) = decode_job(block.clone()) else {
            panic!("the first block decodes");
        };
        // Level 1: blocks of at most 100 kB (text without runs: no RLE expansion).
        assert!((90_000..=100_000).contains(&text.len()), "{}", text.len());
        assert!(data.starts_with(&text));
        // One bit short, a wrong CRC, a flipped bit: rejected.
        assert!(decode_job(one_block_stream(&file, b'1', 32, second - 1, crc)).is_none());
        assert!(decode_job(one_block_stream(&file, b'1', 32, second, crc ^ 1)).is_none());
        let mut flipped = block.clone();
        flipped[5000] ^= 0x10;
        assert!(decode_job(flipped).is_none());
    }

    #[test]
    fn long_blocks_come_back_as_streams_and_decode_in_the_sink() {
        // 3 MB of one byte: a single level-9 block whose text exceeds what a worker keeps.
        let data = vec![b'0'; 3_000_000];
        let mut e = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::new(9));
        std::io::Write::write_all(&mut e, &data).unwrap();
        let file = e.finish().unwrap();
        let table = second_byte_table();
        let (end, is_eos) = find_magic(&file, 32 + 48, &table).unwrap();
        assert!(is_eos, "one block");
        let crc = bits(&file, 32 + 48, 32) as u32;
        let block = one_block_stream(&file, b'9', 32, end, crc);
        let Some(BlockOut::Long(back)) = decode_job(block.clone()) else {
            panic!("a block of 3 MB of text is handed back");
        };
        assert_eq!(back, block);
        let mut total = 0;
        assert_eq!(
            decode_block(&back, |piece| {
                total += piece.len();
                true
            }),
            Some(true)
        );
        assert_eq!(total, data.len());
        // The whole file through the parallel path: proven whole, every byte in the sink.
        let whole = verify(std::io::Cursor::new(&file), &AtomicU64::new(0), 2, 2)
            .unwrap()
            .expect("whole");
        assert_eq!(whole.sink.total, data.len() as u64);
    }
}
