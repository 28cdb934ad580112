//! The throwaway servers: MariaDB/MySQL (`mariadb-install-db` + `mariadbd`) and
//! PostgreSQL (`initdb` + `postgres`), each on a fresh data directory inside the work
//! directory, reachable only through a unix socket there (`--skip-networking`,
//! `listen_addresses=''`), run as the unprivileged user. Never a production server, never
//! a TCP port.
//!
//! `postgres` is started directly rather than through `pg_ctl start`, which detaches it
//! into a session of its own: started directly it stays in the drill's process group
//! and is stopped with it, whatever happens to the drill.

use std::fs::File;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::procs::{self, RunAs};
use super::DrillError;

/// How long a fresh server may take to accept connections.
const START_LIMIT: Duration = Duration::from_secs(120);

/// Finds `names` (the first that exists) in the usual directories, then on PATH.
pub fn find_binary(names: &[&str], dirs: &[PathBuf]) -> Option<PathBuf> {
    let path: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    for name in names {
        for dir in dirs
            .iter()
            .chain(path.iter())
            .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/usr/bin")].iter())
        {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return Some(candidate);
            }
        }
    }
    None
}

/// A command with a clean environment: no client configuration of the caller leaks in.
pub fn command(program: &Path, work: &Path) -> Command {
    let mut cmd = Command::new(program);
    cmd.env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .env("HOME", work)
        .env("LC_ALL", "C.UTF-8")
        .current_dir(work)
        .stdin(Stdio::null());
    cmd
}

/// What a log the server wrote says went wrong, for a message: its first error lines,
/// else its last lines.
pub fn log_tail(path: &Path) -> String {
    let text = std::fs::read(path).unwrap_or_default();
    let start = text.len().saturating_sub(64 * 1024);
    let text = String::from_utf8_lossy(&text[start..]);
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let errors: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|l| l.contains("ERROR") || l.contains("FATAL"))
        .take(3)
        .collect();
    let tail = if errors.is_empty() {
        lines[lines.len().saturating_sub(3)..].join(" / ")
    } else {
        errors.join(" / ")
    };
    crate::text::safe(&tail, 400)
}

fn log_file(path: &Path) -> Result<File, DrillError> {
    File::create(path).map_err(|e| DrillError::Setup(format!("{}: {e}", path.display())))
}

/// Runs a setup program to its end; its output goes to `log`.
fn run_setup(mut cmd: Command, run_as: Option<RunAs>, log: &Path) -> Result<(), DrillError> {
    let out = log_file(log)?;
    let err = out
        .try_clone()
        .map_err(|e| DrillError::Setup(e.to_string()))?;
    cmd.stdout(out).stderr(err);
    let program = cmd.get_program().to_string_lossy().into_owned();
    let mut child = procs::spawn(&mut cmd, run_as)
        .map_err(|e| DrillError::Setup(format!("cannot run {program}: {e}")))?;
    let status = child
        .wait()
        .map_err(|e| DrillError::Setup(format!("{program}: {e}")))?;
    if !status.success() {
        return Err(DrillError::Setup(format!(
            "{program} failed ({status}): {}",
            log_tail(log)
        )));
    }
    Ok(())
}

/// One throwaway server, running.
pub struct Server {
    /// The server process (its own process group).
    pub child: Child,
    /// Its log, for messages.
    pub log: PathBuf,
    /// What it is: `mariadbd 10.11.19-MariaDB...`, `postgres (PostgreSQL) 15.18`.
    pub version: String,
    /// The unix socket (MariaDB) or the socket directory (PostgreSQL).
    pub socket: PathBuf,
    /// The directory of the PostgreSQL binaries (clients are taken from it too).
    pub bin_dir: Option<PathBuf>,
    /// The PostgreSQL bootstrap superuser.
    pub superuser: String,
}

fn version_of(program: &Path) -> String {
    Command::new(program)
        .arg("--version")
        .env_clear()
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| program.display().to_string())
}

