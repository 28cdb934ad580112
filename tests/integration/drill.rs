//! backup-drill (issue 15) against real servers: real fixture dumps restored into a
//! throwaway MariaDB and PostgreSQL started from the host's binaries; check_backup
//! `--drill-max-age` reading what it wrote; and the safety rules (no TCP port, nothing
//! left behind after success, failure, SIGTERM and the time limit; no server as root).
//!
//! The server binaries come with Debian's `mariadb-server` and `postgresql` (CI installs
//! them, see .ci/run). Without them these tests are skipped, except in CI (`CI=true`),
//! where a missing server fails the test: a drill that was never run proves nothing.

use crate::util::*;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

fn real(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/real")
        .join(rel)
}

fn mariadb_installed() -> bool {
    [
        "/usr/sbin/mariadbd",
        "/usr/bin/mariadb-install-db",
        "/usr/bin/mariadb",
    ]
    .iter()
    .all(|p| Path::new(p).exists())
}

fn postgres_installed() -> bool {
    std::fs::read_dir("/usr/lib/postgresql")
        .map(|d| d.flatten().any(|e| e.path().join("bin/initdb").exists()))
        .unwrap_or(false)
}

/// Whether the server of `what` is here; in CI its absence fails the test.
fn have(what: &str, installed: bool) -> bool {
    if installed {
        return true;
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "CI=true but the {what} server binaries are missing: .ci/run installs mariadb-server \
         and postgresql before ./test.sh"
    );
    eprintln!("SKIPPED: the {what} server binaries are not installed");
    false
}

/// A drill's directories: the results (cache) and the work directory (0755, so that the
/// unprivileged server user can reach its own directory inside).
struct Dirs {
    cache: tempfile::TempDir,
    work: tempfile::TempDir,
}

fn dirs() -> Dirs {
    use std::os::unix::fs::PermissionsExt;
    let work = tempfile::Builder::new()
        .prefix("drill-work")
        .tempdir_in("/tmp")
        .unwrap();
    std::fs::set_permissions(work.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    Dirs {
        cache: tempfile::tempdir().unwrap(),
        work,
    }
}

fn drill_cmd(dump: &Path, d: &Dirs, extra: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_backup-drill"));
    // An empty path: the set comes from `extra` (--config FILE --set NAME).
    if !dump.as_os_str().is_empty() {
        cmd.arg("-f").arg(dump);
    }
    cmd.arg("--cache-dir")
        .arg(d.cache.path())
        .arg("--work-dir")
        .arg(d.work.path())
        .args(extra);
    if is_root() {
        cmd.args(["--user", "nobody"]);
    }
    cmd
}

fn drill(dump: &Path, d: &Dirs, extra: &[&str]) -> Answer {
    let a = Run::command(drill_cmd(dump, d, extra)).output();
    assert_nothing_left(d);
    a
}

/// The processes whose command line names `dir` or that run in it (the throwaway server,
/// its children such as postgres' checkpointer, the clients; not the drill itself, whose
/// `--work-dir` names it too).
fn processes_in(dir: &Path) -> Vec<u32> {
    let needle = dir.to_string_lossy().into_owned();
    processes_where(|cmdline, cwd| {
        (cmdline.contains(&needle) || cwd.starts_with(dir)) && !cmdline.contains("--work-dir")
    })
}

/// The processes whose command line and working directory satisfy `wanted`.
fn processes_where(wanted: impl Fn(&str, &Path) -> bool) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .map(|c| {
                    let cwd = std::fs::read_link(format!("/proc/{pid}/cwd")).unwrap_or_default();
                    wanted(&String::from_utf8_lossy(&c), &cwd)
                })
                .unwrap_or(false)
        })
        .collect()
}

/// No process of the drill is left, and its work directory is empty.
fn assert_nothing_left(d: &Dirs) {
    let left = processes_in(d.work.path());
    assert!(left.is_empty(), "processes left behind: {left:?}");
    let entries: Vec<_> = std::fs::read_dir(d.work.path())
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    assert!(entries.is_empty(), "left in the work dir: {entries:?}");
}

