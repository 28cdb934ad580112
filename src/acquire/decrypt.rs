//! Decrypting an encrypted dump with the real tool (`gpg`, `age`) as a child process: the
//! file is the child's stdin, its stdout goes straight into the decode pipeline (bounded
//! memory, no plaintext ever written to disk). The tool's exit status and its stderr both
//! count: gpg exits 0 on some cut files, so the decrypted stream is also judged whole by
//! its compression and completion marker, like an unencrypted dump's.

use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use crate::decode;
use crate::facts::{DecryptTool, Decryption, Encryption, StreamFacts};

/// The pid of the decrypting child while it runs (0: none), so the watchdog can kill it
/// when the time runs out.
pub static CHILD: AtomicU32 = AtomicU32::new(0);

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
    let (what, option) = match d.tool {
        DecryptTool::Gpg => ("gpg home directory", "--gpg-homedir"),
        DecryptTool::Age => ("age identity file", "--age-identity"),
    };
    let meta = std::fs::metadata(&d.key).map_err(|e| {
        DecryptError::Key(format!(
            "{what} {} cannot be read: {e} (give the monitoring user its key: {option})",
            d.key.display()
        ))
    })?;
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
    let mut cmd = match d.tool {
        DecryptTool::Gpg => {
            let mut c = Command::new("gpg");
            c.args(["--batch", "--no-tty", "--quiet", "--homedir"])
                .arg(&d.key)
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
    let mut child = cmd.spawn().map_err(|e| {
        if e.kind() == io::ErrorKind::NotFound {
            io::Error::other(DecryptError::NotInstalled {
                tool: d.tool.name(),
                package: match d.tool {
                    DecryptTool::Gpg => "gnupg",
                    DecryptTool::Age => "age",
                },
            })
        } else {
            io::Error::new(e.kind(), format!("cannot run {}: {e}", d.tool.name()))
        }
    })?;
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
    let facts = decode::verify_unseekable(stdout, progress);
    if facts.is_err() {
        // Reading its output failed: the child must not outlive us, nor stay a zombie.
        let _ = child.kill();
    }
    let status = child.wait();
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
