//! Reading several dumps at once (`--per-database`): a small pool of worker threads reads
//! the dumps the check will judge next, while the check judges them one after another in
//! its usual order. Only the reading (I/O and decoding, [`content::read`]) runs ahead; what
//! a worker found is used only when the file the check opens is the very version the
//! worker read (same [`FileKey`]), otherwise the check reads it itself. So every verdict,
//! message and the output order are exactly those of reading one dump after another.
//!
//! Memory stays bounded: at most `2 × workers` dumps are being read or wait, read, to be
//! judged (each read holds a few MiB while decoding, its facts afterwards well under 1 MiB).

use std::fs::Metadata;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::Duration;

use super::cache::FileKey;
use super::content;
use crate::decode;
use crate::facts::{ChecksumAlgorithm, Compression, StreamFacts};
use crate::sys;

/// The most worker threads, whatever the machine: each decode holds a few MiB, and eight
/// readers already saturate most disks.
pub const MAX_WORKERS: usize = 8;

/// How many dumps to read at once: the machine's cores (at most [`MAX_WORKERS`]).
/// `CHECK_BACKUP_THREADS` overrides it — for tests and benchmarks only (`1` reads one dump
/// after another, the reference the concurrent path is compared with).
pub fn workers() -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let wanted = std::env::var("CHECK_BACKUP_THREADS")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|&n| n > 0)
        .unwrap_or(cores);
    wanted.min(MAX_WORKERS)
}

/// Whether the dump at `path` may be read alongside others: not bzip2 nor xz, whose
/// decoders already use every core, in up to about 24 MiB (bzip2) or 80 MiB (multi-block
/// xz) each — several at once would multiply that. The others decode in a few MiB.
pub fn alongside_others(path: &Path) -> bool {
    let mut magic = [0u8; 64];
    let got = sys::open_readonly(path).and_then(|mut f| match f.metadata()?.is_file() {
        true => decode::read_full(&mut f, &mut magic),
        false => Err(io::Error::other("not a regular file")),
    });
    match got {
        Ok(n) => !matches!(
            decode::detect(&magic[..n]),
            Compression::Bzip2 | Compression::Xz
        ),
        Err(_) => false, // the check itself says what is wrong with it
    }
}

/// One dump to read ahead: its path, and the checksum algorithm to hash it with in the same
/// pass (when it has a checksum file).
#[derive(Debug, Clone)]
pub struct Job {
    /// The dump.
    pub path: PathBuf,
    /// Hash while reading ([`content::read_hashed`]).
    pub algorithm: Option<ChecksumAlgorithm>,
}

/// What a worker read: the version of the file it read and its facts (with the digest).
#[derive(Debug)]
pub struct Outcome {
    /// The version read.
    pub key: FileKey,
    /// Its facts and, when hashed, its digest.
    pub facts: StreamFacts,
    /// The digest (lowercase hex) when the job asked for one.
    pub digest: Option<String>,
}

#[derive(Debug)]
enum Slot {
    /// Not started.
    Free,
    /// A worker reads it.
    Reading,
    /// Read, waiting to be taken (None: the worker could not read it; the check will).
    Done(Option<Box<Outcome>>),
    /// Taken by the check, or claimed by it to read itself.
    Gone,
}

#[derive(Debug)]
struct State {
    slots: Vec<Slot>,
    stop: bool,
}

/// The dumps to read ahead and what was read of them so far; shared by the workers
/// ([`Prefetch::work`]) and the check ([`Prefetch::take`]).
#[derive(Debug)]
pub struct Prefetch {
    jobs: Vec<Job>,
    /// Compressed bytes read of each job so far (the watchdog's progress while waiting).
    counters: Vec<AtomicU64>,
    state: Mutex<State>,
    changed: Condvar,
    /// At most this many dumps are being read or wait to be taken.
    window: usize,
}

impl Prefetch {
    /// The jobs, in the order the check will take them; `workers` threads will run
    /// [`Prefetch::work`].
    pub fn new(jobs: Vec<Job>, workers: usize) -> Prefetch {
        let n = jobs.len();
        Prefetch {
            counters: (0..n).map(|_| AtomicU64::new(0)).collect(),
            state: Mutex::new(State {
                slots: (0..n).map(|_| Slot::Free).collect(),
                stop: false,
            }),
            changed: Condvar::new(),
            window: workers.max(1) * 2,
            jobs,
        }
    }

