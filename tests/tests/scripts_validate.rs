//! `agent scripts validate` on the real binary: every kind of script mistake an admin can make
//! is printed as `path:line:col: message` with exit code 1; valid scripts print "N scripts OK".

use std::path::Path;
use std::process::Output;

use e2e::{agent_command, workspace_root};

/// A small valid script; each test breaks one thing in a copy of it.
const BASE: &str = r#"id = "visit"
version = 2
allowed_actions = ["find_slots", "book"]

[trigger.intents.visit]
keywords = ["visit"]
en = ["Book a visit"]
es = ["Reservar una visita"]

[slots]
day = { type = "date_window" }
pick = { type = "choice" }

[[steps]]
id = "ask_day"
kind = "ask"
slot = "day"
text = "when"
next = "search"

[[steps]]
id = "search"
kind = "lookup"
action = "find_slots"
with = { when = "day" }
into = "free"
next = "offer"

[[steps]]
id = "offer"
kind = "offer"
slot = "pick"
from = "free"
text = "pick_one"
next = "reserve"
none = "sorry"

[[steps]]
id = "reserve"
kind = "act"
action = "book"
with = { slot = "pick" }
next = "done"

[[steps]]
id = "done"
kind = "end"
text = "done"

[[steps]]
id = "sorry"
kind = "end"
text = "sorry"

[strings.when]
en = "Which day?"
es = "¿Qué día?"

[strings.pick_one]
en = "Pick one:"
es = "Elija uno:"

[strings.done]
en = "Booked {pick}."
es = "Reservado {pick}."

[strings.sorry]
en = "Nothing is free."
es = "No hay nada libre."
"#;

fn validate(dir: &Path, target: &str) -> Output {
    agent_command(dir).args(["scripts", "validate", target]).output().expect("run agent scripts validate")
}

fn stdout_lines(out: &Output) -> Vec<String> {
    String::from_utf8_lossy(&out.stdout).lines().map(str::to_owned).collect()
}

/// Writes BASE with `from` replaced by `to` as `name` in a fresh folder and validates it.
fn broken(name: &str, from: &str, to: &str) -> (Option<i32>, Vec<String>) {
    assert!(BASE.contains(from), "fixture text not found: {from}");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(name), BASE.replacen(from, to, 1)).unwrap();
    let out = validate(dir.path(), name);
    (out.status.code(), stdout_lines(&out))
}

#[test]
fn a_valid_script_file_prints_one_ok_line() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("visit.toml"), BASE).unwrap();
    let out = validate(dir.path(), "visit.toml");
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(stdout_lines(&out), ["1 scripts OK"]);
}

#[test]
fn the_builtin_scripts_validate_clean() {
    let dir = tempfile::tempdir().unwrap();
    let scripts = workspace_root().join("workflows").join("scripts");
    let out = validate(dir.path(), scripts.to_str().unwrap());
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stdout));
    assert_eq!(stdout_lines(&out), ["3 scripts OK"]);
}

#[test]
fn toml_syntax_error_is_reported_at_line_and_column() {
    let (code, lines) = broken("syntax.toml", "version = 2", "version = ");
    assert_eq!(code, Some(1));
    assert_eq!(lines, ["syntax.toml:2:11: string values must be quoted, expected literal string"]);
}

#[test]
fn unknown_step_kind_is_reported_at_the_kind() {
    let (code, lines) = broken("kind.toml", "kind = \"end\"", "kind = \"stop\"");
    assert_eq!(code, Some(1));
    assert_eq!(
        lines,
        ["kind.toml:47:8: unknown step kind 'stop' (ask, extract, lookup, offer, confirm, act, say, branch, escalate, end)"]
    );
}

#[test]
fn unknown_next_step_is_reported_at_the_reference() {
    let (code, lines) = broken("target.toml", "next = \"search\"", "next = \"serch\"");
    assert_eq!(code, Some(1));
    assert_eq!(lines, ["target.toml:19:8: unknown step 'serch'"]);
}

