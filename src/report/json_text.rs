//! Compact JSON text as the report keeps each set's document (a few KiB of text instead of
//! a tree of small maps): written by serde_json, so it holds no whitespace outside strings.
//! Two text operations on it that never parse a number again (a float read back could
//! differ in its last digit): the pretty form of an array of documents, byte for byte what
//! `serde_json::to_string_pretty` writes for the same values, and the replacement of one
//! top-level member's value.

/// Where a scan of JSON text is with respect to strings: inside one (and after a
/// backslash), or outside, where the structural bytes are.
#[derive(Default)]
struct StringScan {
    inside: bool,
    escaped: bool,
}

impl StringScan {
    /// At the opening quote of a string.
    fn open(&mut self) {
        self.inside = true;
    }

    /// Whether byte `b` belongs to a string (its closing quote included).
    fn inside(&mut self, b: u8) -> bool {
        if !self.inside {
            return false;
        }
        if self.escaped {
            self.escaped = false;
        } else if b == b'\\' {
            self.escaped = true;
        } else if b == b'"' {
            self.inside = false;
        }
        true
    }
}

/// Appends the pretty form of `compact` (serde_json's compact text) at nesting `depth`, as
/// serde_json's `PrettyFormatter` writes it: two spaces per level, `": "` after a key,
/// `[]`/`{}` for empty containers.
fn push_pretty(out: &mut String, compact: &str, mut depth: usize) {
    let newline = |out: &mut String, depth: usize| {
        out.push('\n');
        for _ in 0..depth {
            out.push_str("  ");
        }
    };
    let bytes = compact.as_bytes();
    let mut string = StringScan::default();
    // Copies runs of plain text at once; structural bytes are all ASCII, so every cut
    // falls on a char boundary.
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if string.inside(b) {
            i += 1;
            continue;
        }
        match b {
            b'"' => string.open(),
            b'{' | b'[' | b'}' | b']' | b',' | b':' => {
                out.push_str(&compact[start..i]);
                match b {
                    b'{' | b'[' => {
                        let close = if b == b'{' { b'}' } else { b']' };
                        if bytes.get(i + 1) == Some(&close) {
                            out.push(b as char);
                            out.push(close as char);
                            i += 1;
                        } else {
                            out.push(b as char);
                            depth += 1;
                            newline(out, depth);
                        }
                    }
                    b'}' | b']' => {
                        depth = depth.saturating_sub(1);
                        newline(out, depth);
                        out.push(b as char);
                    }
                    b',' => {
                        out.push(',');
                        newline(out, depth);
                    }
                    _ => out.push_str(": "),
                }
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    out.push_str(&compact[start..]);
}

/// The pretty JSON array of compact documents: what `serde_json::to_string_pretty` writes
/// for the slice of their values.
pub fn pretty_array<'a>(docs: impl IntoIterator<Item = &'a str>) -> String {
    let mut out = String::from("[");
    let mut any = false;
    for doc in docs {
        out.push_str(if any { ",\n  " } else { "\n  " });
        push_pretty(&mut out, doc, 1);
        any = true;
    }
    out.push_str(if any { "\n]" } else { "]" });
    out
}

/// The byte range of the value of top-level member `key` in a compact JSON object, if it
/// has one (`key` as serde_json writes it: plain text without escapes).
fn member_value(compact: &str, key: &str) -> Option<std::ops::Range<usize>> {
    let bytes = compact.as_bytes();
    let quoted = format!("\"{key}\":");
    let mut depth = 0usize;
    let mut string = StringScan::default();
    let mut value_start: Option<usize> = None;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if string.inside(b) {
            i += 1;
            continue;
        }
        match b {
            b'"' => {
                // A key of the top-level object starts right after its '{' or ','.
                let at_key = depth == 1 && i > 0 && matches!(bytes[i - 1], b'{' | b',');
                if at_key && value_start.is_none() && compact[i..].starts_with(&quoted) {
                    value_start = Some(i + quoted.len());
                    i += quoted.len();
                    continue;
                }
                string.open();
            }
            b'{' | b'[' => depth += 1,
            b'}' | b']' => {
                if depth == 1 {
                    if let Some(s) = value_start {
                        return Some(s..i);
                    }
                }
                depth = depth.saturating_sub(1);
            }
            b',' if depth == 1 => {
                if let Some(s) = value_start {
                    return Some(s..i);
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// `compact` with the value of its top-level member `key` replaced by `value` (compact JSON
/// text); `None` when the object has no such member.
pub fn replace_member(compact: &str, key: &str, value: &str) -> Option<String> {
    let range = member_value(compact, key)?;
    let mut out = String::with_capacity(compact.len() + value.len());
    out.push_str(&compact[..range.start]);
    out.push_str(value);
    out.push_str(&compact[range.end..]);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::{json, Value};

    fn nasty() -> Vec<Value> {
        vec![
            json!({}),
            json!([]),
            json!({"a": [], "b": {}, "c": [[], [{}]], "d": null}),
            json!({"s": "quote \" backslash \\ colon : comma , braces {[]} \u{1}\n tab\t é ✓",
                   "n": [1, -2.5, 1e300, 0.30000000000000004, 12345678901234567890u64],
                   "t": true, "f": false}),
            json!({"drill": {"x": [1, {"drill": 2}]}, "drillx": 3, "e\"k": "v"}),
            json!("plain"),
            json!(42),
        ]
    }

    #[test]
    fn the_pretty_array_is_serde_jsons() {
        let docs = nasty();
        let compact: Vec<String> = docs.iter().map(|d| d.to_string()).collect();
        let want = serde_json::to_string_pretty(&docs).unwrap();
        assert_eq!(pretty_array(compact.iter().map(String::as_str)), want);
        assert_eq!(
            pretty_array(std::iter::empty()),
            serde_json::to_string_pretty(&Vec::<Value>::new()).unwrap()
        );
        assert_eq!(
            pretty_array([compact[3].as_str()]),
            serde_json::to_string_pretty(&[&docs[3]]).unwrap()
        );
    }

    #[test]
    fn a_top_level_member_is_replaced() {
        let doc = json!({"a": {"drill": 1}, "drill": {"x": [1, 2]}, "s": "\"drill\":", "z": 0});
        let text = replace_member(&doc.to_string(), "drill", "null").unwrap();
        let got: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            got,
            json!({"a": {"drill": 1}, "drill": null, "s": "\"drill\":", "z": 0})
        );
        // The last member, and a key only found nested or inside a string: none.
        let text = replace_member(r#"{"a":1,"drill":[]}"#, "drill", "7").unwrap();
        assert_eq!(text, r#"{"a":1,"drill":7}"#);
        assert_eq!(replace_member(r#"{"a":{"drill":1}}"#, "drill", "7"), None);
        assert_eq!(
            replace_member(r#"{"a":"\",\"drill\":1"}"#, "drill", "7"),
            None
        );
        assert_eq!(replace_member("[1]", "drill", "7"), None);
    }

    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|n| json!(n)),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(|f| json!(f)),
            ".*".prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 40, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::btree_map("[a-z\",:{}\\\\]{0,6}", inner, 0..6)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn any_values_pretty_array_is_serde_jsons(docs in prop::collection::vec(json_value(), 0..4)) {
            let compact: Vec<String> = docs.iter().map(|d| d.to_string()).collect();
            prop_assert_eq!(
                pretty_array(compact.iter().map(String::as_str)),
                serde_json::to_string_pretty(&docs).unwrap()
            );
        }
    }
}
