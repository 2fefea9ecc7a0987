//! The benchmark's peer: llama.cpp through llama-cpp-python in a venv of its own (never used
//! by the product), driven over a line protocol by `inference/bench/llama_cpp_peer.py`. Same
//! GGUF, same thread count, same token ids as our engine. For embeddings the peer converts our
//! BERT safetensors to a GGUF of its own (`inference/bench/bert_to_gguf.py`, cached beside the
//! model with its sha256) so both sides embed with the same weights.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::Duration;

use serde_json::{json, Value};

use crate::{Error, Result};

/// The peer script and the converter it imports, shipped in the source tree.
pub const SCRIPT: &str = include_str!("../../bench/llama_cpp_peer.py");
pub const CONVERTER: &str = include_str!("../../bench/bert_to_gguf.py");

/// The peer's answer to a batched decode.
#[derive(Clone, Debug, PartialEq)]
pub struct Batched {
    pub seconds: Duration,
    /// Sequence 0's greedy tokens, to check both engines followed the same path.
    pub first: Vec<u32>,
}

/// The peer's answer to opening the embedding model.
#[derive(Clone, Debug, PartialEq)]
pub struct EmbedOpened {
    /// Whether this run converted the safetensors (else the cached GGUF was reused).
    pub converted: bool,
    pub sha256: String,
}

/// The peer's answer to an embedding request.
#[derive(Clone, Debug, PartialEq)]
pub struct Embedded {
    pub seconds: Duration,
    /// Present only when asked for (the cosine check); timing runs do not ship vectors.
    pub vectors: Vec<Vec<f32>>,
}

pub struct Peer {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    pub version: String,
}

fn peer_err(why: impl std::fmt::Display) -> Error {
    Error::Model(format!("llama.cpp peer: {why}"))
}

