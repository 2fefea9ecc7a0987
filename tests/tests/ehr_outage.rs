//! The long EHR outage (issue 10's fault figure): N patients book one appointment each through
//! the real binary (portal launch tokens, the widget's four turns) while sekmet-fhir is killed
//! (SIGKILL, as in a crash), kept down for OUTAGE seconds and started again on its data. A
//! quarter book before the crash, a quarter confirm at the moment of it (some of those turns are
//! in flight), a quarter confirm while it is down, a quarter book after it is back. Every turn
//! answers 200; every turn that found the EHR down is told the request is kept. Once it is back,
//! the EHR itself holds exactly N Appointments, one per patient, each on the slot that patient
//! picked and marked busy, and every patient is told "booked" exactly once; `agent audit
//! verify` passes.
//!
//! Each patient asks for a day of their own (two slots on it, nobody else's), so no booking
//! can legitimately lose its slot. `OUTAGE_BOOKINGS` (default 12) and `OUTAGE_SECONDS`
//! (default 5) size it; `scripts/outage-bench` runs 200 bookings and 120 s. Kept writes are
//! retried after `OUTAGE_FIRST_RETRY_SECONDS` (1) doubling up to `OUTAGE_MAX_RETRY_SECONDS` (5).

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDate, Utc};
use e2e::ehr_crash::{Crash, CrashProxy};
use e2e::{agent_command, audit_verify, ensure_models, env_or, free_port, init_key, Patient, RunningAgent};
use fhir_client::sekmet::{Sekmet, SekmetOptions};
use futures::StreamExt;
use serde_json::{json, Value};

const LAUNCH_SECRET: &str = "portal-secret-of-the-ehr-outage-test";
const PRACTITIONER: &str = "outage-dr";
/// Slot start hours (UTC; the clinic's offset is 0) on each patient's own day.
const HOURS: [u32; 2] = [10, 14];

/// Patient `i` of the run: their FHIR id, their day, and the slot they will pick.
fn patient_id(i: usize) -> String {
    format!("outage-p{i}")
}
fn slot_id(i: usize, k: usize) -> String {
    format!("outage-s{i}-{k}")
}
fn day_of(i: usize, first: NaiveDate) -> NaiveDate {
    first + chrono::Duration::days(i as i64)
}

/// One batch: a practitioner, their schedule, `n` patients, two free slots on each patient's day.
async fn make_ehr_data(base: &str, n: usize, first: NaiveDate) {
    let put = |r: Value| {
        let url = format!("{}/{}", r["resourceType"].as_str().unwrap(), r["id"].as_str().unwrap());
        json!({ "resource": r, "request": { "method": "PUT", "url": url } })
    };
    let mut entries = vec![
        put(json!({ "resourceType": "Practitioner", "id": PRACTITIONER, "active": true,
                    "name": [{ "family": "Okoye", "given": ["Ruth"], "prefix": ["Dr."] }] })),
        put(json!({ "resourceType": "Schedule", "id": "outage-sched", "active": true,
                    "actor": [{ "reference": format!("Practitioner/{PRACTITIONER}"), "display": "Dr. Ruth Okoye" }] })),
    ];
    for i in 0..n {
        entries.push(put(json!({ "resourceType": "Patient", "id": patient_id(i), "active": true,
                                 "name": [{ "family": format!("Outage{i}"), "given": ["Pat"] }] })));
        for (k, h) in HOURS.iter().enumerate() {
            let start = day_of(i, first).and_hms_opt(*h, 0, 0).unwrap().and_utc();
            let at = |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
            entries.push(put(json!({ "resourceType": "Slot", "id": slot_id(i, k), "status": "free",
                                     "schedule": { "reference": "Schedule/outage-sched" },
                                     "start": at(start), "end": at(start + chrono::Duration::minutes(30)) })));
        }
    }
    let bundle = json!({ "resourceType": "Bundle", "type": "batch", "entry": entries });
    let r = reqwest::Client::new().post(base).header("Content-Type", "application/fhir+json").json(&bundle).send().await.unwrap();
    let body: Value = r.json().await.unwrap();
    let statuses: Vec<&str> = body["entry"].as_array().unwrap().iter().map(|e| e["response"]["status"].as_str().unwrap_or("")).collect();
    assert!(statuses.len() == 2 + 3 * n && statuses.iter().all(|s| s.starts_with('2')), "EHR data: {statuses:?}");
}

