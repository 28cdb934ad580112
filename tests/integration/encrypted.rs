//! Encrypted dumps judged without the key (issue 18): files made at test time by the real
//! tools (gpg, age, openssl) from a gzipped mysqldump-like text. Whole → WARNING (OK with
//! `--encrypted-without-key ok`); cut inside the header, inside the payload and at the last
//! byte, a flipped armour CRC, appended garbage → CRITICAL naming the format and the offset.
//! Plus the seed's incident: a gpg file cut right after its recipient packet.

use crate::util::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The gzipped dump every test encrypts: large enough for several age chunks and several
/// partial-length parts when gpg reads a pipe.
fn plain_dump(dir: &Path) -> PathBuf {
    let path = dir.join("shop.sql.gz");
    std::fs::write(&path, gzip(&mysqldump(12_000, true))).unwrap();
    path
}

fn sh(dir: &Path, script: &str) {
    let out = Command::new("sh")
        .args(["-ec", script])
        .current_dir(dir)
        .env("GNUPGHOME", dir.join("gnupg"))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{script}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A throwaway gpg home with one key (no passphrase), `test@example.org`.
fn gpg_home(dir: &Path) {
    std::fs::create_dir(dir.join("gnupg")).unwrap();
    chmod(&dir.join("gnupg"), 0o700);
    sh(
        dir,
        "gpg --batch --quiet --passphrase '' --quick-gen-key test@example.org default default never 2>/dev/null",
    );
}

fn check_file(path: &Path, extra: &[&str]) -> Answer {
    let mut args = vec!["--settle", "0", "--no-cache"];
    args.extend_from_slice(extra);
    check(path, &args)
}

fn write_variant(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

/// Whole → WARNING naming the format (OK with the option, CRITICAL with `critical`); each
/// cut → CRITICAL naming the format and an offset; appended garbage → CRITICAL (`garbage`:
/// None = not tested, Some(true) = found right where it starts, Some(false) = found).
fn expect_verdicts(dir: &Path, file: &Path, format: &str, cuts: &[usize], garbage: Option<bool>) {
    let bytes = std::fs::read(file).unwrap();
    let whole = check_file(file, &[]);
    whole
        .expect("WARNING")
        .says(&format!("encrypted ({format}"))
        .says("whole as far as can be seen, completeness cannot be verified without the key");
    let ok = check_file(file, &["--encrypted-without-key", "ok"]);
    ok.expect("OK");
    assert!(
        ok.stdout
            .contains("structure whole (verified without the key:")
            && ok.stdout.contains("not verified: the decrypted content"),
        "{}",
        ok.stdout
    );
    check_file(file, &["--encrypted-without-key", "critical"]).expect("CRITICAL");
    for &cut in cuts {
        let path = write_variant(dir, &format!("cut-{cut}"), &bytes[..cut]);
        check_file(&path, &["--encrypted-without-key", "ok"])
            .expect("CRITICAL")
            .says(&format!("encrypted dump broken ({format}"))
            .says("at byte offset");
    }
    if let Some(exact) = garbage {
        let mut longer = bytes.clone();
        longer.extend_from_slice(b"garbage\n");
        let path = write_variant(dir, "garbage", &longer);
        let at = if exact {
            format!("at byte offset {}", bytes.len())
        } else {
            "at byte offset".to_string()
        };
        check_file(&path, &["--encrypted-without-key", "ok"])
            .expect("CRITICAL")
            .says(&format!("encrypted dump broken ({format}"))
            .says(&at);
    }
}

fn len(path: &Path) -> usize {
    std::fs::metadata(path).unwrap().len() as usize
}

#[test]
fn openpgp_public_key_from_a_file_and_from_a_pipe() {
    if !have_tool("gpg", "gnupg") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    plain_dump(dir);
    gpg_home(dir);
    sh(
        dir,
        "gpg --batch --quiet --trust-model always -e -r test@example.org -o file.gpg shop.sql.gz",
    );
    // From a pipe gpg does not know the length: partial body lengths.
    sh(
        dir,
        "gpg --batch --quiet --trust-model always --compress-algo none -e -r test@example.org < shop.sql.gz > pipe.gpg",
    );
    for name in ["file.gpg", "pipe.gpg"] {
        let file = dir.join(name);
        let n = len(&file);
        expect_verdicts(dir, &file, "OpenPGP", &[10, 200, n / 2, n - 1], Some(true));
    }
}

#[test]
fn openpgp_symmetric() {
    if !have_tool("gpg", "gnupg") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    plain_dump(dir);
    std::fs::create_dir(dir.join("gnupg")).unwrap();
    chmod(&dir.join("gnupg"), 0o700);
    sh(
        dir,
        "gpg --batch --quiet -c --passphrase x -o sym.gpg shop.sql.gz",
    );
    let file = dir.join("sym.gpg");
    check_file(&file, &[]).says("AES256 via SEIPD");
    let n = len(&file);
    expect_verdicts(dir, &file, "OpenPGP", &[8, 16, n / 2, n - 1], Some(true));
}

#[test]
fn openpgp_armoured_and_its_crc() {
    if !have_tool("gpg", "gnupg") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    plain_dump(dir);
    gpg_home(dir);
    sh(
        dir,
        "gpg --batch --quiet --trust-model always -a -e -r test@example.org -o armoured.gpg shop.sql.gz",
    );
    let file = dir.join("armoured.gpg");
    let n = len(&file);
    // In the BEGIN line, the first packet, the middle, the END line.
    expect_verdicts(
        dir,
        &file,
        "OpenPGP, ASCII-armoured",
        &[20, 120, n / 2, n - 10],
        Some(true),
    );
    // One character of the CRC24 line changed.
    let text = std::fs::read_to_string(&file).unwrap();
    let crc_at = text.rfind("\n=").expect("a CRC24 line") + 2;
    let mut bytes = text.into_bytes();
    bytes[crc_at] = if bytes[crc_at] == b'A' { b'B' } else { b'A' };
    let path = write_variant(dir, "bad-crc.gpg", &bytes);
    check_file(&path, &["--encrypted-without-key", "ok"])
        .expect("CRITICAL")
        .says("encrypted dump broken (OpenPGP, ASCII-armoured)")
        .says("armour checksum mismatch");
}

/// The seed's incident: `mysqldump | gzip | gpg -e` killed right after gpg wrote its
/// recipient packet. gpg -d prints nothing for such a file; its exit status is reported.
#[test]
fn openpgp_cut_right_after_the_recipient_packet() {
    if !have_tool("gpg", "gnupg") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    plain_dump(dir);
    gpg_home(dir);
    sh(
        dir,
        "gpg --batch --quiet --trust-model always -e -r test@example.org -o file.gpg shop.sql.gz",
    );
    let bytes = std::fs::read(dir.join("file.gpg")).unwrap();
    // The end of the first packet (gpg 2.2 writes old-format headers, newer ones may not).
    let header_end = if bytes[0] & 0x40 == 0 {
        match bytes[0] & 3 {
            0 => 2 + bytes[1] as usize,
            1 => 3 + ((bytes[1] as usize) << 8 | bytes[2] as usize),
            _ => panic!("unexpected first packet length"),
        }
    } else {
        match bytes[1] {
            n @ 0..=191 => 2 + n as usize,
            n @ 192..=223 => 3 + ((n as usize - 192) << 8) + bytes[2] as usize + 192,
            _ => panic!("unexpected first packet length"),
        }
    };
    let path = write_variant(dir, "seed.gpg", &bytes[..header_end]);
    let gpg = Command::new("gpg")
        .args(["--batch", "-d", "seed.gpg"])
        .current_dir(dir)
        .env("GNUPGHOME", dir.join("gnupg"))
        .output()
        .unwrap();
    eprintln!(
        "gpg -d on a file cut after its recipient packet: exit {:?}, {} bytes out, stderr {:?}",
        gpg.status.code(),
        gpg.stdout.len(),
        String::from_utf8_lossy(&gpg.stderr)
    );
    check_file(&path, &["--encrypted-without-key", "ok"])
        .expect("CRITICAL")
        .says(&format!("at byte offset {header_end}"))
        .says("no encrypted data packet");
}

#[test]
fn age_binary_and_armoured() {
    if !have_tool("age-keygen", "age") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    plain_dump(dir);
    sh(
        dir,
        "age-keygen -o key.txt 2>/dev/null; R=$(grep -o 'age1[0-9a-z]*' key.txt); age -r $R -o d.age shop.sql.gz; age -a -r $R -o d.armoured.age shop.sql.gz",
    );
    let file = dir.join("d.age");
    let bytes = std::fs::read(&file).unwrap();
    let header = bytes.windows(4).position(|w| w == b"\n---").unwrap() + 1;
    let header_end = header + bytes[header..].iter().position(|&b| b == b'\n').unwrap() + 1;
    // Inside the header; after the nonce, a full chunk and 10 bytes (a final chunk too
    // short for its tag). A cut elsewhere in the payload looks whole: said, not hidden.
    assert!(bytes.len() > header_end + 16 + 65552 + 10, "dump too small");
    expect_verdicts(
        dir,
        &file,
        "age",
        &[30, header - 2, header_end + 16 + 65552 + 10],
        None,
    );
    let mid = write_variant(dir, "mid", &bytes[..bytes.len() / 2]);
    check_file(&mid, &[])
        .expect("WARNING")
        .says("bytes cut from or appended to the payload go unseen");
    let armoured = dir.join("d.armoured.age");
    let n = len(&armoured);
    expect_verdicts(
        dir,
        &armoured,
        "age, armoured",
        &[20, n / 2, n - 10],
        Some(true),
    );
}

#[test]
fn openssl_enc() {
    if !have_tool("openssl", "openssl") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    plain_dump(dir);
    sh(
        dir,
        "openssl enc -aes-256-cbc -pbkdf2 -pass pass:x -in shop.sql.gz -out d.enc",
    );
    let file = dir.join("d.enc");
    check_file(&file, &[]).says("no integrity protection");
    let n = len(&file);
    // Cut inside the Salted__ header, or right after it: CRITICAL.
    expect_verdicts(dir, &file, "openssl enc", &[6, 12, 16], None);
    // Cut or extended off a block boundary: what a stream cipher's whole file looks like
    // too (see openssl_enc_with_a_stream_cipher); WARNING saying both, never OK.
    let bytes = std::fs::read(&file).unwrap();
    let mut longer = bytes.clone();
    longer.extend_from_slice(b"garbage\n");
    for (name, variant) in [
        ("cut-49", bytes[..49].to_vec()),
        ("cut-last", bytes[..n - 1].to_vec()),
        ("cut-7", bytes[..n - 7].to_vec()),
        ("garbage", longer),
    ] {
        let path = write_variant(dir, name, &variant);
        check_file(&path, &["--encrypted-without-key", "ok"])
            .expect("WARNING")
            .says("not whole 16-byte blocks: cut or extended if written with a block cipher (-aes-256-cbc), whole if with a stream cipher");
    }
}

/// `openssl enc -aes-256-ctr` (a stream cipher) writes any length: its whole file (the
/// real one of tests/fixtures/real/encrypted, not whole 16-byte blocks) is WARNING saying
/// it cannot be told from a cut CBC file, even with `--encrypted-without-key ok` — never
/// CRITICAL every night, never OK; CRITICAL only when asked for.
#[test]
fn openssl_enc_with_a_stream_cipher() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let bytes = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/real/encrypted/openssl-aes-256-ctr.sql.gz.enc"),
    )
    .unwrap();
    assert_ne!(
        (bytes.len() - 16) % 16,
        0,
        "the fixture must not be whole blocks"
    );
    let file = write_variant(dir, "shop.sql.gz.enc", &bytes);
    for policy in ["warning", "ok"] {
        check_file(&file, &["--encrypted-without-key", policy])
            .expect("WARNING")
            .says("encrypted (openssl enc")
            .says("whole if with a stream cipher (-aes-256-ctr, -chacha20); cannot be told without the key")
            .says("no integrity protection");
    }
    check_file(&file, &["--encrypted-without-key", "critical"]).expect("CRITICAL");
}

