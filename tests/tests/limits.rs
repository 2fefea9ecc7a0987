//! Saturation, as a patient sees it, against the real service in-process (real model, demo
//! EHR): over a rate limit → 429 with Retry-After; the model's queue full → 503 with
//! Retry-After and a polite message, and nothing the patient said is lost or half-kept.

use e2e::inproc::InProcess;
use e2e::Patient;
use serde_json::{json, Value};

/// Sends one GET with the patient's token; status, Retry-After, x-request-id and body.
async fn get(app: &InProcess, p: &Patient, path: &str) -> (u16, Option<u64>, String, Value) {
    let r = reqwest::Client::new().get(format!("{}{path}", app.base_url)).bearer_auth(p.token()).send().await.unwrap();
    let status = r.status().as_u16();
    let retry = r.headers().get("retry-after").and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok());
    let id = r.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    (status, retry, id, r.json().await.unwrap_or(Value::Null))
}

fn assert_throttled(status: u16, retry: Option<u64>, id: &str, body: &Value) {
    assert_eq!(status, 429, "{body}");
    let retry = retry.expect("Retry-After");
    assert!((1..=60).contains(&retry), "Retry-After {retry}");
    assert_eq!(body["resourceType"], "OperationOutcome");
    assert_eq!(body["issue"][0]["code"], "throttled");
    assert_eq!(body["id"], id, "the outcome carries the request id");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_over_the_session_limit_is_429_other_sessions_go_on_and_an_address_has_its_own_limit() {
    // Buckets that do not refill during the test: 4 requests per session, 12 per address.
    let app = InProcess::start_with(
        "[limits]\nsession_per_minute = 1\nsession_burst = 4\naddress_per_minute = 1\naddress_burst = 12\n",
    )
    .await;
    // Two sign-ins: 2 anonymous requests each, counted against the address only.
    let a = Patient::demo(&app.base_url, 0).await.unwrap();
    let b = Patient::demo(&app.base_url, 1).await.unwrap();
    for _ in 0..4 {
        assert_eq!(get(&app, &a, "/api/me").await.0, 200);
    }
    let (status, retry, id, body) = get(&app, &a, "/api/conversations").await;
    assert_throttled(status, retry, &id, &body);
    // B's session is untouched by A's burst (the address has used 9 of 12 so far).
    assert_eq!(get(&app, &b, "/api/me").await.0, 200);
    assert_eq!(get(&app, &b, "/api/me").await.0, 200);
    assert_eq!(get(&app, &b, "/api/conversations").await.0, 200);
    // The address is spent although B's session has one request left.
    let (status, retry, id, body) = get(&app, &b, "/api/me").await;
    assert_throttled(status, retry, &id, &body);
    // Probes are never limited.
    let client = reqwest::Client::new();
    for path in ["/health", "/ready", "/metrics"] {
        let s = client.get(format!("{}{path}", app.base_url)).send().await.unwrap().status().as_u16();
        assert_eq!(s, 200, "{path}");
    }
}

/// Posts `text`; status, Retry-After and body.
async fn post(p: &Patient, conv: &str, text: &str) -> (u16, Option<u64>, Value) {
    let path = format!("/api/conversations/{conv}/messages");
    let (status, headers, body) = p.post_with(&path, &[], json!({ "text": text })).await.unwrap();
    let retry = headers.get("retry-after").and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok());
    (status, retry, body)
}

/// How often `text` appears as a patient message in the conversation's history.
async fn said(p: &Patient, conv: &str, text: &str) -> usize {
    let (status, history) = p.get(&format!("/api/conversations/{conv}/messages")).await.unwrap();
    assert_eq!(status, 200);
    history.as_array().unwrap().iter().filter(|m| m["role"] == "patient" && m["text"] == text).count()
}

