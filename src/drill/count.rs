//! What a dump creates and inserts, counted while it streams into the client: pure, in
//! bounded memory (a line is never held whole: only its first [`HEAD_CAP`] bytes).
//!
//! mysqldump / mariadb-dump: `CREATE TABLE `t``, the row tuples of each
//! `INSERT INTO `t` VALUES (...),(...);` (extended inserts), `USE `db`;` for
//! `--all-databases`/`--databases`, and views (`/*!50001 VIEW `v` AS ...`).
//! pg_dump plain / pg_dumpall (and `pg_restore -f -` output): `CREATE TABLE s.t (`, the data
//! lines of each `COPY s.t (...) FROM stdin;` block up to `\.`, the rows of
//! `INSERT INTO s.t ... VALUES (...)` (`--inserts`), `CREATE VIEW`, and `\connect db`.

use std::collections::BTreeMap;

/// How many bytes of a line are kept to recognise it.
pub const HEAD_CAP: usize = 64 * 1024;

/// Which client's text this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// mysqldump / mariadb-dump text.
    Mysql,
    /// pg_dump / pg_dumpall plain text.
    Postgres,
}

/// One object the dump creates, as it names it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Object {
    /// The database it is created in.
    pub database: String,
    /// Its name exactly as written in the dump (`` `orders` ``, `public.orders`,
    /// `public."Orders"`), so that it can be queried as written.
    pub name: String,
}

/// What the dump holds of one table or view.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counted {
    /// A view (existence only), not a table.
    pub view: bool,
    /// Rows the dump inserts into it.
    pub rows: u64,
}

/// Bytes of one database's part of the dump.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DatabaseBytes {
    /// Decoded bytes of the dump while this database was current.
    pub bytes: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Collecting the head of a line.
    Head,
    /// Inside `INSERT ... ` before `VALUES`: looking for it.
    InsertPrefix,
    /// Inside the VALUES list of an INSERT.
    Values,
    /// The rest of the line does not matter.
    Skip,
}

/// The streaming counter: feed it every decoded byte, in order.
#[derive(Debug)]
pub struct Counter {
    dialect: Dialect,
    mode: Mode,
    head: Vec<u8>,
    /// The line is longer than [`HEAD_CAP`].
    head_cut: bool,
    in_copy: Option<Object>,
    insert_into: Option<Object>,
    /// Matcher state for `VALUES` in [`Mode::InsertPrefix`].
    matched: usize,
    in_quote: bool,
    /// The quote that opened the string (`'`, or mydumper's `"`).
    quote: u8,
    in_ident: bool,
    escape: bool,
    depth: u32,
    database: String,
    /// Every table and view the dump creates or inserts into.
    pub objects: BTreeMap<Object, Counted>,
    /// Bytes per database, in the order they appear.
    pub databases: Vec<(String, DatabaseBytes)>,
}

impl Counter {
    /// A counter for `dialect`; `database` is the one the client starts in.
    pub fn new(dialect: Dialect, database: &str) -> Counter {
        Counter {
            dialect,
            mode: Mode::Head,
            head: Vec::with_capacity(HEAD_CAP),
            head_cut: false,
            in_copy: None,
            insert_into: None,
            matched: 0,
            in_quote: false,
            quote: b'\'',
            in_ident: false,
            escape: false,
            depth: 0,
            database: database.to_string(),
            objects: BTreeMap::new(),
            databases: vec![(database.to_string(), DatabaseBytes::default())],
        }
    }

    /// The database the dump's text is in at this point.
    pub fn database(&self) -> &str {
        &self.database
    }

    /// Counts `buf`, the next bytes of the decoded dump.
    pub fn feed(&mut self, buf: &[u8]) {
        if let Some((_, d)) = self.databases.last_mut() {
            d.bytes += buf.len() as u64;
        }
        for &b in buf {
            match self.mode {
                Mode::Values => self.values_byte(b),
                Mode::InsertPrefix => self.prefix_byte(b),
                Mode::Skip => {
                    if b == b'\n' {
                        self.end_line();
                    }
                }
                Mode::Head => {
                    if b == b'\n' {
                        self.end_line();
                        continue;
                    }
                    if self.head.len() < HEAD_CAP {
                        self.head.push(b);
                    } else {
                        self.head_cut = true;
                    }
                    if self.in_copy.is_none() && self.insert_start() {
                        self.mode = Mode::InsertPrefix;
                    }
                }
            }
        }
    }

    /// Ends the stream: a last line without a newline is counted too.
    pub fn finish(&mut self) {
        if !self.head.is_empty() || self.mode != Mode::Head {
            self.end_line();
        }
    }

