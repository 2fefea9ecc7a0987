//! `agent bench load` as CI runs it: the real binary, the real model, the demo EHR, SQLite (and
//! PostgreSQL when the run has one). The short run (4 patients, a few turns, a hundred idle
//! streams) must finish without a single error and write every figure to its JSON; the full
//! run (1/4/16/64 patients, 1,000 idle streams) is `--ignored`.

use std::path::Path;

use e2e::{agent_command, ensure_models, workspace_root};

/// Every figure the report must carry, as JSON pointers.
const FIELDS: &[&str] = &[
    "/machine/cpus",
    "/machine/load_average_at_start",
    "/machine/build",
    "/conditions/rate_limit_per_minute",
    "/conditions/model_threads",
    "/conditions/model_queue_capacity",
    "/conditions/turn_deadline_ms",
    "/conditions/turns_per_session",
    "/conditions/modelfree_concurrency",
    "/conditions/scenarios",
    "/load/0/sessions",
    "/load/0/ehr_rtt_ms",
    "/load/0/turns_per_session",
    "/load/0/turns",
    "/load/0/conversations",
    "/load/0/seconds",
    "/load/0/turns_per_sec",
    "/load/0/latency/p50_ms",
    "/load/0/latency/p95_ms",
    "/load/0/latency/p99_ms",
    "/load/0/first_event/p50_ms",
    "/load/0/first_event/p99_ms",
    "/load/0/errors",
    "/load/0/cpu/machine_seconds",
    "/load/0/cpu/ehr_seconds",
    "/model_free/0/backend",
    "/model_free/0/level",
    "/model_free/0/turns_per_sec",
    "/model_free/0/latency/p99_ms",
    "/model_free/0/errors",
    "/streams/idle_open",
    "/streams/idle_closed_early",
    "/streams/active_turns",
    "/streams/latency/p95_ms",
    "/streams/first_event/p99_ms",
    "/streams/errors",
    "/streams/baseline_latency/p95_ms",
    "/streams/baseline_turns_per_sec",
    "/streams/fd_limit",
    "/streams/rss_mb_before",
    "/streams/rss_mb_with_idle",
    "/streams/rss_mb_end",
    "/targets/0/name",
    "/targets/0/met",
    "/ratio_ceilings/0/ceiling",
];

fn bench(dir: &Path, args: &[&str]) -> serde_json::Value {
    ensure_models();
    agent_command(dir).args(["keys", "init"]).output().expect("run agent keys init");
    let json = dir.join("load.json");
    let cases = workspace_root().join("workflows/conversations");
    let mut cmd = agent_command(dir);
    cmd.args(["bench", "load", "--json"]).arg(&json).arg("--conversations").arg(&cases).args(args);
    if let Ok(url) = std::env::var("AGENT_TEST_DATABASE_URL") {
        cmd.args(["--postgres", &url]);
    }
    let out = cmd.env("RUST_LOG", "warn").output().expect("run agent bench load");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "bench failed:\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("sessions") && stdout.contains("targets"), "no table printed:\n{stdout}");
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).expect("JSON written")).expect("valid JSON");
    for f in FIELDS {
        assert!(report.pointer(f).is_some(), "report lacks {f}: {report:#}");
    }
    report
}

fn no_errors(v: &serde_json::Value, what: &str) {
    assert_eq!(v["errors"], serde_json::json!({}), "{what} had errors: {v:#}");
}

#[test]
fn short_load_run_has_no_errors_and_every_figure() {
    let dir = tempfile::tempdir().expect("tempdir");
    let r = bench(
        dir.path(),
        &["--sessions", "1,4", "--ehr-rtt-ms", "0,100", "--turns", "3", "--min-level-turns", "0", "--modelfree-turns", "200", "--modelfree-concurrency", "8", "--idle-streams", "100", "--active-streams", "5"],
    );
    let (one, level) = (&r["load"][0], &r["load"][1]);
    assert_eq!((one["sessions"].as_u64(), level["sessions"].as_u64()), (Some(1), Some(4)));
    // Every level plays the same whole conversations: at least 4 x 3 turns, all answered.
    let turns = level["turns"].as_u64().unwrap_or_default();
    assert!(turns >= 12, "at least 12 turns: {level:#}");
    assert_eq!((one["turns"].as_u64(), one["conversations"].as_u64()), (Some(turns), level["conversations"].as_u64()), "same work: {one:#} {level:#}");
    assert_eq!(level["latency"]["count"].as_u64(), Some(turns));
    no_errors(one, "the 1-session level");
    no_errors(level, "the 4-session level");
    // The CPU the level took is read from /proc: the demo EHR's (a child process) is part of it.
    let (machine, ehr) = (level["cpu"]["machine_seconds"].as_f64(), level["cpu"]["ehr_seconds"].as_f64());
    assert!(ehr > Some(0.0) && machine >= ehr, "the level's CPU: {level:#}");
    // The same levels again with 100 ms added to every EHR round trip: the slowest turns
    // (those that search slots or request a refill) wait for it.
    let delayed = &r["load"].as_array().expect("levels")[2..];
    let got: Vec<(Option<u64>, Option<u64>)> = delayed.iter().map(|l| (l["ehr_rtt_ms"].as_u64(), l["sessions"].as_u64())).collect();
    assert_eq!(got, [(Some(100), Some(1)), (Some(100), Some(4))]);
    for l in delayed {
        assert_eq!(l["turns"].as_u64(), Some(turns), "same work: {l:#}");
        assert!(l["latency"]["p99_ms"].as_f64().unwrap_or_default() >= 100.0, "no turn waited for the EHR: {l:#}");
        no_errors(l, "a level with the EHR 100 ms away");
    }
    let free = r["model_free"].as_array().expect("model_free list");
    let levels: Vec<&str> = free.iter().filter_map(|m| m["level"].as_str()).collect();
    assert!(levels.starts_with(&["store", "pipeline", "http"]), "levels {levels:?}");
    for m in free {
        assert_eq!(m["turns"], 200, "{m:#}");
        no_errors(m, "a model-free level");
    }
    let s = &r["streams"];
    assert_eq!((s["idle_open"].as_u64(), s["idle_closed_early"].as_u64()), (Some(100), Some(0)), "{s:#}");
    assert_eq!(s["active_turns"], 100, "5 active patients x 5 follow-ups x 4 answers: {s:#}");
    no_errors(s, "the active streams");
}

#[test]
#[ignore = "the full run: minutes on two cores (see docs/reliability.md)"]
fn full_load_run_has_every_figure() {
    let dir = tempfile::tempdir().expect("tempdir");
    let r = bench(dir.path(), &[]);
    let sessions: Vec<u64> = r["load"].as_array().expect("levels").iter().filter_map(|l| l["sessions"].as_u64()).collect();
    assert_eq!(sessions, [1, 4, 16, 64, 1, 4, 16, 64], "each level without and with the EHR 20 ms away");
    for l in r["load"].as_array().expect("levels") {
        assert!(l["errors"].get("5xx").is_none(), "server errors: {l:#}");
    }
    assert_eq!(r["streams"]["idle_closed_early"], 0);
}
