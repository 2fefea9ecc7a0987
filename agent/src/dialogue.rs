//! The HTTP layer's `Dialogue` implemented by the workflow engine: engine state travels as
//! JSON (sealed by the caller), and model overload is told apart from other failures so the
//! patient gets a 503 with Retry-After instead of an error.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use fhir_client::PatientId;
use workflows::{ConversationState, Engine, Lang, StartTrigger, TurnOutcome};

use crate::chat::{Dialogue, DialogueError, Opening};

pub struct EngineDialogue {
    engine: Arc<Engine>,
}

impl EngineDialogue {
    pub fn new(engine: Arc<Engine>) -> Self {
        Self { engine }
    }
}

fn err(e: workflows::Error) -> DialogueError {
    match e {
        workflows::Error::Overloaded => DialogueError::Overloaded,
        other => DialogueError::Other(other.into()),
    }
}

fn to_value(st: &ConversationState) -> Result<serde_json::Value, DialogueError> {
    serde_json::to_value(st).map_err(|e| DialogueError::Other(e.into()))
}

#[async_trait]
impl Dialogue for EngineDialogue {
    async fn open(
        &self,
        conversation_id: &str,
        patient: &PatientId,
        lang: Lang,
        opening: Opening,
        now: DateTime<Utc>,
    ) -> Result<(serde_json::Value, TurnOutcome), DialogueError> {
        let trigger = match opening {
            Opening::Patient => StartTrigger::Patient,
            Opening::Discharge(encounter) => StartTrigger::Event { name: "discharge".into(), encounter: Some(encounter) },
        };
        let (mut st, out) = self.engine.start(patient, Some(lang), trigger, now).await.map_err(err)?;
        st.conversation_id = conversation_id.to_owned();
        Ok((to_value(&st)?, out))
    }

    async fn turn(
        &self,
        _conversation_id: &str,
        state: serde_json::Value,
        patient: &PatientId,
        text: &str,
        now: DateTime<Utc>,
    ) -> Result<(serde_json::Value, TurnOutcome), DialogueError> {
        let mut st: ConversationState = serde_json::from_value(state).map_err(|e| DialogueError::Other(e.into()))?;
        let out = self.engine.turn(&mut st, patient, text, now).await.map_err(err)?;
        Ok((to_value(&st)?, out))
    }
}