fn exited(child: &mut Child, log: &Path, what: &str) -> Result<(), DrillError> {
    if let Ok(Some(status)) = child.try_wait() {
        return Err(DrillError::Setup(format!(
            "{what} exited ({status}) before accepting connections: {}",
            log_tail(log)
        )));
    }
    Ok(())
}

/// The MariaDB server binary (or MySQL's `mysqld`).
pub fn mariadbd() -> Result<PathBuf, DrillError> {
    find_binary(&["mariadbd", "mysqld"], &[])
        .ok_or_else(|| DrillError::Missing("mariadbd (Debian: apt install mariadb-server)".into()))
}

/// The private temporary directory of the server in `work`, owned by `run_as`.
pub fn make_tmp(work: &Path, run_as: Option<RunAs>) -> Result<PathBuf, DrillError> {
    let tmp = work.join("tmp");
    std::fs::create_dir(&tmp).map_err(|e| DrillError::Setup(format!("{}: {e}", tmp.display())))?;
    if let Some(r) = run_as {
        std::os::unix::fs::chown(&tmp, Some(r.uid), Some(r.gid))
            .map_err(|e| DrillError::Setup(format!("chown {}: {e}", tmp.display())))?;
    }
    Ok(tmp)
}

/// Starts MariaDB (or MySQL's `mysqld`) on a fresh data directory in `work`.
pub fn start_mariadb(work: &Path, run_as: Option<RunAs>) -> Result<Server, DrillError> {
    let server = mariadbd()?;
    let install =
        find_binary(&["mariadb-install-db", "mysql_install_db"], &[]).ok_or_else(|| {
            DrillError::Missing("mariadb-install-db (Debian: apt install mariadb-server)".into())
        })?;
    let data = work.join("data");
    let tmp = make_tmp(work, run_as)?;
    procs::step("initialising the throwaway MariaDB data directory");
    let mut cmd = command(&install, work);
    cmd.arg("--no-defaults")
        .arg(format!("--datadir={}", data.display()))
        .arg("--auth-root-authentication-method=normal")
        .arg("--skip-test-db")
        // Its bootstrap server's temporary tables, not in the /tmp other drills share.
        .arg(format!("--tmpdir={}", tmp.display()))
        .env("TMPDIR", &tmp);
    if let Some(user) = run_as.and_then(|r| user_name(r.uid)) {
        cmd.arg(format!("--user={user}"));
    }
    run_setup(cmd, run_as, &work.join("install.log"))?;
    serve_mariadb(&server, work, &data, &[], run_as)
}

