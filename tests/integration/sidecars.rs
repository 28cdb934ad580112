//! Files beside the dump: checksum, signature and log files are skipped by discovery (and
//! `--exclude` names more); the dump is verified against its checksum file (`<dump>.sha256`,
//! `.md5`..., or its line in `SHA256SUMS`), written here by the real `sha256sum`/`md5sum`.

use crate::util::*;
use std::path::Path;
use std::process::Command;

/// Runs `tool args...` in `dir` (as a backup job does: relative names) and returns stdout.
fn tool(dir: &Path, tool: &str, args: &[&str]) -> String {
    let out = Command::new(tool)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {tool}: {e}"));
    assert!(out.status.success(), "{tool} {args:?} failed");
    String::from_utf8(out.stdout).unwrap()
}

/// `TOOL name > sidecar` in `dir`, aged `age` seconds.
fn sidecar(dir: &Path, program: &str, args: &[&str], sidecar: &str, age: i64) -> String {
    let text = tool(dir, program, args);
    write_aged(dir, sidecar, text.as_bytes(), age);
    text
}

fn checksum_line(a: &Answer) -> &str {
    a.stdout
        .lines()
        .find(|l| l.contains("] checksum: "))
        .unwrap_or_else(|| panic!("no checksum finding:\n{}", a.stdout))
}

fn dir_check(dir: &Path, extra: &[&str]) -> Answer {
    check(dir, extra)
}

/// The case: a dump, then a `.sha256` written a minute after it. Also `.md5`, a
/// `backup.log`, a `SHA256SUMS` list, and all of them at once: the dump is what is checked.
#[test]
fn the_dump_is_checked_not_the_files_beside_it() {
    let dump = gzip(&mysqldump(3000, true));
    type Setup = fn(&Path);
    // What is set up, the checksum finding expected, the trace line of what was skipped.
    let cases: [(&str, Setup, &str, &str); 5] = [
        (
            "sha256",
            |d| {
                sidecar(d, "sha256sum", &["all.sql.gz"], "all.sql.gz.sha256", HOUR);
            },
            "[OK] checksum: sha256 matches all.sql.gz.sha256",
            "all.sql.gz.sha256: checksum file, not a dump",
        ),
        (
            "md5",
            |d| {
                sidecar(d, "md5sum", &["all.sql.gz"], "all.sql.gz.md5", HOUR);
            },
            "[OK] checksum: md5 matches all.sql.gz.md5",
            "all.sql.gz.md5: checksum file, not a dump",
        ),
        (
            "log",
            |d| {
                write_aged(d, "backup.log", b"INFO dump done\n", HOUR);
            },
            "",
            "backup.log: log file, not a dump",
        ),
        (
            "SHA256SUMS",
            |d| {
                sidecar(d, "sha256sum", &["all.sql.gz"], "SHA256SUMS", HOUR);
            },
            "[OK] checksum: sha256 matches SHA256SUMS",
            "SHA256SUMS: checksum list, not a dump",
        ),
        (
            "all",
            |d| {
                sidecar(d, "sha256sum", &["all.sql.gz"], "all.sql.gz.sha256", HOUR);
                sidecar(d, "md5sum", &["all.sql.gz"], "MD5SUMS", HOUR);
                write_aged(
                    d,
                    "all.sql.gz.asc",
                    b"-----BEGIN PGP SIGNATURE-----\n",
                    HOUR,
                );
                write_aged(d, "backup.log", b"INFO dump done\n", HOUR);
            },
            "[OK] checksum: sha256 matches all.sql.gz.sha256",
            "all.sql.gz.asc: signature, not a dump",
        ),
    ];
    for (what, setup, finding, skipped) in cases {
        let d = tempfile::tempdir().unwrap();
        write_aged(d.path(), "all.sql.gz", &dump, 2 * HOUR);
        setup(d.path());
        let a = dir_check(d.path(), &["-v"]);
        a.expect("OK")
            .says("all.sql.gz: 2h 0m old")
            .says("mysqldump complete");
        if finding.is_empty() {
            assert!(!a.stdout.contains("] checksum:"), "{what}: {}", a.stdout);
        } else {
            assert_eq!(checksum_line(&a), finding, "{what}");
        }
        assert!(
            a.stdout
                .contains(&format!("  skipped {}/{skipped}\n", d.path().display())),
            "{what}: {}",
            a.stdout
        );
    }
}

