//! Demo data for `agent serve` in demo mode and for tests: practitioners with schedules and
//! two weeks of free slots, patients with prescriptions (one controlled, one without refills
//! left), recent discharges and the post-discharge questionnaire. Idempotent: everything is
//! a conditional create on a seed identifier, so a second run creates nothing.

mod data;

use std::collections::HashMap;

use chrono::{Datelike, Duration, NaiveDate, NaiveTime, Weekday};
use serde::{Deserialize, Serialize};

use crate::client::FhirClient;
use crate::model::*;
use crate::{EncounterId, Error, PatientId, PractitionerId, Result, CONTROLLED_SYSTEM};
use data::*;

/// Identifier system of everything the seed creates.
pub const SEED_SYSTEM: &str = "urn:agent:demo-seed";
const SNOMED: &str = "http://snomed.info/sct";
const RXNORM: &str = "http://www.nlm.nih.gov/research/umls/rxnorm";

/// What the seed made, for the demo sign-in page and tests.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DemoData {
    pub patients: Vec<DemoPatient>,
    pub practitioners: Vec<DemoPractitioner>,
    /// `Questionnaire.url` (what `submit_questionnaire_response` takes as `questionnaire`).
    pub questionnaire_url: String,
    pub questionnaire_id: String,
    /// Finished inpatient stays, discharged 1–2 days before `today`.
    pub discharges: Vec<DemoDischarge>,
    /// Free slots the seed knows of (created now or earlier).
    pub slots: usize,
    /// Resources created by this run (0 on a re-run).
    pub created: usize,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DemoPatient {
    pub id: PatientId,
    pub display_name: String,
    pub birth_date: NaiveDate,
    /// Preferred language (BCP-47, e.g. "es").
    pub language: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DemoPractitioner {
    pub id: PractitionerId,
    pub display_name: String,
    pub specialty: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DemoDischarge {
    pub patient: PatientId,
    pub encounter: EncounterId,
}

struct Seeder<'a> {
    client: &'a FhirClient,
    today: NaiveDate,
    created: usize,
}

impl Seeder<'_> {
    /// Conditional create on `SEED_SYSTEM|key`; returns the stored resource's id.
    async fn ensure<R: Resource>(&mut self, mut r: R, key: &str, ids: fn(&mut R) -> &mut Vec<Identifier>) -> Result<String> {
        ids(&mut r).push(Identifier::new(SEED_SYSTEM, key));
        let c = self.client.create_if_none_exist(&r, &format!("identifier={SEED_SYSTEM}|{key}")).await?;
        self.created += usize::from(c.created);
        c.resource.id().map(str::to_string).ok_or_else(|| Error::Protocol(format!("{} without id", R::TYPE)))
    }

    fn at(&self, days_ago: i64, h: u32, m: u32) -> String {
        let d = self.today - Duration::days(days_ago);
        let t = d.and_time(NaiveTime::from_hms_opt(h, m, 0).unwrap_or_default()).and_utc();
        t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    }

    fn date(&self, days_ago: i64) -> String {
        (self.today - Duration::days(days_ago)).format("%Y-%m-%d").to_string()
    }
}

