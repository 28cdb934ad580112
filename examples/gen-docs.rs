//! Generates the man pages and the shell completions of `check_backup` and `backup-report`
//! from their clap definitions (`check_backup::cli::Args`, `check_backup::report::Args`),
//! for the packages (`packaging/build.sh`).
//!
//! ```sh
//! cargo run --release --example gen-docs -- target/assets
//! ```
//!
//! writes `OUT/man/{check_backup,backup-report}.1` and `OUT/completions/{NAME.bash,_NAME,
//! NAME.fish}` for both. It is a cargo example, not a binary: the packages do not install it.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use clap::CommandFactory;
use clap_complete::Shell;
use roff::{bold, roman, Roff};

use check_backup::cli::Args;
use check_backup::drill::Args as DrillArgs;
use check_backup::report::Args as ReportArgs;

const BIN: &str = "check_backup";
const REPORT: &str = "backup-report";
const DRILL: &str = "backup-drill";

fn main() {
    let out = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("target/assets"));
    if let Err(e) = run(&out) {
        eprintln!("gen-docs: {e}");
        std::process::exit(1);
    }
}

fn run(out: &Path) -> std::io::Result<()> {
    let man_dir = out.join("man");
    let comp_dir = out.join("completions");
    fs::create_dir_all(&man_dir)?;
    fs::create_dir_all(&comp_dir)?;

    let page = man_page()?;
    fs::write(man_dir.join(format!("{BIN}.1")), page)?;
    println!("{}", man_dir.join(format!("{BIN}.1")).display());

    let page = report_man_page()?;
    fs::write(man_dir.join(format!("{REPORT}.1")), page)?;
    println!("{}", man_dir.join(format!("{REPORT}.1")).display());

    let page = drill_man_page()?;
    fs::write(man_dir.join(format!("{DRILL}.1")), page)?;
    println!("{}", man_dir.join(format!("{DRILL}.1")).display());

    for (bin, command) in [
        (BIN, Args::command()),
        (REPORT, ReportArgs::command()),
        (DRILL, DrillArgs::command()),
    ] {
        for (shell, name) in [
            (Shell::Bash, format!("{bin}.bash")),
            (Shell::Zsh, format!("_{bin}")),
            (Shell::Fish, format!("{bin}.fish")),
        ] {
            let mut buf = Vec::new();
            clap_complete::generate(shell, &mut command.clone(), bin, &mut buf);
            let path = comp_dir.join(name);
            fs::write(&path, buf)?;
            println!("{}", path.display());
        }
    }
    Ok(())
}

/// backup-report's page: clap's sections plus exit status, examples, files, see also.
fn report_man_page() -> std::io::Result<Vec<u8>> {
    let man = clap_mangen::Man::new(ReportArgs::command())
        .section("1")
        .source(format!("check_backup {}", env!("CARGO_PKG_VERSION")))
        .manual("Monitoring Plugins");
    let mut w: Vec<u8> = Vec::new();
    man.render_title(&mut w)?;
    man.render_name_section(&mut w)?;
    man.render_synopsis_section(&mut w)?;
    man.render_description_section(&mut w)?;
    let mut r = Roff::new();
    paragraphs(
        &mut r,
        "backup-report runs check_backup --config FILE --set NAME --output json for every \
         set of the configuration file (in parallel, each with its own time limit), adds the \
         results other hosts wrote (--from DIR) and the last results of the Icinga 2 \
         services whose check command is backup (--icinga-api), appends one line per set to \
         the history file and writes one report: text for a daily mail, JSON, or a \
         self-contained HTML page with size sparklines.",
    );
    r.to_writer(&mut w)?;
    man.render_options_section(&mut w)?;
    let mut r = Roff::new();
    r.control("SH", ["EXIT STATUS"]);
    for (code, text) in [
        ("0", "every set is OK (or --help, --version)."),
        ("1", "the worst set is WARNING."),
        ("2", "at least one set is CRITICAL."),
        (
            "3",
            "the worst set is UNKNOWN, or the report could not do its job (an unreadable \
             configuration, an unreachable API, a set that timed out). --help and --version \
             exit 0.",
        ),
    ] {
        r.control("TP", []);
        r.text([bold(code)]);
        r.text([roman(text)]);
    }
    paragraphs(
        &mut r,
        "States are ranked as check_backup ranks its findings: CRITICAL, WARNING, UNKNOWN, OK.",
    );
    r.control("SH", ["EXAMPLES"]);
    example(
        &mut r,
        "A daily mail of every set of this host:",
        &["backup-report --config /etc/check_backup/backups.toml --format text | mail -s 'backup report' ops@example.com"],
    );
    example(
        &mut r,
        "One HTML page for a whole fleet:",
        &[
            "backup-report --from /srv/backup-results --icinga-api https://icinga.example.com:5665 \\",
            "    --icinga-user report --icinga-ca /var/lib/icinga2/certs/ca.crt --format html --output page.html",
        ],
    );
    r.control("SH", ["FILES"]);
    for (path, text) in [
        (
            "/etc/check_backup/backups.toml",
            "the backup sets of this host (the default of --config); the same file serves \
             check_backup --set NAME.",
        ),
        (
            "/usr/share/doc/check-backup/examples/backups.toml",
            "a commented example of every kind of set: a single dump, a glob, one dump per \
             database, only a log, a schedule.",
        ),
        (
            "/var/lib/check_backup/history.jsonl",
            "the history (the default of --history): one JSON line per set and run.",
        ),
    ] {
        r.control("TP", []);
        r.text([bold(path)]);
        r.text([roman(text)]);
    }
    r.to_writer(&mut w)?;
    man.render_version_section(&mut w)?;
    let mut r = Roff::new();
    r.control("SH", ["SEE ALSO"]);
    r.text([roman("check_backup(1), icinga2(8), mail(1)")]);
    r.to_writer(&mut w)?;
    w.flush()?;
    Ok(w)
}

