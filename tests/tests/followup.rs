//! Proactive outreach: a discharge opens a follow-up the agent speaks first in; a red-flag
//! answer escalates urgently in the same turn; the integration event is authenticated and
//! starts one follow-up per encounter.

use e2e::inproc::InProcess;
use e2e::Patient;

async fn agent_started(p: &Patient) -> String {
    let (status, list) = p.get("/api/conversations").await.unwrap();
    assert_eq!(status, 200);
    let conv = list.as_array().unwrap().iter().find(|c| c["started_by"] == "agent").cloned();
    conv.unwrap_or_else(|| panic!("no agent-started conversation: {list}"))["id"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_discharge_starts_a_followup_and_a_red_flag_answer_escalates_urgently() {
    let app = InProcess::start().await;
    let john = Patient::demo(&app.base_url, 1).await.unwrap(); // discharged two days ago
    let conv = agent_started(&john).await;
    let (_, history) = john.get(&format!("/api/conversations/{conv}/messages")).await.unwrap();
    let first = &history.as_array().unwrap()[0];
    assert_eq!(first["role"], "agent", "the agent speaks first: {history}");

    let reply = john.say(&conv, "honestly I've had crushing chest pain since this morning").await.unwrap();
    assert_eq!(reply["escalated"], true, "{reply}");
    let esc = app.state.store.escalations_of(&conv).await.unwrap();
    assert_eq!(esc.len(), 1, "{esc:?}");
    assert_eq!(esc[0].0, "urgent");
    assert!(esc[0].1.contains("chest_pain"), "{esc:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_discharge_event_is_authenticated_and_starts_one_followup_per_encounter() {
    let key_dir = tempfile::tempdir().unwrap();
    let key = key_dir.path().join("integration.key");
    std::fs::write(&key, "s3cret-integration-key\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    let app = InProcess::start_with(&format!("[integration]\nkey_file = \"{}\"\n", key.display())).await;
    let wei = Patient::demo(&app.base_url, 3).await.unwrap();
    let url = format!("{}/api/events/discharge", app.base_url);
    let body = serde_json::json!({ "patient": wei.id, "encounter": "enc-e2e-1" });
    let client = reqwest::Client::new();

    let wrong = client.post(&url).bearer_auth("guess").json(&body).send().await.unwrap();
    assert_eq!(wrong.status().as_u16(), 401);
    let first: serde_json::Value =
        client.post(&url).bearer_auth("s3cret-integration-key").json(&body).send().await.unwrap().json().await.unwrap();
    assert_eq!(first["started"], true, "{first}");
    let again: serde_json::Value =
        client.post(&url).bearer_auth("s3cret-integration-key").json(&body).send().await.unwrap().json().await.unwrap();
    assert_eq!(again["started"], false, "one follow-up per encounter: {again}");
    assert_eq!(agent_started(&wei).await, first["conversation"].as_str().unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_are_absent_without_an_integration_key() {
    let app = InProcess::start().await;
    let r = reqwest::Client::new()
        .post(format!("{}/api/events/discharge", app.base_url))
        .json(&serde_json::json!({"patient": "x", "encounter": "y"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_turn_past_its_deadline_goes_to_a_person_not_a_spinner() {
    // A zero deadline: any turn that has to wait for the model or the EHR is "stalled".
    let app = InProcess::start_with("[server]\nturn_deadline_ms = 0\n").await;
    let p = Patient::demo(&app.base_url, 3).await.unwrap();
    let (conv, _) = p.start().await.unwrap();
    let reply = p.say(&conv, "I need to book an appointment with cardiology next week").await.unwrap();
    assert_eq!(reply["escalated"], true, "{reply}");
    assert!(reply["replies"][0]["text"].as_str().unwrap().contains("care team"), "{reply}");
    let esc = app.state.store.escalations_of(&conv).await.unwrap();
    assert_eq!(esc[0].0, "high", "{esc:?}");
    // Nothing was booked or lost: the conversation can go on.
    let (_, history) = p.get(&format!("/api/conversations/{conv}/messages")).await.unwrap();
    assert_eq!(history.as_array().unwrap().len(), 3, "{history}");
}
