//! The contract between the engine and the service: the `Understand` port the engine uses to
//! reach the model, and the values a turn takes and returns. The agent persists
//! `ConversationState` as JSON between turns, so everything in it is serialisable.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

/// Errors from scripts and the engine.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A script failed validation; each problem carries file:line:column.
    #[error("invalid script: {0}")]
    Invalid(String),
    #[error("unknown script {0}")]
    UnknownScript(String),
    #[error("understanding failed: {0}")]
    Understand(String),
    /// The model's queue is full: nothing was done; the caller answers 503 and the patient
    /// retries.
    #[error("the model is overloaded")]
    Overloaded,
    #[error(transparent)]
    Ehr(#[from] fhir_client::Error),
    #[error("conversation state is inconsistent: {0}")]
    State(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What the engine needs from the model, and nothing more. The agent implements it over
/// `inference::LanguageModel`; tests implement it with a scripted fake.
#[async_trait]
pub trait Understand: Send + Sync {
    /// L2-normalised sentence embeddings (intent by nearest examples, medication similarity).
    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>>;
    /// The model's pick among `options` for `text`, with per-option log-probabilities.
    async fn choose(&self, instruction: &str, text: &str, options: &[String]) -> Result<(usize, Vec<f32>)>;
    /// A value valid against `schema` (JSON-schema subset), extracted from `text`.
    async fn extract(&self, instruction: &str, text: &str, schema: &serde_json::Value) -> Result<serde_json::Value>;
    /// Phrases `facts` (already decided by the script) as a short reply; the engine may ignore
    /// it and use the template text.
    async fn phrase(&self, instruction: &str, facts: &str) -> Result<String>;
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    #[default]
    En,
    Es,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Priority {
    Normal,
    High,
    Urgent,
}

/// Why a conversation goes to a person.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "detail")]
pub enum EscalationReason {
    /// A red-flag category (chest_pain, suicidal, ...).
    RedFlag(String),
    AskedForPerson,
    LowConfidence,
    WorkflowFailure(String),
    NoReply,
    /// A step in a script asked for it (waitlist, clinician review, ...).
    Script(String),
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Escalation {
    pub priority: Priority,
    pub reason: EscalationReason,
}

/// One agent message; `options` are quick replies the widget shows as buttons.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reply {
    pub text: String,
    pub options: Vec<String>,
}

/// A change made in the EHR during the turn, for the audit record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Effect {
    /// The script action (book, cancel, request_refill, ...).
    pub action: String,
    /// "Appointment/123".
    pub resource: String,
}

/// What one turn produced. The agent audits it, then sends `replies`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TurnOutcome {
    pub replies: Vec<Reply>,
    pub escalation: Option<Escalation>,
    pub effects: Vec<Effect>,
    /// The intent the turn was understood as, if one was classified this turn.
    pub intent: Option<String>,
    /// Slot values filled so far (shown to coordinators, audited encrypted).
    pub slots: serde_json::Value,
    /// Red-flag category detected in this turn's message, if any.
    pub red_flag: Option<String>,
    pub confidence: Option<f32>,
    pub script_id: Option<String>,
    pub script_version: Option<u32>,
    /// The conversation has ended (the widget may offer to start a new one).
    pub finished: bool,
    /// Script edges taken this turn, as "step:edge" (branch coverage in conversation tests).
    #[serde(default)]
    pub trace: Vec<String>,
    /// Writes the EHR did not answer for; the script told the patient they are kept. The
    /// service commits them to its outbox with the turn and completes each exactly once.
    #[serde(default)]
    pub deferred: Vec<PendingWrite>,
}

/// An EHR write kept for later: everything needed to make it again, unchanged, with the same
/// idempotency key (so a first attempt that did reach the EHR is never made twice).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PendingWrite {
    pub write: Write,
    pub key: String,
    /// What the write is about, as the patient was shown it ("Tue 1 Dec, 09:00 — Dr Fischer").
    pub label: String,
    pub lang: Lang,
}

/// The EHR writes a script can make, with their arguments taken from the conversation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Write {
    Book { slot: fhir_client::SlotId },
    Reschedule { appointment: fhir_client::AppointmentId, slot: fhir_client::SlotId },
    Cancel { appointment: fhir_client::AppointmentId },
    RequestRefill { request: fhir_client::MedicationRequestId, note: String },
    SubmitQuestionnaire {
        questionnaire: String,
        encounter: Option<fhir_client::EncounterId>,
        answers: Vec<fhir_client::Answer>,
    },
}

impl Write {
    /// The script action name (`book`, `request_refill`, ...).
    pub fn action(&self) -> &'static str {
        match self {
            Write::Book { .. } => "book",
            Write::Reschedule { .. } => "reschedule",
            Write::Cancel { .. } => "cancel",
            Write::RequestRefill { .. } => "request_refill",
            Write::SubmitQuestionnaire { .. } => "submit_questionnaire",
        }
    }
}
