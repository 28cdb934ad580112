//! Encrypted dumps, walked without the key: OpenPGP (binary packets and ASCII armour), age
//! (binary and armoured), `openssl enc` (`Salted__`) and CMS/S-MIME enveloped data (DER or
//! BER). Each walker streams over a `Read` of the file's bytes with a fixed buffer (a few
//! hundred KiB, whatever the file's size) and proves what the format allows without the key:
//! that the structure is whole, ends exactly at the end of the file, and (armour) that its
//! checksum matches. What was encrypted cannot be seen: a structurally perfect file may hold
//! half a dump, and the judge says so.

use std::io::{self, BufRead, BufReader, Read};

use crate::facts::{EncryptedFacts, Encryption};

/// The size of the walkers' read buffer.
const BUFFER: usize = 64 * 1024;
/// The longest armour or age header line accepted (gpg and age write 64 characters).
const MAX_LINE: usize = 4096;
/// age's payload chunk: 64 KiB of plaintext and a 16-byte Poly1305 tag.
const AGE_CHUNK: u64 = 64 * 1024 + 16;
/// The OID 1.2.840.113549.1.7.3 (envelopedData), DER-encoded with its tag and length.
const ENVELOPED_DATA_OID: [u8; 11] = [
    0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x03,
];
const PGP_BEGIN: &[u8] = b"-----BEGIN PGP MESSAGE-----";
const PGP_END: &[u8] = b"-----END PGP MESSAGE-----";
const AGE_MAGIC: &[u8] = b"age-encryption.org/v1\n";
const AGE_BEGIN: &[u8] = b"-----BEGIN AGE ENCRYPTED FILE-----";
const AGE_END: &[u8] = b"-----END AGE ENCRYPTED FILE-----";

/// Recognises an encryption format by the first bytes of a file.
pub fn detect(head: &[u8]) -> Option<Encryption> {
    if head.starts_with(PGP_BEGIN) {
        return Some(Encryption::OpenPgpArmored);
    }
    if head.starts_with(AGE_BEGIN) {
        return Some(Encryption::AgeArmored);
    }
    if head.starts_with(AGE_MAGIC) {
        return Some(Encryption::Age);
    }
    if head.starts_with(b"Salted__") {
        return Some(Encryption::OpensslEnc);
    }
    if looks_like_cms(head) {
        return Some(Encryption::Cms);
    }
    if looks_like_pgp(head) {
        return Some(Encryption::OpenPgp);
    }
    // A file cut inside its own magic (at least 4 bytes of it): that format, broken.
    if head.len() >= 4 {
        for (magic, encryption) in [
            (PGP_BEGIN, Encryption::OpenPgpArmored),
            (AGE_BEGIN, Encryption::AgeArmored),
            (AGE_MAGIC, Encryption::Age),
            (&b"Salted__"[..], Encryption::OpensslEnc),
        ] {
            if magic.starts_with(head) {
                return Some(encryption);
            }
        }
    }
    None
}

/// A DER/BER SEQUENCE whose first element is the envelopedData OID.
fn looks_like_cms(head: &[u8]) -> bool {
    if head.first() != Some(&0x30) || head.len() < 2 {
        return false;
    }
    let skip = match head[1] {
        0x80 => 2,
        n if n < 0x80 => 2,
        n if (0x81..=0x88).contains(&n) => 2 + usize::from(n & 0x7f),
        _ => return false,
    };
    head.get(skip..skip + ENVELOPED_DATA_OID.len()) == Some(&ENVELOPED_DATA_OID[..])
}

/// A first packet that is a public-key or symmetric-key session-key packet of a known
/// version (what every encrypted OpenPGP message starts with).
fn looks_like_pgp(head: &[u8]) -> bool {
    let Some(&first) = head.first() else {
        return false;
    };
    let (tag, body) = if first & 0xc0 == 0xc0 {
        let tag = first & 0x3f;
        let body = match head.get(1) {
            Some(&n) if n < 192 => 2,
            Some(&n) if n < 224 => 3,
            Some(&255) => 6,
            _ => return false,
        };
        (tag, body)
    } else if first & 0xc0 == 0x80 {
        let body = match first & 3 {
            0 => 2,
            1 => 3,
            2 => 5,
            _ => 1,
        };
        ((first >> 2) & 0x0f, body)
    } else {
        return false;
    };
    matches!((tag, head.get(body)), (1, Some(3 | 6)) | (3, Some(4..=6)))
}

/// Walks an encrypted file of the given format. Errors are I/O errors of the file itself;
/// a broken structure is a fact (`problem`, `offset`).
pub fn walk<R: Read>(encryption: Encryption, input: R) -> io::Result<EncryptedFacts> {
    let mut facts = EncryptedFacts {
        encryption,
        cipher: String::new(),
        recipients: Vec::new(),
        verified: String::new(),
        blind_spot: String::new(),
        integrity: true,
        problem: None,
        offset: None,
        doubt: None,
        decrypted_with: None,
    };
    let mut input = Pos::new(BufReader::with_capacity(BUFFER, input));
    let outcome = match encryption {
        Encryption::OpenPgp => pgp(&mut input, &mut facts),
        Encryption::OpenPgpArmored => armoured(&mut input, &mut facts, Armour::Pgp),
        Encryption::Age => age(&mut input, &mut facts),
        Encryption::AgeArmored => armoured(&mut input, &mut facts, Armour::Age),
        Encryption::OpensslEnc => openssl(&mut input, &mut facts),
        Encryption::Cms => cms(&mut input, &mut facts),
    };
    match outcome {
        Ok(()) => Ok(facts),
        Err(Stop::Io(e)) => Err(e),
        Err(Stop::Broken(offset, what)) => {
            facts.problem = Some(what);
            facts.offset = Some(offset);
            Ok(facts)
        }
    }
}

