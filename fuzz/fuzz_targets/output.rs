//! Output escaping (`text::safe`, `safe_bytes`, `safe_path`) and the presenters
//! (`output::nagios`, `output::json`) on reports full of hostile text: finding messages,
//! file names, log lines, marker dates, perfdata labels and values (NaN, infinities).
//!
//! Finding messages are built as the check builds them (foreign text always passes through
//! `text::safe*`); log lines, perfdata labels and marker dates are passed raw, as the
//! presenters receive them.
//!
//! Invariants:
//! - `safe*` output has no control character, no `|`, no bidi override, and is bounded
//!   (`max` characters plus one `…`); `safe` is idempotent on what it did not shorten;
//! - the plugin text ends with a newline and has no control character but `\n` line breaks
//!   anywhere; its first line has exactly one `|` when there is perfdata (a finite value),
//!   none otherwise, and the perfdata after it follows the grammar; the long output lines
//!   have no `|` (Nagios would read perfdata there); the first line stays within 1000 bytes
//!   when the perfdata leaves room;
//! - the JSON document parses and agrees with the report's state and exit code.

#![no_main]

mod common;

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::OnceLock;

use check_backup::acquire::log::LogLine;
use check_backup::judge::log::LogSummary;
use check_backup::judge::restore_points::PointSummary;
use check_backup::facts::TableCount;
use check_backup::judge::rpo::RpoSummary;
use check_backup::judge::schedule::ScheduleSummary;
use check_backup::judge::{Check, Facts, Finding, PerfDatum, Report, State};
use check_backup::present as output;
use check_backup::range::Range;
use check_backup::text;
use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;

const CHECKS: [Check; 6] = [
    Check::Dump,
    Check::Age,
    Check::Stream,
    Check::Marker,
    Check::LogErrors,
    Check::Timeout,
];
const STATES: [State; 4] = [State::Ok, State::Warning, State::Critical, State::Unknown];
const UOMS: [&str; 5] = ["s", "B", "%", "c", ""];

fn assert_safe(what: &str, out: &str, max: usize) {
    common::assert_one_line_safe(what, out);
    assert!(
        out.chars().count() <= max.saturating_add(1),
        "{what}: too long: {out:?}"
    );
}

/// Foreign text made safe the way the check does it, checking the escaper on the way.
fn foreign(u: &mut Unstructured) -> Result<String> {
    let max = u.int_in_range(0..=400usize)?;
    Ok(match u.int_in_range(0..=3u8)? {
        0 => {
            let s: String = u.arbitrary()?;
            let out = text::safe(&s, max);
            assert_safe("safe", &out, max);
            if out.chars().count() <= max && !out.ends_with('…') {
                assert_eq!(text::safe(&out, max), out, "safe is not idempotent");
            }
            out
        }
        1 => {
            let b: &[u8] = u.arbitrary()?;
            let out = text::safe_bytes(b, max);
            assert_safe("safe_bytes", &out, max);
            out
        }
        2 => {
            let b: &[u8] = u.arbitrary()?;
            let out = text::safe_path(Path::new(OsStr::from_bytes(b)), max);
            assert_safe("safe_path", &out, max);
            out
        }
        _ => {
            let s: String = u.arbitrary()?;
            format!("dump incomplete: last line is '{}'", text::safe(&s, 80))
        }
    })
}

fn float(u: &mut Unstructured) -> Result<f64> {
    Ok(match u.int_in_range(0..=7u8)? {
        0 => f64::NAN,
        1 => f64::INFINITY,
        2 => f64::NEG_INFINITY,
        3 => f64::from(u.arbitrary::<u32>()?),
        _ => u.arbitrary()?,
    })
}

fn range(u: &mut Unstructured) -> Result<Option<Range>> {
    Ok(if u.arbitrary()? {
        Some(Range {
            start: float(u)?,
            end: float(u)?,
            inside: u.arbitrary()?,
        })
    } else {
        None
    })
}