#[test]
fn cms_der_and_indefinite_ber() {
    if !have_tool("openssl", "openssl") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    plain_dump(dir);
    sh(
        dir,
        "openssl req -x509 -newkey rsa:2048 -nodes -keyout key.pem -out cert.pem -subj /CN=backup -days 2 2>/dev/null
         openssl cms -encrypt -binary -aes256 -outform DER -in shop.sql.gz -out d.cms cert.pem
         openssl cms -encrypt -binary -aes256 -stream -outform DER -in shop.sql.gz -out d.ber.cms cert.pem",
    );
    let der = std::fs::read(dir.join("d.cms")).unwrap();
    let ber = std::fs::read(dir.join("d.ber.cms")).unwrap();
    assert_ne!(der[1], 0x80, "DER: definite outer length");
    assert_eq!(ber[1], 0x80, "-stream: indefinite outer length");
    // The recipient as openssl names its certificate (serial in upper-case hex).
    let serial = Command::new("openssl")
        .args(["x509", "-noout", "-serial", "-in"])
        .arg(dir.join("cert.pem"))
        .output()
        .unwrap();
    let serial = String::from_utf8(serial.stdout).unwrap();
    let serial = serial.trim().trim_start_matches("serial=").to_string();
    assert!(serial.len() >= 8, "{serial}");
    for (name, bytes) in [("d.cms", &der), ("d.ber.cms", &ber)] {
        let n = bytes.len();
        let file = dir.join(name);
        check_file(&file, &[]).says(&format!("to CN=backup serial {serial}"));
        expect_verdicts(
            dir,
            &file,
            "CMS/S-MIME",
            &[30, 300, n / 2, n - 1],
            Some(true),
        );
    }
}