/// Why a walk stopped early.
enum Stop {
    /// The file could not be read.
    Io(io::Error),
    /// The structure is broken at this offset.
    Broken(u64, String),
}

impl From<io::Error> for Stop {
    fn from(e: io::Error) -> Stop {
        Stop::Io(e)
    }
}

type Walk<T> = Result<T, Stop>;

fn broken<T>(offset: u64, what: impl Into<String>) -> Walk<T> {
    Err(Stop::Broken(offset, what.into()))
}

/// A buffered reader that knows its offset.
struct Pos<B> {
    inner: B,
    pos: u64,
}

impl<B: BufRead> Pos<B> {
    fn new(inner: B) -> Self {
        Pos { inner, pos: 0 }
    }

    fn at_eof(&mut self) -> Walk<bool> {
        Ok(self.inner.fill_buf()?.is_empty())
    }

    /// The next byte, None at the end.
    fn byte(&mut self) -> Walk<Option<u8>> {
        let buf = self.inner.fill_buf()?;
        let Some(&b) = buf.first() else {
            return Ok(None);
        };
        self.inner.consume(1);
        self.pos += 1;
        Ok(Some(b))
    }

    /// The next byte; the end of the file here is a cut in `what`.
    fn need(&mut self, what: &str) -> Walk<u8> {
        match self.byte()? {
            Some(b) => Ok(b),
            None => broken(self.pos, format!("file cut inside {what}")),
        }
    }

    /// Skips `n` bytes, keeping the first ones in `keep` (up to its capacity); the end of
    /// the file before them is a cut in `what` (announced at `start`).
    fn skip(&mut self, mut n: u64, keep: &mut Vec<u8>, what: &str, start: u64) -> Walk<()> {
        let announced = n;
        while n > 0 {
            let buf = self.inner.fill_buf()?;
            if buf.is_empty() {
                return broken(
                    self.pos,
                    format!(
                        "file cut inside {what}: {announced} bytes announced at offset {start}, the file ends {n} bytes short"
                    ),
                );
            }
            let take = buf.len().min(usize::try_from(n).unwrap_or(usize::MAX));
            let room = keep.capacity() - keep.len();
            keep.extend_from_slice(&buf[..take.min(room)]);
            self.inner.consume(take);
            self.pos += take as u64;
            n -= take as u64;
        }
        Ok(())
    }

    /// Reads to the end; returns how many bytes there were.
    fn rest(&mut self) -> Walk<u64> {
        let mut n = 0;
        loop {
            let len = self.inner.fill_buf()?.len();
            if len == 0 {
                return Ok(n);
            }
            self.inner.consume(len);
            self.pos += len as u64;
            n += len as u64;
        }
    }

    /// One line without its `\n` (and `\r`); None at the end of the file. `had_newline`
    /// tells whether it ended with one.
    fn line(&mut self, line: &mut Vec<u8>) -> Walk<Option<bool>> {
        line.clear();
        let start = self.pos;
        loop {
            let buf = self.inner.fill_buf()?;
            if buf.is_empty() {
                return Ok((!line.is_empty()).then_some(false));
            }
            let (take, done) = match memchr::memchr(b'\n', buf) {
                Some(i) => (i + 1, true),
                None => (buf.len(), false),
            };
            if line.len() + take > MAX_LINE {
                return broken(
                    start,
                    format!("line longer than {MAX_LINE} bytes where a text line belongs"),
                );
            }
            line.extend_from_slice(&buf[..take]);
            self.inner.consume(take);
            self.pos += take as u64;
            if done {
                line.pop();
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                return Ok(Some(true));
            }
        }
    }
}

impl<B: BufRead> Read for Pos<B> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.pos += n as u64;
        Ok(n)
    }
}

// ---------------------------------------------------------------------------------------
// OpenPGP (RFC 4880, RFC 9580)

/// A packet body's length as its header gives it.
#[derive(Clone, Copy)]
enum Length {
    Fixed(u64),
    Partial(u64),
    ToEnd,
}

fn new_length<B: BufRead>(input: &mut Pos<B>, what: &str) -> Walk<Length> {
    let first = input.need(what)?;
    Ok(match first {
        0..=191 => Length::Fixed(u64::from(first)),
        192..=223 => {
            let second = input.need(what)?;
            Length::Fixed(((u64::from(first) - 192) << 8) + u64::from(second) + 192)
        }
        255 => {
            let mut n = 0u64;
            for _ in 0..4 {
                n = (n << 8) | u64::from(input.need(what)?);
            }
            Length::Fixed(n)
        }
        _ => Length::Partial(1 << (first & 0x1f)),
    })
}

fn cipher_name(id: u8) -> String {
    match id {
        1 => "IDEA".into(),
        2 => "3DES".into(),
        3 => "CAST5".into(),
        4 => "Blowfish".into(),
        7 => "AES128".into(),
        8 => "AES192".into(),
        9 => "AES256".into(),
        10 => "Twofish".into(),
        11 => "Camellia128".into(),
        12 => "Camellia192".into(),
        13 => "Camellia256".into(),
        n => format!("cipher {n}"),
    }
}

fn aead_name(id: u8) -> String {
    match id {
        1 => "EAX".into(),
        2 => "OCB".into(),
        3 => "GCM".into(),
        n => format!("AEAD mode {n}"),
    }
}

