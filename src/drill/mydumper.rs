//! mydumper directories: what they create and insert is counted from their files (the
//! same counter as for mysqldump text: `CREATE TABLE`, `INSERT` row tuples), then
//! `myloader` restores the directory into the throwaway MariaDB through its socket.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Instant;

use super::count::{Counter, Dialect, Object};
use super::restore::{first_error, Streamed};
use super::server::{self, Server};
use super::{procs, DrillError, RunAs};

/// What a file of a mydumper directory holds, from its name (mydumper 0.10+ layout).
#[derive(Debug, PartialEq, Eq)]
pub enum Part {
    /// `<db>-schema-create.sql`: the database.
    Database(String),
    /// `<db>.<table>-schema.sql`: a table (or a view's placeholder table).
    Schema(String, String),
    /// `<db>.<view>-schema-view.sql`: a view.
    View(String, String),
    /// `<db>.<table>.sql` or `<db>.<table>.<n>.sql`: rows.
    Data(String, String),
    /// Triggers, routines, anything else: not counted.
    Other,
}

/// The part a file name stands for.
pub fn part(file: &str) -> Part {
    let stem = file.trim_end_matches(".gz").trim_end_matches(".zst");
    let Some(stem) = stem.strip_suffix(".sql") else {
        return Part::Other;
    };
    if let Some(db) = stem.strip_suffix("-schema-create") {
        return Part::Database(db.into());
    }
    let split = |s: &str| {
        s.split_once('.')
            .map(|(d, t)| (d.to_string(), t.to_string()))
    };
    if let Some(rest) = stem.strip_suffix("-schema-view") {
        return split(rest).map_or(Part::Other, |(d, t)| Part::View(d, t));
    }
    if let Some(rest) = stem.strip_suffix("-schema") {
        return split(rest).map_or(Part::Other, |(d, t)| Part::Schema(d, t));
    }
    if stem.contains("-schema") {
        return Part::Other;
    }
    match split(stem) {
        // `<table>.<n>`: one chunk of a table split by --rows/--chunk-filesize.
        Some((d, t)) => match t.rsplit_once('.') {
            Some((t, n)) if n.bytes().all(|b| b.is_ascii_digit()) => Part::Data(d, t.into()),
            _ => Part::Data(d, t),
        },
        None => Part::Other,
    }
}

/// Counts what the directory's files create and insert (each file's decoded text, read
/// once, in bounded memory), schemas before data; views flagged from their file names.
pub fn count(dir: &Path) -> Result<(Counter, u64), DrillError> {
    let unreadable = |p: &Path, e: std::io::Error| {
        DrillError::Setup(format!(
            "cannot read {}: {e}",
            crate::text::safe_path(p, 200)
        ))
    };
    let mut files: Vec<(PathBuf, Part)> = std::fs::read_dir(dir)
        .map_err(|e| unreadable(dir, e))?
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .map(|e| {
            let p = part(&e.file_name().to_string_lossy());
            (e.path(), p)
        })
        .collect();
    files.sort_by(|a, b| a.0.cmp(&b.0));
    let mut counter = Counter::new(Dialect::Mysql, "");
    let mut bytes = 0u64;
    let mut views = Vec::new();
    for pass in [0, 1] {
        for (path, p) in &files {
            let db = match (pass, p) {
                (0, Part::Schema(db, _)) | (1, Part::Data(db, _)) => db,
                (0, Part::View(db, v)) => {
                    // Named as the counter keeps names: as written, backquoted.
                    views.push(Object {
                        database: db.clone(),
                        name: format!("`{}`", v.replace('`', "``")),
                    });
                    continue;
                }
                _ => continue,
            };
            // The file does not say its database: the name does.
            counter.feed(format!("USE `{}`;\n", db.replace('`', "``")).as_bytes());
            let (file, compression, _) = super::open_dump(path)?;
            let mut decoded = crate::decode::reference_decoder(compression, file)
                .map_err(|e| unreadable(path, e))?;
            let mut buf = vec![0u8; 256 * 1024];
            loop {
                let n = match std::io::Read::read(&mut decoded, &mut buf) {
                    Ok(0) => break,
                    Ok(n) => n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(unreadable(path, e)),
                };
                bytes += n as u64;
                counter.feed(&buf[..n]);
            }
            // A file's last line may lack its newline.
            counter.feed(b"\n");
        }
    }
    counter.finish();
    for v in views {
        counter.objects.entry(v).or_default().view = true;
    }
    Ok((counter, bytes))
}

