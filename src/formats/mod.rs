//! Pure readers of dump formats over decoded bytes: which tool wrote a dump and whether its
//! completion marker is there (`writer`), tar archives (`tar`), pg_dump's archive formats
//! (`pg_archive`), checksum files (`checksums`), encrypted files walked without the key
//! (`encrypted`), the databases a whole-server dump holds (`sections`). No file is opened
//! here: the callers in `acquire` hand in readers and samples.

pub mod checksums;
pub mod encrypted;
pub mod pg_archive;
pub mod pg_cluster;
pub mod sections;
pub mod tar;
pub mod writer;

use crate::facts::{Compression, ContentFacts, MarkerVerdict, StreamFacts, Writer};
use writer::{check_marker, detect_writer, MarkerChoice, MarkerOutcome, MarkerRule};

/// Applies the writer detection and the marker rule to a stream's facts.
pub fn interpret(stream: &StreamFacts, choice: &MarkerChoice) -> ContentFacts {
    let head = &stream.sample.head;
    let writer = if stream.tar.is_some() {
        Writer::Tar
    } else {
        detect_writer(head)
    };
    let binary =
        stream.compression == Compression::Plain && head.contains(&0) && writer != Writer::PgCustom;
    let rule = match choice {
        MarkerChoice::None => None,
        MarkerChoice::Rule(rule) => Some(rule.clone()),
        MarkerChoice::Auto => MarkerRule::for_writer(writer),
    };
    let marker = match (choice, rule) {
        (MarkerChoice::None, _) => MarkerVerdict::NotChecked,
        (_, None) => MarkerVerdict::CannotVerify,
        (_, Some(rule)) => match check_marker(&rule, &stream.sample) {
            MarkerOutcome::Found { line, date } => MarkerVerdict::Found {
                line,
                date,
                rule: match &rule {
                    MarkerRule::Regex(_) => "custom".into(),
                    MarkerRule::Mysqldump => "mysqldump".into(),
                    MarkerRule::PgDump => "pg_dump".into(),
                    MarkerRule::PgDumpall => "pg_dumpall".into(),
                },
            },
            MarkerOutcome::Missing {
                last_line,
                unterminated,
            } => MarkerVerdict::Missing {
                expected: rule.expected(),
                last_line,
                unterminated,
            },
        },
    };
    ContentFacts {
        compression: stream.compression,
        uncompressed_size: stream.uncompressed_size,
        problem: stream.problem.clone(),
        binary,
        writer,
        marker,
        archive: stream
            .archive
            .clone()
            .or_else(|| stream.tar.as_ref().map(|t| tar::judge(t, choice))),
        checksum: None,
        encrypted: stream.encrypted.clone(),
        fingerprint: stream.fingerprint.clone(),
        // Only a SQL text dump's CREATE TABLE / INSERT / COPY lines are tables.
        tables: match writer {
            Writer::Mysqldump | Writer::PgDump | Writer::PgDumpall => stream.tables.clone(),
            _ => None,
        },
        // Likewise the database sections (for --expect-databases).
        sections: match writer {
            Writer::Mysqldump | Writer::PgDump | Writer::PgDumpall => stream.sections.clone(),
            _ => None,
        },
    }
}
