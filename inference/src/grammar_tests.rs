//! The grammar against valid and invalid documents for a small schema.

use super::*;
use serde_json::json;

fn schema() -> Schema {
    Schema::parse(&json!({
        "type": "object",
        "properties": {
            "intent": {"enum": ["book", "cancel"]},
            "count": {"type": "integer", "minimum": 1, "maximum": 12},
            "note": {"type": "string", "maxLength": 5},
            "when": {"type": "string", "format": "date"},
            "urgent": {"type": "boolean"}
        },
        "required": ["intent", "urgent"]
    }))
    .unwrap()
}

fn full(s: &Schema, text: &str) -> bool {
    let mut g = JsonGrammar::new(s);
    g.advance(text.as_bytes()) && g.is_complete()
}

#[test]
fn grammar_accepts_valid_documents_and_skipped_optional_properties() {
    let s = schema();
    assert!(full(&s, r#"{"intent":"book","count":12,"note":"héllo","when":"2026-02-28","urgent":false}"#));
    assert!(full(&s, r#"{"intent":"cancel","urgent":true}"#));
}

#[test]
fn grammar_rejects_what_the_schema_forbids() {
    let s = schema();
    for bad in [
        r#"{"intent":"bake","urgent":true}"#,
        r#"{"urgent":true}"#,
        r#"{"intent":"book","count":13,"urgent":true}"#,
        r#"{"intent":"book","count":0,"urgent":true}"#,
        r#"{"intent":"book","note":"toolong","urgent":true}"#,
        r#"{"intent":"book","note":"\ud83d","urgent":true}"#,
        r#"{"intent":"book","note":"\uDC00","urgent":true}"#,
        r#"{"intent":"book","when":"2026-13-01","urgent":true}"#,
        r#"{"intent":"book","when":"2026-02-30","urgent":true}"#,
        r#"{"intent":"book","when":"2026-11-31","urgent":true}"#,
        r#"{"intent":"book","when":"2026-02-29","urgent":true}"#,
        r#"{"intent":"book","urgent":true,"count":2}"#,
        r#"{"intent":"book", "urgent":true}"#,
        r#"{"intent":"book","urgent":true}}"#,
    ] {
        assert!(!full(&s, bad), "accepted {bad}");
    }
}

#[test]
fn grammar_accepts_prefixes_of_valid_output() {
    let s = schema();
    let g = JsonGrammar::new(&s);
    assert!(g.accepts(br#"{"intent":"bo"#));
    assert!(g.accepts(br#"{"intent":"book","count":1"#));
    assert!(!g.accepts(br#"{"count":"#));
}

#[test]
fn final_documents_validate_against_the_schema() {
    let s = schema();
    let v: serde_json::Value = serde_json::from_str(r#"{"intent":"book","urgent":true}"#).unwrap();
    assert!(s.validate(&v));
    let v: serde_json::Value = serde_json::from_str(r#"{"intent":"x","urgent":true}"#).unwrap();
    assert!(!s.validate(&v));
}

#[test]
fn forced_bytes_are_what_no_choice_of_the_model_could_change() {
    let s = schema();
    let after = |text: &str| {
        let mut g = JsonGrammar::new(&s);
        assert!(g.advance(text.as_bytes()), "{text}");
        String::from_utf8(g.forced()).unwrap()
    };
    // `intent` is required and first: nothing else can open the object.
    assert_eq!(after(""), r#"{"intent":""#);
    assert_eq!(after(r#"{"intent":"c"#), r#"ancel",""#);
    // After a value, any of the optional keys or the required `urgent` may come.
    assert_eq!(after(r#"{"intent":"book","#), r#"""#);
    assert_eq!(after(r#"{"intent":"book","u"#), r#"rgent":"#);
    assert_eq!(after(r#"{"intent":"book","urgent":t"#), "rue}");
    // Free text and numbers are the model's to choose; a complete document forces nothing.
    assert_eq!(after(r#"{"intent":"book","note":""#), "");
    assert_eq!(after(r#"{"intent":"book","urgent":true}"#), "");
}
