//! The EHR side of steps: lookups that fill result lists and writes that change the record.
//! Every call is scoped to the session's patient; every write carries an idempotency key made
//! of conversation id, turn and step, so a retried turn never books or routes twice.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, NaiveDate, Timelike, Utc};
use fhir_client::{ActiveMedication, Answer, AnswerValue, Ehr, IdempotencyKey, PatientId, SlotQuery};

use super::render::{self, day_start, offset};
use super::state::{ConversationState, Item, SlotValue};
use super::Engine;
use crate::script::{Action, MedCheck, Step, StepKind};
use crate::understand::dates::DateWindow;
use crate::understand::values::Provider;
use crate::{Effect, Error, PendingWrite, Result, Write};

/// How many free slots we ask the EHR for before filtering by part of day and name.
const SLOT_SEARCH_LIMIT: usize = 50;
/// Search window when the patient gave none.
const DEFAULT_WINDOW_DAYS: i64 = 14;
/// A refill is due once this share of the last supply has been used.
const REFILL_DUE_FRACTION: f64 = 0.75;

pub fn idempotency_key(st: &ConversationState, step: &str) -> IdempotencyKey {
    IdempotencyKey(format!("{}-{}-{}", st.conversation_id, st.turn, step))
}

/// The earliest date a refill of `m` is due, when the EHR told us the last fill and supply.
pub fn refill_from(m: &ActiveMedication) -> Option<NaiveDate> {
    let (last, days) = (m.last_fill?, m.supply_days?);
    Some(last + Duration::days((f64::from(days) * REFILL_DUE_FRACTION).ceil() as i64))
}

pub fn med_check(m: &ActiveMedication, check: MedCheck, today: NaiveDate) -> bool {
    match check {
        MedCheck::Controlled => m.controlled,
        MedCheck::NoRefills => m.refills_remaining == Some(0),
        MedCheck::TooRecent => refill_from(m).is_some_and(|d| d > today),
    }
}

fn slot<'a>(st: &'a ConversationState, with: &BTreeMap<String, String>, param: &str) -> Option<&'a SlotValue> {
    with.get(param).and_then(|name| st.slots.get(name))
}

fn missing(what: &str) -> Error {
    Error::State(format!("a required value ({what}) is not filled"))
}

impl Engine {
    pub(super) async fn lookup(
        &self,
        action: Action,
        with: &BTreeMap<String, String>,
        widen: u32,
        st: &ConversationState,
        patient: &PatientId,
        now: DateTime<Utc>,
    ) -> Result<Vec<Item>> {
        Ok(match action {
            Action::FindSlots => self.find_slots(with, widen, st, now).await?,
            Action::UpcomingAppointments => {
                let mut a = self.ehr.upcoming_appointments(patient, now).await?;
                a.retain(|x| x.start > now && x.status != "cancelled");
                a.sort_by_key(|x| x.start);
                a.into_iter().map(Item::Appointment).collect()
            }
            Action::ActiveMedications => self.ehr.active_medications(patient).await?.into_iter().map(Item::Medication).collect(),
            _ => return Err(Error::State(format!("'{}' is not a lookup", action.as_str()))),
        })
    }

    async fn find_slots(
        &self,
        with: &BTreeMap<String, String>,
        widen: u32,
        st: &ConversationState,
        now: DateTime<Utc>,
    ) -> Result<Vec<Item>> {
        let off = offset(self.utc_offset_minutes);
        let today = now.with_timezone(&off).date_naive();
        let window = match slot(st, with, "when") {
            Some(SlotValue::DateWindow(w)) => w.widened(widen),
            _ => DateWindow { from: today, to: today + Duration::days(DEFAULT_WINDOW_DAYS), part: None }.widened(widen),
        };
        let mut query = SlotQuery {
            from: Some(day_start(window.from, off).max(now)),
            to: Some(day_start(window.to + Duration::days(1), off)),
            limit: SLOT_SEARCH_LIMIT,
            ..Default::default()
        };
        let mut name_filter = None;
        match slot(st, with, "provider") {
            Some(SlotValue::Provider(Provider::Specialty(s))) => query.specialty = Some(s.clone()),
            Some(SlotValue::Provider(Provider::Practitioner(n))) => name_filter = Some(n.clone()),
            _ => {}
        }
        if let Some(SlotValue::Choice(Item::Appointment(a))) = slot(st, with, "like") {
            query.practitioner = a.practitioner.clone();
        }
        let mut slots = self.ehr.free_slots(&query).await?;
        slots.retain(|s| s.start >= now);
        if let Some(part) = window.part {
            let (h0, h1) = part.hours();
            slots.retain(|s| (h0..h1).contains(&s.start.with_timezone(&off).hour()));
        }
        if let Some(name) = name_filter {
            slots.retain(|s| {
                s.practitioner_name
                    .as_deref()
                    .is_some_and(|p| crate::text::words(p).iter().any(|w| crate::text::fuzzy_eq(w, &name) || *w == name))
            });
        }
        slots.sort_by_key(|s| s.start);
        Ok(slots.into_iter().map(Item::Slot).collect())
    }

