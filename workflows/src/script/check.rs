//! Whole-script checks that need every step at once: targets exist, every step is reachable,
//! actions are allowed, strings exist in both languages, and no slot is read before every
//! path to that step has filled it (a forward must-be-filled analysis over the step graph).

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;

use toml::Spanned;

use super::load::{Diags, RawStep};
use super::*;

/// Names of lookup results live beside slot names in the analysis.
fn result_name(n: &str) -> String {
    format!("results:{n}")
}

const BUILTIN_PLACEHOLDERS: &[&str] = &["patient"];

pub(super) fn check(raw: &[Spanned<RawStep>], script: &Script, d: &mut Diags) {
    if raw.len() != script.steps.len() || raw.is_empty() {
        if raw.is_empty() {
            d.at(0..0, "the script has no steps");
        }
        return; // step errors already reported; graph checks would only cascade
    }
    let mut index = BTreeMap::new();
    for (i, r) in raw.iter().enumerate() {
        if index.insert(r.get_ref().id.get_ref().clone(), i).is_some() {
            d.at(r.get_ref().id.span(), format!("duplicate step id '{}'", r.get_ref().id.get_ref()));
        }
    }
    let mut targets_ok = true;
    for (r, s) in raw.iter().zip(&script.steps) {
        for ((_, target), span) in s.edges().iter().zip(edge_spans(r.get_ref())) {
            if !index.contains_key(target) {
                d.at(span, format!("unknown step '{target}'"));
                targets_ok = false;
            }
        }
        check_step_refs(r.get_ref(), s, script, d);
    }
    if targets_ok {
        check_reachable(raw, script, &index, d);
        check_filled_before_use(raw, script, &index, d);
    }
}

/// Spans of the fields naming each outgoing edge, in `Step::edges` order.
fn edge_spans(r: &RawStep) -> Vec<Range<usize>> {
    let sp = |s: &Option<Spanned<String>>| s.as_ref().map(|s| s.span()).unwrap_or(r.id.span());
    match r.kind.get_ref().as_str() {
        "offer" => vec![sp(&r.next), sp(&r.none)],
        "confirm" => vec![sp(&r.yes), sp(&r.no)],
        "act" => std::iter::once(sp(&r.next))
            .chain(r.on_error.as_ref().map(|s| s.span()))
            .chain(r.on_unavailable.as_ref().map(|s| s.span()))
            .collect(),
        "branch" => r.cases.iter().map(|c| c.goto.span()).chain(std::iter::once(sp(&r.otherwise))).collect(),
        "end" => Vec::new(),
        _ => vec![sp(&r.next)],
    }
}

fn check_step_refs(r: &RawStep, s: &Step, script: &Script, d: &mut Diags) {
    let slot_span = r.slot.as_ref().map(|x| x.span()).unwrap_or(r.id.span());
    let need_slot = |name: &str, span: Range<usize>, want: Option<SlotType>, d: &mut Diags| match script.slots.get(name) {
        None => d.at(span, format!("unknown slot '{name}'")),
        Some(t) if want.is_some_and(|w| w != *t) => d.at(span, format!("slot '{name}' is {t:?}, expected {:?}", want.unwrap_or(*t))),
        _ => {}
    };
    match &s.kind {
        StepKind::Ask { slot, .. } | StepKind::Extract { slot, .. } => need_slot(slot, slot_span, None, d),
        StepKind::Offer { slot, .. } => need_slot(slot, slot_span, Some(SlotType::Choice), d),
        StepKind::Lookup { action, with, .. } | StepKind::Act { action, with, .. } => {
            let at = r.action.as_ref().map(|a| a.span()).unwrap_or(r.id.span());
            if !script.allowed_actions.contains(action) {
                d.at(at.clone(), format!("action '{}' is not in this script's allowed_actions", action.as_str()));
            }
            for (param, required, ty) in action.params() {
                match r.with.get(*param) {
                    Some(v) => need_slot(v.get_ref(), v.span(), Some(*ty), d),
                    None if *required => d.at(at.clone(), format!("action '{}' needs with.{param}", action.as_str())),
                    None => {}
                }
            }
            for k in with.keys().filter(|k| !action.params().iter().any(|p| p.0 == k.as_str())) {
                d.at(at.clone(), format!("action '{}' takes no parameter '{k}'", action.as_str()));
            }
            for a in &r.answers {
                need_slot(a.get_ref(), a.span(), None, d);
            }
        }
        StepKind::Branch { cases, .. } => {
            for ((cond, _), rc) in cases.iter().zip(&r.cases) {
                let sp = rc.slot.as_ref().or(rc.filled.as_ref()).map(|x| x.span()).unwrap_or(rc.goto.span());
                match cond {
                    Cond::Filled(n) => need_slot(n, sp, None, d),
                    Cond::Is(n, _) => need_slot(n, sp, Some(SlotType::YesNo), d),
                    Cond::AtLeast(n, _) => need_slot(n, sp, Some(SlotType::Scale), d),
                    Cond::Med(n, _) => need_slot(n, sp, Some(SlotType::Medication), d),
                    Cond::Intent(i) if !script.intents.iter().any(|x| &x.name == i) => {
                        d.at(rc.intent.as_ref().map(|x| x.span()).unwrap_or(sp), format!("unknown intent '{i}'"))
                    }
                    _ => {}
                }
            }
        }
        _ => {}
    }
    if let Some(t) = &r.text {
        if !script.strings.contains_key(t.get_ref()) {
            d.at(t.span(), format!("unknown string '{}': add it under [strings]", t.get_ref()));
        }
    }
}

