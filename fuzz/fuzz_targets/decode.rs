//! Decoder + writer detection + completion-marker scan + content evaluation.
//!
//! Input layout: byte 0 picks the mode (low 3 bits: 1 gzip, 2 zstd, 3 xz, 4 bzip2 compress
//! the payload here first; anything else uses the payload as the file itself), the damage
//! (bits 3-4: none, cut, bit flip, appended junk) and the marker choice (bits 5-7); bytes
//! 1-2 place the damage; the rest is the payload. Compressing in the target lets the
//! fuzzer explore dump *text* (headers, trailers, line ends) behind valid streams, and the
//! damage explores broken streams around them.
//!
//! Invariants (beyond "does not crash"):
//! - reading an in-memory file never fails (no I/O error can happen);
//! - a stream reported whole (`problem == None`) decodes with the reference multi-member
//!   decoders to exactly as many bytes, and the kept head and tail are its ends;
//! - a freshly compressed payload is always whole and decodes to the payload; and its
//!   content verdict equals that of the same payload stored plain;
//! - OK is never given to a broken stream, to an empty decode, or to a dump whose decoded
//!   text (judged whole, independently) lacks the writer's completion marker;
//! - an encrypted file (OpenPGP, age, openssl enc, CMS: seeds from
//!   tests/fixtures/real/encrypted) is never OK without the key by default; a broken
//!   structure is CRITICAL even with `--encrypted-without-key ok`;
//! - a problem's offsets lie within the file; every message is safe for output.

#![no_main]

mod common;

use std::io::{Cursor, Read, Write};
use std::sync::atomic::AtomicU64;
use std::sync::OnceLock;

use check_backup::decode::{HEAD_BYTES, TAIL_BYTES};
use check_backup::facts::{Compression, MarkerVerdict, StreamProblem, Writer};
use check_backup::formats::{
    self,
    writer::{MarkerChoice, MarkerRule},
};
use check_backup::judge::encrypted::{Policy, Rules};
use check_backup::judge::{dump as evaluate, Facts, State};
use common::*;
use libfuzzer_sys::fuzz_target;

/// Reference decodes larger than this are not compared (a tiny input can expand a lot).
const REFERENCE_LIMIT: u64 = 32 << 20;

fn custom_regex() -> &'static regex::Regex {
    static RE: OnceLock<regex::Regex> = OnceLock::new();
    RE.get_or_init(|| regex::Regex::new("^-- backup (done|finished)").unwrap())
}

fn choice(bits: u8) -> MarkerChoice {
    match bits {
        0..=2 => MarkerChoice::Auto,
        3 => MarkerChoice::None,
        4 => MarkerChoice::Rule(MarkerRule::Mysqldump),
        5 => MarkerChoice::Rule(MarkerRule::PgDump),
        6 => MarkerChoice::Rule(MarkerRule::PgDumpall),
        _ => MarkerChoice::Rule(MarkerRule::Regex(custom_regex().clone())),
    }
}

fn compress(kind: Compression, data: &[u8]) -> Vec<u8> {
    match kind {
        Compression::Gzip => {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(data).unwrap();
            e.finish().unwrap()
        }
        Compression::Zstd => {
            let mut e = zstd::stream::write::Encoder::new(Vec::new(), 1).unwrap();
            e.include_checksum(true).unwrap();
            e.write_all(data).unwrap();
            e.finish().unwrap()
        }
        Compression::Xz => {
            let mut e = liblzma::write::XzEncoder::new(Vec::new(), 0);
            e.write_all(data).unwrap();
            e.finish().unwrap()
        }
        Compression::Bzip2 => {
            let mut e = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
            e.write_all(data).unwrap();
            e.finish().unwrap()
        }
        _ => data.to_vec(),
    }
}

/// The whole decoded content as the reference decoders read it (all members), or None if
/// they refuse it; Some(None) when it is too large to compare.
fn reference_decode(kind: Compression, bytes: &[u8]) -> Option<Option<Vec<u8>>> {
    let mut out = Vec::new();
    let limit = REFERENCE_LIMIT + 1;
    let ok = match kind {
        Compression::Gzip => flate2::read::MultiGzDecoder::new(bytes)
            .take(limit)
            .read_to_end(&mut out)
            .is_ok(),
        Compression::Zstd => {
            let mut d = zstd::stream::read::Decoder::new(bytes).ok()?;
            d.window_log_max(31).ok()?;
            d.take(limit).read_to_end(&mut out).is_ok()
        }
        Compression::Xz => liblzma::read::XzDecoder::new_multi_decoder(bytes)
            .take(limit)
            .read_to_end(&mut out)
            .is_ok(),
        Compression::Bzip2 => bzip2::read::MultiBzDecoder::new(bytes)
            .take(limit)
            .read_to_end(&mut out)
            .is_ok(),
        _ => return Some(Some(bytes.to_vec())),
    };
    if out.len() as u64 > REFERENCE_LIMIT {
        return Some(None);
    }
    ok.then_some(Some(out))
}

