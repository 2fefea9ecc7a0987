//! The engine thread: takes jobs one at a time, skips those whose caller has gone, and runs
//! generation, option scoring, constrained extraction and embedding on the loaded models.

use std::sync::{mpsc, Arc};

use candle_core::{Device, Tensor};
use candle_transformers::generation::{LogitsProcessor, Sampling};
use futures::channel::mpsc::UnboundedSender;
use tokio::sync::oneshot;

use super::chat::{log_prob, model_err, ChatModel, Sequence};
use super::embed::Embedder;
use super::prefix::PrefixCache;
use super::stats::Counters;
use super::tokenizer::Utf8Stream;
use crate::config::ModelConfig;
use crate::models::ModelPaths;
use crate::schema::Schema;
use crate::stops::StopScanner;
use crate::{Choice, Error, GenerateParams, Prompt, Result};

/// candle's llama precomputes rotary tables for 4096 positions.
const MAX_CONTEXT: usize = 4096;

pub enum Job {
    Generate { prompt: Prompt, params: GenerateParams, tx: UnboundedSender<Result<String>> },
    Choose { prompt: Prompt, options: Vec<String>, reply: oneshot::Sender<Result<Choice>> },
    Extract { prompt: Prompt, schema: Schema, reply: oneshot::Sender<Result<serde_json::Value>> },
    Embed { texts: Vec<String>, reply: oneshot::Sender<Result<Vec<Vec<f32>>>> },
}

impl Job {
    fn caller_gone(&self) -> bool {
        match self {
            Job::Generate { tx, .. } => tx.is_closed(),
            Job::Choose { reply, .. } => reply.is_closed(),
            Job::Extract { reply, .. } => reply.is_closed(),
            Job::Embed { reply, .. } => reply.is_closed(),
        }
    }
}

pub struct Worker {
    pub(super) chat: ChatModel,
    embedder: Embedder,
    cache: PrefixCache,
    config: ModelConfig,
    pub(super) counters: Arc<Counters>,
}

impl Worker {
    pub fn load(config: &ModelConfig, paths: &ModelPaths, counters: Arc<Counters>) -> Result<Self> {
        let chat = ChatModel::load(&paths.chat_gguf)?;
        let embedder = Embedder::load(&paths.embedding_dir)?;
        let cache = PrefixCache::new(config.kv_cache_bytes, chat.dims.kv_bytes_per_token());
        Ok(Self { chat, embedder, cache, config: config.clone(), counters })
    }

    pub fn run(mut self, jobs: mpsc::Receiver<Job>, pool: rayon::ThreadPool) {
        while let Ok(job) = jobs.recv() {
            if job.caller_gone() {
                tracing::debug!("skipping a model request whose caller went away");
                Counters::add(&self.counters.skipped, 1);
                continue;
            }
            Counters::add(&self.counters.requests, 1);
            pool.install(|| self.handle(job));
        }
    }

    fn handle(&mut self, job: Job) {
        match job {
            Job::Generate { prompt, params, tx } => {
                if let Err(e) = self.generate(&prompt, &params, &tx) {
                    let _ = tx.unbounded_send(Err(e));
                }
            }
            Job::Choose { prompt, options, reply } => {
                let _ = reply.send(self.choose(&prompt, &options));
            }
            Job::Extract { prompt, schema, reply } => {
                let answer = self.extract(&prompt, &schema, &|| reply.is_closed());
                let _ = reply.send(answer);
            }
            Job::Embed { texts, reply } => {
                let _ = reply.send(self.embedder.embed(&texts));
            }
        }
    }

    pub(super) fn config_max_extract(&self) -> usize {
        self.config.max_extract_tokens.max(1)
    }

    fn context_limit(&self) -> usize {
        self.config.context_tokens.clamp(16, MAX_CONTEXT)
    }

