//! One backup set's result as the report sees it: the JSON document of
//! `check_backup --output json` (schema in README.md) plus `set` (and `host` for fleet
//! entries), with typed accessors that never trust the document (a fleet file is foreign
//! input: missing fields, wrong types and non-finite numbers read as "not known").

use serde_json::{json, Map, Value};

use crate::judge::{Facts, State};

/// Where a result came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// A set of this host's configuration file, checked by this run.
    Local,
    /// A file of `--from DIR`.
    File,
    /// The Icinga 2 REST API (`--icinga-api`).
    Icinga,
}

impl Source {
    /// The word used in the JSON `source` field.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Local => "local",
            Source::File => "file",
            Source::Icinga => "icinga",
        }
    }
}

/// One set's result: what the renderers read, as typed fields taken from the document
/// once, and the document itself as compact JSON text for `--format json` (a tree of
/// `serde_json::Value` maps took about 28 KiB per set; the text is its own size).
#[derive(Debug, Clone)]
pub struct SetResult {
    /// The set's name (config section, Icinga service name, or `set` field of a fleet file).
    pub set: String,
    /// The host, for fleet entries (`None`: this host).
    pub host: Option<String>,
    /// Where it came from.
    pub source: Source,
    /// The set's last restore drill (`backup-drill`), read from this host's cache
    /// directory for local sets; also the document's `drill` member.
    pub drill: Option<crate::facts::DrillResult>,
    /// The state (validated in [`SetResult::from_doc`]).
    state: State,
    /// What the accessors return.
    view: View,
    /// The document, `set`/`host`/`source`/`drill` included, as compact JSON.
    doc: Box<str>,
}

/// The parts of a document the report reads, as found (foreign input: what is missing or
/// of the wrong type is `None`/empty, as the accessors say).
#[derive(Debug, Clone, Default)]
struct View {
    summary: Box<str>,
    file: Option<Box<str>>,
    checked_at: Option<Box<str>>,
    /// Perfdata items with a text label: label and value (a finite number, else `None`).
    perfdata: Box<[(Box<str>, Option<f64>)]>,
    /// `facts.age_seconds`, `facts.size_bytes`, `facts.uncompressed_bytes` (finite).
    age_seconds: Option<f64>,
    size_bytes: Option<f64>,
    uncompressed_bytes: Option<f64>,
    entries: Box<[EntryRow]>,
    schedule: Option<ScheduleView>,
    restore_points: Option<PointsView>,
    rpo: Option<RpoView>,
    findings: Box<[FindingView]>,
    log_lines: Box<[LogLine]>,
}

/// A log problem line quoted by the report.
#[derive(Debug, Clone, PartialEq)]
pub struct LogLine {
    /// `ERROR` or `WARNING` (as check_backup names the level).
    pub level: String,
    /// Line number within the judged run.
    pub line: Option<u64>,
    /// The line's text.
    pub text: String,
}

/// The schedule of a set (`facts.schedule`).
#[derive(Debug, Clone, PartialEq)]
pub struct ScheduleView {
    /// The cron expression.
    pub expression: String,
    /// The next run, RFC 3339.
    pub next_run: Option<String>,
}

/// The restore points of a set (`facts.restore_points`).
#[derive(Debug, Clone, PartialEq)]
pub struct PointsView {
    /// How many dumps are in the window.
    pub count: usize,
    /// How many of them are verified good.
    pub good: usize,
    /// The bad ones: file and problem.
    pub bad: Vec<(String, String)>,
    /// How many are not verified (yet).
    pub unverified: usize,
    /// The oldest one's age, seconds.
    pub oldest_age: Option<f64>,
}

/// RPO compliance of a set (`facts.rpo`).
#[derive(Debug, Clone, PartialEq)]
pub struct RpoView {
    /// Percent of the observed span within the RPO.
    pub percent: f64,
    /// The window asked for, days.
    pub days: u32,
    /// The span the history covers, seconds.
    pub observed_seconds: f64,
    /// `schedule` or `warning age`.
    pub basis: String,
    /// The RPO in seconds (warning age), if not a schedule.
    pub rpo_seconds: Option<f64>,
    /// Dumps whose verdict is not known.
    pub unverified: u64,
    /// Dumps verified bad.
    pub bad: u64,
}

