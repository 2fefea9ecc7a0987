//! The service for staff tests: the real routes, store (SQLite or PostgreSQL), cipher and
//! staff code, with a fake clock and a scripted dialogue in place of the model (these tests are
//! about who may do what and when, not about understanding patients). The dialogue counts its
//! calls so a test can see the agent stayed silent.
#![allow(dead_code)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use agent::chat::{Dialogue, DialogueError, Opening};
use agent::clock::FakeClock;
use agent::staff::{auth, Role};
use agent::state::{AppState, Policy};
use agent::store::staff::StaffUserRow;
use agent::store::SqlStore;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use fhir_client::PatientId;
use serde_json::{json, Value};
use workflows::{Escalation, EscalationReason, Lang, Priority, Reply, TurnOutcome};

pub const PASSWORD: &str = "correct horse battery staple";

/// A script of numbered steps: each patient message moves one step on and the reply names it;
/// "chest pain" escalates (urgent) and, like the real engine, an escalated state only answers
/// that a person will follow up.
#[derive(Default)]
pub struct StepDialogue {
    pub calls: AtomicUsize,
}

fn outcome(text: String, escalation: Option<Escalation>) -> TurnOutcome {
    TurnOutcome {
        replies: vec![Reply { text, options: vec![] }],
        escalation,
        effects: vec![],
        intent: None,
        slots: Value::Null,
        red_flag: None,
        confidence: None,
        script_id: Some("steps".into()),
        script_version: Some(3),
        finished: false,
        trace: vec![],
        deferred: vec![],
    }
}

#[async_trait]
impl Dialogue for StepDialogue {
    async fn open(&self, _: &str, _: &PatientId, _: Lang, _: Opening, _: DateTime<Utc>) -> Result<(Value, TurnOutcome), DialogueError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let st = json!({ "status": "active", "step": 0, "lang": "en", "slots": {}, "encounter": "Encounter/enc-1" });
        Ok((st, outcome("step 0: how can I help?".into(), None)))
    }

    async fn turn(&self, _: &str, mut st: Value, _: &PatientId, text: &str, _: DateTime<Utc>) -> Result<(Value, TurnOutcome), DialogueError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if st["status"] == "escalated" {
            return Ok((st, outcome("a person will follow up".into(), None)));
        }
        if text.contains("chest pain") {
            st["status"] = json!("escalated");
            let e = Escalation { priority: Priority::Urgent, reason: EscalationReason::RedFlag("chest_pain".into()) };
            return Ok((st, outcome("call 911".into(), Some(e))));
        }
        let step = st["step"].as_i64().unwrap_or(0) + 1;
        st["step"] = json!(step);
        st["slots"]["last"] = json!(text);
        Ok((st, outcome(format!("step {step}: you said {text}"), None)))
    }
}

pub fn no_model() -> Arc<dyn inference::LanguageModel> {
    Arc::new(NoModel)
}

/// Only `info()` is used (audit records name the model); nothing here generates text.
struct NoModel;

#[async_trait]
impl inference::LanguageModel for NoModel {
    fn info(&self) -> inference::ModelInfo {
        inference::ModelInfo { id: "none".into(), sha256: "0".into(), embedding_id: "none".into(), embedding_sha256: "0".into() }
    }
    async fn generate(&self, _: inference::Prompt, _: inference::GenerateParams) -> inference::Result<futures::stream::BoxStream<'static, inference::Result<String>>> {
        Err(inference::Error::Stopped)
    }
    async fn choose(&self, _: inference::Prompt, _: Vec<String>) -> inference::Result<inference::Choice> {
        Err(inference::Error::Stopped)
    }
    async fn extract(&self, _: inference::Prompt, _: Value) -> inference::Result<Value> {
        Err(inference::Error::Stopped)
    }
    async fn embed(&self, _: Vec<String>) -> inference::Result<Vec<Vec<f32>>> {
        Err(inference::Error::Stopped)
    }
}

