//! The JSON Schema of `check_backup --output json` (docs/check_backup-output.schema.json,
//! shipped in the packages): every JSON document check_backup prints in these tests is
//! validated against it (see [`crate::util::Running::finish`]), and the runs below cover
//! each kind of document.
//!
//! The validator is a small one, of the keywords the schema uses (type, const, enum,
//! properties, required, additionalProperties, items, oneOf, minimum, pattern, $ref into
//! $defs), written here because no JSON Schema crate is available offline; it refuses a
//! keyword it does not know, so the schema cannot grow a rule this test silently skips.

use crate::util::*;
use serde_json::Value;
use std::path::Path;
use std::sync::OnceLock;

const SCHEMA: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/docs/check_backup-output.schema.json"
);

fn schema() -> &'static Value {
    static S: OnceLock<Value> = OnceLock::new();
    S.get_or_init(|| serde_json::from_slice(&std::fs::read(SCHEMA).unwrap()).unwrap())
}

/// Validates a check_backup JSON document; the errors, each with its JSON pointer.
pub fn errors(doc: &Value) -> Vec<String> {
    let mut out = Vec::new();
    validate(schema(), doc, "", &mut out);
    out
}

/// Panics, naming every violation, unless `text` is a valid document.
pub fn assert_valid(text: &str) {
    let doc: Value = serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON: {e}: {text}"));
    let errs = errors(&doc);
    assert!(
        errs.is_empty(),
        "not valid against {SCHEMA}: {errs:#?}\n{text}"
    );
}

fn type_ok(t: &str, v: &Value) -> bool {
    match t {
        "null" => v.is_null(),
        "boolean" => v.is_boolean(),
        "string" => v.is_string(),
        "number" => v.is_number(),
        "integer" => v.is_i64() || v.is_u64(),
        "array" => v.is_array(),
        "object" => v.is_object(),
        other => panic!("schema: unknown type {other}"),
    }
}

fn validate(s: &Value, v: &Value, at: &str, out: &mut Vec<String>) {
    let s = s.as_object().expect("a schema is an object");
    for (k, rule) in s {
        match k.as_str() {
            "$schema" | "$id" | "title" | "description" | "format" | "$defs" => {}
            "$ref" => {
                let name = rule
                    .as_str()
                    .and_then(|r| r.strip_prefix("#/$defs/"))
                    .expect("only #/$defs/ references");
                validate(&schema()["$defs"][name], v, at, out);
            }
            "type" => {
                let ok = match rule {
                    Value::String(t) => type_ok(t, v),
                    Value::Array(ts) => ts.iter().any(|t| type_ok(t.as_str().unwrap(), v)),
                    _ => panic!("schema: bad type"),
                };
                if !ok {
                    out.push(format!("{at}: {v} is not of type {rule}"));
                }
            }
            "const" if v != rule => out.push(format!("{at}: {v} is not {rule}")),
            "enum" if !rule.as_array().unwrap().contains(v) => {
                out.push(format!("{at}: {v} is not one of {rule}"))
            }
            "minimum" => {
                if let (Some(x), Some(min)) = (v.as_f64(), rule.as_f64()) {
                    if x < min {
                        out.push(format!("{at}: {v} < {min}"));
                    }
                }
            }
            "pattern" => {
                if let Some(text) = v.as_str() {
                    if !regex::Regex::new(rule.as_str().unwrap())
                        .unwrap()
                        .is_match(text)
                    {
                        out.push(format!("{at}: {text:?} does not match {rule}"));
                    }
                }
            }
            "required" => {
                if let Some(o) = v.as_object() {
                    for name in rule.as_array().unwrap() {
                        if !o.contains_key(name.as_str().unwrap()) {
                            out.push(format!("{at}: {name} is missing"));
                        }
                    }
                }
            }
            "properties" => {
                if let Some(o) = v.as_object() {
                    for (name, sub) in rule.as_object().unwrap() {
                        if let Some(value) = o.get(name) {
                            validate(sub, value, &format!("{at}/{name}"), out);
                        }
                    }
                }
            }
            "additionalProperties" => {
                assert_eq!(
                    rule,
                    &Value::Bool(false),
                    "schema: only additionalProperties false"
                );
                let known = s.get("properties").and_then(Value::as_object);
                if let Some(o) = v.as_object() {
                    for name in o.keys() {
                        if !known.is_some_and(|p| p.contains_key(name)) {
                            out.push(format!("{at}: unexpected property {name}"));
                        }
                    }
                }
            }
            "items" => {
                if let Some(a) = v.as_array() {
                    for (i, item) in a.iter().enumerate() {
                        validate(rule, item, &format!("{at}/{i}"), out);
                    }
                }
            }
            "oneOf" => {
                let matching = rule
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|sub| {
                        let mut e = Vec::new();
                        validate(sub, v, at, &mut e);
                        e.is_empty()
                    })
                    .count();
                if matching != 1 {
                    out.push(format!("{at}: {v} matches {matching} of oneOf, not 1"));
                }
            }
            "const" | "enum" => {}
            other => panic!("schema: keyword {other} not supported by this validator"),
        }
    }
}

fn json_of(a: &Answer) -> Value {
    assert_valid(&a.stdout);
    serde_json::from_str(&a.stdout).unwrap()
}

