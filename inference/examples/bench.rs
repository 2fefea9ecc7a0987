//! `cargo run --release -p inference --example bench [rounds] [threads]`: the engine benchmark
//! on the default models (the service exposes the same as `agent bench model`).

use inference::{CandleModel, ModelConfig};

#[tokio::main]
async fn main() -> Result<(), inference::Error> {
    let mut args = std::env::args().skip(1);
    let rounds = args.next().and_then(|a| a.parse().ok()).unwrap_or(3);
    let threads = args.next().and_then(|a| a.parse().ok()).unwrap_or(2);
    let config = ModelConfig { threads, ..ModelConfig::default() };
    let paths = inference::resolve(&config, true, true)?;
    let start = std::time::Instant::now();
    let model = CandleModel::load(&config, &paths)?;
    println!("load                   {:?}", start.elapsed());
    println!("threads                {threads}");
    println!("{}", inference::bench::run(&model, rounds).await?);
    Ok(())
}