/// The agent command (for `serve` and `audit verify`): SQLite in `data`, the portal's launch
/// key, kept writes retried after `retry.0` s doubling up to `retry.1` s, rate limits out of
/// the way.
fn command(data: &Path, ehr_url: &str, retry: (u64, u64)) -> Command {
    let mut c = agent_command(data);
    c.env("AGENT__SERVER__DEMO", "false")
        .env("AGENT__DEMO_EHR__ENABLED", "false")
        .env("AGENT__FHIR__BASE_URL", ehr_url)
        .env("AGENT__FHIR__ALLOW_PLAIN_HTTP", "true")
        .env("AGENT__PORTAL__LAUNCH_KEY_FILE", data.join("launch.key"))
        .env("AGENT__PORTAL__AUDIENCE", "patient-agent")
        .env("AGENT__OUTBOX__FIRST_RETRY_SECONDS", retry.0.to_string())
        .env("AGENT__OUTBOX__MAX_RETRY_SECONDS", retry.1.to_string());
    for (k, v) in [("SESSION_PER_MINUTE", "1000000"), ("SESSION_BURST", "1000000"), ("ADDRESS_PER_MINUTE", "1000000"), ("ADDRESS_BURST", "1000000")] {
        c.env(format!("AGENT__LIMITS__{k}"), v);
    }
    c
}

fn launch_token(patient: &str) -> String {
    let claims = json!({ "patient": patient, "aud": "patient-agent", "exp": chrono::Utc::now().timestamp() + 3600 });
    jsonwebtoken::encode(&jsonwebtoken::Header::default(), &claims, &jsonwebtoken::EncodingKey::from_secret(LAUNCH_SECRET.as_bytes())).unwrap()
}

/// A patient at "Shall I book ...?" in their conversation.
struct Booker {
    index: usize,
    p: Patient,
    conv: String,
}

/// What a confirming turn answered.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Answer {
    Booked,
    Kept,
}
/// A confirming turn: its answer, and when it was sent and answered.
struct Confirmed {
    index: usize,
    answer: Answer,
    sent: Instant,
    answered: Instant,
}

fn say_ok(turn: &Value, what: &str) -> String {
    assert_eq!(turn["escalated"], false, "{what}: no person needed: {turn}");
    let said = turn["replies"].to_string();
    assert!(!said.contains("took that time") && !said.contains("went wrong"), "{what}: {turn}");
    said
}

/// Launch, start, ask for an appointment on the patient's own day, pick one of the two times.
async fn open(base: String, i: usize, first: NaiveDate) -> Booker {
    let p = Patient::launched(&base, &launch_token(&patient_id(i)), &patient_id(i)).await.unwrap();
    let (conv, _) = p.start().await.unwrap();
    let day = day_of(i, first);
    let offer = p.say(&conv, &format!("I need an appointment on {}", day.format("%B %-d"))).await.unwrap();
    say_ok(&offer, "offer");
    let options: Vec<String> = offer["replies"].as_array().unwrap().iter().flat_map(|r| r["options"].as_array().cloned().unwrap_or_default()).filter_map(|o| o.as_str().map(str::to_owned)).collect();
    let label = day.format("%a %-d %b").to_string();
    assert!(options.len() == 2 && options.iter().all(|o| o.contains(&label)), "patient {i} offered their own day {label}: {offer}");
    let pick = &options[i % 2];
    assert!(pick.contains(&format!("{:02}:00", HOURS[i % 2])), "{pick}");
    let confirm = p.say(&conv, pick).await.unwrap();
    assert!(say_ok(&confirm, "pick").contains("Shall I book"), "{confirm}");
    Booker { index: i, p, conv }
}