#[test]
fn the_schema_rejects_what_it_should() {
    let dir = tempfile::tempdir().unwrap();
    let dump = write_aged(dir.path(), "db.sql.gz", &gzip(&mysqldump(20, true)), HOUR);
    let good = json_of(&check(&dump, &["--output", "json", "--no-cache"]));
    assert!(errors(&good).is_empty());
    let broken = |f: &dyn Fn(&mut Value)| {
        let mut d = good.clone();
        f(&mut d);
        errors(&d)
    };
    assert!(!broken(&|d| d["state"] = "FINE".into()).is_empty());
    assert!(!broken(&|d| d["exit_code"] = 4.into()).is_empty());
    assert!(!broken(&|d| d["findings"][0]["check"] = "vibes".into()).is_empty());
    assert!(!broken(&|d| d["facts"]["size_bytes"] = "big".into()).is_empty());
    assert!(!broken(&|d| d["facts"]["surprise"] = 1.into()).is_empty());
    assert!(!broken(&|d| {
        d.as_object_mut().unwrap().remove("summary");
    })
    .is_empty());
    assert!(!broken(&|d| d["perfdata"][0]["label"] = "Age Seconds".into()).is_empty());
}

#[test]
fn real_runs_are_valid_documents() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // OK, with a log, a checksum file and the trace.
    let data = gzip(&mysqldump(200, true));
    let dump = write_aged(d, "shop.sql.gz", &data, HOUR);
    let sum = std::process::Command::new("sha256sum")
        .arg("shop.sql.gz")
        .current_dir(d)
        .output()
        .unwrap();
    std::fs::write(d.join("shop.sql.gz.sha256"), sum.stdout).unwrap();
    set_age(&d.join("shop.sql.gz.sha256"), HOUR);
    let log = d.join("backup.log");
    std::fs::write(
        &log,
        "2026-11-30 02:00:01 INFO start\n2026-11-30 02:00:09 WARN slow table\n2026-11-30 02:00:10 INFO backup complete\n",
    )
    .unwrap();
    set_age(&log, HOUR);
    let log_arg = log.to_str().unwrap();
    let ok = check(
        &dump,
        &[
            "--output",
            "json",
            "-v",
            "--no-cache",
            "-l",
            log_arg,
            "--log-dump-slack",
            "100d",
        ],
    );
    let v = json_of(&ok);
    assert!(v["facts"]["checksum"].is_object(), "{v}");
    assert!(
        v["facts"]["log"].is_object() && v["trace"].is_array(),
        "{v}"
    );
    assert!(!v["log_lines"].as_array().unwrap().is_empty(), "{v}");
    // CRITICAL: a cut dump.
    let full = gzip(&mysqldump(200, true));
    let cut = write_aged(d, "cut.sql.gz", &full[..full.len() / 2], HOUR);
    let crit = check(&cut, &["--output", "json", "--no-cache"]);
    assert_eq!(json_of(&crit)["state"], "CRITICAL");
    // Per database, one of them missing.
    let per = d.join("per");
    for db in ["shop", "crm"] {
        std::fs::create_dir_all(per.join(db)).unwrap();
        write_aged(
            &per.join(db),
            &format!("{db}.sql.gz"),
            &gzip(&mysqldump(10, true)),
            HOUR,
        );
    }
    let a = check(
        &per,
        &[
            "--output",
            "json",
            "--no-cache",
            "--per-database",
            "^([^/]+)/",
            "--expect-databases",
            "shop,crm,hr",
        ],
    );
    let v = json_of(&a);
    assert_eq!(
        v["facts"]["databases"].as_array().map(Vec::len),
        Some(3),
        "shop, crm and hr (no dump: file null) {v}"
    );
    assert_eq!(v["facts"]["databases"][2]["file"], Value::Null, "{v}");
    // Cached: the content facts come from the cache.
    let cache = d.join("cache");
    let cache_arg = cache.to_str().unwrap();
    check(&dump, &["--output", "json", "--cache-dir", cache_arg]);
    let hit = json_of(&check(
        &dump,
        &["--output", "json", "--cache-dir", cache_arg],
    ));
    assert_eq!(hit["facts"]["content_cached"], true, "{hit}");
    // Nothing found, only a log, usage errors (command line and configuration file).
    json_of(&check(&d.join("nothing-here"), &["--output", "json"]));
    json_of(&run(&["-l", log_arg, "--output", "json"]));
    let usage = json_of(&run(&["--bogus", "--output", "json"]));
    assert_eq!(
        (usage["state"].as_str(), usage["exit_code"].as_i64()),
        (Some("UNKNOWN"), Some(3))
    );
    assert_eq!(usage["findings"][0]["check"], "usage");
    let conf = d.join("bad.toml");
    std::fs::write(&conf, "[set.x]\nbogus = 1\n").unwrap();
    let usage = json_of(&run(&[
        "--config",
        conf.to_str().unwrap(),
        "--set",
        "x",
        "--output",
        "json",
    ]));
    assert_eq!(usage["exit_code"], 3);
    // pg_backupcluster entries, backup directories and the real tools' dumps, when the real
    // fixtures are here.
    let real = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/real");
    if real.is_dir() {
        for entry in walk(&real) {
            json_of(&check(
                &entry,
                &[
                    "--output",
                    "json",
                    "--no-cache",
                    "-w",
                    "100000d",
                    "-c",
                    "100001d",
                ],
            ));
        }
    }
}

/// Up to 8 files or directories below each directory of the fixtures (pg_backupcluster
/// clusters, mariabackup, mydumper, pg_dump archives, the tools' rotations).
fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let sorted = |d: &Path| {
        let mut v: Vec<_> = std::fs::read_dir(d)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .collect();
        v.sort();
        v
    };
    let mut out = Vec::new();
    for top in sorted(dir).into_iter().filter(|p| p.is_dir()) {
        out.extend(
            sorted(&top)
                .into_iter()
                .filter(|p| !p.extension().is_some_and(|e| e == "tsv" || e == "txt"))
                .take(8),
        );
    }
    out
}
