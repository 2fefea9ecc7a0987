//! The audit viewer's API, for admins and auditors (the RBAC table says so): the log's records
//! a page at a time — sequence, time, actor, action and hash, never the sealed payloads, which
//! may hold PHI — and the check `agent audit verify` runs (chain, Merkle tree, signed
//! checkpoints), answering the first bad record when the log was altered.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::error::ApiError;
use crate::staff::rbac::Staff;
use crate::state::AppState;
use crate::store::{AuditRow, AuditStore};

/// Records per page unless the caller asks for another number, and the most one page holds.
const DEFAULT_LIMIT: i64 = 50;
const MAX_LIMIT: i64 = 500;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/admin/audit", get(list)).route("/api/admin/audit/verify", get(verify))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    /// First sequence number wanted; without it, the newest page.
    from: Option<i64>,
    limit: Option<i64>,
}

/// What the viewer shows of one record: only what is stored in clear and hashed as is.
#[derive(Serialize)]
struct RecordView<'a> {
    seq: i64,
    at: i64,
    actor: &'a str,
    action: &'a str,
    hash: &'a str,
}

impl<'a> From<&'a AuditRow> for RecordView<'a> {
    fn from(r: &'a AuditRow) -> Self {
        Self { seq: r.seq, at: r.at, actor: &r.actor, action: &r.action, hash: &r.hash }
    }
}

async fn list(
    State(state): State<AppState>,
    _staff: Staff,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let Query(q) = query.map_err(|e| ApiError::BadRequest(format!("query must be ?from=SEQ&limit=N: {}", e.body_text())))?;
    let limit = q.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::BadRequest(format!("limit must be 1 to {MAX_LIMIT}")));
    }
    if q.from.is_some_and(|f| f < 1) {
        return Err(ApiError::BadRequest("from must be a sequence number (1 or more)".into()));
    }
    let tip = state.audit.store().audit_tip().await?;
    let from = q.from.unwrap_or((tip - limit + 1).max(1));
    let rows = state.store.audit_range(from, limit).await?;
    let records: Vec<RecordView<'_>> = rows.iter().map(RecordView::from).collect();
    Ok(Json(json!({ "from": from, "limit": limit, "tip": tip, "records": records })))
}

async fn verify(State(state): State<AppState>, _staff: Staff) -> Result<Json<serde_json::Value>, ApiError> {
    let checked_at = state.clock.now_ms();
    Ok(Json(match state.audit.run().await? {
        Ok(v) => json!({
            "status": "verified",
            "records": v.records,
            "checkpoints": v.checkpoints,
            "signed_size": v.signed_size,
            "root": hex::encode(v.root),
            "checked_at": checked_at,
        }),
        Err(f) => {
            let alert = json!({ "first_bad_record": f.seq });
            state.metrics.alerts.fire(crate::alerts::Kind::AuditVerifyFailed, "audit_log", checked_at, alert);
            json!({
                "status": "failed",
                "first_bad_record": f.seq,
                "message": f.message,
                "checked_at": checked_at,
            })
        }
    }))
}
