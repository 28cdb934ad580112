//! `--icinga-api URL`: the last check results of every service whose check command is
//! `backup`, from an Icinga 2 REST API — so one page covers a fleet that Icinga 2 already
//! checks (agents included), without a new collector.
//!
//! `GET /v1/objects/services?filter=service.check_command=="backup"` with the attributes
//! `last_check_result`, `host_name` and `name`, basic auth, TLS verified against `--icinga-ca`
//! (Icinga's own CA, `/var/lib/icinga2/certs/ca.crt`), or the public roots. Each service
//! becomes a result: state from the exit status, summary from the output's first line,
//! findings and log lines from the long output, perfdata (and so age and sizes) from
//! `performance_data`.

use std::io::Read;
use std::path::PathBuf;
use std::time::Duration;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{json, Value};

use super::result::{
    facts_from_perfdata, parse_perfdata_item, split_perfdata, state_of_code, SetResult, Source,
};

/// What is needed to ask Icinga 2.
#[derive(Debug, Clone)]
pub struct Options {
    /// Base URL, e.g. `https://icinga.example.com:5665` (a trailing `/v1` is accepted).
    pub url: String,
    /// ApiUser name.
    pub user: Option<String>,
    /// Its password.
    pub password: Option<String>,
    /// CA certificate(s) to verify the server with (PEM).
    pub ca: Option<PathBuf>,
    /// Skip certificate verification (tests only).
    pub insecure: bool,
    /// The check command to select.
    pub check_command: String,
    /// Time limit for the whole request.
    pub timeout: Duration,
}

/// The response body is bounded (about 1.2 KiB per service was measured: 11.9 MiB for
/// 10,000). It is read one service at a time, so memory does not follow the cap.
const MAX_BODY: u64 = 1 << 30;

/// An error answer's text is only quoted (300 characters), so little of it is read.
const MAX_ERROR_BODY: u64 = 1 << 20;

/// A reader that fails once more than `left` bytes come, and remembers that it did (so the
/// parse error can say the cause: the cap, not broken JSON).
struct Capped<R> {
    inner: R,
    left: u64,
    over: std::rc::Rc<std::cell::Cell<bool>>,
}

impl<R: Read> Read for Capped<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        // One byte more than allowed is asked for, to tell "exactly the cap" from "above".
        let want = buf
            .len()
            .min(usize::try_from(self.left + 1).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..want])?;
        if n as u64 > self.left {
            self.over.set(true);
            return Err(std::io::Error::other("the answer exceeds the cap"));
        }
        self.left -= n as u64;
        Ok(n)
    }
}

