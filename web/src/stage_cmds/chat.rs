//! `parley chat`: one question to a language model, the reply streamed to stdout as it is generated and the
//! timings (time to first token, prompt and decode speed) on stderr.

use std::io::Write;
use std::ops::ControlFlow;

use anyhow::Context;
use clap::{Args, ValueEnum};
use parley_models::llm::{ChatMessage, FAST_MODEL, GenerateOptions, LlmModel, SLOW_MODEL, SamplingParams};

use crate::config::Config;

/// Which of the two language models answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ModelChoice {
    /// SmolLM2-135M-Instruct: quick, for short conversational replies.
    Fast,
    /// Qwen2.5-Coder-1.5B-Instruct: slower, knows more.
    Slow,
}

impl ModelChoice {
    fn id(self) -> &'static str {
        match self {
            ModelChoice::Fast => FAST_MODEL,
            ModelChoice::Slow => SLOW_MODEL,
        }
    }
}

#[derive(Debug, Args)]
pub struct ChatArgs {
    /// What to ask.
    pub prompt: String,
    /// Which model answers: `fast` (SmolLM2-135M) or `slow` (Qwen2.5-Coder-1.5B).
    #[arg(long, value_enum, default_value = "fast")]
    pub model: ModelChoice,
    /// Most tokens in the reply.
    #[arg(long, default_value_t = 256)]
    pub max_tokens: usize,
    /// Sampling temperature; 0 picks the most likely token every time (greedy, deterministic).
    #[arg(long, default_value_t = 0.0, allow_negative_numbers = true)]
    pub temperature: f64,
    /// Nucleus sampling: sample only among the most likely tokens whose probabilities add up to P (0 < P ≤ 1;
    /// used when the temperature is above 0).
    #[arg(long, default_value_t = 1.0, allow_negative_numbers = true)]
    pub top_p: f64,
    /// Random seed for sampling; the same seed, prompt and options give the same reply.
    #[arg(long, default_value_t = 299_792_458)]
    pub seed: u64,
    /// A system prompt that sets the assistant's behaviour (the model's own default when absent).
    #[arg(long)]
    pub system: Option<String>,
    /// Stop the reply when this text appears (not printed); repeat for several.
    #[arg(long = "stop", value_name = "TEXT")]
    pub stop: Vec<String>,
}

pub fn run(config: &Config, args: ChatArgs) -> anyhow::Result<i32> {
    let store = super::model_store(config);
    let id = args.model.id();
    let sampling = SamplingParams::random(args.temperature, args.top_p, args.seed);
    sampling.validate().context("check --temperature and --top-p")?;

    let load_start = std::time::Instant::now();
    let model = LlmModel::load(&store, id)
        .with_context(|| format!("cannot load the language model `{id}` (run `parley models fetch`)"))?;
    eprintln!("loaded {id} in {} ms (CPU threads: {})", load_start.elapsed().as_millis(), config.threads());

    let mut messages = Vec::new();
    if let Some(system) = args.system {
        messages.push(ChatMessage::system(system));
    }
    messages.push(ChatMessage::user(args.prompt));
    let options = GenerateOptions { sampling, max_tokens: args.max_tokens, stop: args.stop, cancel: None };

    let mut seq = model.new_sequence();
    let mut stdout = std::io::stdout().lock();
    let mut write_error = None;
    let reply = model
        .generate(&mut seq, &messages, &options, &mut |piece| {
            match stdout.write_all(piece.as_bytes()).and_then(|()| stdout.flush()) {
                Ok(()) => ControlFlow::Continue(()),
                // A closed pipe (`parley chat … | head`) ends the reply quietly.
                Err(e) => {
                    write_error = Some(e);
                    ControlFlow::Break(())
                }
            }
        })
        .with_context(|| format!("generation with `{id}` failed"))?;
    if write_error.is_none() {
        let _ = writeln!(stdout);
    }

    let s = &reply.stats;
    eprintln!(
        "time to first token: {} ms | prompt: {} tokens ({} new) at {:.1} tok/s | generated: {} tokens at {:.1} tok/s \
         | finish: {:?}",
        s.time_to_first_token.as_millis(),
        s.prompt_tokens,
        s.prompt_tokens - s.reused_prompt_tokens,
        s.prefill_tokens_per_s(),
        s.generated_tokens,
        s.decode_tokens_per_s(),
        reply.finish,
    );
    Ok(0)
}
