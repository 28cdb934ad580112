//! The backup-log reader (`log::read_log`) and its judgement (`evaluate::evaluate_log`).
//!
//! Input layout: byte 0 picks the rules (bit 0: a run-start pattern, bits 1-2 which one;
//! bit 3: a success pattern; bit 4: extra error/warning/ignore patterns); the rest is the
//! log.
//!
//! Invariants (beyond "does not crash"):
//! - reading an in-memory log never fails; `size` is the log's length;
//! - the line count is that of an independent split on `\n`;
//! - with a run-start pattern, the run starts at the last line that matches it (found by an
//!   independent forward scan), and judging from there equals judging the tail alone
//!   without the pattern (the backwards search is exact);
//! - CRLF line ends are judged like LF ones;
//! - counts bound the kept lines, line numbers are increasing and within the run;
//! - a run with an error line, a non-zero exit status or a missing success line is never
//!   OK; every message is safe for output.

#![no_main]

mod common;

use std::io::Cursor;
use std::sync::OnceLock;
use std::time::{Duration, UNIX_EPOCH};

use check_backup::acquire::log::{self, LogFacts, LogRules, KEEP_LINES, MAX_LINE};
use check_backup::judge::log::{self as evaluate, LogThresholds};
use check_backup::judge::State;
use check_backup::range::Range;
use chrono::{Local, TimeZone};
use common::*;
use libfuzzer_sys::fuzz_target;
use regex::Regex;

struct Patterns {
    run_start: [Regex; 4],
    success: Regex,
    error: Regex,
    warning: Regex,
    ignore: Regex,
}

fn patterns() -> &'static Patterns {
    static P: OnceLock<Patterns> = OnceLock::new();
    P.get_or_init(|| {
        let re = |s: &str| check_backup::cli::bounded_regex(s).unwrap();
        Patterns {
            run_start: [
                re("^=== backup started"),
                re(r"starting backup|^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} INFO - start"),
                re("(?i)run"),
                // Blank lines: runs separated by an empty line.
                re(r"^\s*$"),
            ],
            success: re("backup complete"),
            error: re("rsync error|connection unexpectedly closed"),
            warning: re("(?i)table .* skipped"),
            ignore: re("Warning: Using a password"),
        }
    })
}

fn rules(flags: u8) -> LogRules {
    let p = patterns();
    let extra = flags & 16 != 0;
    LogRules {
        error: if extra { vec![p.error.clone()] } else { vec![] },
        warning: if extra {
            vec![p.warning.clone()]
        } else {
            vec![]
        },
        ignore: if extra {
            vec![p.ignore.clone()]
        } else {
            vec![]
        },
        success: (flags & 8 != 0).then(|| p.success.clone()),
        run_start: (flags & 1 != 0).then(|| p.run_start[((flags >> 1) & 3) as usize].clone()),
    }
}

fn read(log: &[u8], rules: &LogRules) -> LogFacts {
    let now = Local.with_ymd_and_hms(2026, 11, 26, 9, 0, 0).unwrap();
    log::read_log(Cursor::new(log), rules, now).expect("an in-memory log never fails to read")
}

/// Lines as `\n` splits them (a final empty segment is no line), with their offsets.
fn lines(log: &[u8]) -> Vec<(usize, &[u8])> {
    let mut out = Vec::new();
    let mut start = 0;
    for (i, &b) in log.iter().enumerate() {
        if b == b'\n' {
            out.push((start, &log[start..i]));
            start = i + 1;
        }
    }
    if start < log.len() {
        out.push((start, &log[start..]));
    }
    out
}

/// What a run-start pattern sees of a line: its first MAX_LINE bytes, lossy, without CR.
fn run_start_matches(re: &Regex, line: &[u8]) -> bool {
    let text = String::from_utf8_lossy(&line[..line.len().min(MAX_LINE)]);
    re.is_match(text.trim_end_matches(['\r', '\n']))
}

fn same_judgement(a: &LogFacts, b: &LogFacts, what: &str) {
    assert_eq!(a.lines, b.lines, "{what}: lines");
    assert_eq!(a.error_count, b.error_count, "{what}: errors");
    assert_eq!(a.warning_count, b.warning_count, "{what}: warnings");
    assert_eq!(a.errors, b.errors, "{what}: error lines");
    assert_eq!(a.warnings, b.warnings, "{what}: warning lines");
    assert_eq!(a.exit_status, b.exit_status, "{what}: exit status");
    assert_eq!(a.success_seen, b.success_seen, "{what}: success");
    assert_eq!(a.first_time, b.first_time, "{what}: first time");
    assert_eq!(a.last_time, b.last_time, "{what}: last time");
}