/// Standard base64 (RFC 4648) for the basic-auth header.
pub fn base64(input: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The services URL of a base URL.
pub fn services_url(base: &str) -> String {
    let base = base.trim().trim_end_matches('/');
    let base = base.strip_suffix("/v1").unwrap_or(base);
    format!("{base}/v1/objects/services")
}

/// The Icinga 2 filter that selects the services of `command`.
pub fn filter(command: &str) -> String {
    let escaped = command.replace('\\', "\\\\").replace('"', "\\\"");
    format!("service.check_command==\"{escaped}\"")
}

fn tls_config(opts: &Options) -> Result<ureq::tls::TlsConfig, String> {
    use ureq::tls::{parse_pem, PemItem, RootCerts, TlsConfig};
    let mut builder = TlsConfig::builder();
    if let Some(ca) = &opts.ca {
        let pem = std::fs::read(ca)
            .map_err(|e| format!("--icinga-ca {}: cannot read: {e}", ca.display()))?;
        let mut certs = Vec::new();
        for item in parse_pem(&pem) {
            match item {
                Ok(PemItem::Certificate(c)) => certs.push(c),
                Ok(_) => {}
                Err(e) => return Err(format!("--icinga-ca {}: {e}", ca.display())),
            }
        }
        if certs.is_empty() {
            return Err(format!(
                "--icinga-ca {}: no PEM certificate in the file",
                ca.display()
            ));
        }
        builder = builder.root_certs(RootCerts::new_with_certs(&certs));
    }
    if opts.insecure {
        builder = builder.disable_verification(true);
    }
    Ok(builder.build())
}

/// Asks the API. `Err` says what went wrong, for an UNKNOWN entry.
pub fn fetch(opts: &Options) -> Result<Vec<SetResult>, String> {
    let url = services_url(&opts.url);
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(opts.timeout))
        .http_status_as_error(false)
        .tls_config(tls_config(opts)?)
        .user_agent(concat!("backup-report/", env!("CARGO_PKG_VERSION")))
        .build()
        .into();
    let mut request = agent
        .get(&url)
        .query("filter", filter(&opts.check_command))
        .query("attrs", "last_check_result")
        .query("attrs", "host_name")
        .query("attrs", "name")
        .header("Accept", "application/json");
    if let Some(user) = &opts.user {
        let pair = format!("{user}:{}", opts.password.as_deref().unwrap_or(""));
        request = request.header(
            "Authorization",
            format!("Basic {}", base64(pair.as_bytes())),
        );
    }
    let mut response = request
        .call()
        .map_err(|e| format!("cannot query the Icinga 2 API at {url}: {e}"))?;
    let status = response.status().as_u16();
    if status == 200 {
        let over = std::rc::Rc::new(std::cell::Cell::new(false));
        let reader = Capped {
            inner: response.body_mut().as_reader(),
            left: MAX_BODY,
            over: over.clone(),
        };
        return results_from_reader(std::io::BufReader::with_capacity(64 << 10, reader))
            .map_err(|e| {
                if over.get() {
                    format!(
                        "Icinga 2 API at {url}: the answer is larger than {} MiB (backup-report's cap; select fewer services with --icinga-check-command)",
                        MAX_BODY >> 20
                    )
                } else {
                    format!("Icinga 2 API at {url}: {e}")
                }
            });
    }
    let mut bytes = Vec::new();
    response
        .body_mut()
        .as_reader()
        .take(MAX_ERROR_BODY)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("Icinga 2 API at {url}: cannot read the answer: {e}"))?;
    let body = String::from_utf8_lossy(&bytes);
    match status {
        401 => Err(format!(
            "Icinga 2 API at {url}: authentication failed (HTTP 401): check --icinga-user and --icinga-password"
        )),
        403 => Err(format!(
            "Icinga 2 API at {url}: permission denied (HTTP 403): the ApiUser needs \"objects/query/Service\""
        )),
        // Some versions answer 404 when the filter matches nothing.
        404 if body.contains("No objects found") => Ok(Vec::new()),
        s => Err(format!(
            "Icinga 2 API at {url}: HTTP {s}: {}",
            crate::text::safe(body.trim(), 300)
        )),
    }
}

/// Reads the API's answer (`{"results": [{"name": ..., "attrs": {...}}, ...]}`) one
/// service at a time: each element of `results` becomes a [`SetResult`] before the next is
/// read, other members are skipped unread, so the answer is never held whole (neither its
/// text nor a tree of it). `Err` says what is wrong with it.
pub fn results_from_reader(reader: impl Read) -> Result<Vec<SetResult>, String> {
    let mut de = serde_json::Deserializer::from_reader(reader);
    let results = Answer
        .deserialize(&mut de)
        .and_then(|r| de.end().map(|()| r))
        .map_err(|e| format!("the answer is not the JSON of an API answer: {e}"))?;
    results.ok_or_else(|| "the answer has no 'results' array".into())
}

/// The answer object: its `results` member (the first one) read as services.
struct Answer;

impl<'de> DeserializeSeed<'de> for Answer {
    type Value = Option<Vec<SetResult>>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Answer {
    type Value = Option<Vec<SetResult>>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an object with a 'results' array")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut results = None;
        while let Some(key) = map.next_key::<String>()? {
            if key == "results" && results.is_none() {
                results = Some(map.next_value_seed(Services)?);
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(results)
    }
}

/// The `results` array: each service becomes a result as it is read.
struct Services;

impl<'de> DeserializeSeed<'de> for Services {
    type Value = Vec<SetResult>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Services {
    type Value = Vec<SetResult>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a 'results' array")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        // One service's object (a few KiB) at a time; a foreign shape inside it reads as
        // "not known", as before.
        while let Some(item) = seq.next_element::<Value>()? {
            out.push(result_of_service(&item));
        }
        Ok(out)
    }
}

/// The epoch seconds of Icinga as RFC 3339 in local time.
fn rfc3339(epoch: f64) -> Option<String> {
    use chrono::TimeZone;
    if !epoch.is_finite() || epoch <= 0.0 {
        return None;
    }
    chrono::Local
        .timestamp_opt(epoch as i64, 0)
        .single()
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, false))
}