fn check_reachable(raw: &[Spanned<RawStep>], script: &Script, index: &BTreeMap<String, usize>, d: &mut Diags) {
    let mut seen = vec![false; script.steps.len()];
    let mut stack = vec![0usize];
    while let Some(i) = stack.pop() {
        if std::mem::replace(&mut seen[i], true) {
            continue;
        }
        stack.extend(script.steps[i].edges().iter().filter_map(|(_, t)| index.get(t).copied()));
    }
    for (i, r) in raw.iter().enumerate().filter(|(i, _)| !seen[*i]) {
        let _ = i;
        d.at(r.get_ref().id.span(), format!("unreachable step '{}': no step leads to it", r.get_ref().id.get_ref()));
    }
}

/// What each edge of a step fills: (edge label, names).
fn gens(s: &Step) -> Vec<Vec<String>> {
    s.edges()
        .iter()
        .enumerate()
        .map(|(i, (label, _))| match (&s.kind, label.as_str()) {
            (StepKind::Ask { slot, .. }, _) | (StepKind::Offer { slot, .. }, "next") => {
                vec![slot.clone()]
            }
            (StepKind::Lookup { into, .. }, _) => vec![result_name(into)],
            (StepKind::Branch { cases, .. }, _) => match cases.get(i) {
                Some((Cond::Filled(n), _)) => vec![n.clone()],
                _ => Vec::new(),
            },
            _ => Vec::new(),
        })
        .collect()
}

/// Names a step reads, with the span to blame and how it reads them.
fn uses(r: &RawStep, s: &Step, script: &Script) -> Vec<(String, Range<usize>, String)> {
    let mut out = Vec::new();
    if let Some(t) = &r.text {
        if let Some(l) = script.strings.get(t.get_ref()) {
            for p in placeholders(&l.en).into_iter().chain(placeholders(&l.es)) {
                if !BUILTIN_PLACEHOLDERS.contains(&p.as_str()) {
                    out.push((p, t.span(), format!("in text '{}'", t.get_ref())));
                }
            }
        }
    }
    // Optional action parameters and questionnaire answers are read only when filled.
    let required: Vec<&str> = match &s.kind {
        StepKind::Lookup { action, .. } | StepKind::Act { action, .. } => action.params().iter().filter(|p| p.1).map(|p| p.0).collect(),
        _ => Vec::new(),
    };
    for (k, v) in r.with.iter().filter(|(k, _)| required.contains(&k.as_str())) {
        out.push((v.get_ref().clone(), v.span(), format!("as with.{k}")));
    }
    if let Some(f) = &r.from {
        out.push((result_name(f.get_ref()), f.span(), "as 'from' (run a lookup into it first)".into()));
    }
    if let StepKind::Branch { cases, .. } = &s.kind {
        for ((c, _), rc) in cases.iter().zip(&r.cases) {
            match c {
                Cond::Is(n, _) | Cond::AtLeast(n, _) | Cond::Med(n, _) => {
                    out.push((n.clone(), rc.slot.as_ref().map(|x| x.span()).unwrap_or(rc.goto.span()), "in a branch".into()))
                }
                Cond::Empty(n) => out.push((
                    result_name(n),
                    rc.empty.as_ref().map(|x| x.span()).unwrap_or(rc.goto.span()),
                    "in a branch (run a lookup into it first)".into(),
                )),
                _ => {}
            }
        }
    }
    out
}

/// `{name}` / `{name.field}` references in a template, by name.
pub fn placeholders(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        let Some(close) = rest[open..].find('}') else {
            break;
        };
        let inner = &rest[open + 1..open + close];
        out.push(inner.split('.').next().unwrap_or(inner).trim().to_string());
        rest = &rest[open + close + 1..];
    }
    out
}

fn check_filled_before_use(raw: &[Spanned<RawStep>], script: &Script, index: &BTreeMap<String, usize>, d: &mut Diags) {
    let n = script.steps.len();
    let mut filled_in: Vec<Option<BTreeSet<String>>> = vec![None; n];
    filled_in[0] = Some(BTreeSet::new());
    let mut work = vec![0usize];
    while let Some(i) = work.pop() {
        let Some(inset) = filled_in[i].clone() else {
            continue;
        };
        let step = &script.steps[i];
        for ((_, target), gen) in step.edges().iter().zip(gens(step)) {
            let Some(&j) = index.get(target) else {
                continue;
            };
            let mut out = inset.clone();
            out.extend(gen);
            let merged = match &filled_in[j] {
                None => out,
                Some(prev) => prev.intersection(&out).cloned().collect(),
            };
            if filled_in[j].as_ref() != Some(&merged) {
                filled_in[j] = Some(merged);
                work.push(j);
            }
        }
    }
    for ((r, s), inset) in raw.iter().zip(&script.steps).zip(&filled_in) {
        let Some(inset) = inset else { continue };
        let mut seen = BTreeSet::new();
        for (name, span, how) in uses(r.get_ref(), s, script) {
            if !inset.contains(&name) && seen.insert((name.clone(), span.start)) {
                let shown = name.strip_prefix("results:").unwrap_or(&name);
                d.at(span, format!("step '{}' uses '{shown}' {how} before it is filled on every path", s.id));
            }
        }
    }
}
