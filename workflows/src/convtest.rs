//! Conversation tests: TOML files of turns (what the patient says, what must follow) run
//! against an engine the caller builds (fakes here, the real model and EHR in `agent scripts
//! test`), with branch coverage per script from the edges each turn took.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use fhir_client::{EncounterId, PatientId};
use serde::{Deserialize, Serialize};

use crate::engine::{Engine, StartTrigger};
use crate::{Error, Lang, Priority, Result, TurnOutcome};

/// One test file.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConversationCase {
    pub name: String,
    /// The EHR data the case expects (the factory decides what a name means).
    #[serde(default = "default_fixture")]
    pub fixture: String,
    /// "patient" (greeting, then turns) or an event name such as "discharge".
    #[serde(default = "default_start")]
    pub start: String,
    pub lang: Option<Lang>,
    /// The clock for the whole case (dates the patient says are relative to it).
    pub now: Option<DateTime<Utc>>,
    /// Checks on the opening message (agent-started conversations).
    #[serde(default)]
    pub opening: Expect,
    pub turns: Vec<TurnCase>,
    #[serde(skip)]
    pub file: String,
}

fn default_fixture() -> String {
    "default".into()
}
fn default_start() -> String {
    "patient".into()
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TurnCase {
    pub say: String,
    #[serde(flatten)]
    pub expect: Expect,
}

/// What must be true after a turn; every field is optional.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    pub intent: Option<String>,
    pub script: Option<String>,
    /// Slot name → expected value (scalar, or "from..to" for a date window).
    #[serde(default)]
    pub slots: BTreeMap<String, toml::Value>,
    /// An EHR write with this action happened in the turn ("none" = no write).
    pub effect: Option<String>,
    /// The EHR did not answer and a write with this action was kept for the outbox ("none" =
    /// nothing kept).
    pub deferred: Option<String>,
    /// "urgent" / "high" / "normal" / "none".
    pub escalation: Option<String>,
    /// The escalation's reason: red_flag:CATEGORY, asked_for_person, script:REASON, ...
    pub reason: Option<String>,
    pub red_flag: Option<String>,
    /// Some reply contains this text (case-insensitive).
    pub reply_contains: Option<String>,
    /// The last reply offers this many quick replies.
    pub options: Option<usize>,
    pub finished: Option<bool>,
}

#[derive(Clone, Debug, Serialize)]
pub struct CaseResult {
    pub file: String,
    pub name: String,
    pub passed: bool,
    pub failures: Vec<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct ScriptCoverage {
    pub script: String,
    pub version: u32,
    pub covered: usize,
    pub total: usize,
    /// Edges no case took, as "step:edge".
    pub uncovered: Vec<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct ConversationReport {
    pub cases: Vec<CaseResult>,
    pub coverage: Vec<ScriptCoverage>,
}

impl ConversationReport {
    pub fn passed(&self) -> bool {
        self.cases.iter().all(|c| c.passed)
    }
}

/// Builds the engine (and the patient in session) a case runs against.
#[async_trait]
pub trait EngineFactory: Send + Sync {
    async fn engine(&self, case: &ConversationCase) -> Result<(Engine, PatientId)>;
}

/// Reads every `*.toml` case in `dir`.
pub fn load_cases(dir: &Path) -> Result<Vec<ConversationCase>> {
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| Error::Invalid(format!("cannot read {}: {e}", dir.display())))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    paths.sort();
    let mut out = Vec::new();
    for p in paths {
        let text = std::fs::read_to_string(&p).map_err(|e| Error::Invalid(format!("cannot read {}: {e}", p.display())))?;
        let mut case: ConversationCase = toml::from_str(&text).map_err(|e| Error::Invalid(format!("{}: {}", p.display(), e.message())))?;
        case.file = p.display().to_string();
        out.push(case);
    }
    Ok(out)
}

/// Runs every case in `dir`; a failing case does not stop the others.
pub async fn run_conversation_tests(dir: &Path, factory: &dyn EngineFactory) -> Result<ConversationReport> {
    let mut cases = Vec::new();
    let mut taken: BTreeSet<(String, u32, String)> = BTreeSet::new();
    let mut edges: BTreeMap<(String, u32), Vec<String>> = BTreeMap::new();
    for case in load_cases(dir)? {
        let (engine, patient) = factory.engine(&case).await?;
        for s in engine.scripts() {
            let all = s.steps.iter().flat_map(|st| st.edges().into_iter().map(move |(l, _)| format!("{}:{l}", st.id))).collect();
            edges.entry((s.id.clone(), s.version)).or_insert(all);
        }
        let (failures, trace) = run_case(&engine, &patient, &case).await;
        taken.extend(trace);
        cases.push(CaseResult { file: case.file.clone(), name: case.name.clone(), passed: failures.is_empty(), failures });
    }
    let coverage = edges
        .into_iter()
        .map(|((script, version), all)| {
            let uncovered: Vec<String> =
                all.iter().filter(|e| !taken.contains(&(script.clone(), version, (*e).clone()))).cloned().collect();
            ScriptCoverage { covered: all.len() - uncovered.len(), total: all.len(), uncovered, script, version }
        })
        .collect();
    Ok(ConversationReport { cases, coverage })
}

type Trace = Vec<(String, u32, String)>;

async fn run_case(engine: &Engine, patient: &PatientId, case: &ConversationCase) -> (Vec<String>, Trace) {
    let now = case.now.unwrap_or_else(Utc::now);
    let mut failures = Vec::new();
    let mut trace = Vec::new();
    let trigger = match case.start.as_str() {
        "patient" => StartTrigger::Patient,
        event => StartTrigger::Event { name: event.to_string(), encounter: EncounterId::parse("enc-test").ok() },
    };
    let (mut st, opening) = match engine.start(patient, case.lang, trigger, now).await {
        Ok(x) => x,
        Err(e) => return (vec![format!("start failed: {e}")], trace),
    };
    record(&opening, &mut trace);
    check(&case.opening, &opening, &mut failures, "opening");
    for (i, turn) in case.turns.iter().enumerate() {
        match engine.turn(&mut st, patient, &turn.say, now).await {
            Ok(out) => {
                record(&out, &mut trace);
                check(&turn.expect, &out, &mut failures, &format!("turn {} ({:?})", i + 1, turn.say));
            }
            Err(e) => failures.push(format!("turn {}: engine error: {e}", i + 1)),
        }
    }
    (failures, trace)
}

fn record(out: &TurnOutcome, trace: &mut Trace) {
    if let (Some(s), Some(v)) = (&out.script_id, out.script_version) {
        trace.extend(out.trace.iter().map(|e| (s.clone(), v, e.clone())));
    }
}

fn priority_name(p: Priority) -> &'static str {
    match p {
        Priority::Normal => "normal",
        Priority::High => "high",
        Priority::Urgent => "urgent",
    }
}

