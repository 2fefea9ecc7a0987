//! The portal's launch token: a valid one becomes a session bound to its patient; an expired,
//! forged or patient-less one is refused.

use e2e::inproc::InProcess;
use jsonwebtoken::{encode, EncodingKey, Header};

const SECRET: &str = "portal-shared-secret-for-tests";

fn token(secret: &str, claims: serde_json::Value) -> String {
    encode(&Header::default(), &claims, &EncodingKey::from_secret(secret.as_bytes())).unwrap()
}

async fn exchange(app: &InProcess, launch_token: &str) -> (u16, serde_json::Value) {
    let r = reqwest::Client::new()
        .post(format!("{}/api/session", app.base_url))
        .json(&serde_json::json!({ "launch_token": launch_token }))
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_launch_token_binds_its_patient_and_nothing_else_gets_in() {
    let keys = tempfile::tempdir().unwrap();
    let key = keys.path().join("launch.key");
    std::fs::write(&key, SECRET).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    let app = InProcess::start_with(&format!(
        "[portal]\nlaunch_key_file = \"{}\"\naudience = \"patient-agent\"\n",
        key.display()
    ))
    .await;
    let patient = app.state.demo_patients[2].id.clone();
    let exp = chrono::Utc::now().timestamp() + 300;

    let good = token(SECRET, serde_json::json!({ "patient": patient, "aud": "patient-agent", "exp": exp }));
    let (status, body) = exchange(&app, &good).await;
    assert_eq!(status, 200, "{body}");
    let me: serde_json::Value = reqwest::Client::new()
        .get(format!("{}/api/me", app.base_url))
        .bearer_auth(body["token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["patient"], patient.as_str());

    let cases = [
        ("expired", token(SECRET, serde_json::json!({ "patient": patient, "aud": "patient-agent", "exp": exp - 3600 }))),
        ("forged", token("not-the-portal", serde_json::json!({ "patient": patient, "aud": "patient-agent", "exp": exp }))),
        ("other audience", token(SECRET, serde_json::json!({ "patient": patient, "aud": "elsewhere", "exp": exp }))),
        ("no patient", token(SECRET, serde_json::json!({ "aud": "patient-agent", "exp": exp }))),
        ("not a JWT", "hello".to_owned()),
    ];
    for (what, t) in cases {
        assert_eq!(exchange(&app, &t).await.0, 401, "{what}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_portal_key_launch_is_absent() {
    let app = InProcess::start().await;
    assert_eq!(exchange(&app, "x").await.0, 404);
}