/// The socket inodes process `pid` holds.
fn socket_inodes(pid: u32) -> Vec<String> {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| {
            d.flatten()
                .filter_map(|e| {
                    let target = std::fs::read_link(e.path()).ok()?;
                    let t = target.to_string_lossy().into_owned();
                    Some(t.strip_prefix("socket:[")?.strip_suffix(']')?.to_string())
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The inodes of listening sockets in /proc/net/<table> (`tcp`, `tcp6`: state 0A; `unix`:
/// with the path they are bound to).
fn listening(table: &str) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(format!("/proc/net/{table}")).unwrap_or_default();
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            if table == "unix" {
                // Num RefCount Protocol Flags Type St Inode Path; flags 00010000 = listening
                Some((f.get(6)?.to_string(), f.get(7).unwrap_or(&"").to_string()))
                    .filter(|_| f.get(3) == Some(&"00010000"))
            } else {
                let inode = f.get(9)?.to_string();
                (f.get(3) == Some(&"0A")).then(|| (inode, f[1].to_string()))
            }
        })
        .collect()
}

/// Starts a drill that pauses once its server is up, checks that the server listens on a
/// unix socket in the work dir and on no TCP port, then stops the drill by `stop`.
fn server_listens_only_on_unix_socket(
    dump: &Path,
    socket_name: &str,
    extra: &[&str],
) -> (Answer, Dirs) {
    let d = dirs();
    let mut cmd = drill_cmd(dump, &d, extra);
    cmd.env("BACKUP_DRILL_TEST_PAUSE_AFTER_START_MS", "60000");
    let mut running = Run::command(cmd).start();
    let mut server = Vec::new();
    wait_for("the throwaway server to listen", || {
        running.assert_running("its server listened");
        server = processes_in(d.work.path());
        listening("unix").iter().any(|(_, path)| {
            path.contains(&*d.work.path().to_string_lossy()) && path.ends_with(socket_name)
        }) && !server.is_empty()
    });
    let unix: Vec<String> = listening("unix").into_iter().map(|(i, _)| i).collect();
    let tcp: Vec<(String, String)> = [listening("tcp"), listening("tcp6")].concat();
    let mut held_unix = false;
    for pid in &server {
        for inode in socket_inodes(*pid) {
            held_unix |= unix.contains(&inode);
            let on_tcp: Vec<_> = tcp.iter().filter(|(i, _)| *i == inode).collect();
            assert!(
                on_tcp.is_empty(),
                "server pid {pid} listens on TCP: {on_tcp:?}"
            );
        }
    }
    // The check above would pass vacuously if it could not see the server's sockets.
    assert!(
        held_unix,
        "no listening unix socket found among the server's descriptors"
    );
    (running.finish_after_sigterm(), d)
}

trait Stop {
    fn finish_after_sigterm(self) -> Answer;
}

impl Stop for Running {
    fn finish_after_sigterm(self) -> Answer {
        // SAFETY: signalling the drill we started.
        unsafe { libc::kill(self.id() as i32, libc::SIGTERM) };
        self.finish()
    }
}

#[test]
fn mariadb_dumps_restore_with_matching_counts_and_check_backup_reports_it() {
    if !have("MariaDB", mariadb_installed()) {
        return;
    }
    // A set in a directory: the drill takes the newest dump (single database, zstd).
    let d = dirs();
    let set = tempfile::tempdir().unwrap();
    let older = set.path().join("shop-1.sql.zst");
    std::fs::copy(real("mariadb/shop.sql.zst"), &older).unwrap();
    set_age(&older, 2 * HOUR);
    let a = drill(set.path(), &d, &[]);
    assert_eq!(a.code, 0, "{}{}", a.stdout, a.stderr);
    assert!(
        a.stdout.starts_with(
            "DRILL OK - restore drill of shop-1.sql.zst: 3 tables, 8,340 rows restored in "
        ),
        "{}",
        a.stdout
    );
    let cache = d.cache.path().to_str().unwrap();
    let spec = set.path().to_str().unwrap();
    let check = |extra: &[&str]| {
        let mut args = vec!["-f", spec, "--cache-dir", cache, "-w", "30d", "-c", "60d"];
        args.extend_from_slice(extra);
        run(&args)
    };
    let c = check(&["--drill-max-age", "8d"]);
    assert_eq!((c.code, c.state()), (0, "OK"), "{}", c.stdout);
    assert!(
        c.stdout.contains("[OK] drill: restore drill ")
            && c.stdout.contains(": 3 tables, 8,340 rows restored in "),
        "{}",
        c.stdout
    );
    assert_eq!(c.perf("restore_rows"), Some(8340.0));
    assert!(c.perf("restore_seconds").is_some_and(|s| s > 0.0));
    // JSON output with the drill still matches the published schema (checked by `run`).
    let j = check(&["--drill-max-age", "8d", "--output", "json"]);
    assert!(j.stdout.contains("\"check\": \"drill\""), "{}", j.stdout);
    // A newer dump arrives: the drill proved an older one.
    let newer = set.path().join("shop-2.sql.zst");
    std::fs::copy(real("mariadb/shop.sql.zst"), &newer).unwrap();
    set_age(&newer, HOUR);
    let c = check(&["--drill-max-age", "8d"]);
    assert_eq!((c.code, c.state()), (1, "WARNING"), "{}", c.stdout);
    assert!(
        c.stdout
            .contains("drilled shop-1.sql.zst, not the newest dump shop-2.sql.zst"),
        "{}",
        c.stdout
    );

    // --all-databases (gzip): USE switches databases; the system tables restore too.
    let d = dirs();
    let a = drill(
        &real("mariadb/all-databases.sql.gz"),
        &d,
        &["--output", "json"],
    );
    assert_eq!(a.code, 0, "{}{}", a.stdout, a.stderr);
    let v: serde_json::Value = serde_json::from_str(&a.stdout).unwrap();
    assert_eq!(v["state"], "OK");
    let dbs: Vec<&str> = v["result"]["databases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap())
        .collect();
    assert_eq!(dbs, ["mysql", "shop"]);
    let shop = &v["result"]["databases"][1];
    assert_eq!(
        (shop["tables"].as_u64(), shop["rows"].as_u64()),
        (Some(3), Some(8340))
    );
    // shop.customer_revenue and mysql.user (a view since MariaDB 10.4).
    assert_eq!(v["result"]["views"].as_u64(), Some(2));
    assert_eq!(v["result"]["outcome"], "restored");
}

/// `mariadb-dump --force` on a server whose view reads a dropped table (the real
/// tests/fixtures/real/mariadb/shop-force.sql.gz): the dump ends with its trailer, yet the
/// view cannot be created. Without the job's log nothing else shows it: the drill fails.
#[test]
fn a_forced_dump_of_a_broken_view_fails_the_drill() {
    if !have("MariaDB", mariadb_installed()) {
        return;
    }
    let d = dirs();
    let a = drill(&real("mariadb/shop-force.sql.gz"), &d, &[]);
    assert_eq!(a.code, 2, "{}{}", a.stdout, a.stderr);
    assert!(
        a.stdout.starts_with(
            "DRILL CRITICAL - restore drill of shop-force.sql.gz failed: ERROR 1146 (42S02) \
             at line 8498: Table 'shop.tmp_source' doesn't exist"
        ),
        "{}",
        a.stdout
    );
}

#[test]
fn mariadb_dump_without_the_table_its_view_reads_fails_with_the_client_error() {
    if !have("MariaDB", mariadb_installed()) {
        return;
    }
    // mariadb-dump --ignore-table=shop.customers: whole and complete, yet not restorable.
    let d = dirs();
    let dump = real("mariadb/shop-ignore-table.sql.gz");
    let a = drill(&dump, &d, &[]);
    assert_eq!(a.code, 2, "{}{}", a.stdout, a.stderr);
    assert!(
        a.stdout.starts_with(
            "DRILL CRITICAL - restore drill of shop-ignore-table.sql.gz failed: ERROR 1146 \
             (42S02) at line 8400: Table 'shop.customers' doesn't exist"
        ),
        "{}",
        a.stdout
    );
    let c = run(&[
        "-f",
        dump.to_str().unwrap(),
        "--cache-dir",
        d.cache.path().to_str().unwrap(),
        "-w",
        "1000d",
        "-c",
        "2000d",
        "--drill-max-age",
        "8d",
    ]);
    assert_eq!((c.code, c.state()), (2, "CRITICAL"), "{}", c.stdout);
    assert!(
        c.first_line()
            .contains("restore drill of shop-ignore-table.sql.gz failed")
            && c.first_line()
                .contains("ERROR 1146 (42S02) at line 8400: Table 'shop.customers' doesn't exist"),
        "{}",
        c.stdout
    );
}

#[test]
fn postgres_plain_custom_and_dumpall_restore_with_matching_counts() {
    if !have("PostgreSQL", postgres_installed()) {
        return;
    }
    for dump in [
        "postgres/shop.sql.gz",
        "postgres/shop.dump",
        "postgres/cluster.sql.gz",
    ] {
        let d = dirs();
        // The -Fc archive as a set of the configuration file, as check_backup reads it.
        let conf = d.cache.path().join("backups.toml");
        std::fs::write(
            &conf,
            format!("[set.shop]\ndump = {:?}\n", real(dump).to_str().unwrap()),
        )
        .unwrap();
        let conf = conf.to_str().unwrap().to_string();
        let a = if dump.ends_with(".dump") {
            drill(
                Path::new(""),
                &d,
                &["--config", &conf, "--set", "shop", "--output", "json"],
            )
        } else {
            drill(&real(dump), &d, &["--output", "json"])
        };
        assert_eq!(a.code, 0, "{dump}: {}{}", a.stdout, a.stderr);
        let v: serde_json::Value = serde_json::from_str(&a.stdout).unwrap();
        let r = &v["result"];
        assert_eq!(
            (
                r["tables"].as_u64(),
                r["rows"].as_u64(),
                r["views"].as_u64()
            ),
            (Some(3), Some(8340), Some(1)),
            "{dump}: {}",
            a.stdout
        );
        let shop = r["databases"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["rows"].as_u64() == Some(8340))
            .unwrap_or_else(|| panic!("{dump}: no database with the rows: {}", a.stdout));
        // pg_dumpall recreates `shop`; a single pg_dump goes into the drill's database.
        let want = if dump.contains("cluster") {
            "shop"
        } else {
            "drill"
        };
        assert_eq!(shop["name"], want, "{dump}");
        // The file check_backup reads was written.
        let written = std::fs::read_dir(d.cache.path())
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().ends_with(".drill"))
            .count();
        assert_eq!(written, 1, "{dump}");
        if dump.ends_with(".dump") {
            let c = run(&[
                "--config",
                &conf,
                "--set",
                "shop",
                "--cache-dir",
                d.cache.path().to_str().unwrap(),
                "-w",
                "1000d",
                "-c",
                "2000d",
                "--drill-max-age",
                "1d",
            ]);
            assert_eq!((c.code, c.state()), (0, "OK"), "{}", c.stdout);
            assert_eq!(c.perf("restore_rows"), Some(8340.0), "{}", c.stdout);
        }
    }
}

#[test]
fn postgres_directory_and_tar_archives_restore_with_matching_counts() {
    if !have("PostgreSQL", postgres_installed()) {
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    // As root, the -Fd directory sits where only root can read it (0700): pg_restore reads
    // it as root and only the SQL it writes reaches psql, which runs as --user.
    let private = tempfile::tempdir().unwrap();
    std::fs::set_permissions(private.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    let fd = private.path().join("shop.Fd");
    std::fs::create_dir(&fd).unwrap();
    for e in std::fs::read_dir(real("formats/shop.Fd"))
        .unwrap()
        .flatten()
    {
        std::fs::copy(e.path(), fd.join(e.file_name())).unwrap();
    }
    for (dump, writer) in [
        (fd, "pg_dump directory archive"),
        (real("formats/shop.Ft.tar"), "pg_dump tar archive"),
    ] {
        let d = dirs();
        let a = drill(&dump, &d, &["--output", "json"]);
        assert_eq!(a.code, 0, "{dump:?}: {}{}", a.stdout, a.stderr);
        let v: serde_json::Value = serde_json::from_str(&a.stdout).unwrap();
        let r = &v["result"];
        assert_eq!(
            (
                r["tables"].as_u64(),
                r["rows"].as_u64(),
                r["views"].as_u64(),
                r["writer"].as_str()
            ),
            (Some(3), Some(2340), Some(1), Some(writer)),
            "{dump:?}: {}",
            a.stdout
        );
        assert_eq!(r["databases"][0]["name"], "drill", "{}", a.stdout);
        // check_backup finds the result for this dump (a directory's identity included).
        let c = run(&[
            "-f",
            dump.to_str().unwrap(),
            "--cache-dir",
            d.cache.path().to_str().unwrap(),
            "-w",
            "1000d",
            "-c",
            "2000d",
            "--drill-max-age",
            "1d",
            "--settle",
            "0",
        ]);
        assert_eq!((c.code, c.state()), (0, "OK"), "{dump:?}: {}", c.stdout);
        assert_eq!(c.perf("restore_rows"), Some(2340.0), "{}", c.stdout);
        // backup-report shows the drill of the set that has one, and none for the other.
        let conf = d.cache.path().join("backups.toml");
        std::fs::write(
            &conf,
            format!(
                "[set.drilled]\ndump = {:?}\ncache-dir = {c:?}\n\
                 [set.undrilled]\ndump = {:?}\ncache-dir = {c:?}\n",
                dump.to_str().unwrap(),
                real("formats/shop.Fc.dump").to_str().unwrap(),
                c = d.cache.path().to_str().unwrap(),
            ),
        )
        .unwrap();
        let rep = Run::backup_report(&[
            "--config",
            conf.to_str().unwrap(),
            "--no-history",
            "--check-backup",
            env!("CARGO_BIN_EXE_check_backup"),
        ])
        .output();
        let line = |set: &str| {
            rep.stdout
                .lines()
                .find(|l| l.split_whitespace().nth(1) == Some(set))
                .unwrap_or_else(|| panic!("no row of {set}: {}{}", rep.stdout, rep.stderr))
                .to_string()
        };
        assert!(rep.stdout.contains("LAST DRILL"), "{}", rep.stdout);
        assert!(line("drilled").contains(" restored in "), "{}", rep.stdout);
        assert!(!line("undrilled").contains("restored"), "{}", rep.stdout);
        // The same in the HTML page: a Last drill column, the drilled set's cell with its
        // counts, a dash for the other.
        let report = |format: &str| {
            Run::backup_report(&[
                "--config",
                conf.to_str().unwrap(),
                "--no-history",
                "--format",
                format,
                "--check-backup",
                env!("CARGO_BIN_EXE_check_backup"),
            ])
            .output()
        };
        let html = report("html").stdout;
        assert!(html.contains("<th>Last drill</th>"), "{html}");
        let cell = |set: &str| {
            let row = &html[html
                .find(&format!("data-set=\"{set}\""))
                .unwrap_or_else(|| panic!("no row of {set}: {html}"))..];
            let row = &row[..row.find("</tr>").unwrap()];
            let start = row.find("<td class=\"c-drill").unwrap();
            row[start..start + row[start..].find("</td>").unwrap()].to_string()
        };
        let c = cell("drilled");
        assert!(
            c.contains("data-outcome=\"restored\"")
                && c.contains("data-rows=\"2340\"")
                && c.contains(" restored in ")
                && c.contains("3 tables, 2,340 rows of "),
            "{c}"
        );
        assert!(cell("undrilled").ends_with(">&mdash;"), "{html}");
        // JSON: each set's document carries its last drill (null without one), valid
        // against the published schema.
        let json = report("json");
        let items: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
        let item = |set: &str| {
            items
                .as_array()
                .unwrap()
                .iter()
                .find(|i| i["set"] == set)
                .unwrap_or_else(|| panic!("no {set}: {}", json.stdout))
                .clone()
        };
        let drilled = item("drilled");
        assert_eq!(drilled["drill"]["outcome"], "restored", "{}", json.stdout);
        assert_eq!(drilled["drill"]["rows"], 2340, "{}", json.stdout);
        assert_eq!(drilled["drill"]["tables"], 3, "{}", json.stdout);
        assert_eq!(drilled["drill"]["writer"], writer, "{}", json.stdout);
        assert!(drilled["drill"]["finished_at"].as_u64().unwrap() > 1_700_000_000);
        assert!(drilled["drill"]["restore_seconds"].as_f64().unwrap() > 0.0);
        assert_eq!(item("undrilled")["drill"], serde_json::Value::Null);
        for i in items.as_array().unwrap() {
            crate::schema::assert_valid(&i.to_string());
        }
    }
}

/// A copy of a real tool run's fixture directory (`tools/<name>`: its `backup` and its
/// log) with the run's mtimes from MTIMES.tsv (git keeps none: a checkout's would pick
/// either night).
fn dated_copy(name: &str) -> tempfile::TempDir {
    let copy = tempfile::tempdir().unwrap();
    let fixture = real(&format!("tools/{name}"));
    for e in std::fs::read_dir(&fixture).unwrap().flatten() {
        let status = Command::new("cp")
            .arg("-R")
            .arg(e.path())
            .arg(copy.path())
            .status()
            .unwrap();
        assert!(status.success());
    }
    let mtimes = std::fs::read_to_string(fixture.join("MTIMES.tsv")).unwrap();
    let mut dated: Vec<(std::path::PathBuf, f64)> = mtimes
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let mut fields = l.split('\t');
            let path = fields.next()?;
            let epoch: f64 = fields.next()?.parse().ok()?;
            Some((copy.path().join(path), epoch))
        })
        // Empty directories of the run (automysqlbackup's weekly/) are not in git.
        .filter(|(path, _)| path.exists())
        .collect();
    // Deepest first: setting a file's mtime does not change its directory's, but creating
    // the copy did.
    dated.sort_by_key(|(p, _)| std::cmp::Reverse(p.components().count()));
    for (path, epoch) in &dated {
        filetime::set_file_mtime(
            path,
            filetime::FileTime::from_unix_time(epoch.trunc() as i64, (epoch.fract() * 1e9) as u32),
        )
        .unwrap();
    }
    copy
}

#[test]
fn mydumper_directory_restores_with_myloader_and_matching_counts() {
    if !have(
        "MariaDB (and mydumper's myloader)",
        mariadb_installed() && Path::new("/usr/bin/myloader").exists(),
    ) {
        return;
    }
    let d = dirs();
    // The set directory of a real mydumper run: its newest dump directory is drilled,
    // judged with the run's log (clean: it does not stop the drill).
    let copy = dated_copy("mydumper-healthy");
    let log = copy.path().join("mydumper.log");
    let set = copy.path().join("backup");
    let a = drill(&set, &d, &["--output", "json", "-l", log.to_str().unwrap()]);
    assert_eq!(a.code, 0, "{}{}", a.stdout, a.stderr);
    let v: serde_json::Value = serde_json::from_str(&a.stdout).unwrap();
    let r = &v["result"];
    assert_eq!(
        (
            r["tables"].as_u64(),
            r["rows"].as_u64(),
            r["views"].as_u64(),
            r["writer"].as_str()
        ),
        (Some(4), Some(515), Some(1), Some("mydumper directory")),
        "{}",
        a.stdout
    );
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .starts_with("restore drill of 2026-11-27: 4 tables, 515 rows restored in "),
        "{}",
        a.stdout
    );
    let names: Vec<&str> = r["databases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["crm", "shop"], "{}", a.stdout);
    let c = run(&[
        "-f",
        set.to_str().unwrap(),
        "--cache-dir",
        d.cache.path().to_str().unwrap(),
        "-w",
        "1000d",
        "-c",
        "2000d",
        "--drill-max-age",
        "1d",
    ]);
    assert_eq!((c.code, c.state()), (0, "OK"), "{}", c.stdout);
    assert_eq!(c.perf("restore_rows"), Some(515.0), "{}", c.stdout);

    // As root: a directory the unprivileged user cannot read is a could-not-drill that
    // says so (no server is started for it).
    if is_root() {
        use std::os::unix::fs::PermissionsExt;
        let private = tempfile::tempdir().unwrap();
        std::fs::set_permissions(private.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
        let dir = private.path().join("mydumper-shop");
        std::fs::create_dir(&dir).unwrap();
        for e in std::fs::read_dir(real("formats/mydumper-shop"))
            .unwrap()
            .flatten()
        {
            std::fs::copy(e.path(), dir.join(e.file_name())).unwrap();
        }
        let d = dirs();
        let a = drill(&dir, &d, &[]);
        assert_eq!(a.code, 3, "{}", a.stdout);
        assert!(
            a.stdout
                .starts_with("DRILL UNKNOWN - could not drill: the --user cannot read ")
                && a.stdout
                    .contains("myloader reads the mydumper directory as that user"),
            "{}",
            a.stdout
        );
    }
}

#[test]
fn cut_dumps_are_refused_not_drilled() {
    // No server is started for these: the verification refuses first.
    for (dump, why) in [
        ("mariadb/shop-killed.sql.gz", "marker CRITICAL"),
        ("mariadb/shop-truncated.sql.gz", "stream CRITICAL"),
        ("postgres/shop-terminated.sql.gz", "marker CRITICAL"),
        ("formats/shop.Fd-cut-toc", "archive CRITICAL"),
        ("formats/shop.Fd-missing-data", "archive CRITICAL"),
        ("formats/shop.Ft.cut-60812.tar", "archive CRITICAL"),
        ("formats/mydumper-shop-cut", "archive CRITICAL"),
        ("formats/mydumper-shop-killed", "archive CRITICAL"),
        // Whole archives of the schema without its rows (pg_dump --section=pre-data,
        // --schema-only): nothing in them is broken, but there is no data to restore.
        ("sections/shop-pre-data.dump", "archive WARNING"),
        ("sections/shop-schema-only.tar", "archive WARNING"),
    ] {
        let d = dirs();
        let a = drill(&real(dump), &d, &[]);
        assert_eq!(a.code, 3, "{dump}: {}", a.stdout);
        assert!(
            a.stdout.starts_with("DRILL UNKNOWN - could not drill: ")
                && a.stdout.contains("is not verified whole and complete")
                && a.stdout.contains(why),
            "{dump}: {}",
            a.stdout
        );
        assert_eq!(
            std::fs::read_dir(d.cache.path())
                .unwrap()
                .flatten()
                .filter(|e| e.file_name().to_string_lossy().ends_with(".drill"))
                .count(),
            0
        );
    }
}

#[test]
fn refuses_to_run_a_server_as_root() {
    let d = dirs();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_backup-drill"));
    cmd.arg("-f")
        .arg(real("mariadb/shop.sql.gz"))
        .arg("--cache-dir")
        .arg(d.cache.path())
        .arg("--work-dir")
        .arg(d.work.path());
    if is_root() {
        let a = Run::command(cmd).output();
        assert_eq!(a.code, 3, "{}", a.stdout);
        assert!(
            a.stdout
                .contains("running as root: name the unprivileged user"),
            "{}",
            a.stdout
        );
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_backup-drill"));
        cmd.arg("-f")
            .arg(real("mariadb/shop.sql.gz"))
            .args(["--user", "root"]);
        let a = Run::command(cmd).output();
        assert_eq!(a.code, 3, "{}", a.stdout);
        assert!(
            a.stdout.contains("--user must be an unprivileged user"),
            "{}",
            a.stdout
        );
    } else {
        cmd.args(["--user", "root"]);
        let a = Run::command(cmd).output();
        assert_eq!(a.code, 3, "{}", a.stdout);
        assert!(a.stdout.contains("needs root to switch"), "{}", a.stdout);
    }
    assert_nothing_left(&d);
}

#[test]
fn mariadb_server_has_no_tcp_port_and_sigterm_leaves_nothing() {
    if !have("MariaDB", mariadb_installed()) {
        return;
    }
    let (a, d) =
        server_listens_only_on_unix_socket(&real("mariadb/shop.sql.gz"), "/mysqld.sock", &[]);
    assert_eq!(a.code, 3, "{}", a.stdout);
    assert!(
        a.stdout.starts_with("DRILL UNKNOWN - could not drill: stopped by SIGTERM while starting the throwaway MariaDB server"),
        "{}",
        a.stdout
    );
    assert_nothing_left(&d);
}

#[test]
fn postgres_server_has_no_tcp_port_and_the_time_limit_leaves_nothing() {
    if !have("PostgreSQL", postgres_installed()) {
        return;
    }
    let d = dirs();
    let mut cmd = drill_cmd(&real("postgres/shop.dump"), &d, &["-t", "15s"]);
    cmd.env("BACKUP_DRILL_TEST_PAUSE_AFTER_START_MS", "60000");
    let mut running = Run::command(cmd)
        .hang_limit(Duration::from_secs(60))
        .start();
    wait_for("the throwaway postgres", || {
        running.assert_running("postgres started");
        !processes_in(d.work.path()).is_empty()
            && listening("unix").iter().any(|(_, p)| {
                p.ends_with(".s.PGSQL.5432") && p.contains(&*d.work.path().to_string_lossy())
            })
    });
    let tcp: Vec<String> = [listening("tcp"), listening("tcp6")]
        .concat()
        .into_iter()
        .map(|(i, _)| i)
        .collect();
    for pid in processes_in(d.work.path()) {
        for inode in socket_inodes(pid) {
            assert!(!tcp.contains(&inode), "postgres pid {pid} listens on TCP");
        }
    }
    let a = running.finish();
    assert_eq!(a.code, 3, "{}", a.stdout);
    assert!(
        a.stdout.starts_with("DRILL UNKNOWN - could not drill: time limit of 15s reached while starting the throwaway PostgreSQL server"),
        "{}",
        a.stdout
    );
    assert_nothing_left(&d);
}

#[test]
fn a_killed_drill_takes_its_server_with_it() {
    if !have("MariaDB", mariadb_installed()) {
        return;
    }
    // SIGKILL: no cleanup can run in the drill; the kernel kills its server
    // (PR_SET_PDEATHSIG). The work directory stays (the next drill makes a new one).
    let d = dirs();
    let mut cmd = drill_cmd(&real("mariadb/shop.sql.gz"), &d, &[]);
    cmd.env("BACKUP_DRILL_TEST_PAUSE_AFTER_START_MS", "60000");
    let mut running = Run::command(cmd).start();
    wait_for("the throwaway server", || {
        running.assert_running("its server started");
        listening("unix")
            .iter()
            .any(|(_, p)| p.contains(&*d.work.path().to_string_lossy()))
    });
    assert!(!processes_in(d.work.path()).is_empty());
    // SAFETY: signalling the drill we started.
    unsafe { libc::kill(running.id() as i32, libc::SIGKILL) };
    let a = running.finish();
    assert_eq!(a.code, -1, "killed by a signal: {}", a.stdout);
    wait_for("the server to die with the drill", || {
        processes_in(d.work.path()).is_empty()
    });
}

/// A dump that creates no table is OK only when the restored server holds none either:
/// then the restore went through and there was nothing to compare. When the server holds
/// a table the drill did not count (the counter missed how the dump creates it), nothing
/// was compared: not OK.
#[test]
fn a_dump_without_tables_is_ok_only_when_the_restored_server_holds_none() {
    if !have("MariaDB", mariadb_installed()) {
        return;
    }
    // mariadb-dump's own header and trailer around nothing (an empty database).
    let text = std::fs::read_to_string(real("mariadb/shop.sql")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let (head, trailer) = (lines[..20].join("\n"), lines[lines.len() - 1]);
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, body: &str| {
        let dump = dir.path().join(name);
        std::fs::write(&dump, format!("{head}\n{body}{trailer}\n")).unwrap();
        set_age(&dump, HOUR);
        dump
    };
    let d = dirs();
    let a = drill(&write("empty.sql", ""), &d, &[]);
    assert_eq!(a.code, 0, "{}{}", a.stdout, a.stderr);
    assert!(
        a.stdout.starts_with(
            "DRILL OK - restore drill of empty.sql: no table to compare (the dump creates \
             none, the restored server holds none), restored in "
        ),
        "{}",
        a.stdout
    );
    // A table created in words the counter does not read (lower case): the server holds
    // it, the drill counted nothing.
    let d = dirs();
    let a = drill(
        &write(
            "lower.sql",
            "create table hidden (id int);\ninsert into hidden values (1),(2);\n",
        ),
        &d,
        &[],
    );
    assert_eq!(a.code, 3, "{}", a.stdout);
    assert!(
        a.stdout.contains(
            "lower.sql: the restore went through, but the dump creates no table the drill \
             recognises while the restored server holds shop.hidden: nothing was compared"
        ),
        "{}",
        a.stdout
    );
    assert!(drill_results(&d).is_empty());
}

#[test]
fn a_dump_whose_run_the_log_says_failed_is_not_drilled() {
    // No server is started for these: check_backup's verdict with the job's log refuses
    // first, so no server binaries are needed.
    // mariadb-dump --force: the trailer is there (check_backup alone says OK; the drill
    // alone would restore it), but the job's log says mariadb-dump exited with 2.
    let dir = tempfile::tempdir().unwrap();
    let fresh = |rel: &str| {
        let src = real(rel);
        let dest = dir.path().join(src.file_name().unwrap());
        std::fs::copy(&src, &dest).unwrap();
        set_age(&dest, 10 * MINUTE);
        dest
    };
    let dump = fresh("mariadb/shop-force.sql.gz");
    let log = fresh("logs/mariadb-force.log");
    let d = dirs();
    let a = drill(&dump, &d, &["-l", log.to_str().unwrap()]);
    assert_eq!(a.code, 3, "{}", a.stdout);
    assert!(
        a.stdout.starts_with("DRILL UNKNOWN - could not drill: ")
            && a.stdout
                .contains("shop-force.sql.gz is not drilled: check_backup with the job's log ")
            && a.stdout.contains("mariadb-force.log says ")
            && a.stdout
                .contains("log_status CRITICAL: job failed with exit status 2")
            && a.stdout
                .contains("a dump whose run the log says failed is not drilled"),
        "{}",
        a.stdout
    );
    assert!(drill_results(&d).is_empty());
    // JSON says the same.
    let d = dirs();
    let a = drill(
        &dump,
        &d,
        &["--log", log.to_str().unwrap(), "--output", "json"],
    );
    assert_eq!(a.code, 3, "{}", a.stdout);
    let v: serde_json::Value = serde_json::from_str(&a.stdout).unwrap();
    assert_eq!(v["state"], "UNKNOWN");
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .contains("log_status CRITICAL: job failed with exit status 2"),
        "{}",
        a.stdout
    );

    // mydumper lost shop.log's data ("Server has gone away") yet wrote "Finished dump" and
    // a directory that looks whole: the set's log (from the configuration file) stops it.
    let copy = dated_copy("mydumper-conn-killed");
    let d = dirs();
    let conf = d.cache.path().join("backups.toml");
    std::fs::write(
        &conf,
        format!(
            "[set.mydumper]\ndump = {:?}\nlog = {:?}\n",
            copy.path().join("backup").to_str().unwrap(),
            copy.path().join("mydumper.log").to_str().unwrap(),
        ),
    )
    .unwrap();
    let a = drill(
        Path::new(""),
        &d,
        &["--config", conf.to_str().unwrap(), "--set", "mydumper"],
    );
    assert_eq!(a.code, 3, "{}", a.stdout);
    assert!(
        a.stdout.starts_with("DRILL UNKNOWN - could not drill: ")
            && a.stdout
                .contains("2026-11-27 is not drilled: check_backup with the job's log ")
            && a.stdout.contains("log_errors CRITICAL")
            && a.stdout.contains("Server has gone away"),
        "{}",
        a.stdout
    );
    assert!(drill_results(&d).is_empty());
}

#[test]
fn a_budget_smaller_than_the_drill_needs_is_refused_before_any_server() {
    // The estimate (the server's own files plus twice the decoded dump) is over 1 MiB:
    // refused before any server starts, nothing written, nothing left behind.
    for extra in [
        &["--max-disk", "1M"][..],
        &["--max-disk", "1M", "--output", "json"],
    ] {
        let d = dirs();
        let a = drill(&real("mariadb/shop.sql.gz"), &d, extra);
        assert_eq!(a.code, 3, "{}", a.stdout);
        let message = if extra.len() > 2 {
            let v: serde_json::Value = serde_json::from_str(&a.stdout).unwrap();
            assert_eq!(v["state"], "UNKNOWN");
            v["message"].as_str().unwrap().to_string()
        } else {
            a.stdout.clone()
        };
        assert!(
            message.contains(&format!(
                "could not drill: not enough temporary space in {}: need ~",
                d.work.path().display()
            )) && message.contains(" MiB, --max-disk allows 1.0 MiB"),
            "{}",
            a.stdout
        );
        assert_eq!(
            std::fs::read_dir(d.cache.path())
                .unwrap()
                .flatten()
                .filter(|e| e.file_name().to_string_lossy().ends_with(".drill"))
                .count(),
            0
        );
    }
    // Not a size.
    let d = dirs();
    let a = drill(&real("mariadb/shop.sql.gz"), &d, &["--max-disk", "lots"]);
    assert_eq!(a.code, 3, "{}", a.stdout);
    assert!(a.stdout.contains("--max-disk"), "{}", a.stdout);
}

#[test]
fn a_drill_growing_beyond_its_budget_is_stopped_and_removed() {
    if !have("PostgreSQL", postgres_installed()) {
        return;
    }
    // The estimate left out (a debug-build test seam) so that the server starts: initdb
    // alone writes more than 8 MiB, and the watcher stops the drill.
    let d = dirs();
    let mut cmd = drill_cmd(&real("postgres/shop.dump"), &d, &["--max-disk", "8M"]);
    cmd.env("BACKUP_DRILL_TEST_NO_ESTIMATE", "1");
    let a = Run::command(cmd).output();
    assert_nothing_left(&d);
    assert_eq!(a.code, 3, "{}{}", a.stdout, a.stderr);
    assert!(
        a.stdout.starts_with(&format!(
            "DRILL UNKNOWN - could not drill: not enough temporary space: the work directory {}/backup-drill.",
            d.work.path().display()
        )) && a.stdout.contains(", more than --max-disk 8.0 MiB: stopped and removed"),
        "{}",
        a.stdout
    );
    assert_eq!(
        std::fs::read_dir(d.cache.path())
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().ends_with(".drill"))
            .count(),
        0
    );
}

/// A MariaDB server of the test's own (the source of a real mariabackup), killed on drop.
struct SourceServer {
    child: std::process::Child,
    socket: PathBuf,
}

impl Drop for SourceServer {
    fn drop(&mut self) {
        // SAFETY: signalling the server this test started.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let _ = self.child.wait();
    }
}

/// Starts a throwaway MariaDB in `dir` and loads the fixtures' shop database into it
/// (mariadb/shop.sql: 3 tables, 8,340 rows, a view).
fn source_server(dir: &Path) -> SourceServer {
    let data = dir.join("data");
    let socket = dir.join("src.sock");
    let as_root: Vec<&str> = if is_root() {
        vec!["--user=root"]
    } else {
        vec![]
    };
    let status = Command::new("mariadb-install-db")
        .arg("--no-defaults")
        .arg(format!("--datadir={}", data.display()))
        .args(["--auth-root-authentication-method=normal", "--skip-test-db"])
        .args(&as_root)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "mariadb-install-db");
    let child = Command::new("/usr/sbin/mariadbd")
        .arg("--no-defaults")
        .arg(format!("--datadir={}", data.display()))
        .arg(format!("--socket={}", socket.display()))
        .arg("--skip-networking")
        .arg(format!("--pid-file={}", dir.join("src.pid").display()))
        .arg(format!("--log-error={}", dir.join("src.err").display()))
        .arg(format!("--tmpdir={}", dir.display()))
        .args(&as_root)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let server = SourceServer { child, socket };
    wait_for("the source server", || {
        std::os::unix::net::UnixStream::connect(&server.socket).is_ok()
    });
    let sql = |args: &[&str], input: Option<&Path>| {
        let mut cmd = Command::new("mariadb");
        cmd.arg("--no-defaults")
            .arg(format!("--socket={}", server.socket.display()))
            .arg("--user=root")
            .args(args);
        if let Some(f) = input {
            cmd.stdin(std::fs::File::open(f).unwrap());
        }
        let out = cmd.output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    sql(&["-e", "CREATE DATABASE shop"], None);
    sql(&["shop"], Some(&real("mariadb/shop.sql")));
    server
}

/// Every file below `dir` with its size and mtime: what "unchanged" means for a backup.
fn listing(dir: &Path) -> Vec<(PathBuf, u64, i64)> {
    use std::os::unix::fs::MetadataExt;
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let m = e.metadata().unwrap();
            if m.is_dir() {
                stack.push(e.path());
            }
            out.push((
                e.path(),
                m.len(),
                m.mtime_nsec() + m.mtime() * 1_000_000_000,
            ));
        }
    }
    out.sort();
    out
}

