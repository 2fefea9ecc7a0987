//! Throughput of turns that need no model: answers the discharge follow-up reads by rules
//! (yes/no, a pain score), so what is timed is the service itself: the turn lock, unsealing
//! and sealing, the engine, and the commit of messages, state and the hash-chained audit
//! record in one transaction. Measured at three depths: the store alone (lock + commit of a
//! prepared turn), the turn pipeline in-process (`chat::post`), and over HTTP (server-sent
//! events, as the widget posts).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use fhir_client::{EncounterId, PatientId};
use futures::StreamExt;
use serde::Serialize;
use workflows::Lang;

use super::client::{Client, Posted};
use super::stats::{add_error, round2, status_kind, Errors, Latency, Tally};
use crate::chat::{self, Opening};
use crate::crypto::Aad;
use crate::state::AppState;
use crate::store::{AuditEntry, ConversationRow, TurnCommit};

/// The follow-up's first four questions, answered so that no answer needs the model and no
/// step calls the EHR (the fifth answer would submit the questionnaire).
pub const ANSWERS: [&str; 4] = ["no", "3", "yes", "yes"];

#[derive(Clone, Debug, Serialize)]
pub struct ModelFreeResult {
    pub backend: String,
    /// "store", "pipeline" or "http".
    pub level: String,
    pub concurrency: usize,
    pub turns: usize,
    pub seconds: f64,
    pub turns_per_sec: f64,
    pub latency: Latency,
    pub errors: Errors,
    /// Turn-path writes (locks, commits, touches) per committed transaction: how many turns
    /// one disk flush covered (the store's group commit).
    pub writes_per_transaction: f64,
}

/// Who answers: demo patients with a recent discharge (the follow-up's encounter).
pub type Discharged = Vec<(PatientId, EncounterId)>;

/// All three depths on the service `state` (served at `base_url`).
pub async fn run(state: &AppState, base_url: &str, who: &Discharged, turns: usize, concurrency: usize) -> anyhow::Result<Vec<ModelFreeResult>> {
    anyhow::ensure!(!who.is_empty(), "no demo patient has a recent discharge");
    let backend = state.store.backend().to_owned();
    let mut out = Vec::new();
    let (started, before) = (Instant::now(), state.store.writer_stats());
    let tally = store_level(state, &who[0].0, turns, concurrency).await?;
    out.push(result(&backend, "store", concurrency, started.elapsed(), tally, grouped(state, before)));
    for level in ["pipeline", "http"] {
        let convs = open_followups(state, who, turns.div_ceil(ANSWERS.len())).await?;
        let client = Client::new(base_url);
        let mut tokens = Vec::new();
        for (p, _) in who {
            tokens.push((p.clone(), client.sign_in(p.as_str()).await?));
        }
        let (started, before) = (Instant::now(), state.store.writer_stats());
        let tally = answer_all(state, &client, &tokens, convs, concurrency, level == "http").await?;
        out.push(result(&backend, level, concurrency, started.elapsed(), tally, grouped(state, before)));
    }
    Ok(out)
}

/// Writes per transaction since `before`.
fn grouped(state: &AppState, before: crate::store::WriterStats) -> f64 {
    let now = state.store.writer_stats();
    round2((now.writes - before.writes) as f64 / (now.transactions - before.transactions).max(1) as f64)
}

fn result(backend: &str, level: &str, concurrency: usize, took: Duration, t: Tally, grouped: f64) -> ModelFreeResult {
    let seconds = took.as_secs_f64();
    ModelFreeResult {
        backend: backend.into(),
        level: level.into(),
        concurrency,
        turns: t.turns.len(),
        seconds: round2(seconds),
        turns_per_sec: round2(t.turns.len() as f64 / seconds.max(1e-9)),
        latency: Latency::of(&t.turns),
        errors: t.errors,
        writes_per_transaction: grouped,
    }
}

/// `count` follow-up conversations, opened as a discharge event opens them (not timed).
pub(super) async fn open_followups(state: &AppState, who: &Discharged, count: usize) -> anyhow::Result<Vec<(usize, String)>> {
    let opened = futures::stream::iter(0..count)
        .map(|i| {
            let (patient, enc) = &who[i % who.len()];
            async move {
                let t = chat::open(state, patient, Lang::En, Opening::Discharge(enc.clone())).await;
                t.map(|t| (i % who.len(), t.conversation_id))
            }
        })
        .buffer_unordered(8)
        .collect::<Vec<_>>()
        .await;
    opened.into_iter().map(|r| r.map_err(|e| anyhow::anyhow!("opening a follow-up: {e}"))).collect()
}