pub enum Db {
    Sqlite,
    Postgres,
}

/// A fresh schema in the run's PostgreSQL database (`AGENT_TEST_DATABASE_URL`, else the local
/// server's `postgres` database).
pub async fn postgres_url() -> String {
    let base = std::env::var("AGENT_TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let schema = format!("staff_{}", uuid::Uuid::new_v4().simple());
    sqlx::any::install_default_drivers();
    let admin = sqlx::AnyPool::connect(&base).await.expect("PostgreSQL reachable");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}"))).execute(&admin).await.expect("create schema");
    let sep = if base.contains('?') { '&' } else { '?' };
    format!("{base}{sep}options=-csearch_path%3D{schema}")
}

pub struct App {
    pub base: String,
    pub state: AppState,
    pub clock: FakeClock,
    pub dialogue: Arc<StepDialogue>,
    pub http: reqwest::Client,
    pub dir: tempfile::TempDir,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for App {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

impl App {
    pub async fn start(db: Db) -> App {
        Self::start_with(db, 3_600_000).await
    }

    /// `sla_sweep_ms`: how often the server's own SLA sweep runs (real time).
    pub async fn start_with(db: Db, sla_sweep_ms: u64) -> App {
        let dir = tempfile::tempdir().unwrap();
        let url = match db {
            Db::Sqlite => format!("sqlite://{}/agent.db", dir.path().display()),
            Db::Postgres => postgres_url().await,
        };
        Self::start_in(dir, &url, sla_sweep_ms).await
    }

    /// The service on `url` with the keys in `dir`, each made there when missing (a restored
    /// copy starts on the keys it was restored with).
    pub async fn start_in(dir: tempfile::TempDir, url: &str, sla_sweep_ms: u64) -> App {
        let key = dir.path().join("master.key");
        if !key.exists() {
            agent::crypto::init_key_file(&key).unwrap();
        }
        let settings = agent::config::Settings::from_toml_overrides(&[]).unwrap();
        let store = Arc::new(SqlStore::connect(url, 4).await.unwrap());
        // The audit viewer checks checkpoints signed with this key (tests sign with it).
        let signing = dir.path().join("audit-signing.key");
        let public = if signing.exists() {
            agent::audit::checkpoint::AuditSigner::from_key_file(&signing).unwrap().verifying_key()
        } else {
            agent::audit::checkpoint::init_signing_key(&signing).unwrap()
        };
        let checkpoints = dir.path().join("audit-checkpoints.jsonl");
        let clock = FakeClock::at(1_800_000_000_000);
        let dialogue = Arc::new(StepDialogue::default());
        let state = AppState {
            audit: agent::audit_cli::LogCheck::new(store.clone(), Some(checkpoints), vec![public]),
            store,
            model: Arc::new(NoModel),
            ehr: Arc::new(fhir_client::FhirClient::new(&settings.fhir).unwrap()),
            dialogue: dialogue.clone(),
            cipher: agent::crypto::Cipher::from_key_file(&key).unwrap(),
            clock: Arc::new(clock.clone()),
            metrics: Arc::new(agent::metrics::Metrics::default()),
            policy: Policy { secure_cookies: false, sla_sweep_ms, ..Policy::default() },
            integration: Default::default(),
            launch: None,
            demo_patients: Arc::new(vec![]),
            staff: agent::staff::Hub::default(),
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let serve_state = state.clone();
        tokio::spawn(async move {
            let _ = agent::app::run(listener, serve_state, async {
                let _ = rx.await;
            })
            .await;
        });
        App { base, state, clock, dialogue, http: reqwest::Client::new(), dir, shutdown: Some(tx) }
    }

    /// The key that signs this service's audit checkpoints.
    pub fn audit_signer(&self) -> agent::audit::checkpoint::AuditSigner {
        agent::audit::checkpoint::AuditSigner::from_key_file(&self.dir.path().join("audit-signing.key")).unwrap()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// Adds a user as `agent users add` does; returns the TOTP secret.
    pub async fn add_user(&self, username: &str, role: Role) -> Vec<u8> {
        let id = uuid::Uuid::now_v7().to_string();
        let secret = auth::new_totp_secret();
        let row = StaffUserRow {
            id: id.clone(),
            username: username.into(),
            role: role.as_str().into(),
            password_hash: auth::hash_password(PASSWORD).unwrap(),
            totp_secret: self.state.cipher.seal(&auth::secret_aad(&id), &secret).unwrap(),
            totp_last_step: 0,
            disabled: false,
            created_at: 0,
        };
        assert!(self.state.store.staff().create_user(&row).await.unwrap());
        secret
    }

    /// The password step only: a token that must not reach any staff route.
    pub async fn password_only(&self, username: &str) -> String {
        let resp = self.http.post(self.url("/api/staff/login")).json(&json!({"username": username, "password": PASSWORD})).send().await.unwrap();
        assert_eq!(resp.status(), 200, "login {username}");
        resp.json::<Value>().await.unwrap()["token"].as_str().unwrap().to_owned()
    }

    pub fn code(&self, secret: &[u8]) -> String {
        auth::totp_code(secret, (self.clock_ms() / 1000) as u64).unwrap()
    }

    pub fn clock_ms(&self) -> i64 {
        use agent::clock::Clock;
        self.clock.now_ms()
    }

    /// Password and second factor: a full session token.
    pub async fn sign_in(&self, username: &str, secret: &[u8]) -> String {
        let half = self.password_only(username).await;
        let resp = self
            .http
            .post(self.url("/api/staff/login/totp"))
            .bearer_auth(&half)
            .json(&json!({"code": self.code(secret)}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "totp {username}");
        resp.json::<Value>().await.unwrap()["token"].as_str().unwrap().to_owned()
    }

    /// A new user of `role`, signed in.
    pub async fn staff(&self, username: &str, role: Role) -> String {
        let secret = self.add_user(username, role).await;
        self.sign_in(username, &secret).await
    }

    pub async fn patient_token(&self, patient: &str) -> String {
        agent::session::create(&self.state, &PatientId::parse(patient.to_owned()).unwrap()).await.unwrap()
    }

    pub async fn get(&self, token: &str, path: &str) -> reqwest::Response {
        self.http.get(self.url(path)).bearer_auth(token).send().await.unwrap()
    }

    pub async fn post(&self, token: &str, path: &str, body: Value) -> reqwest::Response {
        self.http.post(self.url(path)).bearer_auth(token).json(&body).send().await.unwrap()
    }

    /// A patient starts a conversation; returns its id.
    pub async fn open_conversation(&self, patient_token: &str) -> String {
        let resp = self.post(patient_token, "/api/conversations", json!({})).await;
        assert_eq!(resp.status(), 200);
        resp.json::<Value>().await.unwrap()["conversation_id"].as_str().unwrap().to_owned()
    }

    pub async fn patient_says(&self, patient_token: &str, conv: &str, text: &str) -> Value {
        let resp = self.post(patient_token, &format!("/api/conversations/{conv}/messages"), json!({"text": text})).await;
        assert_eq!(resp.status(), 200, "patient post");
        resp.json().await.unwrap()
    }

    /// A conversation whose patient reported a red flag: returns (conversation, escalation id).
    pub async fn escalated_case(&self, patient: &str) -> (String, String) {
        let token = self.patient_token(patient).await;
        let conv = self.open_conversation(&token).await;
        let turn = self.patient_says(&token, &conv, "I have chest pain").await;
        assert_eq!(turn["escalated"], true);
        let cases = self.state.store.staff().open_escalations().await.unwrap();
        let case = cases.iter().find(|c| c.conversation_id == conv).expect("case queued");
        (conv, case.id.clone())
    }

    pub fn dialogue_calls(&self) -> usize {
        self.dialogue.calls.load(Ordering::SeqCst)
    }
}
