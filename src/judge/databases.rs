//! Judging a set of databases: one line per database of a per-database set (each judged
//! exactly as a single dump is), and the coverage rules of `--expect-databases`.

use super::{Check, DatabaseSummary, Finding, Report, State, PATH_CHARS};
use crate::text::{safe, safe_path};

/// No dump below `root` matches the per-database pattern.
pub fn none_found(root: &std::path::Path, pattern: &str) -> Finding {
    Finding::new(
        Check::Dump,
        State::Critical,
        format!(
            "no dump found below {} whose path matches --per-database /{}/",
            safe_path(root, PATH_CHARS),
            safe(pattern, 100)
        ),
    )
}

/// One database's line, from the report its newest dump got: its worst problems, or its
/// summary when it is OK. Also returns its summary for JSON.
pub fn database(name: &str, sub: &Report) -> (Finding, DatabaseSummary) {
    let state = sub.state();
    let problems: Vec<String> = sub
        .findings
        .iter()
        .filter(|f| f.state == state && state != State::Ok)
        .map(|f| f.message.clone())
        .collect();
    let shown = safe(name, 60);
    let message = if problems.is_empty() {
        format!("{shown}: {}", sub.summary())
    } else {
        format!("{shown}: {}", problems.join("; "))
    };
    (
        Finding::new(Check::Database, state, message),
        DatabaseSummary {
            name: name.to_string(),
            state: state.to_string(),
            file: sub.file.clone(),
            age_seconds: sub.facts.age_seconds,
            size_bytes: sub.facts.size_bytes,
        },
    )
}

/// An expected database without any dump: CRITICAL.
pub fn missing_expected(name: &str) -> (Finding, DatabaseSummary) {
    (
        Finding::new(
            Check::Coverage,
            State::Critical,
            format!(
                "no dump of database {} (expected by --expect-databases)",
                safe(name, 60)
            ),
        ),
        DatabaseSummary {
            name: name.to_string(),
            state: State::Critical.to_string(),
            ..Default::default()
        },
    )
}

/// `--expect-databases` on one dump: the databases it holds (`found`, when they could be
/// read) must include the expected ones.
pub fn sections(expected: &[String], found: Option<&[String]>) -> Finding {
    match found {
        Some(found) if !found.is_empty() => {
            let missing: Vec<&str> = expected
                .iter()
                .filter(|db| !found.contains(db))
                .map(|s| s.as_str())
                .collect();
            if missing.is_empty() {
                Finding::new(
                    Check::Coverage,
                    State::Ok,
                    format!("all {} expected databases are in the dump", expected.len()),
                )
            } else {
                Finding::new(
                    Check::Coverage,
                    State::Critical,
                    format!(
                        "the dump lacks database{} {} (it holds {})",
                        if missing.len() == 1 { "" } else { "s" },
                        safe(&missing.join(", "), 300),
                        safe(&found.join(", "), 300)
                    ),
                )
            }
        }
        _ => Finding::new(
            Check::Coverage,
            State::Unknown,
            "cannot tell which databases the dump holds: --expect-databases needs --per-database, or an --all-databases mysqldump / pg_dumpall dump whose content was read in this check",
        ),
    }
}
