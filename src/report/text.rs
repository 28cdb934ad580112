//! The text report: what a cron job mails every morning. Worst first: a table of every
//! set (state, set, age, size, change, file), then the details of every set that is not OK
//! — its problems and the log's ERROR/WARN lines, quoted. Plain ASCII around the quoted
//! content; everything taken from files is made safe (no control characters).

use std::fmt::Write as _;

use super::result::{counts, SetResult};
use super::Page;
use crate::judge::State;
use crate::text::safe;
use crate::units::{human_duration, human_size};

/// Age of a result, for display.
pub fn age_text(r: &SetResult) -> String {
    r.shown_age()
        .map(human_duration)
        .unwrap_or_else(|| "-".into())
}

/// Size of a result, for display.
pub fn size_text(r: &SetResult) -> String {
    r.size_bytes().map(human_size).unwrap_or_else(|| "-".into())
}

/// Size change (percent against the median of earlier dumps), for display.
pub fn change_text(r: &SetResult) -> String {
    r.size_change()
        .map(|c| format!("{c:+.1}%"))
        .unwrap_or_else(|| "-".into())
}

/// The counts line: `2 CRITICAL, 1 WARNING, 0 UNKNOWN, 5 OK`.
pub fn counts_text(results: &[SetResult]) -> String {
    counts(results)
        .iter()
        .map(|(s, n)| format!("{n} {s}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn pad(text: &str, width: usize) -> String {
    let n = text.chars().count();
    format!("{text}{}", " ".repeat(width.saturating_sub(n)))
}

/// Renders the text report.
pub fn render(page: &Page) -> String {
    let mut out = String::new();
    let results = page.results;
    let fleet = results.iter().any(|r| r.host.is_some());
    let _ = writeln!(
        out,
        "Backup report for {}, {}",
        safe(page.host, 100),
        page.time_display
    );
    let _ = writeln!(
        out,
        "{} set{}: {}",
        results.len(),
        if results.len() == 1 { "" } else { "s" },
        counts_text(results)
    );
    if !page.notes.is_empty() {
        out.push_str("\nNotes on the report itself:\n");
        for n in page.notes {
            let _ = writeln!(out, "  ! {}", safe(n, 600));
        }
    }
    if results.is_empty() {
        out.push_str("\nNo backup sets were checked.\n");
        return out;
    }
    // The table; a pg_backupcluster set's entries on rows of their own below it.
    let rows: Vec<[String; 7]> = results
        .iter()
        .flat_map(|r| {
            let mut rows = vec![[
                r.state().to_string(),
                safe(r.host_or(page.host), 30),
                safe(&r.set, 30),
                age_text(r),
                size_text(r),
                change_text(r),
                r.file()
                    .map(|f| safe(&f, 120))
                    .unwrap_or_else(|| "-".into()),
            ]];
            rows.extend(r.entries().into_iter().map(|e| {
                [
                    format!("  {}", e.state),
                    String::new(),
                    format!("  {}", safe(&e.kind, 20)),
                    e.age_seconds
                        .map(human_duration)
                        .unwrap_or_else(|| "-".into()),
                    e.size_bytes.map(human_size).unwrap_or_else(|| "-".into()),
                    "-".into(),
                    safe(&e.entry, 120),
                ]
            }));
            rows
        })
        .collect();
    let header = ["STATE", "HOST", "SET", "AGE", "SIZE", "CHANGE", "FILE"];
    let mut widths = header.map(|h| h.chars().count());
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: [&str; 7]| {
        let mut l = String::new();
        for (i, cell) in cells.iter().enumerate() {
            if i == 1 && !fleet {
                continue;
            }
            if i == 6 {
                l.push_str(cell);
            } else {
                l.push_str(&pad(cell, widths[i]));
                l.push_str("  ");
            }
        }
        l.trim_end().to_string()
    };
    out.push('\n');
    let _ = writeln!(out, "{}", line(header));
    for row in &rows {
        let cells: [&str; 7] = std::array::from_fn(|i| row[i].as_str());
        let _ = writeln!(out, "{}", line(cells));
    }
    // The details.
    let detailed: Vec<&SetResult> = results
        .iter()
        .filter(|r| r.state() != State::Ok || !r.log_lines().is_empty())
        .collect();
    if !detailed.is_empty() {
        out.push_str("\nDetails, worst first\n====================\n");
    }
    for r in detailed {
        let who = match &r.host {
            Some(h) => format!("{} on {}", safe(&r.set, 60), safe(h, 60)),
            None => safe(&r.set, 60),
        };
        let _ = writeln!(out, "\n{} {who}", r.state());
        if let Some(f) = r.file() {
            let _ = writeln!(out, "  file:   {}", safe(&f, 300));
        }
        let mut facts = format!("  age:    {}   size: {}", age_text(r), size_text(r));
        if let Some(u) = r.uncompressed_bytes() {
            let _ = write!(facts, " ({} uncompressed)", human_size(u));
        }
        if let Some(c) = r.size_change() {
            let _ = write!(facts, "   change: {c:+.1}%");
        }
        let _ = writeln!(out, "{facts}");
        let problems = r.problems();
        if problems.is_empty() {
            let _ = writeln!(out, "  {}", safe(&r.summary(), 1000));
        }
        for p in problems {
            let _ = writeln!(
                out,
                "  [{}] {}: {}",
                p.state,
                safe(&p.check, 30),
                safe(&p.message, 600)
            );
        }
        let log = r.log_lines();
        if !log.is_empty() {
            out.push_str("  log problems:\n");
            for l in log {
                let at = l.line.map(|n| format!("line {n} ")).unwrap_or_default();
                let _ = writeln!(
                    out,
                    "    > {at}({}) {}",
                    safe(&l.level, 10),
                    safe(&l.text, 400)
                );
            }
        }
    }
    out
}