#[test]
fn unreachable_step_and_slot_used_before_filled_are_both_reported() {
    let (code, lines) = broken("flow.toml", "none = \"sorry\"", "none = \"done\"");
    assert_eq!(code, Some(1));
    assert_eq!(
        lines,
        [
            "flow.toml:48:8: step 'done' uses 'pick' in text 'done' before it is filled on every path",
            "flow.toml:51:6: unreachable step 'sorry': no step leads to it",
        ]
    );
}

#[test]
fn action_outside_the_allowlist_is_reported_at_the_action() {
    let (code, lines) = broken("action.toml", "allowed_actions = [\"find_slots\", \"book\"]", "allowed_actions = [\"find_slots\"]");
    assert_eq!(code, Some(1));
    assert_eq!(lines, ["action.toml:41:10: action 'book' is not in this script's allowed_actions"]);
}

#[test]
fn unknown_string_is_reported_at_the_text() {
    let (code, lines) = broken("string.toml", "text = \"pick_one\"", "text = \"choose\"");
    assert_eq!(code, Some(1));
    assert_eq!(lines, ["string.toml:34:8: unknown string 'choose': add it under [strings]"]);
}

#[test]
fn unknown_slot_is_reported_with_its_consequences() {
    let (code, lines) = broken("slot.toml", "slot = \"pick\"", "slot = \"chosen\"");
    assert_eq!(code, Some(1));
    assert_eq!(
        lines,
        [
            "slot.toml:32:8: unknown slot 'chosen'",
            "slot.toml:42:17: step 'reserve' uses 'pick' as with.slot before it is filled on every path",
            "slot.toml:48:8: step 'done' uses 'pick' in text 'done' before it is filled on every path",
        ]
    );
}

#[test]
fn duplicate_step_id_is_reported_at_the_second_id() {
    let (code, lines) = broken("dup.toml", "id = \"sorry\"", "id = \"done\"");
    assert_eq!(code, Some(1));
    assert_eq!(lines, ["dup.toml:36:8: unknown step 'sorry'", "dup.toml:51:6: duplicate step id 'done'"]);
}

#[test]
fn missing_translation_is_reported_at_the_string() {
    let (code, lines) = broken("transl.toml", "es = \"Elija uno:\"\n", "");
    assert_eq!(code, Some(1));
    assert_eq!(lines, ["transl.toml:59:10: missing translation: string 'pick_one' has no 'es' text"]);
}

#[test]
fn a_folder_reports_every_broken_script_and_skips_valid_ones() {
    let dir = tempfile::tempdir().unwrap();
    let scripts = dir.path().join("scripts");
    std::fs::create_dir(&scripts).unwrap();
    std::fs::write(scripts.join("a_ok.toml"), BASE).unwrap();
    std::fs::write(scripts.join("b_kind.toml"), BASE.replacen("kind = \"end\"", "kind = \"stop\"", 1)).unwrap();
    std::fs::write(scripts.join("c_target.toml"), BASE.replacen("next = \"search\"", "next = \"serch\"", 1)).unwrap();
    let out = validate(dir.path(), "scripts");
    assert_eq!(out.status.code(), Some(1));
    let lines = stdout_lines(&out);
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(lines[0].starts_with("scripts/b_kind.toml:47:8: unknown step kind 'stop'"), "{lines:?}");
    assert_eq!(lines[1], "scripts/c_target.toml:19:8: unknown step 'serch'");
    assert!(String::from_utf8_lossy(&out.stderr).contains("2 problem(s)"));
}

#[test]
fn a_missing_path_is_a_problem_not_a_success() {
    let dir = tempfile::tempdir().unwrap();
    let out = validate(dir.path(), "nowhere.toml");
    assert_eq!(out.status.code(), Some(1));
    let lines = stdout_lines(&out);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].starts_with("nowhere.toml:1:1: cannot read"), "{lines:?}");
}