#[test]
fn mariabackup_directory_is_prepared_on_a_copy_and_every_table_read() {
    if !have(
        "MariaDB (and mariabackup)",
        mariadb_installed() && Path::new("/usr/bin/mariabackup").exists(),
    ) {
        return;
    }
    // A real backup, made here as the regenerate script makes the fixtures' (whose data
    // files it does not keep): `mariabackup --backup` of a server holding the shop database.
    let src = tempfile::Builder::new()
        .prefix("mb-src")
        .tempdir_in("/tmp")
        .unwrap();
    let server = source_server(src.path());
    let set = src.path().join("backup");
    std::fs::create_dir(&set).unwrap();
    let target = set.join("2026-11-27");
    let out = Command::new("mariabackup")
        .arg("--backup")
        .arg(format!("--target-dir={}", target.display()))
        .arg(format!("--socket={}", server.socket.display()))
        .arg("--user=root")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "mariabackup --backup: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    drop(server);
    set_age(&target, HOUR);
    let before = listing(&set);

    let d = dirs();
    let a = drill(&set, &d, &["--output", "json"]);
    assert_eq!(a.code, 0, "{}{}", a.stdout, a.stderr);
    let v: serde_json::Value = serde_json::from_str(&a.stdout).unwrap();
    let r = &v["result"];
    assert_eq!(
        r["writer"], "mariabackup/xtrabackup directory",
        "{}",
        a.stdout
    );
    assert_eq!(r["outcome"], "restored", "{}", a.stdout);
    let shop = r["databases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == "shop")
        .unwrap_or_else(|| panic!("no shop: {}", a.stdout));
    // What the source server held: mariadb/shop.sql's 3 tables and 8,340 rows.
    assert_eq!(
        (shop["tables"].as_u64(), shop["rows"].as_u64()),
        (Some(3), Some(8340)),
        "{}",
        a.stdout
    );
    // shop.customer_revenue and mysql.user are views.
    assert!(r["views"].as_u64().unwrap() >= 2, "{}", a.stdout);
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .starts_with("restore drill of 2026-11-27: "),
        "{}",
        a.stdout
    );
    // The original is untouched: --prepare ran on the copy.
    assert_eq!(listing(&set), before);
    let c = run(&[
        "-f",
        set.to_str().unwrap(),
        "--cache-dir",
        d.cache.path().to_str().unwrap(),
        "-w",
        "30d",
        "-c",
        "60d",
        "--drill-max-age",
        "1d",
        "--settle",
        "0",
    ]);
    assert_eq!((c.code, c.state()), (0, "OK"), "{}", c.stdout);
    assert_eq!(c.perf("restore_rows"), r["rows"].as_f64(), "{}", c.stdout);

    // A backup that lost a table's data file (mariabackup names the file of a table made
    // during the backup `.new`, renamed to `.ibd` by --prepare): the drill fails on it,
    // the original untouched.
    let damaged = src.path().join("damaged");
    std::fs::create_dir(&damaged).unwrap();
    let cut = damaged.join("2026-11-27");
    let status = Command::new("cp")
        .arg("-a")
        .arg(&target)
        .arg(&cut)
        .status()
        .unwrap();
    assert!(status.success());
    let data_file = ["shop/orders.ibd", "shop/orders.new"]
        .iter()
        .map(|f| cut.join(f))
        .find(|p| p.exists())
        .unwrap_or_else(|| panic!("no data file of shop.orders: {:?}", listing(&cut)));
    std::fs::remove_file(&data_file).unwrap();
    set_age(&cut, HOUR);
    let d = dirs();
    let a = drill(&damaged, &d, &[]);
    assert!(
        a.code == 2
            && a.stdout.starts_with("DRILL CRITICAL - restore drill of 2026-11-27 failed: ")
            && a.stdout.contains(
                "reading shop.orders: ERROR 1030 (HY000) at line 35: Got error 194 \"Tablespace is missing for a table\""
            ),
        "{}{}",
        a.stdout,
        a.stderr
    );
}