/// The walk's facts go into the cache like any content verdict: the second check reads
/// nothing again and judges the same (a cut copy is a new file, walked afresh).
#[test]
fn the_verdict_is_cached() {
    if !have_tool("openssl", "openssl") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    plain_dump(dir);
    sh(
        dir,
        "openssl enc -aes-256-cbc -pbkdf2 -pass pass:x -in shop.sql.gz -out d.enc",
    );
    let cache = dir.join("cache");
    let file = dir.join("d.enc");
    let args = [
        "-f",
        file.to_str().unwrap(),
        "--settle",
        "0",
        "--cache-dir",
        cache.to_str().unwrap(),
    ];
    let first = run(&args);
    first.expect("WARNING").says("encrypted (openssl enc");
    assert!(!first.stdout.contains("cached"), "{}", first.stdout);
    let second = run(&args);
    second
        .expect("WARNING")
        .says("encrypted (openssl enc")
        .says("cached");
}

/// `gpg --armor --encrypt shop.sql.gz` names its output `shop.sql.gz.asc`, the suffix of a
/// detached armoured signature too. In a directory the newest `.asc` that is an encrypted
/// message is the dump; a signature beside it is still skipped.
#[test]
fn an_armoured_dump_named_asc_is_found_in_a_directory() {
    if !have_tool("gpg", "gnupg") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    plain_dump(dir);
    gpg_home(dir);
    sh(
        dir,
        "mkdir backups && gpg --batch --quiet --trust-model always -a -e -r test@example.org shop.sql.gz \
         && cp shop.sql.gz backups/old.sql.gz && touch -d '-2 hours' backups/old.sql.gz \
         && mv shop.sql.gz.asc backups/ \
         && gpg --batch --quiet -a --detach-sign -o backups/old.sql.gz.asc backups/old.sql.gz",
    );
    let backups = dir.join("backups");
    let head = std::fs::read(backups.join("old.sql.gz.asc")).unwrap();
    assert!(head.starts_with(b"-----BEGIN PGP SIGNATURE-----"));
    // The signature is the newest file: it must not be taken for the dump.
    let answer = check_file(&backups, &["-v"]);
    answer
        .expect("WARNING")
        .says("shop.sql.gz.asc")
        .says("OpenPGP, ASCII-armoured");
    assert!(
        !answer.first_line().contains("old.sql.gz.asc"),
        "{}",
        answer.stdout
    );
    // Cut in the middle: the directory check says CRITICAL, as for the file itself.
    let dump = backups.join("shop.sql.gz.asc");
    let bytes = std::fs::read(&dump).unwrap();
    std::fs::write(&dump, &bytes[..bytes.len() / 2]).unwrap();
    check_file(&backups, &[])
        .expect("CRITICAL")
        .says("encrypted dump broken (OpenPGP, ASCII-armoured)");
}

