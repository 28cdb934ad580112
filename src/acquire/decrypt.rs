//! Decrypting an encrypted dump with the real tool (`gpg`, `age`) as a child process: the
//! file is the child's stdin, its stdout goes straight into the decode pipeline (bounded
//! memory, no plaintext ever written to disk). The tool's exit status and its stderr both
//! count: gpg exits 0 on some cut files, so the decrypted stream is also judged whole by
//! its compression and completion marker, like an unencrypted dump's.

use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::Mutex;

use crate::decode;
use crate::facts::{DecryptTool, Decryption, Encryption, KeySource, StreamFacts};

/// The pid of the decrypting child while it runs (0: none), so the watchdog can kill it
/// when the time runs out.
pub static CHILD: AtomicU32 = AtomicU32::new(0);

/// Set by [`abandon`]: the watchdog killed the child and is answering (time limit).
static ABANDONED: AtomicBool = AtomicBool::new(false);

/// The watchdog abandoned the decryption: its answer (the time limit's UNKNOWN) is the
/// one, so this thread waits for the process to exit instead of judging a killed tool's
/// output as a broken dump.
fn wait_if_abandoned() {
    while ABANDONED.load(Ordering::SeqCst) {
        std::thread::park();
    }
}

/// The throwaway GnuPG home of `--gpg-key` while it exists, so the watchdog (which exits
/// without running destructors) can remove it and stop its agent.
static TEMP_HOME: Mutex<Option<PathBuf>> = Mutex::new(None);

/// Called by the watchdog before it answers and exits: kills the decrypting child and
/// removes a throwaway keyring with its gpg-agent (nothing of the secret key stays behind).
pub fn abandon() {
    // First: the thread waiting for the child must not take the kill for a broken dump.
    ABANDONED.store(true, Ordering::SeqCst);
    let child = CHILD.swap(0, Ordering::SeqCst);
    if child != 0 {
        // SAFETY: kill(2) with a pid we spawned and have not reaped yet.
        unsafe {
            libc::kill(child as libc::pid_t, libc::SIGKILL);
        }
    }
    let home = TEMP_HOME.lock().unwrap_or_else(|e| e.into_inner()).take();
    if let Some(home) = home {
        remove_home(&home);
    }
}

/// At most this much of the tool's stderr is kept (the rest is read and dropped).
const STDERR_KEPT: u64 = 16 * 1024;

/// Why a dump could not be decrypted for reasons that are not the dump's fault: UNKNOWN,
/// naming the fix.
#[derive(Debug, thiserror::Error)]
pub enum DecryptError {
    /// The tool is not installed.
    #[error("{tool} is not installed or not in PATH (install it: apt install {package})")]
    NotInstalled {
        /// The program.
        tool: &'static str,
        /// Its Debian package.
        package: &'static str,
    },
    /// The key material is missing or unusable.
    #[error("{0}")]
    Key(String),
    /// The file is encrypted in a format the tool does not decrypt.
    #[error("the dump is {format}-encrypted: --decrypt-with {tool} cannot decrypt it")]
    WrongTool {
        /// The file's format.
        format: &'static str,
        /// The tool asked for.
        tool: &'static str,
    },
}

/// What decrypting established: the decrypted stream's facts, or the tool's complaint about
/// the file (a CRITICAL fact).
pub enum Decrypted {
    /// The decrypted stream, read to its end, and the tool exited 0 saying nothing alarming.
    Stream(Box<StreamFacts>),
    /// The tool found the file broken (authentication failure, cut, bad packet).
    Broken(String),
}

/// Checks the key material before anything runs: present, and not readable by others.
fn check_key(d: &Decryption) -> Result<(), DecryptError> {
    let option = d.source.option();
    let what = match d.source {
        KeySource::GpgHomedir => "gpg home directory",
        KeySource::GpgKeyFile => "gpg key file",
        KeySource::AgeIdentity => "age identity file",
    };
    let meta = std::fs::metadata(&d.key).map_err(|e| {
        DecryptError::Key(format!(
            "{what} {} cannot be read: {e} (give the monitoring user its key: {option})",
            d.key.display()
        ))
    })?;
    if d.source != KeySource::GpgHomedir && !meta.is_file() {
        return Err(DecryptError::Key(format!(
            "{what} {} is not a file ({option} takes a file{})",
            d.key.display(),
            if d.source == KeySource::GpgKeyFile {
                "; a keyring directory goes to --gpg-homedir"
            } else {
                ""
            }
        )));
    }
    if meta.permissions().mode() & 0o077 != 0 {
        return Err(DecryptError::Key(format!(
            "{what} {} is accessible by group or others (mode {:o}): refused (chmod {} it)",
            d.key.display(),
            meta.permissions().mode() & 0o777,
            if meta.is_dir() { "700" } else { "600" }
        )));
    }
    Ok(())
}

