//! `parley bench engine`: simulated conversations against the real models on one shared engine, to measure
//! what cross-session batching and priorities buy.
//!
//! Each simulated session is a thread that streams its user's audio to the VAD every 32 ms, as a WebRTC
//! session would, and after each utterance runs a user turn the way the pipeline will: end-of-turn check,
//! ASR of the utterance, the fast LLM's reply (64 tokens by default) streamed into TTS as it is generated.
//! The user's utterances are real speech, synthesised once at start with the Piper voice and resampled to
//! 16 kHz. For every (mode, sessions) pair the engine is started afresh and one JSON line is printed with
//! per-stage latency percentiles, tokens/s, batch sizes and deadline misses; a table follows on stderr.

use std::sync::mpsc::Receiver;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::{Args, ValueEnum};
use parley_models::engine::{
    BatchMode, EngineError, EngineHandle, EngineOptions, LlmEvent, LlmRequest, Priority, TtsEvent,
};
use parley_models::llm::{ChatMessage, SamplingParams};
use serde_json::{Value, json};

use crate::config::Config;

/// Load-test the shared engine with simulated conversations (real models, CPU).
///
/// For each mode and each session count, starts the engine, runs N simulated conversations for --seconds,
/// and prints one JSON line: per-stage latency P50/P90/P99 in ms (VAD tick, end of turn, ASR, LLM first token,
/// TTS first audio, turn to first audio), LLM tokens/s, batch sizes per model and deadline misses. With
/// --slow it also loads the slow model and measures the fast model's first-token time alone and while the slow
/// model prefills a long prompt. Needs the model store (`parley models fetch`).
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  parley bench engine --sessions 1,2,4,8 --seconds 20 --mode both\n  \
                        parley bench engine --sessions 4 --seconds 10 --slow")]
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
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ModeArg {
    Batched,
    Serial,
    Both,
}

const TICK: Duration = Duration::from_millis(32);
const TICK_SAMPLES: usize = 512;
const UTTERANCES: [&str; 4] = [
    "What is the capital of France?",
    "Can you tell me a fun fact about octopuses?",
    "How long does it take to boil an egg?",
    "Give me one tip for sleeping better tonight.",
];
const SYSTEM: &str = "You are a friendly voice assistant. Answer in two or three short sentences.";

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
    let store = crate::stage_cmds::model_store(config);
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
            let report = simulate(&engine, &utterances, n, &args)?;
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

/// Latency samples of one run, by stage.
#[derive(Default)]
struct Samples {
    vad_ms: Vec<f64>,
    vad_misses: usize,
    eot_ms: Vec<f64>,
    asr_ms: Vec<f64>,
    ttft_ms: Vec<f64>,
    decode_tok_s: Vec<f64>,
    tts_first_ms: Vec<f64>,
    turn_first_audio_ms: Vec<f64>,
    tokens: usize,
    turns: usize,
    turns_skipped: usize,
    errors: Vec<String>,
}

fn simulate(engine: &EngineHandle, utterances: &[Vec<f32>], n: usize, args: &BenchEngineArgs) -> anyhow::Result<Value> {
    let samples = Arc::new(Mutex::new(Samples::default()));
    let duration = Duration::from_secs_f64(args.seconds);
    let period = Duration::from_secs_f64(args.turn_every);
    let start = Instant::now();
    std::thread::scope(|scope| {
        for i in 0..n {
            let samples = samples.clone();
            let offset = period.mul_f64(i as f64 / n as f64);
            scope.spawn(move || session(engine, utterances, i, offset, period, start, duration, args, &samples));
        }
    });
    let elapsed = start.elapsed().as_secs_f64();
    let s = samples.lock().map_err(|_| anyhow::anyhow!("a session thread panicked"))?;
    let batches: serde_json::Map<String, Value> = parley_models::engine::batch_stats()
        .into_iter()
        .map(|((executor, model), b)| {
            (
                format!("{executor}/{model}"),
                json!({"steps": b.steps, "mean": round(b.mean()), "max": b.max, "busy_ms": round(b.busy_ms)}),
            )
        })
        .collect();
    let llm_busy_ms = batches
        .iter()
        .filter(|(k, _)| k.starts_with("llm/"))
        .map(|(_, v)| v["busy_ms"].as_f64().unwrap_or(0.0))
        .sum::<f64>();
    Ok(json!({
        "mode": match engine.options().mode { BatchMode::Batched => "batched", BatchMode::Serial => "serial" },
        "sessions": n,
        "seconds": round(elapsed),
        "turns": s.turns,
        "turns_skipped": s.turns_skipped,
        "vad_tick_ms": percentiles(&s.vad_ms),
        "vad_deadline_misses": s.vad_misses,
        "end_of_turn_ms": percentiles(&s.eot_ms),
        "asr_ms": percentiles(&s.asr_ms),
        "llm_first_token_ms": percentiles(&s.ttft_ms),
        "llm_decode_tok_s_per_request": percentiles(&s.decode_tok_s),
        "llm_tokens": s.tokens,
        "llm_tok_s_wall": round(s.tokens as f64 / elapsed),
        "llm_tok_s_busy": if llm_busy_ms > 0.0 { round(s.tokens as f64 / (llm_busy_ms / 1e3)) } else { 0.0 },
        "tts_first_audio_ms": percentiles(&s.tts_first_ms),
        "turn_to_first_audio_ms": percentiles(&s.turn_first_audio_ms),
        "batches": batches,
        "errors": s.errors.iter().take(5).collect::<Vec<_>>(),
        "error_count": s.errors.len(),
    }))
}

