//! `--per-database` drills: each database's newest dump, one after another, each by a child
//! `backup-drill --database NAME` of its own.
//!
//! Why children: one drill owns process-wide state (the signal and time-limit watch, the
//! work directory, the disk watcher, the answer that exits the process). A child per
//! database gives each drill all of it and its cleanup on every way out, exactly as a
//! single drill has them; this process only finds the databases, runs the children (each
//! in a process group of its own, stopped with SIGTERM on a signal or the time limit, so
//! that it removes its server and directory) and sums up. Each child writes its result
//! into the cache keyed by the set and its database, where check_backup --per-database RE
//! --drill-max-age reads it.

use std::ffi::OsString;
use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::{give_up, procs, DrillError, Output, Set};
use crate::acquire::discover;
use crate::facts::DrillResult;
use crate::judge::State;
use crate::text::safe;

/// One database's drill, as its child answered.
#[derive(Debug, Clone)]
pub struct DatabaseDrill {
    /// The database.
    pub name: String,
    /// OK (restored), CRITICAL (the drill failed) or UNKNOWN (could not drill).
    pub state: State,
    /// The child's answer in words.
    pub message: String,
    /// The child's result, when it drilled.
    pub result: Option<DrillResult>,
}

/// The most of a child's answer read (one JSON line with at most 50 differences).
const ANSWER_BYTES: u64 = 1 << 20;

/// Drills each database of the `--per-database` set `set`, one after another.
pub(super) fn drill_each(args: &super::Args, set: &Set) -> Result<Vec<DatabaseDrill>, DrillError> {
    // Refused here already (root without --user) rather than once per database.
    super::run_as(args.user.as_deref())?;
    let limit = (args.timeout > 0.0).then(|| Duration::from_secs_f64(args.timeout));
    procs::watch(limit, give_up)
        .map_err(|e| DrillError::Setup(format!("cannot handle signals: {e}")))?;
    let started = Instant::now();
    let re = set
        .per_database
        .as_ref()
        .ok_or_else(|| DrillError::Setup("not a --per-database set".into()))?;
    procs::step("looking for the databases' dumps");
    let groups = discover::discover_per_database(Path::new(&set.dump), re, &set.discovery)
        .map_err(|e| DrillError::Refused(e.to_string()))?;
    if groups.is_empty() {
        return Err(DrillError::Refused(format!(
            "no dump below {} matches --per-database {}",
            safe(&set.dump, 200),
            safe(re.as_str(), 100)
        )));
    }
    let exe = std::env::current_exe()
        .map_err(|e| DrillError::Setup(format!("cannot find backup-drill itself: {e}")))?;
    let mut drills = Vec::new();
    for name in groups.keys() {
        procs::step("drilling the databases one by one");
        let left = limit.map(|l| l.saturating_sub(started.elapsed()));
        let mut cmd = Command::new(&exe);
        cmd.args(child_args(args, name, left))
            .stdin(Stdio::null())
            .stdout(Stdio::piped());
        drills.push(run_child(&mut cmd, name)?);
    }
    Ok(drills)
}

/// The child's command line: this run's options, for database `name` only, answering in
/// JSON, with the time that is left.
fn child_args(args: &super::Args, name: &str, left: Option<Duration>) -> Vec<OsString> {
    let mut argv: Vec<OsString> = Vec::new();
    match (&args.set, &args.dump) {
        (Some(set), _) => {
            argv.extend(["--set".into(), set.into()]);
            if let Some(c) = &args.config {
                argv.extend(["--config".into(), c.as_os_str().to_owned()]);
            }
        }
        (None, Some(dump)) => argv.extend(["-f".into(), dump.into()]),
        (None, None) => {}
    }
    if let Some(re) = &args.per_database {
        argv.extend(["--per-database".into(), re.as_str().into()]);
    }
    argv.extend(["--database".into(), name.into()]);
    if let Some(l) = &args.log {
        argv.extend(["-l".into(), l.into()]);
    }
    if let Some(c) = &args.cache_dir {
        argv.extend(["--cache-dir".into(), c.as_os_str().to_owned()]);
    }
    if let Some(u) = &args.user {
        argv.extend(["--user".into(), u.into()]);
    }
    argv.extend(["--work-dir".into(), args.work_dir.as_os_str().to_owned()]);
    if let Some(m) = args.max_disk {
        argv.extend(["--max-disk".into(), m.to_string().into()]);
    }
    // At least a second: 0 would mean "no limit"; this run's own limit stops it anyway.
    let seconds = left.map_or(0.0, |l| l.as_secs_f64().max(1.0));
    argv.extend(["-t".into(), format!("{seconds:.3}").into()]);
    argv.extend(["--output".into(), "json".into()]);
    argv
}

