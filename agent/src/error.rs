//! The one error type every route returns. Each variant names its HTTP status; the body is a
//! FHIR OperationOutcome-style JSON with the request id. A 5xx body reveals nothing but that id
//! (the cause is logged, scrubbed, under the same id).

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: the request is malformed; the message says what to fix.
    #[error("{0}")]
    BadRequest(String),
    /// 401: no valid session (or it timed out).
    #[error("sign-in required")]
    Unauthorized,
    /// 403: signed in, but this role may not do this (staff RBAC).
    #[error("not allowed for this role")]
    Forbidden,
    /// 404: no such resource for this caller (also what another patient's resource looks like).
    #[error("not found")]
    NotFound,
    /// 409: the conversation is busy with another turn.
    #[error("{0}")]
    Conflict(String),
    /// 429: this session or address is over its rate limit; retry after the given seconds.
    #[error("too many requests; please slow down")]
    TooManyRequests { retry_after: u64 },
    /// 503: the model or the EHR is saturated; retry after the given seconds.
    #[error("{message}")]
    Unavailable { message: String, retry_after: u64 },
    /// 500: anything unexpected; logged, never shown.
    #[error("internal error")]
    Internal(#[from] anyhow::Error),
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Busy => ApiError::Conflict("another message is still being answered".into()),
            StoreError::NotFound => ApiError::NotFound,
            other => ApiError::Internal(other.into()),
        }
    }
}

tokio::task_local! {
    /// The id of the request being served, set by the request-id middleware.
    pub static REQUEST_ID: String;
}

pub fn current_request_id() -> String {
    REQUEST_ID.try_with(|id| id.clone()).unwrap_or_else(|_| "none".into())
}

impl ApiError {
    fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden => StatusCode::FORBIDDEN,
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            ApiError::BadRequest(_) => "invalid",
            ApiError::Unauthorized => "login",
            ApiError::Forbidden => "forbidden",
            ApiError::NotFound => "not-found",
            ApiError::Conflict(_) => "conflict",
            ApiError::TooManyRequests { .. } => "throttled",
            ApiError::Unavailable { .. } => "transient",
            ApiError::Internal(_) => "exception",
        }
    }
}

impl ApiError {
    /// The HTTP status this error is answered with.
    pub fn status_code(&self) -> u16 {
        self.status().as_u16()
    }

    /// Seconds the client should wait before retrying (429 and 503), sent as Retry-After.
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            ApiError::Unavailable { retry_after, .. } | ApiError::TooManyRequests { retry_after } => Some(*retry_after),
            _ => None,
        }
    }

    /// The status and OperationOutcome body for this error (an internal error is logged here,
    /// by kind, under `request_id`).
    pub fn outcome(&self, request_id: &str) -> (StatusCode, serde_json::Value) {
        let diagnostics = match self {
            ApiError::Internal(err) => {
                tracing::error!(request_id = %request_id, error_kind = %root_kind(err), "request failed");
                format!("internal error; quote request id {request_id}")
            }
            other => other.to_string(),
        };
        let body = json!({
            "resourceType": "OperationOutcome",
            "id": request_id,
            "issue": [{ "severity": "error", "code": self.code(), "diagnostics": diagnostics }],
        });
        (self.status(), body)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, body) = self.outcome(&current_request_id());
        let mut resp = (status, axum::Json(body)).into_response();
        if let Some(retry_after) = self.retry_after() {
            if let Ok(v) = HeaderValue::from_str(&retry_after.to_string()) {
                resp.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
        resp
    }
}

/// A coarse, content-free description of an error for the log (kinds, not messages, which
/// may quote patient data).
fn root_kind(err: &anyhow::Error) -> String {
    let root = err.root_cause();
    if let Some(e) = root.downcast_ref::<sqlx::Error>() {
        return format!("sqlx::{}", sqlx_kind(e));
    }
    if root.downcast_ref::<crate::crypto::CryptoError>().is_some() {
        return "crypto".into();
    }
    if root.downcast_ref::<fhir_client::Error>().is_some() {
        return "ehr".into();
    }
    if root.downcast_ref::<serde_json::Error>().is_some() {
        return "json".into();
    }
    "other".into()
}

fn sqlx_kind(e: &sqlx::Error) -> &'static str {
    match e {
        sqlx::Error::Database(_) => "database",
        sqlx::Error::Io(_) => "io",
        sqlx::Error::PoolTimedOut => "pool_timeout",
        sqlx::Error::RowNotFound => "row_not_found",
        _ => "other",
    }
}
