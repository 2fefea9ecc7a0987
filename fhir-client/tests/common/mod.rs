//! Contract checks of `FhirClient` against a real FHIR server, shared by the test binaries
//! for each server (sekmet, Medplum). Each check books in its own (practitioner, day) corner
//! of the seeded slots so checks running in parallel do not take each other's slots.
#![allow(dead_code)]

use chrono::{Duration, NaiveDate, Utc};
use fhir_client::model::{Appointment as FhirAppointment, Communication, Resource, Slot, Task};
use fhir_client::seed::{seed_demo, DemoData};
use fhir_client::*;

/// A seeded server.
pub struct Ctx {
    pub config: FhirConfig,
    pub demo: DemoData,
    pub today: NaiveDate,
}

impl Ctx {
    /// Seeds the server at `config` on a plain thread with its own runtime (callable from
    /// a `OnceLock` initialiser inside or outside tokio).
    pub fn seed(config: FhirConfig) -> Ctx {
        std::thread::spawn(move || {
            let today = Utc::now().date_naive();
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            let client = FhirClient::new(&config).unwrap();
            let demo = rt.block_on(seed_demo(&client, today)).expect("seed");
            Ctx { config, demo, today }
        })
        .join()
        .expect("seed thread")
    }

    pub fn client(&self) -> FhirClient {
        FhirClient::new(&self.config).unwrap()
    }
}

pub fn patient(env: &Ctx, i: usize) -> PatientId {
    env.demo.patients[i].id.clone()
}

pub fn key(s: &str) -> IdempotencyKey {
    IdempotencyKey(format!("{s}-{}", uuid::Uuid::new_v4()))
}

/// Free slots of practitioner `p` on the `day`-th working day from tomorrow.
pub async fn slots(c: &FhirClient, env: &Ctx, p: usize, day: usize) -> Vec<FreeSlot> {
    let mut date = env.today;
    let mut seen = 0;
    loop {
        date += Duration::days(1);
        if chrono::Datelike::weekday(&date).number_from_monday() <= 5 {
            if seen == day {
                break;
            }
            seen += 1;
        }
    }
    let from = date.and_hms_opt(0, 0, 0).unwrap().and_utc();
    let q = SlotQuery {
        practitioner: Some(env.demo.practitioners[p].id.clone()),
        from: Some(from),
        to: Some(from + Duration::days(1)),
        limit: 20,
        ..Default::default()
    };
    let s = c.free_slots(&q).await.unwrap();
    assert!(!s.is_empty(), "seed has slots for practitioner {p} on working day {day}");
    s
}

pub async fn booking_creates_an_appointment_for_the_patient_and_marks_the_slot_busy(env: &Ctx) {
    let c = env.client();
    let free = slots(&c, env, 0, 0).await;
    let slot = &free[0];
    assert_eq!(slot.practitioner.as_ref(), Some(&env.demo.practitioners[0].id));
    assert_eq!(slot.practitioner_name.as_deref(), Some(env.demo.practitioners[0].display_name.as_str()));
    let p = patient(env, 1);
    let appt = c.book(&p, &slot.id, &key("book")).await.unwrap();
    assert_eq!((appt.slot.as_ref(), appt.start, appt.status.as_str()), (Some(&slot.id), slot.start, "booked"));
    assert_eq!(appt.practitioner, slot.practitioner);
    let stored: FhirAppointment = c.read(appt.id.as_str()).await.unwrap();
    assert!(stored.has_patient(p.as_str()));
    let s: Slot = c.read(slot.id.as_str()).await.unwrap();
    assert_eq!(s.status.as_deref(), Some("busy"));
    assert!(!slots(&c, env, 0, 0).await.iter().any(|f| f.id == slot.id), "busy slot no longer offered");
    assert!(c.upcoming_appointments(&p, chrono::Utc::now()).await.unwrap().iter().any(|a| a.id == appt.id));
    // "Upcoming" is from the caller's clock (a conversation case's, a test's), not the system's.
    let after = appt.start + chrono::Duration::minutes(1);
    assert!(!c.upcoming_appointments(&p, after).await.unwrap().iter().any(|a| a.id == appt.id), "started before `from`");
}

