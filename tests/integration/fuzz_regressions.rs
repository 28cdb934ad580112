//! Regression tests for what fuzzing (fuzz/, see RELIABILITY.md) and the review of its
//! invariants found: each is the smallest input that failed, run the way it failed.

use crate::api::{parse_size, read_log, LogRules, Range};
use crate::util::*;

/// `-t` with a value beyond what a `Duration` (or the watchdog's deadline) can hold made
/// the plugin panic while parsing its arguments, before the panic guard: exit 101 and no
/// output at all, which monitoring shows as a broken plugin. It is a usage error now.
#[test]
fn huge_timeout_is_a_usage_error_not_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let dump = write_aged(dir.path(), "db.sql.gz", &gzip(&mysqldump(10, true)), HOUR);
    for t in ["99999999999999999999999", "10000000000000000000", "400d"] {
        let a = check(&dump, &["-t", t]);
        a.expect("UNKNOWN")
            .says("invalid arguments")
            .says("at most 366d");
    }
    check(&dump, &["-t", "366d"]).expect("OK");
}

/// A size with more digits than an f64 holds parsed as infinity: `-W 9999...` (400 nines)
/// made every dump "only 65 KiB (warning never)". Sizes are finite now.
#[test]
fn absurdly_long_size_is_rejected() {
    let nines = "9".repeat(400);
    assert!(parse_size(&nines).is_err());
    assert!(Range::parse_with(&format!("{nines}:"), parse_size).is_err());
    let dir = tempfile::tempdir().unwrap();
    let dump = write_aged(dir.path(), "db.sql.gz", &gzip(&mysqldump(10, true)), HOUR);
    check(&dump, &["-W", &nines])
        .expect("UNKNOWN")
        .says("invalid arguments");
}

/// Found by the `decode` target: a `--marker-regex` with an alternation (`done|finished`)
/// was quoted raw in the "no completion marker" message, so the first line had a second
/// `|` and Nagios read the rest of the summary as perfdata. The quote is escaped now.
#[test]
fn marker_regex_quoted_in_a_message_cannot_start_perfdata() {
    let dir = tempfile::tempdir().unwrap();
    let dump = write_aged(dir.path(), "db.sql", b"-- x\nsome line\n", HOUR);
    let a = check(&dump, &["--marker-regex", "^-- (done|finished)$"]);
    a.expect("CRITICAL")
        .says("expected last line matching /^-- (done¦finished)$/");
    assert_eq!(a.first_line().matches('|').count(), 1, "{}", a.stdout);
    assert_eq!(a.perf("size"), Some(15.0));
}

/// Found by the `log` target (input `77 0a 0d 1c`: flags for the run-start pattern
/// `^\s*$`, then the log "\n\r\x1c"): its oracle, a forward scan for the last line
/// matching --log-run-start, disagreed with the backwards search, which never tried an
/// empty first line. With a pattern for blank lines (runs separated by an empty line), a
/// log whose only blank line is its first got "no line matches --log-run-start: judged
/// the whole log" (WARNING).
#[test]
fn an_empty_first_line_can_start_the_last_run() {
    let rules = LogRules {
        run_start: Some(regex::Regex::new(r"^\s*$").unwrap()),
        ..LogRules::default()
    };
    let now = chrono::Local::now();
    let facts = read_log(
        std::io::Cursor::new(b"\nINFO - exited with 0\n"),
        &rules,
        now,
    )
    .unwrap();
    assert!(!facts.run_start_missing);
    assert_eq!((facts.run_offset, facts.lines), (0, 2));
    // The input as the fuzzer found it ("\x1c" is not whitespace: only line 1 matches).
    let facts = read_log(std::io::Cursor::new(b"\n\r\x1c"), &rules, now).unwrap();
    assert!(!facts.run_start_missing);
    assert_eq!((facts.run_offset, facts.lines), (0, 2));
    // An empty log has no line at all.
    let facts = read_log(std::io::Cursor::new(b""), &rules, now).unwrap();
    assert!(facts.run_start_missing);
}