/// Walks an OpenPGP message: session-key packets, then exactly one encrypted-data packet
/// that ends at the end of the input. `base` names the offsets (file or de-armoured bytes).
fn pgp<B: BufRead>(input: &mut Pos<B>, facts: &mut EncryptedFacts) -> Walk<()> {
    let mut session_keys = 0;
    let mut cipher = String::new();
    loop {
        let start = input.pos;
        let Some(header) = input.byte()? else {
            return broken(
                start,
                if session_keys == 0 {
                    "empty: no OpenPGP packet".to_string()
                } else {
                    format!("the message ends after {session_keys} session-key packet(s): no encrypted data packet (file cut after its header)")
                },
            );
        };
        if header & 0x80 == 0 {
            return broken(
                start,
                format!("byte 0x{header:02x} is not an OpenPGP packet header"),
            );
        }
        let (tag, length) = if header & 0x40 != 0 {
            (header & 0x3f, new_length(input, "a packet header")?)
        } else {
            let tag = (header >> 2) & 0x0f;
            let length = match header & 3 {
                3 => Length::ToEnd,
                kind => {
                    let mut n = 0u64;
                    for _ in 0..(1u32 << kind) {
                        n = (n << 8) | u64::from(input.need("a packet header")?);
                    }
                    Length::Fixed(n)
                }
            };
            (tag, length)
        };
        let what = match tag {
            1 => "a public-key session-key packet",
            3 => "a symmetric-key session-key packet",
            10 => "a marker packet",
            9 => "a symmetrically encrypted data packet",
            18 => "a SEIPD packet",
            20 => "an AEAD encrypted data packet",
            _ => {
                return broken(
                    start,
                    format!("unexpected packet (tag {tag}) where session-key or encrypted-data packets belong"),
                )
            }
        };
        let mut head = Vec::with_capacity(64);
        let total = body(input, length, &mut head, what, start)?;
        match tag {
            1 => {
                session_keys += 1;
                match head.first() {
                    Some(3) if head.len() >= 10 => {
                        let id: String = head[1..9].iter().map(|b| format!("{b:02X}")).collect();
                        facts.recipients.push(if id == "0000000000000000" {
                            "hidden recipient".into()
                        } else {
                            id
                        });
                    }
                    Some(6) if head.len() >= 3 => {
                        // v6: a length octet, the key version and its fingerprint.
                        let n = usize::from(head[1]);
                        let fp = head.get(3..2 + n.max(1)).unwrap_or(&[]);
                        let id: String = fp.iter().map(|b| format!("{b:02X}")).collect();
                        facts.recipients.push(if id.is_empty() {
                            "hidden recipient".into()
                        } else {
                            id
                        });
                    }
                    _ => {
                        return broken(start, "public-key session-key packet of an unknown version")
                    }
                }
            }
            3 => {
                session_keys += 1;
                match head.as_slice() {
                    [4, algo, ..] => cipher = cipher_name(*algo),
                    [5, algo, aead, ..] => {
                        cipher = format!("{}-{}", cipher_name(*algo), aead_name(*aead))
                    }
                    [6, _, algo, aead, ..] => {
                        cipher = format!("{}-{}", cipher_name(*algo), aead_name(*aead))
                    }
                    _ => {
                        return broken(
                            start,
                            "symmetric-key session-key packet of an unknown version",
                        )
                    }
                }
                facts.recipients.push("passphrase".into());
            }
            10 => {}
            _ => {
                if session_keys == 0 && tag != 9 {
                    return broken(
                        start,
                        "encrypted data packet with no session-key packet before it",
                    );
                }
                let container = match (tag, head.first()) {
                    (9, _) => {
                        facts.integrity = false;
                        "SED, without integrity protection".to_string()
                    }
                    (18, Some(1)) => {
                        // Version, the random prefix (block size + 2) and the encrypted
                        // 22-byte MDC packet at least.
                        if total < 1 + 10 + 22 {
                            return broken(
                                input.pos,
                                format!("SEIPD packet of {total} bytes cannot hold its MDC"),
                            );
                        }
                        "SEIPD".to_string()
                    }
                    (18, Some(2)) if head.len() >= 4 => {
                        cipher = format!("{}-{}", cipher_name(head[1]), aead_name(head[2]));
                        if total < 4 + 32 + 16 {
                            return broken(
                                input.pos,
                                format!("SEIPD v2 packet of {total} bytes cannot hold its salt and final tag"),
                            );
                        }
                        "SEIPD v2".to_string()
                    }
                    (20, Some(1)) if head.len() >= 4 => {
                        cipher = format!("{}-{}", cipher_name(head[1]), aead_name(head[2]));
                        if total < 4 + 15 + 16 {
                            return broken(
                                input.pos,
                                format!("AEAD packet of {total} bytes cannot hold its nonce and final tag"),
                            );
                        }
                        "AEAD packet".to_string()
                    }
                    (_, version) => {
                        return broken(
                            start,
                            format!(
                                "{what} of unknown version {}",
                                version.map_or("(none)".into(), |v| v.to_string())
                            ),
                        )
                    }
                };
                facts.cipher = if cipher.is_empty() {
                    container
                } else {
                    format!("{cipher} via {container}")
                };
                let end = input.pos;
                if !input.at_eof()? {
                    let extra = input.rest()?;
                    return broken(
                        end,
                        format!(
                            "{extra} bytes of garbage after the end of the encrypted data packet"
                        ),
                    );
                }
                facts.verified = format!(
                    "{session_keys} session-key packet(s) and one encrypted data packet of {total} bytes ending exactly at the end of the file"
                );
                return Ok(());
            }
        }
    }
}