pub async fn two_concurrent_bookings_of_one_slot_have_exactly_one_winner(env: &Ctx) {
    let c = env.client();
    let slot = slots(&c, env, 1, 0).await[0].id.clone();
    let (a, b) = (patient(env, 0), patient(env, 2));
    let (ka, kb) = (key("race-a"), key("race-b"));
    let (ra, rb) = tokio::join!(c.book(&a, &slot, &ka), c.book(&b, &slot, &kb));
    let wins = [ra.is_ok(), rb.is_ok()].iter().filter(|w| **w).count();
    assert_eq!(wins, 1, "exactly one booking wins: {ra:?} / {rb:?}");
    let loser = if ra.is_ok() { rb } else { ra };
    assert!(matches!(loser, Err(Error::SlotTaken)), "{loser:?}");
    let on_slot: Vec<FhirAppointment> = c.search(&[("slot", format!("Slot/{slot}"))]).await.unwrap();
    let active = on_slot.iter().filter(|a| a.status.as_deref() != Some("cancelled")).count();
    eprintln!("appointments on the raced slot: {} ({active} active)", on_slot.len());
    assert_eq!(active, 1, "the loser left no active Appointment on the slot");
}

pub async fn a_retried_create_yields_exactly_one_resource(env: &Ctx) {
    let c = env.client();
    let slot = slots(&c, env, 2, 0).await[0].id.clone();
    let p = patient(env, 3);
    let k = key("retry");
    let first = c.book(&p, &slot, &k).await.unwrap();
    let again = c.book(&p, &slot, &k).await.unwrap();
    assert_eq!(first.id, again.id);
    // The same conditional create sent twice (a lost response, retried) stores one resource.
    let task = Task {
        identifier: vec![model::Identifier::new(IDEMPOTENCY_SYSTEM, &idempotency_value(&k))],
        status: Some("draft".into()),
        intent: Some("order".into()),
        ..Default::default()
    };
    let criteria = format!("identifier={IDEMPOTENCY_SYSTEM}|{}", idempotency_value(&k));
    let one = c.create_if_none_exist(&task, &criteria).await.unwrap();
    let two = c.create_if_none_exist(&task, &criteria).await.unwrap();
    assert!(one.created && !two.created);
    assert_eq!(one.resource.id, two.resource.id);
    let appts: Vec<FhirAppointment> = c.search(&[("identifier", criteria.replace("identifier=", ""))]).await.unwrap();
    assert_eq!(appts.len(), 1);
}

pub async fn reschedule_moves_the_booking_and_frees_the_old_slot(env: &Ctx) {
    let c = env.client();
    let free = slots(&c, env, 0, 1).await;
    let p = patient(env, 2);
    let first = c.book(&p, &free[0].id, &key("rs-book")).await.unwrap();
    let k = key("rs-move");
    let moved = c.reschedule(&p, &first.id, &free[1].id, &k).await.unwrap();
    assert_eq!(moved.slot.as_ref(), Some(&free[1].id));
    assert_eq!(c.reschedule(&p, &first.id, &free[1].id, &k).await.unwrap().id, moved.id, "retry is a no-op");
    let old: Slot = c.read(free[0].id.as_str()).await.unwrap();
    assert_eq!(old.status.as_deref(), Some("free"));
    let new: Slot = c.read(free[1].id.as_str()).await.unwrap();
    assert_eq!(new.status.as_deref(), Some("busy"));
    let was: FhirAppointment = c.read(first.id.as_str()).await.unwrap();
    assert_eq!(was.status.as_deref(), Some("cancelled"));
    let upcoming = c.upcoming_appointments(&p, chrono::Utc::now()).await.unwrap();
    assert!(upcoming.iter().any(|a| a.id == moved.id) && !upcoming.iter().any(|a| a.id == first.id));
}

pub async fn cancel_frees_the_slot_and_repeating_it_is_harmless(env: &Ctx) {
    let c = env.client();
    let slot = slots(&c, env, 1, 1).await[0].id.clone();
    let p = patient(env, 0);
    let appt = c.book(&p, &slot, &key("cancel")).await.unwrap();
    c.cancel(&p, &appt.id).await.unwrap();
    c.cancel(&p, &appt.id).await.unwrap();
    let s: Slot = c.read(slot.as_str()).await.unwrap();
    assert_eq!(s.status.as_deref(), Some("free"));
    assert!(!c.upcoming_appointments(&p, chrono::Utc::now()).await.unwrap().iter().any(|a| a.id == appt.id));
}

