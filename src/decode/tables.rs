//! The tables a SQL dump holds, counted while it is decoded (no second read): mysqldump's
//! `CREATE TABLE` and `INSERT INTO` statements, pg_dump's `CREATE TABLE` and the data lines
//! of its `COPY ... FROM stdin;` blocks. Only line starts are looked at (one `memchr` for
//! newlines over the text, a few byte comparisons per line), so the cost stays far below
//! the decoder's. Table names are qualified with the database of an `--all-databases`
//! mysqldump (`USE` lines) or a pg_dumpall (`\connect` lines). The same line starts feed
//! [`SectionScan`], which collects the databases a whole-server dump holds.

use std::collections::HashMap;

use super::sections::SectionScan;
use crate::facts::TableCount;

/// At most this many tables are counted (memory stays bounded for hostile input: names are
/// at most 256 bytes, so a few MiB at worst); a dump with more gets no list.
pub const MAX_TABLES: usize = 20_000;
/// The start of a line that is looked at; longer names are cut.
const PREFIX: usize = 256;

/// Counts tables and their data statements over the decoded text, fed in pieces.
#[derive(Debug, Default)]
pub struct TableScan {
    tables: Vec<TableCount>,
    index: HashMap<String, usize>,
    /// The table of the last INSERT and its name as written (consecutive INSERTs skip the
    /// map).
    last: Option<(usize, Vec<u8>)>,
    /// Inside a COPY block: its table.
    copy: Option<usize>,
    /// The database of the current section, if the dump has sections.
    database: Option<String>,
    /// The start of the current line, not yet complete (at most [`PREFIX`] bytes).
    line: Vec<u8>,
    /// The current line was looked at already: skip to its end.
    skipping: bool,
    /// More than [`MAX_TABLES`] tables: the list is incomplete.
    overflow: bool,
    /// The database sections, from the same line starts.
    sections: SectionScan,
}

/// What a [`TableScan`] found in a whole stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scanned {
    /// The tables found, in the order of the dump; `None` when there were more than
    /// [`MAX_TABLES`] (a partial list would name tables as missing that are not).
    pub tables: Option<Vec<TableCount>>,
    /// The databases its sections (or a single-database mysqldump's header) name, sorted.
    pub sections: Vec<String>,
}

/// The length of the name at the start of `rest`: up to a space, `(` or `;`.
fn name_len(rest: &[u8]) -> usize {
    rest.iter()
        .position(|&b| b == b' ' || b == b'(' || b == b'\t' || b == b';' || b == b'\r')
        .unwrap_or(rest.len())
}

/// The name at the start of `rest`, quotes and backticks removed.
fn name_at(rest: &[u8]) -> Option<String> {
    let raw = String::from_utf8_lossy(&rest[..name_len(rest)]);
    let name: String = raw.chars().filter(|c| *c != '`' && *c != '"').collect();
    (!name.is_empty()).then_some(name)
}

impl TableScan {
    /// A scanner at the start of a dump.
    pub fn new() -> TableScan {
        TableScan::default()
    }

    fn table(&mut self, name: String) -> Option<usize> {
        let name = match &self.database {
            Some(db) => format!("{db}.{name}"),
            _ => name,
        };
        if let Some(&i) = self.index.get(&name) {
            return Some(i);
        }
        if self.tables.len() >= MAX_TABLES {
            self.overflow = true;
            return None;
        }
        self.tables.push(TableCount {
            name: name.clone(),
            rows: 0,
        });
        self.index.insert(name, self.tables.len() - 1);
        Some(self.tables.len() - 1)
    }

    /// One line's start (the whole line when shorter than [`PREFIX`]); `complete`: its end
    /// was seen, or it is longer than [`PREFIX`] (the last line of a stream without its
    /// newline is not a section marker: it may be cut).
    fn on_line(&mut self, start: &[u8], complete: bool) {
        if complete {
            // Before the COPY state: a marker line is one wherever it stands.
            self.sections.on_line(start);
        }
        if let Some(i) = self.copy {
            if start == b"\\." {
                self.copy = None;
            } else {
                self.tables[i].rows += 1;
            }
            return;
        }
        if let Some(rest) = start.strip_prefix(b"INSERT INTO ") {
            // Consecutive INSERTs into one table: compare with its name, no lookup.
            let raw = &rest[..name_len(rest)];
            if let Some((i, last)) = &self.last {
                if raw == &last[..] {
                    self.tables[*i].rows += 1;
                    return;
                }
            }
            if let Some(i) = name_at(rest).and_then(|n| self.table(n)) {
                self.tables[i].rows += 1;
                self.last = Some((i, raw.to_vec()));
            }
        } else if let Some(rest) = start.strip_prefix(b"CREATE TABLE ") {
            let rest = rest.strip_prefix(b"IF NOT EXISTS ").unwrap_or(rest);
            if let Some(n) = name_at(rest) {
                self.table(n);
            }
        } else if let Some(rest) = start.strip_prefix(b"COPY ") {
            if start.ends_with(b"FROM stdin;") || start.len() >= PREFIX {
                self.copy = name_at(rest).and_then(|n| self.table(n));
            }
        } else if let Some(rest) = start.strip_prefix(b"USE ") {
            self.database = name_at(rest);
            self.last = None;
        } else if let Some(rest) = start.strip_prefix(b"\\connect ") {
            let text = String::from_utf8_lossy(rest);
            // `\connect -reuse-previous=on "dbname='shop'"` or `\connect shop`.
            self.database = match text.find("dbname='") {
                Some(i) => text[i + 8..].split('\'').next().map(str::to_string),
                None => name_at(rest),
            };
            self.last = None;
        }
    }

