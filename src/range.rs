//! Threshold ranges in the Monitoring Plugins syntax: `[@]start:end`.
//!
//! The `nagiosplugin` crate has no range thresholds, and the `nagios-range` crate prints
//! open ranges as `10:~`, accepts NaN and has been unmaintained since 2022, so this small
//! module implements the guideline exactly (see the property tests below).
//!
//! Rules: both ends inclusive; `~` is minus infinity; a missing end is plus infinity;
//! a missing start is 0; `10` means `0:10`; `@` inverts (alert inside the range).

use std::fmt;
use thiserror::Error;

/// A threshold range; a value *alerts* when it lies outside (or, with `@`, inside) it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Range {
    /// Lower end, inclusive; `f64::NEG_INFINITY` for `~`.
    pub start: f64,
    /// Upper end, inclusive; `f64::INFINITY` when open.
    pub end: f64,
    /// `@` prefix: alert when the value is inside the range.
    pub inside: bool,
}

/// A range that does not follow the syntax.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum RangeError {
    /// Empty string.
    #[error("empty threshold")]
    Empty,
    /// One end is not a number (or not a duration/size, for typed ranges).
    #[error("invalid threshold '{input}': {reason}")]
    Value {
        /// The whole range text.
        input: String,
        /// The parser's complaint about the value.
        reason: String,
    },
    /// `start > end`.
    #[error("invalid threshold '{0}': start is greater than end")]
    StartAfterEnd(String),
}

impl Range {
    /// Alert when the value is above `end` (a plain upper bound, `0:end`).
    pub fn upper(end: f64) -> Range {
        Range {
            start: 0.0,
            end,
            inside: false,
        }
    }

    /// Alert when the value is below `start` (`start:`).
    pub fn lower(start: f64) -> Range {
        Range {
            start,
            end: f64::INFINITY,
            inside: false,
        }
    }

    /// Parses plain numbers: `10`, `10:`, `~:10`, `10:20`, `@10:20`.
    ///
    /// ```
    /// use check_backup::range::Range;
    ///
    /// let r = Range::parse("10").unwrap(); // 0:10, alert outside
    /// assert!(!r.alerts(10.0) && r.alerts(10.5) && r.alerts(-1.0));
    /// let r = Range::parse("10:").unwrap(); // alert below 10
    /// assert!(r.alerts(9.0) && !r.alerts(1e12));
    /// let r = Range::parse("@10:20").unwrap(); // alert inside
    /// assert!(r.alerts(15.0) && !r.alerts(21.0));
    /// assert_eq!(Range::parse("~:10").unwrap().to_string(), "~:10");
    /// assert!(Range::parse("20:10").is_err() && Range::parse("NaN").is_err());
    /// ```
    pub fn parse(input: &str) -> Result<Range, RangeError> {
        Range::parse_with(input, |s| {
            s.parse::<f64>()
                .map_err(|_| format!("'{s}' is not a number"))
        })
    }

    /// Parses a range whose ends are read by `value` (a duration or size parser, say).
    pub fn parse_with<F, E>(input: &str, value: F) -> Result<Range, RangeError>
    where
        F: Fn(&str) -> Result<f64, E>,
        E: fmt::Display,
    {
        let text = input.trim();
        if text.is_empty() {
            return Err(RangeError::Empty);
        }
        let (inside, body) = match text.strip_prefix('@') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let bad = |reason: String| RangeError::Value {
            input: input.to_string(),
            reason,
        };
        let parse_end = |s: &str| -> Result<f64, RangeError> {
            let v = value(s).map_err(|e| bad(e.to_string()))?;
            if !v.is_finite() {
                return Err(bad("not a finite number".into()));
            }
            Ok(v)
        };
        let (start, end) = match body.split_once(':') {
            None => (0.0, parse_end(body)?),
            Some((s, e)) => {
                let start = match s {
                    "~" => f64::NEG_INFINITY,
                    "" => 0.0,
                    _ => parse_end(s)?,
                };
                let end = if e.is_empty() {
                    f64::INFINITY
                } else {
                    parse_end(e)?
                };
                (start, end)
            }
        };
        if start > end {
            return Err(RangeError::StartAfterEnd(input.to_string()));
        }
        Ok(Range { start, end, inside })
    }

    /// True when `x` should raise this threshold's state.
    pub fn alerts(&self, x: f64) -> bool {
        if x.is_nan() {
            // An unmeasurable value is never "within" a threshold.
            return true;
        }
        let within = self.start <= x && x <= self.end;
        within == self.inside
    }

