//! The patient widget: static HTML, CSS and JS compiled into the binary (no front-end build).
//! The page loads only its own script (strict CSP, no inline script) and renders every message
//! as text.

use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;

use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(|| asset("text/html; charset=utf-8", include_str!("../../web/index.html"))))
        .route("/static/widget.js", get(|| asset("text/javascript; charset=utf-8", include_str!("../../web/widget.js"))))
        .route("/favicon.ico", get(|| async { axum::http::StatusCode::NO_CONTENT }))
        .route("/static/widget.css", get(|| asset("text/css; charset=utf-8", include_str!("../../web/widget.css"))))
}

async fn asset(content_type: &'static str, body: &'static str) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, content_type)], body)
}