/// `--decrypt-with gpg`: checks `file` with the keyring in `dir/gnupg`.
fn check_gpg(dir: &Path, file: &Path) -> Answer {
    let home = dir.join("gnupg");
    check_file(
        file,
        &[
            "--decrypt-with",
            "gpg",
            "--gpg-homedir",
            home.to_str().unwrap(),
        ],
    )
}

/// With the key (gpg): a whole encrypted gzip dump is OK, decrypted and judged like a plain
/// one; the seed incident (a dump killed mid-way, then gzip | gpg: the encryption whole, the
/// plaintext without its marker) is CRITICAL naming the marker; a cut file and a flipped
/// byte are CRITICAL; another keyring, a missing one and an open one are UNKNOWN.
#[test]
fn openpgp_decrypted_with_the_key() {
    if !have_tool("gpg", "gnupg") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    plain_dump(dir);
    std::fs::write(dir.join("seed.sql.gz"), gzip(&mysqldump(12_000, false))).unwrap();
    gpg_home(dir);
    // `-z 0`: gpg does not compress again, so a cut lands in the gzip stream.
    sh(
        dir,
        "gpg --batch --quiet --trust-model always -z 0 -e -r test@example.org -o whole.gpg shop.sql.gz
         gpg --batch --quiet --trust-model always -z 0 -e -r test@example.org < seed.sql.gz > seed.gpg",
    );
    let whole = check_gpg(dir, &dir.join("whole.gpg"));
    whole
        .expect("OK")
        .says("decrypted with gpg, gzip, ")
        .says("mysqldump complete");
    assert!(
        whole.perf_item("uncompressed_size").is_some(),
        "{}",
        whole.stdout
    );
    assert!(
        whole
            .stdout
            .contains("[OK] stream: decrypted with gpg (OpenPGP, ")
            && whole.stdout.contains("[OK] stream: gzip stream intact"),
        "{}",
        whole.stdout
    );
    // --expect-databases: the databases come from the decrypted stream, read once (a
    // second read would see only the encrypted file).
    let home = dir.join("gnupg");
    let gpg = [
        "--decrypt-with",
        "gpg",
        "--gpg-homedir",
        home.to_str().unwrap(),
    ];
    let with = |expected: &str| {
        let mut args = gpg.to_vec();
        args.extend_from_slice(&["--expect-databases", expected]);
        check_file(&dir.join("whole.gpg"), &args)
    };
    let a = with("shop");
    a.expect("OK");
    assert!(
        a.stdout
            .contains("[OK] coverage: all 1 expected databases are in the dump"),
        "{}",
        a.stdout
    );
    with("shop,crm")
        .expect("CRITICAL")
        .says("the dump lacks database crm (it holds shop)");
    check_gpg(dir, &dir.join("seed.gpg"))
        .expect("CRITICAL")
        .says("decrypted with gpg")
        .says("dump incomplete: no completion marker");
    let bytes = std::fs::read(dir.join("whole.gpg")).unwrap();
    let cut = write_variant(dir, "cut.gpg", &bytes[..bytes.len() / 2]);
    check_gpg(dir, &cut)
        .expect("CRITICAL")
        .says("encrypted dump broken (OpenPGP)");
    let mut flipped = bytes.clone();
    let at = bytes.len() / 2;
    flipped[at] ^= 0x55;
    let flipped = write_variant(dir, "flipped.gpg", &flipped);
    check_gpg(dir, &flipped)
        .expect("CRITICAL")
        .says("encrypted dump broken (OpenPGP): gpg (exit status: 2)");
    // Another keyring (without the secret key): UNKNOWN, naming the fix.
    let other = tempfile::tempdir().unwrap();
    std::fs::create_dir(other.path().join("gnupg")).unwrap();
    chmod(&other.path().join("gnupg"), 0o700);
    check_file(
        &dir.join("whole.gpg"),
        &[
            "--decrypt-with",
            "gpg",
            "--gpg-homedir",
            other.path().join("gnupg").to_str().unwrap(),
        ],
    )
    .expect("UNKNOWN")
    .says("No secret key")
    .says("give the monitoring user the secret key");
    check_file(
        &dir.join("whole.gpg"),
        &["--decrypt-with", "gpg", "--gpg-homedir", "/nonexistent"],
    )
    .expect("UNKNOWN")
    .says("gpg home directory /nonexistent cannot be read");
    chmod(&dir.join("gnupg"), 0o755);
    check_gpg(dir, &dir.join("whole.gpg"))
        .expect("UNKNOWN")
        .says("refused (chmod 700 it)");
    chmod(&dir.join("gnupg"), 0o700);
    // The age tool cannot decrypt an OpenPGP file: UNKNOWN, not a verdict.
    let id = dir.join("id.txt");
    std::fs::write(&id, "AGE-SECRET-KEY-1X\n").unwrap();
    chmod(&id, 0o600);
    check_file(
        &dir.join("whole.gpg"),
        &[
            "--decrypt-with",
            "age",
            "--age-identity",
            id.to_str().unwrap(),
        ],
    )
    .expect("UNKNOWN")
    .says("--decrypt-with age cannot decrypt it");
}