/// A finding (`{check, state, message}`).
#[derive(Debug, Clone, PartialEq)]
pub struct FindingView {
    /// Which check.
    pub check: String,
    /// Its state.
    pub state: State,
    /// What it found.
    pub message: String,
}

/// Parses a state word (`OK`, `WARNING`, `CRITICAL`, `UNKNOWN`, any case).
pub fn parse_state(s: &str) -> Option<State> {
    match s.trim().to_ascii_uppercase().as_str() {
        "OK" => Some(State::Ok),
        "WARNING" => Some(State::Warning),
        "CRITICAL" => Some(State::Critical),
        "UNKNOWN" => Some(State::Unknown),
        _ => None,
    }
}

/// The state of a plugin exit code (anything but 0–3 is UNKNOWN).
pub fn state_of_code(code: i64) -> State {
    match code {
        0 => State::Ok,
        1 => State::Warning,
        2 => State::Critical,
        _ => State::Unknown,
    }
}

/// The order of the report: worst first (CRITICAL, WARNING, UNKNOWN, OK — the plugin's own
/// ranking, where a check that could not look ranks below a known problem).
pub fn severity(state: State) -> u8 {
    match state {
        State::Critical => 3,
        State::Warning => 2,
        State::Unknown => 1,
        State::Ok => 0,
    }
}

/// The worst of some states (OK when there are none).
pub fn worst(states: impl IntoIterator<Item = State>) -> State {
    states
        .into_iter()
        .max_by_key(|s| severity(*s))
        .unwrap_or(State::Ok)
}

/// A finite, non-negative number from a JSON value.
/// One entry of a pg_backupcluster set, for the report's sub-rows.
#[derive(Debug, Clone, PartialEq)]
pub struct EntryRow {
    /// `dump` or `basebackup`.
    pub kind: String,
    /// The entry's name, e.g. `2026-12-01T172419Z.dump`.
    pub entry: String,
    /// Its state.
    pub state: State,
    /// Its age.
    pub age_seconds: Option<f64>,
    /// Its size.
    pub size_bytes: Option<f64>,
}

fn number(v: &Value) -> Option<f64> {
    v.as_f64().filter(|x| x.is_finite())
}

/// The current time as RFC 3339 (local time with offset, seconds).
pub fn now_rfc3339() -> String {
    chrono::Local::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, false)
}

/// The document's `drill` member for a drill (null: none, or one that cannot be written).
fn drill_value(drill: Option<&crate::facts::DrillResult>) -> Value {
    drill
        .and_then(|d| serde_json::to_value(d).ok())
        .unwrap_or(Value::Null)
}

impl View {
    /// Reads what the report shows from a document (an object).
    fn of(doc: &Value) -> View {
        let text = |v: Option<&Value>| v.and_then(Value::as_str).map(Box::from);
        let facts = doc.get("facts");
        let fact = |key: &str| facts.and_then(|f| f.get(key));
        let perfdata = doc
            .get("perfdata")
            .and_then(Value::as_array)
            .map(|items| {
                items
                    .iter()
                    .filter_map(|p| {
                        let label = p.get("label")?.as_str()?;
                        Some((Box::from(label), p.get("value").and_then(number)))
                    })
                    .collect()
            })
            .unwrap_or_default();
        View {
            summary: text(doc.get("summary")).unwrap_or_default(),
            file: text(doc.get("file")),
            checked_at: text(doc.get("checked_at")),
            perfdata,
            age_seconds: fact("age_seconds").and_then(number),
            size_bytes: fact("size_bytes").and_then(number),
            uncompressed_bytes: fact("uncompressed_bytes").and_then(number),
            entries: fact("entries").map(entries_of).unwrap_or_default(),
            schedule: fact("schedule").and_then(schedule_of),
            restore_points: fact("restore_points").and_then(points_of),
            rpo: fact("rpo").and_then(rpo_of),
            findings: doc.get("findings").map(findings_of).unwrap_or_default(),
            log_lines: doc.get("log_lines").map(log_lines_of).unwrap_or_default(),
        }
    }
}