/// automysqlbackup's layout: `daily/<db>/<db>_<date>.sql.gz`.
const AUTOMYSQLBACKUP: &str = "^(?:daily|weekly|monthly)/([^/]+)/";

/// A `--per-database` drill, which may take a few server starts.
fn drill_databases(dump: &Path, d: &Dirs, extra: &[&str]) -> Answer {
    let a = Run::command(drill_cmd(dump, d, extra))
        .hang_limit(Duration::from_secs(900))
        .output();
    assert_nothing_left(d);
    a
}

/// The drill results written into a cache directory.
fn drill_results(d: &Dirs) -> Vec<serde_json::Value> {
    std::fs::read_dir(d.cache.path())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".drill"))
        .map(|e| serde_json::from_slice(&std::fs::read(e.path()).unwrap()).unwrap())
        .collect()
}

/// check_backup on the automysqlbackup set below `backup`, one dump per database, with the
/// drill results of `cache` and each database's last drill (`--drill-max-age 8d`).
fn check_databases(backup: &Path, cache: &Path, extra: &[&str]) -> Answer {
    let (backup, cache) = (backup.to_str().unwrap(), cache.to_str().unwrap());
    let mut args = vec![
        "-f",
        backup,
        "--per-database",
        AUTOMYSQLBACKUP,
        "--cache-dir",
        cache,
        "-w",
        "1000d",
        "-c",
        "2000d",
        "--drill-max-age",
        "8d",
    ];
    args.extend_from_slice(extra);
    run(&args)
}

