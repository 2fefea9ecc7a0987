//! Refill status changes. A turn that creates a refill Task starts a watch on it; a poll every
//! `outreach.refill_poll_minutes` reads each open Task from the EHR and, when its status moved
//! (requested → accepted, completed, rejected, ...), adds one agent message to the patient's
//! conversation from the `refill_*` templates in the conversation's language. The message
//! commits under the conversation's turn lock with its audit record and the watch's new status
//! in one transaction, so each change is told exactly once.

use fhir_client::{PatientId, TaskId};
use workflows::TurnOutcome;

use crate::chat::{self, ChatMessage};
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::followups::{RefillNotice, RefillWatch};
use crate::store::{ConversationRow, StoreError};

/// The status a refill Task is created with (fhir-client's `request_refill`).
const CREATED: &str = "requested";

/// FHIR Task statuses after which nothing more happens.
const FINAL: &[&str] = &["completed", "rejected", "cancelled", "failed", "entered-in-error"];

/// After a committed turn: watch every refill Task it created. The reply is already sent, so a
/// failure here is logged, not returned.
pub async fn note_turn(state: &AppState, conversation_id: &str, patient: &PatientId, outcome: &TurnOutcome) {
    let now = state.clock.now_ms();
    for effect in outcome.effects.iter().filter(|e| e.action == "request_refill") {
        let Some(task) = effect.resource.strip_prefix("Task/") else { continue };
        let watch = RefillWatch {
            task_id: task.to_owned(),
            conversation_id: conversation_id.to_owned(),
            patient_id: patient.as_str().to_owned(),
            last_status: CREATED.to_owned(),
        };
        if state.store.followups().watch_refill(&watch, now).await.is_err() {
            tracing::warn!("could not start watching a refill Task");
        }
    }
}

/// Reads every open refill Task and tells each status change; returns how many were told.
pub async fn poll(state: &AppState) -> Result<usize, ApiError> {
    let mut told = 0;
    for watch in state.store.followups().open_refill_watches().await? {
        let (Ok(patient), Ok(task)) = (PatientId::parse(watch.patient_id.as_str()), TaskId::parse(watch.task_id.as_str())) else {
            continue;
        };
        let status = match state.ehr.refill_task(&patient, &task).await {
            Ok(t) => t.status,
            Err(_) => {
                // Kind only: the EHR's error text may name the patient.
                tracing::warn!("refill Task unreadable; retrying at the next poll");
                continue;
            }
        };
        if status != watch.last_status && tell(state, &watch, &status).await? {
            told += 1;
        }
    }
    Ok(told)
}

/// Tells one change under the conversation's turn lock; false when a turn holds the
/// conversation (the next poll retries) or another replica told it first.
async fn tell(state: &AppState, watch: &RefillWatch, status: &str) -> Result<bool, ApiError> {
    let now = state.clock.now_ms();
    let lock = uuid::Uuid::new_v4().to_string();
    match state.store.begin_turn(&watch.conversation_id, &lock, now, now + state.policy.turn_lock_ms).await {
        Ok(_) => {}
        Err(StoreError::Busy) => return Ok(false),
        Err(e) => return Err(e.into()),
    }
    let result = tell_locked(state, watch, status, &lock, now).await;
    if !matches!(result, Ok(true)) {
        let _ = state.store.release_turn(&watch.conversation_id, &lock).await;
    }
    result
}

async fn tell_locked(state: &AppState, watch: &RefillWatch, status: &str, lock: &str, now: i64) -> Result<bool, ApiError> {
    let conv = state.store.conversation(&watch.conversation_id).await?.ok_or(ApiError::NotFound)?;
    let message = ChatMessage { role: "agent".into(), text: prompts::refill_status(lang_of(state, &conv).await?, status), options: vec![] };
    let details = serde_json::json!({
        "task": format!("Task/{}", watch.task_id),
        "from": watch.last_status,
        "to": status,
    });
    let notice = RefillNotice {
        task_id: &watch.task_id,
        conversation_id: &conv.id,
        lock_token: lock,
        from: &watch.last_status,
        to: status,
        close: FINAL.contains(&status),
        message: chat::seal_json(state, &chat::message_aad(&conv.id, &conv.patient_id), &message).await?,
        audit: crate::staff::audit_entry(state, "system", "refill.status_told", &conv.id, &conv.patient_id, details)?,
        now,
    };
    if !state.store.followups().tell_refill_status(&notice).await? {
        return Ok(false);
    }
    state.staff.conversation_message(&conv.id, message);
    Ok(true)
}

/// The conversation's language as the engine keeps it (English unless it says Spanish).
async fn lang_of(state: &AppState, conv: &ConversationRow) -> Result<prompts::Lang, ApiError> {
    let engine: serde_json::Value = chat::open_json(state, &chat::state_aad(&conv.id, &conv.patient_id), &conv.state).await?;
    Ok(if engine.get("lang").and_then(|l| l.as_str()) == Some("es") { prompts::Lang::Es } else { prompts::Lang::En })
}
