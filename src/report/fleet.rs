//! `--from DIR`: results other hosts produced with `check_backup --output json` (or a whole
//! `backup-report --format json` array), however they were collected (scp, rsync, a
//! config-management run). Every `*.json` file of DIR is read: the host is the file's
//! `host` field, else the file name without `.json`; the set is the `set` field, else
//! `backup`. A file that cannot be read or parsed becomes an UNKNOWN entry for its host.

use std::io::Read;
use std::path::Path;

use serde_json::Value;

use super::result::{SetResult, Source};

/// A fleet file larger than this is not a check result.
const MAX_FILE: u64 = 16 << 20;

/// The set name of a single `check_backup --output json` document without a `set` field.
pub const DEFAULT_SET: &str = "backup";

/// Reads the results in `dir`. An unreadable directory is an `Err` naming it.
pub fn load_dir(dir: &Path) -> Result<Vec<SetResult>, String> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| format!("--from {}: cannot read the directory: {e}", dir.display()))?;
    let mut files: Vec<_> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.extension().is_some_and(|x| x == "json")
                && !p
                    .file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        })
        .collect();
    files.sort();
    let mut results = Vec::new();
    for path in files {
        results.extend(load_file(&path));
    }
    Ok(results)
}

/// The results of one file.
pub fn load_file(path: &Path) -> Vec<SetResult> {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name = path
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let unknown = |reason: String| {
        vec![SetResult::unknown(
            DEFAULT_SET,
            Some(&stem),
            Source::File,
            &format!("fleet file {}: {reason}", path.display()),
        )]
    };
    let text = match read_limited(path) {
        Ok(t) => t,
        Err(e) => return unknown(e),
    };
    let doc: Value = match serde_json::from_str(&text) {
        Ok(v) => v,
        Err(e) => return unknown(format!("not JSON ({e})")),
    };
    let items = match doc {
        Value::Array(items) => items,
        Value::Object(_) => vec![doc],
        _ => return unknown("neither a result object nor an array of them".into()),
    };
    if items.is_empty() {
        return unknown(format!("{name} holds no results"));
    }
    items
        .into_iter()
        .map(|item| {
            let host = item
                .get("host")
                .and_then(Value::as_str)
                .filter(|h| !h.trim().is_empty())
                .unwrap_or(&stem)
                .to_string();
            let set = item
                .get("set")
                .and_then(Value::as_str)
                .filter(|s| !s.trim().is_empty())
                .unwrap_or(DEFAULT_SET)
                .to_string();
            SetResult::from_doc(&set, Some(&host), Source::File, item)
        })
        .collect()
}

fn read_limited(path: &Path) -> Result<String, String> {
    let file = std::fs::File::open(path).map_err(|e| format!("cannot read: {e}"))?;
    let meta = file.metadata().map_err(|e| format!("cannot stat: {e}"))?;
    if !meta.is_file() {
        return Err("not a regular file".into());
    }
    let mut bytes = Vec::new();
    file.take(MAX_FILE + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read: {e}"))?;
    if bytes.len() as u64 > MAX_FILE {
        return Err(format!("larger than {} MiB", MAX_FILE >> 20));
    }
    String::from_utf8(bytes).map_err(|_| "not UTF-8 text".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::judge::State;

    #[test]
    fn hosts_sets_and_bad_files() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path();
        std::fs::write(
            p.join("db2.json"),
            r#"{"state":"OK","exit_code":0,"summary":"fine"}"#,
        )
        .unwrap();
        std::fs::write(
            p.join("x.json"),
            r#"{"host":"db3","set":"pg","state":"CRITICAL","exit_code":2}"#,
        )
        .unwrap();
        std::fs::write(
            p.join("db4.json"),
            r#"[{"set":"a","state":"OK"},{"set":"b","state":"WARNING"}]"#,
        )
        .unwrap();
        std::fs::write(p.join("db5.json"), "{not json").unwrap();
        std::fs::write(p.join("notes.txt"), "ignored").unwrap();
        std::fs::write(p.join(".hidden.json"), "ignored").unwrap();
        let r = load_dir(p).unwrap();
        let seen: Vec<_> = r
            .iter()
            .map(|r| (r.host.clone().unwrap(), r.set.clone(), r.state()))
            .collect();
        assert_eq!(
            seen,
            [
                ("db2".to_string(), "backup".to_string(), State::Ok),
                ("db4".into(), "a".into(), State::Ok),
                ("db4".into(), "b".into(), State::Warning),
                ("db5".into(), "backup".into(), State::Unknown),
                ("db3".into(), "pg".into(), State::Critical),
            ]
        );
        assert!(r[3].summary().contains("not JSON"), "{}", r[3].summary());
        assert!(load_dir(&p.join("missing")).is_err());
    }
}
