//! Files the packages ship for the operator to copy: the example configuration file.

use crate::api::ConfigFile;
use crate::util::*;
use std::path::Path;

const EXAMPLE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/packaging/examples/backups.toml"
);

#[test]
fn the_example_configuration_loads_and_every_set_is_a_valid_check() {
    let file = ConfigFile::load(Path::new(EXAMPLE)).unwrap_or_else(|e| panic!("{e}"));
    let names = file.set_names();
    assert_eq!(
        names,
        [
            "crm",
            "mysql-all",
            "offsite-upload",
            "pg-main",
            "shop",
            "wiki"
        ],
        "the sets README and the package describe"
    );
    // Every kind of set is shown: a single dump, a glob, per database (automysqlbackup's
    // rotation), only a log with its success line, a schedule, Debian's pg_backupcluster.
    let args = |set: &str| -> Vec<String> {
        file.args_for(set, &[])
            .unwrap_or_else(|e| panic!("{e}"))
            .into_iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect()
    };
    let has = |set: &str, option: &str, value: &str| {
        let a = args(set);
        assert!(
            a.windows(2).any(|w| w[0] == option && w[1] == value),
            "set {set}: {option} {value} in {a:?}"
        );
    };
    has("shop", "--dump", "/var/backups/mysql/shop.sql.gz");
    has("crm", "--dump", "/var/backups/pg/crm-*.sql.zst");
    has(
        "mysql-all",
        "--per-database",
        "^(?:daily|weekly|monthly)/([^/]+)/",
    );
    has("offsite-upload", "--log-success", "upload complete");
    assert!(!args("offsite-upload").contains(&"--dump".to_string()));
    has("wiki", "--schedule", "30 2 * * *");
    has("pg-main", "--dump", "/var/backups/postgresql/15-main");
    has("pg-main", "--warning-age", "8d");
    has("pg-main", "--critical-age", "15d");
    // Each set is accepted by the real plugin: the paths do not exist here, so the answer
    // is a CRITICAL about them, never a usage or configuration error (UNKNOWN).
    for set in &names {
        let a = run(&["--config", EXAMPLE, "--set", set]);
        assert_eq!(a.code, 2, "set {set}: {}{}", a.stdout, a.stderr);
        assert!(
            !a.stdout.contains("invalid arguments") && !a.stdout.contains("config "),
            "set {set}: {}",
            a.stdout
        );
    }
}
