//! README's examples are executable, so that they cannot drift from the program (issue 13).
//!
//! Every ```` ```console ```` block of README.md is run: each `$ COMMAND` line as a shell
//! command, its expected output the lines below it, up to the next `$` line. An HTML comment
//! right before the block (invisible on GitHub) sets the scene:
//!
//! ```text
//! <!-- example
//! now: 2026-11-26 04:48:28
//! cp tests/fixtures/real/mariadb/shop.sql.gz /var/backups/mysql/
//! -->
//! ```
//!
//! `now:` is the moment the commands run at (under `faketime`, the clock standing still), the other lines
//! are shell commands run first. Each block runs in a sandbox: a copy of
//! `tests/fixtures/real/` at `tests/fixtures/real/`, and every absolute path under `/var/`,
//! `/etc/check_backup/` or `/mnt/` mapped into the sandbox (in commands, and back in the
//! output). Matching: `...` inside a line stands for any text, a line of its own `...` for
//! any number of lines; everything else must be exactly as printed, every line accounted for.
//!
//! The man page's examples and README's NRPE commands run too, over a sandbox where their
//! paths hold good backups: each must answer OK.

use crate::util::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Whether faketime is there; under CI its absence is a failure, not a skip.
fn have_faketime() -> bool {
    have_tool("faketime", "faketime")
}

/// One example block of README.md.
#[derive(Debug)]
struct Block {
    /// README line of the opening fence (for messages).
    line: usize,
    now: Option<String>,
    setup: Vec<String>,
    /// Each command with its expected output lines.
    commands: Vec<(String, Vec<String>)>,
}

fn console_blocks(md: &str) -> Vec<Block> {
    let lines: Vec<&str> = md.lines().collect();
    let mut blocks = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        if lines[i].trim_end() != "```console" {
            i += 1;
            continue;
        }
        let fence = i;
        // The scene: an `<!-- example ... -->` comment ending on the line before the fence.
        let (mut now, mut setup) = (None, Vec::new());
        if fence > 0 && lines[fence - 1].trim() == "-->" {
            let mut start = fence - 1;
            while start > 0 && !lines[start].starts_with("<!-- example") {
                start -= 1;
            }
            assert!(
                lines[start].starts_with("<!-- example"),
                "README.md:{}: a comment before a console block that is not an example scene",
                fence + 1
            );
            for l in &lines[start + 1..fence - 1] {
                if let Some(at) = l.strip_prefix("now:") {
                    now = Some(at.trim().to_string());
                } else if !l.trim().is_empty() {
                    setup.push(l.to_string());
                }
            }
        }
        let mut commands: Vec<(String, Vec<String>)> = Vec::new();
        i += 1;
        while i < lines.len() && lines[i].trim_end() != "```" {
            if let Some(cmd) = lines[i].strip_prefix("$ ") {
                commands.push((cmd.to_string(), Vec::new()));
            } else {
                let (_, out) = commands.last_mut().unwrap_or_else(|| {
                    panic!(
                        "README.md:{}: output before any `$ command` in a console block",
                        i + 1
                    )
                });
                out.push(lines[i].to_string());
            }
            i += 1;
        }
        // A blank line separates one command's output from the next command.
        for (_, out) in &mut commands {
            while out.last().is_some_and(|l| l.is_empty()) {
                out.pop();
            }
        }
        blocks.push(Block {
            line: fence + 1,
            now,
            setup,
            commands,
        });
    }
    blocks
}

