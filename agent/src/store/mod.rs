//! The `Store` port: everything the service keeps between requests. One implementation over
//! sqlx's Any driver serves SQLite (embedded default) and PostgreSQL (several replicas); the
//! same story tests run against both. Patient content arrives here already sealed.

mod audit;
mod gate;
mod group;
pub mod followups;
pub mod outbox;
mod keys;
mod quick;
pub mod outcomes;
mod sql;
mod tx;
mod writer;
pub mod scripts;
pub mod staff;
mod staff_rows;

use async_trait::async_trait;

pub use audit::AuditStore;
pub use keys::{DataKeyRow, KeyStore, ShredRefused};
pub use sql::SqlStore;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Another turn holds the conversation (HTTP 409).
    #[error("conversation is busy with another turn")]
    Busy,
    /// The turn lock was lost (expired and taken) before commit; nothing was written.
    #[error("turn lock lost")]
    LockLost,
    #[error("not found")]
    NotFound,
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    /// The group commit this write was in did not commit (nothing in it happened).
    #[error("{0}")]
    Batch(String),
    #[error("migration error: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

pub type StoreResult<T> = Result<T, StoreError>;

#[derive(Clone, Debug, PartialEq)]
pub struct ConversationRow {
    pub id: String,
    pub patient_id: String,
    pub status: String,
    pub started_by: String,
    pub script_id: Option<String>,
    pub script_version: Option<i64>,
    /// Sealed engine state (JSON inside).
    pub state: Vec<u8>,
    pub state_version: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

impl ConversationRow {
    /// A new active conversation with no script yet, holding `state` (sealed) at version 0.
    pub fn new(id: &str, patient_id: &str, started_by: &str, state: Vec<u8>, now: i64) -> Self {
        Self {
            id: id.into(),
            patient_id: patient_id.into(),
            status: "active".into(),
            started_by: started_by.into(),
            script_id: None,
            script_version: None,
            state,
            state_version: 0,
            created_at: now,
            updated_at: now,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct MessageRow {
    pub seq: i64,
    pub role: String,
    /// Sealed message JSON.
    pub body: Vec<u8>,
    pub created_at: i64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct SessionRow {
    pub patient_id: String,
    pub created_at: i64,
    pub last_seen: i64,
}

/// An audit record's content; the store assigns seq and chains the hash.
#[derive(Clone, Debug)]
pub struct AuditEntry {
    pub at: i64,
    pub actor: String,
    pub action: String,
    /// Sealed canonical JSON of the record.
    pub payload: Vec<u8>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct AuditRow {
    pub seq: i64,
    pub at: i64,
    pub actor: String,
    pub action: String,
    pub payload: Vec<u8>,
    pub prev_hash: String,
    pub hash: String,
}

#[derive(Clone, Debug)]
pub struct NewEscalation {
    pub id: String,
    pub priority: String,
    pub reason: String,
    pub due_at: i64,
}

/// Everything one turn writes, committed in one transaction: the audit record goes in with the
/// messages and state, so there is never a reply without its audit.
#[derive(Clone, Debug)]
pub struct TurnCommit {
    pub conversation_id: String,
    pub lock_token: String,
    pub expected_state_version: i64,
    pub state: Vec<u8>,
    pub status: String,
    pub script_id: Option<String>,
    pub script_version: Option<i64>,
    pub messages: Vec<(String, Vec<u8>)>,
    pub idempotency: Option<(String, Vec<u8>)>,
    pub audit: AuditEntry,
    pub escalation: Option<NewEscalation>,
    /// EHR writes the turn kept because the EHR did not answer.
    pub outbox: Vec<outbox::OutboxRow>,
    pub now: i64,
}

/// The turn path's group commit so far: transactions committed and the writes in them.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct WriterStats {
    pub transactions: u64,
    pub writes: u64,
}

/// What `begin_patient_turn` asks for: the lock `token` on `conversation` until `expires`
/// (ms), for `patient`, and the response stored under `key`, if any.
#[derive(Clone, Copy, Debug)]
pub struct TurnClaim<'a> {
    pub conversation: &'a str,
    pub patient: &'a str,
    pub key: Option<&'a str>,
    pub token: &'a str,
    pub now: i64,
    pub expires: i64,
}

#[async_trait]
pub trait Store: Send + Sync {
    /// "sqlite" or "postgres".
    fn backend(&self) -> &'static str;
    /// How many turn-path writes the group commit has put in each transaction.
    fn writer_stats(&self) -> WriterStats;
    async fn ping(&self) -> StoreResult<()>;

    async fn create_conversation(&self, row: &ConversationRow) -> StoreResult<()>;
    async fn conversation(&self, id: &str) -> StoreResult<Option<ConversationRow>>;
    async fn conversations_of(&self, patient_id: &str) -> StoreResult<Vec<ConversationRow>>;
    async fn messages(&self, conversation_id: &str) -> StoreResult<Vec<MessageRow>>;

    /// Takes the conversation's turn lock until `expires` (ms) and returns the conversation as
    /// it is under the lock; `Busy` if another live turn holds it.
    async fn begin_turn(&self, conversation_id: &str, token: &str, now: i64, expires: i64) -> StoreResult<ConversationRow>;
    async fn release_turn(&self, conversation_id: &str, token: &str) -> StoreResult<()>;
    async fn commit_turn(&self, commit: &TurnCommit) -> StoreResult<i64>;
    async fn turn_result(&self, conversation_id: &str, key: &str) -> StoreResult<Option<Vec<u8>>>;
    /// A patient's turn: takes the lock of `patient`'s conversation (`NotFound` when it is
    /// someone else's, `Busy` while another turn holds it) and returns the conversation under
    /// the lock, with the response already stored under `key` when this post was answered
    /// before. The turn path's ownership check, idempotency look-up and lock in one write.
    async fn begin_patient_turn(&self, claim: TurnClaim<'_>) -> StoreResult<(ConversationRow, Option<Vec<u8>>)>;

    async fn create_session(&self, token_hash: &str, patient_id: &str, now: i64) -> StoreResult<()>;
    async fn session(&self, token_hash: &str) -> StoreResult<Option<SessionRow>>;
    async fn touch_session(&self, token_hash: &str, now: i64) -> StoreResult<()>;
    async fn delete_session(&self, token_hash: &str) -> StoreResult<()>;

    async fn audit_range(&self, from_seq: i64, limit: i64) -> StoreResult<Vec<AuditRow>>;

    /// Claims the follow-up of one discharge; false when some replica already claimed it.
    async fn claim_outreach(&self, encounter_id: &str, patient_id: &str, now: i64) -> StoreResult<bool>;
    async fn set_outreach_conversation(&self, encounter_id: &str, conversation_id: &str) -> StoreResult<()>;
    /// Escalations of a conversation as (priority, reason, status), oldest first.
    async fn escalations_of(&self, conversation_id: &str) -> StoreResult<Vec<(String, String, String)>>;

    /// The staff side's tables (users, staff sessions, queue transitions, takeovers).
    fn staff(&self) -> &dyn staff::StaffStore;
    /// Script drafts and published versions.
    fn scripts(&self) -> &dyn scripts::ScriptStore;
    /// Background follow-ups: unanswered outreach, refill Tasks being watched.
    fn followups(&self) -> &dyn followups::FollowupStore;
    /// EHR writes kept while the EHR did not answer.
    fn outbox(&self) -> &dyn outbox::OutboxStore;
    /// Outcome figures (containment, escalations, time to a person, SLA breaches).
    fn outcomes(&self) -> &dyn outcomes::OutcomeStore;
}

/// Hash of one audit row, chained to the previous one: sha256(prev | seq | at | actor |
/// action | payload), each part length-prefixed. The payload is ciphertext, so shredding a
/// patient's key never breaks the chain.
pub fn audit_hash(prev: &str, seq: i64, entry: &AuditEntry) -> String {
    crate::audit::record::RecordFields {
        prev_hash: prev,
        seq,
        at: entry.at,
        actor: &entry.actor,
        action: &entry.action,
        payload: &entry.payload,
    }
    .chain_hash()
}

/// The hash before the first record.
pub const AUDIT_GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";
