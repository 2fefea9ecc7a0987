//! Script validation: the built-in scripts are valid, and each kind of mistake an admin can
//! make is reported at its file:line:column with a plain message.

use workflows::script::{builtin, load_dir, validate_path, validate_source, BUILTIN_SOURCES};

#[test]
fn builtin_scripts_are_valid() {
    for (path, text) in BUILTIN_SOURCES {
        let diags = validate_source(path, text);
        assert!(diags.is_empty(), "{path}: {}", diags.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"));
    }
    let scripts = builtin().expect("builtin scripts compile");
    assert_eq!(scripts.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(), ["appointment", "refill", "discharge_followup"]);
}

#[test]
fn scripts_folder_on_disk_matches_the_embedded_defaults() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts");
    let scripts = load_dir(&dir).expect("scripts folder loads");
    assert_eq!(scripts.len(), BUILTIN_SOURCES.len());
    assert!(validate_path(&dir).is_empty());
    assert!(validate_path(&dir.join("refill.toml")).is_empty());
}

const BASE: &str = r#"id = "demo"
version = 1
allowed_actions = ["find_slots", "book"]

[trigger.intents.book]
keywords = ["book"]
en = ["Book an appointment"]
es = ["Pedir una cita"]

[slots]
when = { type = "date_window" }
chosen = { type = "choice" }

[[steps]]
id = "ask"
kind = "ask"
slot = "when"
text = "ask_when"
next = "find"

[[steps]]
id = "find"
kind = "lookup"
action = "find_slots"
with = { when = "when" }
into = "found"
next = "offer"

[[steps]]
id = "offer"
kind = "offer"
slot = "chosen"
from = "found"
text = "offer"
next = "book"
none = "done"

[[steps]]
id = "book"
kind = "act"
action = "book"
with = { slot = "chosen" }
next = "booked"

[[steps]]
id = "booked"
kind = "end"
text = "booked"

[[steps]]
id = "done"
kind = "end"
text = "done"

[strings.ask_when]
en = "When?"
es = "¿Cuándo?"

[strings.offer]
en = "Free:"
es = "Libres:"

[strings.done]
en = "Nothing free"
es = "Nada libre"

[strings.booked]
en = "Booked {chosen}"
es = "Reservado {chosen}"
"#;

/// Validates BASE with `from` replaced by `to`, returning "line:col: message" lines.
fn broken(from: &str, to: &str) -> Vec<String> {
    assert!(BASE.contains(from), "fixture text not found: {from}");
    let text = BASE.replacen(from, to, 1);
    validate_source("demo.toml", &text).iter().map(|d| format!("{}:{}: {}", d.line, d.column, d.message)).collect()
}

#[test]
fn the_base_fixture_is_valid() {
    assert_eq!(broken("x", "x").len(), 0, "{:?}", broken("x", "x"));
}

#[test]
fn unknown_step_kind_is_reported_at_the_kind() {
    assert_eq!(
        broken("kind = \"end\"", "kind = \"finish\""),
        ["47:8: unknown step kind 'finish' (ask, extract, lookup, offer, confirm, act, say, branch, escalate, end)"]
    );
}

#[test]
fn unknown_target_step_is_reported_at_the_reference() {
    assert_eq!(broken("next = \"find\"", "next = \"fnd\""), ["19:8: unknown step 'fnd'"]);
}

#[test]
fn unreachable_step_is_reported_at_its_id() {
    let d = broken(
        "[[steps]]\nid = \"done\"",
        "[[steps]]\nid = \"orphan\"\nkind = \"say\"\ntext = \"done\"\nnext = \"done\"\n\n[[steps]]\nid = \"done\"",
    );
    assert_eq!(d, ["51:6: unreachable step 'orphan': no step leads to it"]);
}

#[test]
fn slot_used_before_it_is_filled_is_reported_at_the_use() {
    let d = broken("none = \"done\"", "none = \"book\"");
    assert_eq!(
        d,
        [
            "42:17: step 'book' uses 'chosen' as with.slot before it is filled on every path",
            "48:8: step 'booked' uses 'chosen' in text 'booked' before it is filled on every path",
            "51:6: unreachable step 'done': no step leads to it",
        ]
    );
}

#[test]
fn action_outside_the_allowlist_is_reported_at_the_action() {
    assert_eq!(
        broken("allowed_actions = [\"find_slots\", \"book\"]", "allowed_actions = [\"find_slots\"]"),
        ["41:10: action 'book' is not in this script's allowed_actions"]
    );
}

#[test]
fn missing_translation_is_reported_at_the_string() {
    assert_eq!(broken("es = \"Libres:\"\n", ""), ["59:10: missing translation: string 'offer' has no 'es' text"]);
}

#[test]
fn toml_syntax_errors_carry_line_and_column() {
    let d = broken("version = 1", "version = ");
    assert_eq!(d.len(), 1);
    assert!(d[0].starts_with("2:"), "{d:?}");
}

#[test]
fn validate_path_reports_broken_files_in_a_folder() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ok.toml"), BASE).unwrap();
    std::fs::write(dir.path().join("bad.toml"), BASE.replacen("kind = \"end\"", "kind = \"stop\"", 1)).unwrap();
    let d = validate_path(dir.path());
    assert_eq!(d.len(), 1);
    assert!(d[0].path.ends_with("bad.toml") && d[0].line == 47, "{}", d[0]);
}

#[test]
fn yields_to_must_name_an_intent_of_the_same_script() {
    assert_eq!(broken("keywords = [\"book\"]", "keywords = [\"book\"]\nyields_to = [\"book\"]").len(), 0);
    assert_eq!(
        broken("keywords = [\"book\"]", "keywords = [\"book\"]\nyields_to = [\"cancel\"]"),
        ["7:14: yields_to names 'cancel', which is not an intent of this script"]
    );
}

#[test]
fn about_trouble_is_only_for_yes_no_slots() {
    assert_eq!(
        broken("when = { type = \"date_window\" }", "when = { type = \"date_window\", about = \"trouble\" }"),
        ["11:40: 'about' applies only to a yes_no slot"]
    );
    let ok = BASE.replacen("[slots]\n", "[slots]\nworse = { type = \"yes_no\", about = \"trouble\" }\n", 1);
    let script = workflows::script::compile("demo.toml", &ok).expect("valid");
    assert_eq!(script.question("worse"), workflows::understand::values::Question::AboutTrouble);
    assert_eq!(script.question("when"), workflows::understand::values::Question::Plain);
}
