//! gzip verification with ISA-L's inflate (the library behind `igzip`), the fastest gzip
//! decoder measured on this project's machines (see BENCHMARKS.md): about 2× zlib-rs.
//!
//! The member headers (RFC 1952) are parsed here, so that every member is judged the same
//! way wherever the file's reads happen to split it; ISA-L decodes the deflate data and
//! checks each member's trailer (CRC32 and length, `ISAL_GZIP_NO_HDR_VER`). Between members
//! the next bytes decide: the end of the file, another member (magic `1f 8b`), or garbage.

use std::io::{self, Read};
use std::sync::atomic::{AtomicU64, Ordering};

use isal_sys::igzip_lib as isal;

use super::{read_full, SampleSink, StreamProblem, CHUNK};

/// Reads are aligned to this many bytes in memory (measured: 8-10 % faster than
/// `BufReader`'s unaligned buffer).
const ALIGN: usize = 4096;

/// The compressed input: one aligned buffer refilled from the file.
struct Input<'a, R> {
    file: R,
    storage: Vec<u8>,
    /// Start of the aligned window of `CHUNK` bytes in `storage`.
    base: usize,
    pos: usize,
    len: usize,
    /// File offset of `storage[base]`.
    buffer_offset: u64,
    eof: bool,
    progress: &'a AtomicU64,
}

impl<'a, R: Read> Input<'a, R> {
    fn new(file: R, progress: &'a AtomicU64) -> Self {
        let storage = vec![0; CHUNK + ALIGN];
        let base = storage.as_ptr().align_offset(ALIGN).min(ALIGN);
        Input {
            file,
            storage,
            base,
            pos: 0,
            len: 0,
            buffer_offset: 0,
            eof: false,
            progress,
        }
    }

    /// File offset of the next unread byte.
    fn offset(&self) -> u64 {
        self.buffer_offset + self.pos as u64
    }

    /// Bytes read from the file so far.
    fn read_so_far(&self) -> u64 {
        self.buffer_offset + self.len as u64
    }

    fn available(&mut self) -> &mut [u8] {
        &mut self.storage[self.base + self.pos..self.base + self.len]
    }

    /// Makes at least `want` bytes (at most a few) available unless the file ends first;
    /// returns how many are.
    fn fill(&mut self, want: usize) -> io::Result<usize> {
        while self.len - self.pos < want && !self.eof {
            // Keep what is left (a byte or two, or nothing) in front of the new data.
            let keep = self.len - self.pos;
            let (start, window) = (self.base + self.pos, self.base..self.base + CHUNK);
            self.storage.copy_within(start..start + keep, self.base);
            self.buffer_offset += self.pos as u64;
            self.pos = 0;
            #[cfg(debug_assertions)]
            crate::sys::test_delay("CHECK_BACKUP_TEST_READ_DELAY_MS");
            let n = read_full(&mut self.file, &mut self.storage[window][keep..])?;
            self.len = keep + n;
            self.eof = n == 0;
            self.progress.store(self.read_so_far(), Ordering::Relaxed);
        }
        Ok(self.len - self.pos)
    }

    /// The next byte, or None at the end of the file.
    fn byte(&mut self) -> io::Result<Option<u8>> {
        if self.fill(1)? == 0 {
            return Ok(None);
        }
        self.pos += 1;
        Ok(Some(self.storage[self.base + self.pos - 1]))
    }
}

/// Why a member header was refused; None from the parser means the file ended inside it.
enum Header {
    Whole,
    Cut,
    Bad(String),
}

const FTEXT_FHCRC: u8 = 0x02;
const FEXTRA: u8 = 0x04;
const FNAME: u8 = 0x08;
const FCOMMENT: u8 = 0x10;
const RESERVED: u8 = 0xe0;

