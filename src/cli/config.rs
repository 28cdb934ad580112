//! The configuration file: many backup sets on one host, so NRPE and Icinga command lines
//! stay short (`check_backup --set shop`) and the backup report can check them all.
//!
//! ```toml
//! [defaults]
//! warning-age = "26h"
//! critical-age = "50h"
//!
//! [set.shop]
//! dump = "/var/backups/mysql/shop/"
//! log = "/var/log/backup/shop.log"
//! log-success = "backup complete"
//! warning-size = "1G"
//! ```
//!
//! Keys are the command line's long option names (`warning-age` or `warning_age`); values
//! are strings, numbers, booleans for flags, arrays for repeatable options. A set's keys
//! override `[defaults]`, and options given on the command line override both. Every error
//! names the file, the line and the key.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use clap::{ArgAction, CommandFactory};
use thiserror::Error;
use toml::{Spanned, Value};

use super::Args;

/// Where `--set` looks when no `--config` is given.
pub const DEFAULT_PATH: &str = "/etc/check_backup/backups.toml";

/// A configuration problem, located.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[error("config {file}{}{}: {message}", line.map(|l| format!(" line {l}")).unwrap_or_default(), key.as_ref().map(|k| format!(", key '{k}'")).unwrap_or_default())]
pub struct ConfigError {
    /// The file.
    pub file: String,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// The key at fault, when there is one.
    pub key: Option<String>,
    /// What is wrong and how to fix it.
    pub message: String,
}

type Table = BTreeMap<Spanned<String>, Spanned<Value>>;

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    defaults: Table,
    #[serde(default)]
    set: BTreeMap<Spanned<String>, Spanned<Table>>,
}

/// One `key = value` of the file.
#[derive(Debug, Clone)]
struct Entry {
    key: String,
    value: Value,
    line: usize,
}

/// A parsed configuration file.
#[derive(Debug, Clone)]
pub struct ConfigFile {
    path: PathBuf,
    defaults: Vec<Entry>,
    sets: BTreeMap<String, (usize, Vec<Entry>)>,
}

/// Options that make no sense in a file.
const NOT_IN_FILE: [&str; 5] = ["help", "version", "config", "set", "background"];

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