/// With the identity (age): whole → OK; the seed incident → CRITICAL (marker); cut on a
/// chunk boundary (invisible without the identity) and a flipped byte → CRITICAL; another
/// identity → UNKNOWN; an identity readable by others → UNKNOWN.
#[test]
fn age_decrypted_with_the_identity() {
    if !have_tool("age-keygen", "age") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    plain_dump(dir);
    std::fs::write(dir.join("seed.sql.gz"), gzip(&mysqldump(12_000, false))).unwrap();
    sh(
        dir,
        "age-keygen -o id.txt 2>/dev/null; age-keygen -o other.txt 2>/dev/null
         chmod 600 id.txt other.txt
         age -r $(age-keygen -y id.txt) -o whole.age shop.sql.gz
         age -r $(age-keygen -y id.txt) < seed.sql.gz > seed.age",
    );
    let id = dir.join("id.txt");
    let with = |file: &Path, id: &Path| {
        check_file(
            file,
            &[
                "--decrypt-with",
                "age",
                "--age-identity",
                id.to_str().unwrap(),
            ],
        )
    };
    let whole = with(&dir.join("whole.age"), &id);
    whole
        .expect("OK")
        .says("decrypted with age, gzip, ")
        .says("mysqldump complete");
    assert!(
        whole
            .stdout
            .contains("[OK] stream: decrypted with age (age, "),
        "{}",
        whole.stdout
    );
    with(&dir.join("seed.age"), &id)
        .expect("CRITICAL")
        .says("dump incomplete: no completion marker");
    let bytes = std::fs::read(dir.join("whole.age")).unwrap();
    // The header ends after the MAC line ("--- ..."); the first chunk is 64 KiB + 16.
    let header = bytes.windows(4).position(|w| w == b"\n---").unwrap();
    let header_end = header
        + 1
        + bytes[header + 1..]
            .iter()
            .position(|&b| b == b'\n')
            .unwrap()
        + 1;
    let boundary = header_end + 16 + 65_536 + 16;
    assert!(bytes.len() > boundary, "the dump must span two chunks");
    let cut = write_variant(dir, "cut.age", &bytes[..boundary]);
    // Without the identity a cut on a chunk boundary is not seen (only said)...
    check_file(&cut, &[]).expect("WARNING");
    // ...with it, it is.
    with(&cut, &id)
        .expect("CRITICAL")
        .says("encrypted dump broken (age): age (exit status: 1)");
    let mut flipped = bytes.clone();
    let at = bytes.len() - 100;
    flipped[at] ^= 0x55;
    let flipped = write_variant(dir, "flipped.age", &flipped);
    with(&flipped, &id)
        .expect("CRITICAL")
        .says("failed to decrypt and authenticate payload chunk");
    with(&dir.join("whole.age"), &dir.join("other.txt"))
        .expect("UNKNOWN")
        .says("no identity matched");
    chmod(&id, 0o644);
    with(&dir.join("whole.age"), &id)
        .expect("UNKNOWN")
        .says("refused (chmod 600 it)");
}