/// Seeds (or finds) the demo data. `today` anchors slots (the next 14 days), prescriptions
/// and discharges.
pub async fn seed_demo(client: &FhirClient, today: NaiveDate) -> Result<DemoData> {
    let mut s = Seeder { client, today, created: 0 };
    let mut pracs = Vec::new();
    let mut prac_ids = HashMap::new();
    for p in PRACTITIONERS {
        let (id, name) = seed_practitioner(&mut s, p).await?;
        prac_ids.insert(p.key, (id.clone(), name.clone()));
        pracs.push(DemoPractitioner {
            id: PractitionerId::parse(id).map_err(|_| Error::Protocol("practitioner id".into()))?,
            display_name: name,
            specialty: p.specialty.1.to_string(),
        });
    }
    let mut slots = 0;
    for p in PRACTITIONERS {
        let (id, name) = &prac_ids[p.key];
        slots += seed_schedule(&mut s, p, id, name).await?;
    }
    let mut patients = Vec::new();
    let mut patient_ids = HashMap::new();
    for p in PATIENTS {
        let id = seed_patient(&mut s, p).await?;
        let pid = PatientId::parse(id).map_err(|_| Error::Protocol("patient id".into()))?;
        patient_ids.insert(p.key, pid.clone());
        let birth_date = NaiveDate::parse_from_str(p.birth_date, "%Y-%m-%d").unwrap_or_default();
        let display_name = format!("{} {}", p.given, p.family);
        patients.push(DemoPatient { id: pid, display_name, birth_date, language: p.language.0.to_string() });
    }
    for m in MEDS {
        seed_med(&mut s, m, &patient_ids[m.patient], &prac_ids[m.prescriber]).await?;
    }
    let mut discharges = Vec::new();
    for stay in STAYS {
        let patient = patient_ids[stay.patient].clone();
        let id = seed_stay(&mut s, stay, &patient).await?;
        let encounter = EncounterId::parse(id).map_err(|_| Error::Protocol("encounter id".into()))?;
        discharges.push(DemoDischarge { patient, encounter });
    }
    seed_questionnaire(&mut s).await?;
    Ok(DemoData {
        patients,
        practitioners: pracs,
        questionnaire_url: QUESTIONNAIRE_URL.into(),
        questionnaire_id: QUESTIONNAIRE_ID.into(),
        discharges,
        slots,
        created: s.created,
    })
}

async fn seed_practitioner(s: &mut Seeder<'_>, p: &Prac) -> Result<(String, String)> {
    let name = format!("Dr. {} {}", p.given, p.family);
    let prac = Practitioner {
        active: Some(true),
        name: vec![HumanName {
            r#use: Some("official".into()),
            family: Some(p.family.into()),
            given: vec![p.given.into()],
            prefix: vec!["Dr.".into()],
            ..Default::default()
        }],
        gender: Some(p.gender.into()),
        ..Default::default()
    };
    let id = s.ensure(prac, &format!("prac-{}", p.key), |r: &mut Practitioner| &mut r.identifier).await?;
    let role = PractitionerRole {
        active: Some(true),
        practitioner: Some(Reference::to("Practitioner", &id).with_display(Some(name.clone()))),
        specialty: vec![CodeableConcept::coded(SNOMED, p.specialty.0, p.specialty.1)],
        ..Default::default()
    };
    s.ensure(role, &format!("role-{}", p.key), |r: &mut PractitionerRole| &mut r.identifier).await?;
    Ok((id, format!("{} {}", p.given, p.family)))
}