    fn insert_start(&mut self) -> bool {
        let prefix: &[u8] = match self.dialect {
            Dialect::Mysql => b"INSERT INTO `",
            Dialect::Postgres => b"INSERT INTO ",
        };
        if self.head.len() != prefix.len() + 1 || !self.head.starts_with(prefix) {
            return false;
        }
        // Parsed from the head once the name is complete: see `prefix_byte`. A quote
        // toggles (a doubled one, an escaped quote, toggles twice).
        let quote = match self.dialect {
            Dialect::Mysql => b'`',
            Dialect::Postgres => b'"',
        };
        self.matched = 0;
        self.in_ident = (self.dialect == Dialect::Mysql) != (self.head.last() == Some(&quote));
        true
    }

    /// Between `INSERT INTO ` and `VALUES`: the table's name, then the word, followed by a
    /// space or (mariadb-dump 10.11 and later: one row per line) a newline.
    fn prefix_byte(&mut self, b: u8) {
        const WORD: &[u8] = b" VALUES";
        if self.matched == WORD.len() && !self.in_ident {
            if b == b' ' || b == b'\n' {
                self.start_values();
                return;
            }
            self.matched = 0;
        }
        if b == b'\n' {
            self.end_line();
            return;
        }
        if self.head.len() < HEAD_CAP {
            self.head.push(b);
        } else {
            self.head_cut = true;
        }
        let quote = match self.dialect {
            Dialect::Mysql => b'`',
            Dialect::Postgres => b'"',
        };
        if b == quote {
            self.in_ident = !self.in_ident;
            self.matched = 0;
            return;
        }
        if self.in_ident {
            return;
        }
        if b == WORD[self.matched] {
            self.matched += 1;
        } else {
            self.matched = usize::from(b == WORD[0]);
        }
    }

    fn start_values(&mut self) {
        let name = insert_name(&self.head, self.dialect);
        self.insert_into = name.map(|name| Object {
            database: self.database.clone(),
            name,
        });
        if let Some(o) = &self.insert_into {
            self.objects.entry(o.clone()).or_default();
        }
        self.mode = Mode::Values;
        self.in_quote = false;
        self.escape = false;
        self.depth = 0;
    }

    /// Inside the VALUES list: a `(` at depth 0 outside a string starts a row.
    fn values_byte(&mut self, b: u8) {
        if self.in_quote {
            if self.escape {
                self.escape = false;
            } else if b == b'\\' && self.dialect == Dialect::Mysql {
                self.escape = true;
            } else if b == self.quote {
                self.in_quote = false;
            }
            return;
        }
        match b {
            b'\'' => {
                self.in_quote = true;
                self.quote = b;
            }
            // mydumper writes strings in double quotes (MySQL without ANSI_QUOTES).
            b'"' if self.dialect == Dialect::Mysql => {
                self.in_quote = true;
                self.quote = b;
            }
            b'(' => {
                if self.depth == 0 {
                    if let Some(o) = &self.insert_into {
                        if let Some(c) = self.objects.get_mut(o) {
                            c.rows += 1;
                        }
                    }
                }
                self.depth += 1;
            }
            b')' => self.depth = self.depth.saturating_sub(1),
            // The statement ends at its `;` (mariadb-dump puts each row on a line of its own).
            b';' if self.depth == 0 => {
                self.insert_into = None;
                self.mode = Mode::Skip;
            }
            _ => {}
        }
    }

    fn end_line(&mut self) {
        let cut = std::mem::replace(&mut self.head_cut, false);
        if std::mem::replace(&mut self.mode, Mode::Head) == Mode::Head {
            self.line(cut);
        }
        self.head.clear();
    }

    fn line(&mut self, cut: bool) {
        if let Some(table) = &self.in_copy {
            if !cut && self.head.as_slice() == b"\\." {
                self.in_copy = None;
            } else if let Some(c) = self.objects.get_mut(table) {
                c.rows += 1;
            }
            return;
        }
        let line = String::from_utf8_lossy(&self.head).into_owned();
        match self.dialect {
            Dialect::Mysql => self.mysql_line(&line),
            Dialect::Postgres => self.pg_line(&line, cut),
        }
    }

    fn enter_database(&mut self, name: String) {
        if name != self.database {
            self.database = name.clone();
            self.databases.push((name, DatabaseBytes::default()));
        }
    }

    fn create(&mut self, name: String, view: bool) {
        let o = Object {
            database: self.database.clone(),
            name,
        };
        self.objects.entry(o).or_default().view = view;
    }

