//! The engine thread: takes jobs in arrival order, skips those whose caller has gone, and runs
//! option scoring one at a time; embeddings queued back to back are computed in one pass, and
//! extractions queued back to back are decoded together (one pass per step for all of them);
//! generations join a [`Batch`] that advances
//! all of them one token per step, new jobs being taken between steps.

use std::sync::{mpsc, Arc};
use std::time::Instant;

use futures::channel::mpsc::UnboundedSender;
use tokio::sync::oneshot;

use super::batch::{Batch, Running};
use super::chat::{log_prob, ChatModel, Sequence};
use super::embed::Embedder;
use super::extract::ExtractJob;
use super::prefix::PrefixCache;
use super::stats::{Counters, Kind};
use crate::config::ModelConfig;
use crate::models::ModelPaths;
use crate::schema::Schema;
use crate::{Choice, Error, GenerateParams, Prompt, Result};

pub enum Job {
    Generate { prompt: Prompt, params: GenerateParams, tx: UnboundedSender<Result<String>> },
    Choose { prompt: Prompt, options: Vec<String>, reply: oneshot::Sender<Result<Choice>> },
    Extract { prompt: Prompt, schema: Schema, reply: oneshot::Sender<Result<serde_json::Value>> },
    Embed { texts: Vec<String>, reply: oneshot::Sender<Result<Vec<Vec<f32>>>> },
}

/// An embedding request's texts and where its answer goes.
type EmbedJob = (Vec<String>, oneshot::Sender<Result<Vec<Vec<f32>>>>);

/// A job and when it was queued (for the queue-wait counter).
pub type Queued = (Instant, Job);