/// Decrypts `file` (positioned at its start) of format `encryption` with `d`, feeding the
/// plaintext into [`decode::verify_unseekable`].
pub fn decrypt(
    file: File,
    encryption: Encryption,
    d: &Decryption,
    progress: &AtomicU64,
) -> io::Result<Decrypted> {
    let fits = match d.tool {
        DecryptTool::Gpg => matches!(encryption, Encryption::OpenPgp | Encryption::OpenPgpArmored),
        DecryptTool::Age => matches!(encryption, Encryption::Age | Encryption::AgeArmored),
    };
    if !fits {
        return Err(io::Error::other(DecryptError::WrongTool {
            format: encryption.name(),
            tool: d.tool.name(),
        }));
    }
    check_key(d).map_err(io::Error::other)?;
    // --gpg-key: the key is imported into a throwaway home, removed (with its agent) when
    // `temp` is dropped, on every return below, or by the watchdog.
    let temp = match d.source {
        KeySource::GpgKeyFile => Some(TempHome::import(&d.key).map_err(io::Error::other)?),
        _ => None,
    };
    let home = temp.as_ref().map_or(d.key.as_path(), |t| t.path());
    let mut cmd = match d.tool {
        DecryptTool::Gpg => {
            let mut c = Command::new("gpg");
            c.args(["--batch", "--no-tty", "--quiet", "--homedir"])
                .arg(home)
                .arg("--decrypt");
            c
        }
        DecryptTool::Age => {
            let mut c = Command::new("age");
            c.args(["--decrypt", "-i"]).arg(&d.key);
            c
        }
    };
    cmd.stdin(Stdio::from(file))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().map_err(|e| spawn_error(d.tool, e))?;
    CHILD.store(child.id(), Ordering::SeqCst);
    let (Some(stdout), Some(stderr)) = (child.stdout.take(), child.stderr.take()) else {
        let _ = child.kill();
        let _ = child.wait();
        CHILD.store(0, Ordering::SeqCst);
        return Err(io::Error::other("the decrypting tool's pipes are missing"));
    };
    // stderr is read beside stdout, so a chatty tool never blocks on a full pipe.
    let errors = std::thread::spawn(move || {
        let mut kept = String::new();
        let mut stderr = stderr;
        let _ = (&mut stderr).take(STDERR_KEPT).read_to_string(&mut kept);
        let _ = io::copy(&mut stderr, &mut io::sink());
        kept
    });
    // A pg_dump custom archive inside (pg_back encrypts -Fc dumps with age) has no trailer:
    // it is walked as it passes, as an unencrypted one is.
    let mut walk_pg = |plain: &mut dyn Read| {
        crate::formats::pg_archive::verify(io::BufReader::new(plain), &AtomicU64::new(0))
    };
    let facts = decode::verify_unseekable_walking(
        stdout,
        progress,
        Some((b"PGDMP".as_slice(), &mut walk_pg)),
    );
    if facts.is_err() {
        // Reading its output failed: the child must not outlive us, nor stay a zombie.
        let _ = child.kill();
    }
    let status = child.wait();
    wait_if_abandoned();
    CHILD.store(0, Ordering::SeqCst);
    let stderr = errors.join().unwrap_or_default();
    let facts = facts?;
    let status = status?;
    let said = stderr.trim();
    let lower = said.to_ascii_lowercase();
    // Key problems first: gpg says "decryption failed: No secret key" for a missing key.
    if lower.contains("no secret key")
        || lower.contains("no identity matched")
        || lower.contains("no identities")
        || lower.contains("bad passphrase")
        || lower.contains("passphrase")
    {
        return Err(io::Error::other(DecryptError::Key(format!(
            "{} cannot decrypt with {}: {} (give the monitoring user the secret key the dump is encrypted to)",
            d.tool.name(),
            d.key.display(),
            first_line(said)
        ))));
    }
    if !status.success()
        || lower.contains("decryption failed")
        || lower.contains("mdc")
        || lower.contains("integrity")
        || lower.contains("invalid packet")
        || lower.contains("unexpected")
        || lower.contains("error")
    {
        let why = if said.is_empty() {
            format!("{} exited with {status}", d.tool.name())
        } else {
            format!("{} ({status}): {}", d.tool.name(), first_line(said))
        };
        return Ok(Decrypted::Broken(why));
    }
    Ok(Decrypted::Stream(Box::new(facts)))
}

/// A tool that could not be started: not installed (UNKNOWN naming the package), or else.
fn spawn_error(tool: DecryptTool, e: io::Error) -> io::Error {
    if e.kind() == io::ErrorKind::NotFound {
        io::Error::other(DecryptError::NotInstalled {
            tool: tool.name(),
            package: match tool {
                DecryptTool::Gpg => "gnupg",
                DecryptTool::Age => "age",
            },
        })
    } else {
        io::Error::new(e.kind(), format!("cannot run {}: {e}", tool.name()))
    }
}

/// tmpfs and ramfs (statfs(2) f_type): memory, not disk.
const TMPFS_MAGIC: u64 = 0x0102_1994;
const RAMFS_MAGIC: u64 = 0x8584_58f6;

