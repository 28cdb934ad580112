//! check_backup: a monitoring plugin (Nagios, Icinga 2, NRPE) that tells whether the newest
//! database dump is really good.
//!
//! The work is split in three steps, as in Python's nagiosplugin (Resource → Context →
//! Summary):
//! 1. acquire facts — [`discover`] finds the dump, [`decode`] streams it once through its
//!    decompressor keeping head and tail samples;
//! 2. evaluate — [`evaluate`] and [`dumpformat`] judge the facts against thresholds and
//!    marker rules into findings (pure functions);
//! 3. present — [`output`] renders plugin text or JSON.
//!
//! [`check`] wires the steps together; [`cli`] is the command-line contract; [`watchdog`]
//! guarantees one answer within the time limit. [`report`] is the `backup-report` binary:
//! every set of the configuration file (and a fleet) in one text, JSON or HTML report.

pub mod cache;
pub mod check;
pub mod cli;
pub mod config;
pub mod decode;
pub mod dirformats;
pub mod discover;
pub mod dumpformat;
pub mod evaluate;
pub mod log;
pub mod output;
pub mod pgcustom;
pub mod range;
pub mod report;
pub mod sections;
pub mod sys;
pub mod tar;
pub mod text;
pub mod units;
pub mod watchdog;
