//! Which databases one SQL dump holds, collected from its line starts while it is decoded
//! (fed by [`super::tables::TableScan`], so the verification pass needs no second read):
//! the `-- Current Database: `name`` sections of an `--all-databases` mysqldump, the
//! `\connect name` sections of a pg_dumpall, or else the `-- Host: h    Database: shop`
//! header of a single-database mysqldump. Used by `--expect-databases`.

use std::collections::BTreeSet;

/// At most this many database names are collected (the first ones met).
pub const MAX_NAMES: usize = 10_000;

/// Collects the database names of one dump, one line start at a time.
#[derive(Debug, Default)]
pub struct SectionScan {
    /// Names of the section markers, sorted and each once.
    names: BTreeSet<String>,
    /// The database the first `-- Host: ` line naming one names.
    host_database: Option<String>,
}

/// Reads the database name that follows a section marker, up to the end of its line.
fn name_after(line_rest: &[u8], pg: bool) -> Option<String> {
    let end = memchr::memchr(b'\n', line_rest).unwrap_or(line_rest.len());
    let raw = String::from_utf8_lossy(&line_rest[..end]);
    let raw = raw.trim();
    let name = if pg {
        // `\connect -reuse-previous=on "dbname='shop'"` (PostgreSQL 12+) or `\connect shop`.
        match raw.find("dbname='") {
            Some(i) => raw[i + 8..].split('\'').next().unwrap_or(""),
            None => raw
                .split_whitespace()
                .next()
                .unwrap_or("")
                .trim_matches('"'),
        }
    } else {
        raw.trim_matches('`')
    };
    (!name.is_empty()).then(|| name.to_string())
}

impl SectionScan {
    /// A scanner at the start of a dump.
    pub fn new() -> SectionScan {
        SectionScan::default()
    }

    /// One complete line's start (cut at the caller's prefix length: database names are at
    /// most 64 characters, so a marker line fits well within it).
    pub fn on_line(&mut self, start: &[u8]) {
        let (rest, pg) = match start.first() {
            Some(b'-') => match start.strip_prefix(b"-- Current Database: ") {
                Some(rest) => (rest, false),
                None => {
                    if self.host_database.is_none() {
                        if let Some(rest) = start.strip_prefix(b"-- Host: ") {
                            self.host_database = host_database(rest);
                        }
                    }
                    return;
                }
            },
            Some(b'\\') => match start.strip_prefix(b"\\connect ") {
                Some(rest) => (rest, true),
                None => return,
            },
            _ => return,
        };
        if self.names.len() < MAX_NAMES {
            if let Some(name) = name_after(rest, pg) {
                self.names.insert(name);
            }
        }
    }

    /// The databases found, sorted: the section markers' names, or else the one a
    /// single-database mysqldump names in its header (empty when neither).
    pub fn finish(self) -> Vec<String> {
        if self.names.is_empty() {
            return self.host_database.into_iter().collect();
        }
        self.names.into_iter().collect()
    }
}

/// The database a mysqldump header line names after `-- Host: ` (`localhost    Database:
/// shop`); none for an `--all-databases` dump, whose header leaves it empty.
fn host_database(rest: &[u8]) -> Option<String> {
    let line = String::from_utf8_lossy(rest);
    let db = line.split("Database: ").nth(1)?.trim();
    (!db.is_empty()).then(|| db.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(lines: &[&str]) -> Vec<String> {
        let mut s = SectionScan::new();
        for line in lines {
            s.on_line(line.as_bytes());
        }
        s.finish()
    }

    #[test]
    fn markers_of_both_writers_sorted_and_once() {
        assert_eq!(
            scan(&[
                "-- Host: localhost    Database: ",
                "-- Current Database: `shop`",
                "-- Current Database: `crm`\r",
                "-- Current Database: `shop`",
                "\\connect template1",
                "\\connect -reuse-previous=on \"dbname='wiki'\"",
                "\\connect \"quoted\" user",
                "\\connectx nothing",
                "-- Current Database: ``",
            ]),
            ["crm", "quoted", "shop", "template1", "wiki"]
        );
    }

    #[test]
    fn a_single_database_header_counts_only_without_sections() {
        let header = [
            "-- MariaDB dump 10.19",
            "--",
            "-- Host: localhost    Database: shop",
        ];
        assert_eq!(scan(&header), ["shop"]);
        let mut with_section = header.to_vec();
        with_section.push("-- Current Database: `crm`");
        assert_eq!(scan(&with_section), ["crm"]);
        assert!(scan(&["-- Host: localhost    Database: "]).is_empty());
        // Only the first header line that names a database.
        assert_eq!(
            scan(&[
                "-- Host: db1    Database: ",
                "-- Host: db1    Database: shop",
                "-- Host: db2    Database: crm"
            ]),
            ["shop"]
        );
    }

    #[test]
    fn names_are_bounded() {
        let mut s = SectionScan::new();
        for i in 0..MAX_NAMES + 5 {
            s.on_line(format!("\\connect db{i}").as_bytes());
        }
        // A name seen again is not counted twice.
        s.on_line(b"\\connect db0");
        let names = s.finish();
        assert_eq!(names.len(), MAX_NAMES);
        assert!(!names.contains(&format!("db{}", MAX_NAMES)));
    }
}