/// backup-drill's page: clap's sections plus how it works, exit status, examples, files.
fn drill_man_page() -> std::io::Result<Vec<u8>> {
    let man = clap_mangen::Man::new(DrillArgs::command())
        .section("1")
        .source(format!("check_backup {}", env!("CARGO_PKG_VERSION")))
        .manual("Monitoring Plugins");
    let mut w: Vec<u8> = Vec::new();
    man.render_title(&mut w)?;
    man.render_name_section(&mut w)?;
    man.render_synopsis_section(&mut w)?;
    man.render_description_section(&mut w)?;
    let mut r = Roff::new();
    paragraphs(
        &mut r,
        "backup-drill proves that the newest dump of a set restores. It takes the newest dump \
         that check_backup's verification judges whole and complete (from the cache when it \
         is fresh; a cut or unfinished dump is refused, and so is one whose run the job's \
         log says failed, with -l or the set's log), checks that its estimated space fits \
         --max-disk and the work directory's free space, starts a throwaway server on a \
         temporary directory below --work-dir (mariadb-install-db and mariadbd with \
         --skip-networking; initdb and postgres with listen_addresses empty: a unix socket \
         only, never a TCP port), as the unprivileged --user, streams the decoded dump into \
         the writer's own client (mariadb for mysqldump/mariadb-dump text, psql for pg_dump \
         plain and pg_dumpall, pg_restore -f - into psql for pg_dump -Fc, -Fd and -Ft, \
         myloader for mydumper directories), stopping at the first client error, and \
         compares: every table and view the dump creates exists, and every table has the \
         rows the dump inserts. A mariabackup/xtrabackup directory is copied into the work \
         directory (the original is only read), prepared there with mariabackup --prepare \
         and served by the throwaway mariadbd; every table it holds must be readable \
         (COUNT(*)). A --per-database set (automysqlbackup, pg_back: one dump per \
         database) is drilled one database after another, each database's newest dump in \
         a throwaway server of its own (a child backup-drill --database NAME, stopped and \
         cleaned up like any drill), each result kept per database.\n\n\
         It then stops the server, removes the temporary directory (also on SIGTERM, at \
         the time limit, and when the directory grows beyond --max-disk or the file \
         system's free space falls below its reserve) and writes the result (JSON, atomically) into the cache directory, \
         where check_backup --drill-max-age reads it. Run it from cron or a systemd timer, \
         never from the monitoring system: a restore takes minutes.",
    );
    r.to_writer(&mut w)?;
    man.render_options_section(&mut w)?;
    let mut r = Roff::new();
    r.control("SH", ["EXIT STATUS"]);
    for (code, text) in [
        ("0", "the dump restored, and every table has its rows."),
        (
            "2",
            "the drill failed: the client stopped with an error (quoted, with its line \
             number), or a table is missing or has other rows.",
        ),
        (
            "3",
            "it could not drill: bad arguments, no verified dump (or the job's log says its \
             run failed), a server binary missing, not enough temporary space, the time \
             limit, a signal; also after --help and --version.",
        ),
    ] {
        r.control("TP", []);
        r.text([bold(code)]);
        r.text([roman(text)]);
    }
    r.control("SH", ["EXAMPLES"]);
    example(
        &mut r,
        "Nightly, as root, the server run by nobody, results where the plugin reads them:",
        &["backup-drill -f /var/backups/mysql/ --user nobody --cache-dir /var/cache/check_backup -t 4h"],
    );
    example(
        &mut r,
        "A set of the configuration file (its dump and its log), at most 20 GiB of \
         temporary space:",
        &["backup-drill --set shop --user nobody --max-disk 20G"],
    );
    example(
        &mut r,
        "automysqlbackup's daily/DB/ directories, every database's newest dump:",
        &["backup-drill -f /var/lib/automysqlbackup --per-database '^(?:daily|weekly|monthly)/([^/]+)/' --user nobody"],
    );
    example(
        &mut r,
        "The plugin then reports the last drill (per database with --per-database):",
        &["check_backup -f /var/backups/mysql/ --drill-max-age 8d"],
    );
    r.control("SH", ["FILES"]);
    for (path, text) in [
        (
            "/usr/share/doc/check-backup/examples/backup-drill.cron",
            "a cron example.",
        ),
        (
            "/usr/share/doc/check-backup/examples/backup-drill.service, backup-drill.timer",
            "a systemd service and timer.",
        ),
    ] {
        r.control("TP", []);
        r.text([bold(path)]);
        r.text([roman(text)]);
    }
    r.to_writer(&mut w)?;
    man.render_version_section(&mut w)?;
    let mut r = Roff::new();
    r.control("SH", ["SEE ALSO"]);
    r.text([roman("check_backup(1), mariadb(1), psql(1), pg_restore(1)")]);
    r.to_writer(&mut w)?;
    w.flush()?;
    Ok(w)
}

