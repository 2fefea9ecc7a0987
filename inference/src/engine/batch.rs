//! Generation batched across concurrent requests: every running `generate` is one entry here;
//! each step samples one token per entry, streams its text, and feeds all the new tokens
//! through the model in one pass (the weights are read once for the whole batch, which is what
//! makes sixteen sessions cost far less than sixteen times one). Requests join between steps,
//! and leave when they finish, hit a stop sequence, or their caller goes away.

use candle_core::{Device, Tensor};
use candle_transformers::generation::{LogitsProcessor, Sampling};
use futures::channel::mpsc::UnboundedSender;

use super::chat::{model_err, ChatModel, Sequence};
use super::stats::Counters;
use super::tokenizer::Utf8Stream;
use crate::stops::StopScanner;
use crate::{GenerateParams, Result};

/// One running generation.
pub struct Running {
    seq: Sequence,
    logits: Vec<f32>,
    sampler: LogitsProcessor,
    utf8: Utf8Stream,
    stops: StopScanner,
    tx: UnboundedSender<Result<String>>,
    left: usize,
}

impl Running {
    pub fn new(seq: Sequence, logits: Vec<f32>, params: &GenerateParams, max_tokens: usize, tx: UnboundedSender<Result<String>>) -> Self {
        let sampling = if params.temperature <= 0.0 {
            Sampling::ArgMax
        } else {
            Sampling::All { temperature: params.temperature }
        };
        Self {
            seq,
            logits,
            sampler: LogitsProcessor::from_sampling(params.seed, sampling),
            utf8: Utf8Stream::default(),
            stops: StopScanner::new(&params.stop),
            tx,
            left: max_tokens,
        }
    }

    /// Sends what the stop scanner still holds; the stream then ends when `self` drops.
    fn finish(mut self) {
        let rest = self.stops.finish();
        if !rest.is_empty() {
            let _ = self.tx.unbounded_send(Ok(rest));
        }
    }

    /// Samples the next token and streams its text. `Some(token)` when the generation goes
    /// on and `token` must be fed; `None` when it is over (`self` is then spent).
    fn advance(&mut self, chat: &ChatModel, counters: &Counters) -> Result<Option<u32>> {
        if self.left == 0 || self.tx.is_closed() {
            return Ok(None);
        }
        let logits = Tensor::new(self.logits.as_slice(), &Device::Cpu).map_err(model_err)?;
        let token = self.sampler.sample(&logits).map_err(model_err)?;
        if chat.is_end_of_turn(token) || chat.tokenizer.is_special(token) {
            return Ok(None);
        }
        let piece = self.utf8.push(chat.tokenizer.token_bytes(token));
        let (text, hit) = self.stops.push(&piece);
        if !text.is_empty() && self.tx.unbounded_send(Ok(text)).is_err() {
            return Ok(None);
        }
        Counters::add(&counters.generated_tokens, 1);
        self.left -= 1;
        if hit {
            self.left = 0;
            return Ok(None);
        }
        Ok((self.left > 0).then_some(token))
    }
}

/// All running generations.
#[derive(Default)]
pub struct Batch {
    running: Vec<Running>,
}

impl Batch {
    pub fn is_empty(&self) -> bool {
        self.running.is_empty()
    }

    pub fn join(&mut self, run: Running) {
        self.running.push(run);
    }

    /// One token for every running generation, fed together.
    pub fn step(&mut self, chat: &ChatModel, counters: &Counters) {
        let mut going = Vec::with_capacity(self.running.len());
        let mut tokens = Vec::with_capacity(self.running.len());
        for mut run in self.running.drain(..) {
            match run.advance(chat, counters) {
                Ok(Some(token)) => {
                    tokens.push([token]);
                    going.push(run);
                }
                Ok(None) => run.finish(),
                Err(e) => {
                    let _ = run.tx.unbounded_send(Err(e));
                }
            }
        }
        if going.is_empty() {
            return;
        }
        let mut batch: Vec<(&mut Sequence, &[u32])> =
            going.iter_mut().zip(&tokens).map(|(r, t)| (&mut r.seq, &t[..])).collect();
        match chat.feed_batch(&mut batch) {
            Ok(all) => {
                for (run, logits) in going.iter_mut().zip(all) {
                    run.logits = logits;
                }
                if going.len() > 1 {
                    Counters::add(&counters.batched_steps, 1);
                }
                self.running = going;
            }
            Err(e) => {
                for run in going {
                    let _ = run.tx.unbounded_send(Err(e.clone()));
                }
            }
        }
    }
}
