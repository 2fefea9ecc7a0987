//! Medication list and refill requests. A refill is a Task owned by the prescriber (focus =
//! the MedicationRequest) plus a Communication telling the patient it was sent, created in
//! one transaction with conditional creates on the idempotency key.

use std::collections::HashMap;

use super::scheduling::{create_entry, from_response, transaction};
use super::*;
use crate::model::{
    Annotation, CodeableConcept, Communication, CommunicationPayload, Medication, MedicationDispense,
    MedicationRequest, Practitioner, Reference, Task,
};

/// Coding system the seed (and a site's EHR interface) uses to mark controlled substances
/// in `MedicationRequest.category` / `Medication.code`; codes are DEA-style schedules.
pub const CONTROLLED_SYSTEM: &str = "urn:agent:controlled-substance";

/// Ingredients that are controlled in most jurisdictions: a name match routes the refill to
/// clinician review even when the EHR does not flag it (false positives only cost a review).
const CONTROLLED_NAMES: &[&str] = &[
    "oxycodone", "hydrocodone", "morphine", "fentanyl", "hydromorphone", "methadone", "codeine",
    "tramadol", "buprenorphine", "tapentadol", "oxymorphone", "alprazolam", "lorazepam", "diazepam",
    "clonazepam", "zolpidem", "methylphenidate", "amphetamine", "lisdexamfetamine", "pregabalin",
];

/// The message the patient gets (as a Communication) when a refill was routed.
pub const REFILL_ACK_TEXT: &str = "Your refill request has been sent to your prescriber for review.";

fn is_controlled(mr: &MedicationRequest, med: Option<&Medication>, name: &str) -> bool {
    let flagged = |cc: &CodeableConcept| cc.coding.iter().any(|c| c.system.as_deref() == Some(CONTROLLED_SYSTEM));
    let lower = name.to_lowercase();
    mr.category.iter().any(flagged)
        || med.and_then(|m| m.code.as_ref()).is_some_and(flagged)
        || CONTROLLED_NAMES.iter().any(|n| lower.contains(n))
}

/// Completed dispenses per prescription id: (count, latest hand-over date).
async fn dispenses(c: &FhirClient, patient: &PatientId) -> Result<HashMap<String, (u32, Option<NaiveDate>)>> {
    let mut out: HashMap<String, (u32, Option<NaiveDate>)> = HashMap::new();
    let all = c.search::<MedicationDispense>(&[("patient", patient_ref(patient))]).await?;
    for d in all.iter().filter(|d| d.status.as_deref() == Some("completed")) {
        for mr in d.authorizing_prescription.iter().filter_map(|r| r.id_of("MedicationRequest")) {
            let e = out.entry(mr.to_string()).or_default();
            e.0 += 1;
            e.1 = e.1.max(parse_date(d.when_handed_over.as_deref()));
        }
    }
    Ok(out)
}

pub(super) async fn active(c: &FhirClient, patient: &PatientId) -> Result<Vec<ActiveMedication>> {
    let params = [
        ("patient", patient_ref(patient)),
        ("status", "active".to_string()),
        ("_include", "MedicationRequest:requester".to_string()),
        ("_include", "MedicationRequest:medication".to_string()),
    ];
    let pages = c.search_all::<MedicationRequest>(&params).await?;
    let pracs: HashMap<String, Practitioner> = crate::client::collect::<Practitioner>(&pages)?
        .into_iter()
        .filter_map(|p| Some((p.id.clone()?, p)))
        .collect();
    let meds: HashMap<String, Medication> =
        crate::client::collect::<Medication>(&pages)?.into_iter().filter_map(|m| Some((m.id.clone()?, m))).collect();
    let fills = dispenses(c, patient).await?;
    let mut out = Vec::new();
    for mr in crate::client::collect::<MedicationRequest>(&pages)? {
        if mr.subject.as_ref().and_then(|s| s.id_of("Patient")) != Some(patient.as_str()) {
            continue;
        }
        let med = mr.medication_reference.as_ref().and_then(|r| r.id_of("Medication")).and_then(|id| meds.get(id));
        out.push(to_active(&mr, med, &pracs, &fills)?);
    }
    Ok(out)
}

