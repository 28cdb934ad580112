//! Helpers shared by the fuzz targets: output-safety assertions and reference oracles.
#![allow(dead_code)]

use check_backup::judge::{Finding, State};

/// Text that may appear in plugin output: no control character (not even a newline: a
/// finding's message is one line), no `|`, no bidirectional override.
pub fn assert_one_line_safe(what: &str, text: &str) {
    for c in text.chars() {
        assert!(
            !c.is_control(),
            "{what}: control character {:?} in {text:?}",
            c
        );
        assert!(c != '|', "{what}: '|' in {text:?}");
        assert!(
            !matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'),
            "{what}: bidi override in {text:?}"
        );
    }
}

/// Every finding's message is safe for output.
pub fn assert_findings_safe(findings: &[Finding]) {
    for f in findings {
        assert_one_line_safe(f.check.name(), &f.message);
    }
}

/// The state a report made of these findings would have (worst wins; none = UNKNOWN).
pub fn worst(findings: &[Finding]) -> State {
    findings
        .iter()
        .map(|f| f.state)
        .max()
        .unwrap_or(State::Unknown)
}

/// ASCII-whitespace-trimmed end of a line, as dump tools' trailers are compared.
pub fn trim_end(line: &[u8]) -> &[u8] {
    let end = line
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(0, |p| p + 1);
    &line[..end]
}
