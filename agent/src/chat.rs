//! A patient conversation turn, end to end: load and unseal the conversation, take its turn
//! lock (one turn at a time), let the dialogue engine understand and act, then commit the
//! messages, new state, escalation and the audit record in one transaction before anything is
//! sent back. No audit, no reply.
//!
//! A turn the model cannot take (its queue is full) is refused whole: 503 with Retry-After,
//! the turn lock released, and nothing stored (not the patient's message, not the state, not
//! the idempotency record), so the client resends the same message, with the same
//! Idempotency-Key if it used one, and it is answered and kept exactly once.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use fhir_client::{EncounterId, PatientId};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use workflows::{Lang, Reply, TurnOutcome};

use crate::crypto::Aad;
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::{AuditEntry, ConversationRow, NewEscalation, StoreError, TurnClaim, TurnCommit};

/// How a conversation begins.
#[derive(Clone, Debug)]
pub enum Opening {
    /// The patient opened the widget.
    Patient,
    /// A discharge started a follow-up (the agent speaks first).
    Discharge(EncounterId),
}

#[derive(Debug, thiserror::Error)]
pub enum DialogueError {
    /// The model queue is full: 503 with Retry-After.
    #[error("the assistant is busy")]
    Overloaded,
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

/// The conversation engine as the HTTP layer sees it; state is opaque JSON the service seals
/// and stores between turns.
#[async_trait]
pub trait Dialogue: Send + Sync {
    async fn open(
        &self,
        conversation_id: &str,
        patient: &PatientId,
        lang: Lang,
        opening: Opening,
        now: DateTime<Utc>,
    ) -> Result<(serde_json::Value, TurnOutcome), DialogueError>;

    async fn turn(
        &self,
        conversation_id: &str,
        state: serde_json::Value,
        patient: &PatientId,
        text: &str,
        now: DateTime<Utc>,
    ) -> Result<(serde_json::Value, TurnOutcome), DialogueError>;

    /// Makes a newly published script version the one new conversations get; conversations
    /// already running stay on theirs. False when this dialogue cannot load scripts.
    fn add_script(&self, _script: workflows::Script) -> bool {
        false
    }
}

/// One message as stored (sealed) and as the API shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChatMessage {
    pub role: String,
    pub text: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<String>,
}

/// What a turn returns to the client (and what an idempotent retry gets again).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TurnResponse {
    pub conversation_id: String,
    pub replies: Vec<ChatMessage>,
    pub escalated: bool,
    pub finished: bool,
}

pub const MAX_MESSAGE_CHARS: usize = 2000;

pub(crate) async fn seal_json<T: Serialize>(state: &AppState, aad: &Aad<'_>, value: &T) -> Result<Vec<u8>, ApiError> {
    let bytes = serde_json::to_vec(value).map_err(|e| ApiError::Internal(e.into()))?;
    state.cipher.seal_for(aad, &bytes).await.map_err(|e| ApiError::Internal(e.into()))
}

pub(crate) async fn open_json<T: for<'de> Deserialize<'de>>(state: &AppState, aad: &Aad<'_>, sealed: &[u8]) -> Result<T, ApiError> {
    let bytes = state.cipher.open_for(aad, sealed).await.map_err(|e| ApiError::Internal(e.into()))?;
    serde_json::from_slice(&bytes).map_err(|e| ApiError::Internal(e.into()))
}

pub(crate) fn message_aad<'a>(conv: &'a str, patient: &'a str) -> Aad<'a> {
    Aad { table: "messages", row: conv, patient }
}

pub(crate) fn state_aad<'a>(conv: &'a str, patient: &'a str) -> Aad<'a> {
    Aad { table: "conversations", row: conv, patient }
}

/// The patient's conversation, or 404 (also when it belongs to someone else).
pub async fn owned_conversation(state: &AppState, patient: &PatientId, id: &str) -> Result<ConversationRow, ApiError> {
    let row = state.store.conversation(id).await?.ok_or(ApiError::NotFound)?;
    if row.patient_id != patient.as_str() {
        return Err(ApiError::NotFound);
    }
    Ok(row)
}