fuzz_target!(|data: &[u8]| {
    let Some((&flags, log)) = data.split_first() else {
        return;
    };
    let rules = rules(flags);
    let facts = read(log, &rules);
    assert_eq!(facts.size, log.len() as u64);

    let all = lines(log);
    match &rules.run_start {
        None => {
            assert_eq!(facts.run_offset, 0);
            assert!(!facts.run_start_missing);
            assert_eq!(facts.lines, all.len() as u64, "line count");
        }
        Some(re) => {
            let last = all.iter().rev().find(|(_, l)| run_start_matches(re, l));
            match last {
                Some((offset, _)) => {
                    assert!(!facts.run_start_missing, "a matching line exists");
                    assert_eq!(facts.run_offset, *offset as u64, "run start");
                }
                None => {
                    assert!(facts.run_start_missing, "no line matches");
                    assert_eq!(facts.run_offset, 0);
                }
            }
            // The last run judged in place equals the same bytes judged on their own.
            let tail = &log[facts.run_offset as usize..];
            let alone = LogRules {
                run_start: None,
                ..rules.clone()
            };
            same_judgement(&facts, &read(tail, &alone), "run vs tail alone");
        }
    }

    assert!(facts.errors.len() as u64 <= facts.error_count.min(KEEP_LINES as u64));
    assert!(facts.warnings.len() as u64 <= facts.warning_count.min(KEEP_LINES as u64));
    assert_eq!(
        facts.errors.len() as u64,
        facts.error_count.min(KEEP_LINES as u64)
    );
    assert_eq!(
        facts.warnings.len() as u64,
        facts.warning_count.min(KEEP_LINES as u64)
    );
    for kept in [&facts.errors, &facts.warnings] {
        assert!(kept.windows(2).all(|w| w[0].number < w[1].number));
        for l in kept.iter() {
            assert!(l.number >= 1 && l.number <= facts.lines);
            assert!(l.text.len() <= 3 * MAX_LINE, "kept line is bounded");
        }
    }
    if let Some((_, l)) = &facts.exit_status {
        assert!(l.number >= 1 && l.number <= facts.lines);
    }
    assert!(facts.long_lines <= facts.lines);

    // CRLF is judged like LF (when no line is near the examined length, where the extra
    // byte would move the cut).
    if all.iter().all(|(_, l)| l.len() + 2 < MAX_LINE) && !log.contains(&b'\r') {
        let mut crlf = Vec::with_capacity(log.len() * 2);
        for &b in log {
            if b == b'\n' {
                crlf.push(b'\r');
            }
            crlf.push(b);
        }
        let other = read(&crlf, &rules);
        same_judgement(&facts, &other, "CRLF vs LF");
        assert_eq!(facts.run_start_missing, other.run_start_missing);
    }

    // The judgement.
    let now = UNIX_EPOCH + Duration::from_secs(1_795_683_600);
    let mtime = now - Duration::from_secs(600);
    let t = LogThresholds {
        warn_age: Some(Range::upper(93_600.0)),
        crit_age: Some(Range::upper(180_000.0)),
        dump_slack: 7200.0,
        skew: 300.0,
        run_grace: 7200.0,
    };
    let (findings, perf, summary) =
        evaluate::evaluate_log(&facts, "backup.log", mtime, now, &t, &rules);
    assert_findings_safe(&findings);
    let state = worst(&findings);
    if evaluate::log_says_failed(&facts) {
        assert_eq!(state, State::Critical, "a failed run judged {state}");
    }
    if facts.warning_count > 0 || facts.run_start_missing {
        assert!(state >= State::Warning);
    }
    assert_eq!(summary.errors, facts.error_count);
    assert!(perf.iter().all(|p| p.value.is_finite()));
    let dump_mtime = now - Duration::from_secs(3600);
    let against = evaluate::evaluate_log_vs_dump(&facts, mtime, dump_mtime, true, None, &t);
    assert_findings_safe(&against);
    if evaluate::log_says_failed(&facts) {
        assert!(
            against.iter().any(|f| f.state == State::Critical),
            "--force trailer trusted"
        );
    }
});
