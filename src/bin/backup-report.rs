//! backup-report's entry point: the logic is in `check_backup::report`.

fn main() {
    std::process::exit(check_backup::report::main(std::env::args_os()));
}
