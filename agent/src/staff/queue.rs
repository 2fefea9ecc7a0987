//! The escalation queue: cases the agent handed to a person, most urgent first, each with the
//! time its SLA runs out. A claim (or any change) names the version it read, so of two
//! coordinators claiming at once exactly one wins and the other gets 409. A sweep announces
//! each SLA breach once, at its due time by the service clock.

use serde::{Deserialize, Serialize};

use super::rbac::Staff;
use super::QueueEvent;
use crate::chat::{self, ChatMessage};
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::staff::{EscalationChange, EscalationRow};

/// One case as the console lists it (no patient content).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Case {
    pub id: String,
    pub conversation_id: String,
    pub patient_id: String,
    pub priority: String,
    /// The reason as the engine gave it (`{"kind": "red_flag", "detail": ...}`).
    pub reason: serde_json::Value,
    pub status: String,
    pub created_at: i64,
    pub due_at: i64,
    pub overdue: bool,
    pub version: i64,
    pub claimed_by: Option<String>,
}

/// What a person needs to pick the case up.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ContextBundle {
    pub case: Case,
    pub transcript: Vec<ChatMessage>,
    pub slots: serde_json::Value,
    pub fhir_references: Vec<String>,
    pub script: Option<ScriptRef>,
    pub note: Option<String>,
    /// The staff id holding a live takeover of the conversation, if any (the console enables
    /// its chat for the holder).
    #[serde(default)]
    pub taken_over_by: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ScriptRef {
    pub id: String,
    pub version: Option<i64>,
}

fn rank(priority: &str) -> u8 {
    match priority {
        "urgent" => 0,
        "high" => 1,
        _ => 2,
    }
}

fn case(row: &EscalationRow, now: i64) -> Case {
    Case {
        id: row.id.clone(),
        conversation_id: row.conversation_id.clone(),
        patient_id: row.patient_id.clone(),
        priority: row.priority.clone(),
        reason: serde_json::from_str(&row.reason).unwrap_or_else(|_| serde_json::Value::String(row.reason.clone())),
        status: row.status.clone(),
        created_at: row.created_at,
        due_at: row.due_at,
        overdue: row.status != "resolved" && row.due_at <= now,
        version: row.version,
        claimed_by: row.claimed_by.clone(),
    }
}

/// Open cases: urgent, then high, then normal; within a priority the earliest due first.
pub async fn list(state: &AppState) -> Result<Vec<Case>, ApiError> {
    let now = state.clock.now_ms();
    let mut rows = state.store.staff().open_escalations().await?;
    rows.sort_by(|a, b| (rank(&a.priority), a.due_at, &a.id).cmp(&(rank(&b.priority), b.due_at, &b.id)));
    Ok(rows.iter().map(|r| case(r, now)).collect())
}

async fn row(state: &AppState, id: &str) -> Result<EscalationRow, ApiError> {
    state.store.staff().escalation(id).await?.ok_or(ApiError::NotFound)
}

fn note_aad<'a>(row: &'a EscalationRow) -> crate::crypto::Aad<'a> {
    crate::crypto::Aad { table: "escalations", row: &row.id, patient: &row.patient_id }
}

/// The case with its transcript, slots, FHIR references and script (audited: it shows PHI).
pub async fn context(state: &AppState, staff: &Staff, id: &str) -> Result<ContextBundle, ApiError> {
    let row = row(state, id).await?;
    let conv = state.store.conversation(&row.conversation_id).await?.ok_or(ApiError::NotFound)?;
    let transcript = chat::history(state, &conv).await?;
    let engine: serde_json::Value = chat::open_json(state, &chat::state_aad(&conv.id, &conv.patient_id), &conv.state).await?;
    let note = match &row.note {
        Some(sealed) => Some(String::from_utf8_lossy(&state.cipher.open(&note_aad(&row), sealed).map_err(|e| ApiError::Internal(e.into()))?).into_owned()),
        None => None,
    };
    let details = serde_json::json!({ "break_glass": staff.break_glass, "conversation": conv.id });
    let audit = super::audit_entry(state, &staff.id, "staff.view_case", &row.id, &row.patient_id, details)?;
    state.store.staff().append_staff_audit(&audit).await?;
    let mut fhir_references = vec![format!("Patient/{}", conv.patient_id)];
    collect_references(&engine, &mut fhir_references);
    let taken_over_by = state.store.staff().takeover_of(&conv.id).await?;
    Ok(ContextBundle {
        case: case(&row, state.clock.now_ms()),
        transcript,
        slots: engine.get("slots").cloned().unwrap_or(serde_json::Value::Null),
        fhir_references,
        script: conv.script_id.clone().map(|id| ScriptRef { id, version: conv.script_version }),
        note,
        taken_over_by,
    })
}