fn assert_intact(turn: &Value, conv: &str) {
    assert_eq!(turn["conversation_id"], conv, "{turn}");
    let replies = turn["replies"].as_array().unwrap();
    assert!(!replies.is_empty() && replies.iter().all(|r| !r["text"].as_str().unwrap_or("").is_empty()), "{turn}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_model_queue_is_503_with_retry_after_and_no_message_is_lost() {
    let app = InProcess::start_with("[model]\nqueue_capacity = 1\n").await;
    let mut convs = Vec::new();
    for i in 0..8 {
        let p = Patient::demo(&app.base_url, i % 4).await.unwrap();
        let (conv, _) = p.start().await.unwrap();
        convs.push((p, conv));
    }
    let text = "I'd like to book an appointment with cardiology next week";
    let mut refused = 0;
    for _round in 0..3 {
        let posts = convs.iter().map(|(p, conv)| post(p, conv, text));
        let results = futures::future::join_all(posts).await;
        for ((p, conv), (status, retry, body)) in convs.iter().zip(results) {
            match status {
                200 => {
                    assert_intact(&body, conv);
                    assert!(said(p, conv, text).await >= 1);
                }
                503 => {
                    refused += 1;
                    assert!(retry.is_some_and(|r| r >= 1), "Retry-After on a 503");
                    assert_eq!(body["resourceType"], "OperationOutcome");
                    assert_eq!(body["issue"][0]["code"], "transient");
                    assert!(body["issue"][0]["diagnostics"].as_str().unwrap().contains("try again"), "{body}");
                    // Refused means not taken: the message is not in the history, and a retry
                    // (alone now) is answered and stored once.
                    let before = said(p, conv, text).await;
                    let (status, _, turn) = post(p, conv, text).await;
                    assert_eq!(status, 200, "{turn}");
                    assert_intact(&turn, conv);
                    assert_eq!(said(p, conv, text).await, before + 1);
                }
                other => panic!("unexpected {other}: {body}"),
            }
        }
        if refused > 0 {
            break;
        }
    }
    eprintln!("refused with 503: {refused} of {} concurrent turns", convs.len());
    assert!(refused > 0, "eight concurrent turns on a one-place queue: some must be refused");
}

/// The `data:` of the first event named `name` in an SSE body, and that block's `retry:`.
fn sse_event(body: &str, name: &str) -> Option<(Value, Option<u64>)> {
    let block = body.split("\n\n").find(|b| b.lines().any(|l| l == format!("event: {name}")))?;
    let data: String = block.lines().filter_map(|l| l.strip_prefix("data: ")).collect();
    let retry = block.lines().find_map(|l| l.strip_prefix("retry: ")).and_then(|r| r.trim().parse().ok());
    Some((serde_json::from_str(&data).ok()?, retry))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn while_the_model_queue_is_full_a_turn_is_503_in_json_and_in_the_stream_and_a_resend_is_kept_once() {
    let app = InProcess::start_with("[model]\nqueue_capacity = 1\n").await;
    let p = Patient::demo(&app.base_url, 2).await.unwrap();
    let (conv, _) = p.start().await.unwrap();
    // Someone else's generation holds the queue's only place for as long as its stream lives.
    let prompt = inference::Prompt {
        messages: vec![inference::Message { role: inference::Role::User, content: "Say hello.".into() }],
        session: None,
    };
    let params = inference::GenerateParams { max_tokens: 1, ..Default::default() };
    let held = app.state.model.generate(prompt, params).await.expect("the one place");
    // A request with a number the date rules do not read: the model is asked for a date.
    let text = "I need to book an appointment with dermatology, my referral is #2";
    let path = format!("/api/conversations/{conv}/messages");
    let key = [("Idempotency-Key", "resend-1")];
    let (status, headers, body) = p.post_with(&path, &key, json!({ "text": text })).await.unwrap();
    assert_eq!(status, 503, "{body}");
    assert_eq!(headers["retry-after"], "5");
    assert_eq!(body["issue"][0]["code"], "transient");
    assert_eq!(body["id"], headers["x-request-id"].to_str().unwrap());
    let streamed = reqwest::Client::new()
        .post(format!("{}{path}", app.base_url))
        .bearer_auth(p.token())
        .header("accept", "text/event-stream")
        .json(&json!({ "text": text }))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let (outcome, retry) = sse_event(&streamed, "error").unwrap_or_else(|| panic!("{streamed}"));
    assert_eq!(outcome["issue"][0]["code"], "transient", "{streamed}");
    assert_eq!(retry, Some(5000), "the stream says when to resend: {streamed}");
    assert_eq!(said(&p, &conv, text).await, 0, "a refused message is not kept");
    drop(held);
    let (status, _, turn) = p.post_with(&path, &key, json!({ "text": text })).await.unwrap();
    assert_eq!(status, 200, "{turn}");
    assert_intact(&turn, &conv);
    assert_eq!(said(&p, &conv, text).await, 1, "the resend is kept once");
}
