//! Patient sign-in: the portal's signed launch token exchanged for a session, sign-out, and
//! in demo mode only, picking one of the seeded demo patients (absent, 404, otherwise).

use axum::extract::State;
use axum::http::header::SET_COOKIE;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use fhir_client::PatientId;
use serde::Deserialize;
use serde_json::json;

use crate::error::ApiError;
use crate::session;
use crate::state::{AppState, DemoPatient};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/demo/patients", get(patients))
        .route("/api/demo/sign-in", post(sign_in))
        .route("/api/session", post(launch))
        .route("/api/sign-out", post(sign_out))
}

async fn patients(State(state): State<AppState>) -> Result<Json<Vec<DemoPatient>>, ApiError> {
    if !state.policy.demo {
        return Err(ApiError::NotFound);
    }
    Ok(Json(state.demo_patients.as_ref().clone()))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SignIn {
    patient: String,
}

async fn sign_in(
    State(state): State<AppState>,
    body: Result<Json<SignIn>, axum::extract::rejection::JsonRejection>,
) -> Result<impl IntoResponse, ApiError> {
    if !state.policy.demo {
        return Err(ApiError::NotFound);
    }
    let Json(body) = body.map_err(|_| ApiError::BadRequest("body must be {\"patient\": ID}".into()))?;
    if !state.demo_patients.iter().any(|p| p.id == body.patient) {
        return Err(ApiError::BadRequest("not a demo patient".into()));
    }
    let patient = PatientId::parse(body.patient).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let token = session::create(&state, &patient).await?;
    let cookie = session::cookie(&state, &token);
    Ok(([(SET_COOKIE, cookie)], Json(json!({ "token": token }))))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Launch {
    launch_token: String,
}

/// Exchanges the portal's signed launch token for a session (cookie and bearer token).
async fn launch(
    State(state): State<AppState>,
    body: Result<Json<Launch>, axum::extract::rejection::JsonRejection>,
) -> Result<impl IntoResponse, ApiError> {
    let verifier = state.launch.as_ref().ok_or(ApiError::NotFound)?;
    let Json(body) = body.map_err(|_| ApiError::BadRequest("body must be {\"launch_token\": JWT}".into()))?;
    let patient = verifier.verify(&body.launch_token).ok_or(ApiError::Unauthorized)?;
    let token = session::create(&state, &patient).await?;
    let cookie = session::cookie(&state, &token);
    Ok(([(SET_COOKIE, cookie)], Json(json!({ "token": token }))))
}

async fn sign_out(State(state): State<AppState>, s: session::PatientSession) -> Result<impl IntoResponse, ApiError> {
    state.store.delete_session(&s.token_hash).await?;
    Ok(([(SET_COOKIE, session::clear_cookie())], Json(json!({ "signed_out": true }))))
}
