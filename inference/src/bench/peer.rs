//! The benchmark's peer: llama.cpp through llama-cpp-python in a venv of its own (never used
//! by the product), driven over a line protocol by `inference/bench/llama_cpp_peer.py`. Same
//! GGUF, same thread count, same token ids as our engine.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::Duration;

use serde_json::{json, Value};

use crate::{Error, Result};

/// The peer script, shipped in the source tree.
pub const SCRIPT: &str = include_str!("../../bench/llama_cpp_peer.py");

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
        let script: PathBuf = std::env::temp_dir().join(format!("llama_cpp_peer_{}.py", std::process::id()));
        std::fs::write(&script, SCRIPT).map_err(peer_err)?;
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
        let v = self.ask(request)?;
        let s = v["seconds"].as_f64().ok_or_else(|| peer_err("answer without seconds"))?;
        Ok(Duration::from_secs_f64(s))
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
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
