//! check_backup's entry point: parse, run under a watchdog, print, exit 0–3.

use std::sync::Arc;

use check_backup::{check, cli, present as output, watchdog};

fn main() {
    watchdog::install_panic_hook();
    // A panic is a bug, but it must still be an UNKNOWN answer, never exit 101: parsing and
    // checking both run under catch_unwind.
    let parsed = std::panic::catch_unwind(|| cli::parse(std::env::args_os()));
    let config = match parsed {
        Ok(cli::Parsed::Run(config)) => config,
        Ok(cli::Parsed::Exit(text)) => watchdog::answer(&text, 3),
        Err(_) => {
            let report = watchdog::panic_report();
            watchdog::answer(&output::nagios(&report, 0), 3)
        }
    };
    let progress = Arc::new(watchdog::Progress::default());
    if let Some(limit) = config.timeout {
        watchdog::start(
            limit,
            progress.clone(),
            config.format,
            config.verbose,
            config.unverified_state,
        );
    }
    let report = std::panic::catch_unwind(|| check::run(&config, &progress))
        .unwrap_or_else(|_| watchdog::panic_report());
    match std::panic::catch_unwind(|| output::render(&report, config.format, config.verbose)) {
        Ok(text) => watchdog::answer(&text, report.state().exit_code()),
        Err(_) => watchdog::answer(&output::nagios(&watchdog::panic_report(), 0), 3),
    }
}
