//! How `choose` turns scores into a choice. A 135M chat model alone picks the right option in
//! only about half of our patient cases (9-12 of 20, depending on framing), the MiniLM
//! embedding similarity alone in 16 of 20; their mixture in 17 of 20. So the answer is the
//! mixture of two distributions over the options, with equal weight:
//! - the chat model's: softmax of each option's mean log-probability per token;
//! - the embedder's: softmax of cosine(last user message, option) at temperature 0.05.
//!
//! `Choice::logprobs` holds the natural log of each option's mixture probability.

/// Temperature for cosine similarities (they differ by a few hundredths between options).
const SIMILARITY_TEMPERATURE: f32 = 0.05;

pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn softmax(scores: &[f32], temperature: f32) -> Vec<f32> {
    let max = scores.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let exp: Vec<f32> = scores.iter().map(|s| ((s - max) / temperature).exp()).collect();
    let sum: f32 = exp.iter().sum::<f32>().max(f32::MIN_POSITIVE);
    exp.into_iter().map(|e| e / sum).collect()
}

/// Mixes the chat model's mean log-probabilities with the embedding similarities (when the
/// prompt had a user message to compare with).
pub fn combine(model_scores: &[f32], similarities: Option<&[f32]>) -> crate::Choice {
    let p_model = softmax(model_scores, 1.0);
    let mixed: Vec<f32> = match similarities {
        Some(sims) => {
            let p_sim = softmax(sims, SIMILARITY_TEMPERATURE);
            p_model.iter().zip(&p_sim).map(|(a, b)| 0.5 * (a + b)).collect()
        }
        None => p_model,
    };
    let index = mixed.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).map_or(0, |(i, _)| i);
    crate::Choice { index, logprobs: mixed.iter().map(|p| p.max(f32::MIN_POSITIVE).ln()).collect() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clear_embedding_match_outweighs_a_slight_model_preference() {
        let c = combine(&[-1.0, -1.1], Some(&[0.20, 0.45]));
        assert_eq!(c.index, 1);
        let total: f32 = c.logprobs.iter().map(|l| l.exp()).sum();
        assert!((total - 1.0).abs() < 1e-4);
    }

    #[test]
    fn without_a_user_message_the_model_alone_decides() {
        assert_eq!(combine(&[-0.5, -2.0], None).index, 0);
    }
}
