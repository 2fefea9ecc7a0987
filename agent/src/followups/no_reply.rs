//! A discharge follow-up the patient has not answered within `outreach.no_reply_hours`
//! becomes one coordinator case (priority normal, reason `no_reply`), once per conversation
//! however many replicas sweep.

use workflows::EscalationReason;

use crate::error::ApiError;
use crate::state::AppState;
use crate::store::NewEscalation;

/// Raises the no-reply case of every follow-up due by now; returns the new case ids.
pub async fn sweep(state: &AppState) -> Result<Vec<String>, ApiError> {
    let now = state.clock.now_ms();
    let started_by = now - state.policy.outreach.no_reply_ms();
    let reason = serde_json::to_string(&EscalationReason::NoReply).map_err(|e| ApiError::Internal(e.into()))?;
    let mut raised = Vec::new();
    for due in state.store.followups().unanswered_followups(started_by).await? {
        let case = NewEscalation {
            id: uuid::Uuid::now_v7().to_string(),
            priority: "normal".into(),
            reason: reason.clone(),
            due_at: now + state.policy.sla.wait_ms("normal"),
        };
        let details = serde_json::json!({ "reason": "no_reply", "escalation": case.id, "hours": state.policy.outreach.no_reply_hours });
        let audit = crate::staff::audit_entry(state, "system", "outreach.no_reply", &due.conversation_id, &due.patient_id, details)?;
        if state.store.followups().escalate_no_reply(&due.conversation_id, &case, now, &audit).await? {
            state.staff.escalation_created(&case.id, &due.conversation_id, &case.priority, now);
            let label = crate::metrics::OutcomeLabels { outcome: case.priority.clone() };
            state.metrics.escalations.get_or_create(&label).inc();
            raised.push(case.id);
        }
    }
    Ok(raised)
}