/// A real automysqlbackup run (two databases): backup-drill drills each database's newest
/// dump in a server of its own, keeps a result per database, and check_backup
/// --per-database --drill-max-age reports each database's drill; the configuration file's
/// set is drilled the same way, and backup-report shows the set's weakest drill.
#[test]
fn per_database_sets_drill_each_database_and_check_backup_reports_each() {
    if !have("MariaDB", mariadb_installed()) {
        return;
    }
    let copy = dated_copy("automysqlbackup-healthy");
    let backup = copy.path().join("backup");
    let log = copy.path().join("automysqlbackup.log");
    let d = dirs();
    // The set from the configuration file (its per-database, its log).
    let conf = d.cache.path().join("backups.toml");
    std::fs::write(
        &conf,
        format!(
            "[set.mysql]\ndump = {:?}\nper-database = {AUTOMYSQLBACKUP:?}\nlog = {:?}\n\
             cache-dir = {:?}\nwarning-age = \"1000d\"\ncritical-age = \"2000d\"\n\
             log-critical-age = \"2000d\"\ndrill-max-age = \"8d\"\n",
            backup.to_str().unwrap(),
            log.to_str().unwrap(),
            d.cache.path().to_str().unwrap(),
        ),
    )
    .unwrap();
    let a = drill_databases(
        Path::new(""),
        &d,
        &["--config", conf.to_str().unwrap(), "--set", "mysql"],
    );
    assert_eq!(a.code, 0, "{}{}", a.stdout, a.stderr);
    let lines: Vec<&str> = a.stdout.lines().collect();
    assert!(
        lines[0].starts_with(
            "DRILL OK - restore drill of 2 databases: 4 tables, 515 rows restored in "
        ),
        "{}",
        a.stdout
    );
    assert!(
        lines[1].starts_with(
            "[OK] crm: restore drill of crm_2026-11-27_02h25m.Friday.sql.gz: 1 table, 25 rows \
             restored in "
        ) && lines[2].starts_with(
            "[OK] shop: restore drill of shop_2026-11-27_02h25m.Friday.sql.gz: 3 tables, 490 \
             rows restored in "
        ),
        "{}",
        a.stdout
    );
    let drill_rows = |db: &str| {
        let item = lines[0]
            .split(' ')
            .find(|i| i.starts_with(&format!("{db}_restore_rows=")))
            .unwrap_or_else(|| panic!("no {db}_restore_rows: {}", a.stdout));
        item.split(['=', ';'])
            .nth(1)
            .unwrap()
            .parse::<f64>()
            .unwrap()
    };
    assert_eq!((drill_rows("shop"), drill_rows("crm")), (490.0, 25.0));
    // One result per database, each naming its database and its own dump.
    let mut results = drill_results(&d);
    results.sort_by_key(|r| r["database"].as_str().unwrap().to_string());
    assert_eq!(results.len(), 2, "{results:?}");
    for (r, db) in results.iter().zip(["crm", "shop"]) {
        assert_eq!(r["database"], db);
        assert_eq!(r["outcome"], "restored");
        assert!(
            r["dump"]
                .as_str()
                .unwrap()
                .ends_with(&format!("/daily/{db}/{db}_2026-11-27_02h25m.Friday.sql.gz")),
            "{r}"
        );
    }

    // check_backup reads each database's drill: -f with --per-database finds what the set
    // wrote (the same dump argument), and the set itself does too.
    let c = check_databases(&backup, d.cache.path(), &[]);
    assert_eq!((c.code, c.state()), (0, "OK"), "{}", c.stdout);
    assert_eq!(c.perf("shop_restore_rows"), Some(490.0), "{}", c.stdout);
    assert_eq!(c.perf("crm_restore_rows"), Some(25.0), "{}", c.stdout);
    assert!(
        c.perf("shop_restore_seconds").is_some_and(|s| s > 0.0),
        "{}",
        c.stdout
    );
    // The JSON document with per-database drills matches the published schema (`run`
    // validates it).
    let j = check_databases(&backup, d.cache.path(), &["--output", "json"]);
    assert!(j.stdout.contains("\"shop_restore_rows\""), "{}", j.stdout);
    let s = run(&["--config", conf.to_str().unwrap(), "--set", "mysql"]);
    assert_eq!((s.code, s.state()), (0, "OK"), "{}", s.stdout);
    assert_eq!(s.perf("shop_restore_rows"), Some(490.0), "{}", s.stdout);
    // Without a drill of its own, a database is not proven: WARNING naming how to drill it.
    let other = dirs();
    let c = check_databases(&backup, other.cache.path(), &[]);
    assert_eq!((c.code, c.state()), (1, "WARNING"), "{}", c.stdout);
    assert!(
        c.stdout
            .contains("crm: no restore drill of this dump set yet: run backup-drill -f ")
            && c.stdout
                .contains(" --per-database RE --database crm --cache-dir "),
        "{}",
        c.stdout
    );
    // A newer shop dump arrives: shop's drill proved an older one; crm stays proven.
    let shop = backup.join("daily/shop");
    let newer = shop.join("shop_2026-11-28_02h25m.Saturday.sql.gz");
    std::fs::copy(shop.join("shop_2026-11-27_02h25m.Friday.sql.gz"), &newer).unwrap();
    set_age(&newer, HOUR);
    let c = check_databases(&backup, d.cache.path(), &[]);
    assert_eq!((c.code, c.state()), (1, "WARNING"), "{}", c.stdout);
    let shop_line = c
        .stdout
        .lines()
        .find(|l| l.starts_with("[WARNING] database: shop: "))
        .unwrap_or_else(|| panic!("no shop line: {}", c.stdout));
    assert!(
        shop_line.contains(
            " drilled shop_2026-11-27_02h25m.Friday.sql.gz, not the newest dump \
             shop_2026-11-28_02h25m.Saturday.sql.gz: 3 tables, 490 rows restored in "
        ),
        "{}",
        c.stdout
    );
    assert!(!c.stdout.contains("crm: restore drill"), "{}", c.stdout);
    std::fs::remove_file(&newer).unwrap();

    // backup-report: the set's drill is its weakest database drill (both restored: the
    // older), naming the database.
    let json = Run::backup_report(&[
        "--config",
        conf.to_str().unwrap(),
        "--no-history",
        "--format",
        "json",
        "--check-backup",
        env!("CARGO_BIN_EXE_check_backup"),
    ])
    .output();
    let items: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    let set = &items[0];
    assert_eq!(set["drill"]["outcome"], "restored", "{}", json.stdout);
    let oldest = results
        .iter()
        .min_by_key(|r| r["finished_at"].as_u64().unwrap())
        .unwrap();
    assert_eq!(
        set["drill"]["database"], oldest["database"],
        "{}",
        json.stdout
    );
    crate::schema::assert_valid(&set.to_string());
}

