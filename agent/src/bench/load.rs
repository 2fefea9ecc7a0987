//! Simulated patients under load: each session runs the project's own conversation cases
//! (booking, refill and discharge follow-up, from `workflows/conversations`) over HTTP against
//! the real model and the demo EHR, the way the widget does (server-sent events), at each
//! concurrency level in turn. A refused turn (429/503) is counted and resent after the server's
//! hint with the same Idempotency-Key, as the widget would.

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context;
use fhir_client::{EncounterId, PatientId};
use serde::Serialize;
use workflows::Lang;

use super::client::{Client, Posted};
use super::stats::{add_error, round2, Errors, Latency, Tally};
use crate::chat::{self, Opening};
use crate::state::AppState;

/// One conversation case as a patient plays it.
#[derive(Clone, Debug)]
pub struct Scenario {
    pub name: String,
    pub patient: PatientId,
    pub lang: Option<Lang>,
    /// The follow-up's encounter when the agent starts the conversation (a discharge).
    pub discharge: Option<EncounterId>,
    pub says: Vec<String>,
}

/// The booking, refill and discharge cases whose fixture is a plain demo patient (no prepared
/// appointment, rival booking or stopped prescriptions), interleaved so consecutive
/// conversations of one session run different workflows. Discharge cases get the patient's
/// real recent discharge from the EHR; a patient without one drops the case.
pub async fn scenarios(dir: &Path, state: &AppState) -> anyhow::Result<Vec<Scenario>> {
    let cases = workflows::convtest::load_cases(dir).with_context(|| format!("reading the cases in {}", dir.display()))?;
    let mut by_kind: [Vec<Scenario>; 3] = Default::default();
    for case in cases {
        let stem = Path::new(&case.file).file_stem().and_then(|s| s.to_str()).unwrap_or_default().to_owned();
        let Some(kind) = ["book_", "refill_", "discharge_"].iter().position(|p| stem.starts_with(p)) else { continue };
        let Some(patient) = demo_patient(state, &case.fixture) else { continue };
        let discharge = match case.start.as_str() {
            "patient" => None,
            "discharge" => match latest_discharge(state, &patient).await {
                Some(e) => Some(e),
                None => continue,
            },
            _ => continue,
        };
        let says = case.turns.iter().map(|t| t.say.clone()).collect();
        by_kind[kind].push(Scenario { name: stem, patient, lang: case.lang, discharge, says });
    }
    let longest = by_kind.iter().map(Vec::len).max().unwrap_or(0);
    let mut out = Vec::new();
    for i in 0..longest {
        out.extend(by_kind.iter().filter_map(|k| k.get(i).cloned()));
    }
    anyhow::ensure!(!out.is_empty(), "no usable conversation cases in {}", dir.display());
    Ok(out)
}

/// The demo patient a plain fixture names (`john`, `maria`, ...); none for fixtures with options.
fn demo_patient(state: &AppState, fixture: &str) -> Option<PatientId> {
    let first = if fixture == "default" { "john" } else { fixture };
    if first.contains('+') {
        return None;
    }
    let p = state.demo_patients.iter().find(|p| {
        p.name.split_whitespace().next().is_some_and(|n| n.to_lowercase().replace('í', "i") == first)
    })?;
    PatientId::parse(p.id.clone()).ok()
}

pub(super) async fn latest_discharge(state: &AppState, patient: &PatientId) -> Option<EncounterId> {
    let since = chrono::Utc::now() - chrono::Duration::days(60);
    let found = state.ehr.recent_discharges(patient, since).await.ok()?;
    found.into_iter().max_by_key(|d| d.discharged).map(|d| d.encounter)
}

/// The figures of one concurrency level.
#[derive(Clone, Debug, Serialize)]
pub struct LevelResult {
    pub sessions: usize,
    pub turns_per_session: usize,
    pub turns: usize,
    pub conversations: usize,
    pub seconds: f64,
    pub turns_per_sec: f64,
    pub latency: Latency,
    /// Time to the first server-sent event of a turn (`progress`).
    pub first_event: Latency,
    pub errors: Errors,
}

