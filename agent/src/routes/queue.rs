//! The escalation queue for coordinators' consoles: the open cases by priority, one case's
//! context bundle, claim and resolve (each naming the version it read), and a live stream of
//! queue changes (server-sent events).

use std::convert::Infallible;

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures::stream::{Stream, StreamExt};
use serde::Deserialize;
use tokio_stream_shim::broadcast_stream;

use crate::error::ApiError;
use crate::staff::queue::{self, Case, ContextBundle};
use crate::staff::rbac::Staff;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/staff/escalations", get(list))
        .route("/api/staff/escalations/events", get(events))
        .route("/api/staff/escalations/{id}", get(context))
        .route("/api/staff/escalations/{id}/claim", post(claim))
        .route("/api/staff/escalations/{id}/resolve", post(resolve))
}

async fn list(State(state): State<AppState>, _staff: Staff) -> Result<Json<Vec<Case>>, ApiError> {
    Ok(Json(queue::list(&state).await?))
}

async fn context(State(state): State<AppState>, staff: Staff, Path(id): Path<String>) -> Result<Json<ContextBundle>, ApiError> {
    Ok(Json(queue::context(&state, &staff, &id).await?))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ClaimBody {
    /// The version the console showed; omitted, the current one.
    #[serde(default)]
    version: Option<i64>,
}

async fn claim(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
    body: Result<Json<ClaimBody>, JsonRejection>,
) -> Result<Json<Case>, ApiError> {
    // No body: the current version; a malformed one is a 400 OperationOutcome.
    let version = match body {
        Ok(Json(b)) => b.version,
        Err(JsonRejection::MissingJsonContentType(_)) => None,
        Err(e) => return Err(ApiError::BadRequest(format!("body must be {{\"version\"}}: {}", e.body_text()))),
    };
    Ok(Json(queue::transition(&state, &staff, &id, version, "claimed", None).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ResolveBody {
    note: String,
    #[serde(default)]
    version: Option<i64>,
}

async fn resolve(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
    body: Result<Json<ResolveBody>, JsonRejection>,
) -> Result<Json<Case>, ApiError> {
    let Json(body) = body.map_err(|e| ApiError::BadRequest(format!("body must be {{\"note\"}}: {}", e.body_text())))?;
    let note = body.note.trim();
    if note.is_empty() || note.chars().count() > 4000 {
        return Err(ApiError::BadRequest("note must be 1 to 4000 characters".into()));
    }
    Ok(Json(queue::transition(&state, &staff, &id, body.version, "resolved", Some(note)).await?))
}

/// Queue changes as `event: queue` with a JSON body; a console that falls behind gets
/// `event: lagged` and should reload the list.
async fn events(State(state): State<AppState>, _staff: Staff) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let stream = broadcast_stream(state.staff.queue.subscribe()).map(|item| {
        Ok::<Event, Infallible>(match item {
            Some(e) => Event::default().event("queue").json_data(e).unwrap_or_else(|_| Event::default().event("lagged")),
            None => Event::default().event("lagged").data("{}"),
        })
    });
    Sse::new(stream).keep_alive(KeepAlive::default())
}

/// A broadcast receiver as a stream (`None` items where the receiver lagged), without pulling
/// in tokio-stream for one adapter.
mod tokio_stream_shim {
    use futures::stream::{self, Stream};
    use tokio::sync::broadcast::{error::RecvError, Receiver};

    pub fn broadcast_stream<T: Clone + Send + 'static>(rx: Receiver<T>) -> impl Stream<Item = Option<T>> + Send {
        stream::unfold(rx, |mut rx| async move {
            match rx.recv().await {
                Ok(v) => Some((Some(v), rx)),
                Err(RecvError::Lagged(_)) => Some((None, rx)),
                Err(RecvError::Closed) => None,
            }
        })
    }
}
