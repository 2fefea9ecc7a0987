//! The benchmark's results: one row per figure (ours, the peer's, their ratio, and for decode
//! figures the share of the memory-bandwidth ceiling), printed as a table or written as JSON,
//! followed by the checks that both sides computed the same thing (or why a peer figure is
//! missing).

use std::fmt;
use std::time::Duration;

use serde::Serialize;

use crate::ModelPaths;

#[derive(Clone, Debug, Serialize)]
pub struct Figure {
    pub name: String,
    pub unit: String,
    pub ours: f64,
    pub peer: Option<f64>,
    /// Our speed over the peer's (above 1: we are faster), whatever the unit.
    pub speed_ratio: Option<f64>,
    /// For decode figures: the tokens/s the measured bandwidth allows (weights read once per
    /// step) and our share of it.
    pub ceiling: Option<f64>,
    pub ours_pct_of_ceiling: Option<f64>,
    pub peer_pct_of_ceiling: Option<f64>,
}

impl Figure {
    /// A rate (higher is better).
    pub fn rate(name: &str, unit: &str, ours: f64, peer: Option<f64>) -> Self {
        Self {
            name: name.into(),
            unit: unit.into(),
            ours,
            peer,
            speed_ratio: peer.map(|p| ours / p.max(1e-12)),
            ceiling: None,
            ours_pct_of_ceiling: None,
            peer_pct_of_ceiling: None,
        }
    }

    /// A duration in milliseconds (lower is better).
    pub fn time(name: &str, ours: Duration, peer: Option<Duration>) -> Self {
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        let mut f = Self::rate(name, "ms", ms(ours), peer.map(ms));
        f.speed_ratio = peer.map(|p| p.as_secs_f64() / ours.as_secs_f64().max(1e-12));
        f
    }