/// Independent judgement of a whole decoded text: is the completion marker of `rule` where
/// its tool puts it? `head` is what the writer is told from (the first HEAD_BYTES).
fn oracle_complete(rule: &MarkerRule, text: &[u8]) -> bool {
    let head = &text[..text.len().min(HEAD_BYTES)];
    let segments: Vec<&[u8]> = text.split(|&b| b == b'\n').collect();
    let last_segment_blank = trim_end(segments.last().copied().unwrap_or(b"")).is_empty();
    let mut nonblank = segments
        .iter()
        .rev()
        .map(|l| trim_end(l))
        .filter(|l| !l.is_empty());
    match rule {
        MarkerRule::Regex(re) => nonblank
            .next()
            .is_some_and(|l| re.is_match(&String::from_utf8_lossy(l))),
        _ if !last_segment_blank => false,
        MarkerRule::Mysqldump => nonblank.next().is_some_and(|l| {
            l.strip_prefix(b"-- Dump completed")
                .is_some_and(|rest| rest.is_empty() || rest.starts_with(b" on "))
        }),
        MarkerRule::PgDump | MarkerRule::PgDumpall => {
            let trailer: &[u8] = if matches!(rule, MarkerRule::PgDump) {
                b"-- PostgreSQL database dump complete"
            } else {
                b"-- PostgreSQL database cluster dump complete"
            };
            let restricted = matches!(rule, MarkerRule::PgDump)
                && head
                    .split(|&b| b == b'\n')
                    .take(20)
                    .any(|l| trim_end(l).starts_with(b"\\restrict "));
            let mut unrestricted = false;
            for line in nonblank.take(8) {
                if line == b"--" {
                    continue;
                }
                if line.starts_with(b"\\unrestrict ") {
                    unrestricted = true;
                    continue;
                }
                return line == trailer && (unrestricted || !restricted);
            }
            false
        }
    }
}

/// The writer a whole text's head names (first 4 lines that are neither blank nor `--`).
fn oracle_writer(text: &[u8]) -> Writer {
    let head = &text[..text.len().min(HEAD_BYTES)];
    if head.starts_with(b"PGDMP") {
        return Writer::PgCustom;
    }
    for line in head
        .split(|&b| b == b'\n')
        .map(trim_end)
        .filter(|l| !l.is_empty() && *l != b"--")
        .take(4)
    {
        if line.starts_with(b"-- MySQL dump") || line.starts_with(b"-- MariaDB dump") {
            return Writer::Mysqldump;
        }
        if line == b"-- PostgreSQL database cluster dump" {
            return Writer::PgDumpall;
        }
        if line == b"-- PostgreSQL database dump" {
            return Writer::PgDump;
        }
    }
    Writer::Unknown
}

