//! `agent understand` on the real binary and the real model: patient lines in, one JSON line
//! out per line with intent, slots, red flag and confidence, in English and Spanish.

use std::io::Write;
use std::process::Stdio;

use e2e::{agent_command, ensure_models};
use serde_json::Value;

/// Feeds `lines` to `agent understand`; returns its JSON lines.
fn understand(lines: &[&str]) -> Vec<Value> {
    ensure_models();
    let dir = tempfile::tempdir().unwrap();
    let mut child = agent_command(dir.path())
        .arg("understand")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run agent understand");
    let mut stdin = child.stdin.take().unwrap();
    for l in lines {
        writeln!(stdin, "{l}").unwrap();
    }
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "agent understand failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

#[test]
fn each_message_gets_intent_slots_red_flag_and_confidence() {
    let out = understand(&[
        "I need to book an appointment next tuesday afternoon",
        "",
        "Quiero cancelar mi cita",
        "I have crushing chest pain",
        "no chest pain, I just want a refill of my metoprolol",
        "me duele mucho el pecho",
    ]);
    assert_eq!(out.len(), 5, "one line per non-empty message: {out:?}");
    for v in &out {
        assert!(v["slots"].is_object() && v["red_flag"]["flag"].is_boolean(), "{v}");
        // A red-flag line needs no workflow intent (automation stops anyway); every other line
        // is classified with a confidence.
        if v["red_flag"]["flag"] == false {
            let c = v["confidence"].as_f64().unwrap_or(-1.0);
            assert!(v["intent"].is_string() && (0.0..=1.0).contains(&c), "{v}");
        }
    }

    let book = &out[0];
    assert_eq!(book["intent"], "book", "{book}");
    assert_eq!(book["lang"], "en");
    assert_eq!(book["slots"]["date_window"]["part"], "afternoon", "{book}");
    assert_eq!(book["red_flag"]["flag"], false);

    let cancel = &out[1];
    assert_eq!(cancel["intent"], "cancel", "{cancel}");
    assert_eq!(cancel["lang"], "es");

    let pain = &out[2];
    assert_eq!(pain["red_flag"]["flag"], true, "{pain}");
    assert_eq!(pain["red_flag"]["category"], "chest_pain");

    let negated = &out[3];
    assert_eq!(negated["red_flag"]["flag"], false, "a denied symptom is no red flag: {negated}");
    assert!(negated["red_flag"]["category"].is_null());
    assert_eq!(negated["intent"], "refill", "{negated}");

    let es_pain = &out[4];
    assert_eq!(es_pain["lang"], "es");
    assert_eq!(es_pain["red_flag"]["category"], "chest_pain", "{es_pain}");
    assert_eq!(es_pain["red_flag"]["source"], "rules", "{es_pain}");
}

/// Corpus I was written blind to the rules and never enters the example net: the shipped
/// binary, rules and net together, catches what docs/understanding.md reports (93.3% of its
/// flags, 7.2% false alarms; the floor leaves a few messages' room for another CPU's rounding),
/// and the net adds flags the rules miss. Intents too: 78.4% right with the examples' opinion
/// (73.4% without), some of them decided by the examples alone.
#[test]
fn red_flags_and_intents_on_messages_nobody_here_wrote_rules_and_example_net_together() {
    let corpus = std::fs::read_to_string(e2e::workspace_root().join("workflows/tests/corpus/messages-i.jsonl")).unwrap();
    let items: Vec<Value> = corpus.lines().filter(|l| !l.trim().is_empty()).map(|l| serde_json::from_str(l).unwrap()).collect();
    let texts: Vec<&str> = items.iter().map(|i| i["text"].as_str().unwrap()).collect();
    let out = understand(&texts);
    assert_eq!(out.len(), items.len());
    let (mut caught, mut flags, mut alarms, mut quiet, mut by_examples) = (0, 0, 0, 0, 0);
    let (mut intents_right, mut intents_by_examples) = (0, 0);
    for (item, got) in items.iter().zip(&out) {
        let raised = got["red_flag"]["flag"] == true;
        by_examples += usize::from(raised && got["red_flag"]["source"] == "examples");
        if item["red_flag"].is_string() {
            flags += 1;
            caught += usize::from(raised);
        } else {
            quiet += 1;
            alarms += usize::from(raised);
            intents_right += usize::from(got["intent"] == item["intent"]);
            intents_by_examples += usize::from(got["source"] == "examples");
        }
    }
    let intent_rate = intents_right as f64 / quiet as f64;
    assert!(intent_rate >= 0.76, "intent right for {intents_right}/{quiet}");
    assert!(intents_by_examples >= 10, "only {intents_by_examples} intents came from the examples");
    let (recall, alarm_rate) = (caught as f64 / flags as f64, alarms as f64 / quiet as f64);
    assert!(recall >= 0.90 && alarm_rate <= 0.09, "caught {caught}/{flags}, {alarms}/{quiet} false alarms");
    assert!(by_examples >= 10, "only {by_examples} flags came from the example net");
}
