//! The HTML page: one self-contained static file (inline CSS, inline SVG, one small inline
//! script allowed by its hash, no external asset — a Content-Security-Policy says so, and
//! the browser test proves it), readable on a phone (the table becomes one card per set on
//! narrow screens) and usable for a fleet of 10,000 sets: the sets with a problem first,
//! the OK ones collapsed behind "N sets OK" (open when there are few), and a search box
//! that filters rows by host and set. Without the script everything still shows (the
//! search box stays hidden; the OK sets open with a click).
//!
//! Everything taken from files, the API or fleet results passes through [`esc`]: control
//! characters become visible `\xNN` text and `& < > " '` become entities.

use std::collections::HashMap;
use std::fmt::Write as _;

use super::result::{counts, parse_state, SetResult};
use super::text::{age_text, points_text, size_text, time_text};
use super::Page;
use crate::judge::State;
use crate::units::{human_duration, human_size};

/// Text from outside made safe for HTML: control and bidi characters escaped visibly,
/// shortened to `max` characters, then HTML-escaped.
pub fn esc(text: &str, max: usize) -> String {
    let safe = crate::text::safe(text, max);
    let mut out = String::with_capacity(safe.len());
    for c in safe.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Size history per (host, set): (epoch seconds, bytes, state), oldest first.
type Series = HashMap<(String, String), Vec<(i64, f64, State)>>;

/// The CSS class of a state.
pub fn state_class(state: State) -> &'static str {
    match state {
        State::Ok => "state-ok",
        State::Warning => "state-warning",
        State::Critical => "state-critical",
        State::Unknown => "state-unknown",
    }
}

