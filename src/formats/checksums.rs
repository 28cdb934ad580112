//! Checksum files as backup jobs write them: `sha256sum`/`md5sum` output (`HEX  name`,
//! `HEX *name` in binary mode, `\`-escaped names), the BSD style of `sha256sum --tag`, BSD
//! `sha256` and OpenSSL (`SHA256 (name) = HEX`, `SHA2-256(name)= HEX`), with LF or CRLF
//! line ends; and a bare digest on its own, as `sha256sum < dump | cut -c1-64 > dump.sha256`
//! leaves it. Pure: the caller reads the file (bounded) and hands in its bytes.

use crate::facts::ChecksumAlgorithm;

/// One parsed line of a checksum file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SumLine {
    /// The algorithm the line names itself (BSD style), if it does.
    pub algorithm: Option<ChecksumAlgorithm>,
    /// The digest, lowercase hex.
    pub digest: String,
    /// The file the line is for, as written (None for a bare digest).
    pub name: Option<String>,
}

fn is_digest(s: &str) -> bool {
    s.len() >= 32 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

fn bsd_algorithm(tag: &str) -> Option<ChecksumAlgorithm> {
    match tag.to_ascii_uppercase().replace('-', "").as_str() {
        "SHA256" | "SHA2256" => Some(ChecksumAlgorithm::Sha256),
        "SHA512" | "SHA2512" => Some(ChecksumAlgorithm::Sha512),
        "SHA1" => Some(ChecksumAlgorithm::Sha1),
        "MD5" => Some(ChecksumAlgorithm::Md5),
        _ => None,
    }
}

/// Undoes GNU coreutils' escaping of names holding `\`, a newline or a carriage return.
fn unescape(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut chars = name.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    out
}

/// Parses one line (without its line end); None for anything that is not a checksum line.
pub fn parse_line(line: &str) -> Option<SumLine> {
    let line = line.strip_suffix('\r').unwrap_or(line);
    let (escaped, line) = match line.strip_prefix('\\') {
        Some(rest) => (true, rest),
        None => (false, line),
    };
    let name = |n: &str| if escaped { unescape(n) } else { n.to_string() };
    let trimmed = line.trim();
    if trimmed.is_empty() || trimmed.starts_with('#') {
        return None;
    }
    if is_digest(trimmed) {
        return Some(SumLine {
            algorithm: None,
            digest: trimmed.to_ascii_lowercase(),
            name: None,
        });
    }
    // BSD / OpenSSL: `TAG (name) = HEX` or `TAG(name)= HEX`.
    if let Some((left, hex)) = line.rsplit_once('=') {
        let (left, hex) = (left.trim_end(), hex.trim());
        if let (Some(open), true) = (left.find('('), left.ends_with(')')) {
            if let Some(algorithm) = bsd_algorithm(left[..open].trim()) {
                if is_digest(hex) && open < left.len() - 1 {
                    return Some(SumLine {
                        algorithm: Some(algorithm),
                        digest: hex.to_ascii_lowercase(),
                        name: Some(name(&left[open + 1..left.len() - 1])),
                    });
                }
                return None;
            }
        }
    }
    // GNU: `HEX  name` (text mode) or `HEX *name` (binary mode); one space from other tools.
    let end = line.find([' ', '\t'])?;
    let digest = &line[..end];
    if !is_digest(digest) {
        return None;
    }
    let rest = &line[end + 1..];
    let rest = rest
        .strip_prefix(' ')
        .or_else(|| rest.strip_prefix('*'))
        .unwrap_or(rest);
    if rest.is_empty() {
        return None;
    }
    Some(SumLine {
        algorithm: None,
        digest: digest.to_ascii_lowercase(),
        name: Some(name(rest)),
    })
}

/// True when a line's `name` (as written: relative, `./name` or an absolute path from the
/// host the dump was made on) is the dump called `dump_name`.
pub fn names_dump(name: &str, dump_name: &str) -> bool {
    name.rsplit('/').next() == Some(dump_name)
}

/// What a checksum file says about one dump.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// The digest recorded for the dump (the last line for it, should there be several).
    Found {
        /// The algorithm (the line's own BSD tag, else the file's).
        algorithm: ChecksumAlgorithm,
        /// Lowercase hex.
        digest: String,
    },
    /// The file has checksum lines, none of them for the dump.
    OtherFiles {
        /// The first few names it lists.
        names: Vec<String>,
    },
    /// No usable checksum line, and why.
    Unusable(String),
}

