//! Slots and appointments. Booking is one transaction: a conditional create of the
//! Appointment plus the Slot set busy under `If-Match`, so of two patients racing for a slot
//! exactly one commits and the loser's transaction rolls back whole (no stray Appointment).

use std::collections::HashMap;

use chrono::{DateTime, DurationRound, Utc};

use super::*;
use crate::http::is_conflict;
use crate::model::{
    Appointment as FhirAppointment, AppointmentParticipant, Bundle, BundleEntry, BundleRequest, Practitioner,
    Reference, Schedule, Slot,
};

/// Schedules per Slot search (keeps the query string short).
const SCHEDULES_PER_QUERY: usize = 40;
const DEFAULT_LIMIT: usize = 20;
/// Attempts of a cancel / reschedule that lost a race on an unrelated version bump.
const CONFLICT_ROUNDS: usize = 3;
const ACTIVE_STATUSES: &[&str] = &["proposed", "pending", "booked", "arrived", "checked-in", "waitlist"];

/// A schedule with who it belongs to.
struct ScheduleInfo {
    id: String,
    practitioner: Option<PractitionerId>,
    practitioner_name: Option<String>,
    specialty: Option<String>,
}

async fn schedules(c: &FhirClient, q: &SlotQuery) -> Result<Vec<ScheduleInfo>> {
    let mut params = vec![("_include", "Schedule:actor".to_string()), ("_count", "100".to_string())];
    if let Some(p) = &q.practitioner {
        params.push(("actor", format!("Practitioner/{p}")));
    }
    let pages = c.search_all::<Schedule>(&params).await?;
    let names = practitioner_names(&crate::client::collect::<Practitioner>(&pages)?);
    let mut out = Vec::new();
    for s in crate::client::collect::<Schedule>(&pages)? {
        let wanted = |needle: &Option<String>, ccs: &[crate::model::CodeableConcept]| {
            needle.as_deref().is_none_or(|n| ccs.iter().any(|cc| cc.matches(n)))
        };
        if s.active == Some(false) || !wanted(&q.specialty, &s.specialty) || !wanted(&q.service_type, &s.service_type) {
            continue;
        }
        let actor = s.actor.iter().find_map(|a| a.id_of("Practitioner").map(|id| (id, a)));
        let practitioner = actor.and_then(|(id, _)| PractitionerId::parse(id).ok());
        let practitioner_name = actor.and_then(|(id, a)| names.get(id).cloned().or_else(|| a.display.clone()));
        let Some(id) = s.id.clone() else { continue };
        let specialty = s.specialty.first().and_then(|cc| cc.display()).map(str::to_string);
        out.push(ScheduleInfo { id, practitioner, practitioner_name, specialty });
    }
    Ok(out)
}

fn practitioner_names(ps: &[Practitioner]) -> HashMap<String, String> {
    ps.iter().filter_map(|p| Some((p.id.clone()?, preferred_name(&p.name)?))).collect()
}

pub(super) async fn free_slots(c: &FhirClient, q: &SlotQuery) -> Result<Vec<FreeSlot>> {
    let limit = if q.limit == 0 { DEFAULT_LIMIT } else { q.limit };
    let from = q.from.unwrap_or_else(Utc::now);
    // Asked from the start of the minute, so that patients searching within the same minute
    // send the same URL and can share one request (see `flights`); the slots that start
    // before `from` are dropped below.
    let asked_from = from.duration_trunc(chrono::TimeDelta::minutes(1)).unwrap_or(from);
    let scheds = schedules(c, q).await?;
    let by_id: HashMap<&str, &ScheduleInfo> = scheds.iter().map(|s| (s.id.as_str(), s)).collect();
    let mut out = Vec::new();
    for chunk in scheds.chunks(SCHEDULES_PER_QUERY) {
        let refs: Vec<String> = chunk.iter().map(|s| format!("Schedule/{}", s.id)).collect();
        let mut params = vec![
            ("schedule", refs.join(",")),
            ("status", "free".to_string()),
            ("start", format!("ge{}", asked_from.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))),
            ("_sort", "start".to_string()),
            ("_count", limit.to_string()),
        ];
        if let Some(to) = q.to {
            params.push(("start", format!("le{}", to.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))));
        }
        // One page per chunk is enough: it is sorted and holds `limit` slots.
        let page = c.search_page::<Slot>(&params).await?;
        for slot in crate::client::collect::<Slot>(&[page])? {
            if let Some(free) = to_free_slot(&slot, &by_id)? {
                if free.start >= from && q.to.is_none_or(|to| free.start <= to) {
                    out.push(free);
                }
            }
        }
    }
    out.sort_by_key(|s| s.start);
    out.truncate(limit);
    Ok(out)
}