    fn mysql_line(&mut self, line: &str) {
        if let Some(rest) = line.strip_prefix("USE ") {
            if let Some((name, _)) = backticked(rest) {
                self.enter_database(name);
            }
        } else if let Some(rest) = line.strip_prefix("CREATE TABLE ") {
            let rest = rest.strip_prefix("IF NOT EXISTS ").unwrap_or(rest);
            if let Some((_, raw)) = backticked(rest) {
                self.create(raw, false);
            }
        } else if let Some(rest) = line.strip_prefix("/*!50001 VIEW ") {
            if let Some((_, raw)) = backticked(rest) {
                self.create(raw, true);
            }
        }
    }

    fn pg_line(&mut self, line: &str, cut: bool) {
        if let Some(rest) = line.strip_prefix("\\connect ") {
            if let Some(db) = pg_connect_target(rest) {
                self.enter_database(db);
            }
        } else if let Some(rest) = line.strip_prefix("CREATE TABLE ") {
            let rest = rest.strip_prefix("IF NOT EXISTS ").unwrap_or(rest);
            if let Some(name) = pg_name(rest) {
                self.create(name, false);
            }
        } else if let Some(rest) = line
            .strip_prefix("CREATE VIEW ")
            .or_else(|| line.strip_prefix("CREATE MATERIALIZED VIEW "))
        {
            if let Some(name) = pg_name(rest) {
                self.create(name, true);
            }
        } else if let Some(rest) = line.strip_prefix("COPY ") {
            // A line longer than the head is a COPY with a very long column list.
            if line.ends_with(" FROM stdin;") || cut {
                if let Some(name) = pg_name(rest) {
                    let o = Object {
                        database: self.database.clone(),
                        name,
                    };
                    self.objects.entry(o.clone()).or_default();
                    self.in_copy = Some(o);
                }
            }
        }
    }
}

/// `` `name` `` at the start of `s`: (the name unescaped, the name as written).
fn backticked(s: &str) -> Option<(String, String)> {
    let body = s.strip_prefix('`')?;
    let mut name = String::new();
    let mut chars = body.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if c == '`' {
            if chars.peek().map(|(_, c)| *c) == Some('`') {
                chars.next();
                name.push('`');
                continue;
            }
            return Some((name, s[..i + 2].to_string()));
        }
        name.push(c);
    }
    None
}

/// The table name of an INSERT line head, as written.
fn insert_name(head: &[u8], dialect: Dialect) -> Option<String> {
    let text = String::from_utf8_lossy(head);
    let rest = text.strip_prefix("INSERT INTO ")?;
    match dialect {
        Dialect::Mysql => backticked(rest).map(|(_, raw)| raw),
        Dialect::Postgres => pg_name(rest),
    }
}

/// A possibly schema-qualified, possibly quoted PostgreSQL name at the start of `s`, as
/// written (up to the first space or `(` outside quotes).
fn pg_name(s: &str) -> Option<String> {
    let mut quoted = false;
    for (i, c) in s.char_indices() {
        match c {
            '"' => quoted = !quoted,
            ' ' | '(' | ';' if !quoted => return (i > 0).then(|| s[..i].to_string()),
            _ => {}
        }
    }
    (!s.is_empty() && !quoted).then(|| s.to_string())
}

