//! The fuzz targets on stable Rust, as plain tests: each body runs over its seed corpus (the
//! built-in scripts, every patient line of the conversation cases, FHIR resources as our EHRs
//! send them) and over seeded random mutations of it (`FUZZ_ITERS` per target, default 3,000;
//! `FUZZ_SEED`). A failure prints the input that broke it.

use std::path::{Path, PathBuf};

use rand::{Rng, SeedableRng};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace").to_path_buf()
}

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn files(dir: &str, ext: &str) -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(root().join(dir))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == ext))
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect();
    out.sort();
    out
}

/// Pieces worth splicing in: syntax of each format, odd Unicode, edge numbers.
const TOKENS: &[&str] = &[
    "\"", "'", "{", "}", "[", "]", "[[steps]]", "=", ",", ":", "\n", "\r\n", "\\u0000", "\\", "null", "true",
    "-0", "1e999", "99999999999999999999", "0.0000000000000000001", "ñ", "\u{301}", "\u{202e}", "🩺", "İ", "ß",
    "\u{feff}", "chest pain", "mañana", "next tuesday", "10/10", "12", "resourceType", "\"entry\":[",
];

fn mutate(rng: &mut rand::rngs::StdRng, seeds: &[Vec<u8>]) -> Vec<u8> {
    let mut d = seeds[rng.random_range(0..seeds.len())].clone();
    for _ in 0..rng.random_range(1..6) {
        let at = if d.is_empty() { 0 } else { rng.random_range(0..=d.len()) };
        match rng.random_range(0..6) {
            0 if !d.is_empty() => {
                let i = rng.random_range(0..d.len());
                d[i] ^= 1 << rng.random_range(0..8);
            }
            1 => d.insert(at, rng.random()),
            2 if at < d.len() => {
                let end = (at + rng.random_range(1..32)).min(d.len());
                d.drain(at..end);
            }
            3 => {
                let t = TOKENS[rng.random_range(0..TOKENS.len())].as_bytes();
                d.splice(at..at, t.iter().copied());
            }
            4 => {
                let other = &seeds[rng.random_range(0..seeds.len())];
                if !other.is_empty() {
                    let s = rng.random_range(0..other.len());
                    let e = (s + rng.random_range(1..64)).min(other.len());
                    d.splice(at..at, other[s..e].iter().copied());
                }
            }
            _ => d.truncate(at),
        }
    }
    d
}

fn run(name: &str, seeds: Vec<Vec<u8>>, body: fn(&[u8])) {
    assert!(!seeds.is_empty());
    for s in &seeds {
        body(s);
    }
    let iters = env_or("FUZZ_ITERS", 3_000);
    let mut rng = rand::rngs::StdRng::seed_from_u64(env_or("FUZZ_SEED", 1));
    for i in 0..iters {
        let input = mutate(&mut rng, &seeds);
        let caught = std::panic::catch_unwind(|| body(&input));
        if caught.is_err() {
            panic!("{name}: input {i} broke it: {:?}", String::from_utf8_lossy(&input));
        }
    }
    eprintln!("{name}: {} seeds and {iters} mutations", seeds.len());
}

#[test]
fn script_loading_never_panics_and_diagnostics_point_inside_the_text() {
    run("script", files("workflows/scripts", "toml").into_iter().map(String::into_bytes).collect(), fuzzing::script::script);
}

#[test]
fn chat_input_rules_never_panic_and_agree() {
    let mut seeds: Vec<Vec<u8>> = vec![];
    for case in files("workflows/conversations", "toml") {
        for line in case.lines().filter_map(|l| l.trim().strip_prefix("say = ")) {
            seeds.push(line.trim_matches('"').as_bytes().to_vec());
        }
    }
    run("chat_input", seeds, fuzzing::chat::chat_input);
}

#[test]
fn fhir_json_parses_or_fails_and_round_trips() {
    let seeds = [
        r#"{"resourceType":"Bundle","type":"searchset","total":1,"link":[{"relation":"next","url":"http://x/fhir/Slot?page=2"}],"entry":[{"fullUrl":"http://x/fhir/Slot/1","resource":{"resourceType":"Slot","id":"1","schedule":{"reference":"Schedule/s"},"status":"free","start":"2026-11-27T09:00:00Z","end":"2026-11-27T09:30:00Z"}}]}"#,
        r#"{"resourceType":"Patient","id":"p1","meta":{"versionId":"2"},"name":[{"use":"official","family":"García López","given":["María"]}],"birthDate":"1958-04-12","communication":[{"language":{"coding":[{"system":"urn:ietf:bcp:47","code":"es"}]},"preferred":true}],"extension":[{"url":"x","valueDecimal":1.50}]}"#,
        r#"{"resourceType":"Appointment","id":"a","status":"booked","slot":[{"reference":"Slot/1"}],"participant":[{"actor":{"reference":"Patient/p1","display":"María"},"status":"accepted"}],"start":"2026-11-27T09:00:00Z"}"#,
        r#"{"resourceType":"MedicationRequest","id":"m","status":"active","intent":"order","subject":{"reference":"Patient/p1"},"medicationCodeableConcept":{"coding":[{"system":"http://www.nlm.nih.gov/research/umls/rxnorm","code":"314076","display":"Lisinopril 10 MG Oral Tablet"}]},"dispenseRequest":{"numberOfRepeatsAllowed":5,"quantity":{"value":30}}}"#,
        r#"{"resourceType":"Task","id":"t","status":"requested","intent":"order","for":{"reference":"Patient/p1"},"focus":{"reference":"MedicationRequest/m"}}"#,
        r#"{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"conflict","diagnostics":"version mismatch"}]}"#,
        r#"{"resourceType":"QuestionnaireResponse","status":"completed","item":[{"linkId":"pain","answer":[{"valueInteger":3}]}]}"#,
    ];
    run("fhir_json", seeds.iter().map(|s| s.as_bytes().to_vec()).collect(), fuzzing::fhir::fhir_json);
}
