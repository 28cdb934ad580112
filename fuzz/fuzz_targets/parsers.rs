//! The command-line value parsers (`units::parse_duration`, `units::parse_size`,
//! `range::Range::parse`, `Range::parse_with`) and the whole command line (`cli::parse`).
//!
//! Input layout: byte 0 picks the parser (odd: the rest split on NUL bytes is the argv
//! after the program name, arbitrary bytes included; 2 modulo 4: the rest is a
//! configuration file's text; else the value parsers on the rest as text).
//!
//! Invariants (beyond "does not crash"):
//! - a parsed duration is finite and >= 0; a parsed size finite, >= 0 and whole bytes;
//! - a parsed range has no NaN, start <= end, and round-trips through its Display text
//!   (plain, duration and size ranges alike); its own ends never alert (unless `@`);
//! - `cli::parse` never panics; a usage error is one UNKNOWN text whose lines carry no
//!   control characters and whose first line has no `|`; a parsed config has sane
//!   thresholds and a representable timeout.
//!
//! - a configuration file (`ConfigFile::parse`) never panics; an error names a line within
//!   the text (or none); every set it accepts gives arguments that `cli::parse` takes
//!   without a panic, as check_backup --config FILE --set NAME would.

#![no_main]

mod common;

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::time::Instant;

use check_backup::cli::config::ConfigFile;
use check_backup::cli::{self, Parsed};
use check_backup::range::Range;
use check_backup::units::{human_duration, human_size, parse_duration, parse_size};
use libfuzzer_sys::fuzz_target;

fn check_range(r: &Range, reparse: impl Fn(&str) -> Option<Range>, what: &str) {
    assert!(!r.start.is_nan() && !r.end.is_nan(), "{what}: NaN in {r:?}");
    assert!(r.start <= r.end, "{what}: start after end in {r:?}");
    assert!(
        r.start < f64::INFINITY && r.end > f64::NEG_INFINITY,
        "{what}: empty {r:?}"
    );
    let shown = r.to_string();
    assert_eq!(
        reparse(&shown),
        Some(*r),
        "{what}: {r:?} shown as {shown:?} does not parse back"
    );
    if !r.inside {
        assert!(r.start == f64::NEG_INFINITY || !r.alerts(r.start));
        assert!(r.end == f64::INFINITY || !r.alerts(r.end));
    }
    assert!(r.alerts(f64::NAN));
}

fn value_parsers(text: &str) {
    if let Ok(v) = parse_duration(text) {
        assert!(v.is_finite() && v >= 0.0, "duration {text:?} = {v}");
        assert!(!human_duration(v).is_empty());
    }
    if let Ok(v) = parse_size(text) {
        assert!(
            v.is_finite() && v >= 0.0 && v == v.round(),
            "size {text:?} = {v}"
        );
        assert!(!human_size(v).is_empty());
    }
    if let Ok(r) = Range::parse(text) {
        check_range(&r, |s| Range::parse(s).ok(), "range");
    }
    if let Ok(r) = Range::parse_with(text, parse_duration) {
        check_range(
            &r,
            |s| Range::parse_with(s, parse_duration).ok(),
            "duration range",
        );
    }
    if let Ok(r) = Range::parse_with(text, parse_size) {
        check_range(&r, |s| Range::parse_with(s, parse_size).ok(), "size range");
    }
}

fn check_config(c: &cli::Config) {
    let t = &c.thresholds;
    for r in [t.warn_age, t.crit_age, t.warn_size, t.crit_size]
        .into_iter()
        .flatten()
    {
        assert!(
            !r.start.is_nan() && !r.end.is_nan() && r.start <= r.end,
            "{r:?}"
        );
    }
    assert!(t.future_tolerance.is_finite() && t.future_tolerance >= 0.0);
    assert!(c.settle.is_finite() && c.settle >= 0.0);
    if let Some(d) = c.timeout {
        // The watchdog's deadline is now + the limit: it must be representable.
        assert!(!d.is_zero());
        assert!(
            Instant::now().checked_add(d).is_some(),
            "timeout {d:?} overflows the deadline"
        );
    }
    if let Some(log) = &c.log {
        let lt = &log.thresholds;
        assert!(lt.dump_slack.is_finite() && lt.skew.is_finite());
        for r in [lt.warn_age, lt.crit_age].into_iter().flatten() {
            assert!(r.start <= r.end);
        }
    }
    assert!(c.dump.is_some() || c.log.is_some(), "nothing to check");
}

fn command_line(rest: &[u8]) {
    let mut argv = vec![OsString::from("check_backup")];
    if !rest.is_empty() {
        argv.extend(
            rest.split(|&b| b == 0)
                .map(|a| OsString::from_vec(a.to_vec())),
        );
    }
    match cli::parse(argv) {
        Parsed::Run(config) => check_config(&config),
        Parsed::Exit(text) => {
            assert!(!text.is_empty());
            if text.starts_with("BACKUP UNKNOWN - invalid arguments: ") {
                let first = text.lines().next().unwrap();
                assert!(!first.contains('|'), "pipe in the first line: {first:?}");
                for c in text.chars() {
                    assert!(
                        c == '\n' || !c.is_control(),
                        "control character in {text:?}"
                    );
                }
            }
        }
    }
}

fn config_file(text: &str) {
    let path = std::path::Path::new("/etc/check_backup/backups.toml");
    let config = match ConfigFile::parse(path, text) {
        Ok(c) => c,
        Err(e) => {
            let lines = text.matches('\n').count() + 1;
            assert!(
                e.line.is_none_or(|l| l >= 1 && l <= lines),
                "line {:?} of {lines}",
                e.line
            );
            assert!(!e.message.is_empty());
            return;
        }
    };
    for name in config.set_names().into_iter().take(8) {
        let Ok(args) = config.args_for(&name, &[]) else {
            continue;
        };
        let mut argv = vec![OsString::from("check_backup")];
        argv.extend(args);
        match cli::parse(argv) {
            Parsed::Run(c) => check_config(&c),
            Parsed::Exit(text) => assert!(!text.is_empty()),
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    if which % 4 == 2 {
        config_file(&String::from_utf8_lossy(rest));
    } else if which & 1 == 0 {
        value_parsers(&String::from_utf8_lossy(rest));
        if rest.len() >= 8 {
            let x = f64::from_le_bytes(rest[..8].try_into().unwrap());
            let _ = (human_duration(x), human_size(x));
        }
    } else {
        command_line(rest);
    }
});
