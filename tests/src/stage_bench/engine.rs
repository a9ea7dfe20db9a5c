//! `parley-bench engine`: simulated callers on one shared engine with the real models, to measure what
//! cross-session batching and priorities buy for the conversation that ships.
//!
//! Each simulated caller is the server's own conversation session (driver, sans-IO core, engine link and
//! mailbox; [`super::conversation_sim`]) fed its user's speech in real time: an utterance every
//! `--turn-every` seconds (real speech, synthesised once at start with the Piper voice and resampled to
//! 16 kHz), silence between, the reply played through a paced audio output. The conversation settings are
//! the server's (`[conversation]` in the configuration; `--reply-tokens` sets `max_reply_tokens`). For every
//! (mode, sessions) pair the engine is started afresh and one JSON line is printed with the turns' stage
//! latencies from the core's own `parley.turn.latency` events (P50/P90/P99), reply outcomes and batch sizes;
//! a table follows on stderr. The fast-under-slow first-token check is in [`super::engine_priority`].

use anyhow::Context;
use clap::{Args, ValueEnum};
use parley_models::engine::{BatchMode, EngineHandle, EngineOptions};
use parley_web::config::Config;
use serde_json::{Value, json};

use super::ConfigArgs;
use super::conversation_sim::simulate;
use super::engine_priority::priority_check;

/// Load-test the shared engine with simulated conversations (real models, CPU).
///
/// For each mode and each session count, starts the engine, runs N simulated conversations for --seconds,
/// and prints one JSON line: per-stage latency P50/P90/P99 in ms after the end of the user's speech (end of
/// turn, transcript, first token, first audio, first audio sent), reply outcomes and batch sizes per model. With
/// --slow it also loads the slow model and measures the fast model's first-token time alone and while the slow
/// model prefills a long prompt. Needs the model store (`parley models fetch`).
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  parley-bench engine --sessions 1,2,4,8 --seconds 20 --mode both\n  \
                        parley-bench engine --sessions 4 --seconds 10 --slow")]
