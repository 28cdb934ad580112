//! The verdict in words: every problem, worst first, then the backup's headline (file,
//! age, size, content) and the log's. The first line of the plugin output and each
//! database's line of a per-database set are made from it.

use super::log::LogSummary;
use super::{Check, Facts, Report, State};
use crate::units::{human_duration, human_size};

impl Report {
    /// The summary: every problem, worst first, then the backup's headline.
    pub fn summary(&self) -> String {
        summary(self)
    }
}

/// The backup in a few words: file, age, size, content.
fn headline(file: &str, facts: &Facts) -> String {
    let mut parts = Vec::new();
    if let Some(dbs) = &facts.databases {
        // The databases that have a dump: an expected one without any is a problem of its
        // own ("no dump of database ..."), not one of the databases backed up.
        let dumped: Vec<&str> = dbs
            .iter()
            .filter(|d| d.file.is_some())
            .map(|d| d.name.as_str())
            .collect();
        let names: Vec<&str> = dumped.iter().copied().take(20).collect();
        parts.push(format!(
            "{} database{} ({})",
            dumped.len(),
            if dumped.len() == 1 { "" } else { "s" },
            crate::text::safe(&names.join(", "), 300)
        ));
    }
    if let Some(entries) = &facts.entries {
        for e in entries {
            let mut words = Vec::new();
            if let Some(age) = e.age_seconds {
                words.push(format!("{} old", human_duration(age)));
            }
            if let Some(size) = e.size_bytes {
                words.push(human_size(size as f64));
            }
            parts.push(format!(
                "{} {} ({})",
                e.kind,
                crate::text::safe(&e.entry, 80),
                words.join(", ")
            ));
        }
    }
    if let Some(age) = facts.age_seconds {
        parts.push(format!("{} old", human_duration(age)));
    }
    if let Some(size) = facts.size_bytes {
        parts.push(human_size(size as f64));
    }
    if let Some(tool) = facts.decrypted_with {
        parts.push(format!("decrypted with {tool}"));
    }
    if let (Some(c), Some(u)) = (facts.compression, facts.uncompressed_bytes) {
        if c != "plain" {
            parts.push(format!("{c}, {} uncompressed", human_size(u as f64)));
        }
    }
    if facts.marker.is_some() {
        let writer = match facts.writer {
            Some("unknown") | None => "marker found".to_string(),
            Some(w) => format!("{w} complete"),
        };
        match &facts.marker_date {
            Some(date) => parts.push(format!("{writer} on {}", crate::text::safe(date, 40))),
            None => parts.push(writer),
        }
    }
    if parts.is_empty() {
        file.to_string()
    } else {
        format!("{file}: {}", parts.join(", "))
    }
}

/// The log in a few words: file, age, exit status, counts.
fn log_headline(log: &LogSummary) -> String {
    let mut s = format!(
        "log {}: written {} ago",
        log.file,
        human_duration(log.age_seconds)
    );
    if let Some(status) = log.exit_status {
        s.push_str(&format!(", exit status {status}"));
    }
    s.push_str(&format!(
        ", {} error{}, {} warning{}",
        log.errors,
        if log.errors == 1 { "" } else { "s" },
        log.warnings,
        if log.warnings == 1 { "" } else { "s" }
    ));
    s
}

fn summary(report: &Report) -> String {
    let mut problems: Vec<_> = report
        .findings
        .iter()
        .filter(|f| f.state != State::Ok)
        .collect();
    // Worst first; among equals the job's own exit status leads, as it says why.
    problems.sort_by_key(|f| (std::cmp::Reverse(f.state), f.check != Check::LogStatus));
    let mut parts: Vec<String> = problems.iter().map(|f| f.message.clone()).collect();
    if let Some(file) = &report.file {
        parts.push(headline(file, &report.facts));
    }
    if let Some(log) = &report.facts.log {
        parts.push(log_headline(log));
    }
    if parts.is_empty() {
        parts.push("nothing was checked".into());
    }
    parts.join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::judge::Finding;

    #[test]
    fn summary_lists_problems_worst_first() {
        let mut r = Report::default();
        r.push(Finding::new(Check::Age, State::Warning, "old"));
        r.push(Finding::new(Check::Size, State::Ok, "fine"));
        r.push(Finding::new(Check::Marker, State::Critical, "cut"));
        r.file = Some("/b/db.sql.gz".into());
        r.facts.age_seconds = Some(7200.0);
        r.facts.size_bytes = Some(2048);
        assert_eq!(r.summary(), "cut; old; /b/db.sql.gz: 2h 0m old, 2.0 KiB");
    }

    #[test]
    fn headline_counts_only_databases_with_a_dump() {
        use crate::judge::DatabaseSummary;
        let mut r = Report {
            file: Some("/b".into()),
            ..Default::default()
        };
        let db = |name: &str, file: Option<&str>| DatabaseSummary {
            name: name.into(),
            file: file.map(Into::into),
            ..Default::default()
        };
        r.facts.databases = Some(vec![
            db("shop", Some("/b/shop.sql.gz")),
            db("crm", Some("/b/crm.sql.gz")),
            db("billing", None),
            db("hr", None),
        ]);
        assert_eq!(r.summary(), "/b: 2 databases (shop, crm)");
    }
}