impl ConfigFile {
    /// Reads and validates a configuration file: syntax, keys, and every value (each one is
    /// put through the command-line parser, so a bad duration is reported with its line).
    pub fn load(path: &Path) -> Result<ConfigFile, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            let hint = if e.kind() == std::io::ErrorKind::PermissionDenied {
                format!(
                    " (running as {}: grant read access)",
                    crate::sys::current_user()
                )
            } else {
                String::new()
            };
            ConfigError {
                file: path.display().to_string(),
                line: None,
                key: None,
                message: format!("cannot read: {e}{hint}"),
            }
        })?;
        Self::parse(path, &text)
    }

    /// [`ConfigFile::load`] of `text`, the contents of the file `path` (named in errors).
    pub fn parse(path: &Path, text: &str) -> Result<ConfigFile, ConfigError> {
        let file = path.display().to_string();
        let error = |line: Option<usize>, key: Option<String>, message: String| ConfigError {
            file: file.clone(),
            line,
            key,
            message,
        };
        let raw: RawFile = toml::from_str(text).map_err(|e| {
            let line = e.span().map(|s| line_of(text, s.start));
            error(line, None, e.message().to_string())
        })?;
        let entries = |table: Table| -> Vec<Entry> {
            table
                .into_iter()
                .map(|(k, v)| Entry {
                    key: k.get_ref().replace('_', "-"),
                    line: line_of(text, k.span().start),
                    value: v.into_inner(),
                })
                .collect()
        };
        let config = ConfigFile {
            path: path.to_path_buf(),
            defaults: entries(raw.defaults),
            sets: raw
                .set
                .into_iter()
                .map(|(name, table)| {
                    let line = line_of(text, name.span().start);
                    (name.into_inner(), (line, entries(table.into_inner())))
                })
                .collect(),
        };
        for entry in config
            .defaults
            .iter()
            .chain(config.sets.values().flat_map(|s| &s.1))
        {
            config.validate(entry)?;
        }
        Ok(config)
    }

    fn error(&self, entry: Option<&Entry>, message: String) -> ConfigError {
        ConfigError {
            file: self.path.display().to_string(),
            line: entry.map(|e| e.line),
            key: entry.map(|e| e.key.clone()),
            message,
        }
    }

    /// The names of the sets, sorted.
    pub fn set_names(&self) -> Vec<String> {
        self.sets.keys().cloned().collect()
    }

    /// The command-line arguments an entry stands for.
    fn entry_args(&self, entry: &Entry) -> Result<Vec<OsString>, ConfigError> {
        let command = Args::command();
        let arg = command
            .get_arguments()
            .find(|a| a.get_long() == Some(entry.key.as_str()))
            .filter(|_| !NOT_IN_FILE.contains(&entry.key.as_str()))
            .ok_or_else(|| {
                self.error(
                    Some(entry),
                    "unknown key (keys are the long option names of check_backup --help, e.g. dump, log, warning-age)".into(),
                )
            })?;
        let flag = format!("--{}", entry.key);
        let scalar = |v: &Value| -> Result<String, ConfigError> {
            match v {
                Value::String(s) => Ok(s.clone()),
                Value::Integer(i) => Ok(i.to_string()),
                Value::Float(f) => Ok(f.to_string()),
                _ => Err(self.error(Some(entry), "expected a string or a number".into())),
            }
        };
        let mut args: Vec<OsString> = Vec::new();
        match (arg.get_action(), &entry.value) {
            (ArgAction::SetTrue, Value::Boolean(b)) => {
                if *b {
                    args.push(flag.into());
                }
            }
            (ArgAction::SetTrue, _) => {
                return Err(self.error(Some(entry), "expected true or false".into()))
            }
            (ArgAction::Count, Value::Integer(n)) if (0..=5).contains(n) => {
                args.extend((0..*n).map(|_| OsString::from(&flag)));
            }
            (ArgAction::Count, _) => {
                return Err(self.error(Some(entry), "expected a number from 0 to 5".into()))
            }
            (ArgAction::Append, Value::Array(items)) => {
                for item in items {
                    args.push(flag.clone().into());
                    args.push(scalar(item)?.into());
                }
            }
            (_, Value::Array(_)) => {
                return Err(self.error(
                    Some(entry),
                    "this option takes one value, not a list".into(),
                ))
            }
            (_, value) => {
                args.push(flag.into());
                args.push(scalar(value)?.into());
            }
        }
        Ok(args)
    }

    /// Checks one entry by parsing it as the command line would.
    fn validate(&self, entry: &Entry) -> Result<(), ConfigError> {
        let args = self.entry_args(entry)?;
        let mut argv: Vec<OsString> = vec!["check_backup".into()];
        if entry.key != "dump" && entry.key != "log" {
            argv.extend(["--dump".into(), "/".into()]);
        }
        argv.extend(args);
        Args::try_parse_from_check(argv).map_err(|message| self.error(Some(entry), message))
    }

    /// The arguments of set `name` (defaults first, then the set's own), leaving out every
    /// option in `given` (those the command line sets itself).
    pub fn args_for(&self, name: &str, given: &[String]) -> Result<Vec<OsString>, ConfigError> {
        let (_, entries) = self.sets.get(name).ok_or_else(|| {
            let known = self.set_names().join(", ");
            self.error(None, format!("no set '{name}' (sets: {known})"))
        })?;
        let set_keys: Vec<&str> = entries.iter().map(|e| e.key.as_str()).collect();
        let mut args = Vec::new();
        for entry in self
            .defaults
            .iter()
            .filter(|e| !set_keys.contains(&e.key.as_str()))
            .chain(entries)
            .filter(|e| !given.contains(&e.key))
        {
            args.extend(self.entry_args(entry)?);
        }
        Ok(args)
    }
}

