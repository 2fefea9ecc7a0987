#![cfg(feature = "sekmet")]
//! The shared contract checks (tests/common) against sekmet-fhir, plus a validation of what
//! we write with fhirkit-rs. One server and one seed per test binary.

mod common;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

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

/// Reads one HTTP/1.1 request (head + Content-Length body); `None` at EOF.
async fn read_request(sock: &mut TcpStream) -> Option<Vec<u8>> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = sock.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
    let len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    while buf.len() < head_end + len {
        let n = sock.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    Some(buf)
}

/// A proxy to `upstream` that forwards every request but swallows the response to the first
/// `drops` requests starting with `prefix`: the EHR did the work, the client never hears.
async fn lossy_proxy(upstream: SocketAddr, prefix: &'static str, drops: usize) -> (u16, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let dropped = Arc::new(AtomicUsize::new(0));
    let counter = dropped.clone();
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            let counter = counter.clone();
            tokio::spawn(async move {
                let Some(req) = read_request(&mut client).await else { return };
                let line_end = req.windows(2).position(|w| w == b"\r\n").unwrap_or(0) + 2;
                let mut up = TcpStream::connect(upstream).await.unwrap();
                up.write_all(&req[..line_end]).await.unwrap();
                up.write_all(b"Connection: close\r\n").await.unwrap();
                up.write_all(&req[line_end..]).await.unwrap();
                let mut resp = Vec::new();
                up.read_to_end(&mut resp).await.unwrap();
                let lose = req.starts_with(prefix.as_bytes())
                    && counter.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| (n < drops).then_some(n + 1)).is_ok();
                if !lose {
                    let _ = client.write_all(&resp).await;
                }
            });
        }
    });
    (port, dropped)
}

#[tokio::test]
async fn a_booking_whose_answer_is_lost_is_retried_and_books_once() {
    let env = ctx().await;
    let upstream: SocketAddr = {
        let url = reqwest::Url::parse(&env.config.base_url).unwrap();
        format!("127.0.0.1:{}", url.port().unwrap()).parse().unwrap()
    };
    // The transaction (POST to the base) commits on the server, its answer never arrives.
    let (port, dropped) = lossy_proxy(upstream, "POST /fhir/ HTTP", 1).await;
    let via_proxy = FhirConfig { backoff_base_ms: 10, ..FhirConfig::local(format!("http://127.0.0.1:{port}/fhir")) };
    let c = FhirClient::new(&via_proxy).unwrap();
    let slot = common::slots(&c, env, 2, 2).await[0].id.clone();
    let p = common::patient(env, 0);
    let appt = c.book(&p, &slot, &common::key("lost")).await.unwrap();
    assert_eq!(dropped.load(Ordering::SeqCst), 1, "one answer was lost");
    assert!(c.stats().snapshot().retries >= 1);
    assert_eq!(appt.slot.as_ref(), Some(&slot));
    let on_slot: Vec<FhirAppointment> = c.search(&[("slot", format!("Slot/{slot}"))]).await.unwrap();
    assert_eq!(on_slot.len(), 1, "exactly one Appointment after the retry");
    let s: Slot = c.read(slot.as_str()).await.unwrap();
    assert_eq!(s.status.as_deref(), Some("busy"));
}
