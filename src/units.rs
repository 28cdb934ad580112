//! Parsing and human formatting of the two quantities operators type on the command line:
//! durations (`90m`, `26h`, `1d12h`) and sizes (`1200K`, `2GiB`).

use thiserror::Error;

/// A duration or size that could not be parsed.
#[derive(Debug, Error, PartialEq, Eq)]
#[error("invalid {what} '{input}': {reason}")]
pub struct UnitError {
    /// "duration" or "size".
    pub what: &'static str,
    /// The text as given.
    pub input: String,
    /// Why it was rejected, with the accepted forms.
    pub reason: String,
}

fn unit_error(what: &'static str, input: &str, reason: impl Into<String>) -> UnitError {
    UnitError {
        what,
        input: input.to_string(),
        reason: reason.into(),
    }
}

/// Splits `1d12h30m` into `[(1, "d"), (12, "h"), (30, "m")]`.
fn number_unit_pairs<'a>(
    what: &'static str,
    input: &'a str,
) -> Result<Vec<(f64, &'a str)>, UnitError> {
    let s = input.trim();
    if s.is_empty() {
        return Err(unit_error(what, input, "empty"));
    }
    let mut pairs = Vec::new();
    let mut rest = s;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if num_len == 0 {
            return Err(unit_error(what, input, "expected a number"));
        }
        let number: f64 = rest[..num_len]
            .parse()
            .map_err(|_| unit_error(what, input, "malformed number"))?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        pairs.push((number, rest[..unit_len].trim()));
        rest = &rest[unit_len..];
    }
    Ok(pairs)
}

/// A count with thousands separators, as operators read them: `1204331` → `1,204,331`.
pub fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Parses a duration into seconds: a bare number of seconds, or numbers with units
/// `s`, `m`, `h`, `d`, `w`, combinable (`1d12h`).
///
/// ```
/// use check_backup::units::parse_duration;
///
/// assert_eq!(parse_duration("26h").unwrap(), 93_600.0);
/// assert_eq!(parse_duration("1d12h").unwrap(), 129_600.0);
/// assert_eq!(parse_duration("90").unwrap(), 90.0);
/// assert!(parse_duration("2x").is_err());
/// ```
pub fn parse_duration(input: &str) -> Result<f64, UnitError> {
    const FORMS: &str = "use seconds or a number with s, m, h, d, w (e.g. 90m, 26h, 1d12h)";
    let pairs = number_unit_pairs("duration", input)?;
    let mut total = 0.0;
    for (number, unit) in &pairs {
        let factor = match unit.to_ascii_lowercase().as_str() {
            "" if pairs.len() == 1 => 1.0,
            "s" | "sec" | "secs" => 1.0,
            "m" | "min" | "mins" => 60.0,
            "h" | "hr" | "hrs" => 3600.0,
            "d" | "day" | "days" => 86_400.0,
            "w" | "week" | "weeks" => 604_800.0,
            _ => return Err(unit_error("duration", input, FORMS)),
        };
        total += number * factor;
    }
    if !total.is_finite() {
        return Err(unit_error("duration", input, "too large"));
    }
    Ok(total)
}

/// Parses a size into bytes. Units `B`, `K`/`KB`/`KiB`, `M`..., `G`..., `T`..., all 1024-based,
/// as operators expect from `ls -lh` and `du -h`.
///
/// ```
/// use check_backup::units::{human_size, parse_size};
///
/// assert_eq!(parse_size("1K").unwrap(), 1024.0);
/// assert_eq!(parse_size("2G").unwrap(), 2.0 * 1024.0 * 1024.0 * 1024.0);
/// assert_eq!(human_size(66_661.0), "65 KiB");
/// assert!(parse_size("1d").is_err());
/// ```
pub fn parse_size(input: &str) -> Result<f64, UnitError> {
    const FORMS: &str = "use bytes or a number with B, K, M, G, T (1024-based, e.g. 1200K, 2G)";
    let pairs = number_unit_pairs("size", input)?;
    if pairs.len() != 1 {
        return Err(unit_error("size", input, FORMS));
    }
    let (number, unit) = pairs[0];
    let exponent = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 1,
        "m" | "mb" | "mib" => 2,
        "g" | "gb" | "gib" => 3,
        "t" | "tb" | "tib" => 4,
        "p" | "pb" | "pib" => 5,
        _ => return Err(unit_error("size", input, FORMS)),
    };
    let bytes = (number * 1024f64.powi(exponent)).round();
    if !bytes.is_finite() {
        return Err(unit_error("size", input, "too large"));
    }
    Ok(bytes)
}