/// The long names of the options present in `args` (short options translated), so that a
/// command-line option overrides the file's.
pub fn given_options(args: &[OsString]) -> Vec<String> {
    let command = Args::command();
    let mut given = Vec::new();
    for a in args.iter().skip(1) {
        let a = a.to_string_lossy();
        if let Some(long) = a.strip_prefix("--") {
            given.push(long.split('=').next().unwrap_or("").to_string());
        } else if let Some(shorts) = a.strip_prefix('-').filter(|s| !s.is_empty()) {
            if let Some(c) = shorts.chars().next() {
                if let Some(arg) = command.get_arguments().find(|x| x.get_short() == Some(c)) {
                    if let Some(long) = arg.get_long() {
                        given.push(long.to_string());
                    }
                }
            }
        }
    }
    given
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<ConfigFile, ConfigError> {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("backups.toml");
        std::fs::write(&p, text).unwrap();
        ConfigFile::load(&p)
    }

    const GOOD: &str = r#"
[defaults]
warning-age = "26h"
critical_age = "50h"

[set.shop]
dump = "/var/backups/shop/"
log = "/var/log/shop.log"
log-error = ["rsync error", "upload failed"]
follow-symlinks = true
verbose = 1

[set.pg]
dump = "/var/backups/pg/*.sql.gz"
warning-age = "2d"
"#;

    #[test]
    fn good_file_expands_to_arguments() {
        let c = load(GOOD).unwrap();
        assert_eq!(c.set_names(), ["pg", "shop"]);
        let args: Vec<String> = c
            .args_for("shop", &[])
            .unwrap()
            .into_iter()
            .map(|a| a.into_string().unwrap())
            .collect();
        assert_eq!(
            args,
            [
                "--critical-age",
                "50h",
                "--warning-age",
                "26h",
                "--dump",
                "/var/backups/shop/",
                "--follow-symlinks",
                "--log",
                "/var/log/shop.log",
                "--log-error",
                "rsync error",
                "--log-error",
                "upload failed",
                "--verbose"
            ]
        );
        // The set's own value wins over [defaults]; the command line wins over both.
        let pg: Vec<String> = c
            .args_for("pg", &["critical-age".into()])
            .unwrap()
            .into_iter()
            .map(|a| a.into_string().unwrap())
            .collect();
        assert_eq!(
            pg,
            ["--dump", "/var/backups/pg/*.sql.gz", "--warning-age", "2d"]
        );
    }

    #[test]
    fn errors_name_file_line_and_key() {
        let e = load("[set.a]\ndump = \"/x\"\nwarnig-age = \"1h\"\n").unwrap_err();
        assert_eq!((e.line, e.key.as_deref()), (Some(3), Some("warnig-age")));
        assert!(
            e.to_string()
                .contains("line 3, key 'warnig-age': unknown key"),
            "{e}"
        );
        let e = load("[set.a]\ndump = \"/x\"\n\nwarning-age = \"soon\"\n").unwrap_err();
        assert_eq!(e.line, Some(4));
        assert!(e.message.contains("invalid duration 'soon'"), "{e}");
        let e = load("[set.a]\nfollow-symlinks = \"yes\"\n").unwrap_err();
        assert!(e.message.contains("true or false"), "{e}");
        let e = load("[set.a]\ndump = [\"a\", \"b\"]\n").unwrap_err();
        assert!(e.message.contains("one value"), "{e}");
        let e = load("[set.a\ndump = 1\n").unwrap_err();
        assert_eq!(e.line, Some(1));
        let e = load("[sets.a]\ndump = \"x\"\n").unwrap_err();
        assert!(e.message.contains("unknown field"), "{e}");
        let e = load("[set.a]\nhelp = true\n").unwrap_err();
        assert!(e.message.contains("unknown key"), "{e}");
        let c = load(GOOD).unwrap();
        let e = c.args_for("nope", &[]).unwrap_err();
        assert!(e.message.contains("no set 'nope' (sets: pg, shop)"), "{e}");
    }

    #[test]
    fn command_line_options_are_recognised_long_and_short() {
        let args: Vec<OsString> = [
            "check_backup",
            "-w",
            "1h",
            "--critical-age=2h",
            "--set",
            "x",
            "-v",
        ]
        .iter()
        .map(OsString::from)
        .collect();
        assert_eq!(
            given_options(&args),
            ["warning-age", "critical-age", "set", "verbose"]
        );
    }
}
