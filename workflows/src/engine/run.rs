//! Running a script: step after step until one waits for the patient or the script ends. A
//! step that waited gets the next message as its answer; everything else flows on its own.

use chrono::{DateTime, Utc};
use fhir_client::PatientId;

use super::render::{self, offset};
use super::slots::{Fill, Pick};
use super::state::{ConversationState, SlotValue, Status};
use super::{Engine, Out};
use crate::script::{Cond, Script, SlotType, Step, StepKind};
use crate::{Escalation, EscalationReason, Priority, Reply, Result};

/// More steps than this in one turn means a loop without a question: a script defect.
const MAX_STEPS_PER_TURN: usize = 64;
/// Unclear answers to one question before a person takes over.
const MAX_RETRIES: u8 = 2;

pub(super) enum Flow {
    Goto(&'static str, String),
    GotoLabel(String, String),
    Wait,
    Stop,
}

/// Everything a step needs to know about the turn it runs in.
pub(super) struct Turn<'a> {
    pub patient: &'a PatientId,
    pub now: DateTime<Utc>,
    /// This turn's message (extract steps read it).
    pub message: Option<&'a str>,
    pub patient_name: Option<String>,
}

impl Engine {
    pub(super) async fn run(
        &self,
        script: &Script,
        st: &mut ConversationState,
        from: String,
        mut answer: Option<&str>,
        t: &Turn<'_>,
        out: &mut Out,
    ) -> Result<()> {
        let mut cur = from;
        for _ in 0..MAX_STEPS_PER_TURN {
            let Some(step) = script.step(&cur) else {
                return Err(crate::Error::State(format!("step '{cur}' not in script")));
            };
            let flow = self.exec(script, step, st, answer.take(), t, out).await?;
            match flow {
                Flow::Goto(label, next) => {
                    out.trace.push(format!("{}:{label}", step.id));
                    cur = next;
                }
                Flow::GotoLabel(label, next) => {
                    out.trace.push(format!("{}:{label}", step.id));
                    cur = next;
                }
                Flow::Wait => {
                    st.waiting_at = Some(cur);
                    return Ok(());
                }
                Flow::Stop => {
                    st.waiting_at = None;
                    return Ok(());
                }
            }
        }
        self.fail(st, out, "step loop");
        Ok(())
    }

    /// A person takes over because automation could not go on.
    pub(super) fn fail(&self, st: &mut ConversationState, out: &mut Out, why: &str) {
        st.status = Status::Escalated;
        st.waiting_at = None;
        out.say(prompts::reply(prompts::Reply::Failure, plang(st)));
        out.escalate(Priority::High, EscalationReason::WorkflowFailure(why.to_string()));
        out.finished = true;
    }

    fn say_key(&self, script: &Script, key: &str, st: &ConversationState, t: &Turn, out: &mut Out, options: Vec<String>) {
        let text = render::text(script, key, st, t.patient_name.as_deref(), offset(self.utc_offset_minutes), t.now);
        out.replies.push(Reply { text, options });
    }

    /// An unclear answer: say so and ask again, or hand over after too many tries.
    fn retry(&self, script: &Script, key: &str, st: &mut ConversationState, t: &Turn, out: &mut Out, options: Vec<String>) -> Flow {
        st.retries += 1;
        if st.retries > MAX_RETRIES {
            st.status = Status::Escalated;
            out.say(prompts::reply(prompts::Reply::LowConfidence, plang(st)));
            out.escalate(Priority::Normal, EscalationReason::LowConfidence);
            out.finished = true;
            return Flow::Stop;
        }
        out.say(prompts::reply(prompts::Reply::NotUnderstood, plang(st)));
        self.say_key(script, key, st, t, out, options);
        Flow::Wait
    }

