//! Property tests for the first promise: never a false OK. For generated dumps of each
//! writer in each compression, cutting the file anywhere, flipping any bit, or appending
//! junk never yields OK — except where the format itself cannot tell (listed in
//! `harmless`, and in README "Reliability").
//!
//! Failing cases proptest finds are kept in `no_false_ok.proptest-regressions` beside this
//! file and replayed first. `PROPTEST_CASES=N` runs N cases per property instead of 300.

use crate::api::{check_state, State};
use crate::util::*;
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;
use std::path::Path;

#[derive(Debug, Clone, Copy)]
enum Writer {
    Mysqldump,
    PgDump,
    PgDumpall,
}

fn dump(writer: Writer, rows: usize) -> Vec<u8> {
    match writer {
        Writer::Mysqldump => mysqldump(rows, true),
        Writer::PgDump => pg_dump(rows, true),
        Writer::PgDumpall => {
            let mut s = b"--\n-- PostgreSQL database cluster dump\n--\n\n\\connect shop\n".to_vec();
            let db = pg_dump(rows, true);
            s.extend_from_slice(&db);
            s.extend_from_slice(b"--\n-- PostgreSQL database cluster dump complete\n--\n\n");
            s
        }
    }
}

const KINDS: [&str; 5] = ["plain", "gz", "zst", "xz", "bz2"];

fn compress(kind: &str, data: &[u8]) -> Vec<u8> {
    if kind == "plain" {
        return data.to_vec();
    }
    let (_, compressor) = COMPRESSORS.iter().find(|(s, _)| *s == kind).unwrap();
    compressor(data)
}

/// The dump as the compressor crates' own decoders read it back, or None if they refuse.
fn reference_decode(kind: &str, bytes: &[u8]) -> Option<Vec<u8>> {
    use std::io::Read;
    let mut out = Vec::new();
    let ok = match kind {
        "gz" => flate2::read::MultiGzDecoder::new(bytes)
            .read_to_end(&mut out)
            .is_ok(),
        "zst" => zstd::stream::read::Decoder::new(bytes)
            .ok()?
            .read_to_end(&mut out)
            .is_ok(),
        "xz" => liblzma::read::XzDecoder::new_multi_decoder(bytes)
            .read_to_end(&mut out)
            .is_ok(),
        "bz2" => bzip2::read::MultiBzDecoder::new(bytes)
            .read_to_end(&mut out)
            .is_ok(),
        _ => false,
    };
    ok.then_some(out)
}

/// Runs the real check in-process (no cache, no settle: the file is judged as it is).
fn state_of(path: &Path) -> State {
    check_state(&[
        "-f",
        path.to_str().unwrap(),
        "--no-cache",
        "--settle",
        "0",
        "-t",
        "0",
    ])
}

fn write(dir: &Path, bytes: &[u8]) -> std::path::PathBuf {
    write_aged(dir, "dump", bytes, HOUR)
}

/// Where the body of a plain dump of `writer` lies: after the header (up to the end of
/// the line that names the writer) and before the trailer (the completion marker line,
/// from the newline before it, and what follows it).
fn body(writer: Writer, data: &[u8]) -> std::ops::Range<usize> {
    let find = |needle: &str| {
        data.windows(needle.len())
            .position(|w| w == needle.as_bytes())
    };
    let rfind = |needle: &str| {
        data.windows(needle.len())
            .rposition(|w| w == needle.as_bytes())
    };
    let (header, marker) = match writer {
        Writer::Mysqldump => ("-- MariaDB dump", "-- Dump completed"),
        Writer::PgDump => (PG_DUMP_HEADER, PG_DUMP_MARKER),
        Writer::PgDumpall => (PG_DUMPALL_HEADER, PG_DUMPALL_MARKER),
    };
    let header = find(&format!("\n{header}")).unwrap() + 1;
    let header_end = header + data[header..].iter().position(|&b| b == b'\n').unwrap() + 1;
    header_end..rfind(marker).unwrap() - 1
}

const PG_DUMP_HEADER: &str = "-- PostgreSQL database dump";
const PG_DUMP_MARKER: &str = "-- PostgreSQL database dump complete";
const PG_DUMPALL_HEADER: &str = "-- PostgreSQL database cluster dump";
const PG_DUMPALL_MARKER: &str = "-- PostgreSQL database cluster dump complete";

