//! backup-report at fleet size (issue 16, part 5): a generated fleet of 300 sets read with
//! `--from DIR`; the HTML page puts the sets with a problem first (CRITICAL, WARNING,
//! UNKNOWN, as the exit code ranks them), collapses the OK ones behind "N sets OK", counts
//! every state in its header, and has a search box whose script its CSP allows by hash.
//! (The script itself runs in headless Chromium: see bench/fleet.sh and README.)

use std::collections::BTreeMap;
use std::path::Path;

use crate::api::base64;
use crate::util::*;
use serde_json::{json, Value};

const HOSTS: usize = 30;
const SETS: usize = 10;

/// The state of set `j` of host `i`: mostly OK, a few of each problem.
fn state_of(i: usize, j: usize) -> &'static str {
    match (i * SETS + j) % 23 {
        0 | 9 => "CRITICAL",
        4 | 15 => "WARNING",
        7 => "UNKNOWN",
        _ => "OK",
    }
}

fn host_name(i: usize) -> String {
    if i == 5 {
        // Far longer than any column: must wrap, not widen the page.
        format!(
            "replica-{}{i}.example.com",
            "very-long-host-name-".repeat(8)
        )
    } else {
        format!("db{i:03}.example.com")
    }
}

/// Writes one `backup-report --format json` array per host into `dir`; returns the count of
/// each state.
fn write_fleet(
    dir: &Path,
    hosts: usize,
    state: impl Fn(usize, usize) -> &'static str,
) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for i in 0..hosts {
        let docs: Vec<Value> = (0..SETS)
            .map(|j| {
                let st = state(i, j);
                *counts.entry(st.to_string()).or_insert(0) += 1;
                let code = ["OK", "WARNING", "CRITICAL", "UNKNOWN"]
                    .iter()
                    .position(|s| *s == st)
                    .unwrap();
                let message = if st == "OK" {
                    "3h old".to_string()
                } else {
                    format!("{st} problem of set {j}: {}", "a long message ".repeat(30))
                };
                json!({
                    "plugin": "check_backup", "version": "0.9.0",
                    "checked_at": "2026-12-01T07:30:00+01:00",
                    "state": st, "exit_code": code,
                    "summary": message,
                    "file": format!("/var/backups/set{j}/set{j}.sql.gz"),
                    "findings": [{"check": "age", "state": st, "message": message}],
                    "perfdata": [
                        {"label": "age", "value": 10800.0 + j as f64, "uom": "s", "warn": "93600", "crit": "180000", "min": 0.0, "max": null},
                        {"label": "size", "value": 1048576.0 * (j + 1) as f64, "uom": "B", "warn": null, "crit": null, "min": 0.0, "max": null}
                    ],
                    "log_lines": [],
                    "set": format!("set{j:02}"),
                })
            })
            .collect();
        std::fs::write(
            dir.join(format!("{}.json", host_name(i))),
            serde_json::to_string(&docs).unwrap(),
        )
        .unwrap();
    }
    counts
}

/// (state, host, set) of every row of the page, in order, and whether it is inside the
/// collapsed OK section.
fn rows(page: &str) -> Vec<(String, String, String, bool)> {
    let ok_start = page.find("<details id=\"ok-sets\"").unwrap_or(page.len());
    let attr = |line: &str, name: &str| {
        let start = line.find(&format!("{name}=\"")).unwrap() + name.len() + 2;
        line[start..start + line[start..].find('"').unwrap()].to_string()
    };
    let mut offset = 0;
    let mut out = Vec::new();
    for line in page.split_inclusive('\n') {
        if line.starts_with("<tr class=\"set ") {
            out.push((
                attr(line, "data-state"),
                attr(line, "data-host"),
                attr(line, "data-set"),
                offset > ok_start,
            ));
        }
        offset += line.len();
    }
    out
}

fn html_of(dir: &Path) -> (Answer, String) {
    let out = Run::backup_report(&[
        "--from",
        dir.to_str().unwrap(),
        "--format",
        "html",
        "--no-history",
    ])
    .output();
    let page = out.stdout.clone();
    (out, page)
}

