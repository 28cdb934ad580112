//! The drill's children and its work directory, and their removal on every way out:
//! success, failure, the time limit and SIGTERM/SIGINT/SIGHUP.
//!
//! Every child (the throwaway server, its installer, the clients) is started in a process
//! group of its own and registered here; [`cleanup`] kills each group (SIGTERM, then
//! SIGKILL after a grace period) and removes the work directory. It runs once, from the
//! main path or from the signal or time-limit thread, whichever comes first; a child
//! registered after it began is killed at once.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::Mutex;
use std::time::{Duration, Instant};

struct Registry {
    /// Each group and how long it may take to stop after SIGTERM.
    groups: Vec<(i32, Duration)>,
    work_dir: Option<PathBuf>,
    closing: bool,
}

static REGISTRY: Mutex<Registry> = Mutex::new(Registry {
    groups: Vec::new(),
    work_dir: None,
    closing: false,
});

/// What the drill is doing, for the time-limit and signal messages.
static STEP: Mutex<&'static str> = Mutex::new("starting");

fn registry() -> std::sync::MutexGuard<'static, Registry> {
    REGISTRY.lock().unwrap_or_else(|e| e.into_inner())
}

/// Says what the drill is doing now.
pub fn step(doing: &'static str) {
    *STEP.lock().unwrap_or_else(|e| e.into_inner()) = doing;
}

/// What the drill was doing.
pub fn current_step() -> &'static str {
    *STEP.lock().unwrap_or_else(|e| e.into_inner())
}

/// The work directory to remove on the way out.
pub fn set_work_dir(dir: &Path) {
    registry().work_dir = Some(dir.to_path_buf());
}

/// Who runs the children: `None` is the drill's own user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunAs {
    /// User id.
    pub uid: u32,
    /// Group id.
    pub gid: u32,
}

/// How long a server or client may take to stop after SIGTERM before SIGKILL.
const GRACE: Duration = Duration::from_secs(20);

/// How long a child backup-drill (one database of a `--per-database` set) may take after
/// SIGTERM: it stops its own server first (up to [`GRACE`] and a few seconds more), then
/// removes its work directory.
pub const DRILL_GRACE: Duration = Duration::from_secs(40);

/// Starts `cmd` in a process group of its own, as `run_as`, and registers the group.
pub fn spawn(cmd: &mut Command, run_as: Option<RunAs>) -> std::io::Result<Child> {
    spawn_with_grace(cmd, run_as, GRACE)
}

/// [`spawn`], the group given `grace` after SIGTERM before SIGKILL.
pub fn spawn_with_grace(
    cmd: &mut Command,
    run_as: Option<RunAs>,
    grace: Duration,
) -> std::io::Result<Child> {
    cmd.process_group(0);
    if let Some(r) = run_as {
        // std drops the supplementary groups (setgroups(0)) when root sets a uid.
        cmd.uid(r.uid).gid(r.gid);
    }
    // Should the drill itself be killed outright (SIGKILL, a crash: no cleanup runs), the
    // kernel kills its direct children, the server among them. Set after the uid change,
    // which would clear it.
    // SAFETY: prctl is async-signal-safe; nothing else runs between fork and exec here.
    unsafe {
        cmd.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let child = cmd.spawn()?;
    let pid = child.id() as i32;
    let mut reg = registry();
    reg.groups.push((pid, grace));
    if reg.closing {
        drop(reg);
        kill_group(pid, grace);
    }
    Ok(child)
}

/// Whether any process of group `pgid` is alive.
fn group_alive(pgid: i32) -> bool {
    // SAFETY: kill with signal 0 only checks.
    unsafe { libc::kill(-pgid, 0) == 0 }
}

/// SIGTERM to the group, SIGKILL after `grace`; returns when the group is gone (or after
/// the SIGKILL had a few seconds).
fn kill_group(pgid: i32, grace: Duration) {
    if pgid <= 1 {
        return;
    }
    // SAFETY: signalling a process group we created.
    unsafe { libc::kill(-pgid, libc::SIGTERM) };
    let start = Instant::now();
    while group_alive(pgid) && start.elapsed() < grace {
        reap(pgid);
        std::thread::sleep(Duration::from_millis(50));
    }
    if group_alive(pgid) {
        // SAFETY: as above.
        unsafe { libc::kill(-pgid, libc::SIGKILL) };
        let start = Instant::now();
        while group_alive(pgid) && start.elapsed() < Duration::from_secs(5) {
            reap(pgid);
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    reap(pgid);
}

/// Reaps the exited children of group `pgid` so that they do not count as alive.
fn reap(pgid: i32) {
    loop {
        // SAFETY: waitpid on our children of that group, non-blocking.
        let r = unsafe { libc::waitpid(-pgid, std::ptr::null_mut(), libc::WNOHANG) };
        if r <= 0 {
            break;
        }
    }
}

/// Stops one registered group now (the server after the drill) and forgets it.
pub fn stop(child: &mut Child) {
    let pid = child.id() as i32;
    let grace = registry()
        .groups
        .iter()
        .find(|(g, _)| *g == pid)
        .map_or(GRACE, |(_, grace)| *grace);
    kill_group(pid, grace);
    let _ = child.wait();
    registry().groups.retain(|(g, _)| *g != pid);
}

/// Held while a cleanup runs: a second one (SIGTERM arriving while the time limit's cleanup
/// is killing the server) waits for the first to finish instead of finding nothing left to
/// do and exiting before the work directory is removed.
static CLEANING: Mutex<()> = Mutex::new(());

/// Kills every registered group and removes the work directory; later spawns are killed at
/// once. Safe to call more than once and from any thread: it returns when the cleanup,
/// whoever began it, is done.
pub fn cleanup() {
    let _cleaning = CLEANING.lock().unwrap_or_else(|e| e.into_inner());
    let (groups, dir) = {
        let mut reg = registry();
        reg.closing = true;
        (std::mem::take(&mut reg.groups), reg.work_dir.take())
    };
    for (g, grace) in groups {
        kill_group(g, grace);
    }
    if let Some(dir) = dir {
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// Set once a stop signal or the time limit has begun the cleanup: whatever the drill sees
/// afterwards (its server gone) is that stop's doing, and the stop gives the answer.
static STOPPING: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Says that a stop (signal, time limit, disk budget) is under way; see [`STOPPING`].
pub fn begin_stop() {
    STOPPING.store(true, std::sync::atomic::Ordering::SeqCst);
}

/// Whether a stop (signal or time limit) is under way; see [`STOPPING`].
pub fn stopping() -> bool {
    STOPPING.load(std::sync::atomic::Ordering::SeqCst)
}

/// Runs `on_exit(reason)` and exits 3 when SIGTERM, SIGINT or SIGHUP arrives, or when
/// `limit` has passed; `on_exit` must call [`cleanup`].
pub fn watch(limit: Option<Duration>, on_exit: fn(String) -> !) -> std::io::Result<()> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGTERM, SIGINT, SIGHUP])?;
    std::thread::spawn(move || {
        if let Some(sig) = signals.forever().next() {
            let name = match sig {
                SIGTERM => "SIGTERM",
                SIGINT => "SIGINT",
                _ => "SIGHUP",
            };
            begin_stop();
            on_exit(format!("stopped by {name} while {}", current_step()));
        }
    });
    if let Some(limit) = limit {
        std::thread::spawn(move || {
            std::thread::sleep(limit);
            begin_stop();
            on_exit(format!(
                "time limit of {} reached while {}",
                crate::units::human_duration(limit.as_secs_f64()),
                current_step()
            ));
        });
    }
    Ok(())
}
