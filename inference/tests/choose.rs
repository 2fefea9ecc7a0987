//! `choose` on hand-made patient cases. The framing callers should use: the system message
//! carries the question and the options, the last user message is the patient's own words
//! (the embedding half of `choose` compares exactly that message with each option).

mod common;

use inference::{LanguageModel, Prompt};

fn framed(question: &str, message: &str, options: &[&str]) -> Prompt {
    let system = format!(
        "You help a hospital understand a patient's message. {question} Options: {}.",
        options.join("; ")
    );
    common::prompt(&system, message)
}

/// (question, patient message, options, index of the right option)
const CASES: &[(&str, &str, &[&str], usize)] = &[
    ("Which appointment time does the patient want?", "I'd prefer the morning one please",
        &["Tuesday 9:00 AM", "Thursday 3:30 PM"], 0),
    ("Which appointment time does the patient want?", "the afternoon works better for me",
        &["Tuesday 9:00 AM", "Thursday 3:30 PM"], 1),
    ("Which appointment time does the patient want?", "Thursday is good",
        &["Monday 10:00 AM", "Thursday 2:00 PM"], 1),
    ("Which appointment time does the patient want?", "monday please",
        &["Monday 10:00 AM", "Thursday 2:00 PM"], 0),
    ("Does the patient confirm?", "yes that's fine", &["yes", "no"], 0),
    ("Does the patient confirm?", "no, that doesn't work for me", &["yes", "no"], 1),
    ("Does the patient confirm?", "sure, book it", &["yes", "no"], 0),
    ("Does the patient confirm?", "nope", &["yes", "no"], 1),
    ("What does the patient want to do?", "I need to cancel my appointment",
        &["book a new appointment", "cancel an appointment", "refill a prescription"], 1),
    ("What does the patient want to do?", "can I get more of my blood pressure pills",
        &["book a new appointment", "cancel an appointment", "refill a prescription"], 2),
    ("What does the patient want to do?", "I'd like to schedule a checkup",
        &["book a new appointment", "cancel an appointment", "refill a prescription"], 0),
    ("Which medication does the patient mean?", "the metformin one",
        &["lisinopril 10 mg", "metformin 500 mg", "atorvastatin 20 mg"], 1),
    ("Which medication does the patient mean?", "my cholesterol medicine, atorvastatin",
        &["lisinopril 10 mg", "metformin 500 mg", "atorvastatin 20 mg"], 2),
    ("Which medication does the patient mean?", "lisinopril",
        &["lisinopril 10 mg", "metformin 500 mg", "atorvastatin 20 mg"], 0),
    ("How is the patient feeling since discharge?", "much better, thanks",
        &["better", "the same", "worse"], 0),
    ("How is the patient feeling since discharge?", "I feel worse than when I left",
        &["better", "the same", "worse"], 2),
    ("Is the patient taking the medication as prescribed?", "yes every morning like they said",
        &["yes", "no"], 0),
    ("Is the patient taking the medication as prescribed?", "I stopped taking it last week",
        &["yes", "no"], 1),
    ("Which appointment does the patient want to reschedule?", "the dentist one",
        &["cardiology on May 3", "dental cleaning on May 9"], 1),
    ("Which appointment does the patient want to reschedule?", "my heart doctor visit",
        &["cardiology on May 3", "dental cleaning on May 9"], 0),
];

#[tokio::test]
async fn choose_picks_the_right_option_in_patient_cases() {
    let model = common::model();
    let mut wrong = Vec::new();
    for (i, (question, message, options, right)) in CASES.iter().enumerate() {
        let opts: Vec<String> = options.iter().map(|s| s.to_string()).collect();
        let choice = model.choose(framed(question, message, options), opts).await.unwrap();
        assert_eq!(choice.logprobs.len(), options.len());
        if choice.index != *right {
            wrong.push(format!("case {i}: {message:?} -> {:?} ({:?})", options[choice.index], choice.logprobs));
        }
    }
    eprintln!("choose: {}/{} right; wrong: {wrong:#?}", CASES.len() - wrong.len(), CASES.len());
    // Measured: 17 of 20 right (model alone 9-12, embeddings alone 16); allow one more miss.
    assert!(wrong.len() <= 4, "too many wrong choices: {wrong:#?}");
}