/// The Schedule plus its slots (one batch of conditional creates: independent entries, and
/// servers cap how many conditional entries one transaction may hold); returns the number of
/// slots in the horizon.
async fn seed_schedule(s: &mut Seeder<'_>, p: &Prac, prac_id: &str, name: &str) -> Result<usize> {
    let sched = Schedule {
        active: Some(true),
        specialty: vec![CodeableConcept::coded(SNOMED, p.specialty.0, p.specialty.1)],
        actor: vec![Reference::to("Practitioner", prac_id).with_display(Some(format!("Dr. {name}")))],
        comment: Some(format!("{} clinic", p.specialty.1)),
        ..Default::default()
    };
    let sched_id = s.ensure(sched, &format!("sched-{}", p.key), |r: &mut Schedule| &mut r.identifier).await?;
    let mut entries = Vec::new();
    for day in 0..=HORIZON_DAYS {
        let date = s.today + Duration::days(day);
        if matches!(date.weekday(), Weekday::Sat | Weekday::Sun) {
            continue;
        }
        for &(h, m) in SLOT_TIMES {
            let start = date.and_time(NaiveTime::from_hms_opt(h, m, 0).unwrap_or_default()).and_utc();
            let end = start + Duration::minutes(SLOT_MINUTES);
            let key = format!("slot-{}-{}", p.key, start.format("%Y%m%dT%H%M"));
            let slot = Slot {
                identifier: vec![Identifier::new(SEED_SYSTEM, &key)],
                schedule: Some(Reference::to("Schedule", &sched_id)),
                specialty: vec![CodeableConcept::coded(SNOMED, p.specialty.0, p.specialty.1)],
                status: Some("free".into()),
                start: Some(start.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
                end: Some(end.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
                ..Default::default()
            };
            let mut e = BundleEntry {
                full_url: Some(format!("urn:uuid:{}", uuid::Uuid::new_v4())),
                resource: Some(serde_json::to_value(&slot).map_err(|_| Error::Protocol("Slot does not serialize".into()))?),
                ..Default::default()
            };
            e.request = Some(BundleRequest {
                method: Some("POST".into()),
                url: Some("Slot".into()),
                if_none_exist: Some(format!("identifier={SEED_SYSTEM}|{key}")),
                ..Default::default()
            });
            entries.push(e);
        }
    }
    let n = entries.len();
    let batch = Bundle { r#type: Some("batch".into()), entry: entries, ..Default::default() };
    let resp = s.client.transaction(&batch, true).await?;
    for e in &resp.entry {
        let status = e.response.as_ref().and_then(|r| r.status.as_deref()).unwrap_or("");
        let code: u16 = status.split_whitespace().next().and_then(|c| c.parse().ok()).unwrap_or(0);
        if !(200..300).contains(&code) {
            return Err(Error::Rejected { status: code, diagnostics: "seed slot batch entry failed".into() });
        }
        s.created += usize::from(code == 201);
    }
    if resp.entry.len() != n {
        return Err(Error::Protocol("batch response has a different number of entries".into()));
    }
    Ok(n)
}

async fn seed_patient(s: &mut Seeder<'_>, p: &Pat) -> Result<String> {
    let patient = Patient {
        active: Some(true),
        name: vec![HumanName {
            r#use: Some("official".into()),
            family: Some(p.family.into()),
            given: vec![p.given.into()],
            ..Default::default()
        }],
        telecom: vec![ContactPoint {
            system: Some("phone".into()),
            value: Some(p.phone.into()),
            r#use: Some("mobile".into()),
            ..Default::default()
        }],
        gender: Some(p.gender.into()),
        birth_date: Some(p.birth_date.into()),
        communication: vec![PatientCommunication {
            language: Some(CodeableConcept::coded("urn:ietf:bcp:47", p.language.0, p.language.1)),
            preferred: Some(true),
            ..Default::default()
        }],
        ..Default::default()
    };
    s.ensure(patient, &format!("patient-{}", p.key), |r: &mut Patient| &mut r.identifier).await
}

async fn seed_med(s: &mut Seeder<'_>, m: &Med, patient: &PatientId, prescriber: &(String, String)) -> Result<()> {
    let code = CodeableConcept::coded(RXNORM, m.rxnorm.0, m.rxnorm.1);
    let mr = MedicationRequest {
        status: Some("active".into()),
        intent: Some("order".into()),
        category: m
            .controlled
            .map(|sched| CodeableConcept::coded(CONTROLLED_SYSTEM, sched, "Controlled substance"))
            .into_iter()
            .collect(),
        medication_codeable_concept: Some(code.clone()),
        subject: Some(Reference::to("Patient", patient.as_str())),
        authored_on: Some(s.at(m.authored_days_ago, 10, 0)),
        requester: Some(Reference::to("Practitioner", &prescriber.0).with_display(Some(format!("Dr. {}", prescriber.1)))),
        dosage_instruction: vec![Dosage { text: Some(m.dosage.into()), ..Default::default() }],
        dispense_request: Some(DispenseRequest {
            validity_period: Some(Period {
                start: Some(s.date(m.authored_days_ago)),
                end: Some(s.date(m.authored_days_ago - 365)),
                ..Default::default()
            }),
            number_of_repeats_allowed: Some(m.repeats.into()),
            quantity: Some(Quantity { value: Some(m.quantity.into()), unit: Some("unit".into()), ..Default::default() }),
            expected_supply_duration: Some(Quantity::days(m.supply_days)),
            ..Default::default()
        }),
        ..Default::default()
    };
    let mr_id = s.ensure(mr, &format!("mr-{}", m.key), |r: &mut MedicationRequest| &mut r.identifier).await?;
    let dispense = MedicationDispense {
        status: Some("completed".into()),
        medication_codeable_concept: Some(code),
        subject: Some(Reference::to("Patient", patient.as_str())),
        authorizing_prescription: vec![Reference::to("MedicationRequest", &mr_id)],
        quantity: Some(Quantity { value: Some(m.quantity.into()), unit: Some("unit".into()), ..Default::default() }),
        days_supply: Some(Quantity::days(m.supply_days)),
        when_handed_over: Some(s.at(m.authored_days_ago, 16, 0)),
        ..Default::default()
    };
    s.ensure(dispense, &format!("md-{}", m.key), |r: &mut MedicationDispense| &mut r.identifier).await?;
    Ok(())
}

async fn seed_stay(s: &mut Seeder<'_>, stay: &Stay, patient: &PatientId) -> Result<String> {
    let enc = Encounter {
        status: Some("finished".into()),
        class: Some(Coding::new("http://terminology.hl7.org/CodeSystem/v3-ActCode", "IMP", "inpatient encounter")),
        subject: Some(Reference::to("Patient", patient.as_str())),
        period: Some(Period {
            start: Some(s.at(stay.admitted_days_ago, 8, 0)),
            end: Some(s.at(stay.discharged_days_ago, 15, 0)),
            ..Default::default()
        }),
        reason_code: vec![CodeableConcept { text: Some(stay.reason.into()), ..Default::default() }],
        hospitalization: Some(Hospitalization {
            discharge_disposition: Some(CodeableConcept::coded(
                "http://terminology.hl7.org/CodeSystem/discharge-disposition",
                "home",
                "Home",
            )),
            ..Default::default()
        }),
        location: vec![EncounterLocation {
            location: Some(Reference { display: Some(stay.ward.into()), ..Default::default() }),
            status: Some("completed".into()),
            ..Default::default()
        }],
        ..Default::default()
    };
    s.ensure(enc, &format!("enc-{}", stay.key), |r: &mut Encounter| &mut r.identifier).await
}

/// The questionnaire has a fixed id (servers do not all search Questionnaire by url): read
/// it, and PUT it only when missing.
async fn seed_questionnaire(s: &mut Seeder<'_>) -> Result<()> {
    match s.client.read::<Questionnaire>(QUESTIONNAIRE_ID).await {
        Ok(_) => return Ok(()),
        Err(Error::NotFound(_)) => {}
        Err(e) => return Err(e),
    }
    let q = Questionnaire {
        id: Some(QUESTIONNAIRE_ID.into()),
        url: Some(QUESTIONNAIRE_URL.into()),
        identifier: vec![Identifier::new(SEED_SYSTEM, "questionnaire-post-discharge")],
        version: Some(QUESTIONNAIRE_VERSION.into()),
        name: Some("PostDischargeFollowUp".into()),
        title: Some("Post-discharge follow-up".into()),
        status: Some("active".into()),
        subject_type: vec!["Patient".into()],
        date: Some(s.date(0)),
        item: QUESTIONS
            .iter()
            .map(|(link, ty, text)| QuestionnaireItem {
                link_id: Some((*link).into()),
                text: Some((*text).into()),
                r#type: Some((*ty).into()),
                required: Some(*link != "symptoms"),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    };
    s.client.update(&q, None).await?;
    s.created += 1;
    Ok(())
}