/// `facts.entries`: the first ten objects.
fn entries_of(v: &Value) -> Box<[EntryRow]> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter(|e| e.is_object())
                .take(10)
                .map(|e| {
                    let text = |k: &str| e.get(k).and_then(Value::as_str).unwrap_or("");
                    EntryRow {
                        kind: text("kind").to_string(),
                        entry: text("entry").to_string(),
                        state: parse_state(text("state")).unwrap_or(State::Unknown),
                        age_seconds: e.get("age_seconds").and_then(number),
                        size_bytes: e.get("size_bytes").and_then(number).filter(|v| *v >= 0.0),
                    }
                })
                .collect()
        })
        .unwrap_or_default()
}

/// `facts.schedule`.
fn schedule_of(s: &Value) -> Option<ScheduleView> {
    Some(ScheduleView {
        expression: s.get("expression")?.as_str()?.to_string(),
        next_run: s
            .get("next_run")
            .and_then(Value::as_str)
            .map(str::to_string),
    })
}

/// `facts.restore_points`.
fn points_of(v: &Value) -> Option<PointsView> {
    let items = v.as_array()?;
    let verdict = |p: &Value| p.get("verdict").and_then(Value::as_str).map(str::to_string);
    let text = |p: &Value, key: &str| p.get(key).and_then(Value::as_str).unwrap_or("").to_string();
    Some(PointsView {
        count: items.len(),
        good: items
            .iter()
            .filter(|p| verdict(p).as_deref() == Some("good"))
            .count(),
        bad: items
            .iter()
            .filter(|p| verdict(p).as_deref() == Some("bad"))
            .map(|p| (text(p, "file"), text(p, "problem")))
            .collect(),
        unverified: items
            .iter()
            .filter(|p| !matches!(verdict(p).as_deref(), Some("good" | "bad")))
            .count(),
        oldest_age: items
            .iter()
            .filter_map(|p| p.get("age_seconds").and_then(number))
            .reduce(f64::max),
    })
}

/// `facts.rpo`.
fn rpo_of(r: &Value) -> Option<RpoView> {
    let count = |key: &str| r.get(key).and_then(Value::as_u64).unwrap_or(0);
    Some(RpoView {
        percent: r
            .get("percent")
            .and_then(number)
            .filter(|p| (0.0..=100.0).contains(p))?,
        days: r
            .get("days")
            .and_then(Value::as_u64)
            .and_then(|d| u32::try_from(d).ok())?,
        observed_seconds: r.get("observed_seconds").and_then(number)?,
        basis: r.get("basis")?.as_str()?.to_string(),
        rpo_seconds: r.get("rpo_seconds").and_then(number),
        unverified: count("unverified_dumps"),
        bad: count("bad_dumps"),
    })
}

/// `findings`: the complete ones, in order.
fn findings_of(v: &Value) -> Box<[FindingView]> {
    let Some(items) = v.as_array() else {
        return Box::default();
    };
    items
        .iter()
        .filter_map(|f| {
            Some(FindingView {
                check: f.get("check")?.as_str()?.to_string(),
                state: parse_state(f.get("state")?.as_str()?)?,
                message: f.get("message")?.as_str()?.to_string(),
            })
        })
        .collect()
}

/// `log_lines`: the complete ones, in order.
fn log_lines_of(v: &Value) -> Box<[LogLine]> {
    let Some(items) = v.as_array() else {
        return Box::default();
    };
    items
        .iter()
        .filter_map(|l| {
            Some(LogLine {
                level: l.get("level")?.as_str()?.to_string(),
                line: l.get("line").and_then(Value::as_u64),
                text: l.get("text")?.as_str()?.to_string(),
            })
        })
        .collect()
}