/// Reads a packet body of `length` (following partial lengths), keeping its first bytes
/// in `keep`; returns its total length.
fn body<B: BufRead>(
    input: &mut Pos<B>,
    mut length: Length,
    keep: &mut Vec<u8>,
    what: &str,
    start: u64,
) -> Walk<u64> {
    let mut total = 0;
    loop {
        match length {
            Length::Fixed(n) => {
                input.skip(n, keep, what, start)?;
                return Ok(total + n);
            }
            Length::Partial(n) => {
                input.skip(n, keep, what, start)?;
                total += n;
                length = new_length(input, &format!("{what} (the length of its next part)"))?;
            }
            Length::ToEnd => {
                let room = keep.capacity();
                input.skip(0, keep, what, start)?;
                let mut first = vec![0; room];
                let got = crate::decode::read_full(input, &mut first)?;
                keep.extend_from_slice(&first[..got]);
                return Ok(total + got as u64 + input.rest()?);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Armour (OpenPGP's, with its CRC24; age's)

#[derive(Clone, Copy, PartialEq, Eq)]
enum Armour {
    Pgp,
    Age,
}

/// Decodes an armoured file's base64 as a `Read`, checking the armour as it goes. A broken
/// armour ends the decoded stream and is kept in `problem` (it takes precedence over what
/// the packet walker then finds).
struct Dearmour<'a, B> {
    input: &'a mut Pos<B>,
    kind: Armour,
    line: Vec<u8>,
    /// Decoded bytes not yet handed out.
    out: Vec<u8>,
    out_at: usize,
    /// Base64 characters carried to the next line (fewer than four).
    carry: Vec<u8>,
    padded: bool,
    crc: u32,
    crc_line: Option<u32>,
    done: bool,
    problem: Option<(u64, String)>,
    /// The first data line's length (age: every line but the last has it).
    width: Option<usize>,
    short_line: bool,
}

fn crc24(mut crc: u32, bytes: &[u8]) -> u32 {
    for &b in bytes {
        crc ^= u32::from(b) << 16;
        for _ in 0..8 {
            crc <<= 1;
            if crc & 0x0100_0000 != 0 {
                crc ^= 0x0186_4cfb;
            }
        }
    }
    crc & 0x00ff_ffff
}

fn sextet(c: u8) -> Option<u32> {
    Some(u32::from(match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => return None,
    }))
}

/// Decodes complete groups of four base64 characters into `out`; returns false on a
/// character that is not base64. Sets `padded` after a group with `=`.
fn decode_groups(chars: &[u8], out: &mut Vec<u8>, padded: &mut bool) -> bool {
    for group in chars.chunks(4) {
        if *padded {
            return false;
        }
        let pads = group.iter().rev().take_while(|&&c| c == b'=').count();
        if pads > 2 || group.len() < 4 {
            return false;
        }
        let mut n = 0u32;
        for &c in &group[..4 - pads] {
            let Some(v) = sextet(c) else {
                return false;
            };
            n = (n << 6) | v;
        }
        n <<= 6 * pads as u32;
        let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        out.extend_from_slice(&bytes[..3 - pads]);
        if pads > 0 {
            *padded = true;
        }
    }
    true
}

impl<'a, B: BufRead> Dearmour<'a, B> {
    fn new(input: &'a mut Pos<B>, kind: Armour) -> Walk<Self> {
        let armour = Dearmour {
            input,
            kind,
            line: Vec::new(),
            out: Vec::new(),
            out_at: 0,
            carry: Vec::new(),
            padded: false,
            crc: 0x00b7_04ce,
            crc_line: None,
            done: false,
            problem: None,
            width: None,
            short_line: false,
        };
        let begin = if kind == Armour::Pgp {
            PGP_BEGIN
        } else {
            AGE_BEGIN
        };
        let mut line = Vec::new();
        let at = armour.input.pos;
        if armour.input.line(&mut line)? != Some(true) || line.trim_ascii_end() != begin {
            return broken(at, "the armour's BEGIN line is damaged");
        }
        if kind == Armour::Pgp {
            // Armour headers ("Version: ...", "Comment: ..."), then a blank line.
            loop {
                let at = armour.input.pos;
                match armour.input.line(&mut line)? {
                    None => return broken(at, "file cut inside the armour headers"),
                    Some(_) if line.trim_ascii().is_empty() => break,
                    Some(_) if line.contains(&b':') => {}
                    Some(_) => {
                        return broken(at, "armour header line without a colon before the data")
                    }
                }
            }
        }
        Ok(armour)
    }

    /// Decodes the next data line into `out`; false at the end of the armour.
    fn next_line(&mut self) -> Walk<bool> {
        if self.done {
            return Ok(false);
        }
        let at = self.input.pos;
        let mut line = std::mem::take(&mut self.line);
        let got = self.input.line(&mut line);
        self.line = line;
        if got?.is_none() {
            return broken(at, "file cut inside the armour: no END line");
        }
        let text = self.line.trim_ascii_end();
        let end = if self.kind == Armour::Pgp {
            PGP_END
        } else {
            AGE_END
        };
        if text.starts_with(b"-----") {
            if text != end {
                return broken(at, "the armour's END line is damaged");
            }
            if !self.carry.is_empty() {
                return broken(at, "the armour's base64 ends in the middle of a group");
            }
            if self.kind == Armour::Pgp {
                if let Some(expected) = self.crc_line {
                    if expected != self.crc {
                        return broken(
                            at,
                            format!(
                                "armour checksum mismatch: the CRC24 line says {expected:06X}, the data gives {:06X}",
                                self.crc
                            ),
                        );
                    }
                }
            }
            // Nothing but blank space may follow the END line.
            let after = self.input.pos;
            let mut rest = Vec::new();
            while self.input.line(&mut rest)?.is_some() {
                if !rest.trim_ascii().is_empty() {
                    return broken(after, "garbage after the armour's END line");
                }
            }
            self.done = true;
            return Ok(false);
        }
        if self.crc_line.is_some() {
            return broken(at, "data after the armour's CRC24 line");
        }
        if self.kind == Armour::Pgp && text.first() == Some(&b'=') {
            let mut crc = Vec::new();
            let mut padded = false;
            if text.len() != 5 || !decode_groups(&text[1..], &mut crc, &mut padded) {
                return broken(at, "the armour's CRC24 line is damaged");
            }
            self.crc_line =
                Some((u32::from(crc[0]) << 16) | (u32::from(crc[1]) << 8) | u32::from(crc[2]));
            return Ok(true);
        }
        if self.kind == Armour::Age {
            if self.short_line {
                return broken(at, "age armour line after a short final line");
            }
            let width = *self.width.get_or_insert(text.len());
            if text.len() > 64 || text.len() > width {
                return broken(at, "age armour line longer than 64 characters");
            }
            self.short_line = text.len() < width;
        }
        let mut chars = std::mem::take(&mut self.carry);
        chars.extend_from_slice(text);
        let whole = chars.len() / 4 * 4;
        self.out.clear();
        self.out_at = 0;
        if !decode_groups(&chars[..whole], &mut self.out, &mut self.padded) {
            return broken(at, "armour line that is not base64");
        }
        self.carry = chars[whole..].to_vec();
        self.crc = crc24(self.crc, &self.out);
        Ok(true)
    }
}

impl<B: BufRead> Read for Dearmour<'_, B> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.out_at == self.out.len() {
            if self.problem.is_some() {
                return Ok(0);
            }
            match self.next_line() {
                Ok(true) => {}
                Ok(false) => return Ok(0),
                Err(Stop::Io(e)) => return Err(e),
                Err(Stop::Broken(at, what)) => {
                    self.problem = Some((at, what));
                    return Ok(0);
                }
            }
        }
        let n = buf.len().min(self.out.len() - self.out_at);
        buf[..n].copy_from_slice(&self.out[self.out_at..self.out_at + n]);
        self.out_at += n;
        Ok(n)
    }
}