fn result_of_service(item: &Value) -> SetResult {
    let attrs = item.get("attrs").unwrap_or(&Value::Null);
    let full_name = item.get("name").and_then(Value::as_str).unwrap_or("");
    let host = attrs
        .get("host_name")
        .and_then(Value::as_str)
        .map(str::to_string)
        .or_else(|| full_name.split_once('!').map(|(h, _)| h.to_string()))
        .unwrap_or_else(|| "?".into());
    let set = attrs
        .get("name")
        .and_then(Value::as_str)
        .map(str::to_string)
        .or_else(|| full_name.split_once('!').map(|(_, s)| s.to_string()))
        .unwrap_or_else(|| "?".into());
    let cr = match attrs.get("last_check_result") {
        Some(cr) if cr.is_object() => cr,
        _ => {
            return SetResult::unknown(
                &set,
                Some(&host),
                Source::Icinga,
                "no check result in Icinga 2 yet (pending)",
            )
        }
    };
    let state = state_of_code(cr.get("exit_status").and_then(Value::as_i64).unwrap_or(3));
    let output = cr.get("output").and_then(Value::as_str).unwrap_or("");
    let mut lines = output.lines();
    let first = lines.next().unwrap_or("");
    // Icinga keeps the perfdata apart; be tolerant of an output that still has it.
    let first = first.split(" | ").next().unwrap_or("").trim();
    let summary = first
        .strip_prefix("BACKUP ")
        .and_then(|rest| rest.split_once(" - ").map(|(_, s)| s))
        .unwrap_or(first);
    let mut findings = Vec::new();
    let mut log_lines = Vec::new();
    for line in lines {
        if let Some(f) = parse_finding(line) {
            findings.push(f);
        } else if let Some(l) = parse_log_line(line) {
            log_lines.push(l);
        }
    }
    let perfdata: Vec<Value> = match cr.get("performance_data") {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|p| match p {
                Value::String(s) => split_perfdata(s)
                    .iter()
                    .filter_map(|i| parse_perfdata_item(i))
                    .next(),
                Value::Object(o) => perfdata_object(o),
                _ => None,
            })
            .collect(),
        Some(Value::String(s)) => split_perfdata(s)
            .iter()
            .filter_map(|i| parse_perfdata_item(i))
            .collect(),
        _ => Vec::new(),
    };
    let checked_at = cr
        .get("execution_end")
        .and_then(Value::as_f64)
        .and_then(rfc3339);
    let doc = json!({
        "plugin": "check_backup",
        "version": null,
        "checked_at": checked_at,
        "state": state.to_string(),
        "exit_code": state.exit_code(),
        "summary": summary,
        "file": null,
        "findings": findings,
        "perfdata": perfdata,
        "facts": facts_from_perfdata(&perfdata),
        "log_lines": log_lines,
    });
    SetResult::from_doc(&set, Some(&host), Source::Icinga, doc)
}

/// `[STATE] check: message` of the plugin's long output.
fn parse_finding(line: &str) -> Option<Value> {
    let rest = line.strip_prefix('[')?;
    let (state, rest) = rest.split_once("] ")?;
    let state = super::result::parse_state(state)?;
    let (check, message) = rest.split_once(": ")?;
    if check.is_empty() || !check.chars().all(|c| c.is_ascii_lowercase() || c == '_') {
        return None;
    }
    Some(json!({"check": check, "state": state.to_string(), "message": message}))
}

/// `log line N (LEVEL): text` of the plugin's long output.
fn parse_log_line(line: &str) -> Option<Value> {
    let rest = line.strip_prefix("log line ")?;
    let (number, rest) = rest.split_once(" (")?;
    let (level, text) = rest.split_once("): ")?;
    let number: u64 = number.parse().ok()?;
    Some(json!({"level": level, "line": number, "text": text}))
}