/// Restores `dir` with myloader (as `run_as`, which must be able to read it: see
/// [`readable_by_the_user`]) into the
/// throwaway server; its counted contents are `counter`.
pub fn restore(
    dir: &Path,
    counter: Counter,
    bytes: u64,
    srv: &Server,
    work: &Path,
    run_as: Option<RunAs>,
) -> Result<Streamed, DrillError> {
    let myloader = server::find_binary(&["myloader"], &[])
        .ok_or_else(|| DrillError::Missing("myloader (Debian: apt install mydumper)".into()))?;
    procs::step("restoring the dump (myloader)");
    let mut cmd = server::command(&myloader, work);
    cmd.arg("--directory")
        .arg(dir)
        .arg(format!("--socket={}", srv.socket.display()))
        .args(["--user=root", "--threads=2", "--verbose=1"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let started = Instant::now();
    let child = procs::spawn(&mut cmd, run_as)
        .map_err(|e| DrillError::Setup(format!("cannot run myloader: {e}")))?;
    let out = child
        .wait_with_output()
        .map_err(|e| DrillError::Setup(format!("waiting for myloader: {e}")))?;
    let elapsed = started.elapsed().as_secs_f64();
    let text = String::from_utf8_lossy(&out.stderr);
    // myloader 0.10 logs a failed statement as CRITICAL and may still exit 0.
    let failed = text
        .lines()
        .find(|l| l.contains("CRITICAL") || l.contains("ERROR"));
    let error = if let Some(l) = failed {
        Some(format!("myloader: {}", crate::text::safe(l.trim(), 400)))
    } else if !out.status.success() {
        Some(
            first_error(&text)
                .map(|e| format!("myloader: {e}"))
                .unwrap_or_else(|| format!("myloader exited with {}", out.status)),
        )
    } else {
        None
    };
    Ok(Streamed {
        counter,
        // myloader restores tables in parallel: no time per database.
        seconds: BTreeMap::new(),
        elapsed,
        bytes,
        error,
    })
}

/// myloader reads the directory as the unprivileged user: whether it can, asked of the
/// kernel as that user (`find ! -readable`), so that a permission problem is a
/// could-not-drill with its fix, not a failed restore.
pub fn readable_by_the_user(
    dir: &Path,
    work: &Path,
    run_as: Option<RunAs>,
) -> Result<(), DrillError> {
    let mut cmd = server::command(Path::new("/usr/bin/find"), work);
    cmd.arg(dir)
        .args(["-maxdepth", "1", "!", "-readable", "-print", "-quit"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let out = procs::spawn(&mut cmd, run_as)
        .and_then(|c| c.wait_with_output())
        .map_err(|e| DrillError::Setup(format!("cannot run find: {e}")))?;
    let unreadable = String::from_utf8_lossy(&out.stdout);
    if out.status.success() && unreadable.trim().is_empty() {
        return Ok(());
    }
    let what = unreadable.lines().next().map_or_else(
        || crate::text::safe_path(dir, 200),
        |l| crate::text::safe(l, 200),
    );
    Err(DrillError::Refused(format!(
        "the --user cannot read {what}: myloader reads the mydumper directory as that user; \
         give it read access to the directory and its files (and search access to the \
         directories above)"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_say_what_they_hold() {
        assert_eq!(
            part("shop-schema-create.sql.gz"),
            Part::Database("shop".into())
        );
        assert_eq!(
            part("shop.orders-schema.sql.zst"),
            Part::Schema("shop".into(), "orders".into())
        );
        assert_eq!(
            part("shop.v-schema-view.sql"),
            Part::View("shop".into(), "v".into())
        );
        assert_eq!(
            part("shop.orders.sql.gz"),
            Part::Data("shop".into(), "orders".into())
        );
        assert_eq!(
            part("shop.orders.00003.sql"),
            Part::Data("shop".into(), "orders".into())
        );
        assert_eq!(part("shop.orders-schema-triggers.sql"), Part::Other);
        assert_eq!(part("metadata"), Part::Other);
    }

    #[test]
    fn the_real_mydumper_directory_counts_its_tables_rows_and_view() {
        let dir =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/real/formats/mydumper-shop");
        let (c, bytes) = count(&dir).unwrap();
        assert!(bytes > 0);
        let mut got: Vec<(String, bool, u64)> = c
            .objects
            .iter()
            .map(|(o, n)| (format!("{}.{}", o.database, o.name), n.view, n.rows))
            .collect();
        got.sort();
        let rows: u64 = got.iter().filter(|g| !g.1).map(|g| g.2).sum();
        assert_eq!(got.len(), 4, "{got:?}");
        assert_eq!(got[0].0, "shop.`customer_revenue`");
        assert!(got[0].1, "{got:?}");
        assert_eq!(rows, 2340, "{got:?}");
    }
}