const CSS: &str = r#"
:root{--ok:#1b7f3b;--ok-bg:#e3f4e8;--warning:#9a6400;--warning-bg:#fff3d1;--critical:#c4291c;--critical-bg:#fde4e1;--unknown:#6941b8;--unknown-bg:#eee7fb;--fg:#1d2330;--muted:#5f6878;--line:#dde1e8;--bg:#f5f6f8;--card:#fff}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
header{background:#1d2330;color:#fff;padding:18px 24px}
header h1{margin:0 0 4px;font-size:22px;font-weight:650}
header .meta{color:#c5cad3;font-size:14px}
.counts{display:flex;flex-wrap:wrap;gap:8px;margin-top:12px}
.count{border-radius:999px;padding:3px 12px;font-weight:650;font-size:14px;background:#39404f;color:#fff}
.count.state-ok{background:var(--ok)}.count.state-warning{background:#c98a00}.count.state-critical{background:var(--critical)}.count.state-unknown{background:var(--unknown)}
.count.zero{background:#39404f;color:#aab1bd}
main{padding:18px 24px 32px;max-width:1500px}
.notes{background:#fff8e1;border:1px solid #f0d48a;border-radius:8px;padding:10px 14px;margin-bottom:16px}
.notes h2{font-size:15px;margin:0 0 4px}.notes ul{margin:0;padding-left:18px}
table{width:100%;border-collapse:separate;border-spacing:0;background:var(--card);border:1px solid var(--line);border-radius:10px;overflow:hidden}
th{text-align:left;font-size:12px;text-transform:uppercase;letter-spacing:.04em;color:var(--muted);background:#fafbfc;padding:9px 10px;border-bottom:1px solid var(--line)}
td{padding:10px 10px;border-bottom:1px solid var(--line);vertical-align:top}
tr.set:last-child td{border-bottom:0}
tr.set td:first-child{border-left:5px solid var(--c)}
tr.state-ok{--c:var(--ok);--cbg:var(--ok-bg)}tr.state-warning{--c:var(--warning);--cbg:var(--warning-bg)}tr.state-critical{--c:var(--critical);--cbg:var(--critical-bg)}tr.state-unknown{--c:var(--unknown);--cbg:var(--unknown-bg)}
.badge{display:inline-block;border-radius:5px;padding:2px 8px;font-size:12px;font-weight:700;letter-spacing:.03em;color:var(--c);background:var(--cbg);white-space:nowrap}
[hidden]{display:none!important}
.tools{display:flex;flex-wrap:wrap;align-items:center;gap:8px;margin:0 0 14px;font-size:14px;color:var(--muted)}
.tools input{font:inherit;color:var(--fg);padding:5px 10px;border:1px solid #c3c9d3;border-radius:6px;width:22em;max-width:100%}
#problems h2{font-size:16px;margin:0 0 8px}
.all-ok{background:var(--ok-bg);color:var(--ok);border-radius:8px;padding:10px 14px;font-weight:650;margin:0 0 12px}
#ok-sets{margin-top:18px}
#ok-sets>summary{font-size:16px;font-weight:650;color:var(--ok);padding:4px 0 8px}
.name{font-weight:650;overflow-wrap:anywhere}.host{display:inline-block;max-width:100%;margin-left:6px;font-size:12px;color:var(--muted);border:1px solid var(--line);border-radius:4px;padding:0 5px;overflow-wrap:anywhere}
.file,.sub{font-size:12.5px;color:var(--muted);overflow-wrap:anywhere}
td.c-set{min-width:10em;max-width:24em}
td.c-problems{font-size:14px;min-width:14em;overflow-wrap:anywhere}
.num{white-space:nowrap;font-variant-numeric:tabular-nums}.num .sub{white-space:normal}
.wide{overflow-x:auto}
.bad{color:var(--critical);font-weight:650}
.spark{display:block;color:#4a5568}
.spark .none{fill:var(--muted);font-size:10px}
ul.problems,ul.log{list-style:none;margin:0;padding:0}
ul.problems li{margin:0 0 4px;overflow-wrap:anywhere}
.tag{font-size:11px;font-weight:700;margin-right:4px}
.tag.state-warning{color:var(--warning)}.tag.state-critical{color:var(--critical)}.tag.state-unknown{color:var(--unknown)}.tag.state-ok{color:var(--ok)}
ul.log{margin-top:6px;border-left:3px solid var(--line);padding-left:8px}
ul.log li{font:12.5px/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;overflow-wrap:anywhere;margin-bottom:3px}
ul.log .lvl{font-weight:700}.lvl-error{color:var(--critical)}.lvl-warning{color:var(--warning)}
.fine{color:var(--muted)}
details summary{cursor:pointer;color:var(--muted);font-size:12.5px}
footer{color:var(--muted);font-size:12.5px;margin-top:14px}
@media (max-width:760px){
 header{padding:14px 16px}main{padding:12px 10px 24px}
 table,thead,tbody,tr,td{display:block;width:100%}
 table{border:0;background:none}
 thead{display:none}
 tr.set{background:var(--card);border:1px solid var(--line);border-left:6px solid var(--c);border-radius:10px;margin-bottom:12px;padding:6px 0}
 tr.set td,tr.set td:first-child{border:0;padding:4px 12px}
 td[data-label]::before{content:attr(data-label);display:block;font-size:11px;text-transform:uppercase;letter-spacing:.04em;color:var(--muted)}
 td.c-state::before,td.c-set::before{display:none}
 td.c-age,td.c-size,td.c-change,td.c-schedule,td.c-points,td.c-rpo,td.c-drill{display:inline-block;width:auto;min-width:31%;vertical-align:top}
}
@media print{header{background:none;color:#000}.count{border:1px solid #000}}
"#;

/// Up to this many OK sets show open; more are collapsed behind "N sets OK".
pub const OPEN_OK_UP_TO: usize = 50;

/// The head of a table of sets; the "Last drill" column only when a set has a drill.
fn table_head(drills: bool) -> String {
    format!(
        "<thead><tr><th>State</th><th>Set</th><th>Age</th><th>Size</th><th>Change</th><th>Schedule</th><th>Restore points</th><th>RPO 30d</th>{}<th>Size history</th><th>Problems</th></tr></thead>\n",
        if drills { "<th>Last drill</th>" } else { "" }
    )
}

/// The search box: shows itself, then hides the rows whose host and set do not contain
/// every word typed, and opens the OK sets while one of them matches. Rows are matched on
/// their `data-host`/`data-set` attributes (escaped text, read back unescaped by the DOM).
/// Plain ES5, no external asset; allowed by its hash in the page's CSP.
pub const SCRIPT: &str = "(function(){var d=document,q=d.getElementById('search'),c=d.getElementById('search-count'),ok=d.getElementById('ok-sets'),rows=[].slice.call(d.querySelectorAll('tr.set')),keys=rows.map(function(r){return (r.getAttribute('data-host')+' '+r.getAttribute('data-set')).toLowerCase()}),active=false,saved=false,t;if(!q)return;d.getElementById('tools').hidden=false;function apply(){var w=q.value.toLowerCase().split(/\\s+/).filter(Boolean),n=0,nok=0;rows.forEach(function(r,i){var m=w.every(function(x){return keys[i].indexOf(x)>=0});r.hidden=!m;if(m){n++;if(r.getAttribute('data-state')==='OK')nok++}});if(ok){if(w.length){if(!active){saved=ok.open;active=true}ok.open=nok>0}else if(active){ok.open=saved;active=false}}c.textContent=w.length?n+' of '+rows.length+' sets':''}q.addEventListener('input',function(){clearTimeout(t);t=setTimeout(apply,150)})})();";

/// The CSP source of [`SCRIPT`]: `sha256-` and its base64 digest.
pub fn script_hash() -> String {
    use sha2::Digest as _;
    let digest = sha2::Sha256::digest(SCRIPT.as_bytes());
    format!("sha256-{}", super::icinga::base64(&digest))
}

/// `9412` → `9,412`.
pub fn thousands(n: usize) -> String {
    crate::units::grouped(n as u64)
}

/// A size-history sparkline (inline SVG) of one set, from the history window.
pub fn sparkline(points: &[(i64, f64, State)], days: u32) -> String {
    const W: f64 = 150.0;
    const H: f64 = 36.0;
    const PAD: f64 = 4.0;
    if points.is_empty() {
        return format!(
            r#"<svg class="spark" width="{W}" height="{H}" viewBox="0 0 {W} {H}" role="img" aria-label="no size history"><text class="none" x="0" y="22">no size history</text></svg>"#
        );
    }
    let t0 = points.iter().map(|p| p.0).min().unwrap_or(0);
    let t1 = points.iter().map(|p| p.0).max().unwrap_or(0);
    let max = points.iter().map(|p| p.1).fold(0.0_f64, f64::max);
    let min = points.iter().map(|p| p.1).fold(f64::INFINITY, f64::min);
    let x = |t: i64| {
        if t1 > t0 {
            PAD + (t - t0) as f64 / (t1 - t0) as f64 * (W - 2.0 * PAD)
        } else {
            W - PAD
        }
    };
    // From zero: a dump that halved looks halved, day-to-day jitter stays flat.
    let y = |v: f64| {
        if max > 0.0 {
            H - PAD - v / max * (H - 2.0 * PAD)
        } else {
            H - PAD
        }
    };
    let coords: Vec<String> = points
        .iter()
        .map(|p| format!("{:.1},{:.1}", x(p.0), y(p.1)))
        .collect();
    let last = points[points.len() - 1];
    let label = format!(
        "size over the last {days} days: {} run{}, {} to {}, now {}",
        points.len(),
        if points.len() == 1 { "" } else { "s" },
        human_size(min),
        human_size(max),
        human_size(last.1)
    );
    let mut svg = format!(
        r#"<svg class="spark" width="{W}" height="{H}" viewBox="0 0 {W} {H}" role="img" aria-label="{label}"><title>{label}</title>"#
    );
    let _ = write!(
        svg,
        r##"<line x1="{PAD}" y1="{b:.1}" x2="{e}" y2="{b:.1}" stroke="#dde1e8" stroke-width="1"/>"##,
        b = H - PAD + 0.5,
        e = W - PAD
    );
    if points.len() > 1 {
        let _ = write!(
            svg,
            r#"<polyline fill="none" stroke="currentColor" stroke-width="1.6" stroke-linejoin="round" stroke-linecap="round" points="{}"/>"#,
            coords.join(" ")
        );
    }
    for (i, p) in points.iter().enumerate() {
        let is_last = i + 1 == points.len();
        if p.2 == State::Ok && !is_last {
            continue;
        }
        let colour = match p.2 {
            State::Ok => "#1b7f3b",
            State::Warning => "#c98a00",
            State::Critical => "#c4291c",
            State::Unknown => "#6941b8",
        };
        let _ = write!(
            svg,
            r#"<circle cx="{:.1}" cy="{:.1}" r="{}" fill="{colour}"/>"#,
            x(p.0),
            y(p.1),
            if is_last { 3.0 } else { 2.2 }
        );
    }
    svg.push_str("</svg>");
    svg
}

/// Renders the page.
pub fn render(page: &Page) -> String {
    let results = page.results;
    // History points per (host, set).
    let mut series: Series = HashMap::new();
    for e in page.history {
        if let (Some(t), Some(size)) = (e.epoch(), e.size) {
            let state = parse_state(&e.state).unwrap_or(State::Unknown);
            series
                .entry((e.host.clone(), e.set.clone()))
                .or_default()
                .push((t, size as f64, state));
        }
    }
    for v in series.values_mut() {
        v.sort_by_key(|p| p.0);
    }
    let mut h = String::with_capacity(16 * 1024);
    let title = format!("Backup report: {}", page.host);
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:; script-src '{}'\">\n\
<meta name=\"generator\" content=\"backup-report {}\">\n\
<title>{}</title>\n<style>{CSS}</style>\n</head>\n<body>\n",
        script_hash(),
        env!("CARGO_PKG_VERSION"),
        esc(&title, 200)
    );
    let _ = write!(
        h,
        "<header>\n<h1>Backup report</h1>\n<div class=\"meta\"><span id=\"report-host\">{}</span> · <time datetime=\"{}\">{}</time> · {} set{}</div>\n<div class=\"counts\">",
        esc(page.host, 200),
        esc(&page.time, 60),
        esc(&page.time_display, 60),
        thousands(results.len()),
        if results.len() == 1 { "" } else { "s" }
    );
    for (state, n) in counts(results) {
        let _ = write!(
            h,
            "<span class=\"count {}{}\" data-state=\"{state}\" data-count=\"{n}\">{} {state}</span>",
            state_class(state),
            if n == 0 { " zero" } else { "" },
            thousands(n)
        );
    }
    h.push_str("</div>\n</header>\n<main>\n");
    if !page.notes.is_empty() {
        h.push_str("<section class=\"notes\" id=\"notes\"><h2>Notes on the report itself</h2><ul>");
        for n in page.notes {
            let _ = write!(h, "<li>{}</li>", esc(n, 800));
        }
        h.push_str("</ul></section>\n");
    }
    if results.is_empty() {
        h.push_str("<p>No backup sets were checked.</p>\n");
    } else {
        // The last restore drill: a column only when a set has one (backup-drill).
        let drills = results.iter().any(|r| r.drill.is_some());
        let head = table_head(drills);
        // Hidden until the script shows it: without the script it could not filter.
        h.push_str(
            "<div class=\"tools\" id=\"tools\" hidden><label for=\"search\">Filter</label> <input type=\"search\" id=\"search\" placeholder=\"host or set\" autocomplete=\"off\" spellcheck=\"false\"> <span id=\"search-count\" aria-live=\"polite\"></span></div>\n",
        );
        // The results come worst first; the OK ones go behind a <details> of their own.
        let problems = results.iter().filter(|r| r.state() != State::Ok);
        let ok: Vec<&SetResult> = results.iter().filter(|r| r.state() == State::Ok).collect();
        let n_problems = results.len() - ok.len();
        if n_problems == 0 {
            let _ = writeln!(
                h,
                "<p class=\"all-ok\" id=\"no-problems\">No problems: {}.</p>",
                if ok.len() == 1 {
                    "the one set is OK".to_string()
                } else {
                    format!("all {} sets are OK", thousands(ok.len()))
                }
            );
        } else {
            let _ = write!(
                h,
                "<section id=\"problems\"><h2>{} set{} with a problem</h2>\n<div class=\"wide\"><table class=\"sets\">\n{head}<tbody>\n",
                thousands(n_problems),
                if n_problems == 1 { "" } else { "s" }
            );
            for r in problems {
                row(&mut h, r, page, &series, drills);
            }
            h.push_str("</tbody>\n</table></div>\n</section>\n");
        }
        if !ok.is_empty() {
            let n = ok.len();
            let _ = write!(
                h,
                "<details id=\"ok-sets\" data-count=\"{n}\"{open}><summary>{} set{} OK</summary>\n<div class=\"wide\"><table class=\"sets\">\n{head}<tbody>\n",
                thousands(n),
                if n == 1 { "" } else { "s" },
                open = if n <= OPEN_OK_UP_TO { " open" } else { "" },
            );
            for r in ok {
                row(&mut h, r, page, &series, drills);
            }
            h.push_str("</tbody>\n</table></div>\n</details>\n");
        }
        let _ = writeln!(h, "<script>{SCRIPT}</script>");
    }
    let _ = write!(
        h,
        "<footer>backup-report {} · checked with check_backup · size history: last {} days{}</footer>\n</main>\n</body>\n</html>\n",
        env!("CARGO_PKG_VERSION"),
        page.days,
        page.history_file
            .map(|f| format!(" from {}", esc(f, 200)))
            .unwrap_or_default()
    );
    h
}

fn row(h: &mut String, r: &SetResult, page: &Page, series: &Series, drills: bool) {
    let state = r.state();
    let class = state_class(state);
    let host = r.host_or(page.host);
    let _ = write!(
        h,
        "<tr class=\"set {class}\" data-set=\"{}\" data-host=\"{}\" data-state=\"{state}\">",
        esc(&r.set, 200),
        esc(host, 200)
    );
    let _ = write!(
        h,
        "<td class=\"c-state\" data-label=\"State\"><span class=\"badge\">{state}</span></td>"
    );
    // Set, host, file.
    let _ = write!(
        h,
        "<td class=\"c-set\" data-label=\"Set\"><span class=\"name\">{}</span>",
        esc(&r.set, 200)
    );
    if let Some(fleet_host) = &r.host {
        let _ = write!(h, "<span class=\"host\">{}</span>", esc(fleet_host, 200));
    }
    if let Some(f) = r.file() {
        let _ = write!(h, "<div class=\"file\">{}</div>", esc(&f, 400));
    }
    // A pg_backupcluster set: its newest entry of each kind.
    for e in r.entries() {
        let mut words = vec![e.state.to_string()];
        words.extend(e.age_seconds.map(|a| format!("{} old", human_duration(a))));
        words.extend(e.size_bytes.map(human_size));
        let _ = write!(
            h,
            "<div class=\"sub\">{} {}: {}</div>",
            esc(&e.kind, 20),
            esc(&e.entry, 120),
            esc(&words.join(", "), 80)
        );
    }
    h.push_str("</td>");
    // Age.
    let _ = write!(
        h,
        "<td class=\"c-age num\" data-label=\"Age\">{}",
        dash(esc(&age_text(r), 40))
    );
    if let Some(at) = r.checked_at() {
        let _ = write!(
            h,
            "<div class=\"sub\">checked {}</div>",
            esc(&short_time(&at, &page.time), 40)
        );
    }
    h.push_str("</td>");
    // Size.
    let _ = write!(
        h,
        "<td class=\"c-size num\" data-label=\"Size\">{}",
        dash(esc(&size_text(r), 40))
    );
    if let Some(u) = r.uncompressed_bytes() {
        if Some(u) != r.size_bytes() {
            let _ = write!(
                h,
                "<div class=\"sub\">{} raw</div>",
                esc(&human_size(u), 40)
            );
        }
    }
    h.push_str("</td>");
    // Change.
    let shrank = r
        .problems()
        .iter()
        .any(|p| p.check == "size_trend" && p.state != State::Ok);
    let _ = write!(
        h,
        "<td class=\"c-change num{}\" data-label=\"Change\">{}</td>",
        if shrank { " bad" } else { "" },
        change_html(r)
    );
    // Schedule and next run.
    h.push_str("<td class=\"c-schedule\" data-label=\"Schedule\">");
    match r.schedule() {
        Some(sch) => {
            let _ = write!(
                h,
                "<code>{}</code><div class=\"sub\">next {}</div>",
                esc(&sch.expression, 100),
                esc(
                    &sch.next_run
                        .as_deref()
                        .map(time_text)
                        .unwrap_or_else(|| "never".into()),
                    40
                )
            );
        }
        None => h.push_str("&mdash;"),
    }
    h.push_str("</td>");
    // Restore points: count and oldest; the bad ones named.
    match r.restore_points() {
        Some(p) => {
            let bad = !p.bad.is_empty() || p.good < p.count;
            let _ = write!(
                h,
                "<td class=\"c-points num{}\" data-label=\"Restore points\">{}",
                if bad { " bad" } else { "" },
                esc(&points_text(r), 80)
            );
            for (file, problem) in &p.bad {
                let _ = write!(
                    h,
                    "<div class=\"sub\">{}: {}</div>",
                    esc(file, 200),
                    esc(problem, 300)
                );
            }
            h.push_str("</td>");
        }
        None => h.push_str("<td class=\"c-points num\" data-label=\"Restore points\">&mdash;</td>"),
    }
    // RPO compliance over the history on disk.
    match r.rpo() {
        Some(rpo) => {
            let window = f64::from(rpo.days) * 86_400.0;
            let _ = write!(
                h,
                "<td class=\"c-rpo num{}\" data-label=\"RPO {}d\" data-rpo=\"{:.1}\">{:.1}%",
                if rpo.percent < 99.0 { " bad" } else { "" },
                rpo.days,
                rpo.percent,
                rpo.percent
            );
            if rpo.observed_seconds + 60.0 < window {
                let _ = write!(
                    h,
                    "<div class=\"sub\">of {} on disk</div>",
                    esc(&human_duration(rpo.observed_seconds), 40)
                );
            }
            h.push_str("</td>");
        }
        None => h.push_str("<td class=\"c-rpo num\" data-label=\"RPO 30d\">&mdash;</td>"),
    }
    if drills {
        drill_cell(h, r);
    }
    // Sparkline.
    let points = series
        .get(&(host.to_string(), r.set.clone()))
        .cloned()
        .unwrap_or_else(|| {
            r.size_bytes()
                .map(|s| vec![(chrono::Local::now().timestamp(), s, state)])
                .unwrap_or_default()
        });
    let _ = write!(
        h,
        "<td class=\"c-history\" data-label=\"Size history\">{}</td>",
        sparkline(&points, page.days)
    );
    // Problems and log lines.
    h.push_str("<td class=\"c-problems\" data-label=\"Problems\">");
    let problems = r.problems();
    if problems.is_empty() {
        if state == State::Ok {
            h.push_str("<span class=\"fine\">all checks OK</span>");
        } else {
            let _ = write!(h, "<div>{}</div>", esc(&r.summary(), 1000));
        }
    } else {
        h.push_str("<ul class=\"problems\">");
        for p in &problems {
            let _ = write!(
                h,
                "<li><span class=\"tag {}\">{}</span> {}</li>",
                state_class(p.state),
                p.state,
                esc(&p.message, 600)
            );
        }
        h.push_str("</ul>");
    }
    let log = r.log_lines();
    if !log.is_empty() {
        const SHOWN: usize = 4;
        let item = |l: &super::result::LogLine| {
            let lvl = if l.level.eq_ignore_ascii_case("error") {
                "lvl-error"
            } else {
                "lvl-warning"
            };
            format!(
                "<li><span class=\"lvl {lvl}\">{}</span>{} {}</li>",
                esc(&l.level, 10),
                l.line.map(|n| format!(" line {n}:")).unwrap_or_default(),
                esc(&l.text, 400)
            )
        };
        h.push_str("<ul class=\"log\">");
        for l in log.iter().take(SHOWN) {
            h.push_str(&item(l));
        }
        h.push_str("</ul>");
        if log.len() > SHOWN {
            let _ = write!(
                h,
                "<details><summary>{} more log lines</summary><ul class=\"log\">",
                log.len() - SHOWN
            );
            for l in log.iter().skip(SHOWN) {
                h.push_str(&item(l));
            }
            h.push_str("</ul></details>");
        }
    }
    h.push_str("</td></tr>\n");
}

/// The last restore drill: when, its outcome and duration (as the text report's LAST
/// DRILL), what it restored, and a failed drill's error.
fn drill_cell(h: &mut String, r: &SetResult) {
    let Some(d) = &r.drill else {
        h.push_str("<td class=\"c-drill num\" data-label=\"Last drill\">&mdash;</td>");
        return;
    };
    let failed = d.outcome == crate::facts::DrillOutcome::Failed;
    let _ = write!(
        h,
        "<td class=\"c-drill num{}\" data-label=\"Last drill\" data-outcome=\"{}\" data-finished=\"{}\" data-seconds=\"{:.3}\" data-rows=\"{}\">{}",
        if failed { " bad" } else { "" },
        if failed { "failed" } else { "restored" },
        d.finished_at,
        d.restore_seconds,
        // A failed drill proved no row restored (as backup-drill's perfdata says).
        if failed { 0 } else { d.rows },
        esc(&super::text::drill_text(r), 80)
    );
    let dump = std::path::Path::new(&d.dump)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| d.dump.clone());
    let _ = write!(
        h,
        "<div class=\"sub\">{}{}</div>",
        if failed {
            String::new()
        } else {
            format!(
                "{} table{}, {} row{} of ",
                crate::judge::drill::grouped(d.tables),
                if d.tables == 1 { "" } else { "s" },
                crate::judge::drill::grouped(d.rows),
                if d.rows == 1 { "" } else { "s" },
            )
        },
        esc(&dump, 120)
    );
    if let Some(e) = d.error.as_deref().filter(|_| failed) {
        let _ = write!(h, "<div class=\"sub bad\">{}</div>", esc(e, 400));
    }
    h.push_str("</td>");
}

/// A dash for "not known".
fn dash(text: String) -> String {
    if text == "-" {
        "&mdash;".into()
    } else {
        text
    }
}

/// The size change with a real minus sign, or a dash when not known.
fn change_html(r: &SetResult) -> String {
    match r.size_change() {
        Some(c) => format!("{c:+.1}%").replace('-', "&minus;"),
        None => "&mdash;".into(),
    }
}

/// `2026-11-26T07:30:12+01:00` → `07:30` on the report's day, else `2026-11-25 07:30`.
fn short_time(rfc3339: &str, report_time: &str) -> String {
    let day = |s: &str| {
        chrono::DateTime::parse_from_rfc3339(s)
            .ok()
            .map(|t| t.date_naive())
    };
    match chrono::DateTime::parse_from_rfc3339(rfc3339) {
        Ok(t) if day(report_time) == Some(t.date_naive()) => t.format("%H:%M").to_string(),
        Ok(t) => t.format("%Y-%m-%d %H:%M").to_string(),
        Err(_) => rfc3339.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping() {
        assert_eq!(
            esc("<script>alert('x')</script> & \"q\"", 100),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;"
        );
        assert_eq!(esc("a\nb\u{1b}[31m", 100), "a\\x0ab\\x1b[31m");
    }

    fn drill(outcome: &str, error: Option<&str>) -> crate::facts::DrillResult {
        serde_json::from_value(serde_json::json!({
            "set": "/b", "dump": "/b/shop-2026-11-29.sql.gz", "dump_size": 1, "dump_mtime_ns": 1,
            "writer": "mysqldump", "server": "mariadbd", "finished_at": 1_796_000_000u64,
            "outcome": outcome, "error": error, "differences": [],
            "restore_seconds": 192.0, "tables": 3, "views": 1, "rows": 8340, "bytes": 100,
            "databases": []
        }))
        .unwrap()
    }

    fn page_of(results: &[SetResult]) -> String {
        render(&Page {
            host: "db1",
            time: "2026-11-30T08:00:00+00:00".into(),
            time_display: "2026-11-30 08:00".into(),
            results,
            history: &[],
            days: 30,
            history_file: None,
            notes: &[],
        })
    }

    #[test]
    fn the_last_drill_has_a_column_when_a_set_has_one() {
        use crate::report::result::Source;
        let mut restored = SetResult::unknown("shop", None, Source::Local, "x");
        restored.set_drill(Some(drill("restored", None)));
        let mut failed = SetResult::unknown("crm", None, Source::Local, "x");
        failed.set_drill(Some(drill(
            "failed",
            Some("ERROR 1146 (42S02) at line 8400: Table 'shop.<x>' doesn't exist"),
        )));
        let none = SetResult::unknown("web", None, Source::Local, "x");
        let h = page_of(&[restored, failed, none.clone()]);
        assert!(h.contains("<th>RPO 30d</th><th>Last drill</th><th>Size history</th>"));
        let cell = |set: &str| {
            let row = &h[h.find(&format!("data-set=\"{set}\"")).unwrap()..];
            let row = &row[..row.find("</tr>").unwrap()];
            let start = row.find("<td class=\"c-drill").unwrap();
            row[start..start + row[start..].find("</td>").unwrap()].to_string()
        };
        let c = cell("shop");
        assert!(
            c.contains("data-outcome=\"restored\" data-finished=\"1796000000\" data-seconds=\"192.000\" data-rows=\"8340\">")
                && c.contains(" restored in 3m 12s<div class=\"sub\">3 tables, 8,340 rows of shop-2026-11-29.sql.gz</div>"),
            "{c}"
        );
        let c = cell("crm");
        assert!(
            c.starts_with("<td class=\"c-drill num bad\"")
                && c.contains("data-outcome=\"failed\"")
                && c.contains("data-rows=\"0\"")
                && c.contains(" FAILED after 3m 12s")
                && c.contains("<div class=\"sub bad\">ERROR 1146 (42S02) at line 8400: Table &#39;shop.&lt;x&gt;&#39; doesn&#39;t exist</div>"),
            "{c}"
        );
        assert_eq!(
            cell("web"),
            "<td class=\"c-drill num\" data-label=\"Last drill\">&mdash;"
        );
        // No set with a drill: no column.
        let h = page_of(&[none]);
        assert!(!h.contains("Last drill"), "{h}");
        assert!(h.contains("<th>RPO 30d</th><th>Size history</th>"));
    }

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(9412), "9,412");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }

    #[test]
    fn the_script_hash_is_that_of_the_script() {
        // sha256 of the script, base64: what Chromium checks against the CSP.
        let h = script_hash();
        assert!(h.starts_with("sha256-") && h.len() == 7 + 44, "{h}");
        assert_ne!(
            h,
            format!("sha256-{}", super::super::icinga::base64(&[0; 32]))
        );
        assert!(
            !SCRIPT.contains("</"),
            "the script must not close its own tag"
        );
    }

    #[test]
    fn sparkline_shapes() {
        let s = sparkline(&[], 30);
        assert!(s.contains("no size history"));
        let one = sparkline(&[(100, 1000.0, State::Ok)], 30);
        assert!(one.contains("<circle") && !one.contains("<polyline"));
        let many = sparkline(
            &[
                (0, 1000.0, State::Ok),
                (86_400, 1100.0, State::Ok),
                (172_800, 400.0, State::Warning),
            ],
            30,
        );
        assert!(many.contains("<polyline"));
        assert_eq!(many.matches("<circle").count(), 1, "{many}");
        assert!(many.contains("3 runs"));
        // No number ever renders as NaN.
        assert!(!many.contains("NaN"));
        let flat = sparkline(&[(5, 0.0, State::Ok), (5, 0.0, State::Ok)], 7);
        assert!(!flat.contains("NaN"), "{flat}");
    }
}