/// Reads one member header (RFC 1952, 2.3.1), checking its CRC16 when it has one.
fn read_header<R: Read>(input: &mut Input<R>) -> io::Result<Header> {
    let mut crc = Crc32::new();
    let mut fixed = [0u8; 10];
    for slot in fixed.iter_mut() {
        match input.byte()? {
            Some(b) => *slot = b,
            None => return Ok(Header::Cut),
        }
    }
    crc.update(&fixed);
    if fixed[0..2] != [0x1f, 0x8b] {
        return Ok(Header::Bad("invalid gzip header (bad magic number)".into()));
    }
    if fixed[2] != 8 {
        return Ok(Header::Bad(format!(
            "invalid gzip header (unknown compression method {})",
            fixed[2]
        )));
    }
    let flags = fixed[3];
    if flags & RESERVED != 0 {
        return Ok(Header::Bad(
            "invalid gzip header (reserved flags set)".into(),
        ));
    }
    if flags & FEXTRA != 0 {
        let mut xlen = [0u8; 2];
        for slot in xlen.iter_mut() {
            match input.byte()? {
                Some(b) => *slot = b,
                None => return Ok(Header::Cut),
            }
        }
        crc.update(&xlen);
        for _ in 0..u16::from_le_bytes(xlen) {
            match input.byte()? {
                Some(b) => crc.update(&[b]),
                None => return Ok(Header::Cut),
            }
        }
    }
    for flag in [FNAME, FCOMMENT] {
        if flags & flag != 0 {
            loop {
                match input.byte()? {
                    Some(b) => {
                        crc.update(&[b]);
                        if b == 0 {
                            break;
                        }
                    }
                    None => return Ok(Header::Cut),
                }
            }
        }
    }
    if flags & FTEXT_FHCRC != 0 {
        let mut stored = [0u8; 2];
        for slot in stored.iter_mut() {
            match input.byte()? {
                Some(b) => *slot = b,
                None => return Ok(Header::Cut),
            }
        }
        if u16::from_le_bytes(stored) != (crc.finish() & 0xffff) as u16 {
            return Ok(Header::Bad(
                "invalid gzip header (header CRC mismatch)".into(),
            ));
        }
    }
    Ok(Header::Whole)
}

/// Bitwise CRC-32 (gzip's), for the rare header CRC only: ISA-L checks the data's.
struct Crc32(u32);

impl Crc32 {
    fn new() -> Self {
        Crc32(0xffff_ffff)
    }
    fn update(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= u32::from(b);
            for _ in 0..8 {
                self.0 = (self.0 >> 1) ^ (0xedb8_8320 & (self.0 & 1).wrapping_neg());
            }
        }
    }
    fn finish(&self) -> u32 {
        !self.0
    }
}

/// ISA-L's inflate state (87 KB: on the heap).
struct Inflater(Box<isal::inflate_state>);

impl Inflater {
    fn new() -> Self {
        // SAFETY: inflate_state is plain C data (integers, arrays, raw pointers) for which
        // all-zero bytes are valid; isal_inflate_init then sets it up as ISA-L requires.
        let mut state: Box<isal::inflate_state> = unsafe { Box::new(std::mem::zeroed()) };
        unsafe { isal::isal_inflate_init(&mut *state) };
        Inflater(state)
    }

    /// Prepares for the deflate data of a new member whose header was already read.
    fn start_member(&mut self) {
        // SAFETY: the state was initialised by isal_inflate_init.
        unsafe { isal::isal_inflate_reset(&mut *self.0) };
        self.0.crc_flag = isal::ISAL_GZIP_NO_HDR_VER;
    }

    /// Decodes from `input` into `output`; returns (bytes consumed, bytes produced, ISA-L's
    /// return code). Consumed is None when ISA-L gave back more bytes than this call passed
    /// it (it rewinds its bit buffer at a member's end): only damaged data does that.
    fn inflate(&mut self, input: &mut [u8], output: &mut [u8]) -> (Option<usize>, usize, i32) {
        let state = &mut *self.0;
        let (in_len, out_len) = (input.len().min(u32::MAX as usize), output.len());
        state.next_in = input.as_mut_ptr();
        state.avail_in = in_len as u32;
        state.next_out = output.as_mut_ptr();
        state.avail_out = out_len.min(u32::MAX as usize) as u32;
        // SAFETY: next_in/avail_in and next_out/avail_out describe live, exclusively
        // borrowed buffers for the duration of the call; ISA-L reads and writes only there
        // and in the state. The pointers are cleared before the borrows end.
        let ret = unsafe { isal::isal_inflate(state) };
        let consumed = in_len.checked_sub(state.avail_in as usize);
        let produced = out_len - state.avail_out as usize;
        state.next_in = std::ptr::null_mut();
        state.avail_in = 0;
        state.next_out = std::ptr::null_mut();
        state.avail_out = 0;
        (consumed, produced, ret)
    }

    fn finished(&self) -> bool {
        self.0.block_state == isal::isal_block_state_ISAL_BLOCK_FINISH
    }

    /// The finished member's CRC32 and length mod 2^32 (what its trailer holds, and what
    /// ISA-L checked it against).
    fn trailer(&self) -> (u32, u32) {
        (self.0.crc, self.0.total_out)
    }
}