pub struct BenchEngineArgs {
    /// Simulated sessions; a comma-separated list runs each count in turn.
    #[arg(long, value_delimiter = ',', default_value = "1", value_name = "N[,N..]")]
    pub sessions: Vec<usize>,
    /// Seconds of simulated conversation per run.
    #[arg(long, default_value_t = 20.0, value_name = "S")]
    pub seconds: f64,
    /// batched (the product), serial (one request per model call), or both, measured in the same run.
    #[arg(long, value_enum, default_value_t = ModeArg::Batched)]
    pub mode: ModeArg,
    /// A user turn every this many seconds per session (staggered across sessions); at least the longest
    /// utterance plus half a second.
    #[arg(long, default_value_t = 4.0, value_name = "S")]
    pub turn_every: f64,
    /// Tokens of each reply.
    #[arg(long, default_value_t = 64, value_name = "N")]
    pub reply_tokens: usize,
    /// Also load the slow model and measure the fast model's first token under a concurrent slow prefill.
    #[arg(long)]
    pub slow: bool,
    /// Skip the simulated conversations (with --slow: only the first-token check).
    #[arg(long)]
    pub skip_conversations: bool,
    #[command(flatten)]
    pub config: ConfigArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ModeArg {
    Batched,
    Serial,
    Both,
}

pub(super) const UTTERANCES: [&str; 4] = [
    "What is the capital of France?",
    "Can you tell me a fun fact about octopuses?",
    "How long does it take to boil an egg?",
    "Give me one tip for sleeping better tonight.",
];
pub(super) const SYSTEM: &str = "You are a friendly voice assistant. Answer in two or three short sentences.";

pub fn run(config: &Config, args: BenchEngineArgs) -> anyhow::Result<i32> {
    if args.sessions.is_empty() || args.sessions.iter().any(|&n| n == 0 || n > 64) {
        anyhow::bail!("--sessions takes counts between 1 and 64, e.g. --sessions 1,2,4,8");
    }
    if !(args.seconds.is_finite() && args.seconds > 0.0 && args.seconds <= 3600.0) {
        anyhow::bail!("--seconds must be between 0 and 3600");
    }
    if !(args.turn_every.is_finite() && args.turn_every >= 1.0) {
        anyhow::bail!("--turn-every must be at least 1 second");
    }
    let store = parley_web::stage_cmds::model_store(config);
    let conversation = parley_pipeline::conversation::ConversationConfig {
        max_reply_tokens: args.reply_tokens.max(1),
        ..config.conversation.clone()
    };
    let utterances = speech(&store)?;
    let modes: &[BatchMode] = match args.mode {
        ModeArg::Batched => &[BatchMode::Batched],
        ModeArg::Serial => &[BatchMode::Serial],
        ModeArg::Both => &[BatchMode::Batched, BatchMode::Serial],
    };
    let max_sessions = args.sessions.iter().copied().max().unwrap_or(1);
    let mut rows = Vec::new();
    let modes = if args.skip_conversations { &[][..] } else { modes };
    for &mode in modes {
        let options = EngineOptions {
            max_sessions,
            mode,
            max_batch: max_sessions.max(config.engine.max_batch as usize),
            ..config.engine_options()
        };
        eprintln!("starting the engine ({mode:?})…");
        let engine = EngineHandle::start(&store, options).context("starting the engine")?;
        for &n in &args.sessions {
            eprintln!("{mode:?}: {n} session(s) for {} s…", args.seconds);
            parley_models::engine::reset_batch_stats();
            let report = simulate(&engine, &conversation, &utterances, n, args.seconds, args.turn_every)?;
            println!("{}", serde_json::to_string(&report)?);
            rows.push(report);
        }
        engine.shutdown();
    }
    if !rows.is_empty() {
        print_table(&rows);
    }
    if args.slow {
        let report = priority_check(&store, &config.engine_options())?;
        println!("{}", serde_json::to_string(&report)?);
        eprintln!(
            "fast-model first token: idle P50 {:.0} ms P90 {:.0} ms; under slow prefill P50 {:.0} ms P90 {:.0} ms \
             ({:.2}× at P90)",
            report["idle_ttft_ms"]["p50"].as_f64().unwrap_or(0.0),
            report["idle_ttft_ms"]["p90"].as_f64().unwrap_or(0.0),
            report["loaded_ttft_ms"]["p50"].as_f64().unwrap_or(0.0),
            report["loaded_ttft_ms"]["p90"].as_f64().unwrap_or(0.0),
            report["p90_ratio"].as_f64().unwrap_or(0.0),
        );
    }
    Ok(0)
}

/// The user utterances as 16 kHz speech, synthesised with the Piper voice.
fn speech(store: &parley_models::store::ModelStore) -> anyhow::Result<Vec<Vec<f32>>> {
    let mut voice = parley_models::tts::PiperVoice::load(store, 1).context("loading the Piper voice")?;
    // The same speech every run.
    voice.set_scales(voice.scales().deterministic());
    UTTERANCES
        .iter()
        .map(|text| {
            let speech = voice.synthesize_all(text)?;
            Ok(parley_media::resample(&speech.samples, speech.sample_rate, 16_000)?)
        })
        .collect()
}

pub(super) fn round(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

pub(super) fn percentiles(values: &[f64]) -> Value {
    if values.is_empty() {
        return json!({"n": 0});
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let at = |p: f64| v[((p / 100.0) * (v.len() - 1) as f64).round() as usize];
    json!({"n": v.len(), "p50": round(at(50.0)), "p90": round(at(90.0)), "p99": round(at(99.0)), "max": round(at(100.0))})
}

fn print_table(rows: &[Value]) {
    let f = |v: &Value, k: &str, p: &str| v[k][p].as_f64().map_or("-".to_string(), |x| format!("{x:.0}"));
    eprintln!(
        "\n| mode | N | turns | replies done / interrupted / failed | end of turn P50/P90 ms | transcript P50/P90 ms | first token P50/P90 ms | first audio P50/P90 ms | audio sent P50/P90 ms | errors |"
    );
    eprintln!("|---|---|---|---|---|---|---|---|---|---|");
    for r in rows {
        let pair = |k: &str| format!("{} / {}", f(r, k, "p50"), f(r, k, "p90"));
        eprintln!(
            "| {} | {} | {} | {} / {} / {} | {} | {} | {} | {} | {} | {} |",
            r["mode"].as_str().unwrap_or("?"),
            r["sessions"],
            r["turns"],
            r["replies_completed"],
            r["replies_interrupted"],
            r["replies_failed"],
            pair("end_of_turn_ms"),
            pair("transcript_ms"),
            pair("first_token_ms"),
            pair("first_audio_ms"),
            pair("audio_sent_ms"),
            r["error_count"],
        );
    }
}
