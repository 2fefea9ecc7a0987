//! Live takeover: a coordinator takes a conversation from the agent. While it is taken over
//! the patient's posts are stored and shown to staff but answered by no model or script; the
//! coordinator's messages go into the patient's history and live stream. Handing back lets the
//! script resume from the step it was waiting at. Every change goes through the same turn lock
//! and the same audited commit as a patient turn.

use fhir_client::PatientId;
use sha2::{Digest, Sha256};

use super::rbac::Staff;
use super::QueueEvent;
use crate::chat::{self, ChatMessage, TurnResponse};
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::{AuditEntry, ConversationRow, TurnCommit};

/// `conversations.status` while a person has the conversation.
pub const TAKEN_OVER: &str = "taken_over";

fn joined_text(lang: Option<&str>) -> &'static str {
    if lang == Some("es") {
        "Una persona de nuestro equipo de atención se ha unido a la conversación."
    } else {
        "A member of our care team has joined the conversation."
    }
}

fn handback_text(lang: Option<&str>) -> &'static str {
    if lang == Some("es") {
        "El asistente continúa ahora con usted donde lo dejó."
    } else {
        "The assistant is continuing with you now, where you left off."
    }
}

/// What to do to the engine state when committing a staff change.
enum StateEdit {
    Keep,
    /// Hand back: an escalated script may run again from where it waited.
    Resume,
}

struct StaffCommit<'a> {
    status: &'a str,
    messages: Vec<ChatMessage>,
    action: &'a str,
    edit: StateEdit,
}

/// Takes the conversation's turn lock, appends `messages`, sets `status` and commits with the
/// audit record; 409 while a patient turn runs. Returns the conversation as it was.
async fn commit(state: &AppState, staff: &Staff, conv_id: &str, c: StaffCommit<'_>) -> Result<ConversationRow, ApiError> {
    let now = state.clock.now_ms();
    let lock = uuid::Uuid::new_v4().to_string();
    state.store.begin_turn(conv_id, &lock, now, now + state.policy.turn_lock_ms).await?;
    let result = commit_locked(state, staff, conv_id, &lock, c, now).await;
    if result.is_err() {
        let _ = state.store.release_turn(conv_id, &lock).await;
    }
    result
}

async fn commit_locked(
    state: &AppState,
    staff: &Staff,
    conv_id: &str,
    lock: &str,
    c: StaffCommit<'_>,
    now: i64,
) -> Result<ConversationRow, ApiError> {
    let conv = state.store.conversation(conv_id).await?.ok_or(ApiError::NotFound)?;
    let state_aad = chat::state_aad(&conv.id, &conv.patient_id);
    let sealed_state = match c.edit {
        StateEdit::Keep => conv.state.clone(),
        StateEdit::Resume => {
            let mut engine: serde_json::Value = chat::open_json(state, &state_aad, &conv.state).await?;
            if engine.get("status").and_then(|s| s.as_str()) == Some("escalated") {
                engine["status"] = serde_json::Value::String("active".into());
            }
            chat::seal_json(state, &state_aad, &engine).await?
        }
    };
    let msg_aad = chat::message_aad(&conv.id, &conv.patient_id);
    let mut messages = Vec::with_capacity(c.messages.len());
    for m in &c.messages {
        messages.push((m.role.clone(), chat::seal_json(state, &msg_aad, m).await?));
    }
    let details = serde_json::json!({ "from_status": conv.status, "to_status": c.status, "messages": c.messages.len() });
    let audit = super::audit_entry(state, &staff.id, c.action, &conv.id, &conv.patient_id, details)?;
    let commit = TurnCommit {
        conversation_id: conv.id.clone(),
        lock_token: lock.to_owned(),
        expected_state_version: conv.state_version,
        state: sealed_state,
        status: c.status.to_owned(),
        script_id: conv.script_id.clone(),
        script_version: conv.script_version,
        messages,
        idempotency: None,
        audit,
        escalation: None,
        outbox: vec![],
        now,
    };
    state.store.commit_turn(&commit).await?;
    Ok(conv)
}

async fn lang_of(state: &AppState, conv: &ConversationRow) -> Option<String> {
    let engine: serde_json::Value = chat::open_json(state, &chat::state_aad(&conv.id, &conv.patient_id), &conv.state).await.ok()?;
    engine.get("lang").and_then(|l| l.as_str()).map(str::to_owned)
}

fn tell(state: &AppState, kind: &str, conv_id: &str, message: Option<ChatMessage>) {
    if let Some(m) = message {
        state.staff.conversation_message(conv_id, m);
    }
    state.staff.queue_event(QueueEvent {
        kind: kind.into(),
        escalation: None,
        conversation: Some(conv_id.to_owned()),
        priority: None,
        status: None,
        at: state.clock.now_ms(),
    });
}