#[test]
fn a_fleet_page_shows_problems_first_and_collapses_the_ok_sets() {
    let d = tempfile::tempdir().unwrap();
    let counts = write_fleet(d.path(), HOSTS, state_of);
    let n = |s: &str| counts.get(s).copied().unwrap_or(0);
    assert_eq!(n("OK") + n("WARNING") + n("CRITICAL") + n("UNKNOWN"), 300);
    assert!(n("CRITICAL") > 10 && n("WARNING") > 10 && n("UNKNOWN") > 5 && n("OK") > 200);

    let (out, page) = html_of(d.path());
    assert_eq!(out.code, 2, "worst state CRITICAL: {}", out.stderr);
    // Header: a count per state.
    for st in ["CRITICAL", "WARNING", "UNKNOWN", "OK"] {
        let want = format!("data-state=\"{st}\" data-count=\"{}\"", n(st));
        assert!(page.contains(&want), "header lacks {want}");
    }
    assert!(page.contains("300 sets</div>"), "total in the header");

    // Order: CRITICAL, WARNING, UNKNOWN, then OK; by host and set within a state; the OK
    // rows (and only they) inside the collapsed section.
    let r = rows(&page);
    assert_eq!(r.len(), 300);
    let rank = |s: &str| {
        ["CRITICAL", "WARNING", "UNKNOWN", "OK"]
            .iter()
            .position(|x| *x == s)
            .unwrap()
    };
    let mut sorted = r.clone();
    sorted.sort_by(|a, b| (rank(&a.0), &a.1, &a.2).cmp(&(rank(&b.0), &b.1, &b.2)));
    assert_eq!(r, sorted, "rows worst first, then by host and set");
    for (state, host, set, collapsed) in &r {
        assert_eq!(*collapsed, state == "OK", "{host} {set} {state}");
    }
    let problems = n("CRITICAL") + n("WARNING") + n("UNKNOWN");
    assert!(page.contains(&format!("<h2>{problems} sets with a problem</h2>")));
    // Collapsed: no `open` attribute, the count in its summary.
    let ok = n("OK");
    assert!(
        page.contains(&format!(
            "<details id=\"ok-sets\" data-count=\"{ok}\"><summary>{ok} sets OK</summary>"
        )),
        "{}",
        &page[page.find("<details id=\"ok-sets\"").unwrap()..][..120]
    );
    // The long host name is there, whole and escaped into its attribute.
    assert!(r.iter().any(|(_, h, _, _)| *h == host_name(5)));

    // Search: an input hidden until the script shows it; one inline script, allowed by its
    // hash in the CSP and by nothing else.
    assert!(page.contains("<div class=\"tools\" id=\"tools\" hidden>"));
    assert!(page.contains("<input type=\"search\" id=\"search\""));
    assert_eq!(page.matches("<script").count(), 1);
    let start = page.find("<script>").unwrap() + "<script>".len();
    let script = &page[start..start + page[start..].find("</script>").unwrap()];
    assert!(script.contains("getElementById('search')") && script.contains("data-host"));
    use sha2::Digest as _;
    let hash = base64(&sha2::Sha256::digest(script.as_bytes()));
    let csp = page
        .lines()
        .find(|l| l.contains("Content-Security-Policy"))
        .unwrap();
    assert!(
        csp.contains(&format!("script-src 'sha256-{hash}'")),
        "CSP {csp} does not allow the script (sha256-{hash})"
    );
    assert!(!csp.contains("unsafe-inline'; script") && !csp.contains("script-src 'unsafe"));

    // JSON lists the same sets in the same order.
    let json = Run::backup_report(&[
        "--from",
        d.path().to_str().unwrap(),
        "--format",
        "json",
        "--no-history",
    ])
    .output();
    let items: Vec<Value> = serde_json::from_str(&json.stdout).unwrap();
    let json_order: Vec<(String, String)> = items
        .iter()
        .map(|i| {
            (
                i["host"].as_str().unwrap().to_string(),
                i["set"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let html_order: Vec<(String, String)> = r
        .iter()
        .map(|(_, h, s, _)| (h.replace("&amp;", "&"), s.clone()))
        .collect();
    assert_eq!(json_order, html_order);
}

#[test]
fn a_small_report_shows_its_ok_sets_open_and_an_all_ok_one_says_so() {
    // 2 hosts: 19 OK and one WARNING — few enough to show open.
    let d = tempfile::tempdir().unwrap();
    write_fleet(
        d.path(),
        2,
        |i, j| if i == 1 && j == 3 { "WARNING" } else { "OK" },
    );
    let (out, page) = html_of(d.path());
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(page.contains("<h2>1 set with a problem</h2>"));
    assert!(
        page.contains(
            "<details id=\"ok-sets\" data-count=\"19\" open><summary>19 sets OK</summary>"
        ),
        "{page}"
    );
    assert!(!page.contains("id=\"no-problems\""));

    // All OK: no problem table, a line that says so, the sets open.
    let d = tempfile::tempdir().unwrap();
    write_fleet(d.path(), 1, |_, _| "OK");
    let (out, page) = html_of(d.path());
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(page
        .contains("<p class=\"all-ok\" id=\"no-problems\">No problems: all 10 sets are OK.</p>"));
    assert!(!page.contains("id=\"problems\""));
    assert!(page
        .contains("<details id=\"ok-sets\" data-count=\"10\" open><summary>10 sets OK</summary>"));
    assert_eq!(rows(&page).len(), 10);

    // Only problems: no OK section at all.
    let d = tempfile::tempdir().unwrap();
    write_fleet(
        d.path(),
        1,
        |_, j| if j % 2 == 0 { "CRITICAL" } else { "UNKNOWN" },
    );
    let (out, page) = html_of(d.path());
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(page.contains("<h2>10 sets with a problem</h2>"));
    assert!(!page.contains("ok-sets\""));
    let states: Vec<String> = rows(&page).into_iter().map(|r| r.0).collect();
    assert_eq!(states[..5], ["CRITICAL"; 5]);
    assert_eq!(states[5..], ["UNKNOWN"; 5]);
}

/// A fleet file's documents come out of `--format json` as they went in, whatever text and
/// shapes they hold (the report keeps each as compact text and writes the pretty array
/// from it): only `set`, `host`, `source` and `drill` are added and state and exit code
/// normalised, in serde_json's pretty layout.
#[test]
fn fleet_documents_come_out_of_the_json_report_as_they_went_in() {
    let d = tempfile::tempdir().unwrap();
    let hostile = "quote \" backslash \\ braces {[]} colon : comma , é ✓ \u{1} \n\t";
    let a = json!({"set": "a", "state": "warning", "exit_code": 0, "summary": hostile,
        "facts": {"age_seconds": 12345.678, "size_bytes": 1_234_567_890_123u64,
                  "nested": {"e": [], "o": {}, "x": [[0.5, -2.25], {"drill": 1}], "s": hostile}},
        "perfdata": [{"label": "age", "value": 7}], "extra": null, "file": "/b/a.sql"});
    let b = json!({"set": "b", "state": "CRITICAL", "exit_code": 2, "drill": {"rows": 1},
        "findings": [{"check": "age", "state": "CRITICAL", "message": hostile}]});
    std::fs::write(d.path().join("db1.json"), json!([a, b]).to_string()).unwrap();
    let out = Run::backup_report(&[
        "--from",
        d.path().to_str().unwrap(),
        "--format",
        "json",
        "--no-history",
    ])
    .output();
    assert_eq!(out.code, 2, "{}", out.stderr);
    let got: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(
        out.stdout,
        format!("{}\n", serde_json::to_string_pretty(&got).unwrap())
    );
    let tagged = |mut doc: Value, state: &str, code: i64| {
        let m = doc.as_object_mut().unwrap();
        m.insert("state".into(), json!(state));
        m.insert("exit_code".into(), json!(code));
        m.insert("host".into(), json!("db1"));
        m.insert("source".into(), json!("file"));
        m.insert("drill".into(), Value::Null); // {"rows": 1} is no drill result
        doc
    };
    // Worst first: b (CRITICAL), then a (WARNING).
    assert_eq!(
        got,
        json!([tagged(b, "CRITICAL", 2), tagged(a, "WARNING", 1)])
    );
}