/// Runs one child to its end and reads its answer.
fn run_child(cmd: &mut Command, name: &str) -> Result<DatabaseDrill, DrillError> {
    let mut child = procs::spawn_with_grace(cmd, None, procs::DRILL_GRACE)
        .map_err(|e| DrillError::Setup(format!("cannot run backup-drill: {e}")))?;
    let mut out = String::new();
    if let Some(mut stdout) = child.stdout.take() {
        let _ = (&mut stdout).take(ANSWER_BYTES).read_to_string(&mut out);
        // Whatever follows is drained, so that the child never blocks on a full pipe.
        let _ = std::io::copy(&mut stdout, &mut std::io::sink());
    }
    let status = child
        .wait()
        .map_err(|e| DrillError::Setup(format!("waiting for backup-drill: {e}")))?;
    procs::stop(&mut child);
    Ok(parse_answer(name, status.code(), &out))
}

/// A child's answer: its exit code decides the state (0 OK, 2 CRITICAL, anything else
/// UNKNOWN), its JSON the words and the result.
pub fn parse_answer(name: &str, code: Option<i32>, out: &str) -> DatabaseDrill {
    let state = match code {
        Some(0) => State::Ok,
        Some(2) => State::Critical,
        _ => State::Unknown,
    };
    let json: Option<serde_json::Value> = serde_json::from_str(out.trim()).ok();
    let message = json
        .as_ref()
        .and_then(|j| j.get("message"))
        .and_then(|m| m.as_str())
        .map(|m| safe(m, 600))
        .unwrap_or_else(|| {
            format!(
                "backup-drill --database {} gave no answer (exit {})",
                safe(name, 64),
                code.map_or("by a signal".to_string(), |c| c.to_string())
            )
        });
    let result = json
        .and_then(|mut j| j.get_mut("result").map(serde_json::Value::take))
        .and_then(|r| serde_json::from_value::<DrillResult>(r).ok());
    // A child that says OK without a result proved nothing.
    let state = if state == State::Ok && result.is_none() {
        State::Unknown
    } else {
        state
    };
    DatabaseDrill {
        name: name.to_string(),
        state,
        message,
        result,
    }
}

