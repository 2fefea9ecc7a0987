//! Proactive outreach: a discharge starts a follow-up conversation that the agent opens and
//! speaks first in, once per encounter however many replicas hear of it, and the portal is
//! told (a webhook carrying ids only) so it can nudge the patient.

use fhir_client::{EncounterId, PatientId};
use workflows::Lang;

use crate::chat::{self, Opening, TurnResponse};
use crate::error::ApiError;
use crate::state::AppState;

/// Opens the follow-up for `encounter`; `None` when it was already started.
pub async fn start_followup(
    state: &AppState,
    patient: &PatientId,
    encounter: &EncounterId,
    lang: Lang,
) -> Result<Option<TurnResponse>, ApiError> {
    let claimed = state.store.claim_outreach(encounter.as_str(), patient.as_str(), state.clock.now_ms()).await?;
    if !claimed {
        return Ok(None);
    }
    let opened = chat::open(state, patient, lang, Opening::Discharge(encounter.clone())).await?;
    state.store.set_outreach_conversation(encounter.as_str(), &opened.conversation_id).await?;
    notify_portal(state, patient, &opened.conversation_id);
    Ok(Some(opened))
}

/// Fire-and-forget POST to the portal's hook; failures are logged by kind only.
fn notify_portal(state: &AppState, patient: &PatientId, conversation: &str) {
    let Some(url) = state.integration.notify_url.clone() else { return };
    let body = serde_json::json!({
        "event": "conversation.started",
        "reason": "discharge_followup",
        "patient": patient.as_str(),
        "conversation": conversation,
    });
    tokio::spawn(async move {
        let client = reqwest::Client::new();
        match client.post(url).json(&body).timeout(std::time::Duration::from_secs(5)).send().await {
            Ok(r) if r.status().is_success() => {}
            Ok(r) => tracing::warn!(status = r.status().as_u16(), "portal notification refused"),
            Err(e) => tracing::warn!(error_kind = if e.is_timeout() { "timeout" } else { "connect" }, "portal notification failed"),
        }
    });
}