/// One zlib stream (RFC 1950: header, deflate data, adler32), fed in pieces and proven
/// whole by ISA-L — the data blocks of a pg_dump custom archive, several times faster than
/// a zlib decoder. Nothing of the decoded data is kept.
pub struct ZlibCheck {
    inflater: Inflater,
    out: Vec<u8>,
    done: bool,
}

impl Default for ZlibCheck {
    fn default() -> Self {
        let mut inflater = Inflater::new();
        // SAFETY: the state was initialised by isal_inflate_init.
        unsafe { isal::isal_inflate_reset(&mut *inflater.0) };
        // ISA-L parses the zlib header and checks the adler32 after the deflate data.
        inflater.0.crc_flag = isal::ISAL_ZLIB;
        ZlibCheck {
            inflater,
            out: vec![0; 64 * 1024],
            done: false,
        }
    }
}

impl ZlibCheck {
    /// Decodes the next piece of the stream. Bytes after the stream's end are ignored (the
    /// caller decides whether they may be there); an error says what is wrong with it.
    pub fn feed(&mut self, mut input: &mut [u8]) -> Result<(), String> {
        while !self.done {
            let (consumed, produced, ret) = self.inflater.inflate(input, &mut self.out);
            match ret {
                isal::ISAL_INCORRECT_CHECKSUM => {
                    return Err("the adler32 checksum does not match the data".into())
                }
                isal::ISAL_INVALID_WRAPPER | isal::ISAL_UNSUPPORTED_METHOD => {
                    return Err("not a zlib stream (invalid header)".into())
                }
                r if r == isal::ISAL_NEED_DICT as i32 => {
                    return Err("the stream needs a preset dictionary".into())
                }
                r if r < 0 => return Err(describe(r)),
                _ => {}
            }
            let Some(consumed) = consumed else {
                return Err("invalid deflate data (the stream rewound)".into());
            };
            input = &mut input[consumed..];
            if self.inflater.finished() {
                self.done = true;
            } else if (input.is_empty() && produced < self.out.len())
                || (consumed == 0 && produced == 0)
            {
                // All of this piece is decoded (ISA-L keeps what it needs of it): the next
                // piece goes on.
                break;
            }
        }
        Ok(())
    }

    /// Whether the stream ended, its adler32 checked.
    pub fn complete(&self) -> bool {
        self.done
    }
}

/// The content's identity as the gzip trailers state it, for free while verifying: every
/// member's CRC32 and length, folded into one FNV-1a hash (bounded, however many members).
#[derive(Debug, Clone, Copy)]
pub(super) struct Trailers {
    members: u64,
    hash: u64,
}

impl Default for Trailers {
    fn default() -> Self {
        Trailers {
            members: 0,
            hash: 0xcbf2_9ce4_8422_2325,
        }
    }
}

impl Trailers {
    fn add(&mut self, (crc, len): (u32, u32)) {
        self.members += 1;
        for b in crc.to_le_bytes().into_iter().chain(len.to_le_bytes()) {
            self.hash ^= u64::from(b);
            self.hash = self.hash.wrapping_mul(0x100_0000_01b3);
        }
    }

    /// `gzip:<members>:<hash>`: equal for two files whose members have the same CRC32s and
    /// lengths (the same content, written the same way).
    pub(super) fn fingerprint(&self) -> String {
        format!("gzip:{}:{:016x}", self.members, self.hash)
    }
}

fn describe(ret: i32) -> String {
    match ret {
        isal::ISAL_INVALID_BLOCK => "invalid deflate data (invalid block)".into(),
        isal::ISAL_INVALID_SYMBOL => "invalid deflate data (invalid symbol)".into(),
        isal::ISAL_INVALID_LOOKBACK => "invalid deflate data (invalid distance)".into(),
        isal::ISAL_INCORRECT_CHECKSUM => {
            "CRC32 or length in the gzip trailer does not match the data".into()
        }
        other => format!("deflate decoder error {other}"),
    }
}

