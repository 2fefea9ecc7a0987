//! Who may reach which staff route: every route in the RBAC table × every role, anonymous and a
//! password-only session; sign-in rules (second factor, codes good once, idle and absolute
//! logoff, disabled users); break-glass access that is limited in time and audited.

mod staff_support;

use agent::staff::rbac::RULES;
use agent::staff::Role;
use serde_json::{json, Value};
use staff_support::{App, Db};

fn concrete(path: &str, conv: &str, case: &str) -> String {
    if path == "/api/admin/audit" {
        return format!("{path}?from=1&limit=10");
    }
    let id = if path.starts_with("/api/staff/conversations/") {
        conv
    } else if path.starts_with("/api/admin/scripts/") {
        "refill"
    } else {
        case
    };
    path.replace("{id}", id)
}

fn body_for(path: &str) -> Value {
    if path.ends_with("/resolve") {
        json!({"note": "called the patient back"})
    } else if path.ends_with("/break-glass") {
        // Invalid on purpose: it passes the gate (400), but declares nothing that would let
        // admin and auditor into the break-glass routes later in the matrix.
        json!({"reason": "", "minutes": 5})
    } else if path.ends_with("/draft") {
        json!({"source": "id = \"refill\"\n"})
    } else if path.ends_with("/rollback") {
        json!({"version": 1})
    } else if path.ends_with("/messages") {
        json!({"text": "Hello, this is the care team."})
    } else {
        json!({})
    }
}

