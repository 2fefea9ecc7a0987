//! The device pass (`[model] device`: the forward pass a GPU runs) with the real default
//! models, against our CPU pass: the same greedy answer, the same choices, schema-valid
//! extraction. Without a GPU it runs on candle's CPU backend; `INFERENCE_TEST_DEVICE=cuda`
//! runs it on the GPU (a build with the `cuda` feature, on a machine that has one).

mod common;

use inference::{CandleModel, GenerateParams, LanguageModel};
use serde_json::json;

async fn answer(model: std::sync::Arc<CandleModel>, user: &str, max_tokens: usize) -> (String, usize) {
    let params = GenerateParams { max_tokens, ..GenerateParams::default() };
    common::answer(model, "You are a helpful assistant for a hospital's patient portal.", user, params).await
}

#[tokio::test]
async fn greedy_answers_on_the_device_pass_match_the_cpu_pass() {
    let (cpu, device) = (common::model(), common::device_model());
    let mut same = 0;
    let asks = ["Say hello in one short sentence.", "What should I bring to my appointment?", "Thank you!"];
    for ask in asks {
        let (want, _) = answer(cpu.clone(), ask, 24).await;
        let (got, pieces) = answer(device.clone(), ask, 24).await;
        assert!(!got.trim().is_empty() && pieces <= 24, "{ask}: {got:?}");
        // Both passes quantize activations to 8 bits, by different kernels: a near tie may go
        // either way late in an answer, so the opening words are compared.
        let opening = |s: &str| s.split_whitespace().take(3).collect::<Vec<_>>().join(" ");
        eprintln!("{ask}\n  cpu:    {want:?}\n  device: {got:?}");
        same += usize::from(opening(&got) == opening(&want));
    }
    assert!(same >= 2, "the device pass answered differently from the CPU pass");
    let (hello, pieces) = answer(device, "Say hello in one short sentence.", 200).await;
    assert!(pieces < 200, "generation on the device pass stops at the end of the turn: {hello}");
}

#[tokio::test]
async fn choices_and_extraction_on_the_device_pass() {
    let (cpu, device) = (common::model(), common::device_model());
    let options: Vec<String> = ["book a new appointment", "cancel an appointment", "refill a prescription"]
        .map(String::from)
        .to_vec();
    for message in ["I need to cancel my appointment", "can I get more of my blood pressure pills", "quiero una cita"] {
        let system = format!("What does the patient want to do? Options: {}.", options.join("; "));
        let want = cpu.choose(common::prompt(&system, message), options.clone()).await.unwrap();
        let got = device.choose(common::prompt(&system, message), options.clone()).await.unwrap();
        assert_eq!(got.index, want.index, "{message}: {:?} vs {:?}", got.logprobs, want.logprobs);
        for (g, w) in got.logprobs.iter().zip(&want.logprobs) {
            assert!((g - w).abs() < 0.5, "{message}: {:?} vs {:?}", got.logprobs, want.logprobs);
        }
    }
    let schema = json!({
        "type": "object",
        "properties": {
            "intent": {"enum": ["book", "reschedule", "cancel", "refill", "other"]},
            "preferred_date": {"type": "string", "format": "date"},
            "wants_human": {"type": "boolean"}
        },
        "required": ["intent", "wants_human"]
    });
    let parsed = inference::schema::Schema::parse(&schema).unwrap();
    let system = "Extract the patient's request as JSON. Today is 2026-11-26.";
    for msg in ["Please move my visit to 2026-12-10.", "Can I get a refill? I'm almost out."] {
        let value = device.extract(common::prompt(system, msg), schema.clone()).await.unwrap();
        assert!(parsed.validate(&value), "{value}");
    }
    let vectors = device.embed(vec!["I need to cancel".into(), "please cancel my visit".into()]).await.unwrap();
    let want = cpu.embed(vec!["I need to cancel".into(), "please cancel my visit".into()]).await.unwrap();
    for (g, w) in vectors.iter().zip(&want) {
        let dot: f32 = g.iter().zip(w).map(|(a, b)| a * b).sum();
        assert!(dot > 0.999, "embeddings differ: cosine {dot}");
    }
}
