//! The integration tests of check_backup and backup-report, as one test binary (the way
//! ripgrep, fd and just arrange theirs): the helpers are compiled once, the binaries are
//! linked once, and every test runs in one harness.
//!
//! - [`util`]: running the built binaries, reading the plugin's answer, making dumps.
//! - [`api`]: the few library paths the tests use, all in one place.
//! - one module per subject; each says at its top what it covers.

mod api;
mod util;

mod cache;
mod concurrent;
mod config_and_trend;
mod core_check;
mod doc_examples;
mod docs;
mod drill;
mod encrypted;
mod fleet_report;
mod formats;
mod fuzz_regressions;
mod hardening;
mod history;
mod load;
mod log_check;
mod no_false_ok;
mod real_dumps;
mod real_formats;
mod real_pgcluster;
mod reliability;
mod report;
mod restore_points;
mod schedule;
mod schema;
mod shipped;
mod sidecars;
