//! Events from the hospital's integration engine (e.g. an ADT discharge), authenticated with
//! the integration key. Absent (404) unless an integration key is configured.

use axum::extract::State;
use axum::http::header::AUTHORIZATION;
use axum::http::HeaderMap;
use axum::routing::post;
use axum::{Json, Router};
use fhir_client::{EncounterId, PatientId};
use serde::Deserialize;
use serde_json::json;
use workflows::Lang;

use crate::error::ApiError;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/events/discharge", post(discharge))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Discharge {
    patient: String,
    encounter: String,
    #[serde(default)]
    lang: Option<Lang>,
}

fn authorised(state: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(key) = state.integration.key.as_deref() else { return Err(ApiError::NotFound) };
    let given = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
    // Constant-time comparison of hashes: no timing hint about the key.
    use sha2::{Digest, Sha256};
    let (a, b) = (Sha256::digest(key.as_bytes()), Sha256::digest(given.unwrap_or_default().as_bytes()));
    if given.is_some() && a.iter().zip(b.iter()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0 {
        Ok(())
    } else {
        Err(ApiError::Unauthorized)
    }
}

async fn discharge(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Json<Discharge>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    authorised(&state, &headers)?;
    let Json(body) = body.map_err(|_| ApiError::BadRequest("body must be {\"patient\", \"encounter\"}".into()))?;
    let patient = PatientId::parse(body.patient).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let encounter = EncounterId::parse(body.encounter).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let started = crate::outreach::start_followup(&state, &patient, &encounter, body.lang.unwrap_or_default()).await?;
    Ok(Json(match started {
        Some(r) => json!({ "started": true, "conversation": r.conversation_id }),
        None => json!({ "started": false }),
    }))
}
