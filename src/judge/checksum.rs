//! Judging the checksum file beside a dump: does the dump hash to what it records, was it
//! written for this dump, and is one required (`--checksum`).

use std::time::SystemTime;

use super::{seconds_between, Check, Finding, Report, State};
use crate::facts::{ChecksumFacts, ContentFacts};
use crate::text::safe;
use crate::units::human_duration;

/// `--checksum`: what to do with checksum files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// Verify the dump against its checksum file when there is one.
    #[default]
    Auto,
    /// Verify it; a dump without a checksum file is a WARNING.
    Require,
    /// Neither look for checksum files nor hash the dump.
    Off,
}

impl Mode {
    /// Every mode, as the command line names them.
    pub const NAMES: [&'static str; 3] = ["auto", "require", "off"];

    /// The command line's name.
    pub fn name(&self) -> &'static str {
        match self {
            Mode::Auto => "auto",
            Mode::Require => "require",
            Mode::Off => "off",
        }
    }

    /// The mode of that name.
    pub fn from_name(name: &str) -> Option<Mode> {
        [Mode::Auto, Mode::Require, Mode::Off]
            .into_iter()
            .find(|m| m.name() == name)
    }
}

/// What the checksum rule needs besides the facts.
#[derive(Debug, Clone)]
pub struct Context<'a> {
    /// `--checksum`.
    pub mode: Mode,
    /// The dump's file name.
    pub dump_name: &'a str,
    /// The dump's modification time.
    pub dump_mtime: SystemTime,
    /// `--settle`, seconds: a checksum file older than the dump by more is stale.
    pub settle: f64,
    /// Checksum files passed over, and why (quoted when one is required).
    pub ignored: &'a [String],
}

/// The checksum in JSON's `facts`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Summary {
    /// The checksum file.
    pub file: String,
    /// sha256, sha512, sha1 or md5.
    pub algorithm: &'static str,
    /// The digest it records.
    pub expected: String,
    /// The dump's digest.
    pub actual: String,
    /// Whether they are equal.
    pub matches: bool,
}

/// The first hex digits of a digest, enough to compare by eye.
fn short(digest: &str) -> String {
    format!("{}…", safe(&digest[..digest.len().min(8)], 8))
}

/// Judges the dump's checksum: None when there is nothing to say (no checksum file and
/// none required, or `--checksum off`).
pub fn evaluate(facts: Option<&ChecksumFacts>, ctx: &Context) -> Option<Finding> {
    if ctx.mode == Mode::Off {
        return None;
    }
    let Some(facts) = facts else {
        if ctx.mode != Mode::Require {
            return None;
        }
        let name = safe(ctx.dump_name, 120);
        let why = ctx
            .ignored
            .first()
            .map(|n| format!("; {}", safe(n, 300)))
            .unwrap_or_default();
        return Some(Finding::new(
            Check::Checksum,
            State::Warning,
            format!(
                "no checksum file for {name} (--checksum require): looked for {name}.sha256, .sha512, .sha1, .md5 and SHA256SUMS, SHA512SUMS, SHA1SUMS, MD5SUMS beside it{why}"
            ),
        ));
    };
    let file = safe(&facts.file, 120);
    let matches = facts.actual == facts.expected;
    let older = seconds_between(ctx.dump_mtime, facts.mtime);
    if older > ctx.settle {
        let verdict = if matches {
            "it still matches the dump".to_string()
        } else {
            format!(
                "it says {}, the dump hashes to {}",
                short(&facts.expected),
                short(&facts.actual)
            )
        };
        return Some(Finding::new(
            Check::Checksum,
            State::Warning,
            format!(
                "checksum file {file} is stale: written {} before the dump (more than --settle {}), for an earlier dump; {verdict}",
                human_duration(older),
                human_duration(ctx.settle)
            ),
        ));
    }
    if !matches {
        return Some(Finding::new(
            Check::Checksum,
            State::Critical,
            format!(
                "checksum mismatch: {file} says {}, the file hashes to {}: the dump changed after it was checked, or the copy is damaged",
                short(&facts.expected),
                short(&facts.actual)
            ),
        ));
    }
    Some(Finding::new(
        Check::Checksum,
        State::Ok,
        format!("{} matches {file}", facts.algorithm),
    ))
}

