//! Every path into the check_backup library that the integration tests use, gathered here
//! so that a restructuring of src/ has one file to follow. Everything else in the tests
//! goes through the built binaries.

pub use check_backup::acquire::log::{read_log, LogRules};
pub use check_backup::cli::config::ConfigFile;
pub use check_backup::judge::State;
pub use check_backup::range::Range;
pub use check_backup::report::history;
pub use check_backup::report::icinga::base64;
pub use check_backup::units::parse_size;

use check_backup::{check, cli, watchdog::Progress};

/// The state the real check gives, run in this process (no subprocess: fast enough for
/// property tests), for a command line without the program name.
pub fn check_state(args: &[&str]) -> State {
    let argv = std::iter::once("check_backup").chain(args.iter().copied());
    let cli::Parsed::Run(config) = cli::parse(argv) else {
        panic!("arguments rejected: {args:?}")
    };
    check::run(&config, &Progress::default()).state()
}