/// Streams a gzip file (all members) into `sink`, each member's trailer into `trailers`;
/// returns what is wrong with it, if anything, and the compressed bytes read.
pub(super) fn verify<R: Read>(
    file: R,
    size: u64,
    progress: &AtomicU64,
    sink: &mut SampleSink,
    trailers: &mut Trailers,
) -> io::Result<(Option<StreamProblem>, u64)> {
    let mut input = Input::new(file, progress);
    let mut inflater = Inflater::new();
    let problem = 'members: loop {
        match read_header(&mut input)? {
            Header::Whole => {}
            Header::Cut => break Some(StreamProblem::Truncated { at: size }),
            Header::Bad(detail) => {
                break Some(StreamProblem::Corrupt {
                    near: input.offset().min(size),
                    detail,
                })
            }
        }
        inflater.start_member();
        let mut stalls = 0;
        while !inflater.finished() {
            if input.fill(1)? == 0 {
                break 'members Some(StreamProblem::Truncated { at: size });
            }
            let out = sink.spare();
            let (consumed, produced, ret) = inflater.inflate(input.available(), out);
            let Some(consumed) = consumed else {
                // Found by the no-false-OK property test (a flipped bit near a member end).
                break 'members Some(StreamProblem::Corrupt {
                    near: input.read_so_far().min(size),
                    detail: "deflate data ends inconsistently".into(),
                });
            };
            input.pos += consumed;
            sink.commit(produced);
            if ret < 0 {
                break 'members Some(StreamProblem::Corrupt {
                    near: input.read_so_far().min(size),
                    detail: describe(ret),
                });
            }
            // ISA-L stops only when the input is used up, the output is full, or the
            // member ends; anything else must not loop for ever.
            stalls = if consumed == 0 && produced == 0 {
                stalls + 1
            } else {
                0
            };
            if stalls > 2 {
                break 'members Some(StreamProblem::Corrupt {
                    near: input.read_so_far().min(size),
                    detail: "deflate decoder made no progress".into(),
                });
            }
        }
        trailers.add(inflater.trailer());
        // What follows the member: the end, another member, or garbage.
        let n = input.fill(2)?;
        if n == 0 {
            break None;
        }
        let next = &input.available()[..n.min(2)];
        if !super::Compression::Gzip.may_start_member(next) {
            let at = input.offset();
            break Some(StreamProblem::TrailingData {
                at,
                bytes: size.saturating_sub(at),
            });
        }
    };
    Ok((problem, input.read_so_far()))
}

#[cfg(test)]
mod tests {
    use super::ZlibCheck;
    use proptest::prelude::*;
    use std::io::Write;

    fn zlib(data: &[u8], level: u32) -> Vec<u8> {
        let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::new(level));
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    /// Feeds `stream` in pieces of `piece` bytes: Ok(complete) or the error.
    fn check(stream: &[u8], piece: usize) -> Result<bool, String> {
        let mut z = ZlibCheck::default();
        for chunk in stream.chunks(piece.max(1)) {
            z.feed(&mut chunk.to_vec())?;
        }
        Ok(z.complete())
    }

    fn data(seed: u64, len: usize) -> Vec<u8> {
        // Text-like and repetitive (long matches), with some noise.
        let mut x = seed | 1;
        (0..len)
            .map(|i| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                if x % 5 == 0 {
                    (x >> 8) as u8
                } else {
                    b"INSERT INTO t VALUES (1,'abc'),\n"[i % 32]
                }
            })
            .collect()
    }

    proptest! {
        #[test]
        fn whole_streams_complete_and_damaged_ones_never_do(
            seed in any::<u64>(),
            len in 0usize..300_000,
            level in 0u32..10,
            piece in 1usize..70_000,
            cut in any::<prop::sample::Index>(),
            flip in any::<prop::sample::Index>(),
            bit in 0u8..8,
        ) {
            let stream = zlib(&data(seed, len), level);
            prop_assert_eq!(check(&stream, piece), Ok(true));
            // Cut anywhere before its last byte: not complete (or an error).
            let at = cut.index(stream.len());
            prop_assert_ne!(check(&stream[..at], piece), Ok(true), "cut at {}", at);
            // One bit flipped anywhere: the header, the deflate data or the adler32 say so —
            // unless it is a padding bit after the last block, which no decoder reads: then
            // the data is what it was (checked with another decoder).
            let mut flipped = stream.clone();
            let i = flip.index(flipped.len());
            flipped[i] ^= 1 << bit;
            if check(&flipped, piece) == Ok(true) {
                let mut decoded = Vec::new();
                let read = std::io::Read::read_to_end(
                    &mut flate2::read::ZlibDecoder::new(&flipped[..]),
                    &mut decoded,
                );
                prop_assert!(read.is_ok() && decoded == data(seed, len),
                    "bit {} of byte {} flipped: complete, but the data differs", bit, i);
            }
        }
    }

    #[test]
    fn bytes_after_the_stream_are_left_to_the_caller() {
        let mut stream = zlib(b"hello hello hello", 6);
        stream.extend_from_slice(b"trailing");
        assert_eq!(check(&stream, 5), Ok(true));
    }
}
