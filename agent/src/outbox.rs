//! The outbox: EHR writes the EHR did not answer for during a turn. The script told the patient
//! their request is kept; the turn committed the write here with its reply. A worker on every
//! replica makes each due write with the idempotency key it had in the turn, so a first
//! attempt that did reach the EHR is not made twice, and then tells the patient in their
//! conversation, with the audit record, in one transaction. The EHR still not answering →
//! the write waits (doubling up to `max_retry_seconds`); the EHR refusing it now (the slot was
//! taken meanwhile) → the patient is told a person will follow up, and a coordinator case opens.

use fhir_client::PatientId;
use futures::{StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};
use workflows::{Effect, EscalationReason, Lang, PendingWrite, Priority};

use crate::chat::{self, ChatMessage};
use crate::config::ConfigError;
use crate::crypto::Aad;
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::outbox::{OutboxEnd, OutboxItem, OutboxRow};
use crate::store::StoreError;

/// How long one replica holds a write while it calls the EHR.
const LEASE_MS: i64 = 60_000;
/// Writes taken per pass.
const BATCH: i64 = 20;

/// `[outbox]` settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OutboxSettings {
    /// First wait after the EHR did not answer; doubles per attempt.
    pub first_retry_seconds: i64,
    pub max_retry_seconds: i64,
}

impl Default for OutboxSettings {
    fn default() -> Self {
        Self { first_retry_seconds: 10, max_retry_seconds: 300 }
    }
}

impl OutboxSettings {
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |key: &str, message: &str| ConfigError { key: format!("outbox.{key}"), message: message.into() };
        if !(1..=3600).contains(&self.first_retry_seconds) {
            return Err(bad("first_retry_seconds", "must be 1 to 3600"));
        }
        if !(self.first_retry_seconds..=86_400).contains(&self.max_retry_seconds) {
            return Err(bad("max_retry_seconds", "must be at least first_retry_seconds and at most 86400"));
        }
        Ok(())
    }

    /// The wait after `attempts` attempts that found the EHR down.
    pub fn backoff_ms(&self, attempts: i64) -> i64 {
        let doublings = attempts.clamp(1, 20) - 1;
        (self.first_retry_seconds * (1_i64 << doublings)).min(self.max_retry_seconds) * 1000
    }
}

fn body_aad<'a>(id: &'a str, patient: &'a str) -> Aad<'a> {
    Aad { table: "outbox", row: id, patient }
}

/// The outbox rows of a turn's kept writes, sealed, due after the first wait.
pub async fn rows_for(state: &AppState, conversation_id: &str, patient: &PatientId, kept: &[PendingWrite], now: i64) -> Result<Vec<OutboxRow>, ApiError> {
    let mut rows = Vec::with_capacity(kept.len());
    for w in kept {
        let id = uuid::Uuid::now_v7().to_string();
        rows.push(OutboxRow {
            body: chat::seal_json(state, &body_aad(&id, patient.as_str()), w).await?,
            id,
            conversation_id: conversation_id.to_owned(),
            patient_id: patient.as_str().to_owned(),
            action: w.write.action().to_owned(),
            next_attempt_at: now + state.policy.outbox.backoff_ms(1),
        });
    }
    Ok(rows)
}

/// Writes of a batch made at the same time.
const ATTEMPTS_AT_ONCE: usize = 4;
/// Batches taken per pass at most, so one pass cannot run for ever.
const MAX_BATCHES: usize = 50;

/// One pass: due writes are tried, batch after batch while batches end writes; returns how
/// many ended (made or refused). Nothing due while writes wait out their back-off → the EHR is
/// asked whether it answers again, and if it does, they are all due now: patients hear as soon
/// as the EHR is back, not a back-off later.
pub async fn drain(state: &AppState) -> Result<usize, ApiError> {
    let mut ended = 0;
    for _ in 0..MAX_BATCHES {
        let due = state.store.outbox().due_writes(state.clock.now_ms(), BATCH).await?;
        if due.is_empty() {
            if ehr_is_back(state).await? {
                continue;
            }
            break;
        }
        // A few at once: the writes are independent (each leased on its own), and a just
        // recovered EHR is not flooded.
        let taken = due.len();
        let ended_now = futures::stream::iter(due)
            .map(|item| {
                let state = state.clone();
                async move { attempt(&state, &item).await }
            })
            .buffer_unordered(ATTEMPTS_AT_ONCE)
            .try_fold(0, |n, told| async move { Ok(n + usize::from(told)) })
            .await?;
        ended += ended_now;
        if (taken as i64) < BATCH || ended_now == 0 {
            break;
        }
    }
    Ok(ended)
}

/// True when writes were waiting and the EHR answers now (they are made due).
async fn ehr_is_back(state: &AppState) -> Result<bool, ApiError> {
    let waiting = state.store.outbox().waiting_writes(state.clock.now_ms()).await?;
    if waiting == 0 {
        return Ok(false);
    }
    if let Err(e) = state.ehr.ping().await {
        tracing::debug!(waiting, error_kind = e.kind(), "kept EHR writes wait: the EHR does not answer yet");
        return Ok(false);
    }
    let hastened = state.store.outbox().hasten_writes(state.clock.now_ms()).await?;
    tracing::info!(hastened, "the EHR answers again: kept writes are due now");
    Ok(hastened > 0)
}

