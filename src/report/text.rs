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

/// `2026-12-01T02:30:00+01:00` → `2026-12-01 02:30` (as given when it does not parse).
pub fn time_text(rfc3339: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(rfc3339)
        .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_else(|_| rfc3339.to_string())
}

/// The next scheduled run, for display (`-` without a schedule).
pub fn next_run_text(r: &SetResult) -> String {
    match r.schedule() {
        Some(s) => s
            .next_run
            .as_deref()
            .map(time_text)
            .unwrap_or_else(|| "never".into()),
        None => "-".into(),
    }
}

/// The restore points: `7, oldest 6d 23h` or `7 (1 bad), oldest 6d 23h` (`-` when the set
/// does not ask for them).
pub fn points_text(r: &SetResult) -> String {
    let Some(p) = r.restore_points() else {
        return "-".into();
    };
    let mut t = p.count.to_string();
    let mut not_good = Vec::new();
    if !p.bad.is_empty() {
        not_good.push(format!("{} bad", p.bad.len()));
    }
    if p.unverified > 0 {
        not_good.push(format!("{} unverified", p.unverified));
    }
    if !not_good.is_empty() {
        let _ = write!(t, " ({})", not_good.join(", "));
    }
    if let Some(age) = p.oldest_age {
        let _ = write!(t, ", oldest {}", human_duration(age));
    }
    t
}

/// RPO compliance: `99.6%`, or `97.0% of 7d 2h` when the history is shorter than the window.
pub fn rpo_text(r: &SetResult) -> String {
    let Some(rpo) = r.rpo() else {
        return "-".into();
    };
    let window = f64::from(rpo.days) * 86_400.0;
    if rpo.observed_seconds + 60.0 < window {
        format!(
            "{:.1}% of {}",
            rpo.percent,
            human_duration(rpo.observed_seconds)
        )
    } else {
        format!("{:.1}%", rpo.percent)
    }
}