pub async fn another_patients_appointment_is_not_found(env: &Ctx) {
    let c = env.client();
    let free = slots(&c, env, 2, 1).await;
    let owner = patient(env, 1);
    let appt = c.book(&owner, &free[0].id, &key("scope")).await.unwrap();
    let intruder = patient(env, 3);
    assert!(matches!(c.cancel(&intruder, &appt.id).await, Err(Error::NotFound(_))));
    let r = c.reschedule(&intruder, &appt.id, &free[1].id, &key("scope-rs")).await;
    assert!(matches!(r, Err(Error::NotFound(_))), "{r:?}");
    let still: FhirAppointment = c.read(appt.id.as_str()).await.unwrap();
    assert_eq!(still.status.as_deref(), Some("booked"));
    assert!(!c.upcoming_appointments(&intruder, chrono::Utc::now()).await.unwrap().iter().any(|a| a.id == appt.id));
}

pub async fn medication_list_has_prescribers_refills_and_the_controlled_flag(env: &Ctx) {
    let c = env.client();
    let john = c.active_medications(&patient(env, 1)).await.unwrap();
    assert_eq!(john.len(), 2);
    let oxy = john.iter().find(|m| m.name.starts_with("Oxycodone")).expect("oxycodone listed");
    assert!(oxy.controlled);
    assert_eq!(oxy.refills_remaining, Some(0));
    assert_eq!(oxy.supply_days, Some(5));
    assert_eq!(oxy.prescriber.as_ref(), Some(&env.demo.practitioners[0].id));
    assert!(oxy.prescriber_name.is_some());
    let meto = john.iter().find(|m| m.name.starts_with("Metoprolol")).unwrap();
    assert!(!meto.controlled);
    assert_eq!(meto.refills_remaining, Some(5));
    assert_eq!(meto.last_fill, Some(env.today - Duration::days(28)));
    let aisha = c.active_medications(&patient(env, 2)).await.unwrap();
    assert!(aisha.iter().any(|m| m.name.starts_with("Atorvastatin") && m.refills_remaining == Some(0)));
}

pub async fn refill_request_makes_a_task_for_the_prescriber_and_a_communication(env: &Ctx) {
    let c = env.client();
    let p = patient(env, 3);
    let med = c.active_medications(&p).await.unwrap().into_iter().find(|m| m.name.starts_with("Levo")).unwrap();
    let k = key("refill");
    let task = c.request_refill(&p, &med.request, "running low", &k).await.unwrap();
    assert_eq!(task.owner, med.prescriber);
    assert_eq!((task.medication.clone(), task.status.as_str()), (med.request.clone(), "requested"));
    assert_eq!(c.request_refill(&p, &med.request, "running low", &k).await.unwrap().id, task.id);
    assert_eq!(c.refill_task(&p, &task.id).await.unwrap(), task);
    assert!(matches!(c.refill_task(&patient(env, 0), &task.id).await, Err(Error::NotFound(_))));
    let comms: Vec<Communication> =
        c.search(&[("identifier", format!("{IDEMPOTENCY_SYSTEM}|{}", idempotency_value(&k)))]).await.unwrap();
    assert_eq!(comms.len(), 1);
    assert_eq!(comms[0].about[0].id_of("Task"), Some(task.id.as_str()));
    let other = c.active_medications(&patient(env, 0)).await.unwrap()[0].request.clone();
    let r = c.request_refill(&p, &other, "", &key("refill-other")).await;
    assert!(matches!(r, Err(Error::NotFound(_))), "another patient's prescription: {r:?}");
}

pub async fn recent_discharges_list_the_seeded_stays(env: &Ctx) {
    let c = env.client();
    let since = Utc::now() - Duration::days(7);
    let john = c.recent_discharges(&patient(env, 1), since).await.unwrap();
    assert_eq!(john.len(), 1);
    assert_eq!(john[0].location.as_deref(), Some("Orthopedic ward 3B"));
    assert!(env.demo.discharges.iter().any(|d| d.encounter == john[0].encounter));
    assert!(c.recent_discharges(&patient(env, 2), since).await.unwrap().is_empty());
    assert!(c.recent_discharges(&patient(env, 1), Utc::now()).await.unwrap().is_empty());
}

