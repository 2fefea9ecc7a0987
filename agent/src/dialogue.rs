//! The HTTP layer's `Dialogue` implemented by the workflow engine: engine state travels as
//! JSON (sealed by the caller), and model overload is told apart from other failures so the
//! patient gets a 503 with Retry-After instead of an error.

use std::sync::{Arc, RwLock};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use fhir_client::{Ehr, PatientId};
use workflows::{ConversationState, Engine, Lang, StartTrigger, TurnOutcome};

use crate::chat::{Dialogue, DialogueError, Opening};

pub struct EngineDialogue {
    /// Replaced (never mutated) when a script version is published; a turn keeps the engine it
    /// started with.
    engine: RwLock<Arc<Engine>>,
    /// To build the replacement engine.
    ehr: Option<Arc<dyn Ehr>>,
}

impl EngineDialogue {
    pub fn new(engine: Arc<Engine>) -> Self {
        Self { engine: RwLock::new(engine), ehr: None }
    }

    /// An engine that can take newly published script versions.
    pub fn reloadable(engine: Arc<Engine>, ehr: Arc<dyn Ehr>) -> Self {
        Self { engine: RwLock::new(engine), ehr: Some(ehr) }
    }

    fn engine(&self) -> Arc<Engine> {
        self.engine.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Every script version the engine holds, as (id, version).
    pub fn loaded(&self) -> Vec<(String, u32)> {
        self.engine().scripts().iter().map(|s| (s.id.clone(), s.version)).collect()
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
        let (mut st, out) = self.engine().start(patient, Some(lang), trigger, now).await.map_err(err)?;
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
        let out = self.engine().turn(&mut st, patient, text, now).await.map_err(err)?;
        Ok((to_value(&st)?, out))
    }

    fn add_script(&self, script: workflows::Script) -> bool {
        let Some(ehr) = self.ehr.clone() else { return false };
        let mut slot = self.engine.write().unwrap_or_else(|e| e.into_inner());
        if slot.scripts().iter().any(|s| s.id == script.id && s.version == script.version) {
            return true;
        }
        let mut scripts = slot.scripts().to_vec();
        scripts.push(script);
        let offset = slot.utc_offset_minutes();
        let net = slot.example_net();
        *slot = Arc::new(Engine::new(scripts, ehr, slot.understand().clone()).with_utc_offset_minutes(offset).with_example_net(net));
        true
    }
}