impl SetResult {
    /// Wraps a document, adding `set`, `source` and (for fleet entries) `host`. A document
    /// that is not an object, or has no valid state, becomes UNKNOWN naming the problem.
    pub fn from_doc(set: &str, host: Option<&str>, source: Source, doc: Value) -> SetResult {
        let Value::Object(mut map) = doc else {
            return SetResult::unknown(
                set,
                host,
                source,
                "not a check_backup JSON result (expected an object)",
            );
        };
        let state = map
            .get("state")
            .and_then(Value::as_str)
            .and_then(parse_state)
            .or_else(|| {
                map.get("exit_code")
                    .and_then(Value::as_i64)
                    .map(state_of_code)
            });
        let Some(state) = state else {
            return SetResult::unknown(
                set,
                host,
                source,
                "not a check_backup JSON result (no valid 'state' or 'exit_code')",
            );
        };
        // Normalise state and exit code so every reader agrees with the state shown.
        map.insert("state".into(), json!(state.to_string()));
        map.insert("exit_code".into(), json!(state.exit_code()));
        map.insert("set".into(), json!(set));
        match host {
            Some(h) => {
                map.insert("host".into(), json!(h));
            }
            None => {
                map.remove("host");
            }
        }
        map.insert("source".into(), json!(source.as_str()));
        // A fleet file written by backup-report --format json carries its set's last drill:
        // kept only when it reads as one (foreign input), else null.
        let drill = map
            .get("drill")
            .cloned()
            .and_then(|v| serde_json::from_value::<crate::facts::DrillResult>(v).ok());
        map.insert("drill".into(), drill_value(drill.as_ref()));
        let doc = Value::Object(map);
        let view = View::of(&doc);
        // Writing a Value cannot fail (its keys are strings); an empty object if it did.
        let doc = serde_json::to_string(&doc).unwrap_or_else(|_| "{}".into());
        SetResult {
            set: set.to_string(),
            host: host.map(str::to_string),
            source,
            drill,
            state,
            view,
            doc: doc.into_boxed_str(),
        }
    }

    /// Sets the set's last restore drill, also as the document's `drill` (null: none).
    pub fn set_drill(&mut self, drill: Option<crate::facts::DrillResult>) {
        // The member is replaced in the text: the rest of the document is not read again.
        let value = drill_value(drill.as_ref()).to_string();
        if let Some(doc) = super::json_text::replace_member(&self.doc, "drill", &value) {
            self.doc = doc.into_boxed_str();
        }
        self.drill = drill;
    }

    /// The document as compact JSON text (check_backup's schema plus `set`, `host`,
    /// `source` and `drill`).
    pub fn doc_json(&self) -> &str {
        &self.doc
    }

    /// The document as a value (parsed from [`SetResult::doc_json`]; `Null` if it did not
    /// parse, which text written by serde_json always does).
    pub fn doc(&self) -> Value {
        serde_json::from_str(&self.doc).unwrap_or(Value::Null)
    }

    /// An UNKNOWN result that names the set and the reason, in check_backup's schema.
    pub fn unknown(set: &str, host: Option<&str>, source: Source, reason: &str) -> SetResult {
        let facts = serde_json::to_value(Facts::default()).unwrap_or(Value::Null);
        let summary = format!("set {set}: {reason}");
        let doc = json!({
            "plugin": "check_backup",
            "version": env!("CARGO_PKG_VERSION"),
            "checked_at": now_rfc3339(),
            "state": "UNKNOWN",
            "exit_code": 3,
            "summary": summary,
            "file": null,
            "findings": [{"check": "report", "state": "UNKNOWN", "message": summary}],
            "perfdata": [],
            "facts": facts,
            "log_lines": [],
        });
        SetResult::from_doc(set, host, source, doc)
    }

    /// The state (validated in [`SetResult::from_doc`]).
    pub fn state(&self) -> State {
        self.state
    }

    /// The one-line summary.
    pub fn summary(&self) -> String {
        self.view.summary.to_string()
    }

    /// The dump checked.
    pub fn file(&self) -> Option<String> {
        self.view.file.as_deref().map(str::to_string)
    }

    /// When it was checked (RFC 3339 text, as given).
    pub fn checked_at(&self) -> Option<String> {
        self.view.checked_at.as_deref().map(str::to_string)
    }

    /// A perfdata value by label (the first item of that label).
    pub fn perf(&self, label: &str) -> Option<f64> {
        self.view
            .perfdata
            .iter()
            .find(|(l, _)| &**l == label)
            .and_then(|(_, v)| *v)
    }