pub async fn questionnaire_response_is_written_once_per_key(env: &Ctx) {
    let c = env.client();
    let p = patient(env, 1);
    let enc = c.recent_discharges(&p, Utc::now() - Duration::days(7)).await.unwrap()[0].encounter.clone();
    let answers = vec![
        Answer { link_id: "new-symptoms".into(), value: AnswerValue::Boolean(false) },
        Answer { link_id: "pain".into(), value: AnswerValue::Integer(4) },
        Answer { link_id: "meds-obtained".into(), value: AnswerValue::Boolean(true) },
    ];
    let k = key("qr");
    let r1 = c.submit_questionnaire_response(&p, &env.demo.questionnaire_url, Some(&enc), &answers, &k).await.unwrap();
    let id = r1.0.strip_prefix("QuestionnaireResponse/").unwrap().to_string();
    let first: model::QuestionnaireResponse = c.read(&id).await.unwrap();
    let r2 = c.submit_questionnaire_response(&p, &env.demo.questionnaire_url, Some(&enc), &answers, &k).await.unwrap();
    assert_eq!(r1, r2);
    let qr: model::QuestionnaireResponse = c.read(&id).await.unwrap();
    assert_eq!(qr.version_id(), first.version_id(), "second submit wrote nothing");
    assert_eq!(qr.item.len(), 3);
    assert_eq!(qr.encounter.as_ref().and_then(|e| e.id_of("Encounter")), Some(enc.as_str()));
    let r = c.submit_questionnaire_response(&patient(env, 2), "q", Some(&enc), &answers, &key("qr-x")).await;
    assert!(matches!(r, Err(Error::NotFound(_))), "someone else's encounter: {r:?}");
}

pub async fn seeding_again_creates_nothing_and_finds_the_same_data(env: &Ctx) {
    let c = env.client();
    let again = seed_demo(&c, env.today).await.unwrap();
    assert_eq!(again.created, 0);
    assert_eq!(again.patients, env.demo.patients);
    assert_eq!(again.practitioners, env.demo.practitioners);
    assert!(env.demo.created > 200, "first run created the data ({})", env.demo.created);
    assert_eq!(c.patient_name(&patient(env, 0)).await.unwrap().as_deref(), Some("María García López"));
    assert_eq!(env.demo.patients[0].language, "es");
}

pub async fn free_slots_filter_by_specialty_name_case_insensitively(env: &Ctx) {
    let c = env.client();
    let q = SlotQuery { specialty: Some("dermatology".into()), limit: 5, ..Default::default() };
    let derm = c.free_slots(&q).await.unwrap();
    assert_eq!(derm.len(), 5);
    assert!(derm.iter().all(|s| s.practitioner.as_ref() == Some(&env.demo.practitioners[2].id)));
    assert!(derm.windows(2).all(|w| w[0].start <= w[1].start));
    assert!(derm.iter().all(|s| s.start >= Utc::now()));
    let none = c.free_slots(&SlotQuery { specialty: Some("neurosurgery".into()), ..Default::default() }).await.unwrap();
    assert!(none.is_empty());
}

pub async fn identical_searches_at_once_are_sent_once(env: &Ctx) {
    let c = env.client();
    let before = c.stats().snapshot();
    // Polled in one task, as the concurrent turns of one service poll its client.
    let found = futures::future::join_all((0..8).map(|_| slots(&c, env, 2, 3))).await;
    let after = c.stats().snapshot();
    assert!(found.windows(2).all(|w| w[0] == w[1]), "every caller got the same free slots");
    // One schedule list and one slot search for all eight; the other seven of each shared.
    // (A SMART client's first request also fetches its token, which is not a FHIR request.)
    let sent = |s: StatsSnapshot| s.attempts - s.token_fetches;
    assert_eq!(sent(after) - sent(before), 2, "requests sent");
    assert_eq!(after.shared_reads - before.shared_reads, 14, "reads answered by a shared request");
    // Nothing is kept once answered: a search after them is sent again.
    slots(&c, env, 2, 3).await;
    assert_eq!(sent(c.stats().snapshot()) - sent(after), 2);
}

