//! `parley-bench llm`: prompt and decode speed of one language model on parley's transformer and kernels,
//! side by side with candle-transformers' own model on the same GGUF file, plus the machine's read bandwidth
//! and the decode floor it implies (bytes of weights per token / bandwidth).
//!
//! Each repetition runs every backend in turn (alternating, so a noisy neighbour hits both alike); each
//! figure is the median of the repetitions. One sequence, greedy decoding, CPU.

use std::time::Instant;

use anyhow::Context;
use clap::{Args, ValueEnum};
use parley_models::llm::{CandleReference, FAST_MODEL, LlmModel, LoadOptions, SLOW_MODEL, argmax};
use serde_json::json;

use parley_web::config::Config;

use super::ConfigArgs;

/// Prompt and decode tokens/s of a language model, parley's kernels against candle's, with the
/// memory-bandwidth floor.
///
/// For every prompt length: a fresh sequence is fed the prompt in one call (prompt tokens/s), then
/// --gen tokens are decoded greedily one at a time (decode tokens/s). Repeated --reps times with the
/// backends alternating; medians are printed as a table (stderr) and one JSON line (stdout).
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  parley-bench llm --model fast\n  \
                        parley-bench llm --model slow --prompt 32,128 --gen 64 --backend parley,candle")]
pub struct BenchLlmArgs {
    /// Which model: fast (SmolLM2-135M) or slow (Qwen2.5-Coder-1.5B).
    #[arg(long, value_enum, default_value_t = ModelArg::Fast)]
    pub model: ModelArg,
    /// Prompt lengths in tokens, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "32,128", value_name = "N[,N..]")]
    pub prompt: Vec<usize>,
    /// Tokens decoded after each prompt.
    #[arg(long = "gen", default_value_t = 64, value_name = "N")]
    pub gen_tokens: usize,
    /// Backends, comma-separated: parley (our transformer and kernels, as the server loads it),
    /// parley-candle-kquant (the same with candle's Q4_K/Q6_K matmul instead of ours), candle
    /// (candle-transformers' model).
    #[arg(long, value_enum, value_delimiter = ',', default_value = "parley,candle")]
    pub backend: Vec<BackendArg>,
    /// Repetitions (medians are reported).
    #[arg(long, default_value_t = 3, value_name = "N")]
    pub reps: usize,
    #[command(flatten)]
    pub config: ConfigArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ModelArg {
    Fast,
    Slow,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BackendArg {
    Parley,
    ParleyCandleKquant,
    Candle,
}

impl BackendArg {
    /// The name `--backend` takes.
    fn name(self) -> &'static str {
        match self {
            BackendArg::Parley => "parley",
            BackendArg::ParleyCandleKquant => "parley-candle-kquant",
            BackendArg::Candle => "candle",
        }
    }
}

enum Runner {
    Parley(Box<LlmModel>),
    Candle(Box<CandleReference>),
}

impl Runner {
    /// (prompt seconds, decode seconds) for one prompt and `n_gen` greedy tokens.
    fn run(&mut self, prompt: &[u32], n_gen: usize) -> anyhow::Result<(f64, f64)> {
        match self {
            Runner::Parley(model) => {
                let mut seq = model.new_sequence();
                let start = Instant::now();
                let mut logits = seq.feed(model, prompt)?;
                let prompt_s = start.elapsed().as_secs_f64();
                let start = Instant::now();
                for _ in 0..n_gen {
                    let next = argmax(&logits)?;
                    logits = seq.feed(model, &[next])?;
                }
                Ok((prompt_s, start.elapsed().as_secs_f64()))
            }
            Runner::Candle(model) => {
                model.reset();
                let start = Instant::now();
                let mut logits = model.feed(prompt)?;
                let prompt_s = start.elapsed().as_secs_f64();
                let start = Instant::now();
                for _ in 0..n_gen {
                    let next = argmax(&logits)?;
                    logits = model.feed(&[next])?;
                }
                Ok((prompt_s, start.elapsed().as_secs_f64()))
            }
        }
    }
}

pub fn run(config: &Config, args: BenchLlmArgs) -> anyhow::Result<i32> {
    if args.prompt.is_empty() || args.prompt.iter().any(|&n| n == 0 || n > 2048) {
        anyhow::bail!("--prompt takes lengths between 1 and 2048 tokens, e.g. --prompt 32,128");
    }
    if args.gen_tokens == 0 || args.gen_tokens > 2048 || args.reps == 0 || args.reps > 50 {
        anyhow::bail!("--gen must be 1..=2048 and --reps 1..=50");
    }
    let mut backends = args.backend.clone();
    backends.dedup();
    let store = parley_web::stage_cmds::model_store(config);
    let id = match args.model {
        ModelArg::Fast => FAST_MODEL,
        ModelArg::Slow => SLOW_MODEL,
    };
    eprintln!("loading {id}…");
    let ours = LlmModel::load_with(&store, id, &LoadOptions::default()).context("loading the model")?;
    let bytes_per_token = ours.weight_bytes_per_token();
    let text = "The quick brown fox jumps over the lazy dog while the sun sets slowly behind the hills. ".repeat(64);
    let ids = ours.encode(&text)?;
    let longest = args.prompt.iter().copied().max().unwrap_or(1);
    if ids.len() < longest {
        anyhow::bail!("the test text has only {} tokens; ask for shorter prompts", ids.len());
    }
    let mut runners = Vec::new();
    for b in &backends {
        runners.push(match b {
            BackendArg::Parley | BackendArg::ParleyCandleKquant => {
                let options = match b {
                    BackendArg::ParleyCandleKquant => {
                        LoadOptions { own_kquant_kernels: false, ..LoadOptions::default() }
                    }
                    _ => LoadOptions::default(),
                };
                Runner::Parley(Box::new(LlmModel::load_with(&store, id, &options).context("loading the model")?))
            }
            BackendArg::Candle => {
                let path = store.require(id, "model.gguf")?;
                Runner::Candle(Box::new(CandleReference::load(&path).context("loading candle's model")?))
            }
        });
    }
    drop(ours);
    let threads = parley_kernels::parallel::pool().threads();
    eprintln!("measuring read bandwidth ({threads} threads)…");
    let bandwidth = read_bandwidth(threads);
    let floor = bandwidth / bytes_per_token as f64;
    eprintln!(
        "{:.1} GB/s; {id} reads {:.1} MB of weights per token: decode floor {floor:.1} tok/s",
        bandwidth / 1e9,
        bytes_per_token as f64 / 1e6
    );

    // samples[backend][prompt] = (prompt tok/s, decode tok/s) per repetition.
    let mut samples = vec![vec![Vec::new(); args.prompt.len()]; backends.len()];
    for rep in 0..args.reps {
        for (b, runner) in runners.iter_mut().enumerate() {
            for (p, &n) in args.prompt.iter().enumerate() {
                // A warm-up on the first repetition (page faults, thread pool start).
                if rep == 0 {
                    runner.run(&ids[..n.min(8)], 2)?;
                }
                let (prompt_s, decode_s) = runner.run(&ids[..n], args.gen_tokens)?;
                samples[b][p].push((n as f64 / prompt_s, args.gen_tokens as f64 / decode_s));
                eprintln!(
                    "rep {}/{} {:?} prompt {n}: {:.1} tok/s prompt, {:.1} tok/s decode",
                    rep + 1,
                    args.reps,
                    backends[b],
                    n as f64 / prompt_s,
                    args.gen_tokens as f64 / decode_s
                );
            }
        }
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(|a, b| a.total_cmp(b));
        v[v.len() / 2]
    };
    let mut rows = Vec::new();
    eprintln!("\n{id}: medians of {} repetitions, {threads} threads", args.reps);
    eprintln!("{:<13} {:>7} {:>14} {:>14} {:>12}", "backend", "prompt", "prompt tok/s", "decode tok/s", "of floor");
    for (b, backend) in backends.iter().enumerate() {
        for (p, &n) in args.prompt.iter().enumerate() {
            let mut pp: Vec<f64> = samples[b][p].iter().map(|s| s.0).collect();
            let mut dd: Vec<f64> = samples[b][p].iter().map(|s| s.1).collect();
            let (pp, dd) = (median(&mut pp), median(&mut dd));
            eprintln!("{:<13} {:>7} {:>14.1} {:>14.1} {:>11.0}%", backend.name(), n, pp, dd, 100.0 * dd / floor);
            rows.push(json!({
                "backend": backend.name(), "prompt_tokens": n, "gen_tokens": args.gen_tokens,
                "prompt_tok_s": pp, "decode_tok_s": dd, "decode_fraction_of_floor": dd / floor,
            }));
        }
    }
    println!(
        "{}",
        json!({
            "model": id, "threads": threads, "reps": args.reps, "bandwidth_gb_s": bandwidth / 1e9,
            "weight_bytes_per_token": bytes_per_token, "decode_floor_tok_s": floor, "results": rows,
        })
    );
    Ok(0)
}

/// Bytes per second that `threads` threads read from memory (1 GiB buffer, each thread summing its part,
/// best of 5 passes).
fn read_bandwidth(threads: usize) -> f64 {
    let words = (1usize << 30) / 8;
    let buf: Vec<u64> = (0..words as u64).collect();
    let chunk = words.div_ceil(threads.max(1));
    let mut best = 0f64;
    for _ in 0..5 {
        let start = Instant::now();
        let total: u64 = std::thread::scope(|s| {
            let handles: Vec<_> = buf
                .chunks(chunk)
                .map(|part| s.spawn(move || part.iter().fold(0u64, |a, &w| a.wrapping_add(w))))
                .collect();
            handles.into_iter().map(|h| h.join().unwrap_or(0)).fold(0, u64::wrapping_add)
        });
        std::hint::black_box(total);
        best = best.max((words * 8) as f64 / start.elapsed().as_secs_f64());
    }
    best
}
