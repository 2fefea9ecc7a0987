//! The candle engine behind [`LanguageModel`]: the models live on one dedicated std thread
//! (its own rayon pool sized by `threads`), requests reach it through a queue with a fixed
//! number of places (embeddings have places of their own: they are batched and cheap). A full
//! queue answers [`Error::Overloaded`] at once; a caller that goes away
//! (future or stream dropped) frees its place immediately and the worker skips or stops its job.

mod batch;
pub(crate) mod chat;
mod choice;
mod embed;
mod extract;
pub mod llm;
mod prefix;
mod spm;
#[cfg(test)]
mod spm_tests;
mod stats;
mod template;
mod tokenizer;
mod worker;

use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::task::{Context, Poll};

use async_trait::async_trait;
use futures::channel::mpsc as stream_mpsc;
use futures::stream::{BoxStream, Stream};
use tokio::sync::oneshot;

use crate::config::ModelConfig;
use crate::models::ModelPaths;
use crate::schema::Schema;
use crate::{Choice, Error, GenerateParams, LanguageModel, ModelInfo, Prompt, Result};
pub use stats::{EngineStats, Kind, KindStats};
use stats::Counters;
pub use tokenizer::ChatTokenizer;
use worker::{Job, Queued, Worker};

/// The local model: SmolLM2 (or any llama / qwen2 / gemma3 GGUF) for chat, MiniLM (any BERT) for
/// embeddings. Cheap to share behind `Arc<dyn LanguageModel>`; dropping the last handle ends
/// the worker thread once its current job is done.
pub struct CandleModel {
    jobs: mpsc::Sender<Queued>,
    places: Arc<Places>,
    embed_places: Arc<Places>,
    info: ModelInfo,
    counters: Arc<Counters>,
}

/// Counts requests whose callers are still waiting (queued or running).
struct Places {
    taken: AtomicUsize,
    capacity: usize,
}

/// One taken place; given back when dropped (answer received, or caller gone).
struct Permit(Arc<Places>);

impl Drop for Permit {
    fn drop(&mut self) {
        self.0.taken.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Places {
    fn take(self: &Arc<Self>) -> Result<Permit> {
        self.taken
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| (n < self.capacity).then_some(n + 1))
            .map_err(|_| Error::Overloaded)?;
        Ok(Permit(self.clone()))
    }
}

/// The engine's thread count for a `threads` setting (0 = every core).
pub fn resolve_threads(threads: usize) -> usize {
    if threads == 0 { std::thread::available_parallelism().map_or(1, |n| n.get()) } else { threads }
}

impl CandleModel {
    /// Loads both models (seconds; call from a blocking context, e.g. `spawn_blocking`) and
    /// starts the worker thread.
    pub fn load(config: &ModelConfig, paths: &ModelPaths) -> Result<Self> {
        let counters = Arc::new(Counters::default());
        let worker = Worker::load(config, paths, counters.clone())?;
        let threads = resolve_threads(config.threads);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("inference-{i}"))
            .build()
            .map_err(|e| Error::Model(format!("thread pool: {e}")))?;
        let (jobs, rx) = mpsc::channel();
        std::thread::Builder::new()
            .name("inference".into())
            .spawn(move || worker.run(rx, pool))
            .map_err(|e| Error::Model(format!("cannot start the engine thread: {e}")))?;
        let info = ModelInfo {
            id: paths.chat_id.clone(),
            sha256: paths.chat_sha256.clone(),
            embedding_id: paths.embedding_id.clone(),
            embedding_sha256: paths.embedding_sha256.clone(),
        };
        let places = Arc::new(Places { taken: AtomicUsize::new(0), capacity: config.queue_capacity.max(1) });
        let embed_places = Arc::new(Places { taken: AtomicUsize::new(0), capacity: config.embed_queue_capacity.max(1) });
        Ok(Self { jobs, places, embed_places, info, counters })
    }

    /// Requests queued or running now (embeddings included).
    pub fn queue_depth(&self) -> usize {
        self.places.taken.load(Ordering::Acquire) + self.embed_places.taken.load(Ordering::Acquire)
    }

    /// Counters since load (for metrics and benchmarks).
    pub fn stats(&self) -> EngineStats {
        self.counters.snapshot()
    }

    fn submit(&self, job: Job) -> Result<()> {
        self.jobs.send((std::time::Instant::now(), job)).map_err(|_| Error::Stopped)
    }

    async fn call<T>(&self, places: &Arc<Places>, make: impl FnOnce(oneshot::Sender<Result<T>>) -> Job) -> Result<T> {
        let _permit = places.take()?;
        let (reply, answer) = oneshot::channel();
        self.submit(make(reply))?;
        answer.await.map_err(|_| Error::Stopped)?
    }
}

/// The generated pieces; holds the request's place until dropped.
struct PieceStream {
    rx: stream_mpsc::UnboundedReceiver<Result<String>>,
    _permit: Permit,
}

impl Stream for PieceStream {
    type Item = Result<String>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        Pin::new(&mut self.rx).poll_next(cx)
    }
}

#[async_trait]
impl LanguageModel for CandleModel {
    fn info(&self) -> ModelInfo {
        self.info.clone()
    }

    async fn generate(&self, prompt: Prompt, params: GenerateParams) -> Result<BoxStream<'static, Result<String>>> {
        let permit = self.places.take()?;
        let (tx, rx) = stream_mpsc::unbounded();
        self.submit(Job::Generate { prompt, params, tx })?;
        Ok(Box::pin(PieceStream { rx, _permit: permit }))
    }

    async fn choose(&self, prompt: Prompt, options: Vec<String>) -> Result<Choice> {
        if options.is_empty() || options.iter().any(|o| o.trim().is_empty()) {
            return Err(Error::InvalidRequest("choose needs non-empty options".into()));
        }
        self.call(&self.places, |reply| Job::Choose { prompt, options, reply }).await
    }

    async fn extract(&self, prompt: Prompt, schema: serde_json::Value) -> Result<serde_json::Value> {
        let schema = Schema::parse(&schema)?;
        self.call(&self.places, |reply| Job::Extract { prompt, schema, reply }).await
    }

    async fn embed(&self, texts: Vec<String>) -> Result<Vec<Vec<f32>>> {
        self.call(&self.embed_places, |reply| Job::Embed { texts, reply }).await
    }

    fn engine_stats(&self) -> Option<EngineStats> {
        Some(self.stats())
    }
}
