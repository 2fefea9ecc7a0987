//! The staff pages: the coordinator console (`/console`), the admin script editor
//! (`/admin`) and the outcome figures (`/outcomes`). Static HTML, CSS and JS compiled into the
//! binary (no front-end build), under the same strict CSP as the widget (only our own scripts
//! and styles, no inline code); every string from the server is rendered as text. The pages
//! themselves are public: everything they show comes from staff API routes, which the RBAC
//! table guards.

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
        .route("/outcomes", get(|| asset(HTML, include_str!("../../web/outcomes.html"))))
        .route("/static/staff.js", get(|| asset(JS, include_str!("../../web/staff.js"))))
        .route("/static/staff.css", get(|| asset(CSS, include_str!("../../web/staff.css"))))
        .route("/static/console.js", get(|| asset(JS, include_str!("../../web/console.js"))))
        .route("/static/admin.js", get(|| asset(JS, include_str!("../../web/admin.js"))))
        .route("/static/outcomes.js", get(|| asset(JS, include_str!("../../web/outcomes.js"))))
}

async fn asset(content_type: &'static str, body: &'static str) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, content_type)], body)
}

#[cfg(test)]
mod tests {
    //! The pages keep to the strict CSP and to text-only rendering by construction: no inline
    //! script, style or event handler in the HTML, and no HTML-parsing sink in the scripts.

    const HTML: &[(&str, &str)] = &[
        ("index.html", include_str!("../../web/index.html")),
        ("console.html", include_str!("../../web/console.html")),
        ("admin.html", include_str!("../../web/admin.html")),
        ("outcomes.html", include_str!("../../web/outcomes.html")),
    ];
    const SCRIPTS: &[(&str, &str)] = &[
        ("widget.js", include_str!("../../web/widget.js")),
        ("staff.js", include_str!("../../web/staff.js")),
        ("console.js", include_str!("../../web/console.js")),
        ("admin.js", include_str!("../../web/admin.js")),
        ("outcomes.js", include_str!("../../web/outcomes.js")),
    ];

    #[test]
    fn pages_have_no_inline_script_style_or_handlers() {
        for (name, html) in HTML {
            let lower = html.to_ascii_lowercase();
            for (i, _) in lower.match_indices("<script") {
                let tag = &lower[i..i + lower[i..].find('>').unwrap_or(0)];
                assert!(tag.contains(" src=\"/static/"), "{name}: a script without our own src: {tag}");
                assert!(lower[i..].starts_with(&format!("{tag}></script>")), "{name}: a script with inline code");
            }
            assert!(!lower.contains("<style"), "{name}: inline <style>");
            assert!(!lower.contains(" style="), "{name}: a style attribute");
            let handler = lower.split(|c: char| c.is_whitespace()).any(|w| w.starts_with("on") && w.contains('='));
            assert!(!handler, "{name}: an inline event handler");
        }
    }

    #[test]
    fn scripts_never_parse_strings_as_html() {
        for (name, js) in SCRIPTS {
            for sink in ["innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function", "srcdoc"] {
                assert!(!js.contains(sink), "{name} uses {sink}");
            }
        }
    }
}