fn check(e: &Expect, out: &TurnOutcome, failures: &mut Vec<String>, at: &str) {
    let mut fail = |what: String| failures.push(format!("{at}: {what}"));
    if let Some(want) = &e.intent {
        if out.intent.as_ref() != Some(want) {
            fail(format!("intent {:?}, expected {want}", out.intent));
        }
    }
    if let Some(want) = &e.script {
        if out.script_id.as_ref() != Some(want) {
            fail(format!("script {:?}, expected {want}", out.script_id));
        }
    }
    for (slot, want) in &e.slots {
        let got = out.slots.get(slot).map(slot_summary);
        if got.as_deref() != Some(value_text(want).as_str()) {
            fail(format!("slot {slot} = {got:?}, expected {}", value_text(want)));
        }
    }
    let effects: Vec<&str> = out.effects.iter().map(|x| x.action.as_str()).collect();
    if let Some(want) = e.effect.as_ref().filter(|w| !actions_match(w, &effects)) {
        fail(format!("effects {effects:?}, expected {want}"));
    }
    let deferred: Vec<&str> = out.deferred.iter().map(|x| x.write.action()).collect();
    if let Some(want) = e.deferred.as_ref().filter(|w| !actions_match(w, &deferred)) {
        fail(format!("kept writes {deferred:?}, expected {want}"));
    }
    if let Some(want) = &e.escalation {
        let got = out.escalation.as_ref().map(|x| priority_name(x.priority)).unwrap_or("none");
        if got != want {
            fail(format!("escalation {got}, expected {want}"));
        }
    }
    if let Some(want) = &e.reason {
        let got = out.escalation.as_ref().map(|x| reason_text(&x.reason));
        if got.as_ref() != Some(want) {
            fail(format!("reason {got:?}, expected {want}"));
        }
    }
    if let Some(want) = &e.red_flag {
        if out.red_flag.as_ref() != Some(want) {
            fail(format!("red flag {:?}, expected {want}", out.red_flag));
        }
    }
    if let Some(want) = &e.reply_contains {
        let all: Vec<String> = out.replies.iter().map(|r| r.text.to_lowercase()).collect();
        if !all.iter().any(|t| t.contains(&want.to_lowercase())) {
            fail(format!("no reply contains {want:?}; replies: {all:?}"));
        }
    }
    if let Some(want) = e.options {
        let got = out.replies.last().map(|r| r.options.len()).unwrap_or(0);
        if got != want {
            fail(format!("{got} options, expected {want}"));
        }
    }
    if let Some(want) = e.finished {
        if out.finished != want {
            fail(format!("finished {}, expected {want}", out.finished));
        }
    }
}

/// `want` is "none" and there are no actions, or one of them.
fn actions_match(want: &str, actions: &[&str]) -> bool {
    if want == "none" {
        actions.is_empty()
    } else {
        actions.contains(&want)
    }
}

fn reason_text(r: &crate::EscalationReason) -> String {
    use crate::EscalationReason::*;
    match r {
        RedFlag(c) => format!("red_flag:{c}"),
        AskedForPerson => "asked_for_person".into(),
        LowConfidence => "low_confidence".into(),
        WorkflowFailure(w) => format!("workflow_failure:{w}"),
        NoReply => "no_reply".into(),
        Script(s) => format!("script:{s}"),
    }
}

/// A slot's JSON (`{"scale": 7}`, `{"date_window": {...}}`) as the short text tests compare.
fn slot_summary(v: &serde_json::Value) -> String {
    let Some((kind, inner)) = v.as_object().and_then(|o| o.iter().next()) else {
        return v.to_string();
    };
    match kind.as_str() {
        "date_window" => {
            let s = |k: &str| inner.get(k).and_then(|x| x.as_str()).unwrap_or("").to_string();
            let part = inner.get("part").and_then(|x| x.as_str()).map(|p| format!(" {p}")).unwrap_or_default();
            format!("{}..{}{part}", s("from"), s("to"))
        }
        "medication" => inner.get("name").and_then(|x| x.as_str()).unwrap_or("").to_string(),
        "choice" => {
            inner.as_object().and_then(|o| o.values().next()).and_then(|x| x.get("id")).and_then(|x| x.as_str()).unwrap_or("").to_string()
        }
        "provider" => inner.get("name").and_then(|x| x.as_str()).unwrap_or("anyone").to_string(),
        _ => match inner {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        },
    }
}

fn value_text(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}