/// One simulated session: VAD every tick; a user turn after each utterance (skipped when the previous turn is
/// still running).
#[allow(clippy::too_many_arguments)]
fn session(
    engine: &EngineHandle,
    utterances: &[Vec<f32>],
    index: usize,
    offset: Duration,
    period: Duration,
    start: Instant,
    duration: Duration,
    args: &BenchEngineArgs,
    samples: &Mutex<Samples>,
) {
    let record = |f: &dyn Fn(&mut Samples)| {
        if let Ok(mut s) = samples.lock() {
            f(&mut s);
        }
    };
    // The per-frame media path of a real session is favoured like the VAD thread (where allowed).
    let _ = parley_kernels::parallel::set_current_thread_nice(-10);
    let permit = match engine.open_session() {
        Ok(p) => p,
        Err(e) => return record(&|s| s.errors.push(e.to_string())),
    };
    // The session's audio: silence until its offset, then per period an utterance followed by silence.
    // A turn period holds its utterance, the endpointing wait and some silence, however short --turn-every is.
    let longest = utterances.iter().map(Vec::len).max().unwrap_or(0);
    let period_samples = ((period.as_secs_f64() * 16_000.0) as usize).max(longest + 8_000);
    let offset_samples = (offset.as_secs_f64() * 16_000.0) as usize;
    std::thread::scope(|scope| {
        let mut turn: Option<std::thread::ScopedJoinHandle<'_, ()>> = None;
        let mut tick = 0usize;
        loop {
            let due = start + TICK * tick as u32;
            if due.duration_since(start) >= duration {
                break;
            }
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
            // This tick's samples.
            let first = tick * TICK_SAMPLES;
            let chunk: Vec<f32> = (first..first + TICK_SAMPLES)
                .map(|i| {
                    if i < offset_samples {
                        return 0.0;
                    }
                    let k = i - offset_samples;
                    let utterance = &utterances[(k / period_samples + index) % utterances.len()];
                    utterance.get(k % period_samples).copied().unwrap_or(0.0)
                })
                .collect();
            let sent = Instant::now();
            match engine.audio().vad(permit.id(), chunk).map_err(|e| e.to_string()).and_then(wait) {
                Ok(_) => {
                    let ms = sent.elapsed().as_secs_f64() * 1e3;
                    record(&|s| {
                        s.vad_ms.push(ms);
                        if ms > TICK.as_secs_f64() * 1e3 {
                            s.vad_misses += 1;
                        }
                    });
                }
                Err(e) => record(&|s| s.errors.push(format!("vad: {e}"))),
            }
            // An utterance just ended (plus 200 ms of silence, the endpointing wait): a user turn.
            let end = first + TICK_SAMPLES;
            if end > offset_samples {
                let k = end - offset_samples;
                let utterance = &utterances[(k / period_samples + index) % utterances.len()];
                let at = utterance.len() + 3200;
                if k % period_samples >= at && (k - TICK_SAMPLES) % period_samples < at {
                    if turn.as_ref().is_some_and(|t| !t.is_finished()) {
                        record(&|s| s.turns_skipped += 1);
                    } else {
                        let id = permit.id();
                        turn = Some(
                            std::thread::Builder::new()
                                .spawn_scoped(scope, move || user_turn(engine, id, utterance, args, samples))
                                .expect("spawning a turn thread"),
                        );
                    }
                }
            }
            tick += 1;
        }
    });
    drop(permit);
}

