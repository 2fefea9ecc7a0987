//! The script language: what an admin writes (TOML, see `workflows/scripts/`), compiled into
//! the typed `Script` the engine runs. Loading validates everything it can before a script is
//! ever published, and reports each problem as file:line:column with a plain message.

mod check;
mod load;

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::redflags::RuleSet;
use crate::{Lang, Priority};

pub use load::compile;

/// One validation problem, pointing into the script source.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Diagnostic {
    pub path: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl std::fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}:{}: {}", self.path, self.line, self.column, self.message)
    }
}

/// Every problem in one script source (empty when it is valid).
pub fn validate_source(path_for_messages: &str, text: &str) -> Vec<Diagnostic> {
    match compile(path_for_messages, text) {
        Ok(_) => Vec::new(),
        Err(diags) => diags,
    }
}

/// Validates a script file, or every `*.toml` script in a folder (`agent scripts validate PATH`).
pub fn validate_path(path: &Path) -> Vec<Diagnostic> {
    if path.is_dir() {
        return load_dir(path).err().unwrap_or_default();
    }
    match std::fs::read_to_string(path) {
        Ok(text) => validate_source(&path.display().to_string(), &text),
        Err(e) => vec![io_diag(path, &e)],
    }
}

/// Loads every `*.toml` script in `dir`; any invalid script fails the whole load with its
/// diagnostics (a half-loaded set of scripts is worse than none).
pub fn load_dir(dir: &Path) -> Result<Vec<Script>, Vec<Diagnostic>> {
    let entries = std::fs::read_dir(dir).map_err(|e| vec![io_diag(dir, &e)])?;
    let mut paths: Vec<_> =
        entries.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.extension().is_some_and(|x| x == "toml")).collect();
    paths.sort();
    let (mut scripts, mut diags) = (Vec::new(), Vec::new());
    for path in paths {
        match std::fs::read_to_string(&path) {
            Ok(text) => match compile(&path.display().to_string(), &text) {
                Ok(s) => scripts.push(s),
                Err(d) => diags.extend(d),
            },
            Err(e) => diags.push(io_diag(&path, &e)),
        }
    }
    if diags.is_empty() {
        Ok(scripts)
    } else {
        Err(diags)
    }
}

fn io_diag(path: &Path, e: &std::io::Error) -> Diagnostic {
    Diagnostic { path: path.display().to_string(), line: 1, column: 1, message: format!("cannot read: {e}") }
}

/// The built-in scripts, embedded so the service runs without a scripts folder.
pub const BUILTIN_SOURCES: &[(&str, &str)] = &[
    ("scripts/appointment.toml", include_str!("../../scripts/appointment.toml")),
    ("scripts/refill.toml", include_str!("../../scripts/refill.toml")),
    ("scripts/discharge_followup.toml", include_str!("../../scripts/discharge_followup.toml")),
];

/// The built-in scripts, compiled. They are validated by the test suite, so an error here is
/// a build defect; it is still returned, not panicked on.
pub fn builtin() -> Result<Vec<Script>, Vec<Diagnostic>> {
    let mut out = Vec::new();
    for (path, text) in BUILTIN_SOURCES {
        out.push(compile(path, text)?);
    }
    Ok(out)
}

/// A compiled, valid script.
#[derive(Clone, Debug)]
pub struct Script {
    pub id: String,
    pub version: u32,
    /// Intents this script answers (router), with keywords and examples in both languages.
    pub intents: Vec<IntentDef>,
    /// An event that starts the script from the agent's side (e.g. "discharge").
    pub event: Option<String>,
    pub allowed_actions: Vec<Action>,
    pub red_flags: Vec<RuleSet>,
    pub slots: BTreeMap<String, SlotType>,
    /// Yes/no slots that ask about trouble (`about = "trouble"`): "I'm fine" answers no.
    pub about_trouble: std::collections::BTreeSet<String>,
    /// Steps in file order; the first one is where the script starts.
    pub steps: Vec<Step>,
    pub strings: BTreeMap<String, Localized>,
}

