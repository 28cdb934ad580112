//! Dump writers and their completion markers: which tool wrote a dump (from its first
//! lines) and whether that tool's trailer is where the tool puts it (in the last lines).
//!
//! A dump killed mid-way and piped into a compressor leaves a perfectly valid compression
//! stream; only the writer's own trailer proves the writer finished. Rows may contain the
//! marker text, so only whole lines count.

use regex::Regex;

use crate::facts::{Sample, Writer};

/// How many non-blank lines at the start may precede the writer's header (MariaDB prints a
/// sandbox-mode comment first).
const HEADER_LINES: usize = 4;

/// Recognises the writer from the decoded head of a dump.
pub fn detect_writer(head: &[u8]) -> Writer {
    if head.starts_with(b"PGDMP") {
        return Writer::PgCustom;
    }
    let lines = head
        .split(|&b| b == b'\n')
        .map(trim_line)
        .filter(|l| !l.is_empty() && *l != b"--")
        .take(HEADER_LINES);
    for line in lines {
        if line.starts_with(b"-- MySQL dump") || line.starts_with(b"-- MariaDB dump") {
            return Writer::Mysqldump;
        }
        if line == b"-- PostgreSQL database cluster dump" {
            return Writer::PgDumpall;
        }
        if line == b"-- PostgreSQL database dump" {
            return Writer::PgDump;
        }
    }
    Writer::Unknown
}

/// What must end a complete dump.
#[derive(Debug, Clone)]
pub enum MarkerRule {
    /// `-- Dump completed` (optionally ` on <date>`) as the last non-blank line.
    Mysqldump,
    /// `-- PostgreSQL database dump complete` among the last lines, after which only `--`
    /// and `\unrestrict <key>` lines may follow.
    PgDump,
    /// `-- PostgreSQL database cluster dump complete`, same placement as pg_dump's.
    PgDumpall,
    /// A custom regex the last non-blank line must match.
    Regex(Regex),
}

impl MarkerRule {
    /// The rule for a recognised text writer.
    pub fn for_writer(writer: Writer) -> Option<MarkerRule> {
        match writer {
            Writer::Mysqldump => Some(MarkerRule::Mysqldump),
            Writer::PgDump => Some(MarkerRule::PgDump),
            Writer::PgDumpall => Some(MarkerRule::PgDumpall),
            Writer::PgCustom | Writer::Unknown | Writer::Directory(_) | Writer::Tar => None,
        }
    }

    /// What the rule expects, for messages.
    pub fn expected(&self) -> String {
        match self {
            MarkerRule::Mysqldump => "'-- Dump completed' as the last line".into(),
            MarkerRule::PgDump => format!("'{PG_DUMP_TRAILER}' at the end"),
            MarkerRule::PgDumpall => format!("'{PG_DUMPALL_TRAILER}' at the end"),
            MarkerRule::Regex(re) => format!("last line matching /{}/", re.as_str()),
        }
    }
}

const PG_DUMP_TRAILER: &str = "-- PostgreSQL database dump complete";
const PG_DUMPALL_TRAILER: &str = "-- PostgreSQL database cluster dump complete";
/// How many trailing non-blank lines may follow pg_dump's marker (`--`, `\unrestrict`).
const PG_LOOKBACK: usize = 8;

/// The outcome of a marker rule on a dump's tail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MarkerOutcome {
    /// The marker is there.
    Found {
        /// The marker line (lossy UTF-8, unescaped; the presenter makes it safe).
        line: String,
        /// mysqldump's `on <date>` part, when present.
        date: Option<String>,
    },
    /// The marker is missing.
    Missing {
        /// The last non-blank line found instead (bounded length), if any.
        last_line: Option<String>,
        /// The last line has no final newline: the file was cut (dump tools end every
        /// line, their trailer included, with one).
        unterminated: bool,
    },
}

fn trim_line(line: &[u8]) -> &[u8] {
    let end = line
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(0, |p| p + 1);
    &line[..end]
}