/// Leases `item`, makes the write, and ends it or schedules the next attempt.
async fn attempt(state: &AppState, item: &OutboxItem) -> Result<bool, ApiError> {
    let now = state.clock.now_ms();
    let lease = uuid::Uuid::new_v4().to_string();
    if !state.store.outbox().lease_write(&item.id, &lease, now, now + LEASE_MS).await? {
        return Ok(false);
    }
    let write: PendingWrite = chat::open_json(state, &body_aad(&item.id, &item.patient_id), &item.body).await?;
    let patient = PatientId::parse(item.patient_id.as_str()).map_err(|e| ApiError::Internal(e.into()))?;
    let made = workflows::engine::perform(state.ehr.as_ref(), &patient, &write).await;
    let ended = match made {
        Err(fhir_client::Error::Unavailable(_)) => None,
        result => Some(result.map_err(|e| e.kind())),
    };
    let attempts = item.attempts + 1;
    let told = match &ended {
        Some(result) => tell(state, item, &lease, &write, result, attempts).await?,
        None => false,
    };
    if !told {
        // Still down, or the conversation is busy with a turn: the next attempt repeats the
        // write under the same key (a made write is found, not made again) and tells it.
        let wait = if ended.is_some() { state.policy.outbox.backoff_ms(1) } else { state.policy.outbox.backoff_ms(attempts) };
        let now = state.clock.now_ms();
        state.store.outbox().retry_write(&item.id, &lease, now + wait, now).await?;
        tracing::info!(action = item.action.as_str(), attempts, "kept EHR write not done yet; retrying later");
    }
    Ok(told)
}

/// Tells the patient how the write ended, under the conversation's turn lock; false when a
/// turn holds the conversation (the write is retried and told on a later pass).
async fn tell(
    state: &AppState,
    item: &OutboxItem,
    lease: &str,
    write: &PendingWrite,
    result: &Result<Effect, &'static str>,
    attempts: i64,
) -> Result<bool, ApiError> {
    let now = state.clock.now_ms();
    let lock = uuid::Uuid::new_v4().to_string();
    match state.store.begin_turn(&item.conversation_id, &lock, now, now + state.policy.turn_lock_ms).await {
        Ok(_) => {}
        Err(StoreError::Busy) => return Ok(false),
        Err(e) => return Err(e.into()),
    }
    let told = end(state, item, lease, &lock, write, result, attempts).await;
    if !matches!(told, Ok(true)) {
        let _ = state.store.release_turn(&item.conversation_id, &lock).await;
    }
    told
}

async fn end(
    state: &AppState,
    item: &OutboxItem,
    lease: &str,
    lock: &str,
    write: &PendingWrite,
    result: &Result<Effect, &'static str>,
    attempts: i64,
) -> Result<bool, ApiError> {
    let lang = match write.lang {
        Lang::En => prompts::Lang::En,
        Lang::Es => prompts::Lang::Es,
    };
    let (status, outcome, text) = match result {
        Ok(effect) => {
            let text = prompts::outbox_done(lang, &item.action, &write.label).unwrap_or_default();
            ("done", effect.resource.clone(), text)
        }
        Err(kind) => ("failed", (*kind).to_owned(), prompts::outbox_failed(lang, &write.label)),
    };
    let message = ChatMessage { role: "agent".into(), text, options: vec![] };
    let escalation = result.is_err().then(|| failed_case(state, &item.action));
    let details = serde_json::json!({
        "action": item.action,
        "status": status,
        "result": outcome,
        "attempts": attempts,
        "effects": result.as_ref().map(|e| vec![e.clone()]).unwrap_or_default(),
    });
    let ends = OutboxEnd {
        id: &item.id,
        lease_token: lease,
        conversation_id: &item.conversation_id,
        lock_token: lock,
        status,
        result: &outcome,
        message: chat::seal_json(state, &chat::message_aad(&item.conversation_id, &item.patient_id), &message).await?,
        escalation: escalation.clone(),
        audit: crate::staff::audit_entry(state, "system", &format!("outbox.{status}"), &item.conversation_id, &item.patient_id, details)?,
        now: state.clock.now_ms(),
    };
    if !state.store.outbox().end_write(&ends).await? {
        return Ok(false);
    }
    state.staff.conversation_message(&item.conversation_id, message);
    if let Some(e) = escalation {
        state.staff.escalation_created(&e.id, &item.conversation_id, &e.priority, ends.now);
    }
    Ok(true)
}

/// The coordinator case for a kept write the EHR refused once it was back.
fn failed_case(state: &AppState, action: &str) -> crate::store::NewEscalation {
    let e = workflows::Escalation { priority: Priority::Normal, reason: EscalationReason::WorkflowFailure(format!("kept_{action}_refused")) };
    chat::escalation_row(&e, state.clock.now_ms(), &state.policy.sla)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Settings;

    #[test]
    fn waits_double_from_the_first_retry_up_to_the_cap() {
        let s = OutboxSettings { first_retry_seconds: 10, max_retry_seconds: 60 };
        let waits: Vec<i64> = (1..=5).map(|n| s.backoff_ms(n) / 1000).collect();
        assert_eq!(waits, [10, 20, 40, 60, 60]);
        assert_eq!(s.backoff_ms(10_000), 60_000, "no overflow after many attempts");
    }

    #[test]
    fn outbox_settings_are_read_and_checked() {
        let s = Settings::from_toml_overrides(&["[outbox]\nfirst_retry_seconds = 2\nmax_retry_seconds = 30"]).unwrap();
        assert_eq!(s.outbox, OutboxSettings { first_retry_seconds: 2, max_retry_seconds: 30 });
        let e = Settings::from_toml_overrides(&["[outbox]\nfirst_retry_seconds = 60\nmax_retry_seconds = 30"]).unwrap_err();
        assert_eq!(e.key, "outbox.max_retry_seconds");
        let e = Settings::from_toml_overrides(&["[outbox]\nfirst_retry = 5"]).unwrap_err();
        assert!(e.message.contains("first_retry"), "{e}");
    }
}
