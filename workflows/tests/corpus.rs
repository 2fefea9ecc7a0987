//! Red flags on patient messages written by people who never read the rules: sixteen corpora of
//! 310–360 labelled messages each (English and Spanish; typos, negation, hypotheticals,
//! history, idioms, third parties, flags buried in requests). The rules must keep catching
//! nearly every flag without crying wolf. `scripts/understand-eval` scores the same files
//! through the service with the real model (intents too).

use serde_json::Value;
use workflows::redflags::{after_a_stay, first, RuleSet};

struct Score {
    caught: usize,
    flags: usize,
    false_alarms: usize,
    quiet: usize,
    report: Vec<String>,
}

fn score(file: &str) -> Score {
    let path = format!("{}/tests/corpus/{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut s = Score { caught: 0, flags: 0, false_alarms: 0, quiet: 0, report: Vec::new() };
    for (n, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let item: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{path}:{}: {e}", n + 1));
        let message = item["text"].as_str().expect("text");
        // Read alone, as `agent understand` reads it: post-discharge rules only after a stay.
        let sets: &[RuleSet] = if after_a_stay(message) { &[RuleSet::PostDischarge] } else { &[] };
        let got = first(message, sets);
        match (item["red_flag"].as_str(), got) {
            (Some(_), Some(_)) => s.caught += 1,
            (Some(want), None) => s.report.push(format!("missed {want}: {message}")),
            (None, Some(cat)) => {
                s.false_alarms += 1;
                s.report.push(format!("false alarm {}: {message}", cat.as_str()));
            }
            (None, None) => s.quiet += 1,
        }
        s.flags += usize::from(item["red_flag"].is_string());
    }
    s
}

fn check(file: &str, min_recall: f64, max_alarm_rate: f64) {
    let s = score(file);
    let recall = s.caught as f64 / s.flags as f64;
    let alarm_rate = s.false_alarms as f64 / (s.false_alarms + s.quiet) as f64;
    assert!(s.flags >= 100, "{file}: only {} flagged messages", s.flags);
    assert!(
        recall >= min_recall && alarm_rate <= max_alarm_rate,
        "{file}: caught {}/{} flags ({:.1}%), {} false alarms ({:.1}%):\n{}",
        s.caught,
        s.flags,
        100.0 * recall,
        s.false_alarms,
        100.0 * alarm_rate,
        s.report.join("\n")
    );
}

#[test]
fn corpus_a_flags_are_caught_without_crying_wolf() {
    check("messages-a.jsonl", 0.97, 0.02);
}

#[test]
fn corpus_b_flags_are_caught_without_crying_wolf() {
    check("messages-b.jsonl", 0.97, 0.02);
}

#[test]
fn corpus_c_flags_are_caught_without_crying_wolf() {
    check("messages-c.jsonl", 0.97, 0.02);
}

/// Mostly hard negatives: alarm words about care, paperwork, history and idioms.
#[test]
fn corpus_e_flags_are_caught_without_crying_wolf() {
    check("messages-e.jsonl", 0.97, 0.02);
}

/// The holdout corpus was only measured, never used to shape the rules (docs/understanding.md):
/// its floor is where the rules stood when it was first read, so it guards against regressions
/// without being tuned to.
#[test]
fn holdout_corpus_does_not_regress() {
    check("messages-holdout.jsonl", 0.93, 0.02);
}

/// Measured once after round 2, and again after rounds 3 and 4 without being looked at.
#[test]
fn holdout_d_does_not_regress() {
    check("messages-d.jsonl", 0.94, 0.035);
}

/// Measured once after round 3, and again after round 4 without being looked at.
#[test]
fn holdout_f_does_not_regress() {
    check("messages-f.jsonl", 0.88, 0.045);
}

/// Round 4: voice-to-text, elderly writers, understatement; Spanish spelt as it sounds.
#[test]
fn corpus_g_flags_are_caught_without_crying_wolf() {
    check("messages-g.jsonl", 0.97, 0.02);
}

/// Round 4: caregivers, Caribbean and South American Spanish, flags buried in long requests.
#[test]
fn corpus_h_flags_are_caught_without_crying_wolf() {
    check("messages-h.jsonl", 0.97, 0.02);
}

/// Written blind with G and H, measured once after round 4 (docs/understanding.md): the rules
/// caught 79.3% of its flags before round 4, 82.2% after it and 83.7% after round 5.
#[test]
fn holdout_i_does_not_regress() {
    check("messages-i.jsonl", 0.83, 0.05);
}

/// Written last, after round 4 and the example net, and measured once (rules alone here: 77.1%
/// of its flags, 8.3% false alarms; with the example net 90.1% and 9.8%; after round 5 of the
/// rules 80.2% and 7.8% alone).
#[test]
fn holdout_j_does_not_regress() {
    check("messages-j.jsonl", 0.80, 0.08);
}

/// Written after the intent side of the example net (session 19), and measured once (rules
/// alone here: 81.1% of its flags, 6.2% false alarms; with the example net 89.4% and 9.5%; after
/// round 5 of the rules 83.3% and 5.7% alone).
#[test]
fn holdout_k_does_not_regress() {
    check("messages-k.jsonl", 0.83, 0.06);
}

/// Written for the example net (session 20), then read for round 5 of the rules. Before it the
/// rules caught 75.9% / 83.5% / 83.3% of their flags with 11.0% / 7.7% / 8.6% false alarms; after
/// it 88.7% / 95.5% / 90.2% with 3.8% / 3.3% / 5.2%.
#[test]
fn corpora_l_m_n_do_not_regress() {
    check("messages-l.jsonl", 0.88, 0.05);
    check("messages-m.jsonl", 0.95, 0.045);
    check("messages-n.jsonl", 0.90, 0.065);
}

/// Written with L, M and N by another hand, never read (rules alone: 86.4% of its flags and 9.0%
/// false alarms before round 5, 88.6% and 8.1% after; with the example net 97.0% and 10.0%).
#[test]
fn holdout_o_does_not_regress() {
    check("messages-o.jsonl", 0.88, 0.085);
}