/// The coordinator takes the conversation; the patient is told a person joined. 409 when
/// someone already has it.
pub async fn take_over(state: &AppState, staff: &Staff, conv_id: &str) -> Result<(), ApiError> {
    let conv = state.store.conversation(conv_id).await?.ok_or(ApiError::NotFound)?;
    if !state.store.staff().start_takeover(conv_id, &staff.id, state.clock.now_ms()).await? {
        return Err(ApiError::Conflict("someone has already taken over this conversation".into()));
    }
    let joined = ChatMessage { role: "staff".into(), text: joined_text(lang_of(state, &conv).await.as_deref()).into(), options: vec![] };
    let c = StaffCommit { status: TAKEN_OVER, messages: vec![joined.clone()], action: "staff.takeover", edit: StateEdit::Keep };
    if let Err(e) = commit(state, staff, conv_id, c).await {
        state.store.staff().end_takeover(conv_id).await?;
        return Err(e);
    }
    tell(state, "takeover", conv_id, Some(joined));
    // The conversation's open cases are now being worked.
    for case in state.store.staff().open_escalations().await?.into_iter().filter(|c| c.conversation_id == conv_id) {
        if case.status == "new" || case.status == "claimed" {
            let _ = super::queue::transition(state, staff, &case.id, Some(case.version), "in_progress", None).await;
        }
    }
    Ok(())
}

/// 409 unless `staff` has taken this conversation over.
async fn require_holder(state: &AppState, staff: &Staff, conv_id: &str) -> Result<(), ApiError> {
    match state.store.staff().takeover_of(conv_id).await? {
        Some(holder) if holder == staff.id => Ok(()),
        Some(_) => Err(ApiError::Conflict("another coordinator has this conversation".into())),
        None => match state.store.conversation(conv_id).await? {
            Some(_) => Err(ApiError::Conflict("take the conversation over first".into())),
            None => Err(ApiError::NotFound),
        },
    }
}

/// A coordinator's message to the patient.
pub async fn staff_message(state: &AppState, staff: &Staff, conv_id: &str, text: &str) -> Result<ChatMessage, ApiError> {
    let text = text.trim();
    if text.is_empty() || text.chars().count() > chat::MAX_MESSAGE_CHARS {
        return Err(ApiError::BadRequest(format!("message must be 1 to {} characters", chat::MAX_MESSAGE_CHARS)));
    }
    require_holder(state, staff, conv_id).await?;
    let message = ChatMessage { role: "staff".into(), text: text.into(), options: vec![] };
    let c = StaffCommit { status: TAKEN_OVER, messages: vec![message.clone()], action: "staff.message", edit: StateEdit::Keep };
    commit(state, staff, conv_id, c).await?;
    tell(state, "staff_message", conv_id, Some(message.clone()));
    Ok(message)
}

/// Gives the conversation back to the agent, which answers the patient's next message from
/// the step it was waiting at.
pub async fn hand_back(state: &AppState, staff: &Staff, conv_id: &str) -> Result<(), ApiError> {
    require_holder(state, staff, conv_id).await?;
    let conv = state.store.conversation(conv_id).await?.ok_or(ApiError::NotFound)?;
    let notice = ChatMessage { role: "agent".into(), text: handback_text(lang_of(state, &conv).await.as_deref()).into(), options: vec![] };
    let c = StaffCommit { status: "active", messages: vec![notice.clone()], action: "staff.handback", edit: StateEdit::Resume };
    commit(state, staff, conv_id, c).await?;
    state.store.staff().end_takeover(conv_id).await?;
    tell(state, "handback", conv_id, Some(notice));
    Ok(())
}

/// A patient's post while a person has the conversation: stored, audited and shown to staff;
/// no model, no script, no reply. Called by `chat::post` with the turn lock held.
pub async fn patient_post(
    state: &AppState,
    patient: &PatientId,
    conv: &ConversationRow,
    lock: &str,
    text: &str,
    idempotency_key: Option<&str>,
) -> Result<TurnResponse, ApiError> {
    let now = state.clock.now_ms();
    let pid = patient.as_str();
    let said = ChatMessage { role: "patient".into(), text: text.into(), options: vec![] };
    let response = TurnResponse { conversation_id: conv.id.clone(), replies: vec![], escalated: false, finished: false };
    let state_aad = chat::state_aad(&conv.id, pid);
    let record = serde_json::json!({
        "type": "chat.turn",
        "conversation": conv.id,
        "patient": pid,
        "actor": {"role": "patient", "id": pid},
        "source": {"address": crate::limits::current_client_addr()},
        "at": now,
        "input_sha256": hex::encode(Sha256::digest(text.as_bytes())),
        "outcome": TAKEN_OVER,
    });
    let audit_aad = crate::crypto::Aad { table: "audit_log", row: &conv.id, patient: pid };
    let commit = TurnCommit {
        conversation_id: conv.id.clone(),
        lock_token: lock.to_owned(),
        expected_state_version: conv.state_version,
        state: conv.state.clone(),
        status: TAKEN_OVER.into(),
        script_id: conv.script_id.clone(),
        script_version: conv.script_version,
        messages: vec![(said.role.clone(), chat::seal_json(state, &chat::message_aad(&conv.id, pid), &said).await?)],
        idempotency: match idempotency_key {
            Some(k) => Some((k.to_owned(), chat::seal_json(state, &state_aad, &response).await?)),
            None => None,
        },
        audit: AuditEntry { at: now, actor: "patient".into(), action: format!("chat.turn/{}", conv.id), payload: chat::seal_json(state, &audit_aad, &record).await? },
        escalation: None,
        outbox: vec![],
        now,
    };
    if let Err(e) = state.store.commit_turn(&commit).await {
        let _ = state.store.release_turn(&conv.id, lock).await;
        return Err(e.into());
    }
    tell(state, "patient_message", &conv.id, None);
    Ok(response)
}
