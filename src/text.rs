//! Making untrusted text (file names, dump lines, log lines) safe for plugin output.
//!
//! Nagios Core reads everything after a `|` as perfdata and Icinga 2 splits lines on it, and
//! a raw newline would start a new output line; terminal escapes would reach whoever reads
//! the output in a shell. So every piece of foreign text passes through [`safe`].

/// Replaces `|` with `¦`, control characters (C0, DEL, C1, which covers terminal escape
/// sequences) with `\xNN`, and shortens to at most `max_chars` characters with `…`.
pub fn safe(text: &str, max_chars: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max_chars.saturating_mul(4)));
    let mut count = 0;
    for c in text.chars() {
        let piece: std::borrow::Cow<'static, str> = match c {
            '|' => "¦".into(),
            c if c.is_control() => format!("\\x{:02x}", c as u32).into(),
            // Bidirectional overrides can make a line read differently from what it says.
            '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' => {
                format!("\\u{{{:x}}}", c as u32).into()
            }
            c => c.to_string().into(),
        };
        let len = piece.chars().count();
        if count + len > max_chars {
            out.push('…');
            return out;
        }
        out.push_str(&piece);
        count += len;
    }
    out
}

/// [`safe`] for raw bytes from a file: invalid UTF-8 is shown lossily (`�`).
pub fn safe_bytes(bytes: &[u8], max_chars: usize) -> String {
    // Decode at most a bounded prefix: a 1 GB line must not be copied whole.
    let limit = bytes
        .len()
        .min(max_chars.saturating_mul(4).saturating_add(4));
    let shown = safe(&String::from_utf8_lossy(&bytes[..limit]), max_chars);
    if limit < bytes.len() && !shown.ends_with('…') {
        shown + "…"
    } else {
        shown
    }
}

/// A path as shown in output: lossy, escaped, shortened from the middle so that both the
/// directory and the file name stay readable.
pub fn safe_path(path: &std::path::Path, max_chars: usize) -> String {
    let shown = safe(&path.to_string_lossy(), usize::MAX);
    let n = shown.chars().count();
    if n <= max_chars || max_chars < 5 {
        return safe(&shown, max_chars);
    }
    let keep_tail = max_chars * 2 / 3;
    let keep_head = max_chars - keep_tail - 1;
    let head: String = shown.chars().take(keep_head).collect();
    let tail: String = shown.chars().skip(n - keep_tail).collect();
    format!("{head}…{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_pipe_newline_and_escapes() {
        assert_eq!(safe("a|b", 100), "a¦b");
        assert_eq!(safe("line1\nline2\r", 100), "line1\\x0aline2\\x0d");
        assert_eq!(safe("\u{1b}[31mred", 100), "\\x1b[31mred");
        assert_eq!(safe("x\u{202e}y", 100), "x\\u{202e}y");
        assert_eq!(safe("plain text", 100), "plain text");
    }

    #[test]
    fn shortens() {
        assert_eq!(safe("abcdefghij", 5), "abcde…");
        assert_eq!(safe("abc", 3), "abc");
        assert_eq!(safe_bytes(b"abc\xffdef", 100), "abc\u{fffd}def");
        let long = vec![b'x'; 10_000_000];
        let shown = safe_bytes(&long, 50);
        assert_eq!(shown.chars().count(), 51);
        assert!(shown.ends_with('…'));
    }

    #[test]
    fn paths_keep_both_ends() {
        let p = std::path::Path::new("/very/long/directory/name/that/goes/on/db-2026-11-25.sql.gz");
        let shown = safe_path(p, 30);
        assert!(shown.ends_with("2026-11-25.sql.gz"), "{shown}");
        assert!(shown.starts_with("/very"), "{shown}");
        assert!(shown.chars().count() <= 30);
        assert_eq!(safe_path(std::path::Path::new("/a|b"), 30), "/a¦b");
    }
}
