//! Answering exactly once, within the time limit, whatever happens: a watchdog thread that
//! reports UNKNOWN (with what was verified so far) when the check overruns `-t`, even if the
//! main thread is stuck in a read that never returns (a FIFO, a hung NFS server).

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::judge::{Check, Finding, Report, State};
use crate::present::{self as output, Format};
use crate::units::human_size;

/// What the check has done so far, shared with the watchdog.
#[derive(Debug, Default)]
pub struct Progress {
    /// Compressed bytes read from the dump so far.
    pub bytes_read: AtomicU64,
    /// Size of the dump being read.
    pub bytes_total: AtomicU64,
    /// What is being done now and what is still unverified.
    step: Mutex<(&'static str, &'static str)>,
    /// The report as far as it goes (age and size findings, facts, trace).
    partial: Mutex<Option<Report>>,
    /// Arguments of a background verifier that can take over the content verification if
    /// time runs out (set only while the content is being decoded and a cache exists).
    background: Mutex<Option<Vec<std::ffi::OsString>>>,
    /// While restore points are verified: how many are good so far, and how many are needed.
    restore_points: Mutex<Option<(usize, usize)>>,
}

impl Progress {
    /// Records the step now running and what remains unverified if it never ends.
    pub fn step(&self, doing: &'static str, unverified: &'static str) {
        if let Ok(mut s) = self.step.lock() {
            *s = (doing, unverified);
        }
    }

    /// Records the report established so far.
    pub fn set_partial(&self, report: &Report) {
        if let Ok(mut p) = self.partial.lock() {
            *p = Some(report.clone());
        }
    }

    /// Arms (Some) or disarms (None) the background continuation of the verification.
    pub fn set_background(&self, args: Option<Vec<std::ffi::OsString>>) {
        if let Ok(mut b) = self.background.lock() {
            *b = args;
        }
    }

    /// Records that restore points are being verified (`done` good of `need`), or no longer.
    pub fn set_restore_points(&self, state: Option<(usize, usize)>) {
        if let Ok(mut r) = self.restore_points.lock() {
            *r = state;
        }
    }

    /// Starts the armed background verifier, detached in its own session with no stdio, so
    /// the monitoring system neither waits for it nor kills it; returns its pid.
    pub fn spawn_background(&self) -> Option<u32> {
        use std::os::unix::process::CommandExt;
        let args = self.background.lock().ok()?.clone()?;
        let exe = std::env::current_exe().ok()?;
        let mut cmd = std::process::Command::new(exe);
        cmd.args(args)
            .current_dir("/")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        // SAFETY: setsid is async-signal-safe and touches no memory of the parent.
        unsafe {
            cmd.pre_exec(|| {
                libc::setsid();
                Ok(())
            });
        }
        cmd.spawn().ok().map(|child| child.id())
    }

    /// The report to give when time runs out: what was established, plus a finding that says
    /// what was being done and what was not verified. When a background verifier took over
    /// (`continuing`), that finding has `unverified` as its state, else UNKNOWN.
    pub fn timeout_report(
        &self,
        limit: Duration,
        continuing: Option<u32>,
        unverified_state: State,
    ) -> Report {
        let (doing, unverified) = self.step.lock().map(|s| *s).unwrap_or(("checking", ""));
        let mut report = self
            .partial
            .lock()
            .ok()
            .and_then(|p| p.clone())
            .unwrap_or_default();
        let read = self.bytes_read.load(Ordering::Relaxed);
        let total = self.bytes_total.load(Ordering::Relaxed);
        let done = if total > 0 && read > 0 {
            format!(
                " ({}% done, {} of {} read)",
                read.saturating_mul(100) / total,
                human_size(read as f64),
                human_size(total as f64)
            )
        } else {
            String::new()
        };
        let verified: Vec<&str> = report.findings.iter().map(|f| f.check.name()).collect();
        let verified = if verified.is_empty() {
            String::new()
        } else {
            format!("; verified: {}", verified.join(", "))
        };
        let points = self.restore_points.lock().ok().and_then(|r| *r);
        let finding = match (continuing, points) {
            // The newest dump is judged; an older restore point was being read.
            (Some(pid), Some((done, need))) => Finding::new(
                Check::RestorePoints,
                State::Unknown,
                format!(
                    "verifying restore points in the background, {done} of {need} done (not finished within {}s; pid {pid}{done_bytes})",
                    limit.as_secs_f64(),
                    done_bytes = done_bytes(read, total),
                ),
            ),
            (None, Some((done, need))) => Finding::new(
                Check::Timeout,
                State::Unknown,
                format!(
                    "check timed out after {}s while verifying restore points ({done} of {need} done); NOT verified: the older restore points (raise -t, or let the cache fill: use --cache-dir)",
                    limit.as_secs_f64()
                ),
            ),
            (Some(pid), None) => Finding::new(
                Check::Content,
                unverified_state,
                format!(
                    "content verification in progress{done}: not finished within {}s, continuing in the background (pid {pid}); NOT verified yet: {unverified}{verified}",
                    limit.as_secs_f64()
                ),
            ),
            (None, None) => {
                let mut message =
                    format!("check timed out after {}s while {doing}{done}", limit.as_secs_f64());
                if !unverified.is_empty() {
                    message.push_str(&format!("; NOT verified: {unverified}"));
                }
                message.push_str(&verified);
                message.push_str(" (raise -t below the monitoring system's own limit)");
                Finding::new(Check::Timeout, State::Unknown, message)
            }
        };
        report.findings.insert(0, finding);
        report
    }
}

/// `, 37% of 1.0 GiB read` of the dump being read, or nothing.
fn done_bytes(read: u64, total: u64) -> String {
    if total > 0 && read > 0 {
        format!(
            ", {}% of {} read",
            read.saturating_mul(100) / total,
            human_size(total as f64)
        )
    } else {
        String::new()
    }
}