    /// The next piece of decoded text.
    pub fn feed(&mut self, mut data: &[u8]) {
        while !data.is_empty() {
            let end = memchr::memchr(b'\n', data);
            if self.skipping {
                match end {
                    Some(e) => {
                        self.skipping = false;
                        data = &data[e + 1..];
                        continue;
                    }
                    None => return,
                }
            }
            let line_end = end.unwrap_or(data.len());
            if self.line.is_empty() && (end.is_some() || line_end >= PREFIX) {
                // The common case: the line's start is within this piece.
                let start = &data[..line_end.min(PREFIX)];
                self.on_line(start, true);
            } else {
                let take = (PREFIX - self.line.len()).min(line_end);
                self.line.extend_from_slice(&data[..take]);
                if end.is_none() && self.line.len() < PREFIX {
                    return; // the line goes on in the next piece
                }
                let start = std::mem::take(&mut self.line);
                self.on_line(&start, true);
            }
            match end {
                Some(e) => data = &data[e + 1..],
                None => {
                    self.skipping = true;
                    return;
                }
            }
        }
    }

    /// What the scan found, the stream having ended.
    pub fn finish(mut self) -> Scanned {
        self.take()
    }

    /// As [`TableScan::finish`], leaving an empty scanner behind.
    pub fn take(&mut self) -> Scanned {
        let mut this = std::mem::take(self);
        if !this.line.is_empty() {
            let start = std::mem::take(&mut this.line);
            this.on_line(&start, false);
        }
        Scanned {
            tables: (!this.overflow).then_some(this.tables),
            sections: this.sections.finish(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan_in_pieces(text: &[u8], piece: usize) -> Vec<(String, u64)> {
        let mut s = TableScan::new();
        for chunk in text.chunks(piece) {
            s.feed(chunk);
        }
        s.finish()
            .tables
            .unwrap()
            .into_iter()
            .map(|t| (t.name, t.rows))
            .collect()
    }

    #[test]
    fn mysqldump_tables_and_inserts_whatever_the_pieces() {
        let text = b"-- MariaDB dump\n\nDROP TABLE IF EXISTS `orders`;\nCREATE TABLE `orders` (\n  `id` int\n);\nINSERT INTO `orders` VALUES (1),(2);\nINSERT INTO `orders` VALUES (3);\nCREATE TABLE `empty` (\n  `id` int\n);\nCREATE TABLE `items` (`id` int);\nINSERT INTO `items` VALUES ('INSERT INTO `fake` VALUES\n(1)');\nINSERT INTO `orders_archive` VALUES (9);\n-- Dump completed\n";
        let want = vec![
            ("orders".to_string(), 2),
            ("empty".to_string(), 0),
            ("items".to_string(), 1),
            ("orders_archive".to_string(), 1),
        ];
        for piece in [1, 2, 3, 7, 64, 4096] {
            assert_eq!(scan_in_pieces(text, piece), want, "pieces of {piece}");
        }
    }

    #[test]
    fn all_databases_qualify_the_names() {
        let text = b"USE `crm`;\nCREATE TABLE `t` (id int);\nINSERT INTO `t` VALUES (1);\nUSE `shop`;\nCREATE TABLE `t` (id int);\nINSERT INTO `t` VALUES (1);\nINSERT INTO `t` VALUES (2);\n";
        assert_eq!(
            scan_in_pieces(text, 5),
            [("crm.t".to_string(), 1), ("shop.t".to_string(), 2)]
        );
    }

    #[test]
    fn pg_dump_copy_rows() {
        let text = b"CREATE TABLE public.accounts (\n    id integer\n);\nCREATE TABLE public.\"Audit\" (id int);\nCOPY public.accounts (id, name) FROM stdin;\n1\tann\n2\tbob\n3\t\\\\.\n\\.\n\nCOPY public.\"Audit\" (id) FROM stdin;\n\\.\n";
        for piece in [1, 4, 1000] {
            assert_eq!(
                scan_in_pieces(text, piece),
                [
                    ("public.accounts".to_string(), 3),
                    ("public.Audit".to_string(), 0)
                ]
            );
        }
        let all =
            b"\\connect -reuse-previous=on \"dbname='shop'\"\nCREATE TABLE public.t (id int);\n";
        assert_eq!(scan_in_pieces(all, 3), [("shop.public.t".to_string(), 0)]);
    }

    #[test]
    fn database_sections_whatever_the_pieces() {
        let text = b"-- MariaDB dump\n-- Host: localhost    Database: \n--\n-- Current Database: `crm`\n--\nUSE `crm`;\nINSERT INTO `t` VALUES ('\\n-- Current Database: `fake`');\n-- Current Database: `shop`\r\nCOPY t (a) FROM stdin;\n\\connect wiki\n\\.\n-- Current Database: `cut`";
        for piece in [1, 2, 5, 64, 4096] {
            let mut s = TableScan::new();
            for chunk in text.chunks(piece) {
                s.feed(chunk);
            }
            // The last line has no newline: it may be cut, so it names nothing.
            assert_eq!(
                s.finish().sections,
                ["crm", "shop", "wiki"],
                "pieces of {piece}"
            );
        }
    }

    #[test]
    fn long_lines_and_too_many_tables() {
        let mut text = b"INSERT INTO `big` VALUES ".to_vec();
        text.extend(std::iter::repeat_n(b'x', 100_000));
        text.extend_from_slice(b"\nINSERT INTO `big` VALUES (1);\n");
        assert_eq!(scan_in_pieces(&text, 333), [("big".to_string(), 2)]);
        let mut s = TableScan::new();
        for i in 0..=MAX_TABLES {
            s.feed(format!("CREATE TABLE `t{i}` (id int);\n").as_bytes());
        }
        assert_eq!(s.finish().tables, None);
    }
}
