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
        // Plain text: cutting only trailing blank lines loses nothing.
        let harmless = KINDS[kind] == "plain" && data[cut..].iter().all(|b| b.is_ascii_whitespace());
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
        // plain dump is undetectable. In a compressed file, OK is right only if the flip
        // left the content intact (gzip's header MTIME/XFL/OS bytes, unused bits of a zstd
        // or bzip2 block header): the reference decoder must give back the exact dump.
        let harmless = KINDS[kind] == "plain" || reference_decode(KINDS[kind], &bytes).as_deref() == Some(&data[..]);
        prop_assert!(state != State::Ok || harmless, "{:?} {} bit {} at {} of {}: OK", w, KINDS[kind], bit, pos, bytes.len());
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