/// Every `Type/id` string in the engine state (encounter, offered slots, booked resources).
fn collect_references(v: &serde_json::Value, out: &mut Vec<String>) {
    const TYPES: &[&str] = &["Encounter/", "Slot/", "Appointment/", "MedicationRequest/", "Practitioner/", "Task/"];
    match v {
        serde_json::Value::String(s) if TYPES.iter().any(|t| s.starts_with(t)) && !out.contains(s) => out.push(s.clone()),
        serde_json::Value::Object(m) => {
            if let (Some(t), Some(id)) = (m.get("resourceType").and_then(|t| t.as_str()), m.get("id").and_then(|i| i.as_str())) {
                let r = format!("{t}/{id}");
                if !out.contains(&r) {
                    out.push(r);
                }
            }
            if let Some(e) = m.get("encounter").and_then(|e| e.as_str()) {
                let r = if e.contains('/') { e.to_owned() } else { format!("Encounter/{e}") };
                if !out.contains(&r) {
                    out.push(r);
                }
            }
            m.values().for_each(|x| collect_references(x, out));
        }
        serde_json::Value::Array(a) => a.iter().for_each(|x| collect_references(x, out)),
        _ => {}
    }
}

/// Moves a case to `status` if it is still at the version the caller read (`expected`, or the
/// version read here). 409 when someone else changed it first.
pub async fn transition(
    state: &AppState,
    staff: &Staff,
    id: &str,
    expected: Option<i64>,
    status: &str,
    note: Option<&str>,
) -> Result<Case, ApiError> {
    let current = row(state, id).await?;
    let version = expected.unwrap_or(current.version);
    let allowed = match status {
        "claimed" => current.status == "new",
        "in_progress" => current.status == "claimed" || current.status == "new",
        "resolved" => current.status != "resolved",
        _ => false,
    };
    if version != current.version || !allowed {
        return Err(ApiError::Conflict(format!("the case is {} (version {})", current.status, current.version)));
    }
    let now = state.clock.now_ms();
    let sealed_note = match note {
        Some(n) => Some(state.cipher.seal(&note_aad(&current), n.as_bytes()).map_err(|e| ApiError::Internal(e.into()))?),
        None => None,
    };
    let claimed_by = (status != "resolved").then_some(staff.id.as_str());
    let change = EscalationChange {
        id,
        expected_version: version,
        status,
        claimed_by,
        note: sealed_note.as_deref(),
        resolved_at: (status == "resolved").then_some(now),
        now,
    };
    let details = serde_json::json!({ "status": status, "from": current.status, "break_glass": staff.break_glass });
    let audit = super::audit_entry(state, &staff.id, &format!("staff.case_{status}"), id, &current.patient_id, details)?;
    if !state.store.staff().change_escalation(&change, &audit).await? {
        return Err(ApiError::Conflict("someone else changed this case first".into()));
    }
    let updated = row(state, id).await?;
    state.staff.queue_event(QueueEvent {
        kind: status.to_owned(),
        escalation: Some(updated.id.clone()),
        conversation: Some(updated.conversation_id.clone()),
        priority: Some(updated.priority.clone()),
        status: Some(updated.status.clone()),
        at: now,
    });
    Ok(case(&updated, now))
}

/// Announces every SLA breach due by now, once each (across replicas); returns the case ids.
pub async fn fire_breaches(state: &AppState) -> Result<Vec<String>, ApiError> {
    let now = state.clock.now_ms();
    let mut fired = Vec::new();
    for row in state.store.staff().breached_escalations(now).await? {
        let details = serde_json::json!({ "priority": row.priority, "due_at": row.due_at, "status": row.status });
        let audit = super::audit_entry(state, "system", "staff.sla_breach", &row.id, &row.patient_id, details)?;
        if state.store.staff().mark_breach(&row.id, &audit).await? {
            state.staff.queue_event(QueueEvent {
                kind: "sla_breach".into(),
                escalation: Some(row.id.clone()),
                conversation: Some(row.conversation_id.clone()),
                priority: Some(row.priority.clone()),
                status: Some(row.status.clone()),
                at: now,
            });
            fired.push(row.id);
        }
    }
    Ok(fired)
}

/// Runs `fire_breaches` every `every` for as long as the server runs.
pub async fn watch_sla(state: AppState, every: std::time::Duration) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Err(e) = fire_breaches(&state).await {
            let (_, body) = e.outcome("sla-watch");
            tracing::warn!(code = %body["issue"][0]["code"], "SLA sweep failed");
        }
    }
}
