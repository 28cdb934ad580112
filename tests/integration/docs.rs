//! The documentation against the program: README commands that must work as written, and
//! what README and the man page (its source, examples/gen-docs.rs) say the plugin verifies.

use std::path::Path;

fn read(rel: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)).unwrap()
}

/// Two binaries are built: a bare `cargo run` fails ("could not determine which binary").
#[test]
fn readme_cargo_run_names_the_binary() {
    let readme = read("README.md");
    let runs: Vec<&str> = readme.lines().filter(|l| l.contains("cargo run")).collect();
    assert!(!runs.is_empty());
    for line in runs {
        assert!(
            line.contains("--bin check_backup") || line.contains("--bin backup-report"),
            "README: {line}"
        );
    }
}

/// pg_dump custom archives are verified block by block: neither README's exit-code table
/// nor the man page may list them as content that cannot be verified.
#[test]
fn pg_dump_custom_format_is_not_documented_as_unverifiable() {
    for (name, text) in [
        ("README.md", read("README.md")),
        ("gen-docs", read("examples/gen-docs.rs")),
    ] {
        let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(
            !flat.contains("(unknown format, pg_dump custom format)"),
            "{name} lists pg_dump custom format as unverifiable"
        );
    }
    // ...and the plugin indeed verifies one.
    let dump = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/real/postgres/shop.dump");
    if dump.exists() {
        let a = crate::util::check(&dump, &["-w", "100000d", "-c", "100001d"]);
        assert!(
            a.stdout
                .contains("pg_dump custom archive of 'shop' complete"),
            "{}",
            a.stdout
        );
    }
}