pub async fn history(state: &AppState, conv: &ConversationRow) -> Result<Vec<ChatMessage>, ApiError> {
    let aad = message_aad(&conv.id, &conv.patient_id);
    let rows = state.store.messages(&conv.id).await?;
    let mut out = Vec::with_capacity(rows.len());
    for m in &rows {
        out.push(open_json(state, &aad, &m.body).await?);
    }
    Ok(out)
}

/// Starts a conversation and commits the agent's opening message(s).
pub async fn open(state: &AppState, patient: &PatientId, lang: Lang, opening: Opening) -> Result<TurnResponse, ApiError> {
    let id = uuid::Uuid::now_v7().to_string();
    let now = state.clock.now_ms();
    let started_by = if matches!(opening, Opening::Patient) { "patient" } else { "agent" };
    let placeholder = seal_json(state, &state_aad(&id, patient.as_str()), &serde_json::Value::Null).await?;
    state
        .store
        .create_conversation(&ConversationRow::new(&id, patient.as_str(), started_by, placeholder, now))
        .await?;
    let lock = uuid::Uuid::new_v4().to_string();
    state.store.begin_turn(&id, &lock, now, now + state.policy.turn_lock_ms).await?;
    let result = state.dialogue.open(&id, patient, lang, opening, state.clock.now()).await;
    finish_turn(state, patient, &id, &lock, 0, None, None, result).await
}

/// Runs one patient turn (see module docs). `idempotency_key` makes a retried post safe.
pub async fn post(
    state: &AppState,
    patient: &PatientId,
    conversation_id: &str,
    text: &str,
    idempotency_key: Option<&str>,
) -> Result<TurnResponse, ApiError> {
    let text = text.trim();
    if text.is_empty() || text.chars().count() > MAX_MESSAGE_CHARS {
        return Err(ApiError::BadRequest(format!("message must be 1 to {MAX_MESSAGE_CHARS} characters")));
    }
    let now = state.clock.now_ms();
    let lock = uuid::Uuid::new_v4().to_string();
    // One write: the patient's own conversation, locked, as it is under the lock (another
    // replica may have advanced it), and the answer already stored if this post is a retry.
    let claim = TurnClaim {
        conversation: conversation_id,
        patient: patient.as_str(),
        key: idempotency_key,
        token: &lock,
        now,
        expires: now + state.policy.turn_lock_ms,
    };
    let conv = match state.store.begin_patient_turn(claim).await {
        Ok((conv, None)) => conv,
        Ok((conv, Some(sealed))) => {
            state.store.release_turn(&conv.id, &lock).await?;
            return open_json(state, &state_aad(&conv.id, patient.as_str()), &sealed).await;
        }
        Err(StoreError::Busy) => return answered_while_busy(state, patient, conversation_id, idempotency_key).await,
        Err(e) => return Err(e.into()),
    };
    if conv.status == crate::staff::takeover::TAKEN_OVER {
        // A person has the conversation: store the post for them, no model or script reply.
        return crate::staff::takeover::patient_post(state, patient, &conv, &lock, text, idempotency_key).await;
    }
    let engine_state: serde_json::Value = open_json(state, &state_aad(&conv.id, patient.as_str()), &conv.state).await?;
    let deadline = std::time::Duration::from_millis(state.policy.turn_deadline_ms);
    let turn = state.dialogue.turn(&conv.id, engine_state.clone(), patient, text, state.clock.now());
    let result = match tokio::time::timeout(deadline, turn).await {
        Ok(result) => result,
        // A stalled model (or EHR) hands the conversation to a person instead of a spinner.
        Err(_) => Ok(stalled(engine_state)),
    };
    let said = ChatMessage { role: "patient".into(), text: text.into(), options: vec![] };
    finish_turn(state, patient, &conv.id, &lock, conv.state_version, Some(said), idempotency_key, result).await
}

