//! The HTTP surface: one router per area, merged here with the layers every request goes
//! through (request id, metrics by route template, security headers) and the rate limits
//! (API routes only).

mod admin_audit;
mod admin_outcomes;
mod admin_scripts;
mod chat;
mod demo;
mod events;
mod health;
mod pages;
mod queue;
mod staff;
mod staff_takeover;
mod widget;

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{header, HeaderName, HeaderValue};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::Router;

use crate::error::REQUEST_ID;
use crate::metrics::HttpLabels;
use crate::state::AppState;

pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(chat::router())
        .merge(demo::router())
        .merge(events::router())
        .merge(staff::public_router())
        .merge(staff_takeover::patient_router())
        .merge(
            // Every staff route goes through the RBAC table (deny by default).
            staff::router()
                .merge(queue::router())
                .merge(staff_takeover::router())
                .merge(admin_scripts::router())
                .merge(admin_audit::router())
                .merge(admin_outcomes::router())
                .route_layer(middleware::from_fn_with_state(state.clone(), crate::staff::rbac::enforce)),
        )
        // Rate limits cover every route merged above; the ones merged below are not limited.
        .layer(middleware::from_fn_with_state(crate::limits::Limiters::new(&state.policy.limits), crate::limits::enforce))
        .merge(health::router())
        .merge(widget::router())
        .merge(pages::router())
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        .with_state(state)
}

const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
    connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'self'";

/// Gives each request an id (echoed as `x-request-id`) and its client address (for the audit;
/// never logged), counts it by route template and status, logs it without the URI (which may
/// carry identifiers), and sets security headers.
async fn observe(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let request_id = uuid::Uuid::new_v4().to_string();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".into());
    let method = req.method().clone();
    let started = std::time::Instant::now();
    let peer = req.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
    let client = crate::limits::client_addr(&state.policy.limits.trusted_proxies, peer, req.headers());
    let served = crate::limits::CLIENT_ADDR.scope(client, next.run(req));
    let mut resp = REQUEST_ID.scope(request_id.clone(), served).await;
    let status = resp.status().as_u16();
    state.metrics.http_requests.get_or_create(&HttpLabels { route: route.clone(), status }).inc();
    tracing::info!(
        request_id = %request_id, method = %method, route = %route, status,
        latency_ms = started.elapsed().as_millis() as u64, "request"
    );
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        h.insert(HeaderName::from_static("x-request-id"), v);
    }
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.entry(header::CACHE_CONTROL).or_insert(HeaderValue::from_static("no-store"));
    resp
}
