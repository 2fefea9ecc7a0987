//! Which of the patient's own medicines a refill message means, on corpora written by people who
//! never read the matcher: misspelt generics, brand names, what a medicine is for, Spanish
//! names. Each message is labelled with every medicine on a fixed twelve-item list it could
//! mean. Right: the one medicine, or a question offering exactly those it could mean. Wrong: a
//! medicine it does not mean, one picked where several fit, or a question that leaves out the
//! one meant. The embedding route (used only
//! when no name, brand or purpose matches) needs the model and is counted as "left to the
//! model". `MEDS_MISSES=w cargo test -p workflows --test meds_corpus -- --nocapture` prints the
//! misses of the corpora named. W was read to build the brand, purpose, dose and form routes;
//! X was only ever measured.

use async_trait::async_trait;
use serde_json::Value;
use workflows::understand::meds::{match_medication, MedMatch};
use workflows::{Error, Result, Understand};

const LIST: [&str; 12] = [
    "Lisinopril 10 MG Oral Tablet",
    "Metformin hydrochloride 500 MG Oral Tablet",
    "Atorvastatin 40 MG Oral Tablet",
    "Furosemide 20 MG Oral Tablet",
    "Levothyroxine Sodium 0.05 MG Oral Tablet",
    "Apixaban 5 MG Oral Tablet",
    "Albuterol 0.09 MG/ACTUAT Metered Dose Inhaler",
    "Insulin Glargine 100 UNT/ML Injectable Solution",
    "Amlodipine 5 MG Oral Tablet",
    "Sertraline 50 MG Oral Tablet",
    "Oxycodone Hydrochloride 5 MG Oral Tablet",
    "Omeprazole 20 MG Delayed Release Oral Capsule",
];

/// No model here: the embedding route reports itself as unavailable.
struct NoModel;

#[async_trait]
impl Understand for NoModel {
    async fn embed(&self, _: &[String]) -> Result<Vec<Vec<f32>>> {
        Err(Error::Understand("no model in this test".into()))
    }
    async fn choose(&self, _: &str, _: &str, _: &[String]) -> Result<(usize, Vec<f32>)> {
        Err(Error::Understand("no model in this test".into()))
    }
    async fn extract(&self, _: &str, _: &str, _: &serde_json::Value) -> Result<serde_json::Value> {
        Err(Error::Understand("no model in this test".into()))
    }
    async fn phrase(&self, _: &str, _: &str) -> Result<String> {
        Err(Error::Understand("no model in this test".into()))
    }
}

#[derive(Default)]
struct Tally {
    right: usize,
    /// A question offering the right ones among others, or nothing read: asked again.
    again: usize,
    model: usize,
    wrong: usize,
    misses: Vec<String>,
}

async fn score(file: &str, keep: bool) -> Tally {
    let path = format!("{}/tests/corpus/{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let names: Vec<String> = LIST.iter().map(|s| s.to_string()).collect();
    let mut t = Tally::default();
    for (n, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let item: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{path}:{}: {e}", n + 1));
        let msg = item["text"].as_str().expect("text");
        let mut want: Vec<usize> = item["expect"].as_array().expect("expect").iter().map(|v| v.as_u64().expect("number") as usize - 1).collect();
        want.sort_unstable();
        let got = match_medication(msg, &names, &NoModel).await.ok();
        let (label, verdict) = match got.clone() {
            // The embedding route failed: only the model could have said.
            None if want.is_empty() => ("right", 0),
            None => ("left to the model", 2),
            Some(MedMatch::NoMatch) if want.is_empty() => ("right", 0),
            Some(MedMatch::NoMatch) => ("asked again", 1),
            Some(MedMatch::One(i)) if want == [i] => ("right", 0),
            Some(MedMatch::One(_)) => ("WRONG", 3),
            Some(MedMatch::Ambiguous(mut ix)) => {
                ix.sort_unstable();
                match () {
                    _ if ix == want && want.len() > 1 => ("right", 0),
                    // A question offering them is no wrong answer, even where none was meant.
                    _ if want.iter().all(|w| ix.contains(w)) => ("asked again", 1),
                    _ => ("WRONG", 3),
                }
            }
        };
        match verdict {
            0 => t.right += 1,
            1 => t.again += 1,
            2 => t.model += 1,
            _ => t.wrong += 1,
        }
        if keep && verdict != 0 {
            t.misses.push(format!("{label} want {:?} got {got:?}: {msg}", item["expect"]));
        }
    }
    t
}

fn pct(a: usize, b: usize) -> f64 {
    100.0 * a as f64 / b.max(1) as f64
}

async fn check(file: &str, min_right: f64, max_wrong: f64) {
    let name = file.trim_start_matches("meds-").trim_end_matches(".jsonl");
    let shown = std::env::var("MEDS_MISSES").unwrap_or_default();
    let t = score(file, shown.split(',').any(|s| s == name)).await;
    let n = t.right + t.again + t.model + t.wrong;
    let (right, wrong) = (pct(t.right, n), pct(t.wrong, n));
    eprintln!(
        "{file}: {n} messages: right {right:.1}%, asked again {:.1}%, left to the model {:.1}%, wrong {wrong:.1}%",
        pct(t.again, n),
        pct(t.model, n)
    );
    for m in &t.misses {
        eprintln!("  {m}");
    }
    assert!(n >= 100, "{file}: only {n} messages");
    assert!(right >= min_right && wrong <= max_wrong, "{file}: right {right:.1}% (floor {min_right}), wrong {wrong:.1}% (ceiling {max_wrong})");
}

#[tokio::test]
async fn corpus_w_medicines_are_matched() {
    check("meds-w.jsonl", 95.0, 1.0).await;
}

#[tokio::test]
async fn corpus_x_medicines_are_matched() {
    check("meds-x.jsonl", 86.0, 2.0).await;
}