    /// The entries of a pg_backupcluster set (`facts.entries`: the newest entry of each
    /// kind), as found; entries that are not objects are skipped.
    pub fn entries(&self) -> Vec<EntryRow> {
        self.view.entries.to_vec()
    }

    /// The age to show: the dump's, or for a pg_backupcluster set the oldest of its
    /// newest entries (the one nearest its threshold).
    pub fn shown_age(&self) -> Option<f64> {
        self.age_seconds().or_else(|| {
            self.view
                .entries
                .iter()
                .filter_map(|e| e.age_seconds)
                .reduce(f64::max)
        })
    }

    /// The dump's age in seconds (facts, else perfdata).
    pub fn age_seconds(&self) -> Option<f64> {
        self.view.age_seconds.or_else(|| self.perf("age"))
    }

    /// The dump's size on disk in bytes.
    pub fn size_bytes(&self) -> Option<f64> {
        self.view
            .size_bytes
            .or_else(|| self.perf("size"))
            .filter(|v| *v >= 0.0)
    }

    /// The decoded size in bytes.
    pub fn uncompressed_bytes(&self) -> Option<f64> {
        self.view
            .uncompressed_bytes
            .or_else(|| self.perf("uncompressed_size"))
            .filter(|v| *v >= 0.0)
    }

    /// The size trend: percent change against the median of earlier dumps (`size_change`).
    pub fn size_change(&self) -> Option<f64> {
        self.perf("size_change")
    }

    /// The schedule, when the set has one.
    pub fn schedule(&self) -> Option<ScheduleView> {
        self.view.schedule.clone()
    }

    /// The restore points, when the set asks for them.
    pub fn restore_points(&self) -> Option<PointsView> {
        self.view.restore_points.clone()
    }

    /// RPO compliance, when check_backup computed it.
    pub fn rpo(&self) -> Option<RpoView> {
        self.view.rpo.clone()
    }

    /// The findings, in the document's order.
    pub fn findings(&self) -> Vec<FindingView> {
        self.view.findings.to_vec()
    }

    /// The findings that are not OK, worst first.
    pub fn problems(&self) -> Vec<FindingView> {
        let mut p: Vec<_> = self
            .view
            .findings
            .iter()
            .filter(|f| f.state != State::Ok)
            .cloned()
            .collect();
        p.sort_by_key(|f| std::cmp::Reverse(severity(f.state)));
        p
    }

    /// The log's ERROR and WARN lines.
    pub fn log_lines(&self) -> Vec<LogLine> {
        self.view.log_lines.to_vec()
    }

    /// The host shown: the fleet host, or `local` for this host's sets.
    pub fn host_or<'a>(&'a self, local: &'a str) -> &'a str {
        self.host.as_deref().unwrap_or(local)
    }
}

/// Sorts worst first, then by host (this host first), then by set.
pub fn sort(results: &mut [SetResult]) {
    results.sort_by(|a, b| {
        severity(b.state())
            .cmp(&severity(a.state()))
            .then_with(|| a.host.cmp(&b.host))
            .then_with(|| a.set.cmp(&b.set))
    });
}

/// Counts per state, in the order CRITICAL, WARNING, UNKNOWN, OK.
pub fn counts(results: &[SetResult]) -> [(State, usize); 4] {
    let n = |s: State| results.iter().filter(|r| r.state() == s).count();
    [
        (State::Critical, n(State::Critical)),
        (State::Warning, n(State::Warning)),
        (State::Unknown, n(State::Unknown)),
        (State::Ok, n(State::Ok)),
    ]
}