pub async fn reads_waiting_for_a_place_go_in_one_batch(env: &Ctx) {
    use fhir_client::model::Practitioner;
    // One place: while one read is in flight, the others wait, and then go together.
    let c = FhirClient::new(&FhirConfig { max_in_flight: 1, ..env.config.clone() }).unwrap();
    let statement = c.capabilities().await.unwrap();
    let takes_batches = statement["rest"].as_array().into_iter().flatten().any(|r| {
        r["interaction"].as_array().into_iter().flatten().any(|i| i["code"] == "batch")
    });
    let missing = PatientId::parse("no-such-patient").unwrap();
    let mut patients: Vec<PatientId> = env.demo.patients.iter().map(|p| p.id.clone()).collect();
    patients.push(missing.clone());
    let by_id: Vec<Vec<(&str, String)>> = env.demo.practitioners.iter().map(|p| vec![("_id", p.id.to_string())]).collect();
    let (names, found) = (
        patients.iter().map(|p| c.patient_name(p)).collect::<Vec<_>>(),
        by_id.iter().map(|q| c.search::<Practitioner>(q)).collect::<Vec<_>>(),
    );
    let before = c.stats().snapshot();
    let (names, found) = futures::future::join(futures::future::join_all(names), futures::future::join_all(found)).await;
    let after = c.stats().snapshot();
    // Every read got its own answer, as it gets alone.
    for (p, name) in patients.iter().zip(&names) {
        if p == &missing {
            assert!(matches!(name, Err(fhir_client::Error::NotFound(_))), "{name:?}");
        } else {
            assert_eq!(name.as_ref().unwrap(), &c.patient_name(p).await.unwrap());
        }
    }
    for (p, found) in env.demo.practitioners.iter().zip(&found) {
        let found = found.as_ref().unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].id.as_deref(), Some(p.id.as_str()));
    }
    let reads = (patients.len() + env.demo.practitioners.len()) as u64;
    let sent = after.attempts - after.token_fetches - (before.attempts - before.token_fetches);
    if takes_batches {
        // The first read finds the place free and goes alone; the rest wait and go together,
        // and all of them but the missing patient are answered from the batch.
        assert_eq!(after.batched_reads - before.batched_reads, reads - 2, "reads answered in a batch");
        assert!(after.batches - before.batches >= 1 && sent < reads, "{sent} requests for {reads} reads");
    } else {
        assert_eq!((after.batches - before.batches, sent), (0, reads), "a server without batch got one");
    }
}

/// One `#[tokio::test]` per shared check; `$ctx` is an async fn returning `&'static Ctx`.
#[macro_export]
macro_rules! contract_tests {
    ($ctx:ident) => {
        #[tokio::test]
        async fn booking_creates_an_appointment_for_the_patient_and_marks_the_slot_busy() {
            common::booking_creates_an_appointment_for_the_patient_and_marks_the_slot_busy($ctx().await).await
        }
        #[tokio::test]
        async fn two_concurrent_bookings_of_one_slot_have_exactly_one_winner() {
            common::two_concurrent_bookings_of_one_slot_have_exactly_one_winner($ctx().await).await
        }
        #[tokio::test]
        async fn a_retried_create_yields_exactly_one_resource() {
            common::a_retried_create_yields_exactly_one_resource($ctx().await).await
        }
        #[tokio::test]
        async fn reschedule_moves_the_booking_and_frees_the_old_slot() {
            common::reschedule_moves_the_booking_and_frees_the_old_slot($ctx().await).await
        }
        #[tokio::test]
        async fn cancel_frees_the_slot_and_repeating_it_is_harmless() {
            common::cancel_frees_the_slot_and_repeating_it_is_harmless($ctx().await).await
        }
        #[tokio::test]
        async fn another_patients_appointment_is_not_found() {
            common::another_patients_appointment_is_not_found($ctx().await).await
        }
        #[tokio::test]
        async fn medication_list_has_prescribers_refills_and_the_controlled_flag() {
            common::medication_list_has_prescribers_refills_and_the_controlled_flag($ctx().await).await
        }
        #[tokio::test]
        async fn refill_request_makes_a_task_for_the_prescriber_and_a_communication() {
            common::refill_request_makes_a_task_for_the_prescriber_and_a_communication($ctx().await).await
        }
        #[tokio::test]
        async fn recent_discharges_list_the_seeded_stays() {
            common::recent_discharges_list_the_seeded_stays($ctx().await).await
        }
        #[tokio::test]
        async fn questionnaire_response_is_written_once_per_key() {
            common::questionnaire_response_is_written_once_per_key($ctx().await).await
        }
        #[tokio::test]
        async fn seeding_again_creates_nothing_and_finds_the_same_data() {
            common::seeding_again_creates_nothing_and_finds_the_same_data($ctx().await).await
        }
        #[tokio::test]
        async fn reads_waiting_for_a_place_go_in_one_batch() {
            common::reads_waiting_for_a_place_go_in_one_batch($ctx().await).await
        }
        #[tokio::test]
        async fn identical_searches_at_once_are_sent_once() {
            common::identical_searches_at_once_are_sent_once($ctx().await).await
        }
        #[tokio::test]
        async fn free_slots_filter_by_specialty_name_case_insensitively() {
            common::free_slots_filter_by_specialty_name_case_insensitively($ctx().await).await
        }
    };
}
