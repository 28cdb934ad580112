//! Restoring: the decoded dump streams through the [`Counter`] into the writer's own
//! client (no temporary copy), whose first error stops it; then the restored databases are
//! compared with what the dump creates and inserts.

use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::thread::JoinHandle;
use std::time::Instant;

use super::count::{Counter, Dialect, Object};
use super::procs::{self, RunAs};
use super::server::{self, Server};
use super::DrillError;

/// The size of one read from the dump.
const CHUNK: usize = 256 * 1024;
/// How much of a client's stderr is kept.
const STDERR_KEEP: usize = 32 * 1024;
/// Differences listed in a result at most.
pub const MAX_DIFFERENCES: usize = 50;

/// What streaming the dump into the client established.
pub struct Streamed {
    /// What the dump creates and inserts.
    pub counter: Counter,
    /// Seconds spent per database (at the granularity of one read).
    pub seconds: BTreeMap<String, f64>,
    /// Seconds from the client's start to its exit.
    pub elapsed: f64,
    /// Bytes sent.
    pub bytes: u64,
    /// The client's first error, when it failed.
    pub error: Option<String>,
}

/// Keeps the first and the last [`STDERR_KEEP`] bytes of a child's stderr (reading on to
/// its end): the mariadb client may echo a whole failing statement (up to
/// max_allowed_packet) before its `ERROR ... at line N` line.
fn collect_stderr(child: &mut Child) -> Option<JoinHandle<String>> {
    let mut err = child.stderr.take()?;
    Some(std::thread::spawn(move || {
        let mut head = Vec::new();
        let mut tail: std::collections::VecDeque<u8> = std::collections::VecDeque::new();
        let mut buf = [0u8; 8192];
        while let Ok(n) = err.read(&mut buf) {
            if n == 0 {
                break;
            }
            let room = STDERR_KEEP.saturating_sub(head.len());
            head.extend_from_slice(&buf[..n.min(room)]);
            if n > room {
                tail.extend(&buf[room..n]);
                while tail.len() > STDERR_KEEP {
                    tail.pop_front();
                }
            }
        }
        let mut text = String::from_utf8_lossy(&head).into_owned();
        if !tail.is_empty() {
            text.push('\n');
            text.push_str(&String::from_utf8_lossy(&Vec::from(tail)));
        }
        text
    }))
}

/// The line of a client's stderr that says what failed: the first `ERROR` line (mariadb:
/// `ERROR 1146 (42S02) at line 8812: ...`; psql: `psql:<stdin>:39: ERROR:  ...`), else the
/// first line.
pub fn first_error(stderr: &str) -> Option<String> {
    let lines: Vec<&str> = stderr
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    lines
        .iter()
        .find(|l| l.contains("ERROR") || l.contains("FATAL"))
        .or_else(|| lines.iter().find(|l| !l.starts_with("-----")))
        .map(|l| crate::text::safe(l, 400))
}

/// The client's command for the restore.
pub fn mariadb_client(server: &Server, work: &Path) -> Result<Command, DrillError> {
    let client = server::find_binary(&["mariadb", "mysql"], &[]).ok_or_else(|| {
        DrillError::Missing("the mariadb client (Debian: apt install mariadb-client)".into())
    })?;
    let mut cmd = server::command(&client, work);
    cmd.arg("--no-defaults")
        .arg(format!("--socket={}", server.socket.display()))
        .args(["--user=root", "--batch", "--max-allowed-packet=1G"]);
    Ok(cmd)
}

/// psql on database `db` of the throwaway cluster, stopping at the first error.
pub fn psql(server: &Server, work: &Path, db: &str) -> Command {
    let bin = server.bin_dir.clone().unwrap_or_default();
    let mut cmd = server::command(&bin.join("psql"), work);
    cmd.env("PGOPTIONS", "-c client_min_messages=warning")
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-h"])
        .arg(&server.socket)
        .args(["-U", &server.superuser, "-d", db]);
    cmd
}

