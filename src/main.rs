//! check_backup's entry point: parse, run under a watchdog, print, exit 0–3.

use std::sync::Arc;

use check_backup::{check, cli, output, watchdog};

fn main() {
    watchdog::install_panic_hook();
    let config = match cli::parse(std::env::args_os()) {
        cli::Parsed::Run(config) => config,
        cli::Parsed::Exit(text) => watchdog::answer(&text, 3),
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
    // A panic is a bug, but it must still be an UNKNOWN answer, never exit 101.
    let report = std::panic::catch_unwind(|| check::run(&config, &progress))
        .unwrap_or_else(|_| watchdog::panic_report());
    let text = output::render(&report, config.format, config.verbose);
    watchdog::answer(&text, report.state().exit_code());
}
