//! The staff side: who staff are (users, passwords, second factor, sessions), what each role
//! may reach (one RBAC table), the escalation queue coordinators work, and live takeover of a
//! patient's conversation. Every staff action is audited under the staff member's id.

pub mod auth;
pub mod queue;
pub mod rbac;
pub mod scripts;
pub mod takeover;

use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

use crate::chat::ChatMessage;
use crate::crypto::Aad;
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::AuditEntry;

/// What a staff member is allowed to be. Parsed once at the edge (CLI, database row).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Coordinator,
    Clinician,
    Admin,
    Auditor,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Coordinator, Role::Clinician, Role::Admin, Role::Auditor];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Coordinator => "coordinator",
            Role::Clinician => "clinician",
            Role::Admin => "admin",
            Role::Auditor => "auditor",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// A queue change, as consoles see it over SSE (ids and states only, no patient content).
#[derive(Clone, Debug, Serialize)]
pub struct QueueEvent {
    /// created, claimed, in_progress, resolved, sla_breach, takeover, handback, patient_message.
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub escalation: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conversation: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub priority: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    pub at: i64,
}

/// A message added to a conversation outside the patient's own turn (a staff member wrote it),
/// for the patient's live stream.
#[derive(Clone, Debug)]
pub struct ConversationEvent {
    pub conversation: String,
    pub message: ChatMessage,
}

/// The in-replica fan-out of live updates (tokio broadcast; consoles on another replica see a
/// change when they reload).
#[derive(Clone)]
pub struct Hub {
    pub queue: broadcast::Sender<QueueEvent>,
    pub conversations: broadcast::Sender<ConversationEvent>,
}

impl Default for Hub {
    fn default() -> Self {
        Self { queue: broadcast::channel(256).0, conversations: broadcast::channel(256).0 }
    }
}

impl Hub {
    /// Tells every console; nobody listening is fine.
    pub fn queue_event(&self, event: QueueEvent) {
        let _ = self.queue.send(event);
    }

    /// A new case from a patient turn.
    pub fn escalation_created(&self, id: &str, conversation: &str, priority: &str, at: i64) {
        self.queue_event(QueueEvent {
            kind: "created".into(),
            escalation: Some(id.to_owned()),
            conversation: Some(conversation.to_owned()),
            priority: Some(priority.to_owned()),
            status: Some("new".into()),
            at,
        });
    }

    pub fn conversation_message(&self, conversation: &str, message: ChatMessage) {
        let _ = self.conversations.send(ConversationEvent { conversation: conversation.to_owned(), message });
    }
}

/// The escalation's SLA: how long each priority may wait for a person (settings).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Sla {
    pub urgent_minutes: i64,
    pub high_minutes: i64,
    pub normal_minutes: i64,
}

impl Default for Sla {
    fn default() -> Self {
        Self { urgent_minutes: 15, high_minutes: 60, normal_minutes: 8 * 60 }
    }
}

impl Sla {
    /// Milliseconds a case of `priority` may wait ("urgent", "high", anything else normal).
    pub fn wait_ms(&self, priority: &str) -> i64 {
        let minutes = match priority {
            "urgent" => self.urgent_minutes,
            "high" => self.high_minutes,
            _ => self.normal_minutes,
        };
        minutes * 60 * 1000
    }
}

/// The sealed audit record of a staff action. `patient` is the patient whose data it touches
/// ("" when none); `break_glass` flags access granted only by a declared emergency. The
/// request's client address goes into the details (`ip`), and a staff member viewing a
/// patient counts towards the distinct-patients alert.
pub fn audit_entry(
    state: &AppState,
    actor: &str,
    action: &str,
    target: &str,
    patient: &str,
    details: serde_json::Value,
) -> Result<AuditEntry, ApiError> {
    let now = state.clock.now_ms();
    if !patient.is_empty() && action.starts_with("staff.view") {
        state.metrics.alerts.patient_read(actor, patient, now);
    }
    let record = AuditRecord { actor, action, target, patient, details, now };
    sealed_audit_entry(&state.cipher, record).map_err(ApiError::Internal)
}

/// What one staff (or staff-admin CLI) audit record says.
pub struct AuditRecord<'a> {
    pub actor: &'a str,
    pub action: &'a str,
    pub target: &'a str,
    pub patient: &'a str,
    pub details: serde_json::Value,
    pub now: i64,
}

/// The record sealed as every audit payload is (`audit_entry` for requests, the CLI directly).
pub fn sealed_audit_entry(cipher: &crate::crypto::Cipher, r: AuditRecord<'_>) -> anyhow::Result<AuditEntry> {
    let AuditRecord { actor, action, target, patient, details, now } = r;
    let record = serde_json::json!({
        "type": action,
        "target": target,
        "patient": patient,
        "actor": {"role": "staff", "id": actor},
        "source": {"address": crate::limits::current_client_addr()},
        "at": now,
        "details": details,
    });
    let bytes = serde_json::to_vec(&record)?;
    let aad = Aad { table: "audit_log", row: target, patient };
    let payload = cipher.seal(&aad, &bytes)?;
    Ok(AuditEntry { at: now, actor: format!("staff:{actor}"), action: format!("{action}/{target}"), payload })
}