    async fn exec(
        &self,
        script: &Script,
        step: &Step,
        st: &mut ConversationState,
        answer: Option<&str>,
        t: &Turn<'_>,
        out: &mut Out,
    ) -> Result<Flow> {
        match &step.kind {
            StepKind::Ask { slot, text, from, next } => self.exec_ask(script, slot, text, from.as_deref(), next, st, answer, t, out).await,
            StepKind::Extract { slot, from, next } => {
                if let (Some(msg), Some(ty)) = (t.message, script.slots.get(slot)) {
                    match self.extract_slot(*ty, script.question(slot), msg, from.as_deref(), st, t.now).await? {
                        Fill::Value(v) => {
                            st.slots.insert(slot.clone(), v);
                        }
                        // narrows the next question to the candidates
                        Fill::Ambiguous(items) => st.offered = items,
                        Fill::Nothing => {}
                    }
                }
                Ok(Flow::Goto("next", next.clone()))
            }
            StepKind::Lookup { action, with, into, widen_days, next } => {
                if !script.allowed_actions.contains(action) {
                    self.fail(st, out, "action not allowed");
                    return Ok(Flow::Stop);
                }
                let items = self.lookup(*action, with, *widen_days, st, t.patient, t.now).await?;
                st.results.insert(into.clone(), items);
                Ok(Flow::Goto("next", next.clone()))
            }
            StepKind::Offer { slot, from, text, next, none } => {
                self.exec_offer(script, slot, from, text, next, none, st, answer, t, out).await
            }
            StepKind::Confirm { text, yes, no } => {
                let options = render::yes_no_options(st.lang);
                let Some(msg) = answer else {
                    self.say_key(script, text, st, t, out, options);
                    return Ok(Flow::Wait);
                };
                Ok(match crate::understand::values::yes_no(msg) {
                    Some(true) => self.answered(st, Flow::Goto("yes", yes.clone())),
                    Some(false) => self.answered(st, Flow::Goto("no", no.clone())),
                    None => self.retry(script, text, st, t, out, options),
                })
            }
            StepKind::Act { .. } => self.exec_act(script, step, st, t, out).await,
            StepKind::Say { text, next } => {
                self.say_key(script, text, st, t, out, Vec::new());
                Ok(Flow::Goto("next", next.clone()))
            }
            StepKind::Branch { .. } | StepKind::Escalate { .. } | StepKind::End { .. } => Ok(self.exec_control(script, step, st, t, out)),
        }
    }

    /// Steps that only decide where to go or how the conversation ends.
    fn exec_control(&self, script: &Script, step: &Step, st: &mut ConversationState, t: &Turn<'_>, out: &mut Out) -> Flow {
        match &step.kind {
            StepKind::Branch { cases, otherwise } => {
                let today = t.now.with_timezone(&offset(self.utc_offset_minutes)).date_naive();
                for (i, (cond, target)) in cases.iter().enumerate() {
                    if eval(cond, st, today) {
                        return Flow::GotoLabel(format!("case{}", i + 1), target.clone());
                    }
                }
                Flow::Goto("else", otherwise.clone())
            }
            StepKind::Escalate { priority, reason, text, next } => {
                if let Some(k) = text {
                    self.say_key(script, k, st, t, out, Vec::new());
                }
                out.escalate(*priority, EscalationReason::Script(reason.clone()));
                match next {
                    Some(n) => Flow::Goto("next", n.clone()),
                    None => {
                        st.status = Status::Escalated;
                        out.finished = true;
                        Flow::Stop
                    }
                }
            }
            StepKind::End { text } => {
                if let Some(k) = text {
                    self.say_key(script, k, st, t, out, Vec::new());
                }
                st.status = Status::Finished;
                out.finished = true;
                Flow::Stop
            }
            _ => Flow::Stop,
        }
    }

    fn answered(&self, st: &mut ConversationState, flow: Flow) -> Flow {
        st.retries = 0;
        st.offered.clear();
        flow
    }