#[test]
fn a_flipped_byte_in_a_plain_dump_is_caught_by_its_sha256() {
    let d = tempfile::tempdir().unwrap();
    let mut text = mysqldump(20_000, true);
    let path = write_aged(d.path(), "shop.sql", &text, 2 * HOUR);
    sidecar(
        d.path(),
        "sha256sum",
        &["shop.sql"],
        "shop.sql.sha256",
        HOUR,
    );
    check(&path, &[]).expect("OK");
    // One bit in the middle, far from the head and tail that a plain dump is sampled at:
    // no compression checksum exists to see it, the marker is still there.
    let middle = text.len() / 2;
    text[middle] ^= 0x01;
    std::fs::write(&path, &text).unwrap();
    set_age(&path, 2 * HOUR);
    let a = check(&path, &["-v"]);
    a.expect("CRITICAL")
        .says("checksum mismatch: shop.sql.sha256 says ")
        .says(", the file hashes to ")
        .says(": the dump changed after it was checked, or the copy is damaged");
    assert!(
        a.stdout.contains("[OK] marker: mysqldump complete"),
        "{}",
        a.stdout
    );
    assert!(
        a.stdout.contains("hashed all ") && a.stdout.contains("(sha256) in the same pass"),
        "{}",
        a.stdout
    );
}

#[test]
fn a_compressed_dump_whose_sha256_does_not_match_is_critical() {
    let text = mysqldump(3000, true);
    for (ext, compress) in COMPRESSORS {
        let d = tempfile::tempdir().unwrap();
        let name = format!("shop.sql.{ext}");
        // The checksum of another night's dump: the stream itself is whole.
        write_aged(d.path(), &name, &compress(&mysqldump(2999, true)), 2 * HOUR);
        sidecar(
            d.path(),
            "sha256sum",
            &[&name],
            &format!("{name}.sha256"),
            HOUR,
        );
        let path = write_aged(d.path(), &name, &compress(&text), 2 * HOUR);
        let a = check(&path, &[]);
        a.expect("CRITICAL")
            .says(&format!("checksum mismatch: {name}.sha256 says "));
        assert!(a.stdout.contains(" stream intact, "), "{ext}: {}", a.stdout);
        // And the right checksum is OK.
        sidecar(
            d.path(),
            "sha256sum",
            &[&name],
            &format!("{name}.sha256"),
            HOUR,
        );
        let a = check(&path, &[]);
        a.expect("OK");
        assert_eq!(
            checksum_line(&a),
            format!("[OK] checksum: sha256 matches {name}.sha256"),
            "{ext}"
        );
    }
}

#[test]
fn a_stale_checksum_file_is_a_warning() {
    let d = tempfile::tempdir().unwrap();
    let path = write_aged(
        d.path(),
        "shop.sql.gz",
        &gzip(&mysqldump(1000, true)),
        3 * HOUR,
    );
    // Written for yesterday's dump, a day before this one.
    sidecar(
        d.path(),
        "sha256sum",
        &["shop.sql.gz"],
        "shop.sql.gz.sha256",
        27 * HOUR,
    );
    let a = check(&path, &[]);
    a.expect("WARNING").says(
        "checksum file shop.sql.gz.sha256 is stale: written 1d 0h before the dump (more than --settle 2m 0s), for an earlier dump; it still matches the dump",
    );
    // Within --settle of the dump it is not stale.
    set_age(&d.path().join("shop.sql.gz.sha256"), 3 * HOUR + 60);
    check(&path, &[]).expect("OK");
}

