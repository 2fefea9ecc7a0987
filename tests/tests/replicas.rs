//! Several stateless replicas on one PostgreSQL: a conversation moves between them from turn
//! to turn and continues correctly (replicas share the database and the key file); and one
//! replica restarted mid-conversation picks it up where it was.

use e2e::inproc::{postgres_schema_url, InProcess};
use e2e::Patient;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_booking_started_on_one_replica_finishes_on_the_other() {
    let db = postgres_schema_url().await;
    let one = InProcess::start_with(&format!("[database]\nurl = \"{db}\"\n")).await;
    let two = InProcess::start_with(&format!(
        "[server]\nturn_deadline_ms = 120000\n[database]\nurl = \"{db}\"\n[crypto]\nkey_file = \"{}\"\n[demo_ehr]\nenabled = false\n\
         [fhir]\nbase_url = \"{}\"\nallow_plain_http = true\n",
        one.dir.path().join("master.key").display(),
        one.ehr_url()
    ))
    .await;
    assert_eq!(one.state.store.backend(), "postgres");

    let on_one = Patient::demo(&one.base_url, 3).await.unwrap();
    let on_two = on_one.via(&two.base_url);
    let (conv, _) = on_one.start().await.unwrap();
    let offer = on_one.say(&conv, "I need an appointment with cardiology next week").await.unwrap();
    let first = offer["replies"][0]["options"][0].as_str().unwrap_or_else(|| panic!("offer: {offer}")).to_owned();
    let t = std::time::Instant::now();
    let confirm = on_two.say(&conv, &first).await.unwrap();
    eprintln!("confirm took {:?}", t.elapsed());
    assert!(confirm["replies"][0]["options"].as_array().is_some_and(|o| !o.is_empty()), "{confirm}");
    let done = on_two.say(&conv, "yes").await.unwrap();
    assert_eq!(done["finished"], true, "{done}");

    let patient = fhir_client::PatientId::parse(on_one.id.clone()).unwrap();
    let booked = one.state.ehr.upcoming_appointments(&patient, chrono::Utc::now()).await.unwrap();
    assert_eq!(booked.len(), 1, "exactly one appointment in the EHR: {booked:?}");
    let (_, history) = on_one.get(&format!("/api/conversations/{conv}/messages")).await.unwrap();
    assert_eq!(history.as_array().unwrap().len(), 7, "greeting + 3 turns, each with a reply: {history}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_booking_resumes_after_the_service_restarts_mid_conversation() {
    let app = InProcess::start().await;
    let p = Patient::demo(&app.base_url, 3).await.unwrap();
    let (conv, _) = p.start().await.unwrap();
    let offer = p.say(&conv, "I need an appointment with cardiology next week").await.unwrap();
    let first = offer["replies"][0]["options"][0].as_str().unwrap_or_else(|| panic!("offer: {offer}")).to_owned();

    let app = app.restart("").await;
    let p = p.via(&app.base_url);
    let confirm = p.say(&conv, &first).await.unwrap();
    assert!(confirm["replies"][0]["text"].as_str().unwrap().contains(&first), "{confirm}");
    let done = p.say(&conv, "yes").await.unwrap();
    assert_eq!(done["finished"], true, "{done}");
    let patient = fhir_client::PatientId::parse(p.id.clone()).unwrap();
    assert_eq!(app.state.ehr.upcoming_appointments(&patient, chrono::Utc::now()).await.unwrap().len(), 1);
}