    #[allow(clippy::too_many_arguments)]
    async fn exec_ask(
        &self,
        script: &Script,
        slot: &str,
        text: &str,
        from: Option<&str>,
        next: &str,
        st: &mut ConversationState,
        answer: Option<&str>,
        t: &Turn<'_>,
        out: &mut Out,
    ) -> Result<Flow> {
        let ty = script.slots.get(slot).copied().unwrap_or(SlotType::Text);
        let lang = st.lang;
        let options = match ty {
            SlotType::YesNo => render::yes_no_options(lang),
            SlotType::Medication if !st.offered.is_empty() => {
                st.offered.iter().map(|i| render::item(i, offset(self.utc_offset_minutes), lang)).collect()
            }
            SlotType::Medication => from
                .and_then(|f| st.results.get(f))
                .into_iter()
                .flatten()
                .map(|i| render::item(i, offset(self.utc_offset_minutes), lang))
                .collect(),
            _ => Vec::new(),
        };
        let Some(msg) = answer else {
            self.say_key(script, text, st, t, out, options);
            return Ok(Flow::Wait);
        };
        match self.extract_slot(ty, script.question(slot), msg, from, st, t.now).await? {
            Fill::Value(v) => {
                st.slots.insert(slot.to_string(), v);
                Ok(self.answered(st, Flow::Goto("next", next.to_string())))
            }
            Fill::Ambiguous(items) => {
                let labels = items.iter().map(|i| render::item(i, offset(self.utc_offset_minutes), lang)).collect();
                st.offered = items;
                out.say(match lang {
                    crate::Lang::En => "Which one do you mean?",
                    crate::Lang::Es => "¿Cuál de ellos?",
                });
                if let Some(r) = out.replies.last_mut() {
                    r.options = labels;
                }
                Ok(Flow::Wait)
            }
            Fill::Nothing => Ok(self.retry(script, text, st, t, out, options)),
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn exec_offer(
        &self,
        script: &Script,
        slot: &str,
        from: &str,
        text: &str,
        next: &str,
        none: &str,
        st: &mut ConversationState,
        answer: Option<&str>,
        t: &Turn<'_>,
        out: &mut Out,
    ) -> Result<Flow> {
        let off = offset(self.utc_offset_minutes);
        let Some(msg) = answer else {
            let items: Vec<_> = st
                .results
                .get(from)
                .map(|r| r.iter().filter(|i| !st.rejected.contains(&i.id())).take(super::MAX_OFFERED).cloned().collect())
                .unwrap_or_default();
            if items.is_empty() {
                return Ok(Flow::Goto("none", none.to_string()));
            }
            let labels: Vec<String> = items.iter().map(|i| render::item(i, off, st.lang)).collect();
            st.offered = items;
            self.say_key(script, text, st, t, out, labels.clone());
            if let Some(r) = out.replies.last_mut() {
                let list: Vec<String> = labels.iter().enumerate().map(|(i, l)| format!("{}. {l}", i + 1)).collect();
                r.text = format!("{}\n{}", r.text, list.join("\n"));
            }
            return Ok(Flow::Wait);
        };
        let offered = st.offered.clone();
        let labels: Vec<String> = offered.iter().map(|i| render::item(i, off, st.lang)).collect();
        Ok(match self.pick_option(msg, &offered, st.lang).await? {
            Pick::Index(i) => match offered.get(i) {
                Some(item) => {
                    st.slots.insert(slot.to_string(), SlotValue::Choice(item.clone()));
                    self.answered(st, Flow::Goto("next", next.to_string()))
                }
                None => self.retry(script, text, st, t, out, labels),
            },
            Pick::Rejected => {
                st.rejected.extend(offered.iter().map(|i| i.id()));
                self.answered(st, Flow::Goto("none", none.to_string()))
            }
            Pick::Unclear => self.retry(script, text, st, t, out, labels),
        })
    }

    async fn exec_act(&self, script: &Script, step: &Step, st: &mut ConversationState, t: &Turn<'_>, out: &mut Out) -> Result<Flow> {
        let StepKind::Act { action, note, next, on_error, on_unavailable, .. } = &step.kind else {
            return Ok(Flow::Stop);
        };
        if !script.allowed_actions.contains(action) {
            self.fail(st, out, "action not allowed");
            return Ok(Flow::Stop);
        }
        let note = note.as_ref().map(|k| script.string(k, crate::Lang::En).to_string());
        let pending = self.plan_write(step, note, st)?;
        match super::actions::perform(self.ehr.as_ref(), t.patient, &pending).await {
            Ok(effect) => {
                out.effects.push(effect);
                Ok(Flow::Goto("next", next.clone()))
            }
            Err(e) => {
                tracing::warn!(action = action.as_str(), error_kind = e.kind(), "EHR write failed");
                Ok(match (&e, on_unavailable, on_error) {
                    // The EHR did not answer: that says nothing about the request (the slot may
                    // well be free). Kept for the service's outbox; the script tells the patient.
                    (fhir_client::Error::Unavailable(_), Some(target), _) => {
                        out.deferred.push(pending);
                        Flow::Goto("unavailable", target.clone())
                    }
                    (_, _, Some(target)) => Flow::Goto("error", target.clone()),
                    _ => {
                        self.fail(st, out, action.as_str());
                        Flow::Stop
                    }
                })
            }
        }
    }
}

fn eval(cond: &Cond, st: &ConversationState, today: chrono::NaiveDate) -> bool {
    match cond {
        Cond::Intent(i) => st.intent.as_deref() == Some(i.as_str()),
        Cond::Filled(s) => st.slots.contains_key(s),
        Cond::Empty(r) => st.results.get(r).is_none_or(Vec::is_empty),
        Cond::Is(s, b) => st.slots.get(s) == Some(&SlotValue::YesNo(*b)),
        Cond::AtLeast(s, n) => matches!(st.slots.get(s), Some(SlotValue::Scale(v)) if v >= n),
        Cond::Med(s, check) => {
            matches!(st.slots.get(s), Some(SlotValue::Medication(m)) if super::actions::med_check(m, *check, today))
        }
    }
}

pub(super) fn plang(st: &ConversationState) -> prompts::Lang {
    match st.lang {
        crate::Lang::En => prompts::Lang::En,
        crate::Lang::Es => prompts::Lang::Es,
    }
}

/// An escalation from a step (for `Out`).
pub(super) fn escalation(priority: Priority, reason: EscalationReason) -> Escalation {
    Escalation { priority, reason }
}
