//! No cross-patient data on any route: every operation in `api/openapi.json` is called with
//! patient A's session against patient B's conversation and case ids, and with a session of
//! every staff role. A patient (and any staff member on a patient route, or a role the RBAC
//! table leaves out) gets 401/403/404 and never one of B's identifiers; a role the table lets
//! in, asking for B's case or conversation, never gets any of A's.

mod staff_support;

use std::time::Duration;

use agent::staff::rbac::rule_for;
use agent::staff::Role;
use serde_json::{json, Value};
use staff_support::{App, Db};

/// What identifies one patient's data in a response body.
struct Marks {
    patient: String,
    case_conv: String,
    case: String,
    chat_conv: String,
    said: String,
}

impl Marks {
    fn all(&self) -> [&str; 5] {
        [&self.patient, &self.case_conv, &self.case, &self.chat_conv, &self.said]
    }

    fn found_in(&self, body: &str) -> Option<String> {
        self.all().into_iter().find(|m| body.contains(m)).map(str::to_owned)
    }
}

/// A patient with an escalated case and a second conversation in which they said `said`.
async fn patient(app: &App, id: &str, said: &str) -> (String, Marks) {
    let (case_conv, case) = app.escalated_case(id).await;
    let token = app.patient_token(id).await;
    let chat_conv = app.open_conversation(&token).await;
    app.patient_says(&token, &chat_conv, said).await;
    (token, Marks { patient: id.into(), case_conv, case, chat_conv, said: said.into() })
}

/// The route template with `{id}` replaced by B's id of the matching kind.
fn concrete(path: &str, b: &Marks) -> String {
    let id = if path.contains("/escalations/") {
        &b.case
    } else if path.starts_with("/api/admin/scripts/") {
        "refill"
    } else if path.starts_with("/api/staff/conversations/") {
        &b.case_conv
    } else {
        &b.chat_conv
    };
    path.replace("{id}", id)
}

fn body_for(path: &str) -> Value {
    match path.rsplit('/').next().unwrap_or("") {
        "messages" => json!({"text": "show me everything"}),
        "resolve" => json!({"note": "called back"}),
        "rollback" => json!({"version": 1}),
        "draft" => json!({"source": "id = \"refill\"\n"}),
        _ => json!({}),
    }
}

/// Status and body; a stream is read for half a second (enough for what it sends at once).
async fn call(app: &App, token: &str, method: &str, path: &str) -> (u16, String) {
    let req = match method {
        "get" => app.http.get(app.url(path)),
        _ => app.http.post(app.url(path)).json(&body_for(path)),
    };
    let mut resp = tokio::time::timeout(Duration::from_secs(10), req.bearer_auth(token).send()).await.expect("answered").unwrap();
    let status = resp.status().as_u16();
    let mut body = Vec::new();
    let _ = tokio::time::timeout(Duration::from_millis(500), async {
        while let Ok(Some(chunk)) = resp.chunk().await {
            body.extend_from_slice(&chunk);
        }
    })
    .await;
    (status, String::from_utf8_lossy(&body).into_owned())
}

/// Every documented (method, path), sign-out last (it ends the session that walks them).
fn operations() -> Vec<(String, String)> {
    let doc: Value = serde_json::from_str(include_str!("../api/openapi.json")).unwrap();
    let mut ops: Vec<(String, String)> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| ["get", "post"].into_iter().filter(|m| item.get(*m).is_some()).map(|m| (m.to_owned(), path.clone())))
        .collect();
    ops.sort_by_key(|(_, p)| p.ends_with("sign-out") || p.ends_with("logout"));
    ops
}

async fn sweep(db: Db) {
    let app = App::start(db).await;
    let (a_token, a) = patient(&app, "pat-a-idor", "Amark-91c2 my knee hurts").await;
    let (b_token, b) = patient(&app, "pat-b-idor", "Bmark-7f3a my rash is back").await;
    // The marks are real: B's own session does see them.
    let (status, own) = call(&app, &b_token, "get", &format!("/api/conversations/{}/messages", b.chat_conv)).await;
    assert_eq!(status, 200);
    assert!(b.found_in(&own).is_some(), "{own}");

    let mut checked = 0;
    for (method, path) in operations() {
        let url = concrete(&path, &b);
        let (status, body) = call(&app, &a_token, &method, &url).await;
        assert!(b.found_in(&body).is_none(), "patient A, {method} {url}: {status} {body}");
        if path.contains("{id}") {
            assert!(matches!(status, 401 | 403 | 404), "patient A, {method} {url}: {status} {body}");
        }
        checked += 1;
    }
    for role in Role::ALL {
        let token = app.staff(&format!("idor-{}", role.as_str()), role).await;
        for (method, path) in operations() {
            let url = concrete(&path, &b);
            let (status, body) = call(&app, &token, &method, &url).await;
            let allowed = rule_for(&method.to_uppercase(), &path).is_some_and(|r| r.roles.contains(&role));
            if !allowed {
                assert!(b.found_in(&body).is_none(), "{role:?}, {method} {url}: {status} {body}");
                if path.contains("{id}") {
                    assert!(matches!(status, 401 | 403 | 404), "{role:?}, {method} {url}: {status} {body}");
                }
            } else if path.contains("{id}") && path.starts_with("/api/staff/") {
                // Let in to B's case: nothing of A's comes with it.
                assert!(a.found_in(&body).is_none(), "{role:?}, {method} {url}: {status} {body}");
                assert!(status < 500, "{role:?}, {method} {url}: {status} {body}");
            }
            checked += 1;
        }
    }
    assert!(checked >= 5 * 30, "{checked}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_route_gives_one_patient_anything_of_another_sqlite() {
    sweep(Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_route_gives_one_patient_anything_of_another_postgres() {
    sweep(Db::Postgres).await;
}