/// The non-blank lines of the tail, last first. A partial first line (the tail did not
/// start at a line boundary) is dropped.
fn last_lines(sample: &Sample) -> impl Iterator<Item = &[u8]> {
    let mut lines: Vec<&[u8]> = sample.tail.rsplit(|&b| b == b'\n').collect();
    if !sample.tail_is_whole && !lines.is_empty() {
        lines.pop();
    }
    lines.into_iter().map(trim_line).filter(|l| !l.is_empty())
}

/// The key of pg_dump's `\restrict KEY` line near the top, if the dump has one.
fn restrict_key(head: &[u8]) -> Option<&[u8]> {
    head.split(|&b| b == b'\n')
        .take(20)
        .map(trim_line)
        .find_map(|l| l.strip_prefix(b"\\restrict "))
}

const QUOTE_BYTES: usize = 512;

fn quote(line: &[u8]) -> String {
    String::from_utf8_lossy(&line[..line.len().min(QUOTE_BYTES)]).into_owned()
}

/// Applies `rule` to the decoded tail of a dump.
pub fn check_marker(rule: &MarkerRule, sample: &Sample) -> MarkerOutcome {
    let mut lines = last_lines(sample);
    let last = lines.next();
    // A cut plain dump can end inside its own trailer (`-- Dump completed on 2026-1`):
    // the real tools end the trailer with a newline, so an unterminated last line is
    // never a marker (custom regexes excepted: their writers are unknown).
    let unterminated = sample
        .tail
        .rsplit(|&b| b == b'\n')
        .next()
        .is_some_and(|segment| !trim_line(segment).is_empty());
    let missing = |last: Option<&[u8]>| MarkerOutcome::Missing {
        last_line: last.map(quote),
        unterminated,
    };
    let Some(last_line) = last else {
        return missing(None);
    };
    if unterminated && !matches!(rule, MarkerRule::Regex(_)) {
        return missing(Some(last_line));
    }
    match rule {
        MarkerRule::Mysqldump => {
            let Some(rest) = last_line.strip_prefix(b"-- Dump completed") else {
                return missing(Some(last_line));
            };
            if rest.is_empty() {
                return MarkerOutcome::Found {
                    line: quote(last_line),
                    date: None,
                };
            }
            match rest.strip_prefix(b" on ") {
                Some(date) => MarkerOutcome::Found {
                    line: quote(last_line),
                    date: Some(quote(date).trim().to_string()),
                },
                None => missing(Some(last_line)),
            }
        }
        MarkerRule::PgDump | MarkerRule::PgDumpall => {
            let trailer = if matches!(rule, MarkerRule::PgDump) {
                PG_DUMP_TRAILER
            } else {
                PG_DUMPALL_TRAILER
            };
            let mut unrestricted = false;
            let found = std::iter::once(last_line)
                .chain(lines)
                .take(PG_LOOKBACK)
                .find(|l| {
                    let skip = *l == b"--" || l.starts_with(b"\\unrestrict ");
                    unrestricted |= l.starts_with(b"\\unrestrict ");
                    !skip
                });
            // pg_dump 17.6/16.10/15.14/14.19/13.22+ opens with `\restrict KEY` and ends with
            // `\unrestrict KEY` after its marker: then that line must be there too.
            let needs_unrestrict =
                matches!(rule, MarkerRule::PgDump) && restrict_key(&sample.head).is_some();
            match found {
                Some(line) if line == trailer.as_bytes() && (unrestricted || !needs_unrestrict) => {
                    MarkerOutcome::Found {
                        line: trailer.to_string(),
                        date: None,
                    }
                }
                _ => missing(Some(last_line)),
            }
        }
        MarkerRule::Regex(re) => {
            let text = String::from_utf8_lossy(last_line);
            if re.is_match(&text) {
                MarkerOutcome::Found {
                    line: quote(last_line),
                    date: None,
                }
            } else {
                missing(Some(last_line))
            }
        }
    }
}