#[test]
fn bsd_style_binary_marker_and_crlf_lists_parse() {
    let dump = gzip(&mysqldump(1000, true));
    type Make = fn(&Path) -> String;
    let cases: [(&str, Make, &str); 4] = [
        (
            "sha256sum --tag",
            |d| tool(d, "sha256sum", &["--tag", "shop.sql.gz"]),
            "SHA256SUMS",
        ),
        (
            "sha256sum -b (binary marker)",
            |d| tool(d, "sha256sum", &["-b", "shop.sql.gz"]),
            "SHA256SUMS",
        ),
        (
            "CRLF list with other files and a path",
            |d| {
                let line = tool(d, "sha256sum", &["shop.sql.gz"]);
                let (hex, _) = line.split_once(' ').unwrap();
                format!(
                    "{}  other.sql.gz\r\n{hex} */var/backups/shop.sql.gz\r\n",
                    "0".repeat(64)
                )
            },
            "SHA256SUMS",
        ),
        (
            "md5sum --tag in a .md5",
            |d| tool(d, "md5sum", &["--tag", "shop.sql.gz"]),
            "shop.sql.gz.md5",
        ),
    ];
    for (what, make, file) in cases {
        let d = tempfile::tempdir().unwrap();
        let path = write_aged(d.path(), "shop.sql.gz", &dump, 2 * HOUR);
        let text = make(d.path());
        write_aged(d.path(), file, text.as_bytes(), HOUR);
        let a = check(&path, &[]);
        a.expect("OK");
        assert!(
            checksum_line(&a).ends_with(&format!(" matches {file}")),
            "{what}: {}",
            a.stdout
        );
        // The same list with the dump's digest changed is caught: its line was used.
        let hex = text
            .split(|c: char| !c.is_ascii_hexdigit())
            .find(|w| w.len() >= 32 && !w.chars().all(|c| c == '0'))
            .unwrap();
        let mut other = hex.to_string();
        other.replace_range(0..1, if hex.starts_with('0') { "1" } else { "0" });
        let flipped = text.replace(hex, &other);
        write_aged(d.path(), file, flipped.as_bytes(), HOUR);
        check(&path, &[])
            .expect("CRITICAL")
            .says(&format!("checksum mismatch: {file} says "));
    }
}

#[test]
fn a_checksum_file_for_another_dump_is_ignored_with_a_note() {
    let d = tempfile::tempdir().unwrap();
    let path = write_aged(
        d.path(),
        "shop.sql.gz",
        &gzip(&mysqldump(1000, true)),
        2 * HOUR,
    );
    write_aged(
        d.path(),
        "shop.sql.gz.sha256",
        format!("{}  shop-2026-11-30.sql.gz\n", "ab".repeat(32)).as_bytes(),
        HOUR,
    );
    let a = check(&path, &["-v"]);
    a.expect("OK").says("mysqldump complete");
    assert!(!a.stdout.contains("] checksum:"), "{}", a.stdout);
    assert!(
        a.stdout.contains(
            "checksum: shop.sql.gz.sha256 names shop-2026-11-30.sql.gz, not shop.sql.gz: ignored"
        ),
        "{}",
        a.stdout
    );
    // Required, it says why there is none.
    check(&path, &["--checksum", "require"])
        .expect("WARNING")
        .says("no checksum file for shop.sql.gz (--checksum require)")
        .says("; shop.sql.gz.sha256 names shop-2026-11-30.sql.gz, not shop.sql.gz: ignored");
}