fn to_free_slot(slot: &Slot, scheds: &HashMap<&str, &ScheduleInfo>) -> Result<Option<FreeSlot>> {
    if slot.status.as_deref() != Some("free") {
        return Ok(None);
    }
    let sched = slot.schedule.as_ref().and_then(|r| r.id_of("Schedule")).and_then(|id| scheds.get(id));
    let Some(sched) = sched else { return Ok(None) };
    let specialty = slot.specialty.first().and_then(|cc| cc.display()).map(str::to_string);
    Ok(Some(FreeSlot {
        id: id_from(slot, SlotId::parse)?,
        start: parse_instant(slot.start.as_deref(), "Slot.start")?,
        end: parse_instant(slot.end.as_deref(), "Slot.end")?,
        practitioner: sched.practitioner.clone(),
        practitioner_name: sched.practitioner_name.clone(),
        specialty: specialty.or_else(|| sched.specialty.clone()),
    }))
}

/// Reads a slot and checks it is free, returning it with its version.
async fn free_slot(c: &FhirClient, slot: &SlotId) -> Result<(Slot, String)> {
    let s: Slot = c.read(slot.as_str()).await?;
    if s.status.as_deref() != Some("free") {
        return Err(Error::SlotTaken);
    }
    let version = s.version_id().ok_or_else(|| Error::Protocol("Slot without meta.versionId".into()))?.to_string();
    Ok((s, version))
}

/// The practitioner behind a slot's schedule (id and display), if any.
async fn slot_practitioner(c: &FhirClient, slot: &Slot) -> Result<Option<Reference>> {
    let Some(sched_id) = slot.schedule.as_ref().and_then(|r| r.id_of("Schedule")) else { return Ok(None) };
    let sched: Schedule = c.read(sched_id).await?;
    let Some(actor) = sched.actor.iter().find(|a| a.id_of("Practitioner").is_some()) else { return Ok(None) };
    let id = actor.id_of("Practitioner").unwrap_or_default();
    let name = match c.read::<Practitioner>(id).await {
        Ok(p) => preferred_name(&p.name),
        Err(Error::NotFound(_)) => None,
        Err(e) => return Err(e),
    };
    Ok(Some(Reference::to("Practitioner", id).with_display(name.or_else(|| actor.display.clone()))))
}

fn new_appointment(patient: &PatientId, slot: &Slot, prac: Option<Reference>, key: &IdempotencyKey) -> FhirAppointment {
    let participant = |actor: Reference| AppointmentParticipant {
        actor: Some(actor),
        required: Some("required".into()),
        status: Some("accepted".into()),
        ..Default::default()
    };
    let mut participants = vec![participant(Reference::to("Patient", patient.as_str()))];
    participants.extend(prac.map(participant));
    FhirAppointment {
        identifier: vec![idempotency_identifier(key)],
        status: Some("booked".into()),
        service_type: slot.service_type.clone(),
        specialty: slot.specialty.clone(),
        start: slot.start.clone(),
        end: slot.end.clone(),
        slot: slot.id.as_deref().map(|id| Reference::to("Slot", id)).into_iter().collect(),
        created: Some(now_instant()),
        participant: participants,
        ..Default::default()
    }
}

fn entry(resource: serde_json::Value, method: &str, url: String) -> BundleEntry {
    BundleEntry {
        resource: Some(resource),
        request: Some(BundleRequest { method: Some(method.into()), url: Some(url), ..Default::default() }),
        ..Default::default()
    }
}

pub(super) fn create_entry<R: Resource>(r: &R, criteria: String, full_url: &str) -> Result<BundleEntry> {
    let mut e = entry(to_json(r)?, "POST", R::TYPE.into());
    e.full_url = Some(full_url.into());
    if let Some(req) = e.request.as_mut() {
        req.if_none_exist = Some(criteria);
    }
    Ok(e)
}

pub(super) fn update_entry<R: Resource>(r: &R, version: &str) -> Result<BundleEntry> {
    let id = r.id().ok_or_else(|| Error::Protocol(format!("{} without id", R::TYPE)))?;
    let mut e = entry(to_json(r)?, "PUT", format!("{}/{id}", R::TYPE));
    if let Some(req) = e.request.as_mut() {
        req.if_match = Some(format!("W/\"{version}\""));
    }
    Ok(e)
}

pub(super) fn to_json<R: Resource>(r: &R) -> Result<serde_json::Value> {
    serde_json::to_value(r).map_err(|e| crate::client::parse_error(R::TYPE, &e))
}

