//! What a conversation remembers between turns. The agent stores it as JSON; it is pinned to
//! one script id and version so a script published mid-conversation never changes its rules.

use std::collections::BTreeMap;

use fhir_client::{ActiveMedication, Appointment, EncounterId, FreeSlot};
use serde::{Deserialize, Serialize};

use crate::understand::dates::DateWindow;
use crate::understand::values::Provider;
use crate::Lang;

/// Something the EHR returned in this conversation that the patient may be offered.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Item {
    Slot(FreeSlot),
    Appointment(Appointment),
    Medication(ActiveMedication),
}

/// A filled slot.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SlotValue {
    DateWindow(DateWindow),
    Choice(Item),
    Medication(ActiveMedication),
    YesNo(bool),
    Scale(u8),
    Text(String),
    Provider(Provider),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Automation is running (or waiting for the first message).
    #[default]
    Active,
    /// A person has the conversation now; automation never resumes.
    Escalated,
    /// The script ended; the next message starts a new request.
    Finished,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConversationState {
    /// Stable id of the conversation; idempotency keys for EHR writes derive from it.
    pub conversation_id: String,
    /// The script this conversation runs, once routed, and the exact version it started on.
    pub script_id: Option<String>,
    pub script_version: Option<u32>,
    pub lang: Lang,
    /// The language was given by the session or detected once; we do not flip-flop after.
    pub lang_settled: bool,
    pub status: Status,
    /// The intent the conversation was routed by (book, reschedule, refill, ...).
    pub intent: Option<String>,
    /// The step waiting for the patient's answer.
    pub waiting_at: Option<String>,
    pub slots: BTreeMap<String, SlotValue>,
    /// Lookup results by name: the only things an `offer` may show.
    pub results: BTreeMap<String, Vec<Item>>,
    /// What the waiting step offered, in the order shown (answers are checked against it).
    pub offered: Vec<Item>,
    /// Ids of items the patient turned down; later offers skip them.
    #[serde(default)]
    pub rejected: Vec<String>,
    /// Routing options shown when the first message was unclear ("script/intent").
    pub routing_offered: Vec<String>,
    /// Failed attempts at the current question; too many and a person takes over.
    pub retries: u8,
    /// Patient turns so far (part of every idempotency key).
    pub turn: u32,
    /// The hospital stay a follow-up is about.
    pub encounter: Option<EncounterId>,
}

impl Item {
    /// The EHR id of the item, for remembering what was turned down.
    pub fn id(&self) -> String {
        match self {
            Item::Slot(s) => s.id.to_string(),
            Item::Appointment(a) => a.id.to_string(),
            Item::Medication(m) => m.request.to_string(),
        }
    }
}

impl ConversationState {
    pub fn new(conversation_id: String, lang: Option<Lang>) -> Self {
        ConversationState {
            conversation_id,
            script_id: None,
            script_version: None,
            lang: lang.unwrap_or_default(),
            lang_settled: lang.is_some(),
            status: Status::Active,
            intent: None,
            waiting_at: None,
            slots: BTreeMap::new(),
            results: BTreeMap::new(),
            offered: Vec::new(),
            rejected: Vec::new(),
            routing_offered: Vec::new(),
            retries: 0,
            turn: 0,
            encounter: None,
        }
    }

    /// Forget the finished request but keep the conversation (id, language, turn count).
    pub fn reset_for_new_request(&mut self) {
        let fresh = ConversationState::new(self.conversation_id.clone(), Some(self.lang));
        *self = ConversationState { turn: self.turn, lang_settled: self.lang_settled, ..fresh };
    }

    /// Serialises for the agent's store.
    pub fn to_json(&self) -> crate::Result<String> {
        serde_json::to_string(self).map_err(|e| crate::Error::State(format!("cannot serialise state: {e}")))
    }

    pub fn from_json(text: &str) -> crate::Result<Self> {
        serde_json::from_str(text).map_err(|e| crate::Error::State(format!("cannot read state: {e}")))
    }
}