/// One user turn: end of turn, ASR, the fast LLM streamed into TTS.
fn user_turn(engine: &EngineHandle, session: u64, utterance: &[f32], args: &BenchEngineArgs, samples: &Mutex<Samples>) {
    let record = |f: &mut dyn FnMut(&mut Samples)| {
        if let Ok(mut s) = samples.lock() {
            f(&mut s);
        }
    };
    let turn_start = Instant::now();
    let result = (|| -> Result<(), String> {
        let tail = &utterance[utterance.len().saturating_sub(8 * 16_000)..];
        let t = Instant::now();
        wait(engine.audio().end_of_turn(tail.to_vec()).map_err(|e| e.to_string())?)?;
        let eot = t.elapsed().as_secs_f64() * 1e3;
        let t = Instant::now();
        let transcript = wait(engine.asr().transcribe(utterance.to_vec()).map_err(|e| e.to_string())?)?;
        let asr = t.elapsed().as_secs_f64() * 1e3;
        let request = LlmRequest {
            session,
            messages: vec![ChatMessage::system(SYSTEM), ChatMessage::user(transcript.text.trim())],
            sampling: SamplingParams::greedy(),
            max_tokens: args.reply_tokens,
            stop: Vec::new(),
            priority: Priority::Interactive,
            deadline: Duration::from_millis(1500),
        };
        let t = Instant::now();
        let (_, events) = engine.fast().generate(request).map_err(|e| e.to_string())?;
        let (tts_id, audio) = engine.tts().start(64).map_err(|e| e.to_string())?;
        // Drain the audio on its own thread, noting when the first chunk came.
        let first_audio = std::thread::spawn(move || {
            let mut first = None;
            for event in audio {
                match event {
                    TtsEvent::Chunk(_) => {
                        first.get_or_insert_with(Instant::now);
                    }
                    TtsEvent::Done(_) => break,
                }
            }
            first
        });
        let (mut first_token, mut tokens, mut tts_started) = (None, 0usize, None);
        for event in events {
            match event {
                LlmEvent::Text(text) => {
                    first_token.get_or_insert_with(Instant::now);
                    tts_started.get_or_insert_with(Instant::now);
                    engine.tts().push(tts_id, text).map_err(|e| e.to_string())?;
                }
                LlmEvent::Done(done) => {
                    tokens = done.map_err(|e| e.to_string())?.1;
                    break;
                }
            }
        }
        let done = Instant::now();
        engine.tts().finish(tts_id).map_err(|e| e.to_string())?;
        let first_audio = first_audio.join().map_err(|_| "TTS reader panicked".to_string())?;
        let ttft = first_token.map(|f| f.duration_since(t).as_secs_f64() * 1e3);
        let decode = first_token
            .filter(|_| tokens > 1)
            .map(|f| (tokens - 1) as f64 / done.duration_since(f).as_secs_f64().max(1e-6));
        record(&mut |s| {
            s.turns += 1;
            s.tokens += tokens;
            s.eot_ms.push(eot);
            s.asr_ms.push(asr);
            s.ttft_ms.extend(ttft);
            s.decode_tok_s.extend(decode);
            if let (Some(a), Some(b)) = (first_audio, tts_started) {
                s.tts_first_ms.push(a.duration_since(b).as_secs_f64() * 1e3);
            }
            if let Some(a) = first_audio {
                s.turn_first_audio_ms.push(a.duration_since(turn_start).as_secs_f64() * 1e3);
            }
        });
        Ok(())
    })();
    if let Err(e) = result {
        record(&mut |s| s.errors.push(format!("turn: {e}")));
    }
}

fn wait<T>(rx: Receiver<Result<T, EngineError>>) -> Result<T, String> {
    match rx.recv() {
        Ok(r) => r.map_err(|e| e.to_string()),
        Err(_) => Err("the engine dropped the request".into()),
    }
}