/// "yes": booked there and then, or kept for the outbox; nothing else is acceptable.
async fn confirm(b: &Booker) -> Confirmed {
    let sent = Instant::now();
    let turn = b.p.say(&b.conv, "yes").await.unwrap_or_else(|e| panic!("patient {}: {e}", b.index));
    let said = say_ok(&turn, "confirm");
    let answer = if said.contains("You're booked") {
        Answer::Booked
    } else if said.contains("kept your request") {
        Answer::Kept
    } else {
        panic!("patient {}: neither booked nor kept: {turn}", b.index)
    };
    Confirmed { index: b.index, answer, sent, answered: Instant::now() }
}

async fn agent_texts(b: &Booker) -> Vec<String> {
    let (status, history) = b.p.get(&format!("/api/conversations/{}/messages", b.conv)).await.unwrap();
    assert_eq!(status, 200, "history of patient {}", b.index);
    let all = history.as_array().cloned().unwrap_or_default();
    all.iter().filter(|m| m["role"] == "agent").map(|m| m["text"].as_str().unwrap_or_default().to_owned()).collect()
}

fn told_back(texts: &[String]) -> usize {
    texts.iter().filter(|t| t.contains("system is back: you're booked")).count()
}

/// Runs `f` over `items`, at most `limit` at a time, results in order.
async fn each<T, F, Fut, R>(items: impl IntoIterator<Item = T>, limit: usize, f: F) -> Vec<R>
where
    F: Fn(T) -> Fut,
    Fut: std::future::Future<Output = R>,
{
    futures::stream::iter(items.into_iter().map(f)).buffered(limit).collect().await
}

/// Confirms every one of `bookers` at once through `proxy`, armed with the EHR: the first
/// booking transaction to reach the EHR is committed there, then the EHR crashes before its
/// answer comes back; the other turns are in flight or come after. (The crash, the answers.)
async fn stop_under(bookers: &[Booker], proxy: &CrashProxy, ehr: Sekmet, limit: usize) -> (Crash, Vec<Confirmed>) {
    let crashed = proxy.arm(ehr);
    let crashed = async { tokio::time::timeout(Duration::from_secs(60), crashed).await.expect("a booking reached the EHR").unwrap() };
    let (confirmed, crash) = tokio::join!(each(bookers, limit, confirm), crashed);
    (crash, confirmed)
}

/// While the EHR is down: `bookers` confirm spread over the first half of the outage (each is
/// told the request is kept), `/ready` says the EHR is down, nobody is told "booked".
async fn while_down(base: &str, bookers: &[Booker], kept_before: &[&Booker], down_at: Instant, outage: Duration, limit: usize) -> Vec<Confirmed> {
    let spread = outage / 2;
    let n = bookers.len().max(1) as u32;
    let confirmed = each(bookers.iter().enumerate(), limit, |(j, b)| async move {
        tokio::time::sleep_until((down_at + spread * j as u32 / n).into()).await;
        confirm(b).await
    })
    .await;
    for c in &confirmed {
        assert_eq!(c.answer, Answer::Kept, "patient {} confirmed while the EHR was down", c.index);
    }
    let ready: Value = reqwest::get(format!("{base}/ready")).await.unwrap().json().await.unwrap();
    assert_eq!(ready["checks"]["ehr"]["status"], "down", "{ready}");
    tokio::time::sleep_until((down_at + outage).into()).await;
    for b in kept_before.iter().copied().chain(bookers) {
        let texts = agent_texts(b).await;
        assert_eq!(told_back(&texts), 0, "patient {} told while the EHR was down: {texts:?}", b.index);
    }
    confirmed
}