/// Parses one perfdata item `'label'=value[uom];[warn];[crit];[min];[max]` into the JSON
/// shape of check_backup's `perfdata` array.
pub fn parse_perfdata_item(item: &str) -> Option<Value> {
    let (label, rest) = item.rsplit_once('=')?;
    let label = label.trim().trim_matches('\'').to_string();
    if label.is_empty() {
        return None;
    }
    let mut fields = rest.split(';');
    let value_uom = fields.next()?.trim();
    let split = value_uom
        .find(|c: char| !(c.is_ascii_digit() || matches!(c, '.' | '-' | '+' | 'e' | 'E')))
        .unwrap_or(value_uom.len());
    // A unit starting with e/E (none of the plugin's) would be misread; the plugin uses
    // s, B, %, or nothing.
    let value: f64 = value_uom[..split].replace(',', ".").parse().ok()?;
    if !value.is_finite() {
        return None;
    }
    let uom = &value_uom[split..];
    let opt_text = |s: Option<&str>| -> Value {
        match s.map(str::trim).filter(|s| !s.is_empty()) {
            Some(s) => json!(s),
            None => Value::Null,
        }
    };
    let opt_num = |s: Option<&str>| -> Value {
        s.and_then(|s| s.trim().parse::<f64>().ok())
            .filter(|v| v.is_finite())
            .map(|v| json!(v))
            .unwrap_or(Value::Null)
    };
    let warn = fields.next();
    let crit = fields.next();
    let min = fields.next();
    let max = fields.next();
    Some(json!({
        "label": label,
        "value": value,
        "uom": uom,
        "warn": opt_text(warn),
        "crit": opt_text(crit),
        "min": opt_num(min),
        "max": opt_num(max),
    }))
}

/// Splits a perfdata string (space separated, labels may be quoted and contain spaces).
pub fn split_perfdata(text: &str) -> Vec<String> {
    let mut items = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    for c in text.chars() {
        match c {
            '\'' => {
                quoted = !quoted;
                current.push(c);
            }
            c if c.is_whitespace() && !quoted => {
                if !current.is_empty() {
                    items.push(std::mem::take(&mut current));
                }
            }
            c => current.push(c),
        }
    }
    if !current.is_empty() {
        items.push(current);
    }
    items
}