/// Judges the checksum of content facts, fresh or cached (verified at `verified_at`), into
/// `report`.
pub fn checksum(
    content: &ContentFacts,
    verified_at: Option<SystemTime>,
    ctx: &Context,
    now: SystemTime,
    report: &mut Report,
) {
    if ctx.mode == Mode::Off {
        return;
    }
    if let Some(facts) = &content.checksum {
        report.facts.checksum = Some(Summary {
            file: safe(&facts.file, 120),
            algorithm: facts.algorithm.name(),
            expected: facts.expected.clone(),
            actual: facts.actual.clone(),
            matches: facts.actual == facts.expected,
        });
    }
    if let Some(mut finding) = evaluate(content.checksum.as_ref(), ctx) {
        if let (Some(at), Some(_)) = (verified_at, &content.checksum) {
            finding.message.push_str(&format!(
                " (hashed {} ago, cached)",
                human_duration(seconds_between(now, at))
            ));
        }
        report.push(finding);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::ChecksumAlgorithm;
    use std::time::Duration;

    const A: &str = "9f2c0d1e6b6a4c3f8e1d2a0b5c7e9f1a3b5d7f9e1c3a5b7d9f1e3c5a7b9d1f3e";
    const B: &str = "41aa0d1e6b6a4c3f8e1d2a0b5c7e9f1a3b5d7f9e1c3a5b7d9f1e3c5a7b9d1f3e";

    fn facts(actual: &str, written: SystemTime) -> ChecksumFacts {
        ChecksumFacts {
            file: "shop.sql.gz.sha256".into(),
            algorithm: ChecksumAlgorithm::Sha256,
            expected: A.into(),
            actual: actual.into(),
            mtime: written,
        }
    }

    fn ctx(mode: Mode, dump_mtime: SystemTime, ignored: &[String]) -> Context<'_> {
        Context {
            mode,
            dump_name: "shop.sql.gz",
            dump_mtime,
            settle: 120.0,
            ignored,
        }
    }

    #[test]
    fn rules() {
        let dumped = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let after = dumped + Duration::from_secs(60);
        let within_settle = dumped - Duration::from_secs(100);
        let stale = dumped - Duration::from_secs(3 * 3600);
        let none: &[String] = &[];
        let state = |f: Option<&ChecksumFacts>, mode| {
            evaluate(f, &ctx(mode, dumped, none)).map(|f| (f.state, f.message))
        };
        let (s, m) = state(Some(&facts(A, after)), Mode::Auto).unwrap();
        assert_eq!(
            (s, m.as_str()),
            (State::Ok, "sha256 matches shop.sql.gz.sha256")
        );
        assert_eq!(
            state(Some(&facts(A, within_settle)), Mode::Auto).unwrap().0,
            State::Ok
        );
        let (s, m) = state(Some(&facts(B, after)), Mode::Auto).unwrap();
        assert_eq!(s, State::Critical);
        assert_eq!(
            m,
            "checksum mismatch: shop.sql.gz.sha256 says 9f2c0d1e…, the file hashes to 41aa0d1e…: the dump changed after it was checked, or the copy is damaged"
        );
        let (s, m) = state(Some(&facts(B, stale)), Mode::Require).unwrap();
        assert_eq!(s, State::Warning);
        assert!(
            m.starts_with("checksum file shop.sql.gz.sha256 is stale: written 3h 0m before the dump (more than --settle 2m 0s), for an earlier dump; it says 9f2c0d1e…, the dump hashes to 41aa0d1e…"),
            "{m}"
        );
        let (s, m) = state(Some(&facts(A, stale)), Mode::Auto).unwrap();
        assert_eq!(s, State::Warning);
        assert!(m.ends_with("it still matches the dump"), "{m}");
        assert_eq!(state(None, Mode::Auto), None);
        assert_eq!(state(Some(&facts(B, after)), Mode::Off), None);
        let (s, m) = state(None, Mode::Require).unwrap();
        assert_eq!(s, State::Warning);
        assert!(
            m.starts_with("no checksum file for shop.sql.gz (--checksum require)"),
            "{m}"
        );
        let ignored = vec!["shop.sql.gz.md5 names x.sql, not shop.sql.gz: ignored".to_string()];
        let f = evaluate(None, &ctx(Mode::Require, dumped, &ignored)).unwrap();
        assert!(
            f.message
                .ends_with("; shop.sql.gz.md5 names x.sql, not shop.sql.gz: ignored"),
            "{}",
            f.message
        );
    }

    #[test]
    fn modes_by_name() {
        for name in Mode::NAMES {
            assert_eq!(Mode::from_name(name).map(|m| m.name()), Some(name));
        }
        assert_eq!(Mode::from_name("yes"), None);
    }
}