/// One database's drill fails, one's newest dump is cut (refused, no server), one
/// restores: the drill is CRITICAL naming the failed one, drills the others all the same,
/// and check_backup shows each database's own verdict.
#[test]
fn a_per_database_drill_names_the_database_that_failed() {
    if !have("MariaDB", mariadb_installed()) {
        return;
    }
    // automysqlbackup's run whose connection was killed: shop's newest dump is cut.
    let copy = dated_copy("automysqlbackup-conn-killed");
    let backup = copy.path().join("backup");
    // A third database whose dump is whole but does not restore (mariadb-dump
    // --ignore-table of the table its view reads).
    let wiki = backup.join("daily/wiki");
    std::fs::create_dir_all(&wiki).unwrap();
    let broken = wiki.join("wiki_2026-11-27_02h25m.Friday.sql.gz");
    std::fs::copy(real("mariadb/shop-ignore-table.sql.gz"), &broken).unwrap();
    set_age(&broken, HOUR);
    let d = dirs();
    let a = drill_databases(&backup, &d, &["--per-database", AUTOMYSQLBACKUP]);
    assert_eq!(a.code, 2, "{}{}", a.stdout, a.stderr);
    let lines: Vec<&str> = a.stdout.lines().collect();
    assert!(
        lines[0].starts_with(
            "DRILL CRITICAL - 1 of 3 databases failed, 1 of 3 could not be drilled, 1 restored; \
             wiki: restore drill of wiki_2026-11-27_02h25m.Friday.sql.gz failed: ERROR 1146 \
             (42S02) at line 8400: Table 'shop.customers' doesn't exist"
        ),
        "{}",
        a.stdout
    );
    assert!(
        lines[0].contains(" wiki_restore_rows=0;;;0"),
        "{}",
        a.stdout
    );
    assert!(!lines[0].contains("shop_restore"), "{}", a.stdout);
    assert!(lines[1].starts_with("[CRITICAL] wiki: "), "{}", a.stdout);
    assert!(
        lines[2].starts_with("[UNKNOWN] shop: could not drill: ")
            && lines[2].contains(
                "shop_2026-11-27_02h25m.Friday.sql.gz is not verified whole and complete"
            ),
        "{}",
        a.stdout
    );
    assert!(
        lines[3].starts_with("[OK] crm: restore drill of "),
        "{}",
        a.stdout
    );
    // The refused database has no result; the other two have theirs.
    let mut dbs: Vec<String> = drill_results(&d)
        .iter()
        .map(|r| {
            format!(
                "{} {}",
                r["database"].as_str().unwrap(),
                r["outcome"].as_str().unwrap()
            )
        })
        .collect();
    dbs.sort();
    assert_eq!(dbs, ["crm restored", "wiki failed"]);
    let c = check_databases(&backup, d.cache.path(), &[]);
    assert_eq!((c.code, c.state()), (2, "CRITICAL"), "{}", c.stdout);
    let line = |db: &str| {
        c.stdout
            .lines()
            .find(|l| l.contains(&format!("] database: {db}: ")))
            .unwrap_or_else(|| panic!("no line of {db}: {}", c.stdout))
            .to_string()
    };
    assert!(
        line("wiki").starts_with("[CRITICAL]")
            && line("wiki")
                .contains("restore drill of wiki_2026-11-27_02h25m.Friday.sql.gz failed"),
        "{}",
        c.stdout
    );
    assert!(line("crm").starts_with("[OK]"), "{}", c.stdout);
    assert_eq!(c.perf("wiki_restore_rows"), Some(0.0), "{}", c.stdout);

    // --database: that database only.
    let d = dirs();
    let a = drill_databases(
        &backup,
        &d,
        &["--per-database", AUTOMYSQLBACKUP, "--database", "shop"],
    );
    assert_eq!(a.code, 3, "{}", a.stdout);
    assert!(
        a.stdout.starts_with("DRILL UNKNOWN - could not drill: ")
            && a.stdout.contains("is not verified whole and complete"),
        "{}",
        a.stdout
    );
    let a = drill_databases(
        &backup,
        &d,
        &["--per-database", AUTOMYSQLBACKUP, "--database", "nosuch"],
    );
    assert_eq!(a.code, 3, "{}", a.stdout);
    assert!(
        a.stdout
            .contains("could not drill: no dump of database nosuch below "),
        "{}",
        a.stdout
    );
    // --database without a per-database set is a usage error, not a drill of something else.
    let a = drill_databases(&backup, &d, &["--database", "shop"]);
    assert_eq!(a.code, 3, "{}", a.stdout);
    assert!(
        a.stdout
            .contains("--database names one database of a --per-database set"),
        "{}",
        a.stdout
    );
    assert!(drill_results(&d).is_empty());
}

