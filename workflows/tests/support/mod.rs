//! Test doubles for the two ports: an in-memory EHR with named fixtures and a deterministic
//! bag-of-words `Understand`. Used by this crate's tests only; end-to-end tests use the real ones.
#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use fhir_client::*;
use workflows::text::words;
use workflows::Understand;

pub fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 26, 9, 0, 0).unwrap() // a Thursday
}

fn at(d: u32, m: u32, h: u32, min: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, m, d, h, min, 0).unwrap()
}

#[derive(Default)]
pub struct Data {
    pub name: Option<String>,
    pub slots: Vec<FreeSlot>,
    pub appointments: Vec<Appointment>,
    pub meds: Vec<ActiveMedication>,
    pub tasks: Vec<RefillTask>,
    pub responses: Vec<(String, Vec<Answer>)>,
    /// idempotency key → resource created under it
    pub keys: HashMap<String, String>,
    /// The next `book` / `reschedule` fails with SlotTaken (someone else was faster).
    pub race_next_book: bool,
    /// Every write fails as if the EHR did not answer (fixture `ehr_down`).
    pub writes_down: bool,
    /// The EHR refuses questionnaire writes (fixture `qr_rejected`).
    pub questionnaire_rejected: bool,
    pub writes: usize,
}

impl Data {
    fn down(&self) -> Result<()> {
        if self.writes_down {
            return Err(Error::Unavailable("down".into()));
        }
        Ok(())
    }
}

pub struct FakeEhr {
    pub patient: PatientId,
    pub data: Mutex<Data>,
}

fn slot(id: &str, start: DateTime<Utc>, who: &str, name: &str, specialty: &str) -> FreeSlot {
    FreeSlot {
        id: SlotId::parse(id).unwrap(),
        start,
        end: start + Duration::minutes(30),
        practitioner: Some(PractitionerId::parse(who).unwrap()),
        practitioner_name: Some(name.into()),
        specialty: Some(specialty.into()),
    }
}

fn med(id: &str, name: &str, refills: Option<u32>, last: Option<(u32, u32)>, supply: Option<u32>, controlled: bool) -> ActiveMedication {
    ActiveMedication {
        request: MedicationRequestId::parse(id).unwrap(),
        name: name.into(),
        prescriber: Some(PractitionerId::parse("p-smith").unwrap()),
        prescriber_name: Some("Dr. Ana Smith".into()),
        refills_remaining: refills,
        last_fill: last.map(|(m, d)| NaiveDate::from_ymd_opt(2026, m, d).unwrap()),
        supply_days: supply,
        controlled,
    }
}

impl FakeEhr {
    /// Named fixtures: default, no_slots, no_meds, no_appointments, slot_race, ehr_down, qr_rejected.
    pub fn fixture(name: &str) -> Arc<FakeEhr> {
        let mut d = Data { name: Some("Ana".into()), ..Default::default() };
        if name != "no_slots" {
            d.slots = vec![
                slot("s1", at(1, 12, 9, 0), "p-smith", "Dr. Ana Smith", "family medicine"),
                slot("s2", at(1, 12, 10, 30), "p-smith", "Dr. Ana Smith", "family medicine"),
                slot("s3", at(1, 12, 14, 0), "p-smith", "Dr. Ana Smith", "family medicine"),
                slot("s4", at(1, 12, 15, 30), "p-smith", "Dr. Ana Smith", "family medicine"),
                slot("s5", at(2, 12, 10, 0), "p-garcia", "Dr. Luis Garcia", "cardiology"),
                slot("s6", at(3, 12, 9, 0), "p-smith", "Dr. Ana Smith", "family medicine"),
                slot("s7", at(3, 12, 11, 0), "p-garcia", "Dr. Luis Garcia", "cardiology"),
                slot("s8", at(14, 12, 10, 0), "p-garcia", "Dr. Luis Garcia", "cardiology"),
                slot("s9", at(15, 12, 16, 0), "p-smith", "Dr. Ana Smith", "family medicine"),
            ];
        }
        if name != "no_appointments" {
            d.appointments = vec![
                Appointment {
                    id: AppointmentId::parse("a1").unwrap(),
                    slot: None,
                    start: at(8, 12, 9, 0),
                    end: at(8, 12, 9, 30),
                    practitioner: Some(PractitionerId::parse("p-smith").unwrap()),
                    practitioner_name: Some("Dr. Ana Smith".into()),
                    status: "booked".into(),
                },
                Appointment {
                    id: AppointmentId::parse("a2").unwrap(),
                    slot: None,
                    start: at(10, 12, 14, 0),
                    end: at(10, 12, 14, 30),
                    practitioner: Some(PractitionerId::parse("p-garcia").unwrap()),
                    practitioner_name: Some("Dr. Luis Garcia".into()),
                    status: "booked".into(),
                },
            ];
        }
        if name != "no_meds" {
            d.meds = vec![
                med("m1", "Lisinopril 10 mg oral tablet", Some(3), Some((10, 1)), Some(30), false),
                med("m2", "Metformin 500 mg oral tablet", Some(0), Some((10, 20)), Some(30), false),
                med("m3", "Oxycodone 5 mg oral tablet", Some(1), Some((11, 1)), Some(10), true),
                med("m4", "Atorvastatin 20 mg oral tablet", Some(2), Some((11, 20)), Some(90), false),
                med("m5", "Metoprolol succinate 25 mg extended release tablet", Some(2), Some((9, 1)), Some(30), false),
                med("m6", "Metoprolol succinate 50 mg extended release tablet", Some(2), Some((9, 1)), Some(30), false),
            ];
        }
        d.race_next_book = name == "slot_race";
        d.writes_down = name == "ehr_down";
        d.questionnaire_rejected = name == "qr_rejected";
        Arc::new(FakeEhr { patient: PatientId::parse("pat-1").unwrap(), data: Mutex::new(d) })
    }

