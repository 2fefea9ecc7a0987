//! The world a conversation case starts in (`fixture = "john+appointment+slot_taken"`): which
//! demo patient speaks, and what is true in the real, freshly seeded EHR — an appointment
//! already booked, no active prescriptions, a rival who books the offered time first, or an EHR
//! that stops answering before the patient's write. The EHR stays the real server; a fixture
//! only changes its data (or books before the patient, or sends the writes nowhere).

use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use fhir_client::seed::DemoData;
use fhir_client::{
    ActiveMedication, Answer, Appointment, AppointmentId, Discharge, Ehr, EncounterId, FhirClient, FreeSlot, IdempotencyKey,
    MedicationRequestId, PatientId, RefillTask, ResourceRef, SlotId, SlotQuery, TaskId,
};

/// A case's `fixture`: a demo patient's first name (`john`, `maria`, `aisha`, `wei`; `default`
/// is John), then options after `+`: `appointment` (one booked appointment to start with),
/// `no_meds` (the patient's active prescriptions stopped), `slot_taken` (another patient books
/// the chosen time just before the patient's first booking or move), `ehr_down` (every write
/// goes to a loopback port nobody listens on: the real client's own "did not answer").
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Fixture {
    pub patient: String,
    pub booked: bool,
    pub no_meds: bool,
    pub slot_taken: bool,
    pub ehr_down: bool,
}

impl Fixture {
    pub fn parse(s: &str) -> workflows::Result<Self> {
        let mut parts = s.split('+');
        let name = parts.next().unwrap_or_default();
        let patient = if name == "default" { "john" } else { name };
        if !["john", "maria", "aisha", "wei"].contains(&patient) {
            return Err(workflows::Error::Invalid(format!("unknown fixture '{name}' (john, maria, aisha, wei)")));
        }
        let mut f = Fixture { patient: patient.to_owned(), ..Fixture::default() };
        for option in parts {
            match option {
                "appointment" => f.booked = true,
                "no_meds" => f.no_meds = true,
                "slot_taken" => f.slot_taken = true,
                "ehr_down" => f.ehr_down = true,
                other => return Err(workflows::Error::Invalid(format!("unknown fixture option '{other}'"))),
            }
        }
        Ok(f)
    }
}

/// The seeded patient whose first name (accents folded) is `first_name`.
pub fn patient_of(demo: &DemoData, first_name: &str) -> workflows::Result<PatientId> {
    demo.patients
        .iter()
        .find(|p| p.display_name.split_whitespace().next().is_some_and(|n| n.to_lowercase().replace('í', "i") == first_name))
        .map(|p| p.id.clone())
        .ok_or_else(|| workflows::Error::Invalid(format!("seed has no patient '{first_name}'")))
}

/// Books the first free slot from the day after `now` for `patient` (the appointment a cancel
/// or reschedule case works on; the EHR lists only appointments still ahead).
pub async fn book_first(client: &FhirClient, patient: &PatientId, now: DateTime<Utc>) -> workflows::Result<()> {
    let q = SlotQuery { from: Some(now + chrono::Duration::days(1)), limit: 1, ..SlotQuery::default() };
    let slot = client.free_slots(&q).await?.into_iter().next().ok_or_else(|| workflows::Error::State("seed has no free slot".into()))?;
    let key = IdempotencyKey(format!("convtest-{}", slot.id));
    client.book(patient, &slot.id, &key).await?;
    Ok(())
}

/// Stops every active prescription of `patient` in the server at `base_url` (plain FHIR: search,
/// then update each MedicationRequest with `status = stopped`).
pub async fn stop_active_medications(base_url: &str, patient: &PatientId) -> workflows::Result<()> {
    let fail = |e: &dyn std::fmt::Display| workflows::Error::State(format!("stopping prescriptions: {e}"));
    let http = reqwest::Client::new();
    let base = base_url.trim_end_matches('/');
    let url = format!("{base}/MedicationRequest?patient=Patient/{}&status=active&_count=100", patient.as_str());
    let bundle: serde_json::Value = http.get(url).send().await.map_err(|e| fail(&e))?.json().await.map_err(|e| fail(&e))?;
    let entries = bundle["entry"].as_array().cloned().unwrap_or_default();
    for entry in entries {
        let mut resource = entry["resource"].clone();
        let Some(id) = resource["id"].as_str().map(str::to_owned) else { continue };
        resource["status"] = "stopped".into();
        let status = http
            .put(format!("{base}/MedicationRequest/{id}"))
            .header("content-type", "application/fhir+json")
            .json(&resource)
            .send()
            .await
            .map_err(|e| fail(&e))?
            .status();
        if !status.is_success() {
            return Err(fail(&format!("MedicationRequest/{id}: HTTP {status}")));
        }
    }
    Ok(())
}

/// A client like `client` whose requests reach nobody: a loopback port that was free a
/// moment ago (bound, then released), tried once.
pub fn unreachable_client(config: &fhir_client::FhirConfig) -> workflows::Result<FhirClient> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| workflows::Error::State(format!("no free port: {e}")))?
        .port();
    let config = fhir_client::FhirConfig {
        base_url: format!("http://127.0.0.1:{port}/fhir"),
        max_attempts: 1,
        allow_plain_http: true,
        ..config.clone()
    };
    Ok(FhirClient::new(&config)?)
}