fn report(u: &mut Unstructured) -> Result<Report> {
    let mut r = Report::default();
    for _ in 0..u.int_in_range(0..=6u8)? {
        r.push(Finding::new(
            *u.choose(&CHECKS)?,
            *u.choose(&STATES)?,
            foreign(u)?,
        ));
    }
    for _ in 0..u.int_in_range(0..=8u8)? {
        r.perfdata.push(PerfDatum {
            label: u.arbitrary()?,
            value: float(u)?,
            uom: u.choose(&UOMS)?,
            warn: range(u)?,
            crit: range(u)?,
            min: if u.arbitrary()? {
                Some(float(u)?)
            } else {
                None
            },
            max: if u.arbitrary()? {
                Some(float(u)?)
            } else {
                None
            },
        });
    }
    if u.arbitrary()? {
        r.file = Some(foreign(u)?);
    }
    r.facts = Facts {
        age_seconds: if u.arbitrary()? {
            Some(float(u)?)
        } else {
            None
        },
        mtime: u.arbitrary()?,
        size_bytes: u.arbitrary()?,
        uncompressed_bytes: u.arbitrary()?,
        compression: Some(*u.choose(&["gzip", "plain", "zstd"])?),
        decrypted_with: if u.arbitrary()? {
            Some(*u.choose(&["gpg", "age"])?)
        } else {
            None
        },
        writer: Some(*u.choose(&["mysqldump", "unknown", "pg_dump"])?),
        marker: u.arbitrary()?,
        marker_date: u.arbitrary()?,
        content_cached: u.arbitrary()?,
        content_verified_at: u.arbitrary()?,
        log: if u.arbitrary()? {
            Some(LogSummary {
                file: foreign(u)?,
                age_seconds: float(u)?,
                exit_status: u.arbitrary()?,
                errors: u.arbitrary()?,
                warnings: u.arbitrary()?,
                lines: u.arbitrary()?,
                run_started: u.arbitrary()?,
                duration_seconds: if u.arbitrary()? {
                    Some(float(u)?)
                } else {
                    None
                },
            })
        } else {
            None
        },
        databases: None,
        sections: None,
        checksum: None,
        entries: None,
        restore_points: if u.arbitrary()? {
            Some(vec![PointSummary {
                file: foreign(u)?,
                mtime: u.arbitrary()?,
                age_seconds: float(u)?,
                verdict: *u.choose(&["good", "bad", "unverified"])?,
                problem: u.arbitrary()?,
            }])
        } else {
            None
        },
        schedule: if u.arbitrary()? {
            Some(ScheduleSummary {
                expression: foreign(u)?,
                grace_seconds: float(u)?,
                last_due: u.arbitrary()?,
                next_run: u.arbitrary()?,
            })
        } else {
            None
        },
        rpo: if u.arbitrary()? {
            Some(RpoSummary {
                basis: *u.choose(&["schedule", "warning age"])?,
                rpo_seconds: None,
                days: 30,
                observed_seconds: float(u)?,
                percent: float(u)?,
                good_dumps: u.arbitrary()?,
                bad_dumps: u.arbitrary()?,
                unverified_dumps: u.arbitrary()?,
            })
        } else {
            None
        },
        tables: if u.arbitrary()? {
            Some(vec![TableCount {
                name: foreign(u)?,
                rows: u.arbitrary()?,
            }])
        } else {
            None
        },
    };
    for _ in 0..u.int_in_range(0..=4u8)? {
        let level = *u.choose(&["ERROR", "WARN"])?;
        r.log_lines.push((
            level,
            LogLine {
                number: u.arbitrary()?,
                text: u.arbitrary()?,
            },
        ));
    }
    r.log_more = u.arbitrary()?;
    for _ in 0..u.int_in_range(0..=3u8)? {
        let s: String = u.arbitrary()?;
        r.trace.push(text::safe(&s, 300));
    }
    Ok(r)
}

fn perf_grammar() -> &'static regex::Regex {
    static RE: OnceLock<regex::Regex> = OnceLock::new();
    RE.get_or_init(|| {
        let num = r"-?[0-9]+(?:\.[0-9]+)?";
        let item = format!(r"[a-z0-9_]+={num}(?:s|B|%|c)?(?:;(?:{num})?){{0,4}}");
        regex::Regex::new(&format!("^{item}(?: {item})*$")).unwrap()
    })
}

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let Ok(report) = report(&mut u) else {
        return;
    };
    let verbose = u8::from(data.first().is_some_and(|b| b & 1 == 1));
    let state = report.state();
    let has_perf = report.perfdata.iter().any(|p| p.value.is_finite());

    let text = output::nagios(&report, verbose);
    assert!(text.ends_with('\n'));
    for c in text.chars() {
        assert!(
            c == '\n' || !c.is_control(),
            "control character {c:?} in {text:?}"
        );
        assert!(
            !matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'),
            "bidi override"
        );
    }
    let mut lines = text.lines();
    let first = lines.next().unwrap();
    assert!(
        first.starts_with(&format!("BACKUP {state} - ")),
        "{first:?}"
    );
    assert_eq!(
        first.matches('|').count(),
        usize::from(has_perf),
        "pipes in {first:?}"
    );
    let perf: Vec<String> = report
        .perfdata
        .iter()
        .filter(|p| p.value.is_finite())
        .map(output::perfdata_item)
        .collect();
    let perf = perf.join(" ");
    if has_perf {
        let (_, after) = first.split_once(" | ").expect("' | ' before the perfdata");
        assert_eq!(after, perf);
        assert!(
            perf_grammar().is_match(after),
            "perfdata grammar: {after:?}"
        );
    }
    if perf.len() + "BACKUP CRITICAL - ".len() + 3 + 80 <= 1000 {
        assert!(first.len() <= 1000, "first line is {} bytes", first.len());
    }
    for line in lines {
        assert!(!line.contains('|'), "'|' in the long output: {line:?}");
    }

    let json = output::json(&report, verbose);
    let v: serde_json::Value = serde_json::from_str(&json).expect("valid JSON");
    assert_eq!(v["state"], state.to_string());
    assert_eq!(v["exit_code"], state.exit_code());
});
