//! From TOML text to a `Script`: deserialise with byte spans (`toml::Spanned`), then turn each
//! raw step into a typed one, collecting every problem with its line and column.

use std::collections::BTreeMap;
use std::ops::Range;

use serde::Deserialize;
use toml::Spanned;

use super::*;

type S = Spanned<String>;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScript {
    id: S,
    version: Spanned<u32>,
    #[serde(default)]
    trigger: RawTrigger,
    #[serde(default)]
    allowed_actions: Vec<S>,
    #[serde(default)]
    red_flags: Vec<S>,
    #[serde(default)]
    slots: BTreeMap<S, RawSlot>,
    #[serde(default)]
    steps: Vec<Spanned<RawStep>>,
    #[serde(default)]
    strings: BTreeMap<S, RawString>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawTrigger {
    event: Option<S>,
    #[serde(default)]
    intents: BTreeMap<S, RawIntent>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawIntent {
    #[serde(default)]
    keywords: Vec<String>,
    #[serde(default)]
    yields_to: Vec<S>,
    #[serde(default)]
    en: Vec<String>,
    #[serde(default)]
    es: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSlot {
    #[serde(rename = "type")]
    ty: S,
    /// `"trouble"`: a yes/no question about trouble ("any new symptoms?"), where "I'm fine"
    /// answers no.
    about: Option<S>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawString {
    en: Option<String>,
    es: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawStep {
    pub id: S,
    pub kind: S,
    pub slot: Option<S>,
    pub text: Option<S>,
    pub next: Option<S>,
    pub action: Option<S>,
    pub into: Option<S>,
    pub from: Option<S>,
    pub none: Option<S>,
    pub yes: Option<S>,
    pub no: Option<S>,
    pub on_error: Option<S>,
    pub on_unavailable: Option<S>,
    pub reason: Option<S>,
    pub priority: Option<S>,
    pub note: Option<S>,
    pub questionnaire: Option<S>,
    pub widen_days: Option<u32>,
    #[serde(default)]
    pub with: BTreeMap<String, S>,
    #[serde(default)]
    pub answers: Vec<S>,
    #[serde(default)]
    pub cases: Vec<RawCase>,
    #[serde(rename = "else")]
    pub otherwise: Option<S>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCase {
    pub goto: S,
    pub intent: Option<S>,
    pub filled: Option<S>,
    pub empty: Option<S>,
    pub slot: Option<S>,
    pub is: Option<bool>,
    pub at_least: Option<u8>,
    pub check: Option<S>,
}

/// Collects diagnostics for one source, turning byte spans into line:column.
pub(super) struct Diags<'a> {
    path: &'a str,
    text: &'a str,
    pub list: Vec<Diagnostic>,
}

impl<'a> Diags<'a> {
    pub fn at(&mut self, span: Range<usize>, message: impl Into<String>) {
        let start = span.start.min(self.text.len());
        let before = &self.text[..start];
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map(|l| l.chars().count()).unwrap_or(0) + 1;
        self.list.push(Diagnostic { path: self.path.to_string(), line, column, message: message.into() });
    }
}

/// Parses and validates one script source.
pub fn compile(path: &str, text: &str) -> Result<Script, Vec<Diagnostic>> {
    let mut d = Diags { path, text, list: Vec::new() };
    let raw: RawScript = match toml::from_str(text) {
        Ok(r) => r,
        Err(e) => {
            d.at(e.span().unwrap_or(0..0), e.message().trim().to_string());
            return Err(d.list);
        }
    };
    let script = build(&raw, &mut d);
    check::check(&raw.steps, &script, &mut d);
    if d.list.is_empty() {
        Ok(script)
    } else {
        d.list.sort_by_key(|x| (x.line, x.column));
        Err(d.list)
    }
}

fn build(raw: &RawScript, d: &mut Diags) -> Script {
    let intents = raw
        .trigger
        .intents
        .iter()
        .map(|(name, i)| IntentDef {
            name: name.get_ref().clone(),
            keywords: i.keywords.clone(),
            yields_to: i.yields_to.iter().map(|y| y.get_ref().clone()).collect(),
            examples: i.en.iter().chain(&i.es).cloned().collect(),
            examples_en: i.en.clone(),
            examples_es: i.es.clone(),
        })
        .collect::<Vec<_>>();
    for i in raw.trigger.intents.values() {
        for y in &i.yields_to {
            if !raw.trigger.intents.keys().any(|k| k.get_ref() == y.get_ref()) {
                d.at(y.span(), format!("yields_to names '{}', which is not an intent of this script", y.get_ref()));
            }
        }
    }
    if intents.is_empty() && raw.trigger.event.is_none() {
        d.at(raw.id.span(), "the script has no trigger: give [trigger] intents or an event");
    }
    let mut allowed = Vec::new();
    for a in &raw.allowed_actions {
        match Action::parse(a.get_ref()) {
            Some(x) => allowed.push(x),
            None => d.at(a.span(), format!("unknown action '{}' in allowed_actions", a.get_ref())),
        }
    }
    let mut red_flags = Vec::new();
    for r in &raw.red_flags {
        match RuleSet::parse(r.get_ref()) {
            Some(x) => red_flags.push(x),
            None => d.at(r.span(), format!("unknown red-flag rule set '{}' (known: core, post_discharge)", r.get_ref())),
        }
    }
    let mut slots = BTreeMap::new();
    let mut about_trouble = std::collections::BTreeSet::new();
    for (name, s) in &raw.slots {
        match SlotType::parse(s.ty.get_ref()) {
            Some(t) => {
                slots.insert(name.get_ref().clone(), t);
                if let Some(about) = &s.about {
                    match (t, about.get_ref().as_str()) {
                        (SlotType::YesNo, "trouble") => {
                            about_trouble.insert(name.get_ref().clone());
                        }
                        (SlotType::YesNo, other) => d.at(about.span(), format!("unknown 'about' value '{other}' (known: trouble)")),
                        _ => d.at(about.span(), "'about' applies only to a yes_no slot".to_string()),
                    }
                }
            }
            None => d.at(
                s.ty.span(),
                format!("unknown slot type '{}' (date_window, choice, medication, yes_no, scale, text, provider)", s.ty.get_ref()),
            ),
        }
    }
    let strings = build_strings(raw, d);
    let steps = raw.steps.iter().filter_map(|s| build_step(s.get_ref(), s.span(), d)).collect();
    Script {
        id: raw.id.get_ref().clone(),
        version: *raw.version.get_ref(),
        intents,
        event: raw.trigger.event.as_ref().map(|e| e.get_ref().clone()),
        allowed_actions: allowed,
        red_flags,
        slots,
        about_trouble,
        steps,
        strings,
    }
}

/// Script strings; each needs both an English and a Spanish text.
fn build_strings(raw: &RawScript, d: &mut Diags) -> BTreeMap<String, Localized> {
    let mut strings = BTreeMap::new();
    for (key, s) in &raw.strings {
        for (lang, v) in [("en", &s.en), ("es", &s.es)] {
            if v.as_deref().is_none_or(|t| t.trim().is_empty()) {
                d.at(key.span(), format!("missing translation: string '{}' has no '{lang}' text", key.get_ref()));
            }
        }
        let get = |v: &Option<String>| v.clone().unwrap_or_default();
        strings.insert(key.get_ref().clone(), Localized { en: get(&s.en), es: get(&s.es) });
    }
    strings
}

fn need(d: &mut Diags, v: &Option<S>, field: &str, step: &RawStep, span: &Range<usize>) -> Option<String> {
    match v {
        Some(s) => Some(s.get_ref().clone()),
        None => {
            d.at(span.clone(), format!("step '{}' ({}) needs '{field}'", step.id.get_ref(), step.kind.get_ref()));
            None
        }
    }
}

fn opt(v: &Option<S>) -> Option<String> {
    v.as_ref().map(|s| s.get_ref().clone())
}

fn build_step(r: &RawStep, span: Range<usize>, d: &mut Diags) -> Option<Step> {
    let kind = match r.kind.get_ref().as_str() {
        "ask" => StepKind::Ask {
            slot: need(d, &r.slot, "slot", r, &span)?,
            text: need(d, &r.text, "text", r, &span)?,
            from: opt(&r.from),
            next: need(d, &r.next, "next", r, &span)?,
        },
        "extract" => {
            StepKind::Extract { slot: need(d, &r.slot, "slot", r, &span)?, from: opt(&r.from), next: need(d, &r.next, "next", r, &span)? }
        }
        "lookup" | "act" => return build_action_step(r, span, d),
        "offer" => StepKind::Offer {
            slot: need(d, &r.slot, "slot", r, &span)?,
            from: need(d, &r.from, "from", r, &span)?,
            text: need(d, &r.text, "text", r, &span)?,
            next: need(d, &r.next, "next", r, &span)?,
            none: need(d, &r.none, "none", r, &span)?,
        },
        "confirm" => StepKind::Confirm {
            text: need(d, &r.text, "text", r, &span)?,
            yes: need(d, &r.yes, "yes", r, &span)?,
            no: need(d, &r.no, "no", r, &span)?,
        },
        "say" => StepKind::Say { text: need(d, &r.text, "text", r, &span)?, next: need(d, &r.next, "next", r, &span)? },
        "branch" => StepKind::Branch { cases: build_cases(r, d)?, otherwise: need(d, &r.otherwise, "else", r, &span)? },
        "escalate" => {
            let p = need(d, &r.priority, "priority", r, &span)?;
            let priority = match p.as_str() {
                "normal" => Priority::Normal,
                "high" => Priority::High,
                "urgent" => Priority::Urgent,
                _ => {
                    let at = r.priority.as_ref().map(|s| s.span()).unwrap_or(span);
                    d.at(at, format!("unknown priority '{p}' (normal, high, urgent)"));
                    return None;
                }
            };
            StepKind::Escalate { priority, reason: need(d, &r.reason, "reason", r, &span)?, text: opt(&r.text), next: opt(&r.next) }
        }
        "end" => StepKind::End { text: opt(&r.text) },
        other => {
            d.at(
                r.kind.span(),
                format!("unknown step kind '{other}' (ask, extract, lookup, offer, confirm, act, say, branch, escalate, end)"),
            );
            return None;
        }
    };
    Some(Step { id: r.id.get_ref().clone(), kind })
}

fn build_action_step(r: &RawStep, span: Range<usize>, d: &mut Diags) -> Option<Step> {
    let name = need(d, &r.action, "action", r, &span)?;
    let at = r.action.as_ref().map(|s| s.span()).unwrap_or(span.clone());
    let Some(action) = Action::parse(&name) else {
        d.at(at, format!("unknown action '{name}'"));
        return None;
    };
    let lookup = r.kind.get_ref() == "lookup";
    if lookup != action.is_lookup() {
        let why = if lookup { "writes to the EHR: use an 'act' step" } else { "only reads: use a 'lookup' step" };
        d.at(at, format!("action '{name}' {why}"));
        return None;
    }
    let with = r.with.iter().map(|(k, v)| (k.clone(), v.get_ref().clone())).collect();
    let next = need(d, &r.next, "next", r, &span)?;
    let kind = if lookup {
        StepKind::Lookup { action, with, into: need(d, &r.into, "into", r, &span)?, widen_days: r.widen_days.unwrap_or(0), next }
    } else {
        let answers = r.answers.iter().map(|a| a.get_ref().clone()).collect();
        StepKind::Act { action, with, note: opt(&r.note), answers, questionnaire: opt(&r.questionnaire), next, on_error: opt(&r.on_error), on_unavailable: opt(&r.on_unavailable) }
    };
    Some(Step { id: r.id.get_ref().clone(), kind })
}

fn build_cases(r: &RawStep, d: &mut Diags) -> Option<Vec<(Cond, String)>> {
    let mut out = Vec::new();
    for c in &r.cases {
        let slot = opt(&c.slot);
        let cond = if let Some(i) = &c.intent {
            Cond::Intent(i.get_ref().clone())
        } else if let Some(f) = &c.filled {
            Cond::Filled(f.get_ref().clone())
        } else if let Some(e) = &c.empty {
            Cond::Empty(e.get_ref().clone())
        } else if let (Some(s), Some(b)) = (&slot, c.is) {
            Cond::Is(s.clone(), b)
        } else if let (Some(s), Some(n)) = (&slot, c.at_least) {
            Cond::AtLeast(s.clone(), n)
        } else if let (Some(s), Some(chk)) = (&slot, &c.check) {
            let m = match chk.get_ref().as_str() {
                "controlled" => MedCheck::Controlled,
                "no_refills" => MedCheck::NoRefills,
                "too_recent" => MedCheck::TooRecent,
                other => {
                    d.at(chk.span(), format!("unknown medication check '{other}' (controlled, no_refills, too_recent)"));
                    return None;
                }
            };
            Cond::Med(s.clone(), m)
        } else {
            d.at(c.goto.span(), "a case needs one condition: intent, filled, empty, or slot with is / at_least / check");
            return None;
        };
        out.push((cond, c.goto.get_ref().clone()));
    }
    Some(out)
}
