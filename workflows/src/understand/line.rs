//! `agent understand`: what the engine would make of one message, without a conversation:
//! intent (with how sure, and how it was decided), the slot values the rule readers find, the
//! red flag if any, and the language.

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::ask::{read, Ask};
use super::{dates, values};
use crate::engine::Engine;
use crate::redflags::{self, RuleSet};
use crate::text::looks_spanish;
use crate::Lang;

/// One message understood, as JSON: `{lang, intent, script, confidence, source, slots,
/// red_flag: {flag, category}}`; `error` is set when the model could not be reached.
pub async fn understand_line(engine: &Engine, text: &str, now: DateTime<Utc>) -> Value {
    let lang = if looks_spanish(text) { Lang::Es } else { Lang::En };
    // Without a conversation, the post-discharge rules (fever, wound) apply only when the
    // message itself says it follows an operation or a stay.
    let sets: &[RuleSet] = if redflags::after_a_stay(text) { &[RuleSet::PostDischarge] } else { &[] };
    let rules = redflags::first(text, sets);
    let embedding = engine.embedding(text, true).await;
    let category = rules.or_else(|| engine.net_flag(embedding.as_deref()));
    let source = match (rules, category) {
        (Some(_), _) => Some("rules"),
        (None, Some(_)) => Some("examples"),
        _ => None,
    };
    let mut slots = serde_json::Map::new();
    let offset = chrono::FixedOffset::east_opt(engine.utc_offset_minutes() * 60).unwrap_or(chrono::FixedOffset::east_opt(0).expect("zero offset"));
    if let Some(w) = dates::parse(text, now.with_timezone(&offset).date_naive(), lang) {
        slots.insert("date_window".into(), json!(w));
    }
    if let Some(p) = values::provider(text) {
        slots.insert("provider".into(), json!(p));
    }
    if let Some(b) = values::yes_no(text) {
        slots.insert("yes_no".into(), json!(b));
    }
    if let Some(n) = values::scale(text) {
        slots.insert("scale".into(), json!(n));
    }
    let mut out = json!({
        "lang": lang,
        "slots": slots,
        "red_flag": { "flag": category.is_some(), "category": category.map(|c| c.as_str()), "source": source },
        "intent": null,
        "confidence": null,
    });
    let latest = engine.latest();
    let net = engine.example_net().for_intents();
    match read(text, &latest, engine.understand().as_ref(), engine.examples(), net.as_deref().zip(embedding.as_deref())).await {
        Ok(ask) => {
            out["intent"] = json!(ask.label());
            out["source"] = json!(ask.source());
            out["confidence"] = match &ask {
                Ask::Script(g) => json!(g.confidence),
                Ask::Person(_) | Ask::Advice(_) => json!(1.0),
                Ask::Unsure => Value::Null,
            };
            if let Ask::Script(g) = &ask {
                out["script"] = json!(g.script);
            }
        }
        Err(e) => out["error"] = json!(e.to_string()),
    }
    out
}
