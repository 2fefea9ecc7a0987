//! The engine: runs one conversation turn by turn. Before any script sees a message, the rules
//! every script obeys run first: red flag → fixed safety message and urgent escalation; a
//! request for a person → handoff; a request for medical advice → no advice, care team told.
//! Then the router picks a script by intent (first message) or the waiting step takes the answer.

mod actions;
pub use actions::perform;
mod read;
mod render;
mod run;
mod slots;
pub use slots::{pick_by_rules, Pick};
pub mod state;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use fhir_client::{Ehr, EncounterId, PatientId};

use crate::redflags::net::NetSlot;
use crate::redflags::Category;
use crate::script::Script;
use crate::text::looks_spanish;
use crate::understand::ask::Ask;
use crate::understand::intent::{ExampleCache, IntentGuess};
use crate::understand::values;
use crate::{Effect, Escalation, EscalationReason, Lang, PendingWrite, Priority, Reply, Result, TurnOutcome, Understand};
use run::{plang, Turn};
pub use state::{ConversationState, Item, SlotValue, Status};

/// A message's red flag, and whether only the example net raised it.
#[derive(Clone, Copy)]
struct Flag {
    category: Category,
    by_examples: bool,
}

/// At most this many options in one offer.
pub const MAX_OFFERED: usize = 3;
/// Unclear first messages before a person takes over.
const MAX_ROUTING_TRIES: u8 = 2;

/// How a conversation starts.
#[derive(Clone, Debug, PartialEq)]
pub enum StartTrigger {
    /// The patient opened the chat: greet and wait for their first message.
    Patient,
    /// The agent starts it (e.g. `discharge`): the script whose `trigger.event` matches runs
    /// and speaks first.
    Event { name: String, encounter: Option<EncounterId> },
}

pub struct Engine {
    /// Every loaded script version; conversations are pinned to (id, version).
    scripts: Vec<Script>,
    ehr: Arc<dyn Ehr>,
    understand: Arc<dyn Understand>,
    examples: ExampleCache,
    /// The red-flag example net, once built (`redflags::net`); the rules run with or without it.
    net: Arc<NetSlot>,
    /// Clinic local time = UTC + this many minutes (dates the patient says are local).
    utc_offset_minutes: i32,
}

/// What a turn is building; becomes the `TurnOutcome`.
pub(crate) struct Out {
    pub replies: Vec<Reply>,
    pub escalation: Option<Escalation>,
    pub effects: Vec<Effect>,
    pub red_flag: Option<String>,
    pub guess: Option<IntentGuess>,
    pub finished: bool,
    /// "step:edge" for each edge taken (branch coverage in conversation tests).
    pub trace: Vec<String>,
    pub deferred: Vec<PendingWrite>,
}

impl Out {
    fn new() -> Out {
        Out { replies: Vec::new(), escalation: None, effects: Vec::new(), red_flag: None, guess: None, finished: false, trace: Vec::new(), deferred: Vec::new() }
    }
    pub fn say(&mut self, text: &str) {
        self.replies.push(Reply { text: text.to_string(), options: Vec::new() });
    }
    /// Keeps the most urgent escalation of the turn.
    pub fn escalate(&mut self, priority: Priority, reason: EscalationReason) {
        if self.escalation.as_ref().is_none_or(|e| priority > e.priority) {
            self.escalation = Some(run::escalation(priority, reason));
        }
    }
    fn finish(self, st: &ConversationState) -> TurnOutcome {
        TurnOutcome {
            replies: self.replies,
            escalation: self.escalation,
            effects: self.effects,
            intent: self.guess.as_ref().map(|g| g.intent.clone()),
            slots: serde_json::to_value(&st.slots).unwrap_or_default(),
            red_flag: self.red_flag,
            confidence: self.guess.as_ref().map(|g| g.confidence),
            script_id: st.script_id.clone(),
            script_version: st.script_version,
            finished: self.finished,
            trace: self.trace,
            deferred: self.deferred,
        }
    }
}

impl Engine {
    pub fn new(scripts: Vec<Script>, ehr: Arc<dyn Ehr>, understand: Arc<dyn Understand>) -> Engine {
        Engine { scripts, ehr, understand, examples: ExampleCache::default(), net: Arc::default(), utc_offset_minutes: 0 }
    }

    /// Uses `slot` for the red-flag example net (shared with the engine this one replaces).
    pub fn with_example_net(mut self, slot: Arc<NetSlot>) -> Engine {
        self.net = slot;
        self
    }

    /// Where this engine looks for the red-flag example net.
    pub fn example_net(&self) -> Arc<NetSlot> {
        self.net.clone()
    }

