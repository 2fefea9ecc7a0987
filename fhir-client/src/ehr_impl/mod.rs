//! `impl Ehr for FhirClient`: the workflows' port mapped onto FHIR interactions. Every call
//! checks that what it touches belongs to the patient in scope (another patient's resource
//! is `NotFound`), and every create is idempotent on the caller's `IdempotencyKey`.

mod followup;
mod meds;
pub mod meds_consts {
    //! Constants other crates may need to recognise what the client writes.
    pub use super::meds::{CONTROLLED_SYSTEM, REFILL_ACK_TEXT};
}
mod scheduling;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use sha2::{Digest, Sha256};

use crate::client::FhirClient;
use crate::model::{preferred_name, Identifier, Patient, Resource};
use crate::*;

/// Identifier system of the business identifier every create carries (conditional create
/// on it makes a retried create a no-op).
pub const IDEMPOTENCY_SYSTEM: &str = "urn:agent:idempotency";

/// The identifier value for a key: the key itself when it is plain, else a digest (search
/// tokens cannot carry `|`, `,`, `$` or `\` unescaped).
pub fn idempotency_value(key: &IdempotencyKey) -> String {
    let plain = !key.0.is_empty()
        && key.0.len() <= 200
        && key.0.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b));
    if plain {
        key.0.clone()
    } else {
        format!("sha256-{}", hex::encode(Sha256::digest(key.0.as_bytes())))
    }
}

pub(crate) fn idempotency_identifier(key: &IdempotencyKey) -> Identifier {
    Identifier::new(IDEMPOTENCY_SYSTEM, &idempotency_value(key))
}

/// `identifier=<system>|<value>` criteria for `If-None-Exist` / search.
pub(crate) fn identifier_criteria(system: &str, value: &str) -> String {
    format!("identifier={system}|{value}")
}

pub(crate) fn key_criteria(key: &IdempotencyKey) -> String {
    identifier_criteria(IDEMPOTENCY_SYSTEM, &idempotency_value(key))
}

pub(crate) fn patient_ref(p: &PatientId) -> String {
    format!("Patient/{p}")
}

pub(crate) fn now_instant() -> String {
    Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// FHIR dateTime/instant → UTC (date-only values are taken as midnight UTC).
pub(crate) fn parse_instant(s: Option<&str>, what: &'static str) -> Result<DateTime<Utc>> {
    let s = s.ok_or_else(|| Error::Protocol(format!("{what} missing")))?;
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
        .ok_or_else(|| Error::Protocol(format!("{what} is not a FHIR dateTime")))
}

pub(crate) fn parse_date(s: Option<&str>) -> Option<NaiveDate> {
    let s = s?;
    NaiveDate::parse_from_str(s.get(..10)?, "%Y-%m-%d").ok()
}

/// A typed id from a resource the EHR returned.
pub(crate) fn id_from<T, R: Resource>(r: &R, parse: fn(String) -> Result<T>) -> Result<T> {
    let id = r.id().ok_or_else(|| Error::Protocol(format!("{} without id", R::TYPE)))?;
    parse(id.to_string()).map_err(|_| Error::Protocol(format!("{} id is not a FHIR id", R::TYPE)))
}

impl FhirClient {
    /// The resource of type `R` carrying our idempotency identifier for `key`, if any.
    pub(crate) async fn find_by_key<R: Resource>(&self, key: &IdempotencyKey) -> Result<Option<R>> {
        let value = format!("{IDEMPOTENCY_SYSTEM}|{}", idempotency_value(key));
        let mut found = self.search::<R>(&[("identifier", value)]).await?;
        Ok(if found.is_empty() { None } else { Some(found.swap_remove(0)) })
    }
}

fn key_reused() -> Error {
    Error::Invalid { what: "idempotency key", why: "already used for another patient".into() }
}

#[async_trait]
impl Ehr for FhirClient {
    async fn ping(&self) -> Result<()> {
        self.capabilities().await.map(|_| ())
    }

    async fn patient_name(&self, patient: &PatientId) -> Result<Option<String>> {
        let p: Patient = self.read(patient.as_str()).await?;
        Ok(preferred_name(&p.name))
    }

    async fn free_slots(&self, query: &SlotQuery) -> Result<Vec<FreeSlot>> {
        scheduling::free_slots(self, query).await
    }

    async fn book(&self, patient: &PatientId, slot: &SlotId, key: &IdempotencyKey) -> Result<Appointment> {
        scheduling::book(self, patient, slot, key).await
    }

    async fn upcoming_appointments(&self, patient: &PatientId, from: DateTime<Utc>) -> Result<Vec<Appointment>> {
        scheduling::upcoming(self, patient, from).await
    }

    async fn reschedule(
        &self,
        patient: &PatientId,
        appointment: &AppointmentId,
        slot: &SlotId,
        key: &IdempotencyKey,
    ) -> Result<Appointment> {
        scheduling::reschedule(self, patient, appointment, slot, key).await
    }

    async fn cancel(&self, patient: &PatientId, appointment: &AppointmentId) -> Result<()> {
        scheduling::cancel(self, patient, appointment).await
    }

    async fn active_medications(&self, patient: &PatientId) -> Result<Vec<ActiveMedication>> {
        meds::active(self, patient).await
    }

    async fn request_refill(
        &self,
        patient: &PatientId,
        medication: &MedicationRequestId,
        note: &str,
        key: &IdempotencyKey,
    ) -> Result<RefillTask> {
        meds::request_refill(self, patient, medication, note, key).await
    }

    async fn refill_task(&self, patient: &PatientId, task: &TaskId) -> Result<RefillTask> {
        meds::refill_task(self, patient, task).await
    }

    async fn recent_discharges(&self, patient: &PatientId, since: DateTime<Utc>) -> Result<Vec<Discharge>> {
        followup::recent_discharges(self, patient, since).await
    }

    async fn submit_questionnaire_response(
        &self,
        patient: &PatientId,
        questionnaire: &str,
        encounter: Option<&EncounterId>,
        answers: &[Answer],
        key: &IdempotencyKey,
    ) -> Result<ResourceRef> {
        followup::submit(self, patient, questionnaire, encounter, answers, key).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_keys_are_kept_and_others_are_digested() {
        assert_eq!(idempotency_value(&IdempotencyKey("conv-1:turn-3.book".into())), "conv-1:turn-3.book");
        let odd = idempotency_value(&IdempotencyKey("a|b,c".into()));
        assert!(odd.starts_with("sha256-") && odd.len() == 7 + 64);
        assert_ne!(odd, idempotency_value(&IdempotencyKey("a|b,d".into())));
    }

    #[test]
    fn fhir_datetimes_parse_with_offsets_and_dates() {
        let t = parse_instant(Some("2026-12-01T10:00:00+01:00"), "start").unwrap();
        assert_eq!(t.to_rfc3339(), "2026-12-01T09:00:00+00:00");
        assert!(parse_instant(Some("2026-12-01"), "start").is_ok());
        assert!(parse_instant(Some("soon"), "start").is_err());
        assert!(parse_instant(None, "start").is_err());
    }
}
