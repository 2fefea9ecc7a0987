//! Liveness (`/health`: the process answers) and readiness (`/ready`: model loaded and database
//! reachable; the EHR's state named beside them), Prometheus `/metrics`, and the OpenAPI
//! document. An EHR that does not answer leaves a replica ready but `degraded`: it is shared by
//! every replica, so taking them all out of service would help nobody, while they can still
//! talk to patients, keep their requests in the outbox and hand lookups to a person.

use std::time::Duration;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/health", get(health))
        .route("/ready", get(ready))
        .route("/metrics", get(metrics))
        .route("/api/openapi.json", get(openapi))
}

async fn health() -> impl IntoResponse {
    Json(json!({ "status": "ok" }))
}

async fn ready(State(state): State<AppState>) -> impl IntoResponse {
    let limit = Duration::from_secs(3);
    let db = matches!(tokio::time::timeout(limit, state.store.ping()).await, Ok(Ok(())));
    let ehr = matches!(tokio::time::timeout(limit, state.ehr.ping()).await, Ok(Ok(())));
    let info = state.model.info();
    let model = !info.sha256.is_empty();
    let ready = db && model;
    let check = |ok: bool| if ok { "up" } else { "down" };
    let status = match (ready, ehr) {
        (false, _) => "not ready",
        (true, false) => "degraded",
        (true, true) => "ready",
    };
    let body = json!({
        "status": status,
        "checks": {
            "model": { "status": check(model), "id": info.id },
            "database": { "status": check(db), "backend": state.store.backend() },
            "ehr": { "status": check(ehr) },
        }
    });
    let code = if ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (code, Json(body))
}

/// The API description, written by hand beside the routes (agent/api/openapi.json); a test
/// checks that every operation it lists is served.
async fn openapi() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], include_str!("../../api/openapi.json"))
}

async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    if state.metrics.outcomes.due() {
        match state.store.outcomes().figures().await {
            Ok(o) => state.metrics.outcomes.set(&o),
            Err(e) => tracing::warn!(error = %e, "reading the outcome figures failed"),
        }
    }
    (
        [(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")],
        state.metrics.render(),
    )
}
