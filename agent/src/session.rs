//! Patient sessions: an opaque random token (cookie `agent_session`, HttpOnly, Secure,
//! SameSite=Strict, or `Authorization: Bearer`) that the server maps to the patient bound at
//! sign-in. Only its hash is stored. 15 minutes idle or 12 hours in all, and it is gone.

use axum::extract::FromRequestParts;
use axum::http::header::{AUTHORIZATION, COOKIE};
use axum::http::request::Parts;
use base64::Engine as _;
use fhir_client::PatientId;
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::error::ApiError;
use crate::state::AppState;

pub const COOKIE_NAME: &str = "agent_session";

/// The signed-in patient. Every route that touches patient data takes this extractor, and
/// scopes everything it does to `patient`.
#[derive(Clone, Debug)]
pub struct PatientSession {
    pub patient: PatientId,
    pub token_hash: String,
}

pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Creates a session for `patient`; returns the token to hand to the client.
pub async fn create(state: &AppState, patient: &PatientId) -> Result<String, ApiError> {
    let mut raw = [0u8; 32];
    rand::rng().fill_bytes(&mut raw);
    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw);
    state.store.create_session(&hash_token(&token), patient.as_str(), state.clock.now_ms()).await?;
    Ok(token)
}

/// The `Set-Cookie` value for a new session token.
pub fn cookie(state: &AppState, token: &str) -> String {
    let secure = if state.policy.secure_cookies { "; Secure" } else { "" };
    format!("{COOKIE_NAME}={token}; Path=/; HttpOnly; SameSite=Strict{secure}")
}

pub fn clear_cookie() -> String {
    format!("{COOKIE_NAME}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0")
}

fn token_from(parts: &Parts) -> Option<String> {
    bearer_or_cookie(parts, COOKIE_NAME)
}

/// A session token from `Authorization: Bearer …`, else from the cookie `cookie` (patient and
/// staff sessions carry theirs the same way, under different cookie names).
pub(crate) fn bearer_or_cookie(parts: &Parts, cookie: &str) -> Option<String> {
    if let Some(t) = parts.headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer ")) {
        return Some(t.trim().to_owned());
    }
    parts
        .headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == cookie)
        .map(|(_, v)| v.to_owned())
}

impl FromRequestParts<AppState> for PatientSession {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = token_from(parts).ok_or(ApiError::Unauthorized)?;
        let token_hash = hash_token(&token);
        let row = state.store.session(&token_hash).await?.ok_or(ApiError::Unauthorized)?;
        let now = state.clock.now_ms();
        let idle = now - row.last_seen > state.policy.session_idle_ms;
        let expired = now - row.created_at > state.policy.session_absolute_ms;
        if idle || expired {
            state.store.delete_session(&token_hash).await?;
            return Err(ApiError::Unauthorized);
        }
        // Seen again: recorded at most once a minute (a tenth of the idle limit when that is
        // shorter), not on every request; expiry is as exact as the idle limit needs.
        if now - row.last_seen >= (state.policy.session_idle_ms / 10).min(60_000) {
            state.store.touch_session(&token_hash, now).await?;
        }
        let patient = PatientId::parse(row.patient_id).map_err(|e| ApiError::Internal(e.into()))?;
        Ok(Self { patient, token_hash })
    }
}
