//! mariabackup/xtrabackup directories: `--prepare` rewrites the files it is given, so the
//! backup is copied into the work directory first (the original is only read), prepared
//! there with `mariabackup --prepare`, and a throwaway mariadbd serves the prepared copy
//! (unix socket only, as the unprivileged user). Then every table the backup holds — its
//! database directories' `.frm` files — must exist and be readable: `COUNT(*)` of each;
//! every view must exist.

use std::io::Read;
use std::path::Path;

use super::procs::{self, RunAs};
use super::server::{self, Server};
use super::DrillError;
use crate::text::{safe, safe_path};

/// One table or view of the backup.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Table {
    /// Its database (directory name, decoded).
    pub database: String,
    /// Its name (file name without `.frm`, decoded).
    pub name: String,
    /// A view (its `.frm` is the view's definition, `TYPE=VIEW`).
    pub view: bool,
}

/// MariaDB's file-name encoding decoded: `@002d` → `-`, `@0040` → `@` (names that are
/// plain ASCII letters, digits and `_` are stored as they are).
pub fn decode_name(file: &str) -> String {
    let mut out = String::with_capacity(file.len());
    let mut rest = file;
    while let Some(at) = rest.find('@') {
        out.push_str(&rest[..at]);
        let code = rest.get(at + 1..at + 5);
        match code
            .and_then(|c| u32::from_str_radix(c, 16).ok())
            .and_then(char::from_u32)
        {
            Some(c) => {
                out.push(c);
                rest = &rest[at + 5..];
            }
            None => {
                out.push('@');
                rest = &rest[at + 1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// The tables and views of the backup in `dir`: each database directory's `.frm` files
/// (a view's begins with `TYPE=VIEW`), sorted; the server's temporary `#sql` files and
/// performance_schema (no data on disk) left out.
pub fn tables(dir: &Path) -> Result<Vec<Table>, DrillError> {
    let unreadable = |p: &Path, e: std::io::Error| {
        DrillError::Setup(format!("cannot read {}: {e}", safe_path(p, 200)))
    };
    let mut found = Vec::new();
    for db in std::fs::read_dir(dir)
        .map_err(|e| unreadable(dir, e))?
        .flatten()
    {
        if !db.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        let database = decode_name(&db.file_name().to_string_lossy());
        if database == "performance_schema" {
            continue;
        }
        for f in std::fs::read_dir(db.path())
            .map_err(|e| unreadable(&db.path(), e))?
            .flatten()
        {
            let file = f.file_name().to_string_lossy().into_owned();
            let Some(stem) = file.strip_suffix(".frm") else {
                continue;
            };
            if stem.starts_with("#sql") {
                continue;
            }
            let mut head = [0u8; 9];
            let n = crate::sys::open_readonly(&f.path())
                .and_then(|mut h| crate::decode::read_full(&mut h, &mut head))
                .map_err(|e| unreadable(&f.path(), e))?;
            found.push(Table {
                database: database.clone(),
                name: decode_name(stem),
                view: &head[..n] == b"TYPE=VIEW",
            });
        }
    }
    found.sort();
    Ok(found)
}

/// Copies the backup `src` into `dest` (made here, inside the drill's still private work
/// directory): directories and regular files only, the originals opened read-only.
/// Returns the bytes copied.
pub fn copy(src: &Path, dest: &Path) -> Result<u64, DrillError> {
    procs::step("copying the backup into the work directory");
    let mut bytes = 0u64;
    for entry in walkdir::WalkDir::new(src).follow_links(false) {
        let entry = entry
            .map_err(|e| DrillError::Setup(format!("cannot read {}: {e}", safe_path(src, 200))))?;
        let rel = entry.path().strip_prefix(src).unwrap_or(Path::new(""));
        let to = dest.join(rel);
        let t = entry.file_type();
        let failed = |e: std::io::Error| {
            DrillError::Setup(format!(
                "copying {} to {}: {e}",
                safe_path(entry.path(), 200),
                safe_path(&to, 200)
            ))
        };
        if t.is_dir() {
            std::fs::create_dir(&to).map_err(failed)?;
        } else if t.is_file() {
            let mut from = crate::sys::open_readonly(entry.path()).map_err(failed)?;
            let mut out = std::fs::File::create_new(&to).map_err(failed)?;
            bytes += std::io::copy(&mut from, &mut out).map_err(failed)?;
        } else {
            return Err(DrillError::Refused(format!(
                "{} is neither a file nor a directory: a mariabackup directory holds only those",
                safe_path(entry.path(), 200)
            )));
        }
    }
    Ok(bytes)
}

/// Hands `dir` and everything below it to `r` (lchown: no link is followed).
pub fn hand_over(dir: &Path, r: RunAs) -> Result<(), DrillError> {
    for entry in walkdir::WalkDir::new(dir).follow_links(false) {
        let entry = entry.map_err(|e| DrillError::Setup(format!("chown: {e}")))?;
        std::os::unix::fs::lchown(entry.path(), Some(r.uid), Some(r.gid)).map_err(|e| {
            DrillError::Setup(format!("chown {}: {e}", safe_path(entry.path(), 200)))
        })?;
    }
    Ok(())
}

/// `mariabackup --prepare --target-dir COPY` as `run_as`: None when it prepared the copy,
/// Some(its first error) when it could not (the backup does not restore: a failed drill).
pub fn prepare(
    copy: &Path,
    work: &Path,
    run_as: Option<RunAs>,
) -> Result<Option<String>, DrillError> {
    let tool = server::find_binary(&["mariabackup", "mariadb-backup", "xtrabackup"], &[])
        .ok_or_else(|| {
            DrillError::Missing("mariabackup (Debian: apt install mariadb-backup)".into())
        })?;
    procs::step("preparing the copy (mariabackup --prepare)");
    let log = work.join("prepare.log");
    let out = std::fs::File::create(&log)
        .map_err(|e| DrillError::Setup(format!("{}: {e}", log.display())))?;
    let err = out
        .try_clone()
        .map_err(|e| DrillError::Setup(e.to_string()))?;
    let mut cmd = server::command(&tool, work);
    cmd.arg("--prepare")
        .arg(format!("--target-dir={}", copy.display()))
        .stdout(out)
        .stderr(err);
    let mut child = procs::spawn(&mut cmd, run_as)
        .map_err(|e| DrillError::Setup(format!("cannot run {}: {e}", tool.display())))?;
    let status = child
        .wait()
        .map_err(|e| DrillError::Setup(format!("waiting for mariabackup: {e}")))?;
    if status.success() {
        return Ok(None);
    }
    let mut text = String::new();
    if let Ok(f) = std::fs::File::open(&log) {
        let _ = f.take(256 * 1024).read_to_string(&mut text);
    }
    let line = text
        .lines()
        .find(|l| l.contains("[ERROR]") || l.contains("ERROR") || l.contains("FATAL"))
        .map(|l| safe(l.trim(), 400))
        .unwrap_or_else(|| format!("exited with {status}"));
    Ok(Some(format!("mariabackup --prepare: {line}")))
}

/// The options of the backup's `backup-my.cnf` the server needs to read its files (the
/// InnoDB page and log sizes they were made with): only these InnoDB settings, never a
/// path outside the data directory, an `!include` or a plugin.
pub fn innodb_options(cnf: &str) -> Vec<String> {
    const KEPT: [&str; 8] = [
        "innodb_checksum_algorithm",
        "innodb_data_file_path",
        "innodb_log_file_size",
        "innodb_log_files_in_group",
        "innodb_page_size",
        "innodb_undo_directory",
        "innodb_undo_tablespaces",
        "innodb_compression_level",
    ];
    cnf.lines()
        .filter_map(|l| {
            let (k, v) = l.split_once('=')?;
            let (k, v) = (k.trim(), v.trim());
            let inside = !v.starts_with('/') && !v.split('/').any(|c| c == "..");
            (KEPT.contains(&k) && inside && !v.is_empty()).then(|| format!("--{k}={v}"))
        })
        .collect()
}

/// Starts mariadbd on the prepared copy with the InnoDB settings of its `backup-my.cnf`.
pub fn serve(copy: &Path, work: &Path, run_as: Option<RunAs>) -> Result<Server, DrillError> {
    let mariadbd = server::mariadbd()?;
    server::make_tmp(work, run_as)?;
    let mut cnf = String::new();
    if let Ok(f) = crate::sys::open_readonly(&copy.join("backup-my.cnf")) {
        let _ = f.take(64 * 1024).read_to_string(&mut cnf);
    }
    server::serve_mariadb(&mariadbd, work, copy, &innodb_options(&cnf), run_as)
}

/// An identifier in backquotes.
fn quoted(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

/// Counts every table's rows and checks every view exists: the counts (in the order of
/// `tables`; views 0), or the first error (a table that is missing or unreadable).
pub fn count(
    tables: &[Table],
    srv: &Server,
    work: &Path,
    run_as: Option<RunAs>,
) -> Result<Result<Vec<u64>, String>, DrillError> {
    procs::step("reading every table of the prepared backup");
    let mut script = String::new();
    for (i, t) in tables.iter().enumerate() {
        if t.view {
            script.push_str(&format!(
                "SELECT {i}, COUNT(*) FROM information_schema.VIEWS WHERE TABLE_SCHEMA = '{}' AND TABLE_NAME = '{}';\n",
                t.database.replace('\\', "\\\\").replace('\'', "''"),
                t.name.replace('\\', "\\\\").replace('\'', "''")
            ));
        } else {
            script.push_str(&format!(
                "SELECT {i}, COUNT(*) FROM {}.{};\n",
                quoted(&t.database),
                quoted(&t.name)
            ));
        }
    }
    let mut client = super::restore::mariadb_client(srv, work)?;
    client.arg("--skip-column-names");
    let out = match super::restore::query(client, run_as, &script) {
        Ok(o) => o,
        Err(e) => {
            // One statement per line: the client's line number names the table.
            let table = e
                .split_once(" at line ")
                .and_then(|(_, rest)| rest.split(':').next()?.trim().parse::<usize>().ok())
                .and_then(|line| tables.get(line.checked_sub(1)?));
            return Ok(Err(match table {
                Some(t) => format!(
                    "reading {}.{}: {e}",
                    safe(&t.database, 100),
                    safe(&t.name, 100)
                ),
                None => e,
            }));
        }
    };
    let mut counts = vec![None; tables.len()];
    for line in out.lines() {
        if let Some((i, n)) = line.split_once('\t') {
            if let (Ok(i), Ok(n)) = (i.trim().parse::<usize>(), n.trim().parse::<u64>()) {
                if let Some(slot) = counts.get_mut(i) {
                    *slot = Some(n);
                }
            }
        }
    }
    let mut result = Vec::with_capacity(tables.len());
    for (t, c) in tables.iter().zip(counts) {
        match c {
            None => {
                return Ok(Err(format!(
                    "{}.{}: no count read back",
                    safe(&t.database, 100),
                    safe(&t.name, 100)
                )))
            }
            Some(0) if t.view => {
                return Ok(Err(format!(
                    "view {}.{} is missing on the prepared backup",
                    safe(&t.database, 100),
                    safe(&t.name, 100)
                )))
            }
            Some(n) => result.push(if t.view { 0 } else { n }),
        }
    }
    Ok(Ok(result))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_innodb_sizes_of_backup_my_cnf_reach_the_server() {
        let cnf = "# This options file was generated by innobackupex.\n\n[mysqld]\n\
                   innodb_checksum_algorithm=crc32\ninnodb_data_file_path=ibdata1:12M:autoextend\n\
                   innodb_log_file_size=100663296\ninnodb_page_size=16384\n\
                   innodb_undo_directory=./\ninnodb_undo_tablespaces=0\n\
                   plugin_load_add=evil.so\n!include /etc/x.cnf\n\
                   innodb_undo_directory=/var/lib/other\ninnodb_undo_directory=../up\n";
        assert_eq!(
            innodb_options(cnf),
            [
                "--innodb_checksum_algorithm=crc32",
                "--innodb_data_file_path=ibdata1:12M:autoextend",
                "--innodb_log_file_size=100663296",
                "--innodb_page_size=16384",
                "--innodb_undo_directory=./",
                "--innodb_undo_tablespaces=0",
            ]
        );
    }

    #[test]
    fn file_names_are_decoded() {
        assert_eq!(decode_name("orders"), "orders");
        assert_eq!(decode_name("my@002dshop"), "my-shop");
        assert_eq!(decode_name("a@0040b"), "a@b");
        assert_eq!(decode_name("odd@zz"), "odd@zz");
    }

    #[test]
    fn tables_and_views_come_from_the_frm_files() {
        let dir = tempfile::tempdir().unwrap();
        let shop = dir.path().join("shop");
        std::fs::create_dir(&shop).unwrap();
        std::fs::write(shop.join("orders.frm"), b"\xfe\x01\x0a\x0c").unwrap();
        std::fs::write(shop.join("orders.ibd"), b"").unwrap();
        std::fs::write(shop.join("revenue.frm"), b"TYPE=VIEW\nquery=select 1").unwrap();
        std::fs::write(shop.join("#sql-1a2b.frm"), b"x").unwrap();
        std::fs::write(shop.join("db.opt"), b"").unwrap();
        std::fs::create_dir(dir.path().join("performance_schema")).unwrap();
        std::fs::write(dir.path().join("performance_schema/x.frm"), b"x").unwrap();
        std::fs::write(dir.path().join("ibdata1"), b"").unwrap();
        let t = tables(dir.path()).unwrap();
        assert_eq!(
            t,
            [
                Table {
                    database: "shop".into(),
                    name: "orders".into(),
                    view: false
                },
                Table {
                    database: "shop".into(),
                    name: "revenue".into(),
                    view: true
                },
            ]
        );
    }

    #[test]
    fn the_copy_is_whole_and_the_original_untouched() {
        let src = tempfile::tempdir().unwrap();
        std::fs::create_dir(src.path().join("shop")).unwrap();
        std::fs::write(src.path().join("shop/orders.ibd"), vec![7u8; 70_000]).unwrap();
        std::fs::write(
            src.path().join("xtrabackup_checkpoints"),
            b"backup_type = full-backuped\n",
        )
        .unwrap();
        let dest_parent = tempfile::tempdir().unwrap();
        let dest = dest_parent.path().join("copy");
        assert_eq!(copy(src.path(), &dest).unwrap(), 70_000 + 28);
        assert_eq!(
            std::fs::read(dest.join("shop/orders.ibd")).unwrap(),
            vec![7u8; 70_000]
        );
        // A symlink inside is refused, not followed.
        std::os::unix::fs::symlink("/etc/passwd", src.path().join("shop/x.ibd")).unwrap();
        let again = dest_parent.path().join("copy2");
        let e = copy(src.path(), &again).unwrap_err().to_string();
        assert!(e.contains("neither a file nor a directory"), "{e}");
    }
}
