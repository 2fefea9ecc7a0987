//! Outcome figures for admins (the RBAC table says so): containment, escalations by reason,
//! time to a person by priority, SLA breaches, conversations finished by script — computed
//! from the store when asked, the same figures `/metrics` exports as gauges. Counts and times
//! only: no patient or conversation appears.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};

use crate::error::ApiError;
use crate::staff::rbac::Staff;
use crate::state::AppState;
use crate::store::outcomes::Outcomes;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/admin/outcomes", get(outcomes))
}

async fn outcomes(State(state): State<AppState>, _staff: Staff) -> Result<Json<Outcomes>, ApiError> {
    let o = state.store.outcomes().figures().await?;
    state.metrics.outcomes.set(&o);
    Ok(Json(o))
}