    /// A worker's loop: reads the next free dump while fewer than the window are read or
    /// waiting, until [`Prefetch::stop`] or no job is left.
    pub fn work(&self) {
        loop {
            let Ok(mut state) = self.state.lock() else {
                return;
            };
            let index = loop {
                if state.stop {
                    return;
                }
                let busy = state
                    .slots
                    .iter()
                    .filter(|s| matches!(s, Slot::Reading | Slot::Done(_)))
                    .count();
                let free = state.slots.iter().position(|s| matches!(s, Slot::Free));
                match free {
                    None => return,
                    Some(i) if busy < self.window => break i,
                    Some(_) => match self.changed.wait(state) {
                        Ok(s) => state = s,
                        Err(_) => return,
                    },
                }
            };
            state.slots[index] = Slot::Reading;
            drop(state);
            let outcome = read(&self.jobs[index], &self.counters[index]).ok();
            let Ok(mut state) = self.state.lock() else {
                return;
            };
            state.slots[index] = Slot::Done(outcome.map(Box::new));
            self.changed.notify_all();
        }
    }

    /// Ends the workers' loops (the check is done with the jobs).
    pub fn stop(&self) {
        if let Ok(mut state) = self.state.lock() {
            state.stop = true;
        }
        self.changed.notify_all();
    }

    /// What a worker read of `path` (hashed with `algorithm`), if that is the version `meta`
    /// describes; waits for it when a worker is reading it, adding its bytes to `progress`
    /// as they are read. None: the check reads the dump itself (not a job, not started yet,
    /// a read error, another version of the file).
    pub fn take(
        &self,
        path: &Path,
        algorithm: Option<ChecksumAlgorithm>,
        meta: &Metadata,
        progress: &AtomicU64,
    ) -> Option<Outcome> {
        let index = self
            .jobs
            .iter()
            .position(|j| j.path == path && j.algorithm == algorithm)?;
        let base = progress.load(Ordering::Relaxed);
        let mut state = self.state.lock().ok()?;
        let outcome = loop {
            match std::mem::replace(&mut state.slots[index], Slot::Gone) {
                Slot::Done(outcome) => break outcome,
                Slot::Reading => {
                    state.slots[index] = Slot::Reading;
                    let read = self.counters[index].load(Ordering::Relaxed);
                    progress.store(base + read, Ordering::Relaxed);
                    // Wake up now and then to move the progress the watchdog reports.
                    state = self
                        .changed
                        .wait_timeout(state, Duration::from_millis(100))
                        .ok()?
                        .0;
                }
                // Not started: the check reads it now rather than wait for a worker.
                Slot::Free | Slot::Gone => {
                    self.changed.notify_all();
                    return None;
                }
            }
        };
        self.changed.notify_all();
        drop(state);
        let outcome = outcome?;
        if outcome.key != FileKey::of(meta) {
            return None;
        }
        progress.store(
            base + self.counters[index].load(Ordering::Relaxed),
            Ordering::Relaxed,
        );
        Some(*outcome)
    }
}

/// Reads one job's dump as the check would (read-only, never a FIFO or another kind of file).
fn read(job: &Job, counter: &AtomicU64) -> io::Result<Outcome> {
    let file = sys::open_readonly(&job.path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(io::Error::other("not a regular file"));
    }
    let reader = file.try_clone()?;
    let (facts, digest) = match job.algorithm {
        Some(algorithm) => content::read_hashed(reader, meta.len(), counter, algorithm)
            .map(|(f, d)| (f, Some(d)))?,
        None => (content::read(reader, meta.len(), counter)?, None),
    };
    // Changed while read: what was read proves nothing; the check reads it itself.
    if FileKey::of(&file.metadata()?) != FileKey::of(&meta) {
        return Err(io::Error::other("changed while read ahead"));
    }
    Ok(Outcome {
        key: FileKey::of(&meta),
        facts,
        digest,
    })
}
