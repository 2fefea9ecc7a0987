//! How long each class of data is kept, and the sweep that deletes what is past it. Patients
//! under a legal hold, and conversations an escalation still points at, are never swept.
//! Audit records are the exception: the log must verify from its first record, so the sweep
//! deletes none; it counts those past `audit_days` for the operator to archive with their
//! checkpoints. Each sweep is itself an audit record.

use serde::{Deserialize, Serialize};

use crate::store::{AuditEntry, AuditStore, StoreResult};

const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// `[retention]` settings, in days.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetentionSettings {
    /// Conversations with their messages and state, counted from their last turn.
    pub conversations_days: u32,
    /// Saved turn results that make retried posts idempotent.
    pub turn_results_days: u32,
    /// Patient sessions, counted from their last use.
    pub sessions_days: u32,
    /// Audit records: kept at least this long (six years by default).
    pub audit_days: u32,
}

impl Default for RetentionSettings {
    fn default() -> Self {
        Self { conversations_days: 6 * 365, turn_results_days: 7, sessions_days: 30, audit_days: 6 * 365 }
    }
}

/// Cut-off times (ms) below which each class expires.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cutoffs {
    pub conversations: i64,
    pub turn_results: i64,
    pub sessions: i64,
    pub audit: i64,
}

impl RetentionSettings {
    pub fn cutoffs(&self, now: i64) -> Cutoffs {
        let before = |days: u32| now - days as i64 * DAY_MS;
        Cutoffs {
            conversations: before(self.conversations_days),
            turn_results: before(self.turn_results_days),
            sessions: before(self.sessions_days),
            audit: before(self.audit_days),
        }
    }
}

/// What one sweep removed (and found).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Swept {
    pub conversations: u64,
    pub messages: u64,
    pub turn_results: u64,
    pub sessions: u64,
    /// Audit records older than `audit_days` (kept; see the module docs).
    pub audit_past_retention: u64,
}

/// Deletes expired data and records the sweep in the audit log, in one transaction.
pub async fn sweep(store: &dyn AuditStore, settings: &RetentionSettings, now: i64) -> StoreResult<Swept> {
    store.sweep_expired(&settings.cutoffs(now), now).await
}

/// The audit record of a sweep: counts only, in clear.
pub fn sweep_record(swept: &Swept, now: i64) -> AuditEntry {
    AuditEntry {
        at: now,
        actor: "system".into(),
        action: "retention.sweep".into(),
        payload: serde_json::json!({"type": "retention.sweep", "swept": swept}).to_string().into_bytes(),
    }
}

/// Sweeps once at start and then daily, on the current runtime.
pub fn spawn(store: std::sync::Arc<dyn AuditStore>, settings: RetentionSettings, clock: std::sync::Arc<dyn crate::clock::Clock>) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_millis(DAY_MS as u64));
        loop {
            tick.tick().await;
            match sweep(store.as_ref(), &settings, clock.now_ms()).await {
                Ok(s) => tracing::info!(
                    conversations = s.conversations,
                    sessions = s.sessions,
                    turn_results = s.turn_results,
                    audit_past_retention = s.audit_past_retention,
                    "retention sweep"
                ),
                Err(e) => tracing::error!(error = %e, "retention sweep failed"),
            }
        }
    });
}
