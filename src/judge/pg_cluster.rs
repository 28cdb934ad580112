//! Judging Debian's pg_backupcluster backups: one entry's facts become the archive facts
//! the content findings are made from (what is wrong, naming the file, database or
//! manifest entry), and a cluster directory's newest entry of each kind becomes one line.

use super::{Check, EntrySummary, Finding, Report, State, PATH_CHARS};
use crate::facts::{ArchiveFacts, ArchiveKind, ClusterEntryFacts, DirKind, EntryStatus};
use crate::text::{safe, safe_path};
use crate::units::{human_duration, human_size};

/// What is wrong with one entry, if anything, and the words of its OK message.
pub fn summarise(facts: &ClusterEntryFacts) -> ArchiveFacts {
    let kind = match facts.kind {
        DirKind::PgBaseBackup => ArchiveKind::PgBaseBackup,
        _ => ArchiveKind::PgClusterDump,
    };
    let word = facts.kind.entry_word().unwrap_or("dump");
    let mut a = ArchiveFacts::new(kind);
    a.compression = "gzip".into();
    a.databases = facts.dumped_databases.clone();
    let mut problems: Vec<String> = Vec::new();
    let mut end = String::new();
    match &facts.status {
        EntryStatus::Missing => {
            let left: Vec<String> = facts
                .present
                .iter()
                .map(|(n, size)| format!("{} ({size} B)", safe(n, 60)))
                .take(20)
                .collect();
            problems.push(format!(
                "no status file: the run did not finish (killed, or failed and kept with --keep-on-error); it left {}",
                if left.is_empty() {
                    "nothing".to_string()
                } else {
                    left.join(", ")
                }
            ));
        }
        EntryStatus::Invalid(why) => problems.push(safe(why, 200)),
        EntryStatus::Parsed {
            status,
            kind,
            end: e,
            ended,
        } => {
            match ended {
                Some(t) => a.warning = changed_after(&facts.modified, *t, e),
                None => a.notes.push(format!(
                    "status: end '{}' is not a time as pg_backupcluster writes it (e.g. 'Tue Dec  1 17:24:20 2026', UTC): the files were not compared with it",
                    safe(e, 40)
                )),
            }
            if status != "ok" {
                problems.push(format!("status says '{}', not 'ok'", safe(status, 40)));
            }
            if !kind.is_empty() && kind != word {
                problems.push(format!(
                    "status says type '{}' in a {word} entry",
                    safe(kind, 40)
                ));
            }
            end = safe(e, 40);
        }
    }
    problems.extend(
        facts
            .files
            .iter()
            .filter_map(|f| f.problem.as_ref())
            .map(|p| safe(p, 400)),
    );
    if let Some(created) = &facts.created_databases {
        for db in created {
            let name = format!("{db}.dump");
            let has_file = facts.present.iter().any(|(n, _)| *n == name);
            if !has_file {
                problems.push(format!(
                    "database {} has no {} (databases.sql creates it)",
                    safe(db, 60),
                    safe(&name, 70)
                ));
            }
        }
    }
    if facts.kind == DirKind::PgClusterDump
        && facts.status != EntryStatus::Missing
        && !facts.present.iter().any(|(n, _)| n.ends_with(".dump"))
    {
        problems.push("no <database>.dump file at all".into());
    }
    if !problems.is_empty() {
        a.problem = Some(problems.join("; "));
        return a;
    }
    let unverified: Vec<&str> = facts
        .files
        .iter()
        .filter_map(|f| f.unverified.as_deref())
        .collect();
    if !unverified.is_empty() {
        a.supported = false;
        a.detail = safe(&unverified.join("; "), 300);
        return a;
    }
    a.tables = facts.dumped_databases.len() as u32;
    a.detail = match facts.kind {
        DirKind::PgBaseBackup => format!(
            "status ok (ended {end}); {}; base.tar.gz, pg_wal.tar.gz and config.tar.gz whole",
            facts.manifest.as_deref().unwrap_or("no manifest")
        ),
        _ => format!(
            "status ok (ended {end}); {} database dumps complete ({}); globals.sql complete; config.tar.gz whole",
            facts.dumped_databases.len(),
            safe(&facts.dumped_databases.join(", "), 200)
        ),
    };
    a
}

/// Seconds a file may be newer than `status`'s `end`: pg_backupcluster reads the clock
/// (whole seconds) before it writes `status` itself.
const END_SLACK: i64 = 2;