fn verify(bytes: &[u8]) -> check_backup::facts::StreamFacts {
    check_backup::acquire::content::read(Cursor::new(bytes), bytes.len() as u64, &AtomicU64::new(0))
        .expect("an in-memory file never fails to read")
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 3 {
        let facts = verify(data);
        assert!(facts.problem.is_none() || facts.compression != Compression::Plain);
        return;
    }
    let (mode, damage, marker) = (data[0] & 7, (data[0] >> 3) & 3, data[0] >> 5);
    let at = u16::from_le_bytes([data[1], data[2]]) as usize;
    let payload = &data[3..];
    let made_by = match mode {
        1 => Some(Compression::Gzip),
        2 => Some(Compression::Zstd),
        3 => Some(Compression::Xz),
        4 => Some(Compression::Bzip2),
        _ => None,
    };
    let mut file = match made_by {
        Some(kind) => compress(kind, payload),
        None => payload.to_vec(),
    };
    match damage {
        1 if !file.is_empty() => file.truncate(at % file.len()),
        2 if !file.is_empty() => {
            let n = file.len();
            file[at % n] ^= 1 << (at >> 13);
        }
        3 => file.extend_from_slice(&data[1..3]),
        _ => {}
    }
    // Every damage changes a compressed file (it is never empty).
    let undamaged = damage == 0;
    let choice = choice(marker);

    let facts = verify(&file);
    let size = file.len() as u64;
    // Plain files are sampled at both ends (the two reads overlap on a small file).
    assert!(facts.compressed_read <= 2 * size);
    match &facts.problem {
        Some(StreamProblem::Truncated { at }) => assert_eq!(*at, size),
        Some(StreamProblem::Corrupt { near, .. }) => assert!(*near <= size),
        Some(StreamProblem::TrailingData { at, bytes }) => {
            assert!(
                *at < size && *bytes > 0 && at + bytes == size,
                "{at} + {bytes} != {size}"
            )
        }
        None => {}
    }
    if let (Some(kind), true) = (made_by, undamaged) {
        assert_eq!(
            facts.compression, kind,
            "fresh {kind} detected as {}",
            facts.compression
        );
        assert_eq!(facts.problem, None, "fresh {kind} stream reported broken");
        assert_eq!(facts.uncompressed_size, payload.len() as u64);
    }

    // A whole stream must be what the reference decoders read, and the samples its ends.
    let mut whole_text = None;
    if facts.problem.is_none() && !matches!(facts.compression, Compression::Unsupported(_)) {
        match reference_decode(facts.compression, &file) {
            None => panic!(
                "{} stream accepted as whole but the reference decoder refuses it",
                facts.compression
            ),
            Some(None) => {}
            Some(Some(text)) => {
                assert_eq!(
                    facts.uncompressed_size,
                    text.len() as u64,
                    "decoded sizes differ"
                );
                assert!(
                    text.starts_with(&facts.sample.head),
                    "head is not the start"
                );
                assert_eq!(facts.sample.head.len(), text.len().min(HEAD_BYTES));
                assert!(text.ends_with(&facts.sample.tail), "tail is not the end");
                assert!(facts.sample.tail.len() >= text.len().min(TAIL_BYTES));
                assert_eq!(
                    facts.sample.tail_is_whole,
                    facts.sample.tail.len() == text.len()
                );
                whole_text = Some(text);
            }
        }
    }

    let content = formats::interpret(&facts, &choice);
    let mut out = Facts::default();
    let (findings, perf) = evaluate::evaluate_content(&content, size, &mut out);
    assert_findings_safe(&findings);
    let state = worst(&findings);
    if facts.problem.is_some() {
        assert_eq!(state, State::Critical, "broken stream judged {state}");
        assert!(perf.is_none() && out.uncompressed_bytes.is_none());
    }
    if facts.uncompressed_size == 0 && size > 0 && facts.problem.is_none() {
        assert!(state != State::Ok, "empty decode judged OK");
    }
    if matches!(facts.compression, Compression::Unsupported(_)) {
        assert_eq!(state, State::Warning);
    }
    // An encrypted file (walked without the key): never OK by default, whatever its
    // structure; a broken structure is CRITICAL even for an operator who accepts keyless
    // verdicts, at an offset within the file.
    if let Some(enc) = &facts.encrypted {
        assert_eq!(enc.problem.is_some(), enc.offset.is_some(), "{enc:?}");
        assert!(enc.offset.is_none_or(|o| o <= size), "offset beyond the file");
        assert!(state != State::Ok, "encrypted file judged OK without the key");
        let accepted = Rules {
            without_key: Policy::Ok,
            recipients: Vec::new(),
        };
        let (findings, _) =
            evaluate::evaluate_content_with(&content, size, &accepted, &mut Facts::default());
        assert_findings_safe(&findings);
        let accepted_state = worst(&findings);
        if enc.problem.is_some() {
            assert_eq!(state, State::Critical, "broken encrypted structure judged {state}");
            assert_eq!(accepted_state, State::Critical);
        } else if enc.doubt.is_some() {
            assert_eq!(accepted_state, State::Warning, "a doubt judged {accepted_state}");
        } else {
            assert_eq!(accepted_state, State::Ok, "whole structure not OK once accepted");
        }
    }
    if state == State::Ok {
        assert!(facts.problem.is_none());
        assert!(facts.uncompressed_size > 0 || size == 0);
    }
    // The marker verdict agrees with an independent reading of the whole text.
    if let Some(text) = &whole_text {
        assert_eq!(content.writer, oracle_writer(text), "writer");
        let rule = match &choice {
            MarkerChoice::None => None,
            MarkerChoice::Rule(rule) => Some(rule.clone()),
            MarkerChoice::Auto => MarkerRule::for_writer(content.writer),
        };
        if let Some(rule) = rule {
            let found = matches!(content.marker, MarkerVerdict::Found { .. });
            let complete = oracle_complete(&rule, text);
            // Never a marker the text lacks; and when the tail held the whole text, the
            // sample-based scan must see exactly what the whole text shows.
            assert!(
                !found || complete,
                "marker found but the whole text lacks it"
            );
            if facts.sample.tail_is_whole {
                assert_eq!(found, complete, "marker missed in a fully sampled text");
            }
        }
        if state == State::Ok && !matches!(choice, MarkerChoice::None) {
            assert!(
                matches!(content.marker, MarkerVerdict::Found { .. }),
                "OK without a marker: {:?}",
                content.marker
            );
        }
    }
    // Compression is transparent: a fresh stream's verdict is that of the same text stored
    // plain (when the plain text is not itself mistaken for a compressed file).
    if let (Some(_), true) = (made_by, undamaged) {
        if payload.len() <= 256 * 1024
            && check_backup::decode::detect(payload) == Compression::Plain
            && payload.len() >= 6
        {
            let plain = formats::interpret(&verify(payload), &choice);
            assert_eq!(content.writer, plain.writer);
            assert_eq!(
                content.marker, plain.marker,
                "marker verdict depends on compression"
            );
        }
    }
});