/// A verdict reached without the key is not reused with it (and vice versa).
#[test]
fn decrypted_and_keyless_verdicts_are_cached_apart() {
    if !have_tool("gpg", "gnupg") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    plain_dump(dir);
    gpg_home(dir);
    sh(
        dir,
        "gpg --batch --quiet --trust-model always -e -r test@example.org -o d.gpg shop.sql.gz",
    );
    let cache = dir.join("cache");
    let file = dir.join("d.gpg");
    let home = dir.join("gnupg");
    let keyless = [
        "-f",
        file.to_str().unwrap(),
        "--settle",
        "0",
        "--cache-dir",
        cache.to_str().unwrap(),
    ];
    let mut keyed = keyless.to_vec();
    keyed.extend([
        "--decrypt-with",
        "gpg",
        "--gpg-homedir",
        home.to_str().unwrap(),
    ]);
    run(&keyless).expect("WARNING");
    let first = run(&keyed);
    first.expect("OK").says("decrypted with gpg");
    assert!(!first.stdout.contains("cached"), "{}", first.stdout);
    let second = run(&keyed);
    second.expect("OK").says("decrypted with gpg");
    assert!(second.stdout.contains("cached"), "{}", second.stdout);
    run(&keyless)
        .expect("WARNING")
        .says("completeness cannot be verified without the key");
}

/// `--expect-recipient`: the encryption subkey's long ID (from gpg itself) or its
/// fingerprint → OK, another key → CRITICAL naming it (that key cannot restore the dump),
/// with or without the key; age files show no recipient identity: not checked there.
#[test]
fn the_expected_recipient() {
    if !have_tool("gpg", "gnupg") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    plain_dump(dir);
    gpg_home(dir);
    sh(
        dir,
        "gpg --batch --quiet --trust-model always -e -r test@example.org -o d.gpg shop.sql.gz
         gpg --batch --quiet --trust-model always --throw-keyids -e -r test@example.org -o hidden.gpg shop.sql.gz
         gpg --batch --with-colons --list-keys test@example.org | awk -F: '$1==\"sub\"{print $5}' > subkey
         gpg --batch --with-colons --list-keys test@example.org | awk -F: '$1==\"fpr\"{f=$10} END{print f}' > subfpr",
    );
    let subkey = std::fs::read_to_string(dir.join("subkey")).unwrap();
    let subkey = subkey.trim();
    let fpr = std::fs::read_to_string(dir.join("subfpr")).unwrap();
    let file = dir.join("d.gpg");
    check_file(
        &file,
        &[
            "--encrypted-without-key",
            "ok",
            "--expect-recipient",
            subkey,
        ],
    )
    .expect("OK");
    check_file(
        &file,
        &[
            "--encrypted-without-key",
            "ok",
            "--expect-recipient",
            fpr.trim(),
        ],
    )
    .expect("OK");
    check_file(
        &file,
        &[
            "--encrypted-without-key",
            "ok",
            "--expect-recipient",
            "0x0123456789ABCDEF",
        ],
    )
    .expect("CRITICAL")
    .says(
        "not encrypted to the expected recipient(s) 0x0123456789ABCDEF: that key cannot restore it",
    )
    .says(&format!("to {subkey}"));
    // Two expected keys, one present: CRITICAL names only the missing one.
    let both = check_file(
        &file,
        &[
            "--encrypted-without-key",
            "ok",
            "--expect-recipient",
            subkey,
            "--expect-recipient",
            "1111222233334444",
        ],
    );
    both.expect("CRITICAL")
        .says("not encrypted to the expected recipient(s) 1111222233334444:");
    // Recipients hidden (gpg --throw-keyids): cannot be told either way, WARNING saying so.
    check_file(
        &dir.join("hidden.gpg"),
        &[
            "--encrypted-without-key",
            "ok",
            "--expect-recipient",
            subkey,
        ],
    )
    .expect("WARNING")
    .says("it hides its recipients' key IDs (gpg --throw-keyids)");
    assert!(
        !both.stdout.contains(&format!("recipient(s) {subkey}")),
        "{}",
        both.stdout
    );
    let home = dir.join("gnupg");
    check_file(
        &file,
        &[
            "--decrypt-with",
            "gpg",
            "--gpg-homedir",
            home.to_str().unwrap(),
            "--expect-recipient",
            "0123456789ABCDEF",
        ],
    )
    .expect("CRITICAL")
    .says("not encrypted to the expected recipient(s)")
    .says("decrypted with gpg");
}

/// A directory in memory-backed space (the plugin's `$XDG_RUNTIME_DIR` in these tests), or
/// None when /dev/shm is not there.
fn runtime_dir() -> Option<tempfile::TempDir> {
    tempfile::Builder::new()
        .prefix("cb-runtime-")
        .tempdir_in("/dev/shm")
        .ok()
}

/// Nothing of a throwaway keyring stays behind in `runtime`: no directory, and no process
/// (gpg-agent is started with `--homedir` in its command line) naming it.
fn assert_nothing_left(runtime: &Path) {
    let left: Vec<_> = std::fs::read_dir(runtime)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(left.is_empty(), "left in {}: {left:?}", runtime.display());
    let needle = runtime.to_str().unwrap().as_bytes().to_vec();
    let naming = || {
        std::fs::read_dir("/proc")
            .unwrap()
            .filter_map(|e| {
                let e = e.ok()?;
                let cmdline = std::fs::read(e.path().join("cmdline")).ok()?;
                cmdline
                    .windows(needle.len())
                    .any(|w| w == needle.as_slice())
                    .then(|| String::from_utf8_lossy(&cmdline).replace('\0', " "))
            })
            .collect::<Vec<_>>()
    };
    // gpgconf --kill asks the agent to stop; it may take a moment to exit.
    wait_for("the throwaway gpg-agent gone", || naming().is_empty());
}