/// Whether a plain dump still names `writer` in its header and still ends with that
/// writer's completion marker, by the whole-line rules of the formats (lines compared
/// without trailing whitespace): of the first four lines other than blank and `--`, the
/// first that names a writer names this one; the file ends with a newline; mysqldump's
/// last line is `-- Dump completed` (optionally ` on DATE`); pg_dump's marker line is
/// followed only by `--` and `\unrestrict KEY` lines, the latter required when the dump
/// began with `\restrict KEY`.
fn still_a_whole_dump(writer: Writer, bytes: &[u8]) -> bool {
    let trim = |line: &[u8]| {
        let end = line
            .iter()
            .rposition(|b| !b.is_ascii_whitespace())
            .map_or(0, |p| p + 1);
        line[..end].to_vec()
    };
    let lines: Vec<Vec<u8>> = bytes.split(|&b| b == b'\n').map(trim).collect();
    let named = lines
        .iter()
        .filter(|l| !l.is_empty() && l.as_slice() != b"--")
        .take(4)
        .find_map(|l| {
            if l.starts_with(b"-- MySQL dump") || l.starts_with(b"-- MariaDB dump") {
                Some("mysqldump")
            } else if l.as_slice() == PG_DUMPALL_HEADER.as_bytes() {
                Some("pg_dumpall")
            } else if l.as_slice() == PG_DUMP_HEADER.as_bytes() {
                Some("pg_dump")
            } else {
                None
            }
        });
    let wanted = match writer {
        Writer::Mysqldump => "mysqldump",
        Writer::PgDump => "pg_dump",
        Writer::PgDumpall => "pg_dumpall",
    };
    if named != Some(wanted) || !lines.last().is_some_and(|l| l.is_empty()) {
        return false;
    }
    let mut last = lines.iter().rev().filter(|l| !l.is_empty());
    match writer {
        Writer::Mysqldump => last.next().is_some_and(|l| {
            l.strip_prefix(b"-- Dump completed")
                .is_some_and(|rest| rest.is_empty() || rest.starts_with(b" on "))
        }),
        Writer::PgDump | Writer::PgDumpall => {
            let marker = match writer {
                Writer::PgDump => PG_DUMP_MARKER,
                _ => PG_DUMPALL_MARKER,
            };
            let mut unrestricted = false;
            let found = last.take(8).find(|l| {
                let unrestrict = l.starts_with(b"\\unrestrict ");
                unrestricted |= unrestrict;
                !unrestrict && l.as_slice() != b"--"
            });
            let restricted = lines.iter().take(20).any(|l| l.starts_with(b"\\restrict "));
            let needs_unrestrict = matches!(writer, Writer::PgDump) && restricted;
            found.is_some_and(|l| l.as_slice() == marker.as_bytes())
                && (unrestricted || !needs_unrestrict)
        }
    }
}

/// 300 cases per property, or `PROPTEST_CASES`.
fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(300)
}