impl Script {
    pub fn step(&self, id: &str) -> Option<&Step> {
        self.steps.iter().find(|s| s.id == id)
    }
    /// What kind of yes/no question `slot` asks.
    pub fn question(&self, slot: &str) -> crate::understand::values::Question {
        use crate::understand::values::Question;
        if self.about_trouble.contains(slot) {
            Question::AboutTrouble
        } else {
            Question::Plain
        }
    }
    /// The text for `key` in `lang`.
    pub fn string<'a>(&'a self, key: &'a str, lang: Lang) -> &'a str {
        self.strings.get(key).map(|l| l.get(lang)).unwrap_or(key)
    }
}

#[derive(Clone, Debug)]
pub struct IntentDef {
    pub name: String,
    /// Phrases that settle the intent without the model when one intent alone has a hit.
    pub keywords: Vec<String>,
    /// Intents of the same script that win when their keywords hit too ("book" yields to
    /// "cancel": "cancel my appointment for a checkup" is a cancellation).
    pub yields_to: Vec<String>,
    /// Example messages (EN and ES) for nearest-example classification.
    pub examples: Vec<String>,
    pub examples_en: Vec<String>,
    pub examples_es: Vec<String>,
}

impl IntentDef {
    /// The menu label for this intent: its first example in `lang`.
    pub fn menu(&self, lang: Lang) -> Option<&str> {
        match lang {
            Lang::En => self.examples_en.first(),
            Lang::Es => self.examples_es.first(),
        }
        .map(String::as_str)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Localized {
    pub en: String,
    pub es: String,
}

impl Localized {
    pub fn get(&self, lang: Lang) -> &str {
        match lang {
            Lang::En => &self.en,
            Lang::Es => &self.es,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SlotType {
    DateWindow,
    /// One of the options an `offer` step showed (a free slot, an appointment).
    Choice,
    /// A medication on the patient's active list.
    Medication,
    YesNo,
    Scale,
    Text,
    /// A practitioner name or a specialty, used to search free slots.
    Provider,
}

impl SlotType {
    pub fn parse(s: &str) -> Option<SlotType> {
        Some(match s {
            "date_window" => SlotType::DateWindow,
            "choice" => SlotType::Choice,
            "medication" => SlotType::Medication,
            "yes_no" => SlotType::YesNo,
            "scale" => SlotType::Scale,
            "text" => SlotType::Text,
            "provider" => SlotType::Provider,
            _ => return None,
        })
    }
}

/// The EHR operations a script may name; each script lists the ones it may use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    FindSlots,
    UpcomingAppointments,
    ActiveMedications,
    Book,
    Reschedule,
    Cancel,
    RequestRefill,
    SubmitQuestionnaire,
}

impl Action {
    pub fn parse(s: &str) -> Option<Action> {
        Some(match s {
            "find_slots" => Action::FindSlots,
            "upcoming_appointments" => Action::UpcomingAppointments,
            "active_medications" => Action::ActiveMedications,
            "book" => Action::Book,
            "reschedule" => Action::Reschedule,
            "cancel" => Action::Cancel,
            "request_refill" => Action::RequestRefill,
            "submit_questionnaire" => Action::SubmitQuestionnaire,
            _ => return None,
        })
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Action::FindSlots => "find_slots",
            Action::UpcomingAppointments => "upcoming_appointments",
            Action::ActiveMedications => "active_medications",
            Action::Book => "book",
            Action::Reschedule => "reschedule",
            Action::Cancel => "cancel",
            Action::RequestRefill => "request_refill",
            Action::SubmitQuestionnaire => "submit_questionnaire",
        }
    }
    /// Reads only (allowed in `lookup`) versus writes (only in `act`).
    pub fn is_lookup(self) -> bool {
        matches!(self, Action::FindSlots | Action::UpcomingAppointments | Action::ActiveMedications)
    }
    /// The `with` parameters it takes: (name, required, slot type).
    pub fn params(self) -> &'static [(&'static str, bool, SlotType)] {
        match self {
            // `like`: an appointment whose practitioner the new slot should be with.
            Action::FindSlots => {
                &[("when", false, SlotType::DateWindow), ("provider", false, SlotType::Provider), ("like", false, SlotType::Choice)]
            }
            Action::UpcomingAppointments | Action::ActiveMedications | Action::SubmitQuestionnaire => &[],
            Action::Book => &[("slot", true, SlotType::Choice)],
            Action::Reschedule => &[("appointment", true, SlotType::Choice), ("slot", true, SlotType::Choice)],
            Action::Cancel => &[("appointment", true, SlotType::Choice)],
            Action::RequestRefill => &[("medication", true, SlotType::Medication)],
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MedCheck {
    Controlled,
    NoRefills,
    TooRecent,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Cond {
    Intent(String),
    Filled(String),
    /// A lookup result list is empty.
    Empty(String),
    Is(String, bool),
    AtLeast(String, u8),
    Med(String, MedCheck),
}

#[derive(Clone, Debug)]
pub struct Step {
    pub id: String,
    pub kind: StepKind,
}

#[derive(Clone, Debug)]
pub enum StepKind {
    Ask {
        slot: String,
        text: String,
        from: Option<String>,
        next: String,
    },
    Extract {
        slot: String,
        from: Option<String>,
        next: String,
    },
    Lookup {
        action: Action,
        with: BTreeMap<String, String>,
        into: String,
        widen_days: u32,
        next: String,
    },
    Offer {
        slot: String,
        from: String,
        text: String,
        next: String,
        none: String,
    },
    Confirm {
        text: String,
        yes: String,
        no: String,
    },
    Act {
        action: Action,
        with: BTreeMap<String, String>,
        note: Option<String>,
        answers: Vec<String>,
        questionnaire: Option<String>,
        next: String,
        on_error: Option<String>,
        /// Where to go when the EHR does not answer: the write is kept (`TurnOutcome::deferred`)
        /// and made once the EHR is back. Without it, that failure takes `on_error`.
        on_unavailable: Option<String>,
    },
    Say {
        text: String,
        next: String,
    },
    Branch {
        cases: Vec<(Cond, String)>,
        otherwise: String,
    },
    Escalate {
        priority: Priority,
        reason: String,
        text: Option<String>,
        next: Option<String>,
    },
    End {
        text: Option<String>,
    },
}

impl Step {
    /// Outgoing edges: (label, target). Labels name branches for coverage.
    pub fn edges(&self) -> Vec<(String, String)> {
        let e = |l: &str, t: &String| (l.to_string(), t.clone());
        match &self.kind {
            StepKind::Ask { next, .. } | StepKind::Extract { next, .. } | StepKind::Lookup { next, .. } | StepKind::Say { next, .. } => {
                vec![e("next", next)]
            }
            StepKind::Offer { next, none, .. } => vec![e("next", next), e("none", none)],
            StepKind::Confirm { yes, no, .. } => vec![e("yes", yes), e("no", no)],
            StepKind::Act { next, on_error, on_unavailable, .. } => {
                let mut v = vec![e("next", next)];
                v.extend(on_error.iter().map(|t| e("error", t)));
                v.extend(on_unavailable.iter().map(|t| e("unavailable", t)));
                v
            }
            StepKind::Branch { cases, otherwise } => {
                let mut v: Vec<_> = cases.iter().enumerate().map(|(i, (_, t))| (format!("case{}", i + 1), t.clone())).collect();
                v.push(e("else", otherwise));
                v
            }
            StepKind::Escalate { next, .. } => next.iter().map(|t| e("next", t)).collect(),
            StepKind::End { .. } => Vec::new(),
        }
    }
}
