#![cfg(feature = "sekmet")]
//! Contract tests of `FhirClient` against a real sekmet-fhir (one server and one seed per
//! test binary). Each test books in its own (practitioner, day) corner of the seeded slots so
//! tests running in parallel do not take each other's slots.

use std::sync::OnceLock;

use chrono::{Duration, NaiveDate, Utc};
use fhir_client::model::{Appointment as FhirAppointment, Communication, Slot, Task};
use fhir_client::seed::{seed_demo, DemoData};
use fhir_client::sekmet::{Sekmet, SekmetOptions};
use fhir_client::*;

struct Env {
    server: Sekmet,
    demo: DemoData,
    today: NaiveDate,
}

static ENV: OnceLock<Env> = OnceLock::new();

/// Starts sekmet and seeds it once; runs on a plain thread (its own runtime for the seed).
fn env() -> &'static Env {
    ENV.get_or_init(|| {
        std::thread::spawn(|| {
            let server = Sekmet::start(SekmetOptions::default()).expect("sekmet starts");
            let today = Utc::now().date_naive();
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            let client = FhirClient::new(&server.config()).unwrap();
            let demo = rt.block_on(seed_demo(&client, today)).expect("seed");
            Env { server, demo, today }
        })
        .join()
        .expect("setup thread")
    })
}

async fn setup() -> (FhirClient, &'static Env) {
    let env = tokio::task::spawn_blocking(env).await.unwrap();
    (FhirClient::new(&env.server.config()).unwrap(), env)
}

fn patient(env: &Env, i: usize) -> PatientId {
    env.demo.patients[i].id.clone()
}

fn key(s: &str) -> IdempotencyKey {
    IdempotencyKey(format!("{s}-{}", uuid::Uuid::new_v4()))
}

