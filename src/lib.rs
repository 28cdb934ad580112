//! check_backup: a monitoring plugin (Nagios, Icinga 2, NRPE) that tells whether the newest
//! database dump is really good. See ARCHITECTURE.md for the whole picture.
//!
//! The layers, each importing only those below it:
//! - [`report`] — the `backup-report` binary (every set of the configuration file);
//! - [`drill`] — the `backup-drill` binary (restore the newest verified dump into a
//!   throwaway server, compare, record the result);
//! - [`check`] — wiring of one check run, and [`watchdog`], one answer within `-t`;
//! - [`cli`] — the command line and the configuration file;
//! - [`present`] — Nagios text, perfdata and JSON from a judged [`judge::Report`];
//! - [`judge`] — pure: facts and thresholds into findings with states;
//! - [`acquire`] — all I/O: discovery, reading, the cache, the log;
//! - [`formats`] — pure readers of dump formats (writer markers, tar, pg_dump archives);
//! - [`decode`] — compression streams only (gzip via ISA-L, zstd, xz, bzip2);
//! - [`facts`] — plain data shared by all layers; [`range`], [`units`], [`text`], [`sys`]
//!   — small utilities.

pub mod acquire;
pub mod check;
pub mod cli;
pub mod decode;
pub mod drill;
pub mod facts;
pub mod formats;
pub mod judge;
pub mod present;
pub mod range;
pub mod report;
pub mod sys;
pub mod text;
pub mod units;
pub mod watchdog;