    /// Adds the share of `ceiling`, where there is one.
    pub fn with_ceiling(mut self, ceiling: Option<f64>) -> Self {
        let Some(ceiling) = ceiling else { return self };
        self.ceiling = Some(ceiling);
        self.ours_pct_of_ceiling = Some(100.0 * self.ours / ceiling);
        self.peer_pct_of_ceiling = self.peer.map(|p| 100.0 * p / ceiling);
        self
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct BenchReport {
    pub model: String,
    pub model_sha256: String,
    pub threads: usize,
    /// Where the chat model's forward pass ran (`[model] device`).
    pub device: String,
    pub weight_bytes: usize,
    pub peer: Option<String>,
    pub bandwidth_bytes_s: f64,
    pub figures: Vec<Figure>,
    /// Cosine of our embedding and llama.cpp's for each check sentence (empty without a peer):
    /// shows both sides embed the same thing before their speeds are compared.
    pub embed_cosine: Vec<f64>,
    /// One line per check or missing peer figure, printed under the table.
    pub checks: Vec<String>,
}

impl BenchReport {
    pub fn new(paths: &ModelPaths, threads: usize, weight_bytes: usize, peer: Option<String>) -> Self {
        Self {
            model: paths.chat_id.clone(),
            model_sha256: paths.chat_sha256.clone(),
            threads,
            device: "cpu".into(),
            weight_bytes,
            peer: peer.map(|v| format!("llama.cpp (llama-cpp-python {v}, flash attention off)")),
            bandwidth_bytes_s: 0.0,
            figures: Vec::new(),
            embed_cosine: Vec::new(),
            checks: Vec::new(),
        }
    }

    pub fn push(&mut self, f: Figure) {
        self.figures.push(f);
    }

    pub fn check(&mut self, line: String) {
        self.checks.push(line);
    }

    /// Decode tokens/s the bandwidth allows with `batch` sequences per weight read. None on a
    /// GPU: the bandwidth measured is the host memory's, which a GPU pass does not read.
    pub fn decode_ceiling(&self, batch: usize) -> Option<f64> {
        let on_host = !self.device.starts_with("cuda");
        on_host.then(|| batch as f64 * self.bandwidth_bytes_s / self.weight_bytes.max(1) as f64)
    }

    pub fn figure(&self, name_starts: &str) -> Option<&Figure> {
        self.figures.iter().find(|f| f.name.starts_with(name_starts))
    }
}

fn opt(v: Option<f64>, digits: usize, suffix: &str) -> String {
    v.map_or_else(|| "-".into(), |v| format!("{v:.digits$}{suffix}"))
}

impl fmt::Display for BenchReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "model     {} (sha256 {}…)", self.model, &self.model_sha256[..self.model_sha256.len().min(12)])?;
        writeln!(f, "device    {}   threads {}   weights {:.0} MB   host read bandwidth {:.1} GB/s", self.device, self.threads, self.weight_bytes as f64 / 1e6, self.bandwidth_bytes_s / 1e9)?;
        writeln!(f, "peer      {}", self.peer.as_deref().unwrap_or("none (pass --peer-python)"))?;
        writeln!(f, "{:<38} {:>10} {:>10} {:>7} {:>9} {:>8}", "figure", "ours", "llama.cpp", "ratio", "ceiling%", "peer%")?;
        for x in &self.figures {
            writeln!(
                f,
                "{:<38} {:>10} {:>10} {:>7} {:>9} {:>8}",
                format!("{} [{}]", x.name, x.unit),
                format!("{:.1}", x.ours),
                opt(x.peer, 1, ""),
                opt(x.speed_ratio, 2, "x"),
                opt(x.ours_pct_of_ceiling, 0, "%"),
                opt(x.peer_pct_of_ceiling, 0, "%"),
            )?;
        }
        write!(f, "ratio = our speed / llama.cpp's speed (above 1.00x: faster)")?;
        for c in &self.checks {
            write!(f, "\ncheck     {c}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> BenchReport {
        let paths = ModelPaths {
            chat_id: "chat".into(),
            chat_gguf: "chat.gguf".into(),
            chat_sha256: "ab".repeat(32),
            embedding_id: "bert".into(),
            embedding_dir: "bert".into(),
            embedding_sha256: "cd".repeat(32),
        };
        BenchReport::new(&paths, 1, 1000, Some("0.3.36".into()))
    }

    #[test]
    fn a_figure_the_peer_could_not_give_shows_a_dash_and_the_reason_under_the_table() {
        let mut r = report();
        r.push(Figure::rate("embed batch 32", "sent/s", 100.0, None));
        r.check("llama.cpp embeddings not measured: no GGUF".into());
        let text = r.to_string();
        let row = text.lines().find(|l| l.starts_with("embed batch 32")).unwrap();
        assert!(row.contains(" - "), "{row}");
        assert!(text.lines().last().unwrap().ends_with("llama.cpp embeddings not measured: no GGUF"));
    }

    #[test]
    fn batched_rate_ratio_is_ours_over_the_peers() {
        let f = Figure::rate("batched decode B=4 (aggregate)", "tok/s", 300.0, Some(100.0));
        assert_eq!(f.speed_ratio, Some(3.0));
        let json = serde_json::to_value(&f).unwrap();
        assert_eq!(json["peer"], 100.0);
    }

    #[test]
    fn the_host_bandwidth_ceiling_applies_to_passes_that_read_host_memory_only() {
        let on = |device: &str| {
            let mut r = report();
            r.device = device.into();
            r.bandwidth_bytes_s = 100_000.0;
            r
        };
        assert_eq!(on("cpu").decode_ceiling(4), Some(400.0));
        assert_eq!(on("candle-cpu").decode_ceiling(1), Some(100.0));
        let gpu = on("cuda:1");
        assert_eq!(gpu.decode_ceiling(1), None);
        let f = Figure::rate("decode", "tok/s", 25.0, None).with_ceiling(gpu.decode_ceiling(1));
        assert_eq!((f.ceiling, f.ours_pct_of_ceiling), (None, None));
        assert!(gpu.to_string().starts_with("model") && gpu.to_string().contains("device    cuda:1"));
    }
}