/// Guards stdout so that exactly one answer is printed, by the check or by the watchdog.
static ANSWERED: Mutex<bool> = Mutex::new(false);

/// Prints `text` on stdout and exits with `code`, unless an answer was already given (then
/// waits: the other answer is about to exit the process).
pub fn answer(text: &str, code: i32) -> ! {
    let mut answered = ANSWERED.lock().unwrap_or_else(|e| e.into_inner());
    if *answered {
        drop(answered);
        loop {
            std::thread::park();
        }
    }
    *answered = true;
    let mut out = std::io::stdout().lock();
    // Nothing sensible can be done if stdout is gone; the exit code still tells.
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
    std::process::exit(code)
}

/// Starts the watchdog: after `limit`, it hands an unfinished content verification to a
/// background verifier (when armed), answers with the timeout report and exits.
pub fn start(
    limit: Duration,
    progress: Arc<Progress>,
    format: Format,
    verbose: u8,
    unverified: State,
) {
    let deadline = Instant::now() + limit;
    std::thread::Builder::new()
        .name("watchdog".into())
        .spawn(move || {
            // sleep() may wake early on some platforms: loop until the deadline has passed.
            while let Some(left) = deadline.checked_duration_since(Instant::now()) {
                if left.is_zero() {
                    break;
                }
                std::thread::sleep(left);
            }
            // A decrypting child (gpg, age) must not outlive the answer (once we exit, init
            // reaps it, so it is no zombie either), nor a throwaway keyring and its agent.
            crate::acquire::decrypt::abandon();
            let continuing = progress.spawn_background();
            let report = progress.timeout_report(limit, continuing, unverified);
            answer(
                &output::render(&report, format, verbose),
                report.state().exit_code(),
            );
        })
        .expect("cannot start the watchdog thread");
}

/// The last panic's message, recorded by the hook so the UNKNOWN answer can quote it.
static PANIC_MESSAGE: Mutex<Option<String>> = Mutex::new(None);

/// Replaces the default panic hook (which writes to stderr, merged into the output by Icinga 2)
/// with one that records the message for [`panic_report`].
pub fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let payload = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into());
        let location = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        if let Ok(mut m) = PANIC_MESSAGE.lock() {
            *m = Some(format!("{payload}{location}"));
        }
    }));
}

/// The UNKNOWN report for a caught panic.
pub fn panic_report() -> Report {
    let message = PANIC_MESSAGE
        .lock()
        .ok()
        .and_then(|m| m.clone())
        .unwrap_or_else(|| "unknown panic".into());
    let mut report = Report::default();
    report.push(Finding::new(
        Check::Internal,
        State::Unknown,
        format!(
            "internal error: {} (please report this bug)",
            crate::text::safe(&message, 300)
        ),
    ));
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeout_report_says_what_was_and_was_not_verified() {
        let p = Progress::default();
        let mut partial = Report::default();
        partial.push(Finding::new(Check::Age, State::Ok, "1h 0m old"));
        partial.push(Finding::new(Check::Size, State::Ok, "1.0 GiB"));
        p.set_partial(&partial);
        p.step(
            "verifying the gzip stream",
            "stream integrity, completion marker",
        );
        p.bytes_total.store(1000, Ordering::Relaxed);
        p.bytes_read.store(370, Ordering::Relaxed);
        let r = p.timeout_report(Duration::from_secs(50), None, State::Unknown);
        assert_eq!(r.state(), State::Unknown);
        let m = &r.findings[0].message;
        assert!(
            m.contains("timed out after 50s while verifying the gzip stream (37% done"),
            "{m}"
        );
        assert!(
            m.contains("NOT verified: stream integrity, completion marker"),
            "{m}"
        );
        assert!(m.contains("verified: age, size"), "{m}");
    }

    #[test]
    fn a_timeout_among_the_restore_points_says_how_many_are_done() {
        let p = Progress::default();
        let mut partial = Report::default();
        partial.push(Finding::new(Check::Stream, State::Ok, "gzip stream intact"));
        p.set_partial(&partial);
        p.set_restore_points(Some((3, 7)));
        let r = p.timeout_report(Duration::from_secs(50), Some(42), State::Ok);
        assert_eq!(r.state(), State::Unknown);
        assert_eq!(r.findings[0].check, Check::RestorePoints);
        assert!(
            r.findings[0]
                .message
                .starts_with("verifying restore points in the background, 3 of 7 done (not finished within 50s; pid 42"),
            "{}",
            r.findings[0].message
        );
        let r = p.timeout_report(Duration::from_secs(50), None, State::Ok);
        assert_eq!(
            (r.state(), r.findings[0].check),
            (State::Unknown, Check::Timeout)
        );
        assert!(r.findings[0]
            .message
            .contains("while verifying restore points (3 of 7 done)"));
        p.set_restore_points(None);
        let r = p.timeout_report(Duration::from_secs(50), Some(42), State::Ok);
        assert_eq!(r.findings[0].check, Check::Content);
    }

    #[test]
    fn a_worse_finding_outranks_the_timeout() {
        let p = Progress::default();
        let mut partial = Report::default();
        partial.push(Finding::new(Check::Age, State::Critical, "3d old"));
        p.set_partial(&partial);
        assert_eq!(
            p.timeout_report(Duration::from_secs(1), None, State::Unknown)
                .state(),
            State::Critical
        );
        // A background verifier taking over: the configured state, still outranked.
        let r = p.timeout_report(Duration::from_secs(1), Some(42), State::Warning);
        assert_eq!(r.state(), State::Critical);
        assert!(r.findings[0]
            .message
            .contains("continuing in the background (pid 42)"));
    }
}