/// Another turn holds the lock: this post may be the retry of one answered already (its
/// answer is returned), else the patient is told to wait (409).
async fn answered_while_busy(state: &AppState, patient: &PatientId, conv: &str, key: Option<&str>) -> Result<TurnResponse, ApiError> {
    if let Some(key) = key {
        if let Some(sealed) = state.store.turn_result(conv, key).await? {
            return open_json(state, &state_aad(conv, patient.as_str()), &sealed).await;
        }
    }
    Err(StoreError::Busy.into())
}

#[allow(clippy::too_many_arguments)]
async fn finish_turn(
    state: &AppState,
    patient: &PatientId,
    conv_id: &str,
    lock: &str,
    state_version: i64,
    said: Option<ChatMessage>,
    idempotency_key: Option<&str>,
    result: Result<(serde_json::Value, TurnOutcome), DialogueError>,
) -> Result<TurnResponse, ApiError> {
    let (engine_state, outcome) = match result {
        Ok(ok) => ok,
        Err(e) => {
            // Refused whole (see module docs): the message is not stored, the client resends.
            state.store.release_turn(conv_id, lock).await?;
            state.metrics.turns.get_or_create(&outcome_label("failed")).inc();
            return Err(match e {
                DialogueError::Overloaded => ApiError::Unavailable {
                    message: "The assistant is busy right now. Please try again in a few seconds.".into(),
                    retry_after: 5,
                },
                DialogueError::Other(err) => ApiError::Internal(err),
            });
        }
    };
    let pid = patient.as_str();
    let replies: Vec<ChatMessage> = outcome.replies.iter().map(agent_message).collect();
    let response = TurnResponse {
        conversation_id: conv_id.to_owned(),
        replies: replies.clone(),
        escalated: outcome.escalation.is_some(),
        finished: outcome.finished,
    };
    let msg_aad = message_aad(conv_id, pid);
    let mut messages = Vec::new();
    for m in said.iter().chain(replies.iter()) {
        messages.push((m.role.clone(), seal_json(state, &msg_aad, m).await?));
    }
    let now = state.clock.now_ms();
    let commit = TurnCommit {
        conversation_id: conv_id.to_owned(),
        lock_token: lock.to_owned(),
        expected_state_version: state_version,
        state: seal_json(state, &state_aad(conv_id, pid), &engine_state).await?,
        status: status_of(&outcome).into(),
        script_id: outcome.script_id.clone(),
        script_version: outcome.script_version.map(i64::from),
        messages,
        idempotency: match idempotency_key {
            Some(k) => Some((k.to_owned(), seal_json(state, &state_aad(conv_id, pid), &response).await?)),
            None => None,
        },
        audit: audit_entry(state, patient, conv_id, said.as_ref(), &outcome, now).await?,
        escalation: outcome.escalation.as_ref().map(|e| escalation_row(e, now, &state.policy.sla)),
        outbox: crate::outbox::rows_for(state, conv_id, patient, &outcome.deferred, now).await?,
        now,
    };
    if let Err(e) = state.store.commit_turn(&commit).await {
        let _ = state.store.release_turn(conv_id, lock).await;
        return Err(e.into());
    }
    state.metrics.turns.get_or_create(&outcome_label(status_of(&outcome))).inc();
    crate::followups::refills::note_turn(state, conv_id, patient, &outcome).await;
    if let Some(e) = &outcome.escalation {
        let p = serde_json::to_value(e.priority).ok().and_then(|v| v.as_str().map(str::to_owned));
        state.metrics.escalations.get_or_create(&outcome_label(&p.unwrap_or_default())).inc();
        if let Some(row) = &commit.escalation {
            state.staff.escalation_created(&row.id, conv_id, &row.priority, now);
        }
    }
    Ok(response)
}

