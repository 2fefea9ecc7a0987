//! `agent security report` through the real binary, over a day of staff work written by the
//! real routes: who opened which patients and from where, the break-glass declaration and the
//! access it allowed, failed and successful sign-ins; as JSON and as a table naming users.

mod staff_support;

use std::process::{Command, Output};

use agent::staff::Role;
use serde_json::{json, Value};
use staff_support::{App, Db};

fn report(app: &App, args: &[&str]) -> Output {
    let dir = app.dir.path();
    Command::new(env!("CARGO_BIN_EXE_agent"))
        .args(["security", "report"])
        .args(args)
        .current_dir(dir)
        .env_remove("AGENT_CONFIG")
        .env("AGENT__DATABASE__URL", format!("sqlite://{}/agent.db", dir.display()))
        .env("AGENT__CRYPTO__KEY_FILE", dir.join("master.key"))
        .output()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_report_names_who_opened_which_patients_from_where() {
    let app = App::start(Db::Sqlite).await;
    let (conv_a, case_a) = app.escalated_case("pat-a").await;
    let (conv_b, _) = app.escalated_case("pat-b").await;
    let cora = app.staff("cora", Role::Coordinator).await;
    assert_eq!(app.get(&cora, &format!("/api/staff/escalations/{case_a}")).await.status(), 200);
    assert_eq!(app.get(&cora, &format!("/api/staff/conversations/{conv_b}/messages")).await.status(), 200);
    let bad = json!({"username": "cora", "password": "wrong"});
    assert_eq!(app.post("", "/api/staff/login", bad).await.status(), 401);
    let ada = app.staff("ada", Role::Admin).await;
    let bg = json!({"reason": "investigating a complaint", "minutes": 5});
    assert_eq!(app.post(&ada, "/api/staff/break-glass", bg).await.status(), 200);
    assert_eq!(app.get(&ada, &format!("/api/staff/conversations/{conv_a}/messages")).await.status(), 200);

    // The service clock stands at 2027-01-15 08:00 UTC.
    let out = report(&app, &["--from", "2027-01-15", "--to", "2027-01-15", "--format", "json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    let accesses = r["accesses"].as_array().unwrap();
    let seen: Vec<(&str, bool)> = accesses.iter().map(|a| (a["patient"].as_str().unwrap(), a["break_glass"].as_bool().unwrap())).collect();
    assert_eq!(seen, [("pat-a", false), ("pat-b", false), ("pat-a", true)], "{r}");
    assert!(accesses.iter().all(|a| a["ip"] == "127.0.0.1"), "{r}");
    assert_eq!(r["failed_sign_ins"].as_array().unwrap().len(), 1, "{r}");
    assert_eq!(r["sign_ins"].as_array().unwrap().len(), 2, "{r}");
    let bg: Vec<&str> = r["break_glass"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(bg, ["staff.break_glass", "staff.break_glass_access"], "{r}");
    assert_eq!(r["break_glass"][0]["reason"], "investigating a complaint");
    assert_eq!(r["by_staff"].as_array().unwrap().len(), 2);

    let out = report(&app, &["--from", "2027-01-15", "--to", "2027-01-15"]);
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(table.contains("cora (") && table.contains("ada (") && table.contains("pat-b"), "{table}");
    let empty = report(&app, &["--from", "2027-01-16", "--to", "2027-01-17", "--format", "json"]);
    let r: Value = serde_json::from_slice(&empty.stdout).unwrap();
    assert_eq!(r["records"], 0);
    let bad = report(&app, &["--from", "yesterday", "--to", "2027-01-17"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("is not a date"));
}