#[test]
fn checksum_require_and_off() {
    let d = tempfile::tempdir().unwrap();
    let path = write_aged(
        d.path(),
        "shop.sql.gz",
        &gzip(&mysqldump(1000, true)),
        2 * HOUR,
    );
    check(&path, &["--checksum", "require"])
        .expect("WARNING")
        .says("no checksum file for shop.sql.gz (--checksum require): looked for shop.sql.gz.sha256, .sha512, .sha1, .md5 and SHA256SUMS");
    check(&path, &[]).expect("OK").says("mysqldump complete");
    sidecar(
        d.path(),
        "sha512sum",
        &["shop.sql.gz"],
        "shop.sql.gz.sha512",
        HOUR,
    );
    let a = check(&path, &["--checksum", "require"]);
    a.expect("OK");
    assert_eq!(
        checksum_line(&a),
        "[OK] checksum: sha512 matches shop.sql.gz.sha512"
    );
    // A wrong checksum is not looked at with --checksum off.
    write_aged(
        d.path(),
        "shop.sql.gz.sha512",
        format!("{}  shop.sql.gz\n", "0".repeat(128)).as_bytes(),
        HOUR,
    );
    check(&path, &[])
        .expect("CRITICAL")
        .says("checksum mismatch: shop.sql.gz.sha512 says 00000000…");
    let a = check(&path, &["--checksum", "off", "-v"]);
    a.expect("OK").says("mysqldump complete");
    assert!(!a.stdout.contains("checksum"), "{}", a.stdout);
}

#[test]
fn exclude_names_more_files_that_are_not_dumps() {
    let d = tempfile::tempdir().unwrap();
    write_aged(
        d.path(),
        "shop.sql.gz",
        &gzip(&mysqldump(1000, true)),
        2 * HOUR,
    );
    write_aged(d.path(), "shop.sql.gz.manifest", b"files: 1\n", HOUR);
    let dir = d.path().to_str().unwrap();
    // Unknown to check_backup, the manifest is the newest file and judged as the dump.
    run(&["-f", dir])
        .expect("WARNING")
        .says("cannot verify completeness: unknown dump format")
        .says("shop.sql.gz.manifest");
    let a = run(&[
        "-f",
        dir,
        "--exclude",
        "*.manifest",
        "--exclude",
        "README*",
        "-v",
    ]);
    a.expect("OK")
        .says("shop.sql.gz: 2h 0m old")
        .says("mysqldump complete");
    assert!(
        a.stdout.contains("shop.sql.gz.manifest: matches --exclude"),
        "{}",
        a.stdout
    );
    // From the configuration file too (keys are the long option names).
    let etc = tempfile::tempdir().unwrap();
    let config = etc.path().join("backups.toml");
    std::fs::write(
        &config,
        format!("[set.shop]\ndump = \"{dir}\"\nexclude = [\"*.manifest\"]\n"),
    )
    .unwrap();
    run(&["--config", config.to_str().unwrap(), "--set", "shop"])
        .expect("OK")
        .says("shop.sql.gz: 2h 0m old");
    // A pattern with a directory part never matches a name: refused.
    run(&["-f", dir, "--exclude", "/backups/*.manifest"])
        .expect("UNKNOWN")
        .says("it is matched against file names alone, without '/'");
    // Everything excluded: no dump, and the message says why.
    run(&["-f", dir, "--exclude", "shop*"])
        .expect("CRITICAL")
        .says("no dump found in ")
        .says("matches --exclude");
}

#[test]
fn per_database_sets_skip_checksum_files() {
    let d = tempfile::tempdir().unwrap();
    for db in ["shop", "crm"] {
        let name = format!("{db}_2026-12-01.sql.gz");
        write_aged(d.path(), &name, &gzip(&mysqldump(500, true)), 2 * HOUR);
        sidecar(
            d.path(),
            "sha256sum",
            &[&name],
            &format!("{name}.sha256"),
            HOUR,
        );
    }
    let a = run(&[
        "-f",
        d.path().to_str().unwrap(),
        "--per-database",
        "^([a-z]+)_",
        "--checksum",
        "require",
    ]);
    a.expect("OK");
    assert!(a.stdout.contains("crm_2026-12-01.sql.gz"), "{}", a.stdout);
    assert!(!a.stdout.contains(".sha256:"), "{}", a.stdout);
}

