#![cfg(feature = "sekmet")]
//! SMART backend-services auth against sekmet with `server_auth: {types: [smart]}`: RS384 and
//! ES384 client assertions get tokens, the token is cached, scopes are enforced, and a client
//! signing with the wrong key is refused. The whole contract suite (tests/common) also runs here
//! with SMART auth on.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use chrono::Utc;
use fhir_client::sekmet::{Sekmet, SekmetAuth, SekmetOptions, SekmetSmartClient};
use fhir_client::*;

struct Env {
    server: Sekmet,
    keys: PathBuf,
}

static ENV: OnceLock<Env> = OnceLock::new();

/// PKCS#8 private + SPKI public PEM pair, generated with the venv's `cryptography`.
fn keypair(dir: &Path, name: &str, kind: &str) {
    let script = format!(
        r#"
from cryptography.hazmat.primitives import serialization as s
from cryptography.hazmat.primitives.asymmetric import rsa, ec
k = rsa.generate_private_key(65537, 2048) if "{kind}" == "rsa" else ec.generate_private_key(ec.SECP384R1())
open("{dir}/{name}.pem", "wb").write(k.private_bytes(s.Encoding.PEM, s.PrivateFormat.PKCS8, s.NoEncryption()))
open("{dir}/{name}.pub.pem", "wb").write(k.public_key().public_bytes(s.Encoding.PEM, s.PublicFormat.SubjectPublicKeyInfo))
"#,
        dir = dir.display()
    );
    let py = Sekmet::default_venv().join("bin").join("python");
    let ok = Command::new(py).args(["-c", &script]).status().expect("python runs").success();
    assert!(ok, "key generation");
}

fn env() -> &'static Env {
    ENV.get_or_init(|| {
        Sekmet::ensure_venv(&Sekmet::default_venv()).expect("venv");
        let keys = Path::new(env!("CARGO_TARGET_TMPDIR")).join("sekmet-smart-keys");
        std::fs::create_dir_all(&keys).unwrap();
        for (name, kind) in [("rs", "rsa"), ("es", "ec"), ("ro", "rsa"), ("other", "rsa")] {
            keypair(&keys, name, kind);
        }
        let client = |id: &str, key: &str, scopes: &str| SekmetSmartClient {
            client_id: id.into(),
            public_key_path: keys.join(format!("{key}.pub.pem")),
            scopes: scopes.into(),
        };
        let auth = SekmetAuth::Smart(vec![
            client("agent-rs", "rs", "system/*.*"),
            client("agent-es", "es", "system/*.*"),
            client("agent-ro", "ro", "system/*.read"),
            client("agent-wrong-key", "rs", "system/*.*"),
        ]);
        let server = Sekmet::start(SekmetOptions { auth, ..Default::default() }).expect("sekmet starts");
        Env { server, keys }
    })
}

static CTX: OnceLock<common::Ctx> = OnceLock::new();

/// The contract suite's context, seeded through an RS384 SMART client.
async fn ctx() -> &'static common::Ctx {
    tokio::task::spawn_blocking(|| CTX.get_or_init(|| common::Ctx::seed(smart_config(env(), "agent-rs", "rs", SmartAlg::RS384, "system/*.*"))))
        .await
        .unwrap()
}

contract_tests!(ctx);

fn smart_config(env: &Env, id: &str, key: &str, alg: SmartAlg, scopes: &str) -> FhirConfig {
    FhirConfig {
        auth: AuthConfig::Smart {
            client_id: id.into(),
            token_url: env.server.token_url(),
            private_key_path: env.keys.join(format!("{key}.pem")),
            key_id: None,
            alg,
            scopes: scopes.into(),
        },
        ..env.server.config()
    }
}

async fn client(id: &str, key: &str, alg: SmartAlg, scopes: &str) -> FhirClient {
    let env = tokio::task::spawn_blocking(env).await.unwrap();
    FhirClient::new(&smart_config(env, id, key, alg, scopes)).unwrap()
}

#[tokio::test]
async fn rs384_client_gets_one_token_and_reuses_it_for_reads_and_writes() {
    let c = client("agent-rs", "rs", SmartAlg::RS384, "system/*.read system/*.write").await;
    let demo = seed::seed_demo(&c, Utc::now().date_naive()).await.unwrap();
    assert_eq!(c.patient_name(&demo.patients[1].id).await.unwrap().as_deref(), Some("John Smith"));
    let s = c.stats().snapshot();
    assert_eq!(s.token_fetches, 1, "token cached across {} requests", s.attempts);
}

#[tokio::test]
async fn es384_client_is_accepted() {
    let c = client("agent-es", "es", SmartAlg::ES384, "system/*.read").await;
    let r = c.patient_name(&PatientId::parse("does-not-exist").unwrap()).await;
    assert!(matches!(r, Err(Error::NotFound(_))), "authorised, then a plain 404: {r:?}");
}

#[tokio::test]
async fn read_only_scopes_cannot_write() {
    let c = client("agent-ro", "ro", SmartAlg::RS384, "system/*.read").await;
    let t = model::Task { status: Some("draft".into()), intent: Some("order".into()), ..Default::default() };
    let r = c.create_if_none_exist(&t, "identifier=urn:x|ro").await;
    assert!(matches!(r, Err(Error::Rejected { status: 403, .. })), "{r:?}");
}

#[tokio::test]
async fn an_assertion_signed_with_the_wrong_key_is_refused() {
    let c = client("agent-wrong-key", "other", SmartAlg::RS384, "system/*.read").await;
    let r = c.patient_name(&PatientId::parse("p1").unwrap()).await;
    assert!(matches!(r, Err(Error::Rejected { status: 401, .. })), "{r:?}");
}