/// The clap-generated sections (name, synopsis, description, options, version) plus the
/// sections an operator looks for in a plugin's man page.
fn man_page() -> std::io::Result<Vec<u8>> {
    let cmd = Args::command();
    let after_help = cmd
        .get_after_help()
        .map(|s| s.to_string())
        .unwrap_or_default();
    let man = clap_mangen::Man::new(cmd)
        .section("1")
        .source(format!("check_backup {}", env!("CARGO_PKG_VERSION")))
        .manual("Monitoring Plugins");
    let mut w: Vec<u8> = Vec::new();
    man.render_title(&mut w)?;
    man.render_name_section(&mut w)?;
    man.render_synopsis_section(&mut w)?;
    man.render_description_section(&mut w)?;
    extra_description().to_writer(&mut w)?;
    man.render_options_section(&mut w)?;
    exit_status(&after_help).to_writer(&mut w)?;
    examples().to_writer(&mut w)?;
    files().to_writer(&mut w)?;
    man.render_version_section(&mut w)?;
    see_also().to_writer(&mut w)?;
    w.flush()?;
    Ok(w)
}

fn paragraphs(roff: &mut Roff, text: &str) {
    for para in text.split("\n\n") {
        roff.control("PP", []);
        roff.text([roman(para.split_whitespace().collect::<Vec<_>>().join(" "))]);
    }
}

fn extra_description() -> Roff {
    let mut r = Roff::new();
    paragraphs(
        &mut r,
        "check_backup finds the most recent dump (a file, the newest regular file of a \
         directory, or a quoted glob), checks its age and size against thresholds, streams \
         the whole file through its decompressor (gzip with all members, zstd, xz, bzip2; \
         detected by magic bytes) and requires the completion marker of the tool that wrote \
         it (mysqldump / mariadb-dump, pg_dump, pg_dumpall, or a regex of your own).\n\n\
         With --log it also reads the backup job's log: the last run's exit status, its ERROR \
         and WARN lines (by level, not by substring), whether the job ran recently, and \
         whether the run fits the dump.\n\n\
         The first line of the output is BACKUP <STATE> - summary | perfdata; the following \
         lines are the long output, one finding per line. Perfdata: age (s), size (B), \
         uncompressed_size (B), and with a log log_errors, log_warnings, log_age (s) and \
         duration (s); with --drill-max-age restore_seconds (s) and restore_rows.",
    );
    r
}