/// Finds the line for `dump_name` in a checksum file whose name implies `algorithm`.
/// `own` says the file is the dump's own (`<dump>.sha256`): a bare digest is then the
/// dump's. A digest of the wrong length for its algorithm is not used.
pub fn find_entry(text: &[u8], algorithm: ChecksumAlgorithm, dump_name: &str, own: bool) -> Entry {
    let text = String::from_utf8_lossy(text);
    let mut found = None;
    let mut others = Vec::new();
    let mut wrong_length = None;
    for line in text.split('\n') {
        let Some(parsed) = parse_line(line) else {
            continue;
        };
        let algorithm = parsed.algorithm.unwrap_or(algorithm);
        let ours = match &parsed.name {
            None => own,
            Some(name) => names_dump(name, dump_name),
        };
        if !ours {
            if let Some(name) = parsed.name {
                if others.len() < 3 {
                    others.push(name);
                }
            }
            continue;
        }
        if parsed.digest.len() != algorithm.hex_len() {
            wrong_length = Some(format!(
                "a digest of {} hex digits is not {algorithm} ({} digits)",
                parsed.digest.len(),
                algorithm.hex_len()
            ));
            continue;
        }
        found = Some(Entry::Found {
            algorithm,
            digest: parsed.digest,
        });
    }
    match (found, wrong_length) {
        (Some(entry), _) => entry,
        (None, Some(why)) => Entry::Unusable(why),
        (None, None) if !others.is_empty() => Entry::OtherFiles { names: others },
        (None, None) => Entry::Unusable("no checksum line in it".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ChecksumAlgorithm::*;

    const SHA: &str = "9f2c0d1e6b6a4c3f8e1d2a0b5c7e9f1a3b5d7f9e1c3a5b7d9f1e3c5a7b9d1f3e";
    const MD5: &str = "d41d8cd98f00b204e9800998ecf8427e";

    fn line(text: &str) -> SumLine {
        parse_line(text).unwrap_or_else(|| panic!("no line in {text:?}"))
    }

    #[test]
    fn gnu_text_binary_and_crlf() {
        for text in [
            format!("{SHA}  shop.sql.gz"),
            format!("{SHA} *shop.sql.gz"),
            format!("{SHA}  shop.sql.gz\r"),
            format!("{SHA} *shop.sql.gz\r"),
            format!("{SHA} shop.sql.gz"),
            format!("{}  shop.sql.gz", SHA.to_ascii_uppercase()),
        ] {
            let l = line(&text);
            assert_eq!(
                (l.algorithm, l.digest.as_str(), l.name.as_deref()),
                (None, SHA, Some("shop.sql.gz")),
                "{text:?}"
            );
        }
    }

    #[test]
    fn names_with_spaces_and_escapes() {
        assert_eq!(
            line(&format!("{SHA}  my dump.sql")).name.as_deref(),
            Some("my dump.sql")
        );
        assert_eq!(
            line(&format!("\\{SHA}  a\\\\b\\nc.sql")).name.as_deref(),
            Some("a\\b\nc.sql")
        );
    }

    #[test]
    fn bsd_and_openssl_styles() {
        for (text, algorithm) in [
            (format!("SHA256 (shop.sql.gz) = {SHA}"), Sha256),
            (format!("SHA256 (shop.sql.gz) = {SHA}\r"), Sha256),
            (format!("SHA2-256(shop.sql.gz)= {SHA}"), Sha256),
            (format!("MD5 (shop.sql.gz) = {MD5}"), Md5),
            (format!("md5(shop.sql.gz)= {MD5}"), Md5),
        ] {
            let l = line(&text);
            assert_eq!(l.algorithm, Some(algorithm), "{text:?}");
            assert_eq!(l.name.as_deref(), Some("shop.sql.gz"), "{text:?}");
        }
        // A name with parentheses and an equals sign.
        let l = line(&format!("SHA256 (a (1)=b.sql) = {SHA}"));
        assert_eq!(l.name.as_deref(), Some("a (1)=b.sql"));
        // An algorithm this plugin does not hash.
        assert_eq!(parse_line(&format!("BLAKE2b (x) = {SHA}")), None);
    }

    #[test]
    fn bare_digest_and_noise() {
        let l = line(&format!("{SHA}\r"));
        assert_eq!((l.digest.as_str(), l.name), (SHA, None));
        for text in [
            "",
            "   ",
            "# comment",
            "not a checksum",
            "abc  short.sql",
            "zz9f2c0d1e6b6a4c3f8e1d2a0b5c7e9f1a3b5d  x",
            &format!("{SHA} *"),
        ] {
            assert_eq!(parse_line(text), None, "{text:?}");
        }
    }

    #[test]
    fn entry_for_the_dump() {
        let other = "0".repeat(64);
        let sums = format!(
            "{other}  db-2026-11-30.sql.gz\r\n{SHA} *./shop.sql.gz\r\n{other}  /var/backups/x.sql\r\n"
        );
        assert_eq!(
            find_entry(sums.as_bytes(), Sha256, "shop.sql.gz", false),
            Entry::Found {
                algorithm: Sha256,
                digest: SHA.into()
            }
        );
        // An absolute path from the host that wrote it: the name counts.
        let sums = format!("{SHA}  /var/backups/mysql/shop.sql.gz\n");
        assert!(matches!(
            find_entry(sums.as_bytes(), Sha256, "shop.sql.gz", false),
            Entry::Found { .. }
        ));
        // The last line for the dump wins (appended sums files).
        let sums = format!("{other}  shop.sql.gz\n{SHA}  shop.sql.gz\n");
        assert_eq!(
            find_entry(sums.as_bytes(), Sha256, "shop.sql.gz", false),
            Entry::Found {
                algorithm: Sha256,
                digest: SHA.into()
            }
        );
        // A BSD line's own tag wins over the file's name.
        let sums = format!("MD5 (shop.sql.gz) = {MD5}\n");
        assert_eq!(
            find_entry(sums.as_bytes(), Sha256, "shop.sql.gz", false),
            Entry::Found {
                algorithm: Md5,
                digest: MD5.into()
            }
        );
    }

    #[test]
    fn entry_for_other_files_bare_digests_and_wrong_lengths() {
        let sums = format!("{SHA}  shop-2026-11-30.sql.gz\n");
        assert_eq!(
            find_entry(sums.as_bytes(), Sha256, "shop.sql.gz", true),
            Entry::OtherFiles {
                names: vec!["shop-2026-11-30.sql.gz".into()]
            }
        );
        // "shop.sql.gz" is not "old-shop.sql.gz".
        let sums = format!("{SHA}  old-shop.sql.gz\n");
        assert!(matches!(
            find_entry(sums.as_bytes(), Sha256, "shop.sql.gz", false),
            Entry::OtherFiles { .. }
        ));
        // A bare digest is the dump's only in the dump's own sidecar.
        let bare = format!("{SHA}\n");
        assert!(matches!(
            find_entry(bare.as_bytes(), Sha256, "shop.sql.gz", true),
            Entry::Found { .. }
        ));
        assert_eq!(
            find_entry(bare.as_bytes(), Sha256, "shop.sql.gz", false),
            Entry::Unusable("no checksum line in it".into())
        );
        // An MD5 digest in a .sha256 file.
        let wrong = format!("{MD5}  shop.sql.gz\n");
        assert_eq!(
            find_entry(wrong.as_bytes(), Sha256, "shop.sql.gz", true),
            Entry::Unusable("a digest of 32 hex digits is not sha256 (64 digits)".into())
        );
        assert_eq!(
            find_entry(b"\x00\xff garbage\n", Sha256, "shop.sql.gz", true),
            Entry::Unusable("no checksum line in it".into())
        );
    }
}