/// Runs `sessions` simulated patients at once, each taking `turns` turns.
pub async fn level(state: &AppState, client: &Client, scenarios: &[Scenario], sessions: usize, turns: usize) -> anyhow::Result<LevelResult> {
    let mut tokens = Vec::with_capacity(sessions);
    for _ in 0..sessions {
        let mut mine = HashMap::new();
        for s in scenarios {
            if let std::collections::hash_map::Entry::Vacant(slot) = mine.entry(s.patient.as_str().to_owned()) {
                slot.insert(client.sign_in(s.patient.as_str()).await?);
            }
        }
        tokens.push(mine);
    }
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for (i, mine) in tokens.into_iter().enumerate() {
        let (state, client, scenarios) = (state.clone(), client.clone(), scenarios.to_vec());
        tasks.spawn(async move { session(&state, &client, &scenarios, &mine, i, turns).await });
    }
    let (mut tally, mut conversations) = (Tally::default(), 0);
    while let Some(done) = tasks.join_next().await {
        let (t, c) = done.context("a simulated session panicked")?;
        tally.merge(t);
        conversations += c;
    }
    let seconds = started.elapsed().as_secs_f64();
    let done = tally.turns.len();
    Ok(LevelResult {
        sessions,
        turns_per_session: turns,
        turns: done,
        conversations,
        seconds: round2(seconds),
        turns_per_sec: round2(done as f64 / seconds.max(1e-9)),
        latency: Latency::of(&tally.turns),
        first_event: Latency::of(&tally.first_event),
        errors: tally.errors,
    })
}

/// One simulated patient: conversation after conversation (starting at case `index`) until it
/// has taken `turns` turns. Returns its samples and how many conversations it had.
async fn session(
    state: &AppState,
    client: &Client,
    scenarios: &[Scenario],
    tokens: &HashMap<String, String>,
    index: usize,
    turns: usize,
) -> (Tally, usize) {
    let (mut tally, mut done, mut conversations) = (Tally::default(), 0, 0);
    let mut next = index;
    // A session whose conversations all fail to start gives up rather than spinning.
    let mut failed_starts = 0;
    while done < turns && failed_starts < 3 {
        let sc = &scenarios[next % scenarios.len()];
        next += 1;
        let token = &tokens[sc.patient.as_str()];
        let conv = match open(state, client, sc, token).await {
            Ok(c) => c,
            Err(kind) => {
                add_error(&mut tally.errors, &kind);
                failed_starts += 1;
                continue;
            }
        };
        conversations += 1;
        for say in &sc.says {
            if done >= turns {
                break;
            }
            done += 1;
            if !turn(client, token, &conv, say, &mut tally).await {
                break;
            }
        }
    }
    (tally, conversations)
}

/// A patient opens the widget (over HTTP), or a discharge starts the follow-up (the event an
/// integration would post; opened in-process because it is once per encounter).
async fn open(state: &AppState, client: &Client, sc: &Scenario, token: &str) -> Result<String, String> {
    match &sc.discharge {
        None => client.start(token).await,
        Some(enc) => {
            let lang = sc.lang.unwrap_or_default();
            chat::open(state, &sc.patient, lang, Opening::Discharge(enc.clone()))
                .await
                .map(|t| t.conversation_id)
                .map_err(|e| super::stats::status_kind(e.status_code()))
        }
    }
}

/// Resends a refused turn this many times before the conversation is abandoned.
const RESENDS: usize = 3;
/// Longest wait honoured between resends (the server asks for 5 s when the model is full).
const MAX_WAIT: Duration = Duration::from_secs(5);

/// Posts one message (resending on 429/503); false when the conversation cannot go on.
async fn turn(client: &Client, token: &str, conv: &str, text: &str, tally: &mut Tally) -> bool {
    let key = uuid::Uuid::new_v4().to_string();
    for _ in 0..=RESENDS {
        match client.say(token, conv, text, &key).await {
            Posted::Turn { body, first_event, total } => {
                tally.turns.push(total);
                tally.first_event.push(first_event);
                if stalled(&body) {
                    add_error(&mut tally.errors, "deadline");
                }
                return true;
            }
            Posted::Failed { kind, retry } => {
                add_error(&mut tally.errors, &kind);
                match retry {
                    Some(wait) if kind == "503" || kind == "429" => tokio::time::sleep(wait.min(MAX_WAIT)).await,
                    _ => return false,
                }
            }
        }
    }
    false
}

/// The turn ran past `server.turn_deadline_ms` and was handed to a person.
fn stalled(body: &serde_json::Value) -> bool {
    let texts = body["replies"].as_array().into_iter().flatten().filter_map(|r| r["text"].as_str());
    texts.into_iter().any(|t| chat::STALLED_REPLIES.contains(&t))
}

#[cfg(test)]
mod tests {
    use super::stalled;

    #[test]
    fn a_turn_handed_over_for_its_deadline_is_told_apart() {
        let late = serde_json::json!({"replies": [{"text": crate::chat::STALLED_REPLIES[1]}]});
        let fine = serde_json::json!({"replies": [{"text": "Which day suits you?"}]});
        assert!(stalled(&late));
        assert!(!stalled(&fine));
    }
}