/// Free slots of practitioner `p` on the `day`-th working day from tomorrow.
async fn slots(c: &FhirClient, env: &Env, p: usize, day: usize) -> Vec<FreeSlot> {
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

#[tokio::test]
async fn booking_creates_an_appointment_for_the_patient_and_marks_the_slot_busy() {
    let (c, env) = setup().await;
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
    assert!(c.upcoming_appointments(&p).await.unwrap().iter().any(|a| a.id == appt.id));
}

#[tokio::test]
async fn two_concurrent_bookings_of_one_slot_have_exactly_one_winner() {
    let (c, env) = setup().await;
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
    assert_eq!(active, 1, "the loser left no active Appointment on the slot");
}

#[tokio::test]
async fn a_retried_create_yields_exactly_one_resource() {
    let (c, env) = setup().await;
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

#[tokio::test]
async fn reschedule_moves_the_booking_and_frees_the_old_slot() {
    let (c, env) = setup().await;
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
    let upcoming = c.upcoming_appointments(&p).await.unwrap();
    assert!(upcoming.iter().any(|a| a.id == moved.id) && !upcoming.iter().any(|a| a.id == first.id));
}

#[tokio::test]
async fn cancel_frees_the_slot_and_repeating_it_is_harmless() {
    let (c, env) = setup().await;
    let slot = slots(&c, env, 1, 1).await[0].id.clone();
    let p = patient(env, 0);
    let appt = c.book(&p, &slot, &key("cancel")).await.unwrap();
    c.cancel(&p, &appt.id).await.unwrap();
    c.cancel(&p, &appt.id).await.unwrap();
    let s: Slot = c.read(slot.as_str()).await.unwrap();
    assert_eq!(s.status.as_deref(), Some("free"));
    assert!(!c.upcoming_appointments(&p).await.unwrap().iter().any(|a| a.id == appt.id));
}

#[tokio::test]
async fn another_patients_appointment_is_not_found() {
    let (c, env) = setup().await;
    let free = slots(&c, env, 2, 1).await;
    let owner = patient(env, 1);
    let appt = c.book(&owner, &free[0].id, &key("scope")).await.unwrap();
    let intruder = patient(env, 3);
    assert!(matches!(c.cancel(&intruder, &appt.id).await, Err(Error::NotFound(_))));
    let r = c.reschedule(&intruder, &appt.id, &free[1].id, &key("scope-rs")).await;
    assert!(matches!(r, Err(Error::NotFound(_))), "{r:?}");
    let still: FhirAppointment = c.read(appt.id.as_str()).await.unwrap();
    assert_eq!(still.status.as_deref(), Some("booked"));
    assert!(!c.upcoming_appointments(&intruder).await.unwrap().iter().any(|a| a.id == appt.id));
}

#[tokio::test]
async fn medication_list_has_prescribers_refills_and_the_controlled_flag() {
    let (c, env) = setup().await;
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

#[tokio::test]
async fn refill_request_makes_a_task_for_the_prescriber_and_a_communication() {
    let (c, env) = setup().await;
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

#[tokio::test]
async fn recent_discharges_list_the_seeded_stays() {
    let (c, env) = setup().await;
    let since = Utc::now() - Duration::days(7);
    let john = c.recent_discharges(&patient(env, 1), since).await.unwrap();
    assert_eq!(john.len(), 1);
    assert_eq!(john[0].location.as_deref(), Some("Orthopedic ward 3B"));
    assert!(env.demo.discharges.iter().any(|d| d.encounter == john[0].encounter));
    assert!(c.recent_discharges(&patient(env, 2), since).await.unwrap().is_empty());
    assert!(c.recent_discharges(&patient(env, 1), Utc::now()).await.unwrap().is_empty());
}

#[tokio::test]
async fn questionnaire_response_is_written_once_per_key() {
    let (c, env) = setup().await;
    let p = patient(env, 1);
    let enc = c.recent_discharges(&p, Utc::now() - Duration::days(7)).await.unwrap()[0].encounter.clone();
    let answers = vec![
        Answer { link_id: "new-symptoms".into(), value: AnswerValue::Boolean(false) },
        Answer { link_id: "pain".into(), value: AnswerValue::Integer(4) },
        Answer { link_id: "meds-obtained".into(), value: AnswerValue::Boolean(true) },
    ];
    let k = key("qr");
    let r1 = c.submit_questionnaire_response(&p, &env.demo.questionnaire_url, Some(&enc), &answers, &k).await.unwrap();
    let r2 = c.submit_questionnaire_response(&p, &env.demo.questionnaire_url, Some(&enc), &answers, &k).await.unwrap();
    assert_eq!(r1, r2);
    let id = r1.0.strip_prefix("QuestionnaireResponse/").unwrap();
    let qr: model::QuestionnaireResponse = c.read(id).await.unwrap();
    assert_eq!(qr.meta.as_ref().and_then(|m| m.version_id.as_deref()), Some("1"), "second submit wrote nothing");
    assert_eq!(qr.item.len(), 3);
    assert_eq!(qr.encounter.as_ref().and_then(|e| e.id_of("Encounter")), Some(enc.as_str()));
    let r = c.submit_questionnaire_response(&patient(env, 2), "q", Some(&enc), &answers, &key("qr-x")).await;
    assert!(matches!(r, Err(Error::NotFound(_))), "someone else's encounter: {r:?}");
}

#[tokio::test]
async fn seeding_again_creates_nothing_and_finds_the_same_data() {
    let (c, env) = setup().await;
    let again = seed_demo(&c, env.today).await.unwrap();
    assert_eq!(again.created, 0);
    assert_eq!(again.patients, env.demo.patients);
    assert_eq!(again.practitioners, env.demo.practitioners);
    assert!(env.demo.created > 200, "first run created the data ({})", env.demo.created);
    assert_eq!(c.patient_name(&patient(env, 0)).await.unwrap().as_deref(), Some("María García López"));
    assert_eq!(env.demo.patients[0].language, "es");
}

#[tokio::test]
async fn free_slots_filter_by_specialty_name_case_insensitively() {
    let (c, env) = setup().await;
    let q = SlotQuery { specialty: Some("dermatology".into()), limit: 5, ..Default::default() };
    let derm = c.free_slots(&q).await.unwrap();
    assert_eq!(derm.len(), 5);
    assert!(derm.iter().all(|s| s.practitioner.as_ref() == Some(&env.demo.practitioners[2].id)));
    assert!(derm.windows(2).all(|w| w[0].start <= w[1].start));
    assert!(derm.iter().all(|s| s.start >= Utc::now()));
    let none = c.free_slots(&SlotQuery { specialty: Some("neurosurgery".into()), ..Default::default() }).await.unwrap();
    assert!(none.is_empty());
}

/// A venv with the pinned fhirkit-rs validator (test-only), created once under a lock.
fn fhirkit_python() -> std::path::PathBuf {
    let venv = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("venv-fhirkit");
    let lock = std::fs::File::create(venv.with_extension("lock")).unwrap();
    lock.lock().unwrap();
    let py = venv.join("bin").join("python");
    let ready = std::process::Command::new(&py).args(["-c", "import fhirkit"]).output().is_ok_and(|o| o.status.success());
    if !ready {
        let run = |cmd: &mut std::process::Command| assert!(cmd.status().unwrap().success(), "{cmd:?}");
        run(std::process::Command::new("python3").arg("-m").arg("venv").arg(&venv));
        run(std::process::Command::new(venv.join("bin").join("pip"))
            .args(["install", "--quiet", "--disable-pip-version-check", "fhirkit-rs==0.1.0"]));
    }
    py
}

/// fhirkit's error-severity issues ("Type: path: message") for each resource.
fn fhirkit_errors(resources: &[serde_json::Value]) -> Vec<String> {
    let file = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("emitted-{}.json", uuid::Uuid::new_v4()));
    std::fs::write(&file, serde_json::to_vec(resources).unwrap()).unwrap();
    let script = r#"
import json, sys, fhirkit
for r in json.load(open(sys.argv[1])):
    for i in fhirkit.validate(r):
        if i.severity == "error":
            print(f"{r['resourceType']}: {i.path}: {i.message}")
"#;
    let out = std::process::Command::new(fhirkit_python()).args(["-c", script]).arg(&file).output().unwrap();
    let _ = std::fs::remove_file(&file);
    assert!(out.status.success(), "fhirkit ran: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).lines().map(str::to_string).collect()
}

#[tokio::test]
async fn resources_we_write_pass_fhirkit_r4_validation() {
    let (c, env) = setup().await;
    let john = patient(env, 1);
    let slot = slots(&c, env, 1, 2).await[0].id.clone();
    let appt = c.book(&john, &slot, &key("valid")).await.unwrap();
    let med = c.active_medications(&john).await.unwrap()[0].request.clone();
    let task = c.request_refill(&john, &med, "please refill", &key("valid")).await.unwrap();
    let enc = env.demo.discharges.iter().find(|d| d.patient == john).unwrap().encounter.clone();
    let answers = [Answer { link_id: "pain".into(), value: AnswerValue::Integer(3) }];
    let k = key("valid");
    let qr = c.submit_questionnaire_response(&john, &env.demo.questionnaire_url, Some(&enc), &answers, &k);
    let qr = qr.await.unwrap();
    let mut all = Vec::new();
    let mut add = |v: serde_json::Value| all.push(v);
    add(serde_json::to_value(c.read::<FhirAppointment>(appt.id.as_str()).await.unwrap()).unwrap());
    add(serde_json::to_value(c.read::<Task>(task.id.as_str()).await.unwrap()).unwrap());
    add(serde_json::to_value(c.read::<model::QuestionnaireResponse>(qr.0.split('/').nth(1).unwrap()).await.unwrap()).unwrap());
    add(serde_json::to_value(c.read::<model::Questionnaire>(&env.demo.questionnaire_id).await.unwrap()).unwrap());
    let pages = c.search_page::<Communication>(&[("patient", format!("Patient/{john}"))]).await.unwrap();
    let mut n = 0;
    for page in [
        pages,
        c.search_page::<model::Patient>(&[]).await.unwrap(),
        c.search_page::<model::Practitioner>(&[]).await.unwrap(),
        c.search_page::<model::PractitionerRole>(&[]).await.unwrap(),
        c.search_page::<model::Schedule>(&[]).await.unwrap(),
        c.search_page::<Slot>(&[("_count", "5".into())]).await.unwrap(),
        c.search_page::<model::MedicationRequest>(&[]).await.unwrap(),
        c.search_page::<model::MedicationDispense>(&[]).await.unwrap(),
        c.search_page::<model::Encounter>(&[]).await.unwrap(),
    ] {
        for r in page.entry.into_iter().filter_map(|e| e.resource) {
            n += 1;
            add(r);
        }
    }
    assert!(n > 30, "validated a real sample ({n})");
    let broken = serde_json::json!({"resourceType": "Slot", "status": "free", "start": 5});
    assert!(!fhirkit_errors(&[broken]).is_empty(), "the validator does report problems");
    let errors = fhirkit_errors(&all);
    assert!(errors.is_empty(), "fhirkit found problems:\n{}", errors.join("\n"));
}