    fn scoped(&self, p: &PatientId) -> Result<()> {
        if p == &self.patient {
            Ok(())
        } else {
            Err(Error::NotFound("patient".into()))
        }
    }
}

#[async_trait]
impl Ehr for FakeEhr {
    async fn ping(&self) -> Result<()> {
        Ok(())
    }
    async fn patient_name(&self, p: &PatientId) -> Result<Option<String>> {
        self.scoped(p)?;
        Ok(self.data.lock().unwrap().name.clone())
    }
    async fn free_slots(&self, q: &SlotQuery) -> Result<Vec<FreeSlot>> {
        let d = self.data.lock().unwrap();
        let mut v: Vec<FreeSlot> = d
            .slots
            .iter()
            .filter(|s| {
                q.from.is_none_or(|f| s.start >= f)
                    && q.to.is_none_or(|t| s.start < t)
                    && q.practitioner.as_ref().is_none_or(|p| s.practitioner.as_ref() == Some(p))
                    && q.specialty.as_ref().is_none_or(|sp| s.specialty.as_deref().is_some_and(|x| x.eq_ignore_ascii_case(sp)))
            })
            .cloned()
            .collect();
        v.sort_by_key(|s| s.start);
        v.truncate(q.limit.max(1));
        Ok(v)
    }
    async fn book(&self, p: &PatientId, slot: &SlotId, key: &IdempotencyKey) -> Result<Appointment> {
        self.scoped(p)?;
        let mut d = self.data.lock().unwrap();
        d.down()?;
        if let Some(id) = d.keys.get(&key.0).cloned() {
            return d.appointments.iter().find(|a| a.id.as_str() == id).cloned().ok_or(Error::NotFound(id));
        }
        let pos = d.slots.iter().position(|s| &s.id == slot).ok_or(Error::SlotTaken)?;
        if std::mem::take(&mut d.race_next_book) {
            d.slots.remove(pos);
            return Err(Error::SlotTaken);
        }
        let s = d.slots.remove(pos);
        let id = format!("new{}", d.appointments.len() + 1);
        let a = Appointment {
            id: AppointmentId::parse(&id).unwrap(),
            slot: Some(s.id),
            start: s.start,
            end: s.end,
            practitioner: s.practitioner,
            practitioner_name: s.practitioner_name,
            status: "booked".into(),
        };
        d.appointments.push(a.clone());
        d.keys.insert(key.0.clone(), id);
        d.writes += 1;
        Ok(a)
    }
    async fn upcoming_appointments(&self, p: &PatientId, from: DateTime<Utc>) -> Result<Vec<Appointment>> {
        self.scoped(p)?;
        Ok(self.data.lock().unwrap().appointments.iter().filter(|a| a.status == "booked" && a.start >= from).cloned().collect())
    }
    async fn reschedule(&self, p: &PatientId, appt: &AppointmentId, slot: &SlotId, key: &IdempotencyKey) -> Result<Appointment> {
        self.scoped(p)?;
        let mut d = self.data.lock().unwrap();
        d.down()?;
        if d.keys.contains_key(&key.0) {
            return d.appointments.iter().find(|a| &a.id == appt).cloned().ok_or(Error::NotFound("appointment".into()));
        }
        let pos = d.slots.iter().position(|s| &s.id == slot).ok_or(Error::SlotTaken)?;
        if std::mem::take(&mut d.race_next_book) {
            d.slots.remove(pos);
            return Err(Error::SlotTaken);
        }
        let s = d.slots.remove(pos);
        let a = d.appointments.iter_mut().find(|a| &a.id == appt).ok_or(Error::NotFound("appointment".into()))?;
        a.start = s.start;
        a.end = s.end;
        a.slot = Some(s.id);
        let out = a.clone();
        d.keys.insert(key.0.clone(), appt.to_string());
        d.writes += 1;
        Ok(out)
    }
    async fn cancel(&self, p: &PatientId, appt: &AppointmentId) -> Result<()> {
        self.scoped(p)?;
        let mut d = self.data.lock().unwrap();
        d.down()?;
        let a = d.appointments.iter_mut().find(|a| &a.id == appt).ok_or(Error::NotFound("appointment".into()))?;
        a.status = "cancelled".into();
        d.writes += 1;
        Ok(())
    }
    async fn active_medications(&self, p: &PatientId) -> Result<Vec<ActiveMedication>> {
        self.scoped(p)?;
        Ok(self.data.lock().unwrap().meds.clone())
    }
    async fn request_refill(&self, p: &PatientId, m: &MedicationRequestId, _note: &str, key: &IdempotencyKey) -> Result<RefillTask> {
        self.scoped(p)?;
        let mut d = self.data.lock().unwrap();
        d.down()?;
        if let Some(id) = d.keys.get(&key.0).cloned() {
            return d.tasks.iter().find(|t| t.id.as_str() == id).cloned().ok_or(Error::NotFound(id));
        }
        let id = format!("t{}", d.tasks.len() + 1);
        let t = RefillTask { id: TaskId::parse(&id).unwrap(), status: "requested".into(), owner: None, medication: m.clone() };
        d.tasks.push(t.clone());
        d.keys.insert(key.0.clone(), id);
        d.writes += 1;
        Ok(t)
    }
    async fn refill_task(&self, p: &PatientId, t: &TaskId) -> Result<RefillTask> {
        self.scoped(p)?;
        self.data.lock().unwrap().tasks.iter().find(|x| &x.id == t).cloned().ok_or(Error::NotFound("task".into()))
    }
    async fn recent_discharges(&self, p: &PatientId, _since: DateTime<Utc>) -> Result<Vec<Discharge>> {
        self.scoped(p)?;
        Ok(Vec::new())
    }
    async fn submit_questionnaire_response(
        &self,
        p: &PatientId,
        q: &str,
        _e: Option<&EncounterId>,
        answers: &[Answer],
        key: &IdempotencyKey,
    ) -> Result<ResourceRef> {
        self.scoped(p)?;
        let mut d = self.data.lock().unwrap();
        d.down()?;
        if d.questionnaire_rejected {
            return Err(Error::Rejected { status: 422, diagnostics: "unknown encounter".into() });
        }
        if let Some(id) = d.keys.get(&key.0).cloned() {
            return Ok(ResourceRef(id));
        }
        d.responses.push((q.to_string(), answers.to_vec()));
        let id = format!("QuestionnaireResponse/qr{}", d.responses.len());
        d.keys.insert(key.0.clone(), id.clone());
        d.writes += 1;
        Ok(ResourceRef(id))
    }
}