    /// The number for the perfdata warn/crit slot: Icinga 2 and most graphers read a plain
    /// number only, meaning `0:N`, so anything else leaves the slot empty.
    pub fn perfdata_slot(&self) -> Option<f64> {
        let simple_start = self.start == 0.0 || self.start == f64::NEG_INFINITY;
        (simple_start && !self.inside && self.end.is_finite()).then_some(self.end)
    }
}

impl fmt::Display for Range {
    /// Canonical range text, e.g. `10`, `10:`, `~:10`, `@10:20`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.inside {
            f.write_str("@")?;
        }
        let end = if self.end.is_finite() {
            self.end.to_string()
        } else {
            String::new()
        };
        if self.start == 0.0 && self.end.is_finite() {
            write!(f, "{end}")
        } else if self.start == f64::NEG_INFINITY {
            write!(f, "~:{end}")
        } else {
            write!(f, "{}:{end}", self.start)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn guideline_examples() {
        // (range, value, alerts?) straight from the Monitoring Plugins guidelines table.
        let table: &[(&str, f64, bool)] = &[
            ("10", -1.0, true),
            ("10", 0.0, false),
            ("10", 10.0, false),
            ("10", 10.5, true),
            ("10:", 9.9, true),
            ("10:", 10.0, false),
            ("10:", 1e12, false),
            ("~:10", -1e12, false),
            ("~:10", 10.0, false),
            ("~:10", 11.0, true),
            ("10:20", 9.0, true),
            ("10:20", 10.0, false),
            ("10:20", 20.0, false),
            ("10:20", 21.0, true),
            ("@10:20", 9.0, false),
            ("@10:20", 10.0, true),
            ("@10:20", 20.0, true),
            ("@10:20", 21.0, false),
            (":5", -1.0, true),
            ("1.5:2.5", 2.0, false),
        ];
        for (text, x, want) in table {
            let r = Range::parse(text).unwrap();
            assert_eq!(r.alerts(*x), *want, "range {text} value {x}");
        }
    }

    #[test]
    fn rejects() {
        for text in [
            "", "abc", "20:10", "@", "10:x", "NaN", "nan:5", "1:2:3", "inf", "5:inf",
        ] {
            assert!(Range::parse(text).is_err(), "{text} should be rejected");
        }
    }

    #[test]
    fn display_is_canonical() {
        for (text, shown) in [
            ("10", "10"),
            ("10:", "10:"),
            ("~:10", "~:10"),
            ("10:20", "10:20"),
            ("@10:20", "@10:20"),
            ("0:10", "10"),
        ] {
            assert_eq!(Range::parse(text).unwrap().to_string(), shown);
        }
    }

    #[test]
    fn typed_ranges() {
        let r = Range::parse_with("1h:26h", crate::units::parse_duration).unwrap();
        assert_eq!((r.start, r.end), (3600.0, 93_600.0));
        assert!(Range::parse_with("1x", crate::units::parse_duration).is_err());
    }

    #[test]
    fn perfdata_slot_only_for_simple_bounds() {
        assert_eq!(Range::parse("10").unwrap().perfdata_slot(), Some(10.0));
        assert_eq!(Range::parse("~:10").unwrap().perfdata_slot(), Some(10.0));
        assert_eq!(Range::parse("10:").unwrap().perfdata_slot(), None);
        assert_eq!(Range::parse("5:10").unwrap().perfdata_slot(), None);
        assert_eq!(Range::parse("@0:10").unwrap().perfdata_slot(), None);
    }

    fn finite() -> impl Strategy<Value = f64> {
        -1e9f64..1e9f64
    }

    proptest! {
        #[test]
        fn roundtrip_through_display(a in finite(), b in finite(), inside: bool) {
            let (start, end) = if a <= b { (a, b) } else { (b, a) };
            let r = Range { start, end, inside };
            let back = Range::parse(&r.to_string()).unwrap();
            prop_assert_eq!(back, r);
        }

        #[test]
        fn inside_inverts(a in finite(), b in finite(), x in finite()) {
            let (start, end) = if a <= b { (a, b) } else { (b, a) };
            let out = Range { start, end, inside: false };
            let inn = Range { start, end, inside: true };
            prop_assert_ne!(out.alerts(x), inn.alerts(x));
        }

        #[test]
        fn ends_are_inclusive(a in finite(), b in finite()) {
            let (start, end) = if a <= b { (a, b) } else { (b, a) };
            let r = Range { start, end, inside: false };
            prop_assert!(!r.alerts(start) && !r.alerts(end));
        }

        #[test]
        fn parse_never_panics(s in "\\PC{0,12}") {
            let _ = Range::parse(&s);
        }

        #[test]
        fn nan_always_alerts(a in finite(), inside: bool) {
            let r = Range { start: a, end: f64::INFINITY, inside };
            prop_assert!(r.alerts(f64::NAN));
        }
    }
}