fn exit_status(after_help: &str) -> Roff {
    let mut r = Roff::new();
    r.control("SH", ["EXIT STATUS"]);
    for (code, text) in [
        ("0", "OK: every finding is OK."),
        (
            "1",
            "WARNING: old-ish, small-ish, log warnings, content that cannot be verified \
             (unknown format, a pg_dump custom archive of a newer format version or one \
             compressed as a whole; the pg_dump custom format itself is verified block by \
             block), a dump dated in the future.",
        ),
        (
            "2",
            "CRITICAL: missing, too old, too small, empty, cut or corrupt stream, no \
             completion marker, the job failed.",
        ),
        (
            "3",
            "UNKNOWN: the check could not do its job (bad arguments, unreadable files, I/O \
             errors, timeout, internal error); also after --help and --version.",
        ),
    ] {
        r.control("TP", []);
        r.text([bold(code)]);
        r.text([roman(text)]);
    }
    // The rest of clap's after-help (the exit codes are above, in more detail).
    let rest: Vec<&str> = after_help
        .split("\n\n")
        .filter(|p| !p.trim_start().starts_with("Exit codes:"))
        .collect();
    if !rest.is_empty() {
        r.control("SH", ["THRESHOLDS"]);
        paragraphs(&mut r, &rest.join("\n\n"));
    }
    r
}

fn example(r: &mut Roff, title: &str, lines: &[&str]) {
    r.control("PP", []);
    r.text([roman(title)]);
    r.control("PP", []);
    r.control("RS", ["4"]);
    r.control("nf", []);
    for line in lines {
        r.text([roman(*line)]);
    }
    r.control("fi", []);
    r.control("RE", []);
}

fn examples() -> Roff {
    let mut r = Roff::new();
    r.control("SH", ["EXAMPLES"]);
    example(
        &mut r,
        "The newest mysqldump of a directory, with the backup job's log:",
        &["check_backup -f /var/backups/mysql/ -l /var/log/backup/mysql.log -C 1K"],
    );
    example(
        &mut r,
        "The newest pg_dump matching a glob (quote it), at most 26 h / 50 h old:",
        &["check_backup -f '/var/backups/postgresql/shop-*.sql.gz' --marker pg_dump -w 26h -c 50h"],
    );
    example(
        &mut r,
        "A pg_dumpall of the whole cluster, at least 10 MiB:",
        &["check_backup -f /var/backups/postgresql/cluster/ --marker pg_dumpall -W 10M -C 1M"],
    );
    example(
        &mut r,
        "Only the log of a job that accumulates runs:",
        &[
            "check_backup -l /var/log/backup.log --log-run-start '=== backup started' \\",
            "    --log-success 'backup complete'",
        ],
    );
    example(
        &mut r,
        "NRPE (/etc/nagios/nrpe.d/check_backup.cfg), arguments written into the config:",
        &["command[check_backup_mysql]=/usr/lib/nagios/plugins/check_backup -f /var/backups/mysql/ -l /var/log/backup/mysql.log -C 1K"],
    );
    r
}

fn files() -> Roff {
    let mut r = Roff::new();
    r.control("SH", ["FILES"]);
    for (path, text) in [
        (
            "/usr/lib/nagios/plugins/check_backup",
            "the plugin (Debian; /usr/lib64/nagios/plugins on RPM systems).",
        ),
        (
            "/etc/nagios/nrpe.d/check_backup.cfg",
            "NRPE example commands (a conffile; /etc/nrpe.d on RPM systems).",
        ),
        (
            "/usr/share/doc/check-backup/examples/",
            "the Icinga 2 CheckCommand \"backup\", Service apply rules and the agent \
             (command_endpoint) setup; backups.toml, a commented configuration file (every \
             kind of set).",
        ),
        (
            "/etc/check_backup/backups.toml",
            "the backup sets of --set NAME (the default of --config).",
        ),
    ] {
        r.control("TP", []);
        r.text([bold(path)]);
        r.text([roman(text)]);
    }
    paragraphs(
        &mut r,
        "NRPE and Icinga 2 run the plugin as user nagios: the dumps, their directories and \
         the log must be readable by that user (an unreadable file is UNKNOWN, naming the \
         path and the user).",
    );
    r
}

fn see_also() -> Roff {
    let mut r = Roff::new();
    r.control("SH", ["SEE ALSO"]);
    r.text([roman(
        "backup-report(1), backup-drill(1), icinga2(8), nrpe (nagios-nrpe-server), mysqldump(1), mariadb-dump(1), pg_dump(1), \
         pg_dumpall(1)",
    )]);
    r
}
