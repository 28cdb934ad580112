//! backup-drill's entry point: the logic is in `check_backup::drill`.

fn main() {
    std::process::exit(check_backup::drill::main(std::env::args_os()));
}
