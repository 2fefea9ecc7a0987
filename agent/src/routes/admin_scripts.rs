//! Script management for admins (auditors may read): list, show, draft, validate, diff,
//! publish and roll back. Every change is audited with its author.

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use crate::error::ApiError;
use crate::staff::rbac::Staff;
use crate::staff::scripts::{self, Validation};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/admin/scripts", get(list))
        .route("/api/admin/scripts/{id}", get(show))
        .route("/api/admin/scripts/{id}/diff", get(diff))
        .route("/api/admin/scripts/{id}/draft", post(draft))
        .route("/api/admin/scripts/{id}/validate", post(validate))
        .route("/api/admin/scripts/{id}/publish", post(publish))
        .route("/api/admin/scripts/{id}/rollback", post(rollback))
}

async fn list(State(state): State<AppState>, _staff: Staff) -> Result<Json<serde_json::Value>, ApiError> {
    let mut ids: Vec<String> = workflows::script::BUILTIN_SOURCES
        .iter()
        .filter_map(|(p, t)| workflows::script::compile(p, t).ok().map(|s| s.id))
        .collect();
    for v in state.store.scripts().script_versions(None).await? {
        ids.push(v.script_id);
    }
    let drafts = state.store.scripts().drafts().await?;
    ids.extend(drafts.iter().map(|d| d.script_id.clone()));
    ids.sort();
    ids.dedup();
    let mut out = Vec::new();
    for id in ids {
        let current = scripts::current(&state, &id).await?;
        let draft = drafts.iter().find(|d| d.script_id == id).map(|d| json!({ "author": d.author, "updated_at": d.updated_at }));
        out.push(json!({ "id": id, "published": current, "draft": draft }));
    }
    Ok(Json(json!(out)))
}

async fn show(State(state): State<AppState>, _staff: Staff, Path(id): Path<String>) -> Result<Json<serde_json::Value>, ApiError> {
    let versions = scripts::versions(&state, &id).await?;
    let draft = state.store.scripts().draft(&id).await?;
    if versions.is_empty() && draft.is_none() {
        return Err(ApiError::NotFound);
    }
    let source = versions.last().map(|p| p.source.clone());
    let draft = draft.map(|d| json!({ "source": d.source, "author": d.author, "updated_at": d.updated_at }));
    Ok(Json(json!({ "id": id, "versions": versions, "published_source": source, "draft": draft })))
}

async fn diff(State(state): State<AppState>, _staff: Staff, Path(id): Path<String>) -> Result<impl IntoResponse, ApiError> {
    let text = scripts::diff(&state, &id).await?;
    Ok(([(header::CONTENT_TYPE, "text/x-diff; charset=utf-8")], text))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DraftBody {
    source: String,
}

async fn draft(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
    body: Result<Json<DraftBody>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<Validation>, ApiError> {
    let Json(body) = body.map_err(|e| ApiError::BadRequest(format!("body must be {{\"source\"}}: {}", e.body_text())))?;
    Ok(Json(scripts::save_draft(&state, &staff, &id, &body.source).await?))
}

async fn validate(State(state): State<AppState>, _staff: Staff, Path(id): Path<String>) -> Result<Json<Validation>, ApiError> {
    Ok(Json(scripts::validate(&state, &id).await?))
}

async fn publish(State(state): State<AppState>, staff: Staff, Path(id): Path<String>) -> Result<Json<serde_json::Value>, ApiError> {
    let version = scripts::publish(&state, &staff, &id).await?;
    Ok(Json(json!({ "id": id, "version": version })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RollbackBody {
    version: i64,
}

async fn rollback(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
    body: Result<Json<RollbackBody>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let Json(body) = body.map_err(|e| ApiError::BadRequest(format!("body must be {{\"version\"}}: {}", e.body_text())))?;
    let version = scripts::roll_back(&state, &staff, &id, body.version).await?;
    Ok(Json(json!({ "id": id, "version": version, "source_of": body.version })))
}
