#![cfg(feature = "sekmet")]
//! The shared contract checks (tests/common) against sekmet-fhir, plus a validation of what
//! we write with fhirkit-rs. One server and one seed per test binary.

mod common;

use std::sync::OnceLock;

use common::Ctx;
use fhir_client::model::{Appointment as FhirAppointment, Communication, Slot, Task};
use fhir_client::sekmet::{Sekmet, SekmetOptions};
use fhir_client::*;

static ENV: OnceLock<(Sekmet, Ctx)> = OnceLock::new();

async fn ctx() -> &'static Ctx {
    let env = tokio::task::spawn_blocking(|| {
        ENV.get_or_init(|| {
            let server = Sekmet::start(SekmetOptions::default()).expect("sekmet starts");
            let ctx = Ctx::seed(server.config());
            (server, ctx)
        })
    });
    &env.await.unwrap().1
}

contract_tests!(ctx);

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
    let env = ctx().await;
    let c = env.client();
    let john = common::patient(env, 1);
    let slot = common::slots(&c, env, 1, 2).await[0].id.clone();
    let appt = c.book(&john, &slot, &common::key("valid")).await.unwrap();
    let med = c.active_medications(&john).await.unwrap()[0].request.clone();
    let task = c.request_refill(&john, &med, "please refill", &common::key("valid")).await.unwrap();
    let enc = env.demo.discharges.iter().find(|d| d.patient == john).unwrap().encounter.clone();
    let answers = [Answer { link_id: "pain".into(), value: AnswerValue::Integer(3) }];
    let k = common::key("valid");
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