/// `--decrypt-with gpg --gpg-key FILE`: an exported encryption subkey only (`gpg
/// --export-secret-subkeys KEYID!`), of a cv25519 and of an RSA key. Whole → OK; cut and
/// flipped → CRITICAL; the other key, a key file readable by others, a file that is no
/// key → UNKNOWN naming the fix. After every check — also one stopped by the watchdog
/// while gpg decrypts — no throwaway keyring and no gpg-agent of it is left.
#[test]
fn openpgp_decrypted_with_an_exported_subkey() {
    if !have_tool("gpg", "gnupg") {
        return;
    }
    let Some(runtime) = runtime_dir() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    plain_dump(dir);
    gpg_home(dir); // gpg 2.2's default key: ed25519 with a cv25519 encryption subkey
    sh(
        dir,
        "gpg --batch --quiet --passphrase '' --quick-gen-key rsa@example.org rsa2048 sign never 2>/dev/null
         fpr=$(gpg --batch --with-colons --list-keys rsa@example.org | awk -F: '$1==\"fpr\"{print $10; exit}')
         gpg --batch --quiet --passphrase '' --quick-add-key \"$fpr\" rsa2048 encr never 2>/dev/null
         for who in test rsa; do
             sub=$(gpg --batch --with-colons --list-keys $who@example.org | awk -F: '$1==\"sub\"{print $5}')
             gpg --batch --quiet --export-secret-subkeys \"$sub!\" >$who.key
             gpg --batch --quiet --trust-model always -z 0 -e -r $who@example.org -o $who.gpg shop.sql.gz
         done
         chmod 600 test.key rsa.key",
    );
    // The exported file holds the subkey's secret only: the primary is a stub.
    let listed = Command::new("gpg")
        .args(["--batch", "--list-packets"])
        .arg(dir.join("rsa.key"))
        .env("GNUPGHOME", dir.join("gnupg"))
        .output()
        .unwrap();
    let listed = String::from_utf8_lossy(&listed.stdout);
    assert!(listed.contains("gnu-dummy"), "{listed}");
    let rt = runtime.path().to_str().unwrap().to_string();
    let with = |file: &Path, key: &Path, extra: &[&str]| {
        let mut args = vec![
            "-f",
            file.to_str().unwrap(),
            "--settle",
            "0",
            "--no-cache",
            "--decrypt-with",
            "gpg",
            "--gpg-key",
            key.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        let answer = run_env(&args, &[("XDG_RUNTIME_DIR", &rt)]);
        assert_nothing_left(runtime.path());
        answer
    };
    for who in ["test", "rsa"] {
        let file = dir.join(format!("{who}.gpg"));
        let key = dir.join(format!("{who}.key"));
        with(&file, &key, &[])
            .expect("OK")
            .says("decrypted with gpg, gzip, ")
            .says("mysqldump complete");
        let bytes = std::fs::read(&file).unwrap();
        let cut = write_variant(dir, &format!("{who}-cut.gpg"), &bytes[..bytes.len() - 40]);
        with(&cut, &key, &[])
            .expect("CRITICAL")
            .says("encrypted dump broken (OpenPGP)");
        let mut flipped = bytes.clone();
        let at = bytes.len() / 2;
        flipped[at] ^= 0x55;
        let flipped = write_variant(dir, &format!("{who}-flipped.gpg"), &flipped);
        with(&flipped, &key, &[])
            .expect("CRITICAL")
            .says("encrypted dump broken (OpenPGP): gpg (exit status: 2)");
    }
    // The other key: UNKNOWN naming the key file and the fix.
    with(&dir.join("test.gpg"), &dir.join("rsa.key"), &[])
        .expect("UNKNOWN")
        .says("No secret key")
        .says("rsa.key")
        .says("give the monitoring user the secret key");
    // Readable by others: refused before anything runs.
    chmod(&dir.join("rsa.key"), 0o640);
    with(&dir.join("rsa.gpg"), &dir.join("rsa.key"), &[])
        .expect("UNKNOWN")
        .says("gpg key file")
        .says("refused (chmod 600 it)");
    chmod(&dir.join("rsa.key"), 0o600);
    // Not a key at all.
    let junk = dir.join("junk.key");
    std::fs::write(&junk, "not a key\n").unwrap();
    chmod(&junk, 0o600);
    with(&dir.join("rsa.gpg"), &junk, &[])
        .expect("UNKNOWN")
        .says("gpg cannot import the key file")
        .says("gpg --export-secret-subkeys");
    // Stopped by the watchdog while gpg decrypts (a gpg that stalls on --decrypt and is
    // the real one otherwise): the keyring and its agent are gone all the same.
    let bin = dir.join("bin");
    std::fs::create_dir(&bin).unwrap();
    let real = String::from_utf8(
        Command::new("sh")
            .args(["-c", "command -v gpg"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    std::fs::write(
        bin.join("gpg"),
        format!(
            "#!/bin/sh\ncase \" $* \" in *\" --decrypt \"*) exec sleep 60 ;; esac\nexec {} \"$@\"\n",
            real.trim()
        ),
    )
    .unwrap();
    chmod(&bin.join("gpg"), 0o755);
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let file = dir.join("rsa.gpg");
    let key = dir.join("rsa.key");
    let stopped = run_env(
        &[
            "-f",
            file.to_str().unwrap(),
            "--settle",
            "0",
            "--no-cache",
            "-t",
            "2",
            "--decrypt-with",
            "gpg",
            "--gpg-key",
            key.to_str().unwrap(),
        ],
        &[("XDG_RUNTIME_DIR", &rt), ("PATH", &path)],
    );
    stopped.expect("UNKNOWN").says("check timed out after 2s");
    assert_nothing_left(runtime.path());
}

/// `--gpg-key` and `--gpg-homedir` are two ways to give gpg its key: one at a time, and
/// only with `--decrypt-with gpg`.
#[test]
fn gpg_key_options_conflict() {
    let dir = tempfile::tempdir().unwrap();
    let file = write_variant(dir.path(), "d.sql", b"x\n");
    check_file(
        &file,
        &[
            "--decrypt-with",
            "gpg",
            "--gpg-key",
            "/k",
            "--gpg-homedir",
            "/h",
        ],
    )
    .expect("UNKNOWN")
    .says("--gpg-key and --gpg-homedir exclude each other");
    check_file(&file, &["--gpg-key", "/k"])
        .expect("UNKNOWN")
        .says("need --decrypt-with");
    check_file(&file, &["--decrypt-with", "age", "--gpg-key", "/k"])
        .expect("UNKNOWN")
        .says("--gpg-key and --gpg-homedir go with --decrypt-with gpg");
    check_file(&file, &["--decrypt-with", "gpg"])
        .expect("UNKNOWN")
        .says("--decrypt-with gpg needs --gpg-key");
}

/// pg_back's way: a pg_dump custom archive (the real tests/fixtures/real/postgres/shop.dump)
/// encrypted with age. With the identity the archive inside is walked like an unencrypted
/// one: whole → OK naming its data blocks; an archive cut before the encryption (the
/// encryption itself whole) → CRITICAL naming where, also with --marker none.
#[test]
fn a_pg_dump_custom_archive_inside_age_is_walked_with_the_identity() {
    if !have_tool("age-keygen", "age") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let real = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/real/postgres/shop.dump");
    let archive = std::fs::read(real).unwrap();
    std::fs::write(dir.join("shop.dump"), &archive).unwrap();
    std::fs::write(dir.join("cut.dump"), &archive[..20_000]).unwrap();
    sh(
        dir,
        "age-keygen -o id.txt 2>/dev/null; chmod 600 id.txt
         age -r $(age-keygen -y id.txt) -o shop.dump.age shop.dump
         age -r $(age-keygen -y id.txt) -o cut.dump.age cut.dump",
    );
    let id = dir.join("id.txt");
    let with = |file: &str, extra: &[&str]| {
        let mut args = vec![
            "--decrypt-with",
            "age",
            "--age-identity",
            id.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        check_file(&dir.join(file), &args)
    };
    with("shop.dump.age", &[])
        .expect("OK")
        .says("decrypted with age, pg_dump custom format complete");
    let whole = with("shop.dump.age", &[]);
    assert!(
        whole.stdout.contains(
            "[OK] archive: pg_dump custom archive of 'shop' complete: all 3 data blocks complete"
        ),
        "{}",
        whole.stdout
    );
    for extra in [&[][..], &["--marker", "none"][..]] {
        with("cut.dump.age", extra)
            .expect("CRITICAL")
            .says("pg_dump custom archive incomplete: archive cut inside the data of TABLE DATA public.log");
    }
}

/// CMS (autopostgresqlbackup's `openssl smime -encrypt ... -outform DEM`, and `openssl cms
/// -stream`'s BER): the recipient is named by its certificate's issuer and serial number, as
/// `openssl cms -cmsout -print` shows them for the real fixtures
/// (tests/fixtures/regenerate-encrypted.sh: a self-signed CN=backup.example.org).
#[test]
fn cms_names_its_recipient_by_issuer_and_serial() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/real/encrypted");
    for name in ["cms-smime.sql.gz.p7m", "cms-stream.sql.gz.p7m"] {
        let a = check_file(&dir.join(name), &["-w", "10000d", "-c", "20000d"]);
        a.expect("WARNING");
        assert!(
            a.stdout.contains(
                "[WARNING] stream: encrypted (CMS/S-MIME, enveloped data): whole as far as can be seen, completeness cannot be verified without the key; to CN=backup.example.org serial 6D1B6364F9C6C381546BDDCE6A1190BF0B2D9471\n"
            ),
            "{name}: {}",
            a.stdout
        );
    }
}
