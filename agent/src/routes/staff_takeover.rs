//! Live takeover over HTTP: a coordinator takes a conversation, reads and writes its messages,
//! and hands it back; the patient's side gets a live stream of what staff write.

use std::convert::Infallible;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures::stream::{Stream, StreamExt};
use serde::Deserialize;

use crate::chat::{self, ChatMessage};
use crate::error::ApiError;
use crate::session::PatientSession;
use crate::staff::rbac::Staff;
use crate::staff::takeover;
use crate::state::AppState;

/// Staff routes (behind the RBAC table).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/staff/conversations/{id}/messages", get(messages).post(send))
        .route("/api/staff/conversations/{id}/takeover", post(take_over))
        .route("/api/staff/conversations/{id}/handback", post(hand_back))
}

/// The patient's live stream of their conversation (patient session).
pub fn patient_router() -> Router<AppState> {
    Router::new().route("/api/conversations/{id}/events", get(patient_events))
}

async fn messages(State(state): State<AppState>, staff: Staff, Path(id): Path<String>) -> Result<Json<Vec<ChatMessage>>, ApiError> {
    let conv = state.store.conversation(&id).await?.ok_or(ApiError::NotFound)?;
    let details = serde_json::json!({ "break_glass": staff.break_glass });
    let audit = crate::staff::audit_entry(&state, &staff.id, "staff.view_conversation", &conv.id, &conv.patient_id, details)?;
    state.store.staff().append_staff_audit(&audit).await?;
    Ok(Json(chat::history(&state, &conv).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SendBody {
    text: String,
}

async fn send(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
    body: Result<Json<SendBody>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<ChatMessage>, ApiError> {
    let Json(body) = body.map_err(|e| ApiError::BadRequest(format!("body must be {{\"text\": ...}}: {}", e.body_text())))?;
    Ok(Json(takeover::staff_message(&state, &staff, &id, &body.text).await?))
}

async fn take_over(State(state): State<AppState>, staff: Staff, Path(id): Path<String>) -> Result<StatusCode, ApiError> {
    takeover::take_over(&state, &staff, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn hand_back(State(state): State<AppState>, staff: Staff, Path(id): Path<String>) -> Result<StatusCode, ApiError> {
    takeover::hand_back(&state, &staff, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Messages written into this conversation by someone other than the patient (a coordinator
/// who took over, the hand-back notice), as `event: message`.
async fn patient_events(
    State(state): State<AppState>,
    s: PatientSession,
    Path(id): Path<String>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let conv = chat::owned_conversation(&state, &s.patient, &id).await?;
    let rx = state.staff.conversations.subscribe();
    let stream = futures::stream::unfold(rx, |mut rx| async move {
        loop {
            match rx.recv().await {
                Ok(e) => return Some((e, rx)),
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
            }
        }
    })
    .filter(move |e| futures::future::ready(e.conversation == conv.id))
    .map(|e| Ok::<Event, Infallible>(Event::default().event("message").json_data(e.message).unwrap_or_default()));
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}