fn armoured<B: BufRead>(input: &mut Pos<B>, facts: &mut EncryptedFacts, kind: Armour) -> Walk<()> {
    let mut armour = Dearmour::new(input, kind)?;
    let mut decoded = Pos::new(BufReader::with_capacity(BUFFER, &mut armour));
    let inner = match kind {
        Armour::Pgp => pgp(&mut decoded, facts),
        Armour::Age => age(&mut decoded, facts),
    };
    drop(decoded);
    // A broken armour explains whatever the inner walk then saw.
    if let Some((at, what)) = armour.problem.take() {
        return broken(at, what);
    }
    match inner {
        Err(Stop::Broken(at, what)) => {
            return broken(
                armour.input.pos,
                format!("{what} (at byte {at} of the de-armoured data)"),
            )
        }
        other => other?,
    }
    // The inner walk read to the end of the decoded data, so the END line was reached.
    if !armour.done {
        let mut sink = [0u8; 1];
        while armour.read(&mut sink)? > 0 {}
        if let Some((at, what)) = armour.problem.take() {
            return broken(at, what);
        }
    }
    facts.verified = match (kind, armour.crc_line) {
        (Armour::Pgp, Some(_)) => format!(
            "the armour (base64, CRC24 of the data matches, END line) and {}",
            facts.verified
        ),
        (Armour::Pgp, None) => format!(
            "the armour (base64, END line; it has no CRC24 line) and {}",
            facts.verified
        ),
        (Armour::Age, _) => format!("the armour (base64, END line) and {}", facts.verified),
    };
    Ok(())
}

// ---------------------------------------------------------------------------------------
// age (age-encryption.org/v1)

fn age<B: BufRead>(input: &mut Pos<B>, facts: &mut EncryptedFacts) -> Walk<()> {
    let mut line = Vec::new();
    let at = input.pos;
    if input.line(&mut line)? != Some(true) || line != AGE_MAGIC[..AGE_MAGIC.len() - 1] {
        return broken(at, "the age version line is damaged");
    }
    let mut stanzas = 0;
    loop {
        let at = input.pos;
        match input.line(&mut line)? {
            None | Some(false) => return broken(input.pos, "file cut inside the age header"),
            Some(true) => {}
        }
        if let Some(args) = line.strip_prefix(b"-> ") {
            stanzas += 1;
            let kind = args.split(|&c| c == b' ').next().unwrap_or(b"");
            facts
                .recipients
                .push(crate::text::safe(&String::from_utf8_lossy(kind), 40));
            // The body: base64 lines of 64 characters, the last one shorter (maybe empty).
            loop {
                let at = input.pos;
                match input.line(&mut line)? {
                    None | Some(false) => {
                        return broken(input.pos, "file cut inside an age recipient stanza")
                    }
                    Some(true) => {}
                }
                if line.len() > 64 || !line.iter().all(|&c| sextet(c).is_some()) {
                    return broken(at, "age recipient stanza body line is not base64");
                }
                if line.len() < 64 {
                    break;
                }
            }
        } else if let Some(mac) = line.strip_prefix(b"--- ") {
            if mac.len() != 43 || !mac.iter().all(|&c| sextet(c).is_some()) {
                return broken(at, "the age header's MAC line is damaged");
            }
            break;
        } else {
            return broken(
                at,
                "neither a recipient stanza nor the MAC line in the age header",
            );
        }
    }
    if stanzas == 0 {
        return broken(input.pos, "age header without a recipient stanza");
    }
    let start = input.pos;
    let payload = input.rest()?;
    // A 16-byte nonce, then chunks of 64 KiB + 16; the last one holds 0 to 64 KiB and its
    // tag (0 only when the whole plaintext is empty).
    if payload < 16 + 16 {
        return broken(
            input.pos,
            format!(
                "the age payload of {payload} bytes cannot hold its nonce and one chunk (file cut)"
            ),
        );
    }
    let chunks = payload - 16;
    let last = match chunks % AGE_CHUNK {
        0 => AGE_CHUNK,
        n => n,
    };
    if last < 16 || (last == 16 && chunks > AGE_CHUNK) {
        return broken(
            input.pos,
            format!("the age payload ends with a chunk of {last} bytes, too short for its tag and data (file cut, or bytes appended)"),
        );
    }
    let count = chunks.div_ceil(AGE_CHUNK);
    facts.cipher = "ChaCha20-Poly1305".into();
    facts.verified = format!(
        "the header ({stanzas} recipient stanza(s), MAC line) and a payload of {count} chunk(s) whose sizes add up, starting at offset {start}"
    );
    // Without the identity the last chunk's length is all there is: any length from its tag
    // plus one byte to a full chunk is valid.
    facts.blind_spot = "without the identity, bytes cut from or appended to the payload go unseen unless they leave a final chunk too short for its tag".into();
    Ok(())
}