/// The database of a psql `\connect` line: `shop`, `"Shop"`, or
/// `-reuse-previous=on "dbname='shop'"` (pg_dumpall for odd names).
fn pg_connect_target(rest: &str) -> Option<String> {
    let rest = rest.trim();
    if let Some(r) = rest.strip_prefix("-reuse-previous=on ") {
        let inner = r.trim().strip_prefix('"')?.strip_suffix('"')?;
        let v = inner.strip_prefix("dbname='")?.strip_suffix('\'')?;
        return Some(
            v.replace("\\'", "'")
                .replace("\\\\", "\\")
                .replace("\"\"", "\""),
        );
    }
    if let Some(q) = rest.strip_prefix('"') {
        return Some(q.strip_suffix('"')?.replace("\"\"", "\""));
    }
    Some(rest.split_whitespace().next()?.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(dialect: Dialect, text: &str, chunk: usize) -> Counter {
        let mut c = Counter::new(dialect, "d");
        for part in text.as_bytes().chunks(chunk) {
            c.feed(part);
        }
        c.finish();
        c
    }

    fn rows(c: &Counter, db: &str, name: &str) -> Option<u64> {
        c.objects
            .get(&Object {
                database: db.into(),
                name: name.into(),
            })
            .map(|c| c.rows)
    }

    #[test]
    fn mysql_extended_inserts_count_tuples_not_parentheses_in_strings() {
        let text = "CREATE TABLE `t` (\n  `a` int\n);\n\
                    INSERT INTO `t` VALUES (1,'a(b'),(2,'it\\'s ),('),(3,POINT(1,2));\n\
                    INSERT INTO `t` VALUES (4,'x');\n";
        for chunk in [1, 3, 7, 4096] {
            let c = count(Dialect::Mysql, text, chunk);
            assert_eq!(rows(&c, "d", "`t`"), Some(4), "chunk {chunk}");
        }
    }

    #[test]
    fn mysql_use_switches_database_and_views_are_existence_only() {
        let text = "USE `shop`;\nCREATE TABLE `o``x` (\n);\n\
                    INSERT INTO `o``x` VALUES (1),(2);\n\
                    /*!50001 VIEW `v` AS select 1 */;\nUSE `other`;\nCREATE TABLE `o``x` (\n);\n";
        let c = count(Dialect::Mysql, text, 5);
        assert_eq!(rows(&c, "shop", "`o``x`"), Some(2));
        assert_eq!(rows(&c, "other", "`o``x`"), Some(0));
        assert!(
            c.objects[&Object {
                database: "shop".into(),
                name: "`v`".into()
            }]
                .view
        );
        let names: Vec<&str> = c.databases.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["d", "shop", "other"]);
    }

    #[test]
    fn mydumper_double_quoted_strings_hide_quotes_and_parentheses() {
        let text = "INSERT INTO `t` VALUES\n(1,\"it's (a\"),\n(2,\"say \\\"(\\\"\");\nINSERT INTO `u` VALUES (1);\n";
        let mut c = Counter::new(Dialect::Mysql, "d");
        c.feed(text.as_bytes());
        c.finish();
        assert_eq!(rows(&c, "d", "`t`"), Some(2));
        assert_eq!(rows(&c, "d", "`u`"), Some(1));
    }

    #[test]
    fn mariadb_dump_one_row_per_line() {
        let text =
            "INSERT INTO `t` VALUES\n(1,'a;b'),\n(2,'c'),\n(3,'d');\nINSERT INTO `u` VALUES (1);\n";
        for chunk in [1, 5, 4096] {
            let c = count(Dialect::Mysql, text, chunk);
            assert_eq!(rows(&c, "d", "`t`"), Some(3));
            assert_eq!(rows(&c, "d", "`u`"), Some(1));
        }
    }

    #[test]
    fn mysql_complete_insert_column_list_is_not_a_row() {
        let text = "INSERT INTO `t` (`a`, `b VALUES (`) VALUES (1,2),(3,4);\n";
        let c = count(Dialect::Mysql, text, 2);
        assert_eq!(rows(&c, "d", "`t`"), Some(2));
    }

    #[test]
    fn postgres_copy_lines_and_connect() {
        let text = "CREATE TABLE public.\"T x\" (\n    id integer\n);\n\
                    COPY public.\"T x\" (id) FROM stdin;\n1\n2\n\\\\.\n\\.\n\
                    \\connect -reuse-previous=on \"dbname='we''ird'\"\n\
                    CREATE VIEW public.v AS\n SELECT 1;\n\
                    INSERT INTO public.t VALUES (1, 'a('), (2, ')');\n";
        for chunk in [1, 2, 4096] {
            let c = count(Dialect::Postgres, text, chunk);
            assert_eq!(rows(&c, "d", "public.\"T x\""), Some(3), "chunk {chunk}");
            assert_eq!(rows(&c, "we''ird", "public.t"), Some(2));
            assert!(c.objects.keys().any(|o| o.name == "public.v"));
        }
    }

    #[test]
    fn lines_longer_than_the_head_are_still_counted() {
        let long = "x".repeat(HEAD_CAP * 3);
        let text = format!("COPY public.t (a) FROM stdin;\n{long}\n{long}\n\\.\n");
        let c = count(Dialect::Postgres, &text, 100);
        assert_eq!(rows(&c, "d", "public.t"), Some(2));
        let values = "(1),".repeat(HEAD_CAP);
        let text = format!("INSERT INTO `t` VALUES {values}(0);\n");
        let c = count(Dialect::Mysql, &text, 100);
        assert_eq!(rows(&c, "d", "`t`"), Some(HEAD_CAP as u64 + 1));
    }

    #[test]
    fn bytes_are_attributed_to_the_current_database() {
        let text = "USE `a`;\n0123456789\n";
        let mut c = Counter::new(Dialect::Mysql, "d");
        c.feed(text.as_bytes());
        c.finish();
        let total: u64 = c.databases.iter().map(|(_, b)| b.bytes).sum();
        assert_eq!(total, text.len() as u64);
    }
}
