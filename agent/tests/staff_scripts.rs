//! Script management: a draft is validated with line:column messages, compared with the
//! published version, published as a new immutable version, and rolled back by publishing an
//! old source again; every change is audited with its author.

mod staff_support;

use agent::staff::Role;
use serde_json::{json, Value};
use staff_support::{App, Db};

fn builtin_refill() -> &'static str {
    workflows::script::BUILTIN_SOURCES.iter().find(|(p, _)| p.ends_with("refill.toml")).unwrap().1
}

fn refill_v(version: i64, marker: &str) -> String {
    let src = agent::staff::scripts::with_version(builtin_refill(), version).unwrap();
    format!("# {marker}\n{src}")
}

async fn draft(app: &App, token: &str, source: &str) -> Value {
    let resp = app.post(token, "/api/admin/scripts/refill/draft", json!({"source": source})).await;
    assert_eq!(resp.status(), 200);
    resp.json().await.unwrap()
}

async fn scripts_lifecycle(db: Db) {
    let app = App::start(db).await;
    let admin = app.staff("ada", Role::Admin).await;
    let auditor = app.staff("aud", Role::Auditor).await;

    // A broken draft: problems point at line and column, and it cannot be published.
    let broken = draft(&app, &admin, "id = \"refill\"\nversion = 2\nallowed_actions = 7\n").await;
    assert_eq!(broken["valid"], false);
    let problem = broken["problems"][0].as_str().unwrap();
    assert!(problem.starts_with("drafts/refill.toml:"), "{problem}");
    assert!(problem.split(':').nth(1).unwrap().parse::<u32>().is_ok() && problem.split(':').nth(2).unwrap().parse::<u32>().is_ok(), "{problem}");
    assert_eq!(app.post(&admin, "/api/admin/scripts/refill/publish", json!({})).await.status(), 400);

    // The same version number again is refused: versions never change once published.
    let stale = draft(&app, &admin, &refill_v(1, "same number")).await;
    assert!(stale["problems"][0].as_str().unwrap().contains("version must be 2"), "{stale}");

    // A good draft: validated, diffed, published as version 2.
    let good = draft(&app, &admin, &refill_v(2, "second edition")).await;
    assert_eq!(good["valid"], true, "{good}");
    assert_eq!(good["next_version"], 2);
    assert!(good["conversation_tests"].as_str().unwrap().contains("not run"));
    let validated: Value = app.post(&admin, "/api/admin/scripts/refill/validate", json!({})).await.json().await.unwrap();
    assert_eq!(validated["valid"], true);
    let diff = app.get(&auditor, "/api/admin/scripts/refill/diff").await.text().await.unwrap();
    assert!(diff.contains("--- published v1") && diff.contains("+++ draft"), "{diff}");
    assert!(diff.contains("+# second edition") && diff.contains("-version = 1") && diff.contains("+version = 2"), "{diff}");
    let published: Value = app.post(&admin, "/api/admin/scripts/refill/publish", json!({})).await.json().await.unwrap();
    assert_eq!(published["version"], 2);
    assert_eq!(app.post(&admin, "/api/admin/scripts/refill/publish", json!({})).await.status(), 400, "v2 exists now");

    // Roll back to 1: a new version 3 with version 1's content.
    let rolled: Value = app.post(&admin, "/api/admin/scripts/refill/rollback", json!({"version": 1})).await.json().await.unwrap();
    assert_eq!(rolled["version"], 3);
    let shown: Value = app.get(&auditor, "/api/admin/scripts/refill").await.json().await.unwrap();
    let versions: Vec<i64> = shown["versions"].as_array().unwrap().iter().map(|v| v["version"].as_i64().unwrap()).collect();
    assert_eq!(versions, [1, 2, 3]);
    assert_eq!(shown["published_source"].as_str().unwrap(), agent::staff::scripts::with_version(builtin_refill(), 3).unwrap());
    let author = app.state.store.staff().user_by_name("ada").await.unwrap().unwrap().id;
    assert_eq!(shown["versions"][1]["author"], author.as_str());

    let audit = app.state.store.audit_range(0, 1000).await.unwrap();
    for action in ["admin.script_draft/refill", "admin.script_publish/refill", "admin.script_rollback/refill"] {
        let row = audit.iter().find(|r| r.action == action).unwrap_or_else(|| panic!("{action} not audited"));
        assert_eq!(row.actor, format!("staff:{author}"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn draft_validate_diff_publish_and_roll_back_sqlite() {
    scripts_lifecycle(Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn draft_validate_diff_publish_and_roll_back_postgres() {
    scripts_lifecycle(Db::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_published_version_joins_the_engine_beside_the_old_one() {
    use agent::chat::Dialogue;
    let settings = agent::config::Settings::from_toml_overrides(&[]).unwrap();
    let ehr: std::sync::Arc<dyn fhir_client::Ehr> = std::sync::Arc::new(fhir_client::FhirClient::new(&settings.fhir).unwrap());
    let understand = std::sync::Arc::new(agent::understand::ModelUnderstand::new(staff_support::no_model()));
    let engine = workflows::Engine::new(workflows::script::builtin().unwrap(), ehr.clone(), understand);
    let dialogue = agent::dialogue::EngineDialogue::reloadable(std::sync::Arc::new(engine), ehr);
    let v2 = workflows::script::compile("v2", &refill_v(2, "second edition")).unwrap();
    assert!(dialogue.add_script(v2));
    let refill: Vec<u32> = dialogue.loaded().into_iter().filter(|(id, _)| id == "refill").map(|(_, v)| v).collect();
    assert_eq!(refill, [1, 2], "conversations pinned to version 1 still find it");
}