    /// The engine over the built-in scripts.
    pub fn with_builtin_scripts(ehr: Arc<dyn Ehr>, understand: Arc<dyn Understand>) -> Result<Engine> {
        let scripts = crate::script::builtin()
            .map_err(|d| crate::Error::Invalid(d.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")))?;
        Ok(Engine::new(scripts, ehr, understand))
    }

    /// Sets the clinic's offset from UTC, in minutes (e.g. -300 for UTC-5).
    pub fn with_utc_offset_minutes(mut self, minutes: i32) -> Engine {
        self.utc_offset_minutes = minutes;
        self
    }

    /// The clinic's offset from UTC in minutes.
    pub fn utc_offset_minutes(&self) -> i32 {
        self.utc_offset_minutes
    }

    pub fn scripts(&self) -> &[Script] {
        &self.scripts
    }

    pub fn understand(&self) -> &Arc<dyn Understand> {
        &self.understand
    }

    /// Cached embeddings of script examples (shared with `understand_line`).
    pub fn examples(&self) -> &ExampleCache {
        &self.examples
    }

    /// The newest version of each script id.
    pub fn latest(&self) -> Vec<&Script> {
        let mut out: Vec<&Script> = Vec::new();
        for s in &self.scripts {
            match out.iter_mut().find(|o| o.id == s.id) {
                Some(o) if o.version < s.version => *o = s,
                Some(_) => {}
                None => out.push(s),
            }
        }
        out
    }

    fn pinned(&self, st: &ConversationState) -> Option<&Script> {
        let (id, v) = (st.script_id.as_ref()?, st.script_version?);
        self.scripts.iter().find(|s| &s.id == id && s.version == v)
    }

    /// Embeds every script's intent examples ahead of the first conversation; returns how
    /// many. Optional: without it the first classification does the same work.
    pub async fn warm_up(&self) -> Result<usize> {
        let scripts: Vec<&Script> = self.scripts.iter().collect();
        crate::understand::intent::warm_up(&scripts, self.understand.as_ref(), &self.examples).await
    }

    /// Starts a conversation. `lang` is the session's language if known (otherwise detected
    /// from the first message). For `StartTrigger::Event` the script speaks first.
    pub async fn start(
        &self,
        patient: &PatientId,
        lang: Option<Lang>,
        trigger: StartTrigger,
        now: DateTime<Utc>,
    ) -> Result<(ConversationState, TurnOutcome)> {
        let mut st = ConversationState::new(uuid::Uuid::new_v4().to_string(), lang);
        let mut out = Out::new();
        let name = self.ehr.patient_name(patient).await.ok().flatten();
        match trigger {
            StartTrigger::Patient => {
                out.replies.push(Reply { text: prompts::greeting(plang(&st), name.as_deref()), options: self.menu(st.lang) });
            }
            StartTrigger::Event { name: event, encounter } => {
                let script = self
                    .latest()
                    .into_iter()
                    .find(|s| s.event.as_deref() == Some(event.as_str()))
                    .ok_or_else(|| crate::Error::UnknownScript(format!("event {event}")))?;
                st.script_id = Some(script.id.clone());
                st.script_version = Some(script.version);
                st.encounter = encounter;
                let first = script.steps.first().map(|s| s.id.clone()).ok_or_else(|| crate::Error::State("script has no steps".into()))?;
                let t = Turn { patient, now, message: None, patient_name: name };
                self.run(script, &mut st, first, None, &t, &mut out).await?;
            }
        }
        let outcome = out.finish(&st);
        Ok((st, outcome))
    }

    /// One patient message. `patient` comes from the session, never from the text.
    pub async fn turn(&self, st: &mut ConversationState, patient: &PatientId, message: &str, now: DateTime<Utc>) -> Result<TurnOutcome> {
        st.turn += 1;
        let mut out = Out::new();
        if !st.lang_settled {
            st.lang = if looks_spanish(message) { Lang::Es } else { Lang::En };
            st.lang_settled = true;
        }
        let routing = self.routes_next(st);
        let embedding = self.embedding(message, routing).await;
        let flag = self.red_flag(st, message, embedding.as_deref()).await;
        let ask = match flag.is_none() && st.status != Status::Escalated && routing {
            true => Some(self.ask(st, message, embedding.as_deref()).await?),
            false => None,
        };
        if self.guard(st, message, flag, ask.as_ref(), &mut out) {
            return Ok(out.finish(st));
        }
        if st.status == Status::Finished {
            st.reset_for_new_request();
        }
        let t = Turn { patient, now, message: Some(message), patient_name: None };
        let result = match (self.pinned(st), st.waiting_at.clone()) {
            (Some(script), Some(step)) => self.run(script, st, step, Some(message), &t, &mut out).await,
            (Some(_), None) => {
                st.reset_for_new_request();
                self.route(st, ask.unwrap_or(Ask::Unsure), &t, &mut out).await
            }
            (None, _) if st.script_id.is_some() => Err(crate::Error::UnknownScript(format!("{:?} v{:?}", st.script_id, st.script_version))),
            (None, _) => self.route(st, ask.unwrap_or(Ask::Unsure), &t, &mut out).await,
        };
        match result {
            Ok(()) => Ok(out.finish(st)),
            Err(crate::Error::Ehr(e)) => {
                tracing::warn!(error_kind = "ehr", "turn failed on an EHR call");
                let _ = e;
                self.fail(st, &mut out, "ehr unavailable");
                Ok(out.finish(st))
            }
            Err(e) => Err(e),
        }
    }

    /// Rules every script obeys, given the message's red flag. True when the turn is fully
    /// answered here.
    /// `ask`: what a first message asks for (`None` for an answer to a script's question).
    fn guard(&self, st: &mut ConversationState, message: &str, flag: Option<Flag>, ask: Option<&Ask>, out: &mut Out) -> bool {
        if let Some(Flag { category: cat, by_examples }) = flag {
            st.status = Status::Escalated;
            st.waiting_at = None;
            out.say(prompts::reply(prompts::Reply::Safety, plang(st)));
            // The coordinator sees why: a rule, or only a likeness to flagged messages.
            let detail = match by_examples {
                true => format!("{} (like flagged messages; no rule matched)", cat.as_str()),
                false => cat.as_str().to_string(),
            };
            out.escalate(Priority::Urgent, EscalationReason::RedFlag(detail));
            out.red_flag = Some(cat.as_str().to_string());
            out.finished = true;
            return true;
        }
        if st.status == Status::Escalated {
            out.say(prompts::reply(prompts::Reply::AlreadyEscalated, plang(st)));
            out.finished = true;
            return true;
        }
        let (person, advice) = match ask {
            Some(a) => (matches!(a, Ask::Person(_)), matches!(a, Ask::Advice(_))),
            None => (values::asks_for_person(message), values::asks_for_advice(message)),
        };
        if person {
            st.status = Status::Escalated;
            st.waiting_at = None;
            out.say(prompts::reply(prompts::Reply::Handoff, plang(st)));
            out.escalate(Priority::Normal, EscalationReason::AskedForPerson);
            out.finished = true;
            return true;
        }
        if advice {
            out.say(prompts::reply(prompts::Reply::NoAdvice, plang(st)));
            out.escalate(Priority::Normal, EscalationReason::Script("medical_advice".into()));
            if st.waiting_at.is_some() {
                out.say(match st.lang {
                    Lang::En => "When you're ready, please answer my last question.",
                    Lang::Es => "Cuando pueda, responda por favor a mi última pregunta.",
                });
            }
            return true;
        }
        false
    }

    /// Quick replies for the main menu: the first example of each intent in `lang`.
    fn menu(&self, lang: Lang) -> Vec<String> {
        self.latest().iter().flat_map(|s| s.intents.iter()).filter_map(|i| i.menu(lang).map(str::to_string)).collect()
    }

    async fn route(&self, st: &mut ConversationState, ask: Ask, t: &Turn<'_>, out: &mut Out) -> Result<()> {
        let latest = self.latest();
        let Ask::Script(guess) = ask else {
            st.retries += 1;
            if st.retries > MAX_ROUTING_TRIES {
                st.status = Status::Escalated;
                out.say(prompts::reply(prompts::Reply::LowConfidence, plang(st)));
                out.escalate(Priority::Normal, EscalationReason::LowConfidence);
                out.finished = true;
                return Ok(());
            }
            st.routing_offered = latest.iter().flat_map(|s| s.intents.iter().map(move |i| format!("{}/{}", s.id, i.name))).collect();
            out.replies.push(Reply { text: prompts::reply(prompts::Reply::Clarify, plang(st)).to_string(), options: self.menu(st.lang) });
            return Ok(());
        };
        let Some(script) = latest.into_iter().find(|s| s.id == guess.script) else {
            return Ok(());
        };
        st.script_id = Some(script.id.clone());
        st.script_version = Some(script.version);
        st.intent = Some(guess.intent.clone());
        st.retries = 0;
        st.routing_offered.clear();
        out.guess = Some(guess);
        let first = script.steps.first().map(|s| s.id.clone()).ok_or_else(|| crate::Error::State("script has no steps".into()))?;
        self.run(script, st, first, None, t, out).await
    }

    /// After a clarifying question: the patient picked one of the menu options.
    fn routing_pick(&self, st: &ConversationState, message: &str, latest: &[&Script]) -> Option<IntentGuess> {
        if st.routing_offered.is_empty() {
            return None;
        }
        let w = crate::text::words(message);
        let k = w.first().and_then(|x| x.parse::<usize>().ok()).filter(|_| w.len() == 1)?;
        let pick = st.routing_offered.get(k.checked_sub(1)?)?;
        let (sid, iid) = pick.split_once('/')?;
        latest.iter().find(|s| s.id == sid).map(|_| IntentGuess { script: sid.into(), intent: iid.into(), confidence: 1.0, source: "rule" })
    }
}
