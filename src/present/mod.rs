//! Presenting a [`Report`]: the Nagios plugin text (first line, long output, perfdata) and
//! the JSON document. No decisions here: states come from `evaluate`.

use crate::judge::{PerfDatum, Report};

/// Output format chosen with `--output`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Plugin text for Nagios, Icinga 2 and NRPE.
    Nagios,
    /// One JSON object (for the backup report and scripts).
    Json,
}

/// Old NRPE v2 peers cut the output at 1 KiB: the first line and its perfdata stay within it.
const FIRST_LINE_BYTES: usize = 1000;

/// A number as perfdata wants it: C locale, no exponent, no `NaN`/`inf`.
pub fn perf_number(value: f64) -> String {
    if !value.is_finite() {
        return "0".into();
    }
    if value == value.trunc() && value.abs() < 1e15 {
        format!("{}", value as i64)
    } else {
        let s = format!("{value:.3}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// A perfdata label reduced to `[a-z0-9_]`, which every parser and graph writer accepts
/// unquoted (the `nagiosplugin` crate does not escape labels).
pub fn perf_label(label: &str) -> String {
    let cleaned: String = label
        .chars()
        .map(|c| {
            let c = c.to_ascii_lowercase();
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if cleaned.is_empty() {
        "_".into()
    } else {
        cleaned
    }
}

/// `'label'=value[uom];[warn];[crit];[min];[max]`, empty trailing fields dropped. Threshold
/// slots hold a plain number only (Icinga 2 ignores ranges there).
pub fn perfdata_item(p: &PerfDatum) -> String {
    let slot = |v: Option<f64>| v.map(perf_number).unwrap_or_default();
    let mut s = format!(
        "{}={}{};{};{};{};{}",
        perf_label(&p.label),
        perf_number(p.value),
        p.uom,
        slot(p.warn.and_then(|r| r.perfdata_slot())),
        slot(p.crit.and_then(|r| r.perfdata_slot())),
        slot(p.min),
        slot(p.max),
    );
    while s.ends_with(';') {
        s.pop();
    }
    s
}

fn perfdata(report: &Report) -> String {
    report
        .perfdata
        .iter()
        .filter(|p| p.value.is_finite())
        .map(perfdata_item)
        .collect::<Vec<_>>()
        .join(" ")
}

fn shorten_to_bytes(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max.saturating_sub('…'.len_utf8());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

/// The plugin text: `BACKUP <STATE> - summary | perfdata`, then one line per finding, then
/// (with `-v`) the steps taken.
pub fn nagios(report: &Report, verbose: u8) -> String {
    let state = report.state();
    let perf = perfdata(report);
    let prefix = format!("BACKUP {state} - ");
    let budget = FIRST_LINE_BYTES.saturating_sub(prefix.len() + perf.len() + 3);
    let mut out = prefix + &shorten_to_bytes(&report.summary(), budget.max(80));
    if !perf.is_empty() {
        out.push_str(" | ");
        out.push_str(&perf);
    }
    out.push('\n');
    for f in &report.findings {
        out.push_str(&format!("[{}] {}: {}\n", f.state, f.check, f.message));
    }
    for (level, line) in &report.log_lines {
        out.push_str(&format!(
            "log line {} ({level}): {}\n",
            line.number,
            crate::text::safe(&line.text, 400)
        ));
    }
    if report.log_more > 0 {
        out.push_str(&format!(
            "... and {} more error/warning lines in the log\n",
            report.log_more
        ));
    }
    if verbose > 0 {
        for step in &report.trace {
            out.push_str(&format!("  {step}\n"));
        }
    }
    out
}

/// The JSON document (schema documented in README.md: keep it stable).
pub fn json(report: &Report, verbose: u8) -> String {
    let state = report.state();
    let findings: Vec<_> = report
        .findings
        .iter()
        .map(|f| {
            serde_json::json!({
                "check": f.check.name(),
                "state": f.state.to_string(),
                "message": f.message,
            })
        })
        .collect();
    let perfdata: Vec<_> = report
        .perfdata
        .iter()
        .map(|p| {
            serde_json::json!({
                "label": perf_label(&p.label),
                "value": p.value,
                "uom": p.uom,
                "warn": p.warn.map(|r| r.to_string()),
                "crit": p.crit.map(|r| r.to_string()),
                "min": p.min,
                "max": p.max,
            })
        })
        .collect();
    let mut doc = serde_json::json!({
        "plugin": "check_backup",
        "version": env!("CARGO_PKG_VERSION"),
        "checked_at": chrono::Local::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, false),
        "state": state.to_string(),
        "exit_code": state.exit_code(),
        "summary": report.summary(),
        "file": report.file,
        "findings": findings,
        "perfdata": perfdata,
        "facts": report.facts,
        "log_lines": report.log_lines.iter().map(|(level, l)| serde_json::json!({
            "level": level,
            "line": l.number,
            "text": crate::text::safe(&l.text, 400),
        })).collect::<Vec<_>>(),
    });
    if verbose > 0 {
        doc["trace"] = serde_json::json!(report.trace);
    }
    let mut text = serde_json::to_string_pretty(&doc).unwrap_or_else(|e| {
        format!("{{\"state\":\"UNKNOWN\",\"exit_code\":3,\"summary\":\"cannot encode JSON: {e}\"}}")
    });
    text.push('\n');
    text
}

/// Renders in the chosen format.
pub fn render(report: &Report, format: Format, verbose: u8) -> String {
    match format {
        Format::Nagios => nagios(report, verbose),
        Format::Json => json(report, verbose),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::judge::{Check, Finding, State};
    use crate::range::Range;

    fn datum(
        label: &str,
        value: f64,
        uom: &'static str,
        warn: Option<Range>,
        crit: Option<Range>,
    ) -> PerfDatum {
        PerfDatum {
            label: label.into(),
            value,
            uom,
            warn,
            crit,
            min: Some(0.0),
            max: None,
        }
    }

    #[test]
    fn numbers_are_c_locale_and_finite() {
        assert_eq!(perf_number(93600.0), "93600");
        assert_eq!(perf_number(-5.0), "-5");
        assert_eq!(perf_number(1.5), "1.5");
        assert_eq!(perf_number(0.1234), "0.123");
        assert_eq!(perf_number(f64::NAN), "0");
        assert_eq!(perf_number(f64::INFINITY), "0");
    }

    #[test]
    fn perfdata_grammar() {
        let age = datum(
            "age",
            11520.0,
            "s",
            Some(Range::upper(93600.0)),
            Some(Range::upper(180000.0)),
        );
        assert_eq!(perfdata_item(&age), "age=11520s;93600;180000;0");
        // A lower bound is a range, not a plain number: the slot stays empty.
        let size = datum("size", 1234.0, "B", Some(Range::lower(1000.0)), None);
        assert_eq!(perfdata_item(&size), "size=1234B;;;0");
        assert_eq!(perf_label("My DB's age=x"), "my_db_s_age_x");
    }

    #[test]
    fn first_line_is_bounded_and_has_no_pipe() {
        let mut r = Report::default();
        r.push(Finding::new(Check::Dump, State::Critical, "y".repeat(5000)));
        r.perfdata.push(datum("age", 1.0, "s", None, None));
        let text = nagios(&r, 0);
        let first = text.lines().next().unwrap();
        assert!(first.len() <= FIRST_LINE_BYTES, "{}", first.len());
        assert!(first.starts_with("BACKUP CRITICAL - yyy"));
        assert!(first.ends_with(" | age=1s;;;0"));
        assert_eq!(first.matches('|').count(), 1);
    }

    #[test]
    fn json_has_the_documented_fields() {
        let mut r = Report::default();
        r.push(Finding::new(Check::Age, State::Warning, "old"));
        r.perfdata
            .push(datum("age", 5.0, "s", Some(Range::upper(3.0)), None));
        let v: serde_json::Value = serde_json::from_str(&json(&r, 0)).unwrap();
        assert_eq!(v["state"], "WARNING");
        assert_eq!(v["exit_code"], 1);
        assert_eq!(v["findings"][0]["check"], "age");
        assert_eq!(v["perfdata"][0]["warn"], "3");
        assert_eq!(v["perfdata"][0]["crit"], serde_json::Value::Null);
        assert!(v["summary"].as_str().unwrap().contains("old"));
    }
}