fn writer() -> impl Strategy<Value = Writer> {
    prop_oneof![
        Just(Writer::Mysqldump),
        Just(Writer::PgDump),
        Just(Writer::PgDumpall)
    ]
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: cases(),
        // Beside this file, whatever its module path (the default looks for a main.rs).
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource("proptest-regressions"))),
        ..ProptestConfig::default()
    })]

    #[test]
    fn complete_dumps_are_ok(w in writer(), kind in 0..5usize, rows in 1..400usize) {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), &compress(KINDS[kind], &dump(w, rows)));
        prop_assert_eq!(state_of(&path), State::Ok);
    }

    #[test]
    fn cut_dumps_are_never_ok(w in writer(), kind in 0..5usize, rows in 1..400usize, at in 0.0..1.0f64) {
        let dir = tempfile::tempdir().unwrap();
        let data = dump(w, rows);
        let full = compress(KINDS[kind], &data);
        let cut = ((full.len() as f64) * at) as usize; // strictly shorter than the file
        let path = write(dir.path(), &full[..cut]);
        let state = state_of(&path);
        // Plain text: cutting only what follows the marker line — blank lines, and the `--`
        // comment lines pg_dump and pg_dumpall write after theirs — loses nothing (the marker
        // rule skips `--` lines; an `\unrestrict` line is text and required).
        let harmless = KINDS[kind] == "plain"
            && data[cut..].iter().all(|b| b.is_ascii_whitespace() || *b == b'-');
        prop_assert!(state != State::Ok || harmless, "{:?} {} cut at {} of {}: OK", w, KINDS[kind], cut, full.len());
    }

    #[test]
    fn flipped_bits_are_never_ok(w in writer(), kind in 0..5usize, rows in 1..400usize, at in 0.0..1.0f64, bit in 0..8u8) {
        let dir = tempfile::tempdir().unwrap();
        let data = dump(w, rows);
        let mut bytes = compress(KINDS[kind], &data);
        let pos = ((bytes.len() as f64) * at) as usize;
        bytes[pos] ^= 1 << bit;
        let path = write(dir.path(), &bytes);
        let state = state_of(&path);
        // What no format can tell: plain text has no checksum, so a flip in the body of a
        // plain dump is undetectable; in its header or trailer, OK is right only if the
        // flipped lines still name the writer and still form its marker. In a compressed
        // file, OK is right only if the flip left the content intact (gzip's header
        // MTIME/XFL/OS bytes, unused bits of a zstd or bzip2 block header): the reference
        // decoder must give back the exact dump.
        let harmless = if KINDS[kind] == "plain" {
            body(w, &data).contains(&pos) || still_a_whole_dump(w, &bytes)
        } else {
            reference_decode(KINDS[kind], &bytes).as_deref() == Some(&data[..])
        };
        prop_assert!(state != State::Ok || harmless, "{:?} {} bit {} at {} of {}: OK", w, KINDS[kind], bit, pos, bytes.len());
    }

    /// The flips of the property above that land in a plain header or trailer are rare
    /// (the body is most of the file): here every flip does. Never OK unless the flipped
    /// lines still name the writer and still form its marker; and then OK, except that a
    /// NUL byte (never in a text dump) may make the plugin take the file for binary.
    #[test]
    fn flips_in_a_plain_header_or_trailer_are_ok_only_if_still_whole(w in writer(), rows in 1..400usize, trailer in any::<bool>(), at in 0.0..1.0f64, bit in 0..8u8) {
        let dir = tempfile::tempdir().unwrap();
        let data = dump(w, rows);
        let body = body(w, &data);
        let region = if trailer { body.end..data.len() } else { 0..body.start };
        let pos = region.start + ((region.len() as f64) * at) as usize;
        let mut bytes = data.clone();
        bytes[pos] ^= 1 << bit;
        let path = write(dir.path(), &bytes);
        let state = state_of(&path);
        let whole = still_a_whole_dump(w, &bytes);
        let what = format!("{:?} bit {} at {} ({:?} in {:?}): {:?}", w, bit, pos, bytes[pos] as char, region, state);
        prop_assert!(state != State::Ok || whole, "{}", what);
        if bytes[pos] != 0 {
            prop_assert!(state == State::Ok || !whole, "{}", what);
        }
    }

    #[test]
    fn appended_junk_is_never_ok(w in writer(), kind in 0..5usize, rows in 1..200usize, junk in "[a-zA-Z0-9;(),']{1,64}") {
        let dir = tempfile::tempdir().unwrap();
        let mut bytes = compress(KINDS[kind], &dump(w, rows));
        bytes.extend_from_slice(junk.as_bytes());
        let path = write(dir.path(), &bytes);
        prop_assert_ne!(state_of(&path), State::Ok);
    }
}

/// Encrypted dumps made by the real tools (tests/fixtures/regenerate-encrypted.sh), and
/// whether their structure proves where they end (OpenPGP packets and armour, CMS lengths):
/// then a cut, or bytes appended, is seen without the key. age and `openssl enc` prove
/// only length arithmetic (a cut on a chunk or block boundary, bytes appended to the last
/// chunk, pass unseen).
const ENCRYPTED: [(&str, bool); 10] = [
    ("openpgp-cv25519.sql.gz.gpg", true),
    ("openpgp-rsa-pipe.sql.gz.gpg", true),
    ("openpgp-two-recipients.sql.gz.asc", true),
    ("openpgp-passphrase.sql.gz.gpg", true),
    ("cms-smime.sql.gz.p7m", true),
    ("cms-stream.sql.gz.p7m", true),
    ("age-x25519.sql.gz.age", false),
    ("age-armoured.sql.gz.age", false),
    ("openssl-aes-256-cbc.sql.gz.enc", false),
    ("openssl-aes-256-ctr.sql.gz.enc", false),
];