async fn call(app: &App, token: Option<&str>, method: &str, path: &str) -> u16 {
    let req = match method {
        "GET" => app.http.get(app.url(path)),
        _ => app.http.post(app.url(path)).json(&body_for(path)),
    };
    let req = match token {
        Some(t) => req.bearer_auth(t),
        None => req,
    };
    let resp = req.send().await.unwrap();
    resp.status().as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_staff_route_admits_exactly_its_roles_sqlite() {
    every_staff_route_admits_exactly_its_roles(Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_staff_route_admits_exactly_its_roles_postgres() {
    every_staff_route_admits_exactly_its_roles(Db::Postgres).await;
}

async fn every_staff_route_admits_exactly_its_roles(db: Db) {
    let app = App::start(db).await;
    let (conv, case) = app.escalated_case("pat-matrix").await;
    let mut tokens = Vec::new();
    for role in Role::ALL {
        tokens.push((role, app.staff(&format!("{}-1", role.as_str()), role).await));
    }
    app.add_user("halfway", Role::Admin).await;
    let half = app.password_only("halfway").await;
    let patient = app.patient_token("pat-matrix").await;
    let mut cells = 0;
    for rule in RULES {
        let path = concrete(rule.path, &conv, &case);
        assert_eq!(call(&app, None, rule.method, &path).await, 401, "anonymous {} {}", rule.method, rule.path);
        assert_eq!(call(&app, Some(&patient), rule.method, &path).await, 401, "patient session {} {}", rule.method, rule.path);
        assert_eq!(call(&app, Some(&half), rule.method, &path).await, 401, "password-only {} {}", rule.method, rule.path);
        for (role, token) in &tokens {
            let status = call(&app, Some(token), rule.method, &path).await;
            if rule.roles.contains(role) {
                assert!(status < 500 && status != 401 && status != 403, "{role:?} {} {} got {status}", rule.method, rule.path);
            } else {
                assert_eq!(status, 403, "{role:?} {} {}", rule.method, rule.path);
            }
            cells += 1;
        }
    }
    assert_eq!(cells, RULES.len() * Role::ALL.len());
    // The password-only session is still worth nothing after all that.
    assert_eq!(call(&app, Some(&half), "GET", "/api/staff/me").await, 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_route_missing_from_the_table_is_denied() {
    use axum::routing::get;
    let app = App::start(Db::Sqlite).await;
    let token = app.staff("admin-x", Role::Admin).await;
    let router = axum::Router::new()
        .route("/api/staff/unlisted", get(|| async { "secret" }))
        .route("/api/staff/me", get(|| async { "me" }))
        .route_layer(axum::middleware::from_fn_with_state(app.state.clone(), agent::staff::rbac::enforce))
        .with_state(app.state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    let get = |p: &str| app.http.get(format!("{base}{p}")).bearer_auth(&token).send();
    assert_eq!(get("/api/staff/unlisted").await.unwrap().status(), 403);
    assert_eq!(get("/api/staff/me").await.unwrap().status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_needs_the_right_password_and_a_fresh_code() {
    let app = App::start(Db::Sqlite).await;
    let secret = app.add_user("cora", Role::Coordinator).await;
    let wrong = app.post("", "/api/staff/login", json!({"username": "cora", "password": "wrong password!!"})).await;
    assert_eq!(wrong.status(), 401);
    let nobody = app.post("", "/api/staff/login", json!({"username": "nobody", "password": "wrong password!!"})).await;
    assert_eq!(nobody.status(), 401);
    let half = app.password_only("cora").await;
    let bad = app.post(&half, "/api/staff/login/totp", json!({"code": "000000"})).await;
    let good_code = app.code(&secret);
    assert_eq!(bad.status(), if good_code == "000000" { 200 } else { 401 });
    let ok = app.post(&half, "/api/staff/login/totp", json!({"code": good_code})).await;
    assert_eq!(ok.status(), 200);
    let full = ok.json::<Value>().await.unwrap()["token"].as_str().unwrap().to_owned();
    assert_eq!(app.get(&full, "/api/staff/me").await.status(), 200);
    // The half-signed-in token was replaced, and the same code is not accepted twice.
    assert_eq!(app.post(&half, "/api/staff/login/totp", json!({"code": good_code})).await.status(), 401);
    let half2 = app.password_only("cora").await;
    assert_eq!(app.post(&half2, "/api/staff/login/totp", json!({"code": good_code})).await.status(), 401);
    // Sign out ends it.
    assert_eq!(app.post(&full, "/api/staff/logout", json!({})).await.status(), 204);
    assert_eq!(app.get(&full, "/api/staff/me").await.status(), 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_sessions_end_after_15_idle_minutes_or_12_hours() {
    let app = App::start(Db::Sqlite).await;
    let token = app.staff("cora", Role::Coordinator).await;
    app.clock.advance_ms(14 * 60 * 1000);
    assert_eq!(app.get(&token, "/api/staff/me").await.status(), 200);
    app.clock.advance_ms(15 * 60 * 1000 + 1);
    assert_eq!(app.get(&token, "/api/staff/me").await.status(), 401);

    let secret = app.add_user("busy", Role::Clinician).await;
    let token = app.sign_in("busy", &secret).await;
    for _ in 0..51 {
        // 51 × 14 minutes = 11 h 54 min: never idle, still inside 12 hours.
        app.clock.advance_ms(14 * 60 * 1000);
        assert_eq!(app.get(&token, "/api/staff/me").await.status(), 200);
    }
    app.clock.advance_ms(14 * 60 * 1000);
    assert_eq!(app.get(&token, "/api/staff/me").await.status(), 401, "12 hours in all");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disabled_user_is_signed_out_at_once() {
    let app = App::start(Db::Sqlite).await;
    let token = app.staff("cora", Role::Coordinator).await;
    let user = app.state.store.staff().user_by_name("cora").await.unwrap().unwrap();
    app.state.store.staff().set_user_disabled(&user.id, true).await.unwrap();
    assert_eq!(app.get(&token, "/api/staff/me").await.status(), 401);
    let resp = app.post("", "/api/staff/login", json!({"username": "cora", "password": staff_support::PASSWORD})).await;
    assert_eq!(resp.status(), 401);
}

async fn audit_actions(app: &App) -> Vec<String> {
    app.state.store.audit_range(0, 10_000).await.unwrap().into_iter().map(|r| r.action).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn break_glass_opens_a_case_for_a_limited_time_and_is_audited() {
    let app = App::start(Db::Sqlite).await;
    let (conv, case) = app.escalated_case("pat-bg").await;
    let admin = app.staff("ada", Role::Admin).await;
    let case_path = format!("/api/staff/escalations/{case}");
    assert_eq!(app.get(&admin, &case_path).await.status(), 403);
    let short = app.post(&admin, "/api/staff/break-glass", json!({"reason": "x", "minutes": 5})).await;
    assert_eq!(short.status(), 400, "a reason is required");
    let long = app.post(&admin, "/api/staff/break-glass", json!({"reason": "patient collapsed in clinic", "minutes": 600})).await;
    assert_eq!(long.status(), 400, "limited in time");
    let ok = app.post(&admin, "/api/staff/break-glass", json!({"reason": "patient collapsed in clinic", "minutes": 5})).await;
    assert_eq!(ok.status(), 200);
    let bundle = app.get(&admin, &case_path).await;
    assert_eq!(bundle.status(), 200);
    let bundle: Value = bundle.json().await.unwrap();
    assert_eq!(bundle["case"]["conversation_id"], conv.as_str());
    // Break-glass never widens what a role may do, only what it may see.
    assert_eq!(app.post(&admin, &format!("/api/staff/escalations/{case}/claim"), json!({})).await.status(), 403);
    let actions = audit_actions(&app).await;
    assert!(actions.iter().any(|a| a.starts_with("staff.break_glass/")), "{actions:?}");
    assert!(actions.iter().any(|a| a == &format!("staff.break_glass_access/{case_path}")), "{actions:?}");
    app.clock.advance_ms(5 * 60 * 1000 + 1);
    assert_eq!(app.get(&admin, &case_path).await.status(), 403, "expired");
}

#[test]
fn every_staff_route_is_in_the_openapi_document_and_the_table() {
    let doc: Value = serde_json::from_str(include_str!("../api/openapi.json")).unwrap();
    let paths = doc["paths"].as_object().unwrap();
    for rule in RULES {
        let item = paths.get(rule.path).unwrap_or_else(|| panic!("{} missing from openapi.json", rule.path));
        assert!(item.get(rule.method.to_lowercase()).is_some(), "{} {} missing from openapi.json", rule.method, rule.path);
    }
    let guarded = |p: &str| (p.starts_with("/api/staff/") && !p.starts_with("/api/staff/log")) || p.starts_with("/api/admin/");
    for (path, item) in paths.iter().filter(|(p, _)| guarded(p)) {
        for method in ["get", "post"] {
            if item.get(method).is_some() {
                assert!(
                    agent::staff::rbac::rule_for(&method.to_uppercase(), path).is_some(),
                    "{method} {path} is documented but not in the RBAC table"
                );
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_documented_staff_operation_is_routed_and_answers_operation_outcomes() {
    let app = App::start(Db::Sqlite).await;
    let doc: Value = app.http.get(app.url("/api/openapi.json")).send().await.unwrap().json().await.unwrap();
    let mut checked = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        if !(path.starts_with("/api/staff") || path.starts_with("/api/admin") || path.ends_with("/events")) {
            continue;
        }
        let url = app.url(&path.replace("{id}", "00000000-0000-0000-0000-000000000000"));
        for method in ["get", "post"] {
            if item.get(method).is_none() {
                continue;
            }
            let req = if method == "get" { app.http.get(&url) } else { app.http.post(&url).json(&json!({})) };
            let resp = req.send().await.unwrap();
            let status = resp.status().as_u16();
            let body: Value = resp.json().await.unwrap_or_default();
            assert!(status == 400 || status == 401, "{method} {path}: {status}");
            assert_eq!(body["resourceType"], "OperationOutcome", "{method} {path}");
            checked += 1;
        }
    }
    assert!(checked >= 24, "{checked}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_failed_sign_in_steps_lock_the_account_for_15_minutes_sqlite() {
    five_failed_sign_in_steps_lock_the_account_for_15_minutes(Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_failed_sign_in_steps_lock_the_account_for_15_minutes_postgres() {
    five_failed_sign_in_steps_lock_the_account_for_15_minutes(Db::Postgres).await;
}

async fn five_failed_sign_in_steps_lock_the_account_for_15_minutes(db: Db) {
    let app = App::start(db).await;
    let secret = app.add_user("cora", Role::Coordinator).await;
    let wrong = json!({"username": "cora", "password": "not the password"});
    for _ in 0..5 {
        assert_eq!(app.post("", "/api/staff/login", wrong.clone()).await.status(), 401);
    }
    let right = json!({"username": "cora", "password": staff_support::PASSWORD});
    assert_eq!(app.post("", "/api/staff/login", right.clone()).await.status(), 401, "locked, even with the right password");
    let actions = audit_actions(&app).await;
    assert_eq!(actions.iter().filter(|a| a.starts_with("staff.locked_out/")).count(), 1, "{actions:?}");
    app.clock.advance_ms(15 * 60 * 1000 + 1);
    let token = app.sign_in("cora", &secret).await;
    assert_eq!(app.get(&token, "/api/staff/me").await.status(), 200);
}
