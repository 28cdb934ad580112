//! Shared helpers for the integration tests: run the built binary, read its answer, and
//! make dumps with the real compressors.
#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

/// What the plugin answered.
pub struct Answer {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Answer {
    pub fn first_line(&self) -> &str {
        self.stdout.lines().next().unwrap_or("")
    }

    /// The state word of the first line: `BACKUP <STATE> - ...`.
    pub fn state(&self) -> &str {
        self.first_line()
            .strip_prefix("BACKUP ")
            .and_then(|rest| rest.split(' ').next())
            .unwrap_or("")
    }

    /// The summary (between the state and the perfdata).
    pub fn summary(&self) -> &str {
        let line = self.first_line();
        let text = line.split_once(" - ").map(|x| x.1).unwrap_or("");
        text.split(" | ").next().unwrap_or("")
    }

    /// A perfdata value by label, from the first line.
    pub fn perf(&self, label: &str) -> Option<f64> {
        self.perf_item(label)?
            .split(';')
            .next()?
            .trim_end_matches(|c: char| c.is_ascii_alphabetic() || c == '%')
            .parse()
            .ok()
    }

    /// A whole perfdata item by label (`age=123s;93600;180000;0`).
    pub fn perf_item(&self, label: &str) -> Option<&str> {
        let perf = self.first_line().split_once(" | ")?.1;
        perf.split(' ')
            .find(|item| item.split('=').next() == Some(label))
            .map(|item| item.split_once('=').unwrap().1)
    }

    /// Asserts the exit code and the state word agree with `state`.
    pub fn expect(&self, state: &str) -> &Self {
        let code = match state {
            "OK" => 0,
            "WARNING" => 1,
            "CRITICAL" => 2,
            "UNKNOWN" => 3,
            _ => panic!("no such state {state}"),
        };
        assert_eq!(
            (self.code, self.state()),
            (code, state),
            "unexpected answer:\n{}\nstderr: {}",
            self.stdout,
            self.stderr
        );
        self
    }

    /// Asserts the first line contains `text`.
    pub fn says(&self, text: &str) -> &Self {
        assert!(
            self.first_line().contains(text),
            "first line lacks {text:?}:\n{}",
            self.stdout
        );
        self
    }
}

pub fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_check_backup"))
}

/// Runs the plugin with a fresh, private cache directory (tests that exercise the cache
/// pass `--cache-dir` themselves, which wins over the environment).
pub fn run(args: &[&str]) -> Answer {
    run_env(args, &[])
}

/// [`run`] with extra environment variables (e.g. the debug-build read delay,
/// `CHECK_BACKUP_TEST_READ_DELAY_MS`, that makes timeouts independent of machine speed).
pub fn run_env(args: &[&str], env: &[(&str, &str)]) -> Answer {
    let cache = tempfile::tempdir().unwrap();
    let out = Command::new(binary())
        .args(args)
        .env("CHECK_BACKUP_CACHE_DIR", cache.path())
        .envs(env.iter().copied())
        .output()
        .expect("run check_backup");
    Answer {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

pub fn check(path: &Path, extra: &[&str]) -> Answer {
    let mut args = vec!["-f", path.to_str().unwrap()];
    args.extend_from_slice(extra);
    run(&args)
}

/// A mysqldump-like text (MariaDB header with the sandbox line, INSERTs, trailer).
pub fn mysqldump(rows: usize, complete: bool) -> Vec<u8> {
    let mut s = String::from(
        "/*M!999999\\- enable the sandbox mode */ \n-- MariaDB dump 10.19  Distrib 10.11.14-MariaDB, for debian-linux-gnu (x86_64)\n--\n-- Host: localhost    Database: shop\n\nCREATE TABLE `log` (\n  `id` int NOT NULL\n);\n",
    );
    for i in 0..rows {
        s.push_str(&format!(
            "INSERT INTO `log` VALUES ({i},'entry {i} {}');\n",
            (i as u64).wrapping_mul(2_654_435_761) % 1_000_003
        ));
    }
    if complete {
        s.push_str(
            "/*!40101 SET SQL_MODE=@OLD_SQL_MODE */;\n\n-- Dump completed on 2026-11-25  3:04:05\n",
        );
    }
    s.into_bytes()
}

/// A pg_dump-like plain text, with the `\unrestrict` line that PostgreSQL 17.6+ writes.
pub fn pg_dump(rows: usize, complete: bool) -> Vec<u8> {
    let mut s = String::from(
        "--\n-- PostgreSQL database dump\n--\n\n\\restrict k3y\n\n-- Dumped from database version 15.18\n\nCOPY public.log (id, msg) FROM stdin;\n",
    );
    for i in 0..rows {
        s.push_str(&format!("{i}\tentry {i}\n"));
    }
    if complete {
        s.push_str("\\.\n\n\n--\n-- PostgreSQL database dump complete\n--\n\n\\unrestrict k3y\n\n");
    }
    s.into_bytes()
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

pub fn zstd(data: &[u8]) -> Vec<u8> {
    let mut e = zstd::stream::write::Encoder::new(Vec::new(), 3).unwrap();
    e.include_checksum(true).unwrap();
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

pub fn xz(data: &[u8]) -> Vec<u8> {
    let mut e = liblzma::write::XzEncoder::new(Vec::new(), 6);
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

pub fn bzip2(data: &[u8]) -> Vec<u8> {
    let mut e = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// Every supported compression, with a conventional file suffix.
/// A compressor function.
pub type Compressor = fn(&[u8]) -> Vec<u8>;

pub fn compressors() -> Vec<(&'static str, Compressor)> {
    vec![
        ("gz", gzip as Compressor),
        ("zst", zstd),
        ("xz", xz),
        ("bz2", bzip2),
    ]
}

/// Writes `bytes` to `dir/name` with an mtime `age_secs` in the past.
pub fn write_aged(dir: &Path, name: &str, bytes: &[u8], age_secs: i64) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    set_age(&path, age_secs);
    path
}

pub fn set_age(path: &Path, age_secs: i64) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    filetime::set_file_mtime(path, filetime::FileTime::from_unix_time(now - age_secs, 0)).unwrap();
}
