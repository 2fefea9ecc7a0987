//! The `Ehr` port: the only way the workflows reach the EHR. Plain domain values in and out
//! (not raw FHIR), every call scoped to one patient, every create carrying an idempotency key
//! so a retried turn never books or routes twice.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::*;

/// A business identifier we assign to every create (conditional create on it makes retries
/// safe). Derived by the caller from conversation id + turn + step.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct IdempotencyKey(pub String);

/// What to search free slots by.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct SlotQuery {
    pub practitioner: Option<PractitionerId>,
    /// Practitioner specialty (PractitionerRole.specialty / Schedule.specialty), matched on
    /// code or display, case-insensitively.
    pub specialty: Option<String>,
    pub service_type: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    /// At most this many slots, earliest first.
    pub limit: usize,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FreeSlot {
    pub id: SlotId,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub practitioner: Option<PractitionerId>,
    /// Display name of the practitioner, for the offer text.
    pub practitioner_name: Option<String>,
    pub specialty: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Appointment {
    pub id: AppointmentId,
    pub slot: Option<SlotId>,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub practitioner: Option<PractitionerId>,
    pub practitioner_name: Option<String>,
    /// FHIR Appointment.status (booked, cancelled, ...).
    pub status: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ActiveMedication {
    pub request: MedicationRequestId,
    /// Display name as the EHR has it (e.g. "Lisinopril 10 mg oral tablet").
    pub name: String,
    /// The prescriber (MedicationRequest.requester), who owns refill Tasks.
    pub prescriber: Option<PractitionerId>,
    pub prescriber_name: Option<String>,
    /// dispenseRequest.numberOfRepeatsAllowed minus fills so far, when known.
    pub refills_remaining: Option<u32>,
    /// The last dispense / authoredOn date, when known.
    pub last_fill: Option<NaiveDate>,
    /// dispenseRequest.expectedSupplyDuration in days, when known.
    pub supply_days: Option<u32>,
    /// A controlled substance: refills always go to clinician review.
    pub controlled: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RefillTask {
    pub id: TaskId,
    /// FHIR Task.status (requested, accepted, completed, rejected, ...).
    pub status: String,
    pub owner: Option<PractitionerId>,
    pub medication: MedicationRequestId,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Discharge {
    pub encounter: EncounterId,
    pub discharged: DateTime<Utc>,
    pub location: Option<String>,
}

/// One answer in a QuestionnaireResponse.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Answer {
    pub link_id: String,
    pub value: AnswerValue,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AnswerValue {
    Boolean(bool),
    Integer(i64),
    String(String),
    Date(NaiveDate),
}

/// A reference to a resource the EHR created or changed ("Appointment/123"), for the audit.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceRef(pub String);

/// The EHR as the workflows see it.
#[async_trait]
pub trait Ehr: Send + Sync {
    /// Is the EHR reachable (capability statement answers)?
    async fn ping(&self) -> Result<()>;
    /// The patient's preferred display name (for greetings), if any.
    async fn patient_name(&self, patient: &PatientId) -> Result<Option<String>>;
    async fn free_slots(&self, query: &SlotQuery) -> Result<Vec<FreeSlot>>;
    /// Books a free slot for the patient: Appointment created, Slot marked busy under
    /// `If-Match`; `Error::SlotTaken` when someone else got it first.
    async fn book(&self, patient: &PatientId, slot: &SlotId, key: &IdempotencyKey) -> Result<Appointment>;
    /// The patient's active appointments that start at `from` or later (the caller's clock).
    async fn upcoming_appointments(&self, patient: &PatientId, from: DateTime<Utc>) -> Result<Vec<Appointment>>;
    /// Moves one of the patient's appointments to another free slot (old slot freed).
    async fn reschedule(
        &self,
        patient: &PatientId,
        appointment: &AppointmentId,
        slot: &SlotId,
        key: &IdempotencyKey,
    ) -> Result<Appointment>;
    async fn cancel(&self, patient: &PatientId, appointment: &AppointmentId) -> Result<()>;
    async fn active_medications(&self, patient: &PatientId) -> Result<Vec<ActiveMedication>>;
    /// A refill Task owned by the prescriber, with a Communication to the patient.
    async fn request_refill(
        &self,
        patient: &PatientId,
        medication: &MedicationRequestId,
        note: &str,
        key: &IdempotencyKey,
    ) -> Result<RefillTask>;
    async fn refill_task(&self, patient: &PatientId, task: &TaskId) -> Result<RefillTask>;
    async fn recent_discharges(&self, patient: &PatientId, since: DateTime<Utc>) -> Result<Vec<Discharge>>;
    /// Writes a QuestionnaireResponse for the patient (conditional create on `key`).
    async fn submit_questionnaire_response(
        &self,
        patient: &PatientId,
        questionnaire: &str,
        encounter: Option<&EncounterId>,
        answers: &[Answer],
        key: &IdempotencyKey,
    ) -> Result<ResourceRef>;
}