/// `pattern` (with `...` standing for any text) against one output line.
fn line_matches(pattern: &str, line: &str) -> bool {
    let parts: Vec<&str> = pattern.split("...").collect();
    if parts.len() == 1 {
        return pattern == line;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !line.starts_with(first) || line.len() < first.len() + last.len() {
        return false;
    }
    let mut rest = &line[first.len()..line.len() - last.len()];
    if !line.ends_with(last) {
        return false;
    }
    for middle in &parts[1..parts.len() - 1] {
        match rest.find(middle) {
            Some(at) => rest = &rest[at + middle.len()..],
            None => return false,
        }
    }
    true
}

/// The expected lines against the output: None when they match, else why not.
fn output_mismatch(expected: &[String], actual: &[&str]) -> Option<String> {
    let mut j = 0;
    let mut i = 0;
    while i < expected.len() {
        if expected[i] == "..." {
            // Skip output lines up to the first that matches the next expected line.
            if i + 1 == expected.len() {
                return None; // a trailing `...` accepts the rest
            }
            let next = &expected[i + 1];
            match (j..actual.len()).find(|&k| line_matches(next, actual[k])) {
                Some(k) => j = k,
                None => return Some(format!("no output line matches {next:?}")),
            }
            i += 1;
            continue;
        }
        match actual.get(j) {
            Some(line) if line_matches(&expected[i], line) => {}
            Some(line) => {
                return Some(format!(
                    "output line {} differs:\n  expected: {}\n  actual:   {line}",
                    j + 1,
                    expected[i]
                ))
            }
            None => return Some(format!("output ends before {:?}", expected[i])),
        }
        i += 1;
        j += 1;
    }
    (j < actual.len()).then(|| {
        format!(
            "{} more output line(s) than documented, from: {}",
            actual.len() - j,
            actual[j]
        )
    })
}

/// A sandbox for one block: the real fixtures, `/var` etc. mapped into it.
struct Sandbox {
    _dir: tempfile::TempDir,
    root: PathBuf,
}

impl Sandbox {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        std::fs::create_dir_all(root.join("tests/fixtures")).unwrap();
        let status = Command::new("cp")
            .arg("-R")
            .arg(repo().join("tests/fixtures/real"))
            .arg(root.join("tests/fixtures/real"))
            .status()
            .unwrap();
        assert!(status.success());
        for d in ["var", "etc/check_backup", "mnt", "home", ".cache"] {
            std::fs::create_dir_all(root.join(d)).unwrap();
        }
        Sandbox { _dir: dir, root }
    }

    /// Absolute paths of the documentation into the sandbox.
    fn map_in(&self, text: &str) -> String {
        let r = self.root.display().to_string();
        let mut out = String::with_capacity(text.len());
        let mut prev: Option<char> = None;
        let mut rest = text;
        while let Some(c) = rest.chars().next() {
            let boundary = prev.is_none_or(|p| !(p.is_alphanumeric() || p == '_' || p == '.'));
            // `/var`, `/var/...`, `'/var/...'`, but not `/variable` nor `x/var`.
            let prefix = ["/var", "/etc/check_backup", "/mnt"].into_iter().find(|p| {
                rest.starts_with(p)
                    && rest[p.len()..]
                        .chars()
                        .next()
                        .is_none_or(|n| !(n.is_alphanumeric() || n == '_' || n == '-' || n == '.'))
            });
            if boundary && prefix.is_some() {
                out.push_str(&r);
            }
            out.push(c);
            prev = Some(c);
            rest = &rest[c.len_utf8()..];
        }
        out
    }

    fn root_str(&self) -> String {
        self.root.display().to_string()
    }

    fn map_out(&self, text: &str) -> String {
        text.replace(&format!("{}/", self.root.display()), "/")
    }

    /// Runs a shell command in the sandbox (under faketime at `now` when given).
    fn sh(&self, now: Option<&str>, script: &str) -> (i32, String, String) {
        let bin = Path::new(env!("CARGO_BIN_EXE_check_backup"))
            .parent()
            .unwrap()
            .to_path_buf();
        let path = format!(
            "{}:{}",
            bin.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let mut cmd = match now {
            Some(at) => {
                // `-f` with an absolute date: the clock stands still at `at`, so that ages
                // in the output do not depend on how long the command took.
                let mut c = Command::new("faketime");
                c.arg("-f").arg(at).arg("sh");
                c
            }
            None => Command::new("sh"),
        };
        let out = cmd
            .arg("-c")
            .arg(self.map_in(script))
            .current_dir(&self.root)
            .env("PATH", path)
            .env("TZ", "UTC")
            .env("LC_ALL", "C.UTF-8")
            .env("HOME", self.root.join("home"))
            .env("XDG_CACHE_HOME", self.root.join(".cache"))
            .env("GNUPGHOME", self.root.join("home/.gnupg"))
            .env("FAKETIME_DONT_FAKE_MONOTONIC", "1")
            .stdin(Stdio::null())
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            self.map_out(&String::from_utf8_lossy(&out.stdout)),
            self.map_out(&String::from_utf8_lossy(&out.stderr)),
        )
    }
}

