//! What a conversation's first message asks for, rules and labelled examples together: a
//! person, medical advice, a script's intent, or not sure (the menu). The rules read first (the
//! person and advice readers, then the scripts' keywords). The labelled patient messages of the
//! example net (`redflags::net`) decide where the rules find nothing, and overrule a rule only
//! when they clearly say something else. Without the examples (not built yet, or switched off),
//! the nearest script example and the chat model's choice decide as before (`intent::classify`).
//!
//! Why: on messages written blind to the rules, the examples' verdict alone was right for three
//! in four, more than the rules with the chat model (docs/understanding.md). The two margins
//! were chosen by leaving each tuning corpus out in turn.

use super::intent::{classify, keyword_guess, nearest_guess, ExampleCache, IntentGuess};
use super::requests::{asks_for_advice, asks_for_person, only_tells};
use crate::redflags::net::{ExampleNet, IntentVerdict};
use crate::script::Script;
use crate::{Result, Understand};

/// The examples' lead (over the next intent) that decides where no rule did.
pub const NET_DECIDES: f32 = 0.05;
/// The lead with which the examples overrule a rule.
pub const NET_OVERRULES: f32 = 0.12;

/// What a first message asks for.
#[derive(Clone, Debug, PartialEq)]
pub enum Ask {
    /// To talk to a person: handoff. How it was read: "rule" or "examples".
    Person(&'static str),
    /// A clinical question: no advice, the care team is told. How: "rule" or "examples".
    Advice(&'static str),
    /// A script's intent.
    Script(IntentGuess),
    /// Not sure: the patient is shown the menu.
    Unsure,
}

impl Ask {
    /// The intent's name as the examples label it (`None` for `Unsure`).
    pub fn label(&self) -> Option<&str> {
        match self {
            Ask::Person(_) => Some("asks_for_person"),
            Ask::Advice(_) => Some("medical_advice"),
            Ask::Script(g) => Some(&g.intent),
            Ask::Unsure => None,
        }
    }

    /// How it was decided: "rule", "examples", "embedding", "model", or "unsure".
    pub fn source(&self) -> &'static str {
        match self {
            Ask::Person(s) | Ask::Advice(s) => s,
            Ask::Script(g) => g.source,
            Ask::Unsure => "unsure",
        }
    }
}

/// The example net and the message's embedding, when both are there.
pub type Examples<'a> = Option<(&'a ExampleNet, &'a [f32])>;

/// What `text`, a first message, asks for among `scripts`.
pub async fn read(text: &str, scripts: &[&Script], understand: &dyn Understand, cache: &ExampleCache, examples: Examples<'_>) -> Result<Ask> {
    let rule = if asks_for_person(text) {
        Some(Ask::Person("rule"))
    } else if asks_for_advice(text) {
        Some(Ask::Advice("rule"))
    } else {
        // Told as news, a booking keyword asks for nothing ("her appointment went fine"); a
        // change, a cancellation or a medicine run out told as news is still an errand ("just
        // letting you know I won't make it Friday").
        let changes = |g: &IntentGuess| matches!(g.intent.as_str(), "cancel" | "reschedule" | "refill");
        match (keyword_guess(text, scripts), only_tells(text)) {
            (Some(g), tells) if changes(&g) || !tells => Some(Ask::Script(g)),
            (_, true) => Some(Ask::Unsure),
            _ => None,
        }
    };
    let Some((net, embedding)) = examples else {
        return Ok(match rule {
            Some(r) => r,
            None => classify(text, scripts, understand, cache).await?.map_or(Ask::Unsure, Ask::Script),
        });
    };
    let verdict = net.judge_intent(embedding);
    if let Some(rule) = rule {
        // An intent no example asks for (a site's own) is the rule's alone to read.
        let judged = rule.label().is_some_and(|l| net.knows_intent(l));
        return Ok(match verdict {
            Some(v) if judged && v.lead >= NET_OVERRULES && v.intent.as_deref() != rule.label() => from_verdict(&v, scripts),
            _ => rule,
        });
    }
    match verdict {
        Some(v) if v.lead >= NET_DECIDES && v.intent.is_some() => Ok(from_verdict(&v, scripts)),
        // The examples know only the shipped intents: an intent a site added to its scripts
        // is still found by its own examples.
        _ => Ok(nearest_guess(text, &unknown_to(net, scripts), understand, cache).await?.map_or(Ask::Unsure, Ask::Script)),
    }
}

/// The scripts' intents the examples never ask for, as (script, intent index).
fn unknown_to<'a>(net: &ExampleNet, scripts: &[&'a Script]) -> Vec<(&'a Script, usize)> {
    scripts
        .iter()
        .flat_map(|s| (0..s.intents.len()).map(move |i| (*s, i)))
        .filter(|(s, i)| !net.knows_intent(&s.intents[*i].name))
        .collect()
}

/// The examples' verdict as what the engine does; an intent no script has is not sure.
fn from_verdict(v: &IntentVerdict, scripts: &[&Script]) -> Ask {
    match v.intent.as_deref() {
        Some("asks_for_person") => Ask::Person("examples"),
        Some("medical_advice") => Ask::Advice("examples"),
        Some(name) => scripts
            .iter()
            .find(|s| s.intents.iter().any(|i| i.name == name))
            .map_or(Ask::Unsure, |s| Ask::Script(IntentGuess { script: s.id.clone(), intent: name.to_string(), confidence: v.lead, source: "examples" })),
        None => Ask::Unsure,
    }
}
