//! Staff sign-in and the signed-in member's own routes: password, then the TOTP code, then a
//! full session; sign out; who am I; declare break-glass access (a reason, a time limit,
//! flagged in the audit).

use axum::extract::{FromRequestParts, State};
use axum::http::{header, request::Parts};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use crate::error::ApiError;
use crate::staff::auth::{self, SessionInfo};
use crate::staff::rbac::Staff;
use crate::state::AppState;

/// The most a break-glass declaration may last.
pub const BREAK_GLASS_MAX_MINUTES: i64 = 60;

/// Sign-in routes: reachable without a full session (they make one).
pub fn public_router() -> Router<AppState> {
    Router::new()
        .route("/api/staff/login", post(login))
        .route("/api/staff/login/totp", post(totp))
        .route("/api/staff/logout", post(logout))
}

/// Routes behind the RBAC table.
pub fn router() -> Router<AppState> {
    Router::new().route("/api/staff/me", get(me)).route("/api/staff/break-glass", post(break_glass))
}

fn bad_body(e: axum::extract::rejection::JsonRejection, shape: &str) -> ApiError {
    ApiError::BadRequest(format!("body must be {shape}: {}", e.body_text()))
}

/// A session that may still lack its second factor (only the TOTP step takes this).
struct AnySession(SessionInfo);

impl FromRequestParts<AppState> for AnySession {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        Ok(Self(auth::resolve(state, parts).await?))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LoginBody {
    username: String,
    password: String,
}

fn with_token(state: &AppState, token: String, body: serde_json::Value) -> Response {
    let mut resp = Json(body).into_response();
    if let Ok(v) = auth::cookie(state, &token).parse() {
        resp.headers_mut().insert(header::SET_COOKIE, v);
    }
    resp
}

async fn login(
    State(state): State<AppState>,
    body: Result<Json<LoginBody>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(body) = body.map_err(|e| bad_body(e, "{\"username\", \"password\"}"))?;
    let token = auth::login(&state, &body.username, &body.password).await?;
    Ok(with_token(&state, token.clone(), json!({ "token": token, "second_factor": "totp" })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TotpBody {
    code: String,
}

async fn totp(
    State(state): State<AppState>,
    AnySession(info): AnySession,
    body: Result<Json<TotpBody>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(body) = body.map_err(|e| bad_body(e, "{\"code\"}"))?;
    let token = auth::second_factor(&state, &info, &body.code).await?;
    Ok(with_token(&state, token.clone(), json!({ "token": token, "role": info.role })))
}

async fn logout(State(state): State<AppState>, AnySession(info): AnySession) -> Result<Response, ApiError> {
    state.store.staff().delete_staff_session(&info.token_hash).await?;
    let mut resp = axum::http::StatusCode::NO_CONTENT.into_response();
    if let Ok(v) = auth::clear_cookie().parse() {
        resp.headers_mut().insert(header::SET_COOKIE, v);
    }
    Ok(resp)
}

async fn me(State(state): State<AppState>, staff: Staff) -> Result<Json<serde_json::Value>, ApiError> {
    let session = state.store.staff().staff_session(&staff.token_hash).await?.ok_or(ApiError::Unauthorized)?;
    let now = state.clock.now_ms();
    let until = (session.break_glass_until > now).then_some(session.break_glass_until);
    Ok(Json(json!({ "id": staff.id, "username": staff.username, "role": staff.role, "break_glass_until": until })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BreakGlassBody {
    reason: String,
    minutes: i64,
}

async fn break_glass(
    State(state): State<AppState>,
    staff: Staff,
    body: Result<Json<BreakGlassBody>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let Json(body) = body.map_err(|e| bad_body(e, "{\"reason\", \"minutes\"}"))?;
    let reason = body.reason.trim();
    if reason.chars().count() < 10 || reason.chars().count() > 500 {
        return Err(ApiError::BadRequest("reason must be 10 to 500 characters".into()));
    }
    if !(1..=BREAK_GLASS_MAX_MINUTES).contains(&body.minutes) {
        return Err(ApiError::BadRequest(format!("minutes must be 1 to {BREAK_GLASS_MAX_MINUTES}")));
    }
    let until = state.clock.now_ms() + body.minutes * 60 * 1000;
    let details = json!({ "break_glass": true, "reason": reason, "until": until });
    let audit = crate::staff::audit_entry(&state, &staff.id, "staff.break_glass", &staff.id, "", details)?;
    state.store.staff().set_break_glass(&staff.token_hash, until, &audit).await?;
    let alert = json!({ "minutes": body.minutes, "role": staff.role });
    state.metrics.alerts.fire(crate::alerts::Kind::BreakGlass, &staff.id, state.clock.now_ms(), alert);
    Ok(Json(json!({ "break_glass_until": until })))
}