/// Streams `source` through the counter into `client` (started here as `run_as`).
pub fn stream(
    mut source: impl Read,
    mut client: Command,
    run_as: Option<RunAs>,
    dialect: Dialect,
    database: &str,
) -> Result<Streamed, DrillError> {
    procs::step("restoring the dump");
    client
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let started = Instant::now();
    let mut child = procs::spawn(&mut client, run_as)
        .map_err(|e| DrillError::Setup(format!("cannot run the client: {e}")))?;
    let stderr = collect_stderr(&mut child);
    let mut stdin: Option<ChildStdin> = child.stdin.take();
    let mut counter = Counter::new(dialect, database);
    let mut seconds: BTreeMap<String, f64> = BTreeMap::new();
    let mut bytes = 0u64;
    let mut buf = vec![0u8; CHUNK];
    let mut read_error = None;
    loop {
        let t = Instant::now();
        let n = match source.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                read_error = Some(e);
                break;
            }
        };
        let db = counter.database().to_string();
        counter.feed(&buf[..n]);
        bytes += n as u64;
        // The client stopped at an error (it closed its stdin): its stderr says why.
        let sent = stdin.as_mut().map(|s| s.write_all(&buf[..n]));
        *seconds.entry(db).or_default() += t.elapsed().as_secs_f64();
        if !matches!(sent, Some(Ok(()))) {
            break;
        }
    }
    counter.finish();
    drop(stdin);
    let status = child
        .wait()
        .map_err(|e| DrillError::Setup(format!("waiting for the client: {e}")))?;
    let elapsed = started.elapsed().as_secs_f64();
    let err_text = stderr.and_then(|h| h.join().ok()).unwrap_or_default();
    if let Some(e) = read_error {
        return Err(DrillError::Setup(format!(
            "reading the dump failed while restoring it (it was verified before: did it \
             change?): {e}"
        )));
    }
    let error = (!status.success()).then(|| {
        first_error(&err_text).unwrap_or_else(|| format!("the client exited with {status}"))
    });
    Ok(Streamed {
        counter,
        seconds,
        elapsed,
        bytes,
        error,
    })
}

