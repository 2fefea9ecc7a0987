//! "From where" in the audit: each turn's sealed audit record carries the client address by
//! the same rule as the rate limits (the socket's peer, or behind a trusted proxy the nearest
//! `X-Forwarded-For` hop that is not a trusted proxy), and the FHIR export shows it as the
//! source agent's network address.

use agent::crypto::Aad;
use e2e::inproc::InProcess;
use e2e::Patient;
use serde_json::{json, Value};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_turn_is_audited_with_the_client_address_the_rate_limits_use() {
    // The test client connects from 127.0.0.1: make that the trusted proxy.
    let app = InProcess::start_with("[limits]\ntrusted_proxies = [\"127.0.0.1\"]\n").await;
    let p = Patient::demo(&app.base_url, 1).await.unwrap();
    let (conv, _) = p.start().await.unwrap();
    let path = format!("/api/conversations/{conv}/messages");
    // A client-supplied hop before the real one is not believed; the proxy's own hop is skipped.
    let xff = [("x-forwarded-for", "198.51.100.9, 203.0.113.7, 127.0.0.1")];
    let (status, _, body) = p.post_with(&path, &xff, json!({"text": "I need a refill"})).await.unwrap();
    assert_eq!(status, 200, "{body}");

    let rows = app.state.store.audit_range(1, 1000).await.unwrap();
    let mut sources = Vec::new();
    for r in rows.iter().filter(|r| r.action == format!("chat.turn/{conv}")) {
        let aad = Aad { table: "audit_log", row: &conv, patient: &p.id };
        let record: Value = serde_json::from_slice(&app.state.cipher.open_for(&aad, &r.payload).await.unwrap()).unwrap();
        let event = agent::audit::export::audit_event(r, Some(&record));
        assert_eq!(event["agent"][0]["network"]["address"], record["source"]["address"], "{event}");
        sources.push(record["source"]["address"].clone());
    }
    // The opening came straight from the proxy (no header), the turn through it.
    assert_eq!(sources, vec![json!("127.0.0.1"), json!("203.0.113.7")]);
}