/// Waits until each of `kept` has been told the booking was made; how long that took.
async fn wait_told(kept: &[&Booker], since: Instant, bound: Duration, limit: usize, agent: &RunningAgent) -> Duration {
    loop {
        let told = each(kept, limit, |b| async move { told_back(&agent_texts(b).await) > 0 }).await;
        if told.iter().all(|t| *t) {
            return since.elapsed();
        }
        let missing: Vec<usize> = kept.iter().zip(&told).filter(|(_, t)| !**t).map(|(b, _)| b.index).collect();
        assert!(since.elapsed() < bound, "not told within {bound:?} of the restart: patients {missing:?}\n{}", agent.logs());
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Every Appointment in the EHR (the test's EHR holds nothing else), all pages.
async fn appointments(base: &str) -> Vec<Value> {
    let http = reqwest::Client::new();
    let (mut url, mut out) = (format!("{base}/Appointment?_count=100"), vec![]);
    for _ in 0..1000 {
        let page: Value = http.get(&url).header("Accept", "application/fhir+json").send().await.unwrap().json().await.unwrap();
        out.extend(page["entry"].as_array().cloned().unwrap_or_default().into_iter().map(|e| e["resource"].clone()));
        let links = page["link"].as_array().cloned().unwrap_or_default();
        match links.iter().find(|l| l["relation"] == "next").and_then(|l| l["url"].as_str()) {
            Some(next) => url = next.to_owned(),
            None => return out,
        }
    }
    panic!("Appointment search does not end")
}

/// From the EHR itself: exactly one booked Appointment per patient, on the slot that patient
/// picked, that slot busy and the other one of their day still free. Returns when the EHR
/// stored each patient's Appointment (`meta.lastUpdated`; none is changed afterwards).
async fn check_ehr(base: &str, n: usize, limit: usize) -> Vec<DateTime<Utc>> {
    let all = appointments(base).await;
    assert_eq!(all.len(), n, "exactly {n} Appointments in the EHR (no duplicate, none lost)");
    let mut by_patient: HashMap<String, Vec<&Value>> = HashMap::new();
    for a in &all {
        assert_eq!(a["status"], "booked", "{a}");
        let patients: Vec<&str> = a["participant"].as_array().unwrap().iter().filter_map(|p| p["actor"]["reference"].as_str()).filter(|r| r.starts_with("Patient/")).collect();
        assert_eq!(patients.len(), 1, "{a}");
        by_patient.entry(patients[0].trim_start_matches("Patient/").to_owned()).or_default().push(a);
    }
    let (mut slots, mut stored_at) = (HashSet::new(), vec![]);
    for i in 0..n {
        let theirs = by_patient.get(&patient_id(i)).map(Vec::as_slice).unwrap_or_default();
        assert_eq!(theirs.len(), 1, "patient {i}: one Appointment: {theirs:?}");
        let slot = theirs[0]["slot"][0]["reference"].as_str().unwrap_or_default();
        assert_eq!(slot, format!("Slot/{}", slot_id(i, i % 2)), "patient {i} on the slot they picked");
        assert!(slots.insert(slot.to_owned()), "two Appointments on {slot}");
        let stored = theirs[0]["meta"]["lastUpdated"].as_str().and_then(|c| c.parse().ok());
        stored_at.push(stored.unwrap_or_else(|| panic!("meta.lastUpdated: {}", theirs[0])));
    }
    let statuses = each((0..n).flat_map(|i| [(i, 0), (i, 1)]), limit, |(i, k)| async move {
        let s: Value = reqwest::get(format!("{base}/Slot/{}", slot_id(i, k))).await.unwrap().json().await.unwrap();
        (i, k, s["status"].as_str().unwrap_or_default().to_owned())
    })
    .await;
    for (i, k, status) in statuses {
        let want = if k == i % 2 { "busy" } else { "free" };
        assert_eq!(status, want, "slot {k} of patient {i}");
    }
    stored_at
}

/// Each patient told "booked" exactly once: at the turn, or by the outbox when their request
/// was kept (and then told it was kept, once); nobody told the time was taken or it failed.
async fn check_told(bookers: &[&Booker], kept: &HashSet<usize>, limit: usize) {
    let histories = each(bookers, limit, |b| async move { (b.index, agent_texts(b).await) }).await;
    for (i, texts) in histories {
        let count = |needle: &str| texts.iter().filter(|t| t.to_lowercase().contains(needle)).count();
        let was_kept = usize::from(kept.contains(&i));
        assert_eq!(count("you're booked"), 1, "patient {i} told booked once: {texts:?}");
        assert_eq!((count("kept your request"), told_back(&texts)), (was_kept, was_kept), "patient {i}: {texts:?}");
        assert_eq!(count("took that time") + count("went wrong") + count("could not be completed"), 0, "patient {i}: {texts:?}");
    }
}

/// Once the EHR is back: patients `late` book from the start while the outbox drains. Their
/// bookers and answers, and how long after `up_at` every one of `kept` had been told.
async fn once_back(
    agent: &RunningAgent,
    late: impl Iterator<Item = usize>,
    first: NaiveDate,
    kept: &[&Booker],
    up_at: Instant,
    limit: usize,
) -> (Vec<Booker>, Vec<Confirmed>, Duration) {
    let bound = Duration::from_secs(120) + Duration::from_secs(2) * kept.len() as u32;
    let late = each(late, limit, |i| async move {
        let b = open(agent.base_url.clone(), i, first).await;
        let c = confirm(&b).await;
        (b, c)
    });
    let (late, drained) = tokio::join!(late, wait_told(kept, up_at, bound, limit, agent));
    let (bookers, confirmed): (Vec<Booker>, Vec<Confirmed>) = late.into_iter().unzip();
    assert!(confirmed.iter().all(|c| c.answer == Answer::Booked), "booked once the EHR is back");
    (bookers, confirmed, drained)
}

/// Everything the run needs: the EHR with its data, the proxy the agent reaches it through
/// (the test itself goes direct), and the agent.
struct Rig {
    _dir: tempfile::TempDir,
    data: std::path::PathBuf,
    ehr_opts: SekmetOptions,
    ehr: Sekmet,
    ehr_url: String,
    proxy: CrashProxy,
    agent: RunningAgent,
    first_day: NaiveDate,
}

async fn rig(n: usize, retry: (u64, u64)) -> Rig {
    let dir = tempfile::tempdir().unwrap();
    let ehr_opts = SekmetOptions { data_dir: Some(dir.path().join("ehr")), port: free_port(), ..SekmetOptions::default() };
    let ehr = Sekmet::start_async(ehr_opts.clone()).await.expect("sekmet starts");
    let ehr_url = ehr.base_url().to_owned();
    let first_day = Utc::now().date_naive() + chrono::Duration::days(2);
    make_ehr_data(&ehr_url, n, first_day).await;
    let data = dir.path().join("agent");
    std::fs::create_dir_all(&data).unwrap();
    init_key(&data);
    std::fs::write(data.join("launch.key"), LAUNCH_SECRET).unwrap();
    std::fs::set_permissions(data.join("launch.key"), std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let proxy = CrashProxy::start(ehr_opts.port).await;
    let agent = RunningAgent::start(command(&data, &proxy.base_url, retry)).await.expect("agent starts");
    Rig { _dir: dir, data, ehr_opts, ehr, ehr_url, proxy, agent, first_day }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bookings_made_while_the_ehr_is_down_for_long_are_made_exactly_once() {
    ensure_models();
    let n = env_or("OUTAGE_BOOKINGS", 12) as usize;
    let outage = Duration::from_secs(env_or("OUTAGE_SECONDS", 5));
    let limit = env_or("OUTAGE_CONCURRENCY", 16) as usize;
    let began = Instant::now();
    let retry = (env_or("OUTAGE_FIRST_RETRY_SECONDS", 1), env_or("OUTAGE_MAX_RETRY_SECONDS", 5));
    let Rig { _dir, data, ehr_opts, ehr, ehr_url, proxy, agent, first_day: first } = rig(n, retry).await;
    let base = agent.base_url.clone();
    let set_up = began.elapsed();

    // Up: a quarter book outright; half reach "Shall I book?"; the last quarter waits.
    let ready = each((0..n).filter(|i| i % 4 != 3), limit, |i| open(base.clone(), i, first)).await;
    let (before, waiting): (Vec<Booker>, Vec<Booker>) = ready.into_iter().partition(|b| b.index % 4 == 0);
    let mut confirmed = each(&before, limit, confirm).await;
    assert!(confirmed.iter().all(|c| c.answer == Answer::Booked), "booked while the EHR is up");
    let (at_stop, during): (Vec<Booker>, Vec<Booker>) = waiting.into_iter().partition(|b| b.index % 4 == 1);

    // The crash under a quarter's confirmations, the outage under another quarter's.
    let (crash, stopped) = stop_under(&at_stop, &proxy, ehr, limit).await;
    let down_at = crash.down;
    let in_flight = stopped.iter().filter(|c| c.sent < crash.began && c.answered > crash.began).count();
    let kept_at_stop: Vec<&Booker> = at_stop.iter().filter(|b| stopped.iter().any(|c| c.index == b.index && c.answer == Answer::Kept)).collect();
    confirmed.extend(stopped);
    confirmed.extend(while_down(&base, &during, &kept_at_stop, down_at, outage, limit).await);

    // Back on the same data and port: the last quarter books while the outbox drains.
    let restart_at = Instant::now();
    let ehr = Sekmet::start_async(ehr_opts).await.expect("sekmet starts again on its data");
    let up_at = Instant::now();
    let kept: Vec<&Booker> = kept_at_stop.iter().copied().chain(&during).collect();
    let (after, after_confirmed, drained) = once_back(&agent, (0..n).filter(|i| i % 4 == 3), first, &kept, up_at, limit).await;
    confirmed.extend(after_confirmed);
    tokio::time::sleep(Duration::from_secs(6)).await; // more outbox passes change nothing

    let kept_ids: HashSet<usize> = confirmed.iter().filter(|c| c.answer == Answer::Kept).map(|c| c.index).collect();
    assert_eq!(kept_ids.len(), kept.len());
    let everyone: Vec<&Booker> = before.iter().chain(&at_stop).chain(&during).chain(&after).collect();
    assert_eq!((everyone.len(), confirmed.len()), (n, n), "every patient confirmed once");
    check_told(&everyone, &kept_ids, limit).await;
    let stored_at = check_ehr(&ehr_url, n, limit).await;
    // Kept, yet stored before the crash: the turn's own write committed and only its answer was
    // lost; the outbox found it by its key instead of booking again.
    let committed_unanswered = kept_ids.iter().filter(|i| stored_at[**i] < crash.began_wall).count();
    drop(agent);
    let audit = audit_verify(command(&data, &proxy.base_url, (1, 5)));
    drop(ehr);
    let direct = n - kept_ids.len();
    eprintln!(
        "ehr outage: {n} bookings, EHR down {:.0} s (restart {:.1} s): {direct} booked at the turn ({} before, {} at the stop, {} after), {} kept in the outbox \
         ({} at the stop, {in_flight} turns in flight as it stopped, {committed_unanswered} of them already in the EHR, {} while down); all told within {:.1} s of the restart \
         (outbox retry {}→{} s); \
         EHR: {n} Appointments, 0 duplicates, 0 lost, {n} slots busy; audit verify: {audit}; set-up {:.0} s, total {:.0} s",
        (restart_at - down_at).as_secs_f64(), (up_at - restart_at).as_secs_f64(), before.len(), at_stop.len() - kept_at_stop.len(), after.len(), kept_ids.len(),
        kept_at_stop.len(), during.len(), drained.as_secs_f64(), retry.0, retry.1, set_up.as_secs_f64(), began.elapsed().as_secs_f64()
    );
    assert!(committed_unanswered >= 1, "the booking that crashed the EHR was kept and found by its key, not made again");
}