/// The answer of a `--per-database` drill and its exit code: 2 when a database's drill
/// failed, else 3 when one could not be drilled, else 0. The first line names the worst;
/// one line per database follows; perfdata `<db>_restore_seconds`, `<db>_restore_rows`.
pub fn answer(drills: &[DatabaseDrill], format: Output) -> (String, i32) {
    let count = |s: State| drills.iter().filter(|d| d.state == s).count();
    let (failed, unknown, restored) = (
        count(State::Critical),
        count(State::Unknown),
        count(State::Ok),
    );
    let state = crate::report::result::worst(drills.iter().map(|d| d.state));
    let code = state.exit_code();
    let n = drills.len();
    let message = if state == State::Ok {
        let results = drills.iter().filter_map(|d| d.result.as_ref());
        let (tables, rows, seconds) = results.fold((0, 0, 0.0), |(t, r, s), d| {
            (t + d.tables, r + d.rows, s + d.restore_seconds)
        });
        format!(
            "restore drill of {n} database{}: {} table{}, {} row{} restored in {}",
            if n == 1 { "" } else { "s" },
            crate::units::grouped(tables),
            if tables == 1 { "" } else { "s" },
            crate::units::grouped(rows),
            if rows == 1 { "" } else { "s" },
            crate::judge::drill::took(seconds)
        )
    } else {
        let mut counts = Vec::new();
        if failed > 0 {
            counts.push(format!("{failed} of {n} databases failed"));
        }
        if unknown > 0 {
            counts.push(format!("{unknown} of {n} could not be drilled"));
        }
        counts.push(format!("{restored} restored"));
        let worst = drills
            .iter()
            .find(|d| d.state == state)
            .map(|d| format!("{}: {}", safe(&d.name, 64), d.message))
            .unwrap_or_default();
        format!("{}; {worst}", counts.join(", "))
    };
    let text = match format {
        Output::Json => serde_json::json!({
            "state": state.to_string(),
            "message": message,
            "databases": drills.iter().map(|d| serde_json::json!({
                "database": d.name,
                "state": d.state.to_string(),
                "message": d.message,
                "result": d.result,
            })).collect::<Vec<_>>(),
        })
        .to_string(),
        Output::Nagios => {
            let perf: Vec<String> = drills
                .iter()
                .filter_map(|d| {
                    let prefix = format!("{}_", crate::present::perf_label(&d.name));
                    d.result.as_ref().map(|r| super::perf_text(r, &prefix))
                })
                .collect();
            let mut text = format!("DRILL {state} - {message}");
            if !perf.is_empty() {
                text.push_str(" | ");
                text.push_str(&perf.join(" "));
            }
            // Worst first, as check_backup's long output.
            let mut order: Vec<&DatabaseDrill> = drills.iter().collect();
            order.sort_by_key(|d| std::cmp::Reverse(crate::report::result::severity(d.state)));
            for d in order {
                text.push_str(&format!(
                    "\n[{}] {}: {}",
                    d.state,
                    safe(&d.name, 64),
                    d.message
                ));
            }
            text
        }
    };
    (text, code)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(state: &str, message: &str, rows: Option<u64>) -> String {
        let result = rows.map(|rows| {
            serde_json::json!({
                "set": "/b", "dump": "/b/shop/shop.sql.gz", "dump_size": 1, "dump_mtime_ns": 1,
                "writer": "mysqldump", "server": "mariadbd", "finished_at": 1u64,
                "outcome": if state == "OK" { "restored" } else { "failed" },
                "error": null, "differences": [], "restore_seconds": 2.5, "tables": 3,
                "views": 0, "rows": rows, "bytes": 1, "databases": [], "database": "shop"
            })
        });
        serde_json::json!({"state": state, "message": message, "result": result}).to_string()
    }

    #[test]
    fn the_exit_code_decides_and_an_ok_without_result_is_unknown() {
        let ok = parse_answer(
            "shop",
            Some(0),
            &json("OK", "restore drill of x: 3 tables", Some(7)),
        );
        assert_eq!(ok.state, State::Ok);
        assert_eq!(ok.result.as_ref().map(|r| r.rows), Some(7));
        let failed = parse_answer(
            "shop",
            Some(2),
            &json("CRITICAL", "failed: ERROR 1146", Some(2)),
        );
        assert_eq!(failed.state, State::Critical);
        // Exit 0 but no result: nothing proved.
        let empty = parse_answer("shop", Some(0), &json("OK", "x", None));
        assert_eq!(empty.state, State::Unknown);
        // Killed, no answer.
        let killed = parse_answer("crm", None, "");
        assert_eq!(killed.state, State::Unknown);
        assert!(
            killed.message.contains("gave no answer (exit by a signal)"),
            "{}",
            killed.message
        );
        // JSON saying OK with exit 3 is not OK.
        let lying = parse_answer("crm", Some(3), &json("OK", "x", Some(1)));
        assert_eq!(lying.state, State::Unknown);
    }

    #[test]
    fn a_failed_database_makes_the_answer_critical_and_is_named_first() {
        let drills = vec![
            parse_answer(
                "crm",
                Some(0),
                &json("OK", "restore drill of crm.sql.gz: 3 tables", Some(10)),
            ),
            parse_answer(
                "shop",
                Some(2),
                &json(
                    "CRITICAL",
                    "restore drill of shop.sql.gz failed: ERROR 1146",
                    Some(4),
                ),
            ),
            parse_answer(
                "wiki",
                Some(3),
                &json(
                    "UNKNOWN",
                    "could not drill: mariadbd is not installed",
                    None,
                ),
            ),
        ];
        let (text, code) = answer(&drills, Output::Nagios);
        assert_eq!(code, 2);
        let first = text.lines().next().unwrap();
        assert!(
            first.starts_with(
                "DRILL CRITICAL - 1 of 3 databases failed, 1 of 3 could not be drilled, 1 restored; \
                 shop: restore drill of shop.sql.gz failed: ERROR 1146 | "
            ),
            "{text}"
        );
        // A failed drill proved no row restored.
        assert!(first.contains("crm_restore_rows=10;;;0"), "{first}");
        assert!(first.contains("shop_restore_rows=0;;;0"), "{first}");
        assert!(first.contains("shop_restore_seconds=2.5s;;;0"), "{first}");
        assert!(!first.contains("wiki_restore"), "{first}");
        let rest: Vec<&str> = text.lines().skip(1).collect();
        assert_eq!(rest.len(), 3);
        assert!(rest[0].starts_with("[CRITICAL] shop: "), "{text}");
        assert!(
            rest[1].starts_with("[UNKNOWN] wiki: could not drill"),
            "{text}"
        );
        assert!(rest[2].starts_with("[OK] crm: "), "{text}");
    }

    #[test]
    fn all_restored_is_ok_with_the_sums_and_unknown_without_failures_is_3() {
        let drills = vec![
            parse_answer("crm", Some(0), &json("OK", "a", Some(1_000))),
            parse_answer("shop", Some(0), &json("OK", "b", Some(234))),
        ];
        let (text, code) = answer(&drills, Output::Nagios);
        assert_eq!(code, 0);
        assert!(
            text.starts_with(
                "DRILL OK - restore drill of 2 databases: 6 tables, 1,234 rows restored in 5.0s | "
            ),
            "{text}"
        );
        let (json_text, _) = answer(&drills, Output::Json);
        let v: serde_json::Value = serde_json::from_str(&json_text).unwrap();
        assert_eq!(v["state"], "OK");
        assert_eq!(v["databases"][1]["database"], "shop");
        assert_eq!(v["databases"][1]["result"]["rows"], 234);

        let drills = vec![
            parse_answer("crm", Some(0), &json("OK", "a", Some(1))),
            parse_answer(
                "shop",
                Some(3),
                &json("UNKNOWN", "could not drill: no room", None),
            ),
        ];
        let (text, code) = answer(&drills, Output::Nagios);
        assert_eq!(code, 3);
        assert!(text.starts_with("DRILL UNKNOWN - 1 of 2 could not be drilled, 1 restored; shop: could not drill: no room"), "{text}");
    }
}