// ---------------------------------------------------------------------------------------
// openssl enc

fn openssl<B: BufRead>(input: &mut Pos<B>, facts: &mut EncryptedFacts) -> Walk<()> {
    let mut head = Vec::with_capacity(16);
    input.skip(16, &mut head, "the Salted__ header", 0)?;
    let data = input.rest()?;
    facts.integrity = false;
    facts.cipher = "a 16-byte block cipher such as AES-CBC assumed".into();
    if data == 0 {
        // Even an empty dump encrypts into one padded block (CBC); CTR of nothing is an
        // empty dump: broken either way.
        return broken(input.pos, "no ciphertext after the salt");
    }
    facts.blind_spot =
        "openssl enc carries no integrity protection: a cut on a block boundary or a changed byte passes unseen"
            .into();
    if data % 16 != 0 {
        // A block cipher (CBC, what automysqlbackup and autopostgresqlbackup use) writes
        // whole blocks only; a stream cipher (-aes-256-ctr, -chacha20) any length. Without
        // the key the two cannot be told apart: not OK, not CRITICAL every night either.
        facts.cipher = "cipher unknown".into();
        facts.verified = format!("the Salted__ header and {data} bytes of ciphertext");
        facts.doubt = Some(format!(
            "{data} bytes of ciphertext, not whole 16-byte blocks: cut or extended if written with a block cipher (-aes-256-cbc), whole if with a stream cipher (-aes-256-ctr, -chacha20); cannot be told without the key"
        ));
        return Ok(());
    }
    facts.verified = format!(
        "the Salted__ header and {} whole 16-byte cipher blocks",
        data / 16
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------
// CMS / S-MIME enveloped data (DER, or BER with indefinite lengths)

/// Nesting deeper than this is not CMS as the tools write it.
const MAX_DEPTH: usize = 64;

struct Tlv {
    start: u64,
    tag: u8,
    constructed: bool,
    /// None: indefinite.
    length: Option<u64>,
}

fn tlv<B: BufRead>(input: &mut Pos<B>) -> Walk<Option<Tlv>> {
    let start = input.pos;
    let Some(tag) = input.byte()? else {
        return Ok(None);
    };
    if tag & 0x1f == 0x1f {
        // A multi-byte tag number.
        loop {
            if input.need("an ASN.1 tag")? & 0x80 == 0 {
                break;
            }
        }
    }
    let first = input.need("an ASN.1 length")?;
    let length = match first {
        0..=0x7f => Some(u64::from(first)),
        0x80 => None,
        0x81..=0x88 => {
            let mut n = 0u64;
            for _ in 0..(first & 0x7f) {
                n = (n << 8) | u64::from(input.need("an ASN.1 length")?);
            }
            Some(n)
        }
        _ => return broken(start, format!("invalid ASN.1 length byte 0x{first:02x}")),
    };
    let constructed = tag & 0x20 != 0;
    if length.is_none() && !constructed {
        return broken(start, "indefinite length on a primitive ASN.1 element");
    }
    Ok(Some(Tlv {
        start,
        tag,
        constructed,
        length,
    }))
}

/// What the CMS walk learns on its way: the recipients (issuer and serial number, or
/// subject key identifier, of each key-transport recipient).
#[derive(Default)]
struct CmsSeen {
    /// Children of the recipientInfos SET.
    recipients: Option<usize>,
    /// (tag, index among its siblings) of the elements from the root to the current one.
    path: Vec<(u8, usize)>,
    /// The recipient being read: its issuer's attributes so far, its serial number.
    issuer: Vec<String>,
    pending_attribute: Option<String>,
    serial: Option<String>,
    /// The recipients read, as `CN=...,O=... serial 0A1B...` or `subject key id ...`.
    ids: Vec<String>,
}

/// At most this many recipients are kept (memory stays bounded whatever the file says).
const CMS_NAMED_RECIPIENTS: usize = 64;

impl CmsSeen {
    /// Where the current element is, below a key-transport RecipientInfo (contentInfo >
    /// [0] > EnvelopedData > recipientInfos SET > KeyTransRecipientInfo): the rest of the
    /// path, or None outside one.
    fn below_recipient(&self) -> Option<&[(u8, usize)]> {
        let p = &self.path;
        (p.len() >= 5 && p[1].0 == 0xa0 && p[3].0 == 0x31 && p[4].0 == 0x30).then(|| &p[5..])
    }

    /// A primitive element with `value` (its first bytes) at the current path.
    fn primitive(&mut self, value: &[u8]) {
        let Some(rest) = self.below_recipient() else {
            return;
        };
        match rest {
            // rid: IssuerAndSerialNumber > serialNumber
            [(0x30, 1), (0x02, 1)] => self.serial = Some(hex_upper(strip_zeros(value))),
            // rid: [0] SubjectKeyIdentifier
            [(0x80, 1)] if self.ids.len() < CMS_NAMED_RECIPIENTS => {
                self.ids
                    .push(format!("subject key id {}", hex_upper(value)));
            }
            // issuer Name > RDN SET > AttributeTypeAndValue > type, value
            [(0x30, 1), (0x30, 0), (0x31, _), (0x30, _), (0x06, 0)] => {
                self.pending_attribute = Some(attribute_name(value));
            }
            [(0x30, 1), (0x30, 0), (0x31, _), (0x30, _), (_, 1)] => {
                let name = self.pending_attribute.take().unwrap_or_else(|| "?".into());
                let text: String = String::from_utf8_lossy(value)
                    .chars()
                    .filter(|c| !c.is_control())
                    .take(64)
                    .collect();
                if self.issuer.len() < 16 {
                    self.issuer.push(format!("{name}={text}"));
                }
            }
            _ => {}
        }
    }

    /// The end of a constructed element at the current path.
    fn end(&mut self) {
        if self.below_recipient() == Some(&[][..]) {
            // A whole KeyTransRecipientInfo: name it.
            if let Some(serial) = self.serial.take() {
                let issuer = std::mem::take(&mut self.issuer).join(",");
                if self.ids.len() < CMS_NAMED_RECIPIENTS {
                    self.ids.push(format!("{issuer} serial {serial}"));
                }
            }
            self.issuer.clear();
        }
    }
}

fn strip_zeros(v: &[u8]) -> &[u8] {
    let first = v
        .iter()
        .position(|&b| b != 0)
        .unwrap_or(v.len().saturating_sub(1));
    &v[first..]
}

fn hex_upper(v: &[u8]) -> String {
    v.iter().take(32).map(|b| format!("{b:02X}")).collect()
}

/// The short name of an X.500 attribute type (its DER-encoded OID), or its dotted form.
fn attribute_name(oid: &[u8]) -> String {
    match oid {
        [0x55, 0x04, 0x03] => "CN".into(),
        [0x55, 0x04, 0x06] => "C".into(),
        [0x55, 0x04, 0x07] => "L".into(),
        [0x55, 0x04, 0x08] => "ST".into(),
        [0x55, 0x04, 0x0a] => "O".into(),
        [0x55, 0x04, 0x0b] => "OU".into(),
        [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x01] => "emailAddress".into(),
        _ => {
            // Dotted: the first byte holds two arcs, the rest base-128 groups.
            let mut arcs = Vec::new();
            let mut n: u64 = 0;
            for (i, &b) in oid.iter().enumerate() {
                if i == 0 {
                    arcs.push(u64::from(b / 40).min(2));
                    arcs.push(u64::from(b) - 40 * arcs[0]);
                    continue;
                }
                n = (n << 7) | u64::from(b & 0x7f);
                if b & 0x80 == 0 {
                    arcs.push(n);
                    n = 0;
                }
            }
            arcs.iter()
                .map(|a| a.to_string())
                .collect::<Vec<_>>()
                .join(".")
        }
    }
}

/// Walks the contents of `element` (its header already read), descending into constructed
/// elements so that every nested length is checked against its parent's.
fn element<B: BufRead>(input: &mut Pos<B>, el: &Tlv, depth: usize, seen: &mut CmsSeen) -> Walk<()> {
    if depth > MAX_DEPTH {
        return broken(el.start, "ASN.1 nesting too deep");
    }
    if !el.constructed {
        let n = el.length.unwrap_or(0);
        // Small values below a recipient are kept (names, serial numbers); the rest,
        // the encrypted content above all, only skipped.
        let mut keep = if seen.below_recipient().is_some() && n <= 256 {
            Vec::with_capacity(n as usize)
        } else {
            Vec::new()
        };
        input.skip(n, &mut keep, "an ASN.1 element", el.start)?;
        if !keep.is_empty() {
            seen.primitive(&keep);
        }
        return Ok(());
    }
    let end = el.length.map(|n| input.pos + n);
    let mut children = 0;
    loop {
        if let Some(end) = end {
            if input.pos == end {
                break;
            }
        }
        let Some(child) = tlv(input)? else {
            return broken(
                input.pos,
                match end {
                    Some(end) => format!(
                        "file cut inside the ASN.1 element at offset {}: it announces its end at offset {end}",
                        el.start
                    ),
                    None => format!(
                        "file cut inside the indefinite-length ASN.1 element at offset {}: no end-of-contents octets",
                        el.start
                    ),
                },
            );
        };
        if end.is_none() && child.tag == 0 && child.length == Some(0) {
            break;
        }
        seen.path.push((child.tag, children));
        element(input, &child, depth + 1, seen)?;
        if child.constructed {
            seen.end();
        }
        seen.path.pop();
        children += 1;
        if let Some(end) = end {
            if input.pos > end {
                return broken(
                    child.start,
                    format!(
                        "ASN.1 element at offset {} runs past the end of its parent (offset {end})",
                        child.start
                    ),
                );
            }
        }
    }
    // contentInfo SEQUENCE > [0] > EnvelopedData SEQUENCE > recipientInfos SET
    if depth == 3 && el.tag == 0x31 && seen.recipients.is_none() {
        seen.recipients = Some(children);
    }
    Ok(())
}

fn cms<B: BufRead>(input: &mut Pos<B>, facts: &mut EncryptedFacts) -> Walk<()> {
    let Some(outer) = tlv(input)? else {
        return broken(0, "empty");
    };
    if outer.tag != 0x30 {
        return broken(0, "not an ASN.1 SEQUENCE");
    }
    let mut seen = CmsSeen {
        path: vec![(outer.tag, 0)],
        ..CmsSeen::default()
    };
    element(input, &outer, 0, &mut seen)?;
    let end = input.pos;
    if !input.at_eof()? {
        let extra = input.rest()?;
        return broken(
            end,
            format!("{extra} bytes of garbage after the end of the CMS structure"),
        );
    }
    let n = seen.recipients.unwrap_or(0);
    facts.recipients = if seen.ids.is_empty() {
        vec![format!("{n} recipient(s)")]
    } else {
        seen.ids
    };
    facts.cipher = "enveloped data".into();
    facts.verified = format!(
        "every ASN.1 length of the enveloped data ({}), ending exactly at the end of the file",
        if outer.length.is_some() {
            "definite lengths"
        } else {
            "indefinite lengths closed by their end-of-contents octets"
        }
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn walk_bytes(bytes: &[u8]) -> EncryptedFacts {
        let enc = detect(bytes).expect("detected");
        walk(enc, bytes).unwrap()
    }

    /// A public-key session-key packet (v3, key ID 0102030405060708) and a SEIPD packet
    /// of `body` bytes, in new-format headers.
    fn pgp_message(body: usize) -> Vec<u8> {
        let mut m = vec![0xc1, 12, 3, 1, 2, 3, 4, 5, 6, 7, 8, 1, 0, 0];
        m.extend_from_slice(&[0xd2, body as u8, 1]);
        m.extend(std::iter::repeat_n(0xaa, body - 1));
        m
    }

    #[test]
    fn detects_formats_by_magic() {
        assert_eq!(detect(&pgp_message(40)), Some(Encryption::OpenPgp));
        assert_eq!(detect(b"Salted__12345678"), Some(Encryption::OpensslEnc));
        assert_eq!(
            detect(b"age-encryption.org/v1\n-> X"),
            Some(Encryption::Age)
        );
        assert_eq!(detect(b"-- MySQL dump"), None);
        assert_eq!(detect(&[0x1f, 0x8b, 8, 0]), None);
        assert_eq!(detect(&[0xfd, b'7', b'z', b'X', b'Z', 0]), None);
    }

    #[test]
    fn pgp_whole_cut_and_garbage() {
        let whole = pgp_message(40);
        let facts = walk_bytes(&whole);
        assert_eq!(facts.problem, None, "{facts:?}");
        assert_eq!(facts.recipients, ["0102030405060708"]);
        for cut in [3, 14, 15, 16, 30, whole.len() - 1] {
            let facts = walk_bytes(&whole[..cut]);
            assert!(facts.problem.is_some(), "cut at {cut}: {facts:?}");
        }
        let mut longer = whole.clone();
        longer.push(0);
        let facts = walk_bytes(&longer);
        assert_eq!(facts.offset, Some(whole.len() as u64));
    }

    #[test]
    fn pgp_partial_lengths() {
        // A SEIPD packet of a 512-byte partial part and a final part of 40 bytes.
        let mut m = vec![0xc1, 12, 3, 1, 2, 3, 4, 5, 6, 7, 8, 1, 0, 0];
        m.extend_from_slice(&[0xd2, 0xe9, 1]);
        m.extend(std::iter::repeat_n(0xaa, 511));
        m.push(40);
        m.extend(std::iter::repeat_n(0xbb, 40));
        assert_eq!(walk_bytes(&m).problem, None);
        assert!(walk_bytes(&m[..m.len() - 41]).problem.is_some());
    }

    #[test]
    fn crc24_of_known_data() {
        // RFC 4880's initial value over nothing, and a value gpg writes for "abc".
        assert_eq!(crc24(0xb704ce, b""), 0xb704ce);
        assert_ne!(crc24(0xb704ce, b"abc"), crc24(0xb704ce, b"abd"));
    }

    #[test]
    fn openssl_block_arithmetic() {
        let mut f = b"Salted__12345678".to_vec();
        f.extend([0u8; 32]);
        let whole = walk_bytes(&f);
        assert_eq!((whole.problem, whole.doubt), (None, None));
        // Not whole blocks: a stream cipher's file or a cut block cipher's one: a doubt.
        let odd = walk_bytes(&f[..f.len() - 1]);
        assert_eq!(odd.problem, None);
        assert!(odd
            .doubt
            .unwrap()
            .starts_with("31 bytes of ciphertext, not whole 16-byte blocks"));
        assert!(walk_bytes(&f[..16]).problem.is_some());
        assert!(walk_bytes(&f[..12]).problem.is_some());
    }

    #[test]
    fn x500_attribute_names() {
        assert_eq!(attribute_name(&[0x55, 0x04, 0x03]), "CN");
        // 1.2.840.113549.1.9.2 (unstructuredName): not in the short list, dotted.
        assert_eq!(
            attribute_name(&[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x02]),
            "1.2.840.113549.1.9.2"
        );
        assert_eq!(hex_upper(strip_zeros(&[0, 0, 0x0a, 0xff])), "0AFF");
        assert_eq!(hex_upper(strip_zeros(&[0])), "00");
    }

    #[test]
    fn cms_lengths() {
        let mut f = vec![0x30, 0x0f];
        f.extend_from_slice(&ENVELOPED_DATA_OID);
        f.extend_from_slice(&[0xa0, 0x02, 0x05, 0x00]);
        assert_eq!(walk_bytes(&f).problem, None, "{:?}", walk_bytes(&f));
        assert!(walk_bytes(&f[..f.len() - 1]).problem.is_some());
        let mut longer = f.clone();
        longer.push(0);
        assert!(walk_bytes(&longer).problem.is_some());
        // Indefinite: needs its end-of-contents octets.
        let mut b = vec![0x30, 0x80];
        b.extend_from_slice(&ENVELOPED_DATA_OID);
        b.extend_from_slice(&[0xa0, 0x80, 0x05, 0x00, 0, 0, 0, 0]);
        assert_eq!(walk_bytes(&b).problem, None);
        assert!(walk_bytes(&b[..b.len() - 2]).problem.is_some());
    }
}