/// Which completion marker to require (from `--marker` / `--marker-regex`).
#[derive(Debug, Clone)]
pub enum MarkerChoice {
    /// Recognise the writer and require its trailer.
    Auto,
    /// Require this rule whatever the header says.
    Rule(MarkerRule),
    /// Check only the compression stream.
    None,
}

impl MarkerChoice {
    /// A stable text for the choice, part of the cache key: a verdict reached under one
    /// choice says nothing under another.
    pub fn key(&self) -> String {
        match self {
            MarkerChoice::Auto => "auto".into(),
            MarkerChoice::None => "none".into(),
            MarkerChoice::Rule(MarkerRule::Mysqldump) => "mysqldump".into(),
            MarkerChoice::Rule(MarkerRule::PgDump) => "pg_dump".into(),
            MarkerChoice::Rule(MarkerRule::PgDumpall) => "pg_dumpall".into(),
            MarkerChoice::Rule(MarkerRule::Regex(re)) => format!("regex:{}", re.as_str()),
        }
    }

    /// The command-line arguments that select this choice (to hand the same work to a
    /// background verifier).
    pub fn to_args(&self) -> Vec<String> {
        match self {
            MarkerChoice::Rule(MarkerRule::Regex(re)) => {
                vec!["--marker-regex".into(), re.as_str().into()]
            }
            other => vec!["--marker".into(), other.key()],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(text: &str) -> Sample {
        Sample {
            head: text.as_bytes().to_vec(),
            tail: text.as_bytes().to_vec(),
            tail_is_whole: true,
        }
    }

    #[test]
    fn writers() {
        let table: &[(&str, Writer)] = &[
            ("-- MySQL dump 10.13  Distrib 8.0.36\n", Writer::Mysqldump),
            (
                "/*M!999999\\- enable the sandbox mode */ \n-- MariaDB dump 10.19-11.4.2-MariaDB\n",
                Writer::Mysqldump,
            ),
            ("--\n-- PostgreSQL database dump\n--\n\n", Writer::PgDump),
            (
                "--\n-- PostgreSQL database cluster dump\n--\n",
                Writer::PgDumpall,
            ),
            ("PGDMP\x01\x0f\x00", Writer::PgCustom),
            ("CREATE TABLE t (id int);\n", Writer::Unknown),
            ("", Writer::Unknown),
            ("a\nb\nc\nd\n-- MySQL dump 10.13\n", Writer::Unknown),
        ];
        for (head, want) in table {
            assert_eq!(detect_writer(head.as_bytes()), *want, "{head:?}");
        }
    }

    #[test]
    fn mysqldump_marker() {
        let rule = MarkerRule::Mysqldump;
        let found = |text: &str| check_marker(&rule, &sample(text));
        assert_eq!(
            found("INSERT ...;\n-- Dump completed on 2026-11-25  3:04:05\n"),
            MarkerOutcome::Found {
                line: "-- Dump completed on 2026-11-25  3:04:05".into(),
                date: Some("2026-11-25  3:04:05".into())
            }
        );
        assert!(matches!(
            found("x\n-- Dump completed\n\n\n"),
            MarkerOutcome::Found { date: None, .. }
        ));
        assert!(matches!(
            found("x\r\n-- Dump completed\r\n"),
            MarkerOutcome::Found { .. }
        ));
        // The marker inside a row, or not last, is not a marker.
        assert_eq!(
            found("INSERT INTO t VALUES ('-- Dump completed');\n"),
            MarkerOutcome::Missing {
                last_line: Some("INSERT INTO t VALUES ('-- Dump completed');".into()),
                unterminated: false,
            }
        );
        assert!(matches!(
            found("-- Dump completed\nINSERT INTO t VALUES (1);\n"),
            MarkerOutcome::Missing { .. }
        ));
        assert!(matches!(
            found("-- Dump completedX\n"),
            MarkerOutcome::Missing { .. }
        ));
        assert_eq!(
            found("\n\n"),
            MarkerOutcome::Missing {
                last_line: None,
                unterminated: false
            }
        );
        // A plain dump cut inside its own trailer.
        assert_eq!(
            found("x\n-- Dump completed on 2026-11-2"),
            MarkerOutcome::Missing {
                last_line: Some("-- Dump completed on 2026-11-2".into()),
                unterminated: true
            }
        );
        assert!(matches!(
            found("x\n-- Dump completed"),
            MarkerOutcome::Missing {
                unterminated: true,
                ..
            }
        ));
    }

    #[test]
    fn pg_markers() {
        let pg = MarkerRule::PgDump;
        let all = MarkerRule::PgDumpall;
        let modern = "COPY ...\n\\.\n\n--\n-- PostgreSQL database dump complete\n--\n\n\\unrestrict abc123XYZ\n\n";
        let classic = "--\n-- PostgreSQL database dump complete\n--\n\n";
        let cluster = "--\n-- PostgreSQL database dump complete\n--\n\n--\n-- PostgreSQL database cluster dump complete\n--\n\n";
        let cut_cluster =
            "\\connect db1\n--\n-- PostgreSQL database dump complete\n--\n\n\\unrestrict k\n";
        assert!(matches!(
            check_marker(&pg, &sample(modern)),
            MarkerOutcome::Found { .. }
        ));
        // With `\restrict` at the top, a file cut before its `\unrestrict` is incomplete.
        let restricted = "--\n-- PostgreSQL database dump\n--\n\n\\restrict abc123XYZ\n\nCOPY ...\n\\.\n\n--\n-- PostgreSQL database dump complete\n--\n\n";
        assert!(matches!(
            check_marker(&pg, &sample(restricted)),
            MarkerOutcome::Missing { .. }
        ));
        let restored = format!("{restricted}\\unrestrict abc123XYZ\n\n");
        assert!(matches!(
            check_marker(&pg, &sample(&restored)),
            MarkerOutcome::Found { .. }
        ));
        assert!(matches!(
            check_marker(&pg, &sample(classic)),
            MarkerOutcome::Found { .. }
        ));
        assert!(matches!(
            check_marker(&all, &sample(cluster)),
            MarkerOutcome::Found { .. }
        ));
        // A cut pg_dumpall whose last database finished looks like a complete pg_dump.
        assert!(matches!(
            check_marker(&all, &sample(cut_cluster)),
            MarkerOutcome::Missing { .. }
        ));
        assert!(matches!(
            check_marker(&pg, &sample("COPY public.log (id) FROM stdin;\n1\n2\n")),
            MarkerOutcome::Missing { .. }
        ));
        // Another statement after the marker means it was not the end.
        assert!(matches!(
            check_marker(
                &pg,
                &sample("-- PostgreSQL database dump complete\nSELECT 1;\n")
            ),
            MarkerOutcome::Missing { .. }
        ));
    }

    #[test]
    fn partial_first_line_is_ignored() {
        let s = Sample {
            head: Vec::new(),
            tail: b"-- Dump completed on 2026\n".to_vec(),
            tail_is_whole: false,
        };
        // The only line is the partial one: it may be the end of a longer row.
        assert_eq!(
            check_marker(&MarkerRule::Mysqldump, &s),
            MarkerOutcome::Missing {
                last_line: None,
                unterminated: false
            }
        );
    }

    #[test]
    fn regex_marker() {
        let rule = MarkerRule::Regex(Regex::new("^-- backup done at .*$").unwrap());
        assert!(matches!(
            check_marker(&rule, &sample("x\n-- backup done at 3am\n")),
            MarkerOutcome::Found { .. }
        ));
        assert!(matches!(
            check_marker(&rule, &sample("-- backup done at 3am\nx\n")),
            MarkerOutcome::Missing { .. }
        ));
    }
}