/// The child backup-drill processes (one per database) of a drill working in `dir`.
fn database_drills_in(dir: &Path) -> Vec<u32> {
    let needle = dir.to_string_lossy().into_owned();
    processes_where(|cmdline, _| cmdline.contains(&needle) && cmdline.contains("--database"))
}

/// SIGTERM to a --per-database drill, and its time limit, while a database's child drill
/// has its server up: the child stops its server and removes its directory, nothing is
/// left and no result written.
#[test]
fn a_per_database_drill_stopped_by_sigterm_or_its_time_limit_leaves_nothing() {
    if !have("MariaDB", mariadb_installed()) {
        return;
    }
    let copy = dated_copy("automysqlbackup-healthy");
    let backup = copy.path().join("backup");
    for (extra, stop) in [
        (&[][..], "stopped by SIGTERM"),
        (&["-t", "20s"][..], "time limit of 20s reached"),
    ] {
        let d = dirs();
        let mut args = vec!["--per-database", AUTOMYSQLBACKUP];
        args.extend_from_slice(extra);
        let mut cmd = drill_cmd(&backup, &d, &args);
        cmd.env("BACKUP_DRILL_TEST_PAUSE_AFTER_START_MS", "120000");
        let mut running = Run::command(cmd)
            .hang_limit(Duration::from_secs(300))
            .start();
        wait_for("the first database's throwaway server", || {
            running.assert_running("its server listened");
            !database_drills_in(d.work.path()).is_empty()
                && listening("unix")
                    .iter()
                    .any(|(_, p)| p.contains(&*d.work.path().to_string_lossy()))
        });
        let a = if extra.is_empty() {
            running.finish_after_sigterm()
        } else {
            running.finish()
        };
        assert_eq!(a.code, 3, "{}{}", a.stdout, a.stderr);
        assert!(
            a.stdout.starts_with(&format!(
                "DRILL UNKNOWN - could not drill: {stop} while drilling the databases one by one"
            )),
            "{}",
            a.stdout
        );
        assert_nothing_left(&d);
        let left = database_drills_in(d.work.path());
        assert!(left.is_empty(), "database drills left: {left:?}");
        assert!(drill_results(&d).is_empty());
    }
}