#[test]
fn a_verified_checksum_is_cached_and_judged_the_same() {
    let d = tempfile::tempdir().unwrap();
    let cache = d.path().join("cache");
    let cache = cache.to_str().unwrap();
    let path = write_aged(
        d.path(),
        "shop.sql.gz",
        &gzip(&mysqldump(3000, true)),
        2 * HOUR,
    );
    let p = path.to_str().unwrap();
    sidecar(
        d.path(),
        "sha256sum",
        &["shop.sql.gz"],
        "shop.sql.gz.sha256",
        HOUR,
    );
    let first = run(&["-f", p, "--cache-dir", cache, "-v"]);
    first.expect("OK");
    assert_eq!(
        checksum_line(&first),
        "[OK] checksum: sha256 matches shop.sql.gz.sha256"
    );
    assert!(
        first.stdout.contains("cache: verdict stored"),
        "{}",
        first.stdout
    );
    let second = run(&["-f", p, "--cache-dir", cache, "-v"]);
    second.expect("OK");
    assert!(
        second.stdout.contains("cache: hit, dump not decoded"),
        "{}",
        second.stdout
    );
    let line = checksum_line(&second);
    assert!(
        line.starts_with("[OK] checksum: sha256 matches shop.sql.gz.sha256 (hashed ")
            && line.ends_with(" ago, cached)"),
        "{line}"
    );
    assert_eq!(first.first_line(), second.first_line());
    // A rewritten checksum file is checked again, and a mismatch is cached as one.
    write_aged(
        d.path(),
        "shop.sql.gz.sha256",
        format!("{}  shop.sql.gz\n", "ab".repeat(32)).as_bytes(),
        HOUR,
    );
    let third = run(&["-f", p, "--cache-dir", cache, "-v"]);
    third
        .expect("CRITICAL")
        .says("checksum mismatch: shop.sql.gz.sha256 says abababab…");
    assert!(
        third
            .stdout
            .contains("the checksum file beside it is new, changed or gone"),
        "{}",
        third.stdout
    );
    let fourth = run(&["-f", p, "--cache-dir", cache, "-v"]);
    fourth
        .expect("CRITICAL")
        .says("checksum mismatch: shop.sql.gz.sha256 says abababab…");
    assert!(fourth.stdout.contains("cache: hit"), "{}", fourth.stdout);
    // Gone: checked again, without it.
    std::fs::remove_file(d.path().join("shop.sql.gz.sha256")).unwrap();
    let fifth = run(&["-f", p, "--cache-dir", cache, "-v"]);
    fifth.expect("OK");
    assert!(fifth.stdout.contains("cache: miss"), "{}", fifth.stdout);
}

#[test]
fn json_reports_the_checksum_finding_and_facts() {
    let d = tempfile::tempdir().unwrap();
    let path = write_aged(
        d.path(),
        "shop.sql.zst",
        &zstd(&mysqldump(1000, true)),
        2 * HOUR,
    );
    let text = sidecar(d.path(), "sha1sum", &["shop.sql.zst"], "SHA1SUMS", HOUR);
    let digest = text.split_whitespace().next().unwrap();
    let a = check(&path, &["--output", "json"]);
    assert_eq!(a.code, 0, "{}", a.stdout);
    let doc: serde_json::Value = serde_json::from_str(&a.stdout).unwrap();
    assert_eq!(doc["state"], "OK");
    let finding = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["check"] == "checksum")
        .unwrap_or_else(|| panic!("{}", a.stdout));
    assert_eq!(finding["state"], "OK");
    assert_eq!(finding["message"], "sha1 matches SHA1SUMS");
    let facts = &doc["facts"]["checksum"];
    assert_eq!(facts["file"], "SHA1SUMS");
    assert_eq!(facts["algorithm"], "sha1");
    assert_eq!(facts["expected"], digest);
    assert_eq!(facts["actual"], digest);
    assert_eq!(facts["matches"], true);
}