fn encrypted_fixture(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/real/encrypted")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The check with `--encrypted-without-key ok` (what an operator who accepts the keyless
/// verdict runs).
fn accepted_state_of(path: &Path) -> State {
    check_state(&[
        "-f",
        path.to_str().unwrap(),
        "--no-cache",
        "--settle",
        "0",
        "-t",
        "0",
        "--encrypted-without-key",
        "ok",
    ])
}

/// Every whole fixture is recognised: WARNING by default (nobody sees inside without the
/// key), OK once accepted; so the properties below test damage, not an unknown format.
/// Except the stream cipher's `openssl enc` file: its length (not whole 16-byte blocks) is
/// also what a cut block cipher's file has, so it stays WARNING.
#[test]
fn whole_encrypted_fixtures_are_warning_and_ok_once_accepted() {
    let dir = tempfile::tempdir().unwrap();
    for (name, _) in ENCRYPTED {
        let path = write(dir.path(), &encrypted_fixture(name));
        assert_eq!(state_of(&path), State::Warning, "{name}");
        let accepted = if name.contains("-ctr.") {
            State::Warning
        } else {
            State::Ok
        };
        assert_eq!(accepted_state_of(&path), accepted, "{name}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: cases(),
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource("proptest-regressions"))),
        ..ProptestConfig::default()
    })]

    /// Cut anywhere, a bit flipped anywhere, junk appended: never OK without the key
    /// unless the operator accepted keyless verdicts; and even then, never OK for a cut or
    /// junk in a format whose structure proves its end (an armoured file may lose only
    /// whitespace after its END line).
    #[test]
    fn damaged_encrypted_dumps_are_never_ok(
        which in 0..ENCRYPTED.len(),
        damage in 0..3u8,
        at in 0.0..1.0f64,
        bit in 0..8u8,
        junk in "[a-zA-Z0-9;(),']{1,64}",
    ) {
        let (name, proves_end) = ENCRYPTED[which];
        let whole = encrypted_fixture(name);
        let pos = ((whole.len() as f64) * at) as usize; // strictly inside the file
        let mut bytes = whole.clone();
        let what = match damage {
            0 => {
                bytes.truncate(pos);
                format!("{name} cut at {pos} of {}", whole.len())
            }
            1 => {
                bytes[pos] ^= 1 << bit;
                format!("{name} bit {bit} flipped at {pos}")
            }
            _ => {
                bytes.extend_from_slice(junk.as_bytes());
                format!("{name} with {junk:?} appended")
            }
        };
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), &bytes);
        let state = state_of(&path);
        prop_assert_ne!(state, State::Ok, "{}", what);
        if proves_end && damage != 1 {
            let harmless = damage == 0 && whole[pos..].iter().all(u8::is_ascii_whitespace);
            let accepted = accepted_state_of(&path);
            prop_assert!(accepted != State::Ok || harmless, "{} accepted: {:?}", what, accepted);
        }
    }
}

#[test]
fn flips_in_a_plain_trailer_are_caught() {
    // The undetectable plain-text case is the body only: the trailer itself is checked.
    let dir = tempfile::tempdir().unwrap();
    let data = mysqldump(10, true);
    let trailer = data.len() - "-- Dump completed on 2026-11-25  3:04:05\n".len();
    for pos in trailer..trailer + 17 {
        let mut bytes = data.clone();
        bytes[pos] ^= 0x20;
        let path = write(dir.path(), &bytes);
        assert_ne!(state_of(&path), State::Ok, "flip at {pos}");
    }
}

#[test]
fn the_regressions_file_is_beside_this_source() {
    // Where `FileFailurePersistence::WithSource` reads it: moving or renaming this module
    // without its regressions file would silently stop replaying them.
    let file = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(file!())
        .with_extension("proptest-regressions");
    assert!(file.is_file(), "{} is missing", file.display());
}