/// Facts recovered from perfdata (for results that only have plugin text, e.g. Icinga's).
pub fn facts_from_perfdata(perfdata: &[Value]) -> Value {
    let mut facts = match serde_json::to_value(Facts::default()) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    };
    let find = |label: &str| {
        perfdata
            .iter()
            .find(|p| p.get("label").and_then(Value::as_str) == Some(label))
            .and_then(|p| p.get("value"))
            .and_then(number)
    };
    if let Some(age) = find("age") {
        facts.insert("age_seconds".into(), json!(age));
    }
    if let Some(size) = find("size").filter(|v| *v >= 0.0) {
        facts.insert("size_bytes".into(), json!(size as u64));
    }
    if let Some(u) = find("uncompressed_size").filter(|v| *v >= 0.0) {
        facts.insert("uncompressed_bytes".into(), json!(u as u64));
    }
    Value::Object(facts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fleet_files_drill_is_kept_when_it_reads_as_one() {
        let drill = json!({
            "set": "/b", "dump": "/b/shop.sql", "dump_size": 1, "dump_mtime_ns": 1,
            "writer": "mysqldump", "server": "mariadbd", "finished_at": 1_796_000_000u64,
            "outcome": "restored", "error": null, "differences": [],
            "restore_seconds": 1.5, "tables": 3, "views": 0, "rows": 10, "bytes": 100,
            "databases": []
        });
        let doc = |drill: Value| json!({"state": "OK", "exit_code": 0, "drill": drill});
        let r = SetResult::from_doc("shop", Some("db1"), Source::File, doc(drill.clone()));
        assert_eq!(r.drill.as_ref().map(|d| d.rows), Some(10));
        assert_eq!(r.doc()["drill"], drill);
        // Not a drill result: none, and null in the document.
        let r = SetResult::from_doc("shop", Some("db1"), Source::File, doc(json!({"rows": 1})));
        assert!(r.drill.is_none());
        assert_eq!(r.doc()["drill"], Value::Null);
        let r = SetResult::unknown("shop", None, Source::Local, "x");
        assert_eq!(r.doc().get("drill"), Some(&Value::Null));
    }

    #[test]
    fn documents_are_validated_and_tagged() {
        let r = SetResult::from_doc(
            "shop",
            None,
            Source::Local,
            json!({"state": "warning", "exit_code": 0, "summary": "old",
                   "facts": {"age_seconds": 100.0, "size_bytes": 2048},
                   "perfdata": [{"label": "size_change", "value": -60.5}]}),
        );
        assert_eq!(r.state(), State::Warning);
        assert_eq!(r.doc()["exit_code"], 1);
        assert_eq!(r.doc()["set"], "shop");
        assert_eq!(r.doc().get("host"), None);
        assert_eq!(r.age_seconds(), Some(100.0));
        assert_eq!(r.size_bytes(), Some(2048.0));
        assert_eq!(r.size_change(), Some(-60.5));
        let bad = SetResult::from_doc("x", Some("h"), Source::File, json!([1, 2]));
        assert_eq!(bad.state(), State::Unknown);
        assert!(bad
            .summary()
            .contains("set x: not a check_backup JSON result"));
        assert_eq!(bad.doc()["host"], "h");
        let bad = SetResult::from_doc("x", None, Source::File, json!({"state": "GREEN"}));
        assert_eq!(bad.state(), State::Unknown);
        let by_code = SetResult::from_doc("x", None, Source::File, json!({"exit_code": 2}));
        assert_eq!(by_code.state(), State::Critical);
    }

    #[test]
    fn wrong_types_read_as_unknown_values() {
        let r = SetResult::from_doc(
            "s",
            None,
            Source::File,
            json!({"state": "OK", "summary": 5, "facts": {"age_seconds": "old"},
                   "findings": [{"check": "age"}, {"check": "size", "state": "CRITICAL", "message": "small"}],
                   "log_lines": [{"level": "ERROR", "line": 3, "text": "boom"}, {"text": 1}]}),
        );
        assert_eq!(r.summary(), "");
        assert_eq!(r.age_seconds(), None);
        assert_eq!(r.findings().len(), 1);
        assert_eq!(r.problems()[0].message, "small");
        assert_eq!(
            r.log_lines(),
            [LogLine {
                level: "ERROR".into(),
                line: Some(3),
                text: "boom".into()
            }]
        );
    }

    #[test]
    fn order_and_worst() {
        assert_eq!(
            worst([State::Ok, State::Unknown, State::Warning]),
            State::Warning
        );
        assert_eq!(worst([State::Ok, State::Unknown]), State::Unknown);
        assert_eq!(worst([]), State::Ok);
        let mk = |set: &str, state: &str| {
            SetResult::from_doc(set, None, Source::Local, json!({ "state": state }))
        };
        let mut v = vec![
            mk("a", "OK"),
            mk("b", "UNKNOWN"),
            mk("c", "CRITICAL"),
            mk("d", "WARNING"),
            mk("e", "CRITICAL"),
        ];
        sort(&mut v);
        let names: Vec<_> = v.iter().map(|r| r.set.as_str()).collect();
        assert_eq!(names, ["c", "e", "d", "b", "a"]);
        assert_eq!(counts(&v)[0], (State::Critical, 2));
    }

    #[test]
    fn perfdata_text_is_parsed() {
        let items =
            split_perfdata("age=11520s;93600;180000;0 'my size'=66670B;;;0 size_change=-62.5%;50");
        assert_eq!(items.len(), 3);
        let age = parse_perfdata_item(&items[0]).unwrap();
        assert_eq!(age["label"], "age");
        assert_eq!(age["value"], 11520.0);
        assert_eq!(age["uom"], "s");
        assert_eq!(age["warn"], "93600");
        assert_eq!(age["min"], 0.0);
        assert_eq!(age["max"], Value::Null);
        let size = parse_perfdata_item(&items[1]).unwrap();
        assert_eq!(size["label"], "my size");
        assert_eq!(size["warn"], Value::Null);
        let change = parse_perfdata_item(&items[2]).unwrap();
        assert_eq!(change["value"], -62.5);
        assert_eq!(change["uom"], "%");
        assert!(parse_perfdata_item("garbage").is_none());
        assert!(parse_perfdata_item("x=abc").is_none());
        let facts = facts_from_perfdata(&[age, size, change]);
        assert_eq!(facts["age_seconds"], 11520.0);
        assert_eq!(facts["size_bytes"], Value::Null); // labelled 'my size', not 'size'
    }
}