pub(super) fn transaction(entries: Vec<BundleEntry>) -> Bundle {
    Bundle { r#type: Some("transaction".into()), entry: entries, ..Default::default() }
}

/// The first resource of type `R` in a transaction response.
pub(super) fn from_response<R: Resource>(b: &Bundle) -> Result<R> {
    crate::client::collect::<R>(std::slice::from_ref(b))?
        .into_iter()
        .next()
        .ok_or_else(|| Error::Protocol(format!("transaction response without {}", R::TYPE)))
}

/// What an earlier attempt with the same key left behind.
enum Prior {
    None,
    /// It committed (its answer was lost): the booking stands.
    Booked(Appointment),
    /// It lost the slot: on a server that does not roll transactions back its Appointment
    /// may survive; such a stray is cancelled here.
    Lost,
}

/// Looks for the Appointment carrying `key`. One whose slot also has another active
/// Appointment lost the race (a transaction the server did not roll back): it is cancelled.
async fn prior_booking(c: &FhirClient, patient: &PatientId, key: &IdempotencyKey) -> Result<Prior> {
    let Some(a) = c.find_by_key::<FhirAppointment>(key).await? else { return Ok(Prior::None) };
    if !a.has_patient(patient.as_str()) {
        return Err(key_reused());
    }
    if !is_active(&a) {
        return Ok(Prior::Lost);
    }
    if let Some(slot) = a.slot.iter().find_map(|r| r.id_of("Slot")) {
        let on_slot: Vec<FhirAppointment> = c.search(&[("slot", format!("Slot/{slot}"))]).await?;
        if on_slot.iter().any(|o| o.id != a.id && is_active(o)) {
            let v = a.version_id().ok_or_else(|| Error::Protocol("Appointment without meta.versionId".into()))?;
            let v = v.to_string();
            c.update(&cancelled(a, "Slot taken by a concurrent booking"), Some(&v)).await?;
            return Ok(Prior::Lost);
        }
    }
    Ok(Prior::Booked(to_appointment(&a, &HashMap::new())?))
}

fn is_active(a: &FhirAppointment) -> bool {
    a.status.as_deref().is_some_and(|s| ACTIVE_STATUSES.contains(&s))
}

pub(super) async fn book(c: &FhirClient, patient: &PatientId, slot: &SlotId, key: &IdempotencyKey) -> Result<Appointment> {
    match prior_booking(c, patient, key).await? {
        Prior::Booked(a) => return Ok(a),
        Prior::Lost => return Err(Error::SlotTaken),
        Prior::None => {}
    }
    let (mut s, version) = free_slot(c, slot).await?;
    let prac = slot_practitioner(c, &s).await?;
    let appt = new_appointment(patient, &s, prac, key);
    s.status = Some("busy".into());
    let full_url = format!("urn:uuid:{}", uuid::Uuid::new_v4());
    let tx = transaction(vec![create_entry(&appt, key_criteria(key), &full_url)?, update_entry(&s, &version)?]);
    match c.transaction(&tx, true).await {
        Ok(resp) => to_appointment(&from_response::<FhirAppointment>(&resp)?, &HashMap::new()),
        Err(e) if is_conflict(&e) => match prior_booking(c, patient, key).await? {
            Prior::Booked(a) => Ok(a),
            Prior::None | Prior::Lost => Err(Error::SlotTaken),
        },
        Err(e) => Err(e),
    }
}

pub(super) fn to_appointment(a: &FhirAppointment, names: &HashMap<String, String>) -> Result<Appointment> {
    let prac = a.participant.iter().filter_map(|p| p.actor.as_ref()).find(|r| r.id_of("Practitioner").is_some());
    let prac_id = prac.and_then(|r| r.id_of("Practitioner"));
    Ok(Appointment {
        id: id_from(a, AppointmentId::parse)?,
        slot: a.slot.iter().find_map(|r| r.id_of("Slot")).and_then(|id| SlotId::parse(id).ok()),
        start: parse_instant(a.start.as_deref(), "Appointment.start")?,
        end: parse_instant(a.end.as_deref(), "Appointment.end")?,
        practitioner: prac_id.and_then(|id| PractitionerId::parse(id).ok()),
        practitioner_name: prac_id.and_then(|id| names.get(id).cloned()).or_else(|| prac.and_then(|r| r.display.clone())),
        status: a.status.clone().unwrap_or_else(|| "unknown".into()),
    })
}

pub(super) async fn upcoming(c: &FhirClient, patient: &PatientId, from: DateTime<Utc>) -> Result<Vec<Appointment>> {
    let params = [
        ("patient", patient_ref(patient)),
        ("date", format!("ge{}", from.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))),
        ("_sort", "date".to_string()),
        ("_include", "Appointment:practitioner".to_string()),
    ];
    let pages = c.search_all::<FhirAppointment>(&params).await?;
    let names = practitioner_names(&crate::client::collect::<Practitioner>(&pages)?);
    let mut out = Vec::new();
    for a in crate::client::collect::<FhirAppointment>(&pages)? {
        if is_active(&a) && a.has_patient(patient.as_str()) {
            out.push(to_appointment(&a, &names)?);
        }
    }
    out.sort_by_key(|a| a.start);
    Ok(out)
}