    /// What the write of an `act` step is (`note` already rendered), from the conversation's
    /// slots, with the label the patient knows it by; nothing is sent yet.
    pub(super) fn plan_write(&self, step: &Step, note: Option<String>, st: &ConversationState) -> Result<PendingWrite> {
        let StepKind::Act { action, with, answers, questionnaire, .. } = &step.kind else {
            return Err(Error::State(format!("step '{}' is not an act step", step.id)));
        };
        let off = offset(self.utc_offset_minutes);
        let label = |it: &Item| render::item(it, off, st.lang);
        let chosen = |param: &str| match slot(st, with, param) {
            Some(SlotValue::Choice(it)) => Some(it),
            _ => None,
        };
        let (write, label) = match action {
            Action::Book => match chosen("slot") {
                Some(it @ Item::Slot(s)) => (Write::Book { slot: s.id.clone() }, label(it)),
                _ => return Err(missing("slot")),
            },
            Action::Reschedule => match (chosen("appointment"), chosen("slot")) {
                (Some(Item::Appointment(a)), Some(it @ Item::Slot(s))) => {
                    (Write::Reschedule { appointment: a.id.clone(), slot: s.id.clone() }, label(it))
                }
                (Some(Item::Appointment(_)), _) => return Err(missing("slot")),
                _ => return Err(missing("appointment")),
            },
            Action::Cancel => match chosen("appointment") {
                Some(it @ Item::Appointment(a)) => (Write::Cancel { appointment: a.id.clone() }, label(it)),
                _ => return Err(missing("appointment")),
            },
            Action::RequestRefill => {
                let Some(SlotValue::Medication(m)) = slot(st, with, "medication") else {
                    return Err(missing("medication"));
                };
                let note = note.unwrap_or_else(|| "Refill requested by the patient through the portal assistant.".into());
                (Write::RequestRefill { request: m.request.clone(), note }, m.name.clone())
            }
            Action::SubmitQuestionnaire => {
                let answers = answers
                    .iter()
                    .filter_map(|name| st.slots.get(name).map(|v| Answer { link_id: name.clone(), value: answer_value(v) }))
                    .collect();
                let questionnaire = questionnaire.clone().unwrap_or_else(|| "post-discharge-followup".into());
                let label = match st.lang {
                    crate::Lang::En => "your follow-up answers",
                    crate::Lang::Es => "sus respuestas de seguimiento",
                };
                (Write::SubmitQuestionnaire { questionnaire, encounter: st.encounter.clone(), answers }, label.to_owned())
            }
            _ => return Err(Error::State(format!("'{}' is not a write", action.as_str()))),
        };
        Ok(PendingWrite { write, key: idempotency_key(st, &step.id).0, label, lang: st.lang })
    }
}

/// Makes one write in the EHR for `patient`, with the write's idempotency key: during the turn
/// that decided it, or later from the service's outbox. Making it twice books nothing twice.
pub async fn perform(ehr: &dyn Ehr, patient: &PatientId, w: &PendingWrite) -> fhir_client::Result<Effect> {
    let key = IdempotencyKey(w.key.clone());
    let resource = match &w.write {
        Write::Book { slot } => format!("Appointment/{}", ehr.book(patient, slot, &key).await?.id),
        Write::Reschedule { appointment, slot } => {
            format!("Appointment/{}", ehr.reschedule(patient, appointment, slot, &key).await?.id)
        }
        Write::Cancel { appointment } => {
            ehr.cancel(patient, appointment).await?;
            format!("Appointment/{appointment}")
        }
        Write::RequestRefill { request, note } => format!("Task/{}", ehr.request_refill(patient, request, note, &key).await?.id),
        Write::SubmitQuestionnaire { questionnaire, encounter, answers } => {
            ehr.submit_questionnaire_response(patient, questionnaire, encounter.as_ref(), answers, &key).await?.0
        }
    };
    Ok(Effect { action: w.write.action().to_string(), resource })
}

fn answer_value(v: &SlotValue) -> AnswerValue {
    match v {
        SlotValue::YesNo(b) => AnswerValue::Boolean(*b),
        SlotValue::Scale(n) => AnswerValue::Integer(i64::from(*n)),
        SlotValue::Text(t) => AnswerValue::String(t.clone()),
        SlotValue::DateWindow(w) => AnswerValue::Date(w.from),
        SlotValue::Medication(m) => AnswerValue::String(m.name.clone()),
        SlotValue::Choice(Item::Medication(m)) => AnswerValue::String(m.name.clone()),
        SlotValue::Choice(Item::Slot(s)) => AnswerValue::String(s.id.to_string()),
        SlotValue::Choice(Item::Appointment(a)) => AnswerValue::String(a.id.to_string()),
        SlotValue::Provider(p) => AnswerValue::String(format!("{p:?}")),
    }
}