/// Workers take conversations from a shared list and answer the four questions of each.
pub(super) async fn answer_all(
    state: &AppState,
    client: &Client,
    tokens: &[(PatientId, String)],
    convs: Vec<(usize, String)>,
    concurrency: usize,
    http: bool,
) -> anyhow::Result<Tally> {
    let queue = Arc::new(Mutex::new(convs));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..concurrency {
        let (state, client, tokens, queue) = (state.clone(), client.clone(), tokens.to_vec(), queue.clone());
        tasks.spawn(async move {
            let mut tally = Tally::default();
            loop {
                let next = queue.lock().unwrap_or_else(|e| e.into_inner()).pop();
                let Some((who, conv)) = next else { break };
                let (patient, token) = &tokens[who];
                for text in ANSWERS {
                    let t0 = Instant::now();
                    let failed = if http {
                        match client.say(token, &conv, text, &uuid::Uuid::new_v4().to_string()).await {
                            Posted::Turn { first_event, .. } => {
                                tally.first_event.push(first_event);
                                None
                            }
                            Posted::Failed { kind, .. } => Some(kind),
                        }
                    } else {
                        chat::post(&state, patient, &conv, text, None).await.err().map(|e| status_kind(e.status_code()))
                    };
                    match failed {
                        None => tally.turns.push(t0.elapsed()),
                        Some(kind) => {
                            add_error(&mut tally.errors, &kind);
                            break;
                        }
                    }
                }
            }
            tally
        });
    }
    let mut all = Tally::default();
    while let Some(t) = tasks.join_next().await {
        all.merge(t.context("a model-free worker panicked")?);
    }
    Ok(all)
}

/// The store alone: each worker takes the turn lock of its own conversation and commits a
/// prepared turn (two sealed messages, sealed state, a sealed audit record chained by the
/// store), `turns` in all.
async fn store_level(state: &AppState, patient: &PatientId, turns: usize, concurrency: usize) -> anyhow::Result<Tally> {
    let left = Arc::new(AtomicUsize::new(turns));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..concurrency {
        let prepared = prepare(state, patient).await?;
        let (state, left) = (state.clone(), left.clone());
        tasks.spawn(async move {
            let mut tally = Tally::default();
            let mut version = 0;
            while left.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok() {
                let t0 = Instant::now();
                let now = state.clock.now_ms();
                let lock = uuid::Uuid::new_v4().to_string();
                let mut commit = prepared.clone();
                (commit.lock_token, commit.expected_state_version, commit.now, commit.audit.at) = (lock.clone(), version, now, now);
                let done = match state.store.begin_turn(&commit.conversation_id, &lock, now, now + 60_000).await {
                    Ok(_) => state.store.commit_turn(&commit).await.map(|_| ()),
                    Err(e) => Err(e),
                };
                match done {
                    Ok(()) => {
                        version += 1;
                        tally.turns.push(t0.elapsed());
                    }
                    Err(e) => add_error(&mut tally.errors, &status_kind(crate::error::ApiError::from(e).status_code())),
                }
            }
            tally
        });
    }
    let mut all = Tally::default();
    while let Some(t) = tasks.join_next().await {
        all.merge(t.context("a store worker panicked")?);
    }
    Ok(all)
}

/// A new conversation of `patient` and one turn's worth of sealed rows for it.
async fn prepare(state: &AppState, patient: &PatientId) -> anyhow::Result<TurnCommit> {
    let id = uuid::Uuid::now_v7().to_string();
    let pid = patient.as_str();
    let seal = |table: &'static str, value: serde_json::Value| {
        let id = id.clone();
        async move {
            let aad = Aad { table, row: &id, patient: pid };
            state.cipher.seal_for(&aad, value.to_string().as_bytes()).await.context("sealing")
        }
    };
    let now = state.clock.now_ms();
    let placeholder = seal("conversations", serde_json::Value::Null).await?;
    state.store.create_conversation(&ConversationRow::new(&id, pid, "agent", placeholder, now)).await?;
    let said = serde_json::json!({"role": "patient", "text": "yes"});
    let reply = serde_json::json!({"role": "agent", "text": "Thank you. Have you been able to pick up your medicines?"});
    let record = serde_json::json!({"type": "chat.turn", "conversation": id, "patient": pid, "outcome": "active"});
    Ok(TurnCommit {
        conversation_id: id.clone(),
        lock_token: String::new(),
        expected_state_version: 0,
        state: seal("conversations", serde_json::json!({"waiting_at": "ask_meds"})).await?,
        status: "active".into(),
        script_id: Some("discharge_followup".into()),
        script_version: Some(1),
        messages: vec![("patient".into(), seal("messages", said).await?), ("agent".into(), seal("messages", reply).await?)],
        idempotency: None,
        audit: AuditEntry { at: now, actor: "patient".into(), action: format!("chat.turn/{id}"), payload: seal("audit_log", record).await? },
        escalation: None,
        outbox: vec![],
        now,
    })
}