/// The patient's appointment (NotFound when it is someone else's) with its version.
async fn own_appointment(c: &FhirClient, patient: &PatientId, id: &AppointmentId) -> Result<(FhirAppointment, String)> {
    let a: FhirAppointment = c.read(id.as_str()).await?;
    if !a.has_patient(patient.as_str()) {
        return Err(Error::NotFound("Appointment".into()));
    }
    let v = a.version_id().ok_or_else(|| Error::Protocol("Appointment without meta.versionId".into()))?.to_string();
    Ok((a, v))
}

/// Transaction entries that set the appointment's busy slot free again, if it has one.
async fn free_old_slot(c: &FhirClient, a: &FhirAppointment) -> Result<Option<BundleEntry>> {
    let Some(id) = a.slot.iter().find_map(|r| r.id_of("Slot")) else { return Ok(None) };
    let mut s: Slot = match c.read(id).await {
        Ok(s) => s,
        Err(Error::NotFound(_)) => return Ok(None),
        Err(e) => return Err(e),
    };
    if s.status.as_deref() != Some("busy") {
        return Ok(None);
    }
    let v = s.version_id().ok_or_else(|| Error::Protocol("Slot without meta.versionId".into()))?.to_string();
    s.status = Some("free".into());
    update_entry(&s, &v).map(Some)
}

fn cancelled(mut a: FhirAppointment, why: &str) -> FhirAppointment {
    a.status = Some("cancelled".into());
    a.cancelation_reason = Some(crate::model::CodeableConcept { text: Some(why.into()), ..Default::default() });
    a
}

pub(super) async fn cancel(c: &FhirClient, patient: &PatientId, id: &AppointmentId) -> Result<()> {
    for _ in 0..CONFLICT_ROUNDS {
        let (a, v) = own_appointment(c, patient, id).await?;
        if a.status.as_deref() == Some("cancelled") {
            return Ok(());
        }
        let mut entries: Vec<BundleEntry> = free_old_slot(c, &a).await?.into_iter().collect();
        entries.push(update_entry(&cancelled(a, "Cancelled by patient"), &v)?);
        match c.transaction(&transaction(entries), true).await {
            Ok(_) => return Ok(()),
            Err(e) if is_conflict(&e) => continue,
            Err(e) => Err(e)?,
        }
    }
    Err(Error::Unavailable("appointment kept changing while cancelling".into()))
}

pub(super) async fn reschedule(
    c: &FhirClient,
    patient: &PatientId,
    id: &AppointmentId,
    slot: &SlotId,
    key: &IdempotencyKey,
) -> Result<Appointment> {
    for _ in 0..CONFLICT_ROUNDS {
        match prior_booking(c, patient, key).await? {
            // Committed earlier: make sure the old one is gone too (a server without
            // rollback may have applied only part of the transaction).
            Prior::Booked(a) => return cancel(c, patient, id).await.map(|()| a),
            Prior::Lost => return Err(Error::SlotTaken),
            Prior::None => {}
        }
        let (old, old_v) = own_appointment(c, patient, id).await?;
        if !is_active(&old) {
            return Err(Error::Invalid { what: "appointment", why: "not active".into() });
        }
        let (mut s, slot_v) = free_slot(c, slot).await?;
        let prac = slot_practitioner(c, &s).await?;
        let new = new_appointment(patient, &s, prac, key);
        s.status = Some("busy".into());
        let full_url = format!("urn:uuid:{}", uuid::Uuid::new_v4());
        let mut entries = vec![create_entry(&new, key_criteria(key), &full_url)?, update_entry(&s, &slot_v)?];
        entries.extend(free_old_slot(c, &old).await?);
        entries.push(update_entry(&cancelled(old, "Rescheduled by patient"), &old_v)?);
        match c.transaction(&transaction(entries), true).await {
            Ok(resp) => return to_appointment(&from_response::<FhirAppointment>(&resp)?, &HashMap::new()),
            Err(e) if is_conflict(&e) => continue,
            Err(e) => return Err(e),
        }
    }
    match prior_booking(c, patient, key).await? {
        Prior::Booked(a) => cancel(c, patient, id).await.map(|()| a),
        Prior::None | Prior::Lost => Err(Error::SlotTaken),
    }
}