/// The last restore drill: `2026-11-29 04:31 restored in 3m 12s`, `... FAILED after 12s`
/// (`-` without one).
pub fn drill_text(r: &SetResult) -> String {
    let Some(d) = &r.drill else {
        return "-".into();
    };
    let when = i64::try_from(d.finished_at)
        .ok()
        .and_then(|t| chrono::DateTime::from_timestamp(t, 0))
        .map(|t| {
            t.with_timezone(&chrono::Local)
                .format("%Y-%m-%d %H:%M")
                .to_string()
        })
        .unwrap_or_else(|| "-".into());
    let took = crate::judge::drill::took(d.restore_seconds);
    // Of a --per-database set: the database whose drill stands for the set.
    let of = d
        .database
        .as_deref()
        .map(|db| format!(" (database {})", safe(db, 40)))
        .unwrap_or_default();
    match d.outcome {
        crate::facts::DrillOutcome::Restored => format!("{when} restored in {took}{of}"),
        crate::facts::DrillOutcome::Failed => format!("{when} FAILED after {took}{of}"),
    }
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

/// How one column's cell is made from a result.
type Cell<'a> = Box<dyn Fn(&SetResult) -> String + 'a>;

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
    // The table; the schedule, restore point and RPO columns only when a set has them.
    let has = |f: &dyn Fn(&SetResult) -> bool| results.iter().any(f);
    let mut columns: Vec<(&str, Cell)> = vec![
        ("STATE", Box::new(|r| r.state().to_string())),
        ("HOST", Box::new(|r| safe(r.host_or(page.host), 30))),
        ("SET", Box::new(|r| safe(&r.set, 30))),
        ("AGE", Box::new(age_text)),
        ("SIZE", Box::new(size_text)),
        ("CHANGE", Box::new(change_text)),
    ];
    if !fleet {
        let _host = columns.remove(1);
    }
    if has(&|r| r.schedule().is_some()) {
        columns.push(("NEXT RUN", Box::new(next_run_text)));
    }
    if has(&|r| r.restore_points().is_some()) {
        columns.push(("RESTORE POINTS", Box::new(points_text)));
    }
    if has(&|r| r.rpo().is_some()) {
        columns.push(("RPO 30D", Box::new(rpo_text)));
    }
    if has(&|r| r.drill.is_some()) {
        columns.push(("LAST DRILL", Box::new(drill_text)));
    }
    columns.push((
        "FILE",
        Box::new(|r| {
            r.file()
                .map(|f| safe(&f, 120))
                .unwrap_or_else(|| "-".into())
        }),
    ));
    // A pg_backupcluster set's entries on rows of their own below its row.
    let entry_row = |e: &super::result::EntryRow| -> Vec<String> {
        columns
            .iter()
            .map(|(h, _)| match *h {
                "STATE" => format!("  {}", e.state),
                "HOST" => String::new(),
                "SET" => format!("  {}", safe(&e.kind, 20)),
                "AGE" => e
                    .age_seconds
                    .map(human_duration)
                    .unwrap_or_else(|| "-".into()),
                "SIZE" => e.size_bytes.map(human_size).unwrap_or_else(|| "-".into()),
                "FILE" => safe(&e.entry, 120),
                _ => "-".into(),
            })
            .collect()
    };
    let rows: Vec<Vec<String>> = results
        .iter()
        .flat_map(|r| {
            let mut rows = vec![columns.iter().map(|(_, cell)| cell(r)).collect()];
            rows.extend(r.entries().iter().map(entry_row));
            rows
        })
        .collect();
    let header: Vec<String> = columns.iter().map(|(h, _)| h.to_string()).collect();
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let last = columns.len() - 1;
    let line = |cells: &[String]| {
        let mut l = String::new();
        for (i, cell) in cells.iter().enumerate() {
            if i == last {
                l.push_str(cell);
            } else {
                l.push_str(&pad(cell, widths[i]));
                l.push_str("  ");
            }
        }
        l.trim_end().to_string()
    };
    out.push('\n');
    let _ = writeln!(out, "{}", line(&header));
    for row in &rows {
        let _ = writeln!(out, "{}", line(row));
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
        if let Some(sch) = r.schedule() {
            let _ = writeln!(
                out,
                "  schedule: {} (next run {})",
                safe(&sch.expression, 100),
                next_run_text(r)
            );
        }
        if let Some(p) = r.restore_points() {
            let _ = writeln!(out, "  restore points: {}", points_text(r));
            for (file, problem) in &p.bad {
                let _ = writeln!(out, "    bad: {}: {}", safe(file, 200), safe(problem, 400));
            }
        }
        if let Some(rpo) = r.rpo() {
            let basis = match rpo.rpo_seconds {
                Some(s) => format!("a good dump younger than {}", human_duration(s)),
                None => "a good dump newer than the last due run".into(),
            };
            let mut extra = String::new();
            if rpo.bad + rpo.unverified > 0 {
                extra = format!("; {} bad, {} unverified dumps", rpo.bad, rpo.unverified);
            }
            let line = format!(
                "  RPO {}d: {:.1}% of the time {basis} (history on disk: {}{extra})",
                rpo.days,
                rpo.percent,
                human_duration(rpo.observed_seconds)
            );
            let _ = writeln!(out, "{line}");
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::result::Source;

    fn with_drill(outcome: &str, seconds: f64) -> SetResult {
        let mut r = SetResult::unknown("shop", None, Source::Local, "x");
        r.drill = Some(
            serde_json::from_value(serde_json::json!({
                "set": "/b", "dump": "/b/shop.sql", "dump_size": 1, "dump_mtime_ns": 1,
                "writer": "mysqldump", "server": "mariadbd", "finished_at": 1_796_000_000u64,
                "outcome": outcome, "error": null, "differences": [],
                "restore_seconds": seconds, "tables": 3, "views": 0, "rows": 10, "bytes": 100,
                "databases": []
            }))
            .unwrap(),
        );
        r
    }

    #[test]
    fn the_last_drill_says_when_how_and_how_long() {
        let t = drill_text(&with_drill("restored", 192.0));
        assert!(t.starts_with("2026-11-"), "{t}");
        assert!(t.ends_with(" restored in 3m 12s"), "{t}");
        let t = drill_text(&with_drill("failed", 0.25));
        assert!(t.ends_with(" FAILED after 0.2s"), "{t}");
        let none = SetResult::unknown("shop", None, Source::Local, "x");
        assert_eq!(drill_text(&none), "-");
        // A --per-database set's drill names the database whose drill stands for the set.
        let mut per_db = with_drill("failed", 2.0);
        if let Some(d) = per_db.drill.as_mut() {
            d.database = Some("crm".into());
        }
        let t = drill_text(&per_db);
        assert!(t.ends_with(" FAILED after 2.0s (database crm)"), "{t}");
    }

    #[test]
    fn a_per_database_sets_weakest_drill_is_a_failed_one_else_the_oldest() {
        use crate::facts::DrillOutcome;
        let drill = |db: &str, outcome: &str, finished: u64| {
            let mut d = with_drill(outcome, 1.0).drill.unwrap();
            d.database = Some(db.into());
            d.finished_at = finished;
            d
        };
        let w = crate::report::local::weakest(vec![
            drill("a", "restored", 30),
            drill("b", "restored", 10),
            drill("c", "restored", 20),
        ])
        .unwrap();
        assert_eq!(w.database.as_deref(), Some("b"));
        let w = crate::report::local::weakest(vec![
            drill("a", "restored", 10),
            drill("b", "failed", 30),
        ])
        .unwrap();
        assert_eq!(
            (w.database.as_deref(), w.outcome),
            (Some("b"), DrillOutcome::Failed)
        );
        assert!(crate::report::local::weakest(Vec::new()).is_none());
    }
}
