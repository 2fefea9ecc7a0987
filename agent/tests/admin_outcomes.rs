//! The outcome figures through the service: an admin reads them at `/api/admin/outcomes` (no
//! other role may), and `/metrics` carries the same figures as `agent_outcome_*` gauges.

mod staff_support;

use agent::staff::Role;
use serde_json::{json, Value};
use staff_support::{App, Db};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_sees_time_to_a_person_and_metrics_carry_it() {
    let app = App::start(Db::Sqlite).await;
    let (_, case) = app.escalated_case("p-out").await;
    let patient = app.patient_token("p-fine").await;
    let conv = app.open_conversation(&patient).await;
    app.patient_says(&patient, &conv, "hello").await;
    let cora = app.staff("cora", Role::Coordinator).await;
    app.clock.advance_ms(3 * 60 * 1000);
    assert_eq!(app.post(&cora, &format!("/api/staff/escalations/{case}/claim"), json!({})).await.status(), 200);

    for role in [Role::Coordinator, Role::Clinician, Role::Auditor] {
        let token = app.staff(&format!("u-{}", role.as_str()), role).await;
        assert_eq!(app.get(&token, "/api/admin/outcomes").await.status(), 403, "{}", role.as_str());
    }
    let ada = app.staff("ada", Role::Admin).await;
    let resp = app.get(&ada, "/api/admin/outcomes").await;
    assert_eq!(resp.status(), 200);
    let o: Value = resp.json().await.unwrap();
    assert_eq!((o["escalated"].as_u64(), o["active"].as_u64()), (Some(1), Some(1)), "{o}");
    assert_eq!(o["escalations_by_reason"]["red_flag"], 1, "{o}");
    assert_eq!(o["time_to_person"]["urgent"]["median_ms"], 180_000, "{o}");
    assert!(!o.to_string().contains("p-out"), "no patient in the figures");

    let text = app.http.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(text.contains("agent_outcome_time_to_person_seconds{priority=\"urgent\",quantile=\"0.5\"} 180.0"), "{text}");
    assert!(text.contains("agent_outcome_escalations{reason=\"red_flag\"} 1.0"), "{text}");
    assert!(text.contains("agent_outcome_conversations{outcome=\"escalated\"} 1.0"), "{text}");
}
