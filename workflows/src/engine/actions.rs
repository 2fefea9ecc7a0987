//! The EHR side of steps: lookups that fill result lists and writes that change the record.
//! Every call is scoped to the session's patient; every write carries an idempotency key made
//! of conversation id, turn and step, so a retried turn never books or routes twice.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, NaiveDate, Timelike, Utc};
use fhir_client::{ActiveMedication, Answer, AnswerValue, IdempotencyKey, PatientId, SlotQuery};

use super::render::{day_start, offset};
use super::state::{ConversationState, Item, SlotValue};
use super::Engine;
use crate::script::{Action, MedCheck, Step, StepKind};
use crate::understand::dates::DateWindow;
use crate::understand::values::Provider;
use crate::{Effect, Error, Result};

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
                let mut a = self.ehr.upcoming_appointments(patient).await?;
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

    /// Runs the write of an `act` step (`note` already rendered); errors go back to the step.
    pub(super) async fn act(&self, step: &Step, note: Option<String>, st: &ConversationState, patient: &PatientId) -> Result<Effect> {
        let StepKind::Act { action, with, answers, questionnaire, .. } = &step.kind else {
            return Err(Error::State(format!("step '{}' is not an act step", step.id)));
        };
        let (action, questionnaire) = (*action, questionnaire.as_deref());
        let key = idempotency_key(st, &step.id);
        let resource = match action {
            Action::Book => {
                let Some(SlotValue::Choice(Item::Slot(s))) = slot(st, with, "slot") else {
                    return Err(missing("slot"));
                };
                format!("Appointment/{}", self.ehr.book(patient, &s.id, &key).await?.id)
            }
            Action::Reschedule => {
                let Some(SlotValue::Choice(Item::Appointment(a))) = slot(st, with, "appointment") else {
                    return Err(missing("appointment"));
                };
                let Some(SlotValue::Choice(Item::Slot(s))) = slot(st, with, "slot") else {
                    return Err(missing("slot"));
                };
                format!("Appointment/{}", self.ehr.reschedule(patient, &a.id, &s.id, &key).await?.id)
            }
            Action::Cancel => {
                let Some(SlotValue::Choice(Item::Appointment(a))) = slot(st, with, "appointment") else {
                    return Err(missing("appointment"));
                };
                self.ehr.cancel(patient, &a.id).await?;
                format!("Appointment/{}", a.id)
            }
            Action::RequestRefill => {
                let Some(SlotValue::Medication(m)) = slot(st, with, "medication") else {
                    return Err(missing("medication"));
                };
                let note = note.unwrap_or_else(|| "Refill requested by the patient through the portal assistant.".into());
                format!("Task/{}", self.ehr.request_refill(patient, &m.request, &note, &key).await?.id)
            }
            Action::SubmitQuestionnaire => {
                let answers: Vec<Answer> = answers
                    .iter()
                    .filter_map(|name| st.slots.get(name).map(|v| Answer { link_id: name.clone(), value: answer_value(v) }))
                    .collect();
                let q = questionnaire.unwrap_or("post-discharge-followup");
                self.ehr.submit_questionnaire_response(patient, q, st.encounter.as_ref(), &answers, &key).await?.0
            }
            _ => return Err(Error::State(format!("'{}' is not a write", action.as_str()))),
        };
        Ok(Effect { action: action.as_str().to_string(), resource })
    }
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
