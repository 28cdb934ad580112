//! The few operating-system details the plugin needs: read-only opening that never updates
//! atime nor blocks on a FIFO, and the name of the user the plugin runs as.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// Opens `path` for reading only, without following it into a FIFO's blocking open and,
/// where the kernel permits (owner or CAP_FOWNER), without updating its access time.
pub fn open_readonly(path: &Path) -> io::Result<File> {
    let base = libc::O_NONBLOCK | libc::O_CLOEXEC;
    match OpenOptions::new()
        .read(true)
        .custom_flags(base | libc::O_NOATIME)
        .open(path)
    {
        // O_NOATIME is refused with EPERM for files we do not own: retry without it.
        Err(e) if e.raw_os_error() == Some(libc::EPERM) => {
            OpenOptions::new().read(true).custom_flags(base).open(path)
        }
        other => other,
    }
}

/// The name of the effective user, for "permission denied" messages (NRPE and Icinga 2 run
/// plugins as `nagios`, which is usually why a root-only backup cannot be read).
pub fn current_user() -> String {
    // SAFETY: geteuid cannot fail.
    let uid = unsafe { libc::geteuid() };
    match user_name() {
        Some(name) => format!("{name} (uid {uid})"),
        None => format!("uid {uid}"),
    }
}

/// The login name of the effective user, if it has one.
fn user_name() -> Option<String> {
    // SAFETY: geteuid cannot fail; getpwuid_r writes into the buffers we own and returns a
    // pointer into them, which we copy out before they go out of scope.
    unsafe {
        let uid = libc::geteuid();
        let mut pwd: libc::passwd = std::mem::zeroed();
        let mut buf = vec![0 as libc::c_char; 4096];
        let mut result: *mut libc::passwd = std::ptr::null_mut();
        let rc = libc::getpwuid_r(uid, &mut pwd, buf.as_mut_ptr(), buf.len(), &mut result);
        if rc == 0 && !result.is_null() && !pwd.pw_name.is_null() {
            let name = std::ffi::CStr::from_ptr(pwd.pw_name);
            return Some(name.to_string_lossy().into_owned());
        }
        None
    }
}

/// The typical fix for a path the monitoring user cannot read. For a directory: read and
/// traverse it and everything in it, and the same for the files written into it later (a
/// default ACL), `setfacl -R -m u:USER:rX DIR && setfacl -d -m u:USER:rX DIR`; for a file:
/// read it, and the same for its directory so that tomorrow's dump is readable too.
/// Debian 12 has no `setfacl` until the package `acl` is installed.
pub fn permission_hint(path: &Path) -> String {
    let user = match user_name() {
        Some(name) if name != "root" => name,
        _ => "nagios".to_string(),
    };
    let for_dir = |dir: &Path| {
        format!(
            "'setfacl -R -m u:{user}:rX {d} && setfacl -d -m u:{user}:rX {d}'",
            d = dir.display()
        )
    };
    const ACL: &str = "setfacl is in package acl: apt-get install acl";
    if path.is_dir() {
        return format!(
            "grant read access to the directory and to the files written into it later: {} ({ACL})",
            for_dir(path)
        );
    }
    match path.parent().filter(|p| !p.as_os_str().is_empty()) {
        Some(dir) => format!(
            "grant read access: 'setfacl -m u:{user}:r {}', and for the files written into its directory later {} ({ACL})",
            path.display(),
            for_dir(dir)
        ),
        None => format!(
            "grant read access: 'setfacl -m u:{user}:r {}' ({ACL})",
            path.display()
        ),
    }
}

/// Test seam, compiled into debug builds only: sleeps for the milliseconds named by the
/// environment variable `var` (e.g. `CHECK_BACKUP_TEST_READ_DELAY_MS` before every read of
/// the dump), so that tests of timeouts, background verification, growing and rotated
/// files do not depend on the speed of the machine.
#[cfg(debug_assertions)]
pub fn test_delay(var: &str) {
    if let Some(ms) = std::env::var(var).ok().and_then(|v| v.parse::<u64>().ok()) {
        std::thread::sleep(std::time::Duration::from_millis(ms));
    }
}