impl Job {
    fn kind(&self) -> Kind {
        match self {
            Job::Generate { .. } => Kind::Generate,
            Job::Choose { .. } => Kind::Choose,
            Job::Extract { .. } => Kind::Extract,
            Job::Embed { .. } => Kind::Embed,
        }
    }

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
        let chat = ChatModel::load(&paths.chat_gguf, config.device)?;
        let embedder = Embedder::load(&paths.embedding_dir, config.device)?;
        let cache = PrefixCache::new(config.kv_cache_bytes, chat.dims.kv_bytes_per_token());
        Ok(Self { chat, embedder, cache, config: config.clone(), counters })
    }

    pub fn run(mut self, jobs: mpsc::Receiver<Queued>, pool: rayon::ThreadPool) {
        let mut batch = Batch::default();
        // A job taken from the queue while gathering a group, to run next.
        let mut held: Option<Job> = None;
        loop {
            // Block for work only when no generation is running; otherwise take what has
            // arrived and go on stepping.
            let next = match held.take() {
                Some(job) => Ok(Some(job)),
                None if batch.is_empty() => jobs.recv().map(|q| self.take(q)).map_err(|_| mpsc::TryRecvError::Disconnected),
                None => jobs.try_recv().map(|q| self.take(q)),
            };
            match next {
                Ok(None) => {}
                Ok(Some(Job::Extract { prompt, schema, reply })) => {
                    let group = self.gather(ExtractJob { prompt, schema, reply }, &jobs, &mut held, |job| match job {
                        Job::Extract { prompt, schema, reply } => Ok(ExtractJob { prompt, schema, reply }),
                        other => Err(other),
                    });
                    self.run_timed(Kind::Extract, group.len(), &pool, |w| w.extract_group(group));
                }
                Ok(Some(Job::Embed { texts, reply })) => {
                    let group = self.gather((texts, reply), &jobs, &mut held, |job| match job {
                        Job::Embed { texts, reply } => Ok((texts, reply)),
                        other => Err(other),
                    });
                    self.run_timed(Kind::Embed, group.len(), &pool, |w| w.embed_group(group));
                }
                Ok(Some(job)) => self.accept(job, &mut batch, &pool),
                Err(mpsc::TryRecvError::Disconnected) if batch.is_empty() => return,
                Err(_) => self.step(&mut batch, &pool),
            }
        }
    }

    /// Counts a job taken from the queue; `None` when its caller has gone (skipped).
    fn take(&self, (queued, job): Queued) -> Option<Job> {
        Counters::add(&self.counters.wait_nanos, queued.elapsed().as_nanos() as usize);
        if job.caller_gone() {
            tracing::debug!("skipping a model request whose caller went away");
            Counters::add(&self.counters.skipped, 1);
            return None;
        }
        Counters::add(&self.counters.requests, 1);
        Some(job)
    }

    /// `first` and the jobs of its kind queued right behind it (`same` says which: `Ok` with
    /// the job's parts), to be run together. Stops at the first other job, which is kept in
    /// `held` to run next (arrival order is kept).
    fn gather<T>(&self, first: T, jobs: &mpsc::Receiver<Queued>, held: &mut Option<Job>, same: impl Fn(Job) -> Result<T, Job>) -> Vec<T> {
        let mut group = vec![first];
        while let Ok(queued) = jobs.try_recv() {
            let Some(job) = self.take(queued) else { continue };
            match same(job) {
                Ok(parts) => group.push(parts),
                Err(other) => {
                    *held = Some(other);
                    break;
                }
            }
        }
        group
    }

    /// Embeds the texts of every request in `group` in one pass (padded to the longest text;
    /// each text's vector is what it would be alone) and answers each with its own vectors.
    fn embed_group(&self, group: Vec<EmbedJob>) {
        Counters::add(&self.counters.embed_passes, 1);
        let all: Vec<String> = group.iter().flat_map(|(texts, _)| texts.iter().cloned()).collect();
        match self.embedder.embed(&all) {
            Ok(vectors) => {
                let mut vectors = vectors.into_iter();
                for (texts, reply) in group {
                    let _ = reply.send(Ok(vectors.by_ref().take(texts.len()).collect()));
                }
            }
            Err(e) => {
                for (_, reply) in group {
                    let _ = reply.send(Err(e.clone()));
                }
            }
        }
    }

    fn run_timed(&mut self, kind: Kind, jobs: usize, pool: &rayon::ThreadPool, work: impl FnOnce(&mut Self) + Send) {
        let counters = self.counters.clone();
        counters.timed(kind, jobs, || pool.install(|| work(self)));
    }

    fn step(&mut self, batch: &mut Batch, pool: &rayon::ThreadPool) {
        self.run_timed(Kind::Generate, 0, pool, |w| batch.step(&w.chat, &w.counters));
    }

    fn accept(&mut self, job: Job, batch: &mut Batch, pool: &rayon::ThreadPool) {
        let kind = job.kind();
        self.run_timed(kind, 1, pool, |w| match job {
            Job::Generate { prompt, params, tx } => match w.start_generation(&prompt, &params, tx.clone()) {
                Ok(run) => batch.join(run),
                Err(e) => {
                    let _ = tx.unbounded_send(Err(e));
                }
            },
            other => w.handle(other),
        });
    }

    fn handle(&mut self, job: Job) {
        match job {
            Job::Generate { .. } => unreachable!("generations join the batch"),
            Job::Choose { prompt, options, reply } => {
                let _ = reply.send(self.choose(&prompt, &options));
            }
            Job::Extract { prompt, schema, reply } => self.extract_group(vec![ExtractJob { prompt, schema, reply }]),
            Job::Embed { texts, reply } => self.embed_group(vec![(texts, reply)]),
        }
    }

    pub(super) fn config_max_extract(&self) -> usize {
        self.config.max_extract_tokens.max(1)
    }

    fn context_limit(&self) -> usize {
        self.config.context_tokens.clamp(16, self.chat.max_positions())
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
            self.cache.insert(&mut seq);
        }
        let logits = seq.feed(&tokens[seq.tokens.len()..], &self.chat)?;
        if prompt.session.is_some() {
            self.cache.insert(&mut seq);
        }
        Ok((seq, logits))
    }

    fn start_generation(&mut self, prompt: &Prompt, params: &GenerateParams, tx: UnboundedSender<Result<String>>) -> Result<Running> {
        let max_tokens = params.max_tokens.min(self.config.max_tokens);
        let (seq, logits) = self.start(prompt, max_tokens)?;
        Ok(Running::new(seq, logits, params, max_tokens, tx))
    }

    /// Scores options as a mixture of two experts (see `choice`): the chat model's mean
    /// log-probability per token of each option (its tokens plus end-of-turn) as the whole
    /// answer, and the embedding similarity between the last user message and each option.
    fn choose(&mut self, prompt: &Prompt, options: &[String]) -> Result<Choice> {
        let encoded: Vec<Vec<u32>> = options
            .iter()
            .map(|o| self.chat.tokenizer.encode(o).map(|mut t| {
                t.push(self.chat.template.end_of_turn());
                t
            }))
            .collect::<Result<_>>()?;
        let longest = encoded.iter().map(Vec::len).max().unwrap_or(1);
        let (mut seq, first_logits) = self.start(prompt, longest)?;
        // Every option continues its own snapshot of the prompt (shared, not copied); step by
        // step, the options that still have tokens are fed together in one batch.
        seq.freeze();
        let mut seqs: Vec<Sequence> = encoded.iter().map(|_| seq.clone()).collect();
        let mut logits: Vec<Vec<f32>> = vec![first_logits; encoded.len()];
        let mut totals = vec![0f32; encoded.len()];
        for step in 0..longest {
            let mut more = vec![false; encoded.len()];
            for (i, tokens) in encoded.iter().enumerate() {
                if let Some(&t) = tokens.get(step) {
                    totals[i] += log_prob(&logits[i], t);
                    more[i] = step + 1 < tokens.len();
                }
            }
            let mut batch: Vec<(&mut Sequence, &[u32])> = seqs
                .iter_mut()
                .zip(&encoded)
                .zip(&more)
                .filter(|(_, &m)| m)
                .map(|((s, t), _)| (s, &t[step..step + 1]))
                .collect();
            if batch.is_empty() {
                break;
            }
            let fed = self.chat.feed_batch(&mut batch)?;
            let targets = logits.iter_mut().zip(&more).filter(|(_, &m)| m).map(|(l, _)| l);
            for (l, new) in targets.zip(fed) {
                *l = new;
            }
        }
        let model_scores: Vec<f32> = totals.iter().zip(&encoded).map(|(t, e)| t / e.len() as f32).collect();
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
