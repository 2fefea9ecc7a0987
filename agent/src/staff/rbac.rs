//! Deny-by-default access control for every staff route: one table of (method, route
//! template) → roles, enforced by one middleware on the staff routers. A route with no entry
//! is refused (403), a password-only session is refused (401), a role not listed is refused
//! (403) unless the route allows that role under a declared, unexpired break-glass, and then
//! the access is audited with the break-glass flag.

use axum::extract::{FromRequestParts, MatchedPath, Request, State};
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::Response;

use super::{auth, Role};
use crate::error::ApiError;
use crate::state::AppState;

/// Who may call one route.
#[derive(Debug)]
pub struct Rule {
    pub method: &'static str,
    /// The route template exactly as routed (`{id}` for parameters).
    pub path: &'static str,
    pub roles: &'static [Role],
    /// Roles let in only while their session's break-glass is active (audited).
    pub break_glass: &'static [Role],
}

use Role::{Admin, Auditor, Clinician, Coordinator};

const ALL: &[Role] = &[Coordinator, Clinician, Admin, Auditor];
const CARE: &[Role] = &[Coordinator, Clinician];
const OVERSIGHT: &[Role] = &[Admin, Auditor];

const fn rule(method: &'static str, path: &'static str, roles: &'static [Role], break_glass: &'static [Role]) -> Rule {
    Rule { method, path, roles, break_glass }
}

/// Every staff route. A staff route missing here is unreachable.
pub const RULES: &[Rule] = &[
    rule("GET", "/api/staff/me", ALL, &[]),
    rule("POST", "/api/staff/break-glass", ALL, &[]),
    rule("GET", "/api/staff/escalations", CARE, &[]),
    rule("GET", "/api/staff/escalations/events", CARE, &[]),
    rule("GET", "/api/staff/escalations/{id}", CARE, OVERSIGHT),
    rule("POST", "/api/staff/escalations/{id}/claim", &[Coordinator], &[]),
    rule("POST", "/api/staff/escalations/{id}/resolve", CARE, &[]),
    rule("GET", "/api/staff/conversations/{id}/messages", CARE, OVERSIGHT),
    rule("POST", "/api/staff/conversations/{id}/messages", &[Coordinator], &[]),
    rule("POST", "/api/staff/conversations/{id}/takeover", &[Coordinator], &[]),
    rule("POST", "/api/staff/conversations/{id}/handback", &[Coordinator], &[]),
    rule("GET", "/api/admin/scripts", OVERSIGHT, &[]),
    rule("GET", "/api/admin/scripts/{id}", OVERSIGHT, &[]),
    rule("GET", "/api/admin/scripts/{id}/diff", OVERSIGHT, &[]),
    rule("POST", "/api/admin/scripts/{id}/draft", &[Admin], &[]),
    rule("POST", "/api/admin/scripts/{id}/validate", &[Admin], &[]),
    rule("POST", "/api/admin/scripts/{id}/publish", &[Admin], &[]),
    rule("POST", "/api/admin/scripts/{id}/rollback", &[Admin], &[]),
    rule("GET", "/api/admin/audit", OVERSIGHT, &[]),
    rule("GET", "/api/admin/audit/verify", OVERSIGHT, &[]),
    rule("GET", "/api/admin/outcomes", &[Admin], &[]),
];

pub fn rule_for(method: &str, path: &str) -> Option<&'static Rule> {
    RULES.iter().find(|r| r.method == method && r.path == path)
}

/// The staff member behind a request that passed `enforce`. Handlers take this; without the
/// middleware in front it is a 401, never a way in.
#[derive(Clone, Debug)]
pub struct Staff {
    pub id: String,
    pub username: String,
    pub role: Role,
    /// This request was let in by break-glass only.
    pub break_glass: bool,
    pub token_hash: String,
}

impl FromRequestParts<AppState> for Staff {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &AppState) -> Result<Self, ApiError> {
        parts.extensions.get::<Staff>().cloned().ok_or(ApiError::Unauthorized)
    }
}

/// The middleware (as a `route_layer`, so the matched route template is known).
pub async fn enforce(State(state): State<AppState>, req: Request, next: Next) -> Result<Response, ApiError> {
    let template = req.extensions().get::<MatchedPath>().map(|p| p.as_str().to_owned()).unwrap_or_default();
    let rule = rule_for(req.method().as_str(), &template).ok_or(ApiError::Forbidden)?;
    let (mut parts, body) = req.into_parts();
    let info = auth::resolve(&state, &parts).await?;
    if !info.session.mfa_done {
        return Err(ApiError::Unauthorized);
    }
    let break_glass = if rule.roles.contains(&info.role) {
        false
    } else if rule.break_glass.contains(&info.role) && info.session.break_glass_until > state.clock.now_ms() {
        true
    } else {
        return Err(ApiError::Forbidden);
    };
    if break_glass {
        let details = serde_json::json!({ "break_glass": true, "method": rule.method, "route": rule.path });
        let entry = super::audit_entry(&state, &info.user.id, "staff.break_glass_access", parts.uri.path(), "", details)?;
        state.store.staff().append_staff_audit(&entry).await?;
    }
    parts.extensions.insert(Staff {
        id: info.user.id,
        username: info.user.username,
        role: info.role,
        break_glass,
        token_hash: info.token_hash,
    });
    Ok(next.run(Request::from_parts(parts, body)).await)
}
