//! The staff pages: the coordinator console (`/console`) and the admin script editor
//! (`/admin`). Static HTML, CSS and JS compiled into the binary (no front-end build), under the
//! same strict CSP as the widget (only our own scripts and styles, no inline code); every
//! string from the server is rendered as text. The pages themselves are public: everything
//! they show comes from staff API routes, which the RBAC table guards.

use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;

use crate::state::AppState;

const HTML: &str = "text/html; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/console", get(|| asset(HTML, include_str!("../../web/console.html"))))
        .route("/admin", get(|| asset(HTML, include_str!("../../web/admin.html"))))
        .route("/static/staff.js", get(|| asset(JS, include_str!("../../web/staff.js"))))
        .route("/static/staff.css", get(|| asset(CSS, include_str!("../../web/staff.css"))))
        .route("/static/console.js", get(|| asset(JS, include_str!("../../web/console.js"))))
        .route("/static/admin.js", get(|| asset(JS, include_str!("../../web/admin.js"))))
}

async fn asset(content_type: &'static str, body: &'static str) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, content_type)], body)
}