/// A real autopostgresqlbackup run (`pg_dump --create` per database, `pg_dumpall
/// --globals-only`): every database drills OK, `postgres` and `template1` (which every new
/// cluster has, so their CREATE DATABASE would fail) and the globals (no table: the
/// restored server holds none) included.
#[test]
fn autopostgresqlbackup_per_database_drill_restores_every_database() {
    if !have("PostgreSQL", postgres_installed()) {
        return;
    }
    let copy = dated_copy("autopostgresqlbackup-healthy");
    let backup = copy.path().join("backup");
    let d = dirs();
    let a = drill_databases(&backup, &d, &["--per-database", AUTOMYSQLBACKUP]);
    assert_eq!(a.code, 0, "{}{}", a.stdout, a.stderr);
    let lines: Vec<&str> = a.stdout.lines().collect();
    assert!(
        lines[0].starts_with(
            "DRILL OK - restore drill of 5 databases: 4 tables, 515 rows restored in "
        ),
        "{}",
        a.stdout
    );
    let line = |db: &str| {
        *lines
            .iter()
            .find(|l| {
                l.starts_with(&format!(
                    "[OK] {db}: restore drill of {db}_2026-11-27_02h25m.Friday.sql.gz: "
                ))
            })
            .unwrap_or_else(|| panic!("no OK line of {db}: {}", a.stdout))
    };
    assert!(
        line("shop").contains(": 3 tables, 490 rows restored in "),
        "{}",
        a.stdout
    );
    assert!(
        line("crm").contains(": 1 table, 25 rows restored in "),
        "{}",
        a.stdout
    );
    for db in ["postgres", "template1", "postgres_globals"] {
        assert!(
            line(db).contains(
                ": no table to compare (the dump creates none, the restored server holds none)"
            ),
            "{}",
            a.stdout
        );
    }
    assert_eq!(drill_results(&d).len(), 5);
}