/// Starts `server` (mariadbd) on the data directory `data` in `work` (its `tmp` made
/// there), no option file read, `extra` options added (mariabackup's InnoDB sizes).
pub fn serve_mariadb(
    server: &Path,
    work: &Path,
    data: &Path,
    extra: &[String],
    run_as: Option<RunAs>,
) -> Result<Server, DrillError> {
    let tmp = work.join("tmp");
    procs::step("starting the throwaway MariaDB server");
    let socket = work.join("mysqld.sock");
    let log = work.join("mysqld.err");
    let mut cmd = command(server, work);
    cmd.arg("--no-defaults")
        .args(extra)
        .arg(format!("--datadir={}", data.display()))
        .arg(format!("--socket={}", socket.display()))
        .arg("--skip-networking")
        .arg(format!("--pid-file={}", work.join("mysqld.pid").display()))
        .arg(format!("--log-error={}", log.display()))
        .arg(format!("--tmpdir={}", tmp.display()))
        .arg(format!("--secure-file-priv={}", tmp.display()))
        .arg("--skip-log-bin")
        .arg("--innodb-buffer-pool-size=128M")
        .arg("--innodb-flush-log-at-trx-commit=0")
        .arg("--max-allowed-packet=1G")
        .stdout(Stdio::null())
        .stderr(log_file(&work.join("mysqld.out"))?);
    let mut child = procs::spawn(&mut cmd, run_as)
        .map_err(|e| DrillError::Setup(format!("cannot run {}: {e}", server.display())))?;
    let start = Instant::now();
    loop {
        exited(&mut child, &log, "mariadbd")?;
        if UnixStream::connect(&socket).is_ok() {
            break;
        }
        if start.elapsed() > START_LIMIT {
            return Err(DrillError::Setup(format!(
                "mariadbd did not accept connections within {}s: {}",
                START_LIMIT.as_secs(),
                log_tail(&log)
            )));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(Server {
        child,
        log,
        version: version_of(server),
        socket,
        bin_dir: None,
        superuser: "root".into(),
    })
}

/// The newest PostgreSQL installed: `/usr/lib/postgresql/<major>/bin` with `initdb`.
pub fn pg_bin_dir() -> Option<PathBuf> {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .flatten()
        .filter_map(|e| {
            let major: u32 = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").is_file().then_some((major, bin))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, b)| b)
}

/// Starts PostgreSQL on a fresh cluster in `work`, with `superuser` as its bootstrap user.
pub fn start_postgres(
    work: &Path,
    run_as: Option<RunAs>,
    superuser: &str,
) -> Result<Server, DrillError> {
    let bin = pg_bin_dir().ok_or_else(|| {
        DrillError::Missing(
            "PostgreSQL's initdb in /usr/lib/postgresql/*/bin (Debian: apt install postgresql)"
                .into(),
        )
    })?;
    let data = work.join("pgdata");
    procs::step("initialising the throwaway PostgreSQL cluster");
    let mut cmd = command(&bin.join("initdb"), work);
    cmd.arg("-D").arg(&data).args([
        "-U",
        superuser,
        "--auth=trust",
        "-E",
        "UTF8",
        "--locale=C.UTF-8",
        "--no-sync",
    ]);
    run_setup(cmd, run_as, &work.join("initdb.log"))?;
    procs::step("starting the throwaway PostgreSQL server");
    let log = work.join("postgres.log");
    let mut cmd = command(&bin.join("postgres"), work);
    cmd.arg("-D")
        .arg(&data)
        .arg("-k")
        .arg(work)
        .args([
            "-c",
            "listen_addresses=",
            "-c",
            "fsync=off",
            "-c",
            "full_page_writes=off",
            "-c",
            "synchronous_commit=off",
            "-c",
            "unix_socket_permissions=0700",
        ])
        .stdout(Stdio::null())
        .stderr(log_file(&log)?);
    let mut child = procs::spawn(&mut cmd, run_as)
        .map_err(|e| DrillError::Setup(format!("cannot run postgres: {e}")))?;
    let start = Instant::now();
    loop {
        exited(&mut child, &log, "postgres")?;
        let ready = command(&bin.join("pg_isready"), work)
            .arg("-h")
            .arg(work)
            .args(["-U", superuser, "-d", "postgres", "-q"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if ready {
            break;
        }
        if start.elapsed() > START_LIMIT {
            return Err(DrillError::Setup(format!(
                "postgres did not accept connections within {}s: {}",
                START_LIMIT.as_secs(),
                log_tail(&log)
            )));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(Server {
        child,
        log,
        version: version_of(&bin.join("postgres")),
        socket: work.to_path_buf(),
        bin_dir: Some(bin),
        superuser: superuser.into(),
    })
}

/// The name of user `uid`.
pub fn user_name(uid: u32) -> Option<String> {
    // SAFETY: getpwuid returns a pointer into static storage or null; we copy at once.
    unsafe {
        let pw = libc::getpwuid(uid);
        if pw.is_null() {
            return None;
        }
        Some(
            std::ffi::CStr::from_ptr((*pw).pw_name)
                .to_string_lossy()
                .into_owned(),
        )
    }
}

/// The user id and primary group of `name`.
pub fn lookup_user(name: &str) -> Option<RunAs> {
    let c = std::ffi::CString::new(name).ok()?;
    // SAFETY: as above.
    unsafe {
        let pw = libc::getpwnam(c.as_ptr());
        if pw.is_null() {
            return None;
        }
        Some(RunAs {
            uid: (*pw).pw_uid,
            gid: (*pw).pw_gid,
        })
    }
}