/// Whether `dir` lives in memory (tmpfs or ramfs).
fn in_memory(dir: &Path) -> bool {
    let Ok(c) = std::ffi::CString::new(dir.as_os_str().as_encoded_bytes()) else {
        return false;
    };
    // SAFETY: statfs(2) fills the zeroed struct; `c` is a valid C string.
    unsafe {
        let mut fs: libc::statfs = std::mem::zeroed();
        libc::statfs(c.as_ptr(), &mut fs) == 0
            && matches!(fs.f_type as u64, TMPFS_MAGIC | RAMFS_MAGIC)
    }
}

/// A GnuPG home directory of our own, 0700, in memory-backed space ($XDG_RUNTIME_DIR, else
/// /dev/shm; never a disk directory: the secret key is written into it), with the key of
/// `--gpg-key` imported. Dropping it stops its gpg-agent and removes it.
struct TempHome {
    dir: Option<tempfile::TempDir>,
}

impl TempHome {
    /// Creates the home and imports `key` into it; UNKNOWN-worthy errors name the fix.
    fn import(key: &Path) -> Result<TempHome, DecryptError> {
        let base = std::env::var_os("XDG_RUNTIME_DIR")
            .map(PathBuf::from)
            .into_iter()
            .chain([PathBuf::from("/dev/shm")])
            .find(|d| d.is_absolute() && d.is_dir() && in_memory(d))
            .ok_or_else(|| {
                DecryptError::Key(
                    "--gpg-key needs memory-backed space for its throwaway keyring: neither $XDG_RUNTIME_DIR nor /dev/shm is a tmpfs (mount one, or give a keyring with --gpg-homedir)".into(),
                )
            })?;
        // mkdir with a random name: fails rather than reuse anything planted in a shared
        // /dev/shm; 0700, so only we can enter it.
        let dir = tempfile::Builder::new()
            .prefix("check_backup-gpg-")
            .permissions(std::fs::Permissions::from_mode(0o700))
            .tempdir_in(&base)
            .map_err(|e| {
                DecryptError::Key(format!(
                    "cannot create a throwaway keyring in {}: {e}",
                    base.display()
                ))
            })?;
        *TEMP_HOME.lock().unwrap_or_else(|e| e.into_inner()) = Some(dir.path().to_path_buf());
        let home = TempHome { dir: Some(dir) };
        let mut cmd = Command::new("gpg");
        cmd.args(["--batch", "--no-tty", "--quiet", "--homedir"])
            .arg(home.path())
            .arg("--import")
            .arg(key)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let child = cmd.spawn().map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => DecryptError::NotInstalled {
                tool: "gpg",
                package: "gnupg",
            },
            _ => DecryptError::Key(format!("cannot run gpg --import: {e}")),
        })?;
        CHILD.store(child.id(), Ordering::SeqCst);
        let out = child.wait_with_output();
        wait_if_abandoned();
        CHILD.store(0, Ordering::SeqCst);
        let out = out.map_err(|e| DecryptError::Key(format!("gpg --import: {e}")))?;
        if !out.status.success() {
            return Err(DecryptError::Key(format!(
                "gpg cannot import the key file {} ({}): {} (export the encryption subkey: gpg --export-secret-subkeys KEYID! >FILE)",
                key.display(),
                out.status,
                first_line(&String::from_utf8_lossy(&out.stderr))
            )));
        }
        Ok(home)
    }

    fn path(&self) -> &Path {
        self.dir
            .as_ref()
            .map_or(Path::new("/nonexistent"), |d| d.path())
    }
}

impl Drop for TempHome {
    fn drop(&mut self) {
        let Some(dir) = self.dir.take() else { return };
        remove_home(dir.path());
        // Unregistered only once gone: the watchdog may exit at any moment before.
        let mut registered = TEMP_HOME.lock().unwrap_or_else(|e| e.into_inner());
        if registered.as_deref() == Some(dir.path()) {
            *registered = None;
        }
        drop(registered);
        let _ = dir.close();
    }
}

/// Stops the gpg-agent (and any other daemon) of a throwaway home, removes the socket
/// directory gpg may have made for it under /run/user, then the home itself.
fn remove_home(home: &Path) {
    let gpgconf = |args: &[&str]| {
        Command::new("gpgconf")
            .arg("--homedir")
            .arg(home)
            .args(args)
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    let _ = gpgconf(&["--kill", "all"]);
    // Sockets live in the home unless /run/user/UID exists: then in a directory of
    // their own there.
    if let Some(socketdir) = gpgconf(&["--list-dirs", "socketdir"]) {
        if Path::new(&socketdir) != home && socketdir.starts_with("/run/user/") {
            let _ = gpgconf(&["--remove-socketdir"]);
        }
    }
    let _ = std::fs::remove_dir_all(home);
}

fn first_line(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("; ")
        .chars()
        .take(300)
        .collect()
}