    /// Renders the prompt (answer opened), reuses the longest cached prefix, feeds the rest and
    /// returns the sequence with the logits of the answer's first token. `reserve` tokens must
    /// fit after the prompt.
    pub(super) fn start(&mut self, prompt: &Prompt, reserve: usize) -> Result<(Sequence, Vec<f32>)> {
        let (tokens, system_end) = self.chat.render(&prompt.messages, true)?;
        if tokens.len() + reserve > self.context_limit() {
            return Err(Error::InvalidRequest(format!(
                "prompt of {} tokens leaves no room for {reserve} answer tokens (context {})",
                tokens.len(), self.context_limit()
            )));
        }
        let mut seq = self.cache.lookup(&tokens).unwrap_or_else(|| self.chat.new_sequence());
        Counters::add(&self.counters.prompt_tokens, tokens.len());
        Counters::add(&self.counters.reused_tokens, seq.tokens.len());
        if seq.tokens.len() < system_end {
            seq.feed(&tokens[seq.tokens.len()..system_end], &self.chat)?;
            self.cache.insert(&seq);
        }
        let logits = seq.feed(&tokens[seq.tokens.len()..], &self.chat)?;
        if prompt.session.is_some() {
            self.cache.insert(&seq);
        }
        Ok((seq, logits))
    }

    fn generate(&mut self, prompt: &Prompt, params: &GenerateParams, tx: &UnboundedSender<Result<String>>) -> Result<()> {
        let max_tokens = params.max_tokens.min(self.config.max_tokens);
        let (mut seq, mut logits) = self.start(prompt, max_tokens)?;
        let sampling = if params.temperature <= 0.0 {
            Sampling::ArgMax
        } else {
            Sampling::All { temperature: params.temperature }
        };
        let mut sampler = LogitsProcessor::from_sampling(params.seed, sampling);
        let mut utf8 = Utf8Stream::default();
        let mut stops = StopScanner::new(&params.stop);
        for n in 0..max_tokens {
            if tx.is_closed() {
                return Ok(());
            }
            let logits_t = Tensor::new(logits.as_slice(), &Device::Cpu).map_err(model_err)?;
            let token = sampler.sample(&logits_t).map_err(model_err)?;
            if self.chat.is_end_of_turn(token) || self.chat.tokenizer.is_special(token) {
                break;
            }
            let piece = utf8.push(self.chat.tokenizer.token_bytes(token));
            let (text, hit) = stops.push(&piece);
            if !text.is_empty() && tx.unbounded_send(Ok(text)).is_err() {
                return Ok(());
            }
            if hit {
                return Ok(());
            }
            Counters::add(&self.counters.generated_tokens, 1);
            if n + 1 < max_tokens {
                logits = seq.feed(&[token], &self.chat)?;
            }
        }
        let rest = stops.finish();
        if !rest.is_empty() {
            let _ = tx.unbounded_send(Ok(rest));
        }
        Ok(())
    }

    /// Scores options as a mixture of two experts (see `choice`): the chat model's mean
    /// log-probability per token of each option (its tokens plus end-of-turn) as the whole
    /// answer, and the embedding similarity between the last user message and each option.
    fn choose(&mut self, prompt: &Prompt, options: &[String]) -> Result<Choice> {
        let encoded: Vec<Vec<u32>> = options
            .iter()
            .map(|o| self.chat.tokenizer.encode(o).map(|mut t| {
                t.push(self.chat.im_end);
                t
            }))
            .collect::<Result<_>>()?;
        let longest = encoded.iter().map(Vec::len).max().unwrap_or(1);
        let (seq, first_logits) = self.start(prompt, longest)?;
        let mut model_scores = Vec::with_capacity(options.len());
        for tokens in &encoded {
            let mut s = seq.clone();
            let mut logits = first_logits.clone();
            let mut total = 0.0f32;
            for (i, &t) in tokens.iter().enumerate() {
                total += log_prob(&logits, t);
                if i + 1 < tokens.len() {
                    logits = s.feed(&[t], &self.chat)?;
                }
            }
            model_scores.push(total / tokens.len() as f32);
        }
        let last_user = prompt.messages.iter().rev().find(|m| m.role == crate::Role::User);
        let similarities = match last_user {
            Some(m) => {
                let mut texts = vec![m.content.clone()];
                texts.extend(options.iter().cloned());
                let v = self.embedder.embed(&texts)?;
                Some(v[1..].iter().map(|o| super::choice::cosine(&v[0], o)).collect::<Vec<f32>>())
            }
            None => None,
        };
        Ok(super::choice::combine(&model_scores, similarities.as_deref()))
    }
}