fn round(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

fn percentiles(values: &[f64]) -> Value {
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
        "\n| mode | N | turns (skipped) | VAD tick P50/P99 ms | EOT P50 ms | ASR P50/P90 ms | LLM TTFT P50/P90 ms | LLM tok/s (wall / busy) | TTS first audio P50 ms | turn → first audio P50/P90 ms | errors |"
    );
    eprintln!("|---|---|---|---|---|---|---|---|---|---|---|");
    for r in rows {
        eprintln!(
            "| {} | {} | {} ({}) | {:.2} / {:.2} | {} | {} / {} | {} / {} | {} / {} | {} | {} / {} | {} |",
            r["mode"].as_str().unwrap_or("?"),
            r["sessions"],
            r["turns"],
            r["turns_skipped"],
            r["vad_tick_ms"]["p50"].as_f64().unwrap_or(0.0),
            r["vad_tick_ms"]["p99"].as_f64().unwrap_or(0.0),
            f(r, "end_of_turn_ms", "p50"),
            f(r, "asr_ms", "p50"),
            f(r, "asr_ms", "p90"),
            f(r, "llm_first_token_ms", "p50"),
            f(r, "llm_first_token_ms", "p90"),
            r["llm_tok_s_wall"],
            r["llm_tok_s_busy"],
            f(r, "tts_first_audio_ms", "p50"),
            f(r, "turn_to_first_audio_ms", "p50"),
            f(r, "turn_to_first_audio_ms", "p90"),
            r["error_count"],
        );
    }
}

/// The fast model's time to first token alone, then while the slow model prefills a long prompt.
fn priority_check(store: &parley_models::store::ModelStore, base: &EngineOptions) -> anyhow::Result<Value> {
    eprintln!("priority check: loading both LLMs…");
    let options = EngineOptions { slow_model: true, max_sessions: 4, ..base.clone() };
    let engine = EngineHandle::start(store, options).context("starting the engine with the slow model")?;
    let slow = engine.slow().context("the slow model is loaded")?.clone();
    let ask = |session: u64, question: &str| -> anyhow::Result<f64> {
        let request = LlmRequest {
            session,
            messages: vec![ChatMessage::system(SYSTEM), ChatMessage::user(question)],
            sampling: SamplingParams::greedy(),
            max_tokens: 1,
            stop: Vec::new(),
            priority: Priority::Interactive,
            deadline: Duration::from_millis(1000),
        };
        let t = Instant::now();
        let (_, events) = engine.fast().generate(request)?;
        for event in events {
            match event {
                LlmEvent::Text(_) => {}
                LlmEvent::Done(d) => {
                    d?;
                    break;
                }
            }
        }
        Ok(t.elapsed().as_secs_f64() * 1e3)
    };
    // Distinct sessions so nothing is reused from a cached prefix.
    let questions: Vec<String> = (0..10).map(|i| format!("Question number {i}: {}", UTTERANCES[i % 4])).collect();
    let idle: Vec<f64> =
        questions.iter().enumerate().map(|(i, q)| ask(1000 + i as u64, q)).collect::<Result<_, _>>()?;
    let long = "Summarise the following notes. ".to_string()
        + &"The meeting covered the budget, the schedule, the hiring plan and the office move. ".repeat(40);
    let mut loaded = Vec::new();
    let mut slow_runs = 0;
    for (i, q) in questions.iter().enumerate() {
        // Keep a slow prefill running behind every fast request.
        let request = LlmRequest {
            session: 2000 + i as u64,
            messages: vec![ChatMessage::user(long.clone())],
            sampling: SamplingParams::greedy(),
            max_tokens: 1,
            stop: Vec::new(),
            priority: Priority::Slow,
            deadline: Duration::from_secs(60),
        };
        let (slow_id, slow_events) = slow.generate(request)?;
        slow_runs += 1;
        std::thread::sleep(Duration::from_millis(300));
        loaded.push(ask(3000 + i as u64, q)?);
        slow.cancel(slow_id);
        for event in slow_events {
            if let LlmEvent::Done(_) = event {
                break;
            }
        }
    }
    engine.shutdown();
    let p90 = |v: &[f64]| {
        let mut v = v.to_vec();
        v.sort_by(f64::total_cmp);
        v[((v.len() - 1) as f64 * 0.9).round() as usize]
    };
    Ok(json!({
        "check": "fast first token under slow prefill",
        "idle_ttft_ms": percentiles(&idle),
        "loaded_ttft_ms": percentiles(&loaded),
        "slow_prefills": slow_runs,
        "p90_ratio": round(p90(&loaded) / p90(&idle)),
    }))
}