/// The exit code a plugin answer's first line implies.
fn implied_code(first_line: &str) -> Option<i32> {
    let state = first_line.strip_prefix("BACKUP ")?.split(' ').next()?;
    ["OK", "WARNING", "CRITICAL", "UNKNOWN"]
        .iter()
        .position(|s| *s == state)
        .map(|n| n as i32)
}

#[test]
fn readme_console_examples_print_what_readme_shows() {
    if !have_faketime() {
        return;
    }
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let blocks = console_blocks(&readme);
    assert!(
        blocks.len() >= 8,
        "README.md has only {} console blocks: were they turned into plain text?",
        blocks.len()
    );
    let mut failures = Vec::new();
    let mut ran = 0;
    for block in &blocks {
        let sandbox = Sandbox::new();
        if !block.setup.is_empty() {
            let script = format!("set -e\n{}", block.setup.join("\n"));
            let (code, out, err) = sandbox.sh(None, &script);
            assert_eq!(
                code, 0,
                "README.md:{}: the example's setup failed:\n{out}{err}",
                block.line
            );
        }
        for (command, expected) in &block.commands {
            let (code, out, err) = sandbox.sh(block.now.as_deref(), command);
            ran += 1;
            let actual: Vec<&str> = out.lines().collect();
            if let Some(why) = output_mismatch(expected, &actual) {
                failures.push(format!(
                    "README.md:{}: `$ {command}`: {why}\n--- full output (exit {code}):\n{out}{err}",
                    block.line
                ));
                continue;
            }
            if let Some(want) = actual.first().and_then(|l| implied_code(l)) {
                if want != code {
                    failures.push(format!(
                        "README.md:{}: `$ {command}` exits {code}, its first line says {want}",
                        block.line
                    ));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    assert!(ran >= 8, "only {ran} README commands ran");
}

/// A sandbox where the paths of the man page's examples and README's NRPE commands hold
/// good backups, written at 17:31 and checked at 20:00 (the pg_backupcluster fixture
/// was made on 2026-12-01 at 17:24 and keeps its times).
fn good_backups() -> Sandbox {
    let s = Sandbox::new();
    let setup = r#"set -e
R=tests/fixtures/real
mkdir -p /var/backups/mysql /var/log/backup /var/backups/postgresql/cluster /var/backups/postgresql/15-main
cp $R/mariadb/shop-wrapper.sql.gz /var/backups/mysql/shop.sql.gz
cp $R/logs/mariadb-clean.log /var/log/backup/mysql.log
cp $R/postgres/shop.sql.gz /var/backups/postgresql/shop-2026-12-01.sql.gz
# A cluster of 10 MiB and more (the man page's example requires it): the real pg_dumpall
# with incompressible comment lines before its trailer.
zcat $R/postgres/cluster.sql.gz >/tmp/cluster.$$
{ head -n -4 /tmp/cluster.$$; head -c 11000000 /dev/urandom | base64 -w 76 | sed 's/^/-- /'; tail -n 4 /tmp/cluster.$$; } \
    | gzip -1 >/var/backups/postgresql/cluster/cluster-2026-12-01.sql.gz
rm -f /tmp/cluster.$$
printf '=== backup started 2026-12-01 17:30:00\ndumping shop\nbackup complete 2026-12-01 17:31:00\n' >/var/log/backup.log
cp -R $R/pg_backupcluster/healthy/. /var/backups/postgresql/15-main/
find /var -exec touch -h -d '2026-12-01 17:31:00' {} +
# pg_backupcluster's files keep the times of their runs: status says when each run ended.
grep '^healthy/' $R/pg_backupcluster/MTIMES.tsv | while IFS='	' read -r p t; do touch -d "$t" "/var/backups/postgresql/15-main/${p#healthy/}"; done
"#;
    let (code, out, err) = s.sh(None, setup);
    assert_eq!(code, 0, "setup: {out}{err}");
    s
}

/// The man page's example commands (examples/gen-docs.rs writes them), joined where they
/// continue with a backslash.
fn man_page_examples() -> Vec<String> {
    let source = std::fs::read_to_string(repo().join("examples/gen-docs.rs")).unwrap();
    let body = source
        .split("fn examples() -> Roff {")
        .nth(1)
        .expect("examples() in gen-docs.rs")
        .split("\n}\n")
        .next()
        .unwrap();
    let mut commands = Vec::new();
    let mut pending = String::new();
    for literal in body.split('"').skip(1).step_by(2) {
        let text = literal.replace("\\\\", "\\");
        let text = text.trim();
        if pending.is_empty() && !text.starts_with("check_backup ") {
            continue;
        }
        match text.strip_suffix('\\') {
            Some(head) => pending.push_str(head),
            None => {
                pending.push_str(text);
                commands.push(std::mem::take(&mut pending));
            }
        }
    }
    commands
}

#[test]
fn man_page_examples_answer_ok_on_good_backups() {
    if !have_faketime() {
        return;
    }
    let examples = man_page_examples();
    assert!(examples.len() >= 4, "{examples:?}");
    let sandbox = good_backups();
    for command in examples {
        let (code, out, err) = sandbox.sh(Some("2026-12-01 20:00:00"), &command);
        assert!(
            code == 0 && out.starts_with("BACKUP OK - "),
            "man page example `{command}` (exit {code}):\n{out}{err}"
        );
    }
}

#[test]
fn readme_nrpe_commands_answer_ok_on_good_backups() {
    if !have_faketime() {
        return;
    }
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let commands: Vec<&str> = readme
        .lines()
        .filter_map(|l| l.strip_prefix("command[check_backup_"))
        .filter_map(|l| l.split_once("]=/usr/lib/nagios/plugins/"))
        .map(|(_, cmd)| cmd)
        .collect();
    assert!(commands.len() >= 4, "{commands:?}");
    let sandbox = good_backups();
    for command in commands {
        let (code, out, err) = sandbox.sh(Some("2026-12-01 20:00:00"), command);
        assert!(
            code == 0 && out.starts_with("BACKUP OK - "),
            "README NRPE command `{command}` (exit {code}):\n{out}{err}"
        );
    }
}

#[test]
fn the_matcher_is_strict_where_it_should_be() {
    let e = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert!(output_mismatch(&e(&["a ... c"]), &["a b c"]).is_none());
    assert!(output_mismatch(&e(&["a ... c"]), &["a b d"]).is_some());
    assert!(output_mismatch(&e(&["a"]), &["a", "b"]).is_some());
    assert!(output_mismatch(&e(&["a", "..."]), &["a", "b", "c"]).is_none());
    assert!(output_mismatch(&e(&["a", "...", "c"]), &["a", "b", "c"]).is_none());
    assert!(output_mismatch(&e(&["a", "b"]), &["a"]).is_some());
    assert!(output_mismatch(&e(&["x...y...z"]), &["xzy"]).is_some());
    assert!(line_matches("...", "anything"));
    // Paths of the documentation go into the sandbox, whatever follows them.
    let s = Sandbox::new();
    let r = s.root_str();
    assert_eq!(
        s.map_in("find /var -x; ls '/var/backups/x' /mnt /etc/check_backup/b.toml /variable a/var"),
        format!("find {r}/var -x; ls '{r}/var/backups/x' {r}/mnt {r}/etc/check_backup/b.toml /variable a/var")
    );
    assert!(!line_matches("ab...ba", "aba"));
}