/// What the patient is told when a turn ran past the deadline (English, Spanish); the load
/// bench counts these turns by it.
pub const STALLED_REPLIES: [&str; 2] = [
    "I'm sorry, this is taking longer than it should. I've asked a member of our care team to continue with you.",
    "Lo siento, esto está tardando más de lo debido. He pedido a una persona de nuestro equipo que continúe con usted.",
];

/// The turn that took too long: state unchanged, the patient told a person will continue,
/// and the case queued.
fn stalled(engine_state: serde_json::Value) -> (serde_json::Value, TurnOutcome) {
    let spanish = engine_state.get("lang").and_then(|l| l.as_str()) == Some("es");
    let text = if spanish { STALLED_REPLIES[1] } else { STALLED_REPLIES[0] };
    let outcome = TurnOutcome {
        replies: vec![Reply { text: text.into(), options: vec![] }],
        escalation: Some(workflows::Escalation {
            priority: workflows::Priority::High,
            reason: workflows::EscalationReason::WorkflowFailure("turn_deadline".into()),
        }),
        effects: vec![],
        intent: None,
        slots: serde_json::Value::Null,
        red_flag: None,
        confidence: None,
        script_id: engine_state.get("script_id").and_then(|v| v.as_str()).map(str::to_owned),
        script_version: engine_state.get("script_version").and_then(|v| v.as_u64()).map(|v| v as u32),
        finished: false,
        trace: vec![],
        deferred: vec![],
    };
    (engine_state, outcome)
}

fn outcome_label(s: &str) -> crate::metrics::OutcomeLabels {
    crate::metrics::OutcomeLabels { outcome: s.to_owned() }
}

fn agent_message(r: &Reply) -> ChatMessage {
    ChatMessage { role: "agent".into(), text: r.text.clone(), options: r.options.clone() }
}

fn status_of(o: &TurnOutcome) -> &'static str {
    if o.escalation.is_some() {
        "escalated"
    } else if o.finished {
        "finished"
    } else {
        "active"
    }
}

pub(crate) fn escalation_row(e: &workflows::Escalation, now: i64, sla: &crate::staff::Sla) -> NewEscalation {
    let as_text = |v: serde_json::Result<serde_json::Value>| v.map(|v| v.to_string()).unwrap_or_default();
    let priority = as_text(serde_json::to_value(e.priority)).trim_matches('"').to_owned();
    NewEscalation {
        id: uuid::Uuid::now_v7().to_string(),
        due_at: now + sla.wait_ms(&priority),
        priority,
        reason: as_text(serde_json::to_value(&e.reason)),
    }
}

/// The audit record of a turn: who, what, when, patient, FHIR resources touched, script and
/// version, model id and checksum, a hash of what the patient said, outcome. Sealed.
async fn audit_entry(
    state: &AppState,
    patient: &PatientId,
    conv_id: &str,
    said: Option<&ChatMessage>,
    o: &TurnOutcome,
    now: i64,
) -> Result<AuditEntry, ApiError> {
    let model = state.model.info();
    let input_hash = said.map(|m| hex::encode(Sha256::digest(m.text.as_bytes())));
    let record = serde_json::json!({
        "type": "chat.turn",
        "conversation": conv_id,
        "patient": patient.as_str(),
        "actor": {"role": "patient", "id": patient.as_str()},
        "source": {"address": crate::limits::current_client_addr()},
        "at": now,
        "input_sha256": input_hash,
        "intent": o.intent,
        "red_flag": o.red_flag,
        "effects": o.effects,
        "deferred": o.deferred.iter().map(|w| w.write.action()).collect::<Vec<_>>(),
        "escalation": o.escalation,
        "script": {"id": o.script_id, "version": o.script_version},
        "model": {"id": model.id, "sha256": model.sha256},
        "outcome": status_of(o),
    });
    let aad = Aad { table: "audit_log", row: conv_id, patient: patient.as_str() };
    Ok(AuditEntry {
        at: now,
        actor: "patient".into(),
        action: format!("chat.turn/{conv_id}"),
        payload: seal_json(state, &aad, &record).await?,
    })
}