/// Deterministic stand-in for the model: hashed bag-of-words embeddings, and `choose` by word
/// overlap (low confidence when nothing overlaps).
pub struct FakeUnderstand;

const DIM: usize = 256;

fn bow(text: &str) -> Vec<f32> {
    let mut v = vec![0f32; DIM];
    for w in words(text).iter().filter(|w| w.len() > 2) {
        let h = w.bytes().fold(2166136261u32, |h, b| (h ^ u32::from(b)).wrapping_mul(16777619));
        v[h as usize % DIM] += 1.0;
    }
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if n > 0.0 {
        v.iter_mut().for_each(|x| *x /= n);
    }
    v
}

#[async_trait]
impl Understand for FakeUnderstand {
    async fn embed(&self, texts: &[String]) -> workflows::Result<Vec<Vec<f32>>> {
        Ok(texts.iter().map(|t| bow(t)).collect())
    }
    async fn choose(&self, _instruction: &str, text: &str, options: &[String]) -> workflows::Result<(usize, Vec<f32>)> {
        let msg = words(text);
        let scores: Vec<f32> = options.iter().map(|o| words(o).iter().filter(|w| w.len() > 2 && msg.contains(w)).count() as f32).collect();
        let best = scores.iter().cloned().fold(0.0, f32::max);
        let idx = if best == 0.0 { options.len().saturating_sub(1) } else { scores.iter().position(|&s| s == best).unwrap_or(0) };
        let logits: Vec<f32> = scores.iter().map(|s| s * 3.0).collect();
        Ok((idx, logits))
    }
    async fn extract(&self, _instruction: &str, _text: &str, _schema: &serde_json::Value) -> workflows::Result<serde_json::Value> {
        Ok(serde_json::json!({}))
    }
    async fn phrase(&self, _instruction: &str, facts: &str) -> workflows::Result<String> {
        Ok(facts.to_string())
    }
}