fn to_active(
    mr: &MedicationRequest,
    med: Option<&Medication>,
    pracs: &HashMap<String, Practitioner>,
    fills: &HashMap<String, (u32, Option<NaiveDate>)>,
) -> Result<ActiveMedication> {
    let name = mr
        .medication_codeable_concept
        .as_ref()
        .and_then(CodeableConcept::display)
        .or_else(|| med.and_then(|m| m.code.as_ref()).and_then(CodeableConcept::display))
        .or_else(|| mr.medication_reference.as_ref().and_then(|r| r.display.as_deref()))
        .unwrap_or("Unnamed medication")
        .to_string();
    let requester = mr.requester.as_ref();
    let prescriber_id = requester.and_then(|r| r.id_of("Practitioner"));
    let prescriber_name = prescriber_id
        .and_then(|id| pracs.get(id))
        .and_then(|p| preferred_name(&p.name))
        .or_else(|| requester.and_then(|r| r.display.clone()));
    let id = id_from(mr, MedicationRequestId::parse)?;
    let (filled, last) = fills.get(id.as_str()).copied().unwrap_or((0, None));
    let dr = mr.dispense_request.as_ref();
    let allowed = dr.and_then(|d| d.number_of_repeats_allowed.as_ref()).and_then(|n| n.as_u64());
    // The first dispense is the original fill; later ones use up repeats.
    let refills_remaining =
        allowed.map(|a| u32::try_from(a.saturating_sub(u64::from(filled.saturating_sub(1)))).unwrap_or(u32::MAX));
    Ok(ActiveMedication {
        request: id,
        controlled: is_controlled(mr, med, &name),
        name,
        prescriber: prescriber_id.and_then(|id| PractitionerId::parse(id).ok()),
        prescriber_name,
        refills_remaining,
        last_fill: last.or_else(|| parse_date(mr.authored_on.as_deref())),
        supply_days: dr.and_then(|d| d.expected_supply_duration.as_ref()).and_then(|q| q.as_days()),
    })
}

fn to_refill(t: &Task) -> Result<RefillTask> {
    let focus = t.focus.as_ref().and_then(|r| r.id_of("MedicationRequest"));
    let medication = focus
        .and_then(|id| MedicationRequestId::parse(id).ok())
        .ok_or_else(|| Error::Protocol("refill Task without a MedicationRequest focus".into()))?;
    Ok(RefillTask {
        id: id_from(t, TaskId::parse)?,
        status: t.status.clone().unwrap_or_else(|| "unknown".into()),
        owner: t.owner.as_ref().and_then(|r| r.id_of("Practitioner")).and_then(|id| PractitionerId::parse(id).ok()),
        medication,
    })
}

fn owned_by(t: &Task, patient: &PatientId) -> bool {
    t.r#for.as_ref().and_then(|r| r.id_of("Patient")) == Some(patient.as_str())
}

fn refill_resources(patient: &PatientId, mr: &MedicationRequest, note: &str, key: &IdempotencyKey) -> (Task, Communication) {
    let me = Reference::to("Patient", patient.as_str());
    let task = Task {
        identifier: vec![idempotency_identifier(key)],
        status: Some("requested".into()),
        intent: Some("order".into()),
        priority: Some("routine".into()),
        code: Some(CodeableConcept::coded("http://hl7.org/fhir/CodeSystem/task-code", "fulfill", "Medication refill request")),
        description: Some("Medication refill request".into()),
        focus: mr.id.as_deref().map(|id| Reference::to("MedicationRequest", id)),
        r#for: Some(me.clone()),
        authored_on: Some(now_instant()),
        last_modified: Some(now_instant()),
        requester: Some(me.clone()),
        owner: mr.requester.clone(),
        note: (!note.trim().is_empty())
            .then(|| Annotation { text: Some(note.to_string()), ..Default::default() })
            .into_iter()
            .collect(),
        ..Default::default()
    };
    let comm = Communication {
        identifier: vec![idempotency_identifier(key)],
        status: Some("completed".into()),
        subject: Some(me.clone()),
        recipient: vec![me],
        sent: Some(now_instant()),
        payload: vec![CommunicationPayload { content_string: Some(REFILL_ACK_TEXT.into()), ..Default::default() }],
        ..Default::default()
    };
    (task, comm)
}

pub(super) async fn request_refill(
    c: &FhirClient,
    patient: &PatientId,
    medication: &MedicationRequestId,
    note: &str,
    key: &IdempotencyKey,
) -> Result<RefillTask> {
    if let Some(t) = c.find_by_key::<Task>(key).await? {
        return if owned_by(&t, patient) { to_refill(&t) } else { Err(key_reused()) };
    }
    let mr: MedicationRequest = c.read(medication.as_str()).await?;
    if mr.subject.as_ref().and_then(|s| s.id_of("Patient")) != Some(patient.as_str()) {
        return Err(Error::NotFound("MedicationRequest".into()));
    }
    let (task, mut comm) = refill_resources(patient, &mr, note, key);
    let task_url = format!("urn:uuid:{}", uuid::Uuid::new_v4());
    comm.about = vec![Reference { reference: Some(task_url.clone()), ..Default::default() }];
    let comm_url = format!("urn:uuid:{}", uuid::Uuid::new_v4());
    let tx = transaction(vec![
        create_entry(&task, key_criteria(key), &task_url)?,
        create_entry(&comm, key_criteria(key), &comm_url)?,
    ]);
    let resp = c.transaction(&tx, true).await?;
    to_refill(&from_response::<Task>(&resp)?)
}

pub(super) async fn refill_task(c: &FhirClient, patient: &PatientId, task: &TaskId) -> Result<RefillTask> {
    let t: Task = c.read(task.as_str()).await?;
    if !owned_by(&t, patient) {
        return Err(Error::NotFound("Task".into()));
    }
    to_refill(&t)
}