/// A `PerfdataValue` object (when Icinga hands perfdata out parsed).
fn perfdata_object(o: &serde_json::Map<String, Value>) -> Option<Value> {
    let label = o.get("label")?.as_str()?;
    let value = o.get("value")?.as_f64().filter(|v| v.is_finite())?;
    let text = |k: &str| match o.get(k) {
        Some(Value::Number(n)) => json!(n.to_string()),
        Some(Value::String(s)) if !s.is_empty() => json!(s),
        _ => Value::Null,
    };
    Some(json!({
        "label": label,
        "value": value,
        "uom": o.get("unit").and_then(Value::as_str).unwrap_or(""),
        "warn": text("warn"),
        "crit": text("crit"),
        "min": o.get("min").and_then(Value::as_f64),
        "max": o.get("max").and_then(Value::as_f64),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::judge::State;

    #[test]
    fn base64_and_urls() {
        assert_eq!(base64(b"martin:secret"), "bWFydGluOnNlY3JldA==");
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"a"), "YQ==");
        assert_eq!(base64(b"ab"), "YWI=");
        assert_eq!(base64(b"abc"), "YWJj");
        assert_eq!(
            services_url("https://icinga:5665/"),
            "https://icinga:5665/v1/objects/services"
        );
        assert_eq!(
            services_url("https://icinga:5665/v1"),
            "https://icinga:5665/v1/objects/services"
        );
        assert_eq!(filter("backup"), r#"service.check_command=="backup""#);
        assert_eq!(filter(r#"a"b"#), r#"service.check_command=="a\"b""#);
    }

    #[test]
    fn services_become_results() {
        let doc = json!({"results": [
            {"name": "db1!backup-shop", "type": "Service", "attrs": {
                "host_name": "db1", "name": "backup-shop",
                "last_check_result": {
                    "exit_status": 2, "state": 2, "execution_end": 1_764_120_000.5,
                    "output": "BACKUP CRITICAL - dump incomplete: no completion marker; shop.sql.gz: 38s old\n[OK] age: 38s old\n[CRITICAL] marker: dump incomplete: no completion marker\nlog line 3 (ERROR): mariadb-dump: Error 2013: Lost connection\n",
                    "performance_data": ["age=38s;93600;180000;0", "size=35955B;;;0", "uncompressed_size=274045B;;;0"]
                }}},
            {"name": "db2!backup-pg", "attrs": {"host_name": "db2", "name": "backup-pg", "last_check_result": null}},
            {"name": "db3!backup-x", "attrs": {"host_name": "db3", "name": "backup-x",
                "last_check_result": {"exit_status": 0, "output": "BACKUP OK - fine",
                    "performance_data": [{"type": "PerfdataValue", "label": "size", "value": 1024.0, "unit": "B", "min": 0.0}]}}}
        ]});
        let r = results_from_reader(doc.to_string().as_bytes()).unwrap();
        assert_eq!(r.len(), 3);
        assert_eq!(
            (r[0].host.as_deref(), r[0].set.as_str(), r[0].state()),
            (Some("db1"), "backup-shop", State::Critical)
        );
        assert_eq!(
            r[0].summary(),
            "dump incomplete: no completion marker; shop.sql.gz: 38s old"
        );
        assert_eq!(r[0].age_seconds(), Some(38.0));
        assert_eq!(r[0].size_bytes(), Some(35955.0));
        assert_eq!(r[0].uncompressed_bytes(), Some(274045.0));
        assert_eq!(r[0].problems().len(), 1);
        assert_eq!(r[0].log_lines()[0].line, Some(3));
        assert_eq!(r[0].doc()["source"], "icinga");
        assert!(r[0].checked_at().is_some());
        assert_eq!(r[1].state(), State::Unknown);
        assert!(r[1].summary().contains("pending"));
        assert_eq!(r[2].size_bytes(), Some(1024.0));
        let err = |text: &str| results_from_reader(text.as_bytes()).unwrap_err();
        assert!(err(r#"{"error": 404}"#).contains("no 'results' array"));
        assert!(err(r#"[1]"#).contains("not the JSON of an API answer"));
        assert!(err(r#"{"results": "x"}"#).contains("not the JSON of an API answer"));
        assert!(err(r#"{"results": [] } x"#).contains("trailing"));
        assert!(err(r#"{"results": [{"name": "a!b"}"#).contains("EOF"));
        // Other members are skipped, however shaped; an element that is no object is a
        // pending service, UNKNOWN.
        let r = results_from_reader(
            r#"{"meta": {"x": [1, {"results": 2}]}, "results": [7], "results2": null}"#.as_bytes(),
        )
        .unwrap();
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].state(), State::Unknown);
        assert_eq!(
            results_from_reader(r#"{"results": []}"#.as_bytes())
                .unwrap()
                .len(),
            0
        );
    }

    #[test]
    fn an_answer_above_the_cap_is_named() {
        let over = std::rc::Rc::new(std::cell::Cell::new(false));
        let text = r#"{"results": [{"name": "a!b"}, {"name": "c!d"}]}"#;
        let capped = |left: u64| Capped {
            inner: text.as_bytes(),
            left,
            over: over.clone(),
        };
        // Exactly the cap is read; one byte less fails and says so.
        assert_eq!(
            results_from_reader(capped(text.len() as u64))
                .unwrap()
                .len(),
            2
        );
        assert!(!over.get());
        assert!(results_from_reader(capped(text.len() as u64 - 1)).is_err());
        assert!(over.get());
    }
}