/// The encounter id the case runner passes with a discharge event; it stands for "this
/// patient's discharge", which only the seeded server knows.
const PLACEHOLDER_ENCOUNTER: &str = "enc-test";

/// The real client, with the runner's placeholder encounter replaced by the fixture patient's
/// seeded discharge (kept as is when the patient has none, so the write fails as it would for
/// an unknown encounter). Everything else goes straight to the server.
pub struct CaseEhr {
    inner: FhirClient,
    discharge: Option<EncounterId>,
    /// `slot_taken`: this patient books the slot first, once.
    rival: Option<PatientId>,
    race_pending: AtomicBool,
    /// `ehr_down`: the client every write goes to instead (it reaches nobody).
    down: Option<FhirClient>,
}

impl CaseEhr {
    pub fn new(inner: FhirClient, discharge: Option<EncounterId>, rival: Option<PatientId>) -> Self {
        let race_pending = AtomicBool::new(rival.is_some());
        Self { inner, discharge, rival, race_pending, down: None }
    }

    /// For `ehr_down`: writes go to `down` (see [`unreachable_client`]); reads still work.
    pub fn with_writes_to(mut self, down: FhirClient) -> Self {
        self.down = Some(down);
        self
    }

    fn writer(&self) -> &FhirClient {
        self.down.as_ref().unwrap_or(&self.inner)
    }

    /// For `slot_taken`: the rival takes `slot` just before the patient's first attempt.
    async fn race(&self, slot: &SlotId) -> FhirResult<()> {
        if let Some(rival) = &self.rival {
            if self.race_pending.swap(false, Ordering::AcqRel) {
                let key = IdempotencyKey(format!("convtest-rival-{}", slot.as_str()));
                self.inner.book(rival, slot, &key).await?;
            }
        }
        Ok(())
    }
}

type FhirResult<T> = fhir_client::Result<T>;

#[async_trait]
impl Ehr for CaseEhr {
    async fn ping(&self) -> FhirResult<()> {
        self.inner.ping().await
    }
    async fn patient_name(&self, p: &PatientId) -> FhirResult<Option<String>> {
        self.inner.patient_name(p).await
    }
    async fn free_slots(&self, q: &SlotQuery) -> FhirResult<Vec<FreeSlot>> {
        self.inner.free_slots(q).await
    }
    async fn book(&self, p: &PatientId, s: &SlotId, k: &IdempotencyKey) -> FhirResult<Appointment> {
        self.race(s).await?;
        self.writer().book(p, s, k).await
    }
    async fn upcoming_appointments(&self, p: &PatientId, from: DateTime<Utc>) -> FhirResult<Vec<Appointment>> {
        self.inner.upcoming_appointments(p, from).await
    }
    async fn reschedule(&self, p: &PatientId, a: &AppointmentId, s: &SlotId, k: &IdempotencyKey) -> FhirResult<Appointment> {
        self.race(s).await?;
        self.writer().reschedule(p, a, s, k).await
    }
    async fn cancel(&self, p: &PatientId, a: &AppointmentId) -> FhirResult<()> {
        self.writer().cancel(p, a).await
    }
    async fn active_medications(&self, p: &PatientId) -> FhirResult<Vec<ActiveMedication>> {
        self.inner.active_medications(p).await
    }
    async fn request_refill(&self, p: &PatientId, m: &MedicationRequestId, note: &str, k: &IdempotencyKey) -> FhirResult<RefillTask> {
        self.writer().request_refill(p, m, note, k).await
    }
    async fn refill_task(&self, p: &PatientId, t: &TaskId) -> FhirResult<RefillTask> {
        self.inner.refill_task(p, t).await
    }
    async fn recent_discharges(&self, p: &PatientId, since: DateTime<Utc>) -> FhirResult<Vec<Discharge>> {
        self.inner.recent_discharges(p, since).await
    }
    async fn submit_questionnaire_response(
        &self,
        p: &PatientId,
        q: &str,
        e: Option<&EncounterId>,
        answers: &[Answer],
        k: &IdempotencyKey,
    ) -> FhirResult<ResourceRef> {
        let e = match (e, &self.discharge) {
            (Some(given), Some(seeded)) if given.as_str() == PLACEHOLDER_ENCOUNTER => Some(seeded),
            (given, _) => given,
        };
        self.writer().submit_questionnaire_response(p, q, e, answers, k).await
    }
}


#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixtures_name_a_demo_patient_and_options() {
        let f = Fixture::parse("maria+appointment").unwrap();
        assert_eq!((f.patient.as_str(), f.booked, f.slot_taken), ("maria", true, false));
        let f = Fixture::parse("default").unwrap();
        assert_eq!((f.patient.as_str(), f.booked), ("john", false));
        let f = Fixture::parse("wei+no_meds").unwrap();
        assert!(f.no_meds && !f.booked);
        let f = Fixture::parse("aisha+appointment+slot_taken").unwrap();
        assert!(f.booked && f.slot_taken);
        assert!(Fixture::parse("maria+ehr_down").unwrap().ehr_down);
        assert!(Fixture::parse("bob").is_err());
        assert!(Fixture::parse("wei+discharge").is_err());
    }
}