/// Runs `cmd` with `script` on stdin; its stdout, or its first error.
pub fn query(mut cmd: Command, run_as: Option<RunAs>, script: &str) -> Result<String, String> {
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = procs::spawn(&mut cmd, run_as).map_err(|e| e.to_string())?;
    let mut stdin = child.stdin.take();
    let script = script.to_string();
    let writer = std::thread::spawn(move || {
        if let Some(s) = stdin.as_mut() {
            let _ = s.write_all(script.as_bytes());
        }
    });
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    let _ = writer.join();
    if !out.status.success() {
        return Err(first_error(&String::from_utf8_lossy(&out.stderr))
            .unwrap_or_else(|| format!("exited with {}", out.status)));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// `i<TAB>value` lines into a map.
fn indexed(out: &str) -> BTreeMap<usize, String> {
    out.lines()
        .filter_map(|l| {
            let (i, v) = l.split_once(['\t', '|'])?;
            Some((i.trim().parse().ok()?, v.trim().to_string()))
        })
        .collect()
}

/// An SQL string literal (MariaDB: backslashes escaped too).
fn literal(s: &str, backslash: bool) -> String {
    let mut out = String::from("'");
    for c in s.chars() {
        match c {
            '\'' => out.push_str("''"),
            '\\' if backslash => out.push_str("\\\\"),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// `` `a``b` `` → ``a`b``.
fn unquote_backticks(raw: &str) -> String {
    raw.strip_prefix('`')
        .and_then(|r| r.strip_suffix('`'))
        .unwrap_or(raw)
        .replace("``", "`")
}

/// Tables whose rows the server itself maintains: their counts after a restore are not
/// the dump's (MariaDB recomputes persistent statistics for every table it loads).
fn server_maintained(o: &Object, dialect: Dialect) -> bool {
    dialect == Dialect::Mysql
        && o.database == "mysql"
        && matches!(
            unquote_backticks(&o.name).as_str(),
            "innodb_table_stats" | "innodb_index_stats"
        )
}

/// Up to five tables of the restored server outside its own system schemas
/// (`db.schema.table` or `db.table`): for a dump that creates no table, the proof that the
/// restored server holds none either (else the counter missed what the dump creates).
pub fn user_tables(
    dialect: Dialect,
    server: &Server,
    work: &Path,
    run_as: Option<RunAs>,
) -> Result<Vec<String>, DrillError> {
    procs::step("looking for tables in the restored server");
    let failed = |e: String| DrillError::Setup(format!("listing the restored tables: {e}"));
    let lines = |out: String| -> Vec<String> {
        out.lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(|l| crate::text::safe(l, 200))
            .collect()
    };
    match dialect {
        Dialect::Mysql => {
            let mut c = mariadb_client(server, work)?;
            c.arg("--skip-column-names");
            let out = query(
                c,
                run_as,
                "SELECT CONCAT(TABLE_SCHEMA, '.', TABLE_NAME) FROM information_schema.TABLES \
                 WHERE TABLE_SCHEMA NOT IN ('mysql', 'information_schema', \
                 'performance_schema', 'sys') LIMIT 5;\n",
            )
            .map_err(failed)?;
            Ok(lines(out))
        }
        Dialect::Postgres => {
            let list = |db: &str| {
                let mut c = psql(server, work, db);
                c.args(["-A", "-t", "-f", "-"]);
                c
            };
            let databases = lines(
                query(
                    list("postgres"),
                    run_as,
                    "SELECT datname FROM pg_database WHERE datallowconn ORDER BY 1;\n",
                )
                .or_else(|_| {
                    // A restored --create dump of `postgres` may have replaced it: ask
                    // template1 instead.
                    query(
                        list("template1"),
                        run_as,
                        "SELECT datname FROM pg_database WHERE datallowconn ORDER BY 1;\n",
                    )
                })
                .map_err(failed)?,
            );
            let mut found = Vec::new();
            for db in databases {
                let out = query(
                    list(&db),
                    run_as,
                    "SELECT current_database() || '.' || schemaname || '.' || tablename \
                     FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', \
                     'information_schema') LIMIT 5;\n",
                )
                .map_err(failed)?;
                found.extend(lines(out));
                if found.len() >= 5 {
                    break;
                }
            }
            found.truncate(5);
            Ok(found)
        }
    }
}

/// One database's objects: which exist, and each table's rows. Returns the differences.
pub fn compare(
    dialect: Dialect,
    database: &str,
    objects: &[(&Object, u64, bool)],
    client: impl Fn() -> Command,
    run_as: Option<RunAs>,
) -> Result<Vec<String>, DrillError> {
    procs::step("comparing the restored databases with the dump");
    let mut differences = Vec::new();
    let shown = |o: &Object| crate::text::safe(&format!("{}.{}", database, o.name), 200);
    let mut script = String::new();
    for (i, (o, _, _)) in objects.iter().enumerate() {
        let line = match dialect {
            Dialect::Mysql => format!(
                "SELECT {i}, COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = {} AND TABLE_NAME = {};\n",
                literal(database, true),
                literal(&unquote_backticks(&o.name), true)
            ),
            Dialect::Postgres => format!(
                "SELECT {i}, CASE WHEN to_regclass({}) IS NULL THEN 0 ELSE 1 END;\n",
                literal(&o.name, false)
            ),
        };
        script.push_str(&line);
    }
    let found = indexed(
        &query(client(), run_as, &script)
            .map_err(|e| DrillError::Setup(format!("listing the restored tables: {e}")))?,
    );
    let mut counts = String::new();
    for (i, (o, _, view)) in objects.iter().enumerate() {
        if found.get(&i).map(String::as_str) != Some("1") {
            differences.push(format!("{} is missing after the restore", shown(o)));
            continue;
        }
        if *view || server_maintained(o, dialect) {
            continue;
        }
        let table = match dialect {
            Dialect::Mysql => format!("`{}`.{}", database.replace('`', "``"), o.name),
            Dialect::Postgres => o.name.clone(),
        };
        counts.push_str(&format!("SELECT {i}, COUNT(*) FROM {table};\n"));
    }
    if !counts.is_empty() {
        let rows = indexed(
            &query(client(), run_as, &counts)
                .map_err(|e| DrillError::Setup(format!("counting the restored rows: {e}")))?,
        );
        for (i, (o, expected, view)) in objects.iter().enumerate() {
            if *view
                || server_maintained(o, dialect)
                || found.get(&i).map(String::as_str) != Some("1")
            {
                continue;
            }
            let got: Option<u64> = rows.get(&i).and_then(|v| v.parse().ok());
            if got != Some(*expected) {
                differences.push(format!(
                    "{}: the dump inserts {expected} rows, {} restored",
                    shown(o),
                    got.map_or("?".to_string(), |g| g.to_string())
                ));
            }
        }
    }
    Ok(differences)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_error_finds_the_client_error_after_an_echoed_statement() {
        let stderr = "--------------\nINSERT INTO `t` VALUES (1)\n--------------\n\n\
                      ERROR 1180 (HY000) at line 45: Got error 1 during COMMIT\n";
        assert_eq!(
            first_error(stderr).as_deref(),
            Some("ERROR 1180 (HY000) at line 45: Got error 1 during COMMIT")
        );
        let psql = "psql:<stdin>:39: ERROR:  role \"ghost\" does not exist\n";
        assert!(first_error(psql)
            .unwrap()
            .starts_with("psql:<stdin>:39: ERROR:"));
        assert_eq!(
            first_error("-----\nsomething odd\n").as_deref(),
            Some("something odd")
        );
        assert_eq!(first_error(""), None);
    }

    #[test]
    fn stderr_keeps_the_end_of_a_long_echo() {
        let mut child = std::process::Command::new("sh")
            .args([
                "-c",
                "head -c 200000 /dev/zero | tr '\\0' x >&2; echo >&2; echo 'ERROR 1 at line 2: end' >&2",
            ])
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let text = collect_stderr(&mut child).unwrap().join().unwrap();
        child.wait().unwrap();
        assert!(text.len() <= 2 * STDERR_KEEP + 1, "{}", text.len());
        assert_eq!(
            first_error(&text).as_deref(),
            Some("ERROR 1 at line 2: end")
        );
    }
}
