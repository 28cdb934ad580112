//! Which databases one dump holds: the `-- Current Database: `name`` sections of an
//! `--all-databases` mysqldump, the `\connect name` sections of a pg_dumpall. Used by
//! `--expect-databases` on a single dump; it reads the whole decoded stream once more, so it
//! runs only when asked.

use std::io::{self, Read, Seek, SeekFrom};

use crate::decode::detect;

/// At most this many database names are collected.
const MAX_NAMES: usize = 10_000;

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

/// The database of a single-database mysqldump header (`-- Host: h    Database: shop`).
fn single_database(head: &[u8]) -> Option<String> {
    let at = memchr::memmem::find(head, b"\n-- Host: ")?;
    let line_end = memchr::memchr(b'\n', &head[at + 1..]).map_or(head.len(), |e| at + 1 + e);
    let line = String::from_utf8_lossy(&head[at + 1..line_end]);
    let db = line.split("Database: ").nth(1)?.trim();
    (!db.is_empty()).then(|| db.to_string())
}

/// The databases named by section markers in the dump `file` (of any supported compression).
pub fn databases<R: Read + Seek>(mut file: R) -> io::Result<Vec<String>> {
    let mut magic = [0u8; 8];
    let n = file.read(&mut magic)?;
    file.seek(SeekFrom::Start(0))?;
    let mut reader = crate::decode::reference_decoder(detect(&magic[..n]), file)?;
    let my = memchr::memmem::Finder::new(b"\n-- Current Database: ");
    let pg = memchr::memmem::Finder::new(b"\n\\connect ");
    let mut names: Vec<String> = Vec::new();
    // Each buffer keeps the end of the previous one, so a marker across reads is seen (a
    // marker seen twice is harmless: names are collected once).
    const KEEP: usize = 4096;
    let mut buf = vec![0u8; 1024 * 1024 + KEEP];
    let mut carried = 1;
    buf[0] = b'\n'; // the very first line counts too
    let mut first_host_db = None;
    loop {
        let n = reader.read(&mut buf[carried..])?;
        if n == 0 {
            break;
        }
        let end = carried + n;
        let window = &buf[..end];
        if first_host_db.is_none() {
            first_host_db = single_database(&window[..window.len().min(64 * 1024)]);
        }
        for (finder, is_pg) in [(&my, false), (&pg, true)] {
            for at in finder.find_iter(window) {
                let rest = &window[at + finder.needle().len()..];
                // A marker whose line is not complete in this window is seen in the next.
                if memchr::memchr(b'\n', rest).is_none() && end - at < KEEP {
                    continue;
                }
                if let Some(name) = name_after(rest, is_pg) {
                    if !names.contains(&name) && names.len() < MAX_NAMES {
                        names.push(name);
                    }
                }
            }
        }
        let keep = KEEP.min(end);
        buf.copy_within(end - keep..end, 0);
        carried = keep;
    }
    if names.is_empty() {
        // A single-database mysqldump names its database in the header instead:
        // `-- Host: localhost    Database: shop`.
        names.extend(first_host_db);
    }
    names.sort();
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Cursor, Write};

    fn gz(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn mysqldump_all_databases() {
        let mut text =
            b"-- MariaDB dump 10.19\n--\n-- Current Database: `crm`\n--\n\nCREATE DATABASE crm;\n"
                .to_vec();
        text.extend(std::iter::repeat_n(b'x', 3_000_000));
        text.extend_from_slice(b"\n--\n-- Current Database: `shop`\n--\nINSERT ... '-- Current Database: `fake`' ...\n");
        let names = databases(Cursor::new(gz(&text))).unwrap();
        assert_eq!(names, ["crm", "shop"]);
    }

    #[test]
    fn pg_dumpall_connects() {
        let text = b"--\n-- PostgreSQL database cluster dump\n--\n\\connect template1\n\\connect -reuse-previous=on \"dbname='shop'\"\n\\connect postgres\n";
        assert_eq!(
            databases(Cursor::new(text.to_vec())).unwrap(),
            ["postgres", "shop", "template1"]
        );
    }
}