/// The files modified after the run ended (by more than [`END_SLACK`]), in words: what
/// changed them is not pg_backupcluster's run, so its `status` does not vouch for them.
fn changed_after(modified: &[(String, i64)], ended: i64, end: &str) -> Option<String> {
    let late: Vec<&(String, i64)> = modified
        .iter()
        .filter(|(_, t)| *t > ended + END_SLACK)
        .collect();
    let (name, t) = late.first()?;
    let when = chrono::DateTime::from_timestamp(*t, 0)
        .map(|d| d.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_default();
    let more = match late.len() {
        1 => String::new(),
        n => format!(
            " (and {} more: {})",
            n - 1,
            safe(
                &late[1..]
                    .iter()
                    .take(5)
                    .map(|(n, _)| n.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                200
            )
        ),
    };
    Some(format!(
        "{} changed after the run ended: modified {when}, status says the run ended {} UTC{more}",
        safe(name, 80),
        safe(end, 40)
    ))
}

/// One kind's line of a cluster directory, from the report its newest entry got: its
/// worst problems, or its summary when OK. Also returns its summary for JSON and the
/// headline.
pub fn entry_line(word: &str, sub: &Report) -> (Finding, EntrySummary) {
    let state = sub.state();
    let problems: Vec<String> = sub
        .findings
        .iter()
        .filter(|f| f.state == state && state != State::Ok)
        .map(|f| f.message.clone())
        .collect();
    let entry = sub
        .file
        .as_deref()
        .map(|f| f.rsplit('/').next().unwrap_or(f).to_string())
        .unwrap_or_default();
    let archive = sub
        .findings
        .iter()
        .find(|f| f.check == Check::Archive && f.state == State::Ok);
    let message = if let (true, Some(archive)) = (problems.is_empty(), archive) {
        let mut words = Vec::new();
        if let Some(age) = sub.facts.age_seconds {
            words.push(format!("{} old", human_duration(age)));
        }
        if let Some(size) = sub.facts.size_bytes {
            words.push(human_size(size as f64));
        }
        words.push(archive.message.clone());
        format!("{word} {entry}: {}", words.join(", "))
    } else if problems.is_empty() {
        format!("{word} {entry}: {}", sub.summary())
    } else {
        format!("{word} {entry}: {}", problems.join("; "))
    };
    (
        Finding::new(Check::Entry, state, message),
        EntrySummary {
            kind: word.to_string(),
            entry,
            state: state.to_string(),
            file: sub.file.clone(),
            age_seconds: sub.facts.age_seconds,
            size_bytes: sub.facts.size_bytes,
        },
    )
}

/// A kind without any entry: CRITICAL when `--kind` requires it, or when the directory
/// has no entry of any kind.
pub fn missing_kind(word: &str, dir: &std::path::Path) -> Finding {
    Finding::new(
        Check::Dump,
        State::Critical,
        format!(
            "no pg_backupcluster {word} entry (<timestamp>.{}) in {}",
            if word == "dump" { "dump" } else { "backup" },
            safe_path(dir, PATH_CHARS)
        ),
    )
}

/// `--kind` on something that is not a pg_backupcluster directory or entry of that kind.
pub fn kind_mismatch(word: &str, target: &std::path::Path, what: &str) -> Finding {
    Finding::new(
        Check::Dump,
        State::Critical,
        format!(
            "--kind {word}: {} is {what}, not a pg_backupcluster {word} entry or a directory of them",
            safe_path(target, PATH_CHARS)
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::EntryFile;

    /// 2026-12-01 17:24:20 UTC.
    const END: i64 = 1_796_145_860;

    fn ok_dump() -> ClusterEntryFacts {
        ClusterEntryFacts {
            kind: DirKind::PgClusterDump,
            status: EntryStatus::Parsed {
                status: "ok".into(),
                kind: "dump".into(),
                end: "Tue Dec  1 17:24:20 2026".into(),
                ended: Some(END),
            },
            present: vec![
                ("globals.sql".into(), 526),
                ("postgres.dump".into(), 1083),
                ("shop.dump".into(), 12908),
                ("status".into(), 144),
            ],
            // As the real run left them: written during the run, status 1 s after its end.
            modified: vec![
                ("globals.sql".into(), END - 1),
                ("postgres.dump".into(), END - 1),
                ("shop.dump".into(), END),
                ("status".into(), END + 1),
            ],
            files: vec![EntryFile {
                name: "globals.sql".into(),
                problem: None,
                unverified: None,
            }],
            created_databases: Some(vec!["shop".into()]),
            dumped_databases: vec!["postgres".into(), "shop".into()],
            manifest: None,
        }
    }

    #[test]
    fn a_complete_dump_entry() {
        let a = summarise(&ok_dump());
        assert_eq!(a.problem, None);
        assert!(a
            .detail
            .contains("2 database dumps complete (postgres, shop)"));
        assert!(a.detail.contains("ended Tue Dec  1 17:24:20 2026"));
        assert_eq!(a.databases, vec!["postgres", "shop"]);
    }

    #[test]
    fn status_rules() {
        let mut f = ok_dump();
        f.status = EntryStatus::Missing;
        let p = summarise(&f).problem.unwrap();
        assert!(p.starts_with("no status file"), "{p}");
        assert!(p.contains("shop.dump (12908 B)"), "{p}");
        f.status = EntryStatus::Parsed {
            status: "failed".into(),
            kind: "dump".into(),
            end: String::new(),
            ended: None,
        };
        assert!(summarise(&f)
            .problem
            .unwrap()
            .contains("status says 'failed'"));
        f.status = EntryStatus::Parsed {
            status: "ok".into(),
            kind: "basebackup".into(),
            end: String::new(),
            ended: None,
        };
        assert!(summarise(&f)
            .problem
            .unwrap()
            .contains("type 'basebackup' in a dump entry"));
        f.status = EntryStatus::Invalid("status is not JSON".into());
        assert_eq!(summarise(&f).problem.unwrap(), "status is not JSON");
    }

    #[test]
    fn a_file_changed_after_the_run_ended_is_a_warning_naming_it() {
        let a = summarise(&ok_dump());
        assert_eq!(a.warning, None);
        assert!(a.notes.is_empty());
        // Within the slack of 2 s: still the run's own writing.
        let mut f = ok_dump();
        f.modified[2].1 = END + 2;
        assert_eq!(summarise(&f).warning, None);
        f.modified[2].1 = END + 3;
        f.modified[0].1 = END + 3600;
        let a = summarise(&f);
        assert_eq!(a.problem, None);
        let w = a.warning.unwrap();
        assert!(
            w.starts_with("globals.sql changed after the run ended: modified 2026-12-01 18:24:20 UTC, status says the run ended Tue Dec  1 17:24:20 2026 UTC (and 1 more: shop.dump)"),
            "{w}"
        );
        // An end that is not a time: said under -v, nothing compared, no warning.
        let mut g = ok_dump();
        g.modified[0].1 = END + 3600;
        g.status = EntryStatus::Parsed {
            status: "ok".into(),
            kind: "dump".into(),
            end: "yesterday".into(),
            ended: None,
        };
        let a = summarise(&g);
        assert_eq!(a.warning, None);
        assert!(
            a.notes[0].contains("end 'yesterday' is not a time"),
            "{:?}",
            a.notes
        );
    }

    #[test]
    fn status_times_are_utc() {
        assert_eq!(
            crate::formats::pg_cluster::status_time("Tue Dec  1 17:24:20 2026"),
            Some(END)
        );
        assert_eq!(
            crate::formats::pg_cluster::status_time("Thu Dec 10 07:04:05 2026"),
            Some(END + 9 * 86400 - 10 * 3600 - 20 * 60 - 15)
        );
        assert_eq!(crate::formats::pg_cluster::status_time(""), None);
        assert_eq!(
            crate::formats::pg_cluster::status_time("Tue Dec 41 17:24:20 2026"),
            None
        );
    }

    #[test]
    fn every_created_database_needs_its_dump() {
        let mut f = ok_dump();
        f.created_databases = Some(vec!["shop".into(), "crm".into()]);
        let p = summarise(&f).problem.unwrap();
        assert!(p.contains("database crm has no crm.dump"), "{p}");
        assert!(!p.contains("database shop"), "{p}");
    }

    #[test]
    fn file_problems_are_named_and_unverified_is_a_warning() {
        let mut f = ok_dump();
        f.files.push(EntryFile {
            name: "shop.dump".into(),
            problem: Some("shop.dump (database shop) is incomplete: cut".into()),
            unverified: None,
        });
        assert!(summarise(&f).problem.unwrap().contains("shop.dump"));
        let mut g = ok_dump();
        g.files.push(EntryFile {
            name: "x.dump".into(),
            problem: None,
            unverified: Some("x.dump: archive version 1.99 is not one this check knows".into()),
        });
        let a = summarise(&g);
        assert_eq!(a.problem, None);
        assert!(!a.supported);
    }

    #[test]
    fn entry_lines_name_the_entry() {
        let mut sub = Report {
            file: Some("/b/15-main/2026-12-01T172425Z.dump".into()),
            ..Report::default()
        };
        sub.push(Finding::new(
            Check::Archive,
            State::Critical,
            "no status file",
        ));
        let (line, summary) = entry_line("dump", &sub);
        assert_eq!(line.state, State::Critical);
        assert_eq!(line.message, "dump 2026-12-01T172425Z.dump: no status file");
        assert_eq!(summary.entry, "2026-12-01T172425Z.dump");
    }
}
