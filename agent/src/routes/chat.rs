//! The patient chat API the widget talks to: list and start conversations, post a message
//! (one turn at a time, `Idempotency-Key` for safe retries), read the history. Every handler
//! takes `PatientSession` and only ever sees that patient's conversations.

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures::stream::{self, StreamExt};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::json;
use workflows::Lang;

use crate::chat::{self, ChatMessage, Opening, TurnResponse};
use crate::error::ApiError;
use crate::session::PatientSession;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/me", get(me))
        .route("/api/conversations", get(list).post(start))
        .route("/api/conversations/{id}/messages", get(messages).post(send))
}

async fn me(State(state): State<AppState>, s: PatientSession) -> Result<Json<serde_json::Value>, ApiError> {
    let name = state.ehr.patient_name(&s.patient).await.ok().flatten();
    Ok(Json(json!({ "patient": s.patient.as_str(), "name": name })))
}

#[derive(Serialize)]
struct Summary {
    id: String,
    status: String,
    started_by: String,
    created_at: i64,
    updated_at: i64,
}

async fn list(State(state): State<AppState>, s: PatientSession) -> Result<Json<Vec<Summary>>, ApiError> {
    let rows = state.store.conversations_of(s.patient.as_str()).await?;
    Ok(Json(
        rows.into_iter()
            .map(|r| Summary {
                id: r.id,
                status: r.status,
                started_by: r.started_by,
                created_at: r.created_at,
                updated_at: r.updated_at,
            })
            .collect(),
    ))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct StartBody {
    #[serde(default)]
    lang: Option<Lang>,
}

async fn start(
    State(state): State<AppState>,
    s: PatientSession,
    body: Result<Json<StartBody>, JsonRejection>,
) -> Result<Json<TurnResponse>, ApiError> {
    // No body at all is fine; a malformed one is a 400 OperationOutcome like every other error.
    let lang = match body {
        Ok(Json(b)) => b.lang.unwrap_or_default(),
        Err(JsonRejection::MissingJsonContentType(_)) => Lang::default(),
        Err(e) => return Err(ApiError::BadRequest(format!("body must be {{\"lang\": \"en\" | \"es\"}}: {}", e.body_text()))),
    };
    Ok(Json(chat::open(&state, &s.patient, lang, Opening::Patient).await?))
}

async fn messages(
    State(state): State<AppState>,
    s: PatientSession,
    Path(id): Path<String>,
) -> Result<Json<Vec<ChatMessage>>, ApiError> {
    let conv = chat::owned_conversation(&state, &s.patient, &id).await?;
    Ok(Json(chat::history(&state, &conv).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SendBody {
    text: String,
}

/// Posts a message. With `Accept: text/event-stream` the answer is a stream of server-sent
/// events: `progress` at once, then `turn` (the same body as the JSON answer) or `error` (an
/// OperationOutcome; with a `retry:` field in milliseconds when the turn was refused for load).
async fn send(
    State(state): State<AppState>,
    s: PatientSession,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Result<Json<SendBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    let (text, key) = parse_send(&headers, body)?;
    let wants_stream = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/event-stream"));
    if !wants_stream {
        return Ok(Json(chat::post(&state, &s.patient, &id, &text, key.as_deref()).await?).into_response());
    }
    let request_id = crate::error::current_request_id();
    let progress = stream::once(async { Event::default().event("progress").json_data(json!({ "phase": "understanding" })) });
    let turn = stream::once(async move {
        match chat::post(&state, &s.patient, &id, &text, key.as_deref()).await {
            Ok(turn) => Event::default().event("turn").json_data(turn),
            Err(e) => {
                // A refused turn (503) tells the client when to resend, as the header would.
                let retry = e.retry_after().map(std::time::Duration::from_secs);
                let event = Event::default().event("error");
                let event = if let Some(r) = retry { event.retry(r) } else { event };
                event.json_data(e.outcome(&request_id).1)
            }
        }
    });
    Ok(Sse::new(progress.chain(turn)).keep_alive(KeepAlive::default()).into_response())
}

/// The message text and the optional idempotency key of a post.
fn parse_send(
    headers: &HeaderMap,
    body: Result<Json<SendBody>, JsonRejection>,
) -> Result<(String, Option<String>), ApiError> {
    let Json(body) = body.map_err(|e| ApiError::BadRequest(format!("body must be {{\"text\": ...}}: {}", e.body_text())))?;
    let key = match headers.get("idempotency-key") {
        Some(v) => Some(
            v.to_str()
                .ok()
                .filter(|k| !k.is_empty() && k.len() <= 128)
                .ok_or_else(|| ApiError::BadRequest("Idempotency-Key must be 1-128 visible characters".into()))?,
        ),
        None => None,
    };
    Ok((body.text, key.map(str::to_owned)))
}
