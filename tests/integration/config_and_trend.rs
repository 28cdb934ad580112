//! The configuration file of backup sets (`--config FILE --set NAME`) and the size-trend
//! rule (`--max-shrink`).

use crate::util::*;

#[test]
fn a_set_from_the_config_file_is_checked() {
    let dir = tempfile::tempdir().unwrap();
    let dumps = dir.path().join("shop");
    std::fs::create_dir(&dumps).unwrap();
    write_aged(
        &dumps,
        "shop-1.sql.gz",
        &gzip(&mysqldump(2000, true)),
        30 * HOUR,
    );
    let logf = write_aged(
        dir.path(),
        "shop.log",
        b"INFO - mysqldump exited with 0\nINFO - backup complete\n",
        29 * HOUR,
    );
    let config = dir.path().join("backups.toml");
    std::fs::write(
        &config,
        format!(
            "[defaults]\nwarning-age = \"1d\"\ncritical-age = \"2d\"\n\n[set.shop]\ndump = \"{}\"\nlog = \"{}\"\nlog-success = \"backup complete\"\n\n[set.other]\ndump = \"/nonexistent/x.sql.gz\"\n",
            dumps.display(),
            logf.display()
        ),
    )
    .unwrap();
    let c = config.to_str().unwrap();
    let a = run(&["--config", c, "--set", "shop"]);
    a.expect("WARNING")
        .says("dump is 1d 6h old (warning > 1d 0h)")
        .says("shop-1.sql.gz");
    assert_eq!(a.perf_item("age").unwrap().split(';').nth(1), Some("86400"));
    // The command line overrides the file.
    run(&["--config", c, "--set", "shop", "-w", "2d", "-c", "3d"]).expect("OK");
    run(&["--config", c, "--set", "other"])
        .expect("CRITICAL")
        .says("directory /nonexistent does not exist");
    run(&["--config", c, "--set", "nope"])
        .expect("UNKNOWN")
        .says(&format!("config {c}: no set 'nope' (sets: other, shop)"));
    run(&["--config", c])
        .expect("UNKNOWN")
        .says("--config needs --set NAME");
}

#[test]
fn config_errors_are_unknown_with_file_line_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("backups.toml");
    let c = config.to_str().unwrap();
    std::fs::write(
        &config,
        "[set.shop]\ndump = \"/x\"\ncritical-size = \"lots\"\n",
    )
    .unwrap();
    run(&["--config", c, "--set", "shop"])
        .expect("UNKNOWN")
        .says(&format!(
            "config {c} line 3, key 'critical-size': invalid value 'lots'"
        ));
    std::fs::write(&config, "[set.shop]\ndump = \"/x\"\nmax-shrnk = 10\n").unwrap();
    run(&["--config", c, "--set", "shop"])
        .expect("UNKNOWN")
        .says("line 3, key 'max-shrnk': unknown key");
    std::fs::write(&config, "[set.shop\n").unwrap();
    run(&["--config", c, "--set", "shop"])
        .expect("UNKNOWN")
        .says("line 1");
    run(&[
        "--config",
        dir.path().join("missing.toml").to_str().unwrap(),
        "--set",
        "shop",
    ])
    .expect("UNKNOWN")
    .says("cannot read");
}

#[test]
fn a_dump_that_shrank_is_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    for i in 0..7 {
        write_aged(
            dir.path(),
            &format!("db-{i}.sql"),
            &mysqldump(3000 + i * 10, true),
            (30 - i as i64) * HOUR,
        );
    }
    write_aged(dir.path(), "db-9.sql", &mysqldump(1000, true), HOUR);
    let a = check(dir.path(), &[]);
    a.expect("WARNING")
        .says("dump shrank: ")
        .says("smaller than the median")
        .says("of the 7 previous dumps");
    let change = a.perf("size_change").unwrap();
    assert!((-70.0..=-60.0).contains(&change), "{change}");
    let item = a.perf_item("size_change").unwrap();
    assert!(item.split(';').next().unwrap().ends_with('%'), "{item}");
    check(dir.path(), &["--max-shrink", "80"]).expect("OK");
    let off = check(dir.path(), &["--max-shrink", "0"]);
    off.expect("OK");
    assert_eq!(off.perf("size_change"), None);
    run(&["-f", dir.path().to_str().unwrap(), "--max-shrink", "150"])
        .expect("UNKNOWN")
        .says("invalid percentage");
}

#[test]
fn the_trend_needs_two_earlier_dumps() {
    let dir = tempfile::tempdir().unwrap();
    write_aged(dir.path(), "db-1.sql", &mysqldump(3000, true), 30 * HOUR);
    write_aged(dir.path(), "db-2.sql", &mysqldump(100, true), HOUR);
    let a = check(dir.path(), &[]);
    a.expect("OK");
    assert_eq!(a.perf("size_change"), None);
}