/// Formats seconds as operators read them at 3 a.m.: `45s`, `12m 5s`, `3h 12m`, `2d 4h`.
/// Negative values (a dump dated in the future) keep their sign.
pub fn human_duration(seconds: f64) -> String {
    if !seconds.is_finite() {
        return "?".to_string();
    }
    let sign = if seconds < 0.0 { "-" } else { "" };
    let s = seconds.abs().round() as u64;
    let (d, h, m, sec) = (s / 86_400, s % 86_400 / 3600, s % 3600 / 60, s % 60);
    let body = if d > 0 {
        format!("{d}d {h}h")
    } else if h > 0 {
        format!("{h}h {m}m")
    } else if m > 0 {
        format!("{m}m {sec}s")
    } else {
        format!("{sec}s")
    };
    format!("{sign}{body}")
}

/// Formats bytes with a 1024-based unit: `512 B`, `1.2 KiB`, `3.4 GiB`.
pub fn human_size(bytes: f64) -> String {
    if !bytes.is_finite() {
        return "?".to_string();
    }
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut value = bytes.abs();
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    let sign = if bytes < 0.0 { "-" } else { "" };
    if unit == 0 {
        format!("{sign}{value:.0} B")
    } else if value < 10.0 {
        format!("{sign}{value:.1} {}", UNITS[unit])
    } else {
        format!("{sign}{value:.0} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        let table: &[(&str, f64)] = &[
            ("0", 0.0),
            ("3600", 3600.0),
            ("45s", 45.0),
            ("90m", 5400.0),
            ("26h", 93_600.0),
            ("2d", 172_800.0),
            ("1w", 604_800.0),
            ("1d12h", 129_600.0),
            ("1h30m15s", 5415.0),
            ("1.5h", 5400.0),
            ("26H", 93_600.0),
            (" 10m ", 600.0),
        ];
        for (input, want) in table {
            assert_eq!(parse_duration(input), Ok(*want), "{input}");
        }
    }

    #[test]
    fn bad_durations() {
        for input in ["", "h", "10x", "1d12", "-5m", "1..2h", "m10", "10 parsecs"] {
            assert!(parse_duration(input).is_err(), "{input} should be rejected");
        }
    }

    #[test]
    fn sizes() {
        let table: &[(&str, f64)] = &[
            ("0", 0.0),
            ("512", 512.0),
            ("512B", 512.0),
            ("1200K", 1_228_800.0),
            ("1200KB", 1_228_800.0),
            ("1200KiB", 1_228_800.0),
            ("1M", 1_048_576.0),
            ("1.5M", 1_572_864.0),
            ("2G", 2_147_483_648.0),
            ("2gib", 2_147_483_648.0),
            ("1T", 1_099_511_627_776.0),
        ];
        for (input, want) in table {
            assert_eq!(parse_size(input), Ok(*want), "{input}");
        }
    }

    #[test]
    fn bad_sizes() {
        for input in [
            "",
            "K",
            "12X",
            "1G2M",
            "-1K",
            "1e3",
            "9".repeat(400).as_str(),
        ] {
            assert!(parse_size(input).is_err(), "{input} should be rejected");
        }
    }

    #[test]
    fn human_forms() {
        assert_eq!(human_duration(45.0), "45s");
        assert_eq!(human_duration(725.0), "12m 5s");
        assert_eq!(human_duration(11_520.0), "3h 12m");
        assert_eq!(human_duration(187_200.0), "2d 4h");
        assert_eq!(human_duration(-7200.0), "-2h 0m");
        assert_eq!(human_size(512.0), "512 B");
        assert_eq!(human_size(1_228_800.0), "1.2 MiB");
        assert_eq!(human_size(3_650_722_201.0), "3.4 GiB");
        assert_eq!(human_size(50.0 * 1024.0 * 1024.0), "50 MiB");
    }
}