impl Peer {
    /// Starts the peer with `python` (a venv's interpreter that has llama-cpp-python).
    pub fn start(python: &Path, gguf: &Path, threads: usize, context: usize) -> Result<Self> {
        // Both files in one folder: the script imports the converter from beside itself.
        let dir: PathBuf = std::env::temp_dir().join(format!("llama_cpp_peer_{}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(peer_err)?;
        let script = dir.join("llama_cpp_peer.py");
        std::fs::write(&script, SCRIPT).map_err(peer_err)?;
        std::fs::write(dir.join("bert_to_gguf.py"), CONVERTER).map_err(peer_err)?;
        let mut child = Command::new(python)
            .arg(&script)
            .arg(gguf)
            .arg(threads.to_string())
            .arg(context.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| peer_err(format!("cannot start {}: {e}", python.display())))?;
        let stdin = child.stdin.take().ok_or_else(|| peer_err("no stdin"))?;
        let stdout = BufReader::new(child.stdout.take().ok_or_else(|| peer_err("no stdout"))?);
        let mut peer = Self { child, stdin, stdout, version: String::new() };
        peer.read()?;
        let info = peer.ask(json!({"op": "info"}))?;
        peer.version = info["version"].as_str().unwrap_or("?").to_string();
        Ok(peer)
    }

    fn read(&mut self) -> Result<Value> {
        let mut line = String::new();
        self.stdout.read_line(&mut line).map_err(peer_err)?;
        if line.is_empty() {
            return Err(peer_err("exited (is llama-cpp-python installed in that venv?)"));
        }
        let v: Value = serde_json::from_str(&line).map_err(peer_err)?;
        match v.get("error") {
            Some(e) => Err(peer_err(e)),
            None => Ok(v),
        }
    }

    fn ask(&mut self, request: Value) -> Result<Value> {
        writeln!(self.stdin, "{request}").and_then(|_| self.stdin.flush()).map_err(peer_err)?;
        self.read()
    }

    fn seconds(&mut self, request: Value) -> Result<Duration> {
        seconds_of(&self.ask(request)?)
    }

    pub fn prefill(&mut self, tokens: &[u32]) -> Result<Duration> {
        self.seconds(json!({"op": "prefill", "tokens": tokens}))
    }

    pub fn decode(&mut self, prompt: &[u32], n: usize) -> Result<Duration> {
        self.seconds(json!({"op": "decode", "tokens": prompt, "n": n}))
    }

    pub fn ttft(&mut self, prefix: &[u32], rest: &[u32], warm: bool) -> Result<Duration> {
        self.seconds(json!({"op": "ttft", "prefix": prefix, "rest": rest, "warm": warm}))
    }

    /// `prompts.len()` sequences decoded together, `n` greedy steps of one llama_decode each.
    pub fn batched_decode(&mut self, prompts: &[Vec<u32>], n: usize) -> Result<Batched> {
        parse_batched(&self.ask(json!({"op": "batched_decode", "prompts": prompts, "n": n}))?)
    }

    /// Converts (once) and opens our BERT model as a GGUF for llama.cpp's embedding path.
    pub fn embed_open(&mut self, bert_dir: &Path, gguf: &Path) -> Result<EmbedOpened> {
        parse_opened(&self.ask(json!({"op": "embed_open", "bert_dir": bert_dir, "gguf": gguf}))?)
    }

    pub fn embed(&mut self, texts: &[String], vectors: bool) -> Result<Embedded> {
        parse_embedded(&self.ask(json!({"op": "embed", "texts": texts, "vectors": vectors}))?)
    }
}

fn seconds_of(v: &Value) -> Result<Duration> {
    let s = v["seconds"].as_f64().filter(|s| s.is_finite() && *s >= 0.0);
    Ok(Duration::from_secs_f64(s.ok_or_else(|| peer_err("answer without seconds"))?))
}

fn parse_batched(v: &Value) -> Result<Batched> {
    let first = v["first"].as_array().ok_or_else(|| peer_err("batched answer without tokens"))?;
    let first = first
        .iter()
        .map(|t| t.as_u64().and_then(|t| u32::try_from(t).ok()).ok_or_else(|| peer_err("bad token id")))
        .collect::<Result<_>>()?;
    Ok(Batched { seconds: seconds_of(v)?, first })
}

fn parse_opened(v: &Value) -> Result<EmbedOpened> {
    let sha256 = v["sha256"].as_str().filter(|s| s.len() == 64).ok_or_else(|| peer_err("no sha256 of the GGUF"))?;
    Ok(EmbedOpened { converted: v["converted"].as_bool().unwrap_or(false), sha256: sha256.to_string() })
}

fn parse_embedded(v: &Value) -> Result<Embedded> {
    let vectors = match v.get("vectors") {
        None => Vec::new(),
        Some(rows) => serde_json::from_value(rows.clone()).map_err(|e| peer_err(format!("bad vectors: {e}")))?,
    };
    Ok(Embedded { seconds: seconds_of(v)?, vectors })
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batched_answer_gives_time_and_sequence_zero_tokens() {
        let b = parse_batched(&json!({"seconds": 0.5, "generated": 64, "first": [7, 8, 9]})).unwrap();
        assert_eq!(b, Batched { seconds: Duration::from_millis(500), first: vec![7, 8, 9] });
    }

    #[test]
    fn batched_answer_without_tokens_or_time_is_an_error() {
        assert!(parse_batched(&json!({"seconds": 0.5})).is_err());
        assert!(parse_batched(&json!({"first": [1]})).is_err());
        assert!(parse_batched(&json!({"seconds": 0.5, "first": [-1]})).is_err());
    }

    #[test]
    fn embed_open_answer_carries_the_gguf_checksum() {
        let sha = "ab".repeat(32);
        let o = parse_opened(&json!({"converted": true, "sha256": sha, "pooling": "mean"})).unwrap();
        assert_eq!(o, EmbedOpened { converted: true, sha256: sha });
        assert!(parse_opened(&json!({"converted": true, "sha256": "short"})).is_err());
    }

    #[test]
    fn embed_answer_has_vectors_only_when_asked() {
        let timed = parse_embedded(&json!({"seconds": 0.01})).unwrap();
        assert!(timed.vectors.is_empty());
        let checked = parse_embedded(&json!({"seconds": 0.01, "vectors": [[0.6, 0.8], [1.0, 0.0]]})).unwrap();
        assert_eq!(checked.vectors, vec![vec![0.6, 0.8], vec![1.0, 0.0]]);
        assert!(parse_embedded(&json!({"seconds": 0.01, "vectors": "x"})).is_err());
        assert!(parse_embedded(&json!({"seconds": -1.0})).is_err());
    }
}
