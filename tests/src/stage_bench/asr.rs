//! `parley-bench asr FILE.wav`: Whisper tiny.en on one clip, ours (encoder with our softmax and GELU, decoder
//! on parley-kernels with a self-attention KV cache) against candle-transformers' (the whole sequence re-fed
//! each step), alternating, medians of the repetitions:
//! total time, log-mel, encoder, decode (with its once-per-window cross-attention projection) and the time per
//! decoder step.

use anyhow::Context;
use clap::{Args, ValueEnum};
use parley_models::asr::{WhisperAsr, WhisperBackend};
use serde_json::json;

use parley_web::config::Config;

use super::ConfigArgs;

/// Whisper's time on one WAV file: total, log-mel, encoder, decoder per token; parley's decoder against
/// candle's.
///
/// The clip (at most 30 s) is decoded in one window of Whisper's own 30 s unless --window says otherwise,
/// --reps times per backend, alternating; medians are printed as a table (stderr) and one JSON line
/// (stdout).
#[derive(Debug, Args)]
#[command(after_help = "Example:\n  parley-bench asr tests/fixtures/sentence_1.wav --reps 3")]
pub struct BenchAsrArgs {
    /// A WAV file of speech (any rate; mono or the first channel).
    #[arg(value_name = "FILE.wav")]
    pub file: std::path::PathBuf,
    /// Backends, comma-separated: parley (our encoder ops and decoder), candle (candle-transformers' model).
    #[arg(long, value_enum, value_delimiter = ',', default_value = "parley,candle")]
    pub backend: Vec<AsrBackend>,
    /// Repetitions (medians are reported).
    #[arg(long, default_value_t = 3, value_name = "N")]
    pub reps: usize,
    /// Encoder window in seconds (1–30; Whisper's own is 30, the conversation pads utterances to 10).
    #[arg(long, default_value_t = 30, value_name = "S")]
    pub window: usize,
    #[command(flatten)]
    pub config: ConfigArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AsrBackend {
    Parley,
    Candle,
}

pub fn run(config: &Config, args: BenchAsrArgs) -> anyhow::Result<i32> {
    if args.reps == 0 || args.reps > 50 || !(1..=30).contains(&args.window) {
        anyhow::bail!("--reps must be 1..=50 and --window 1..=30 seconds");
    }
    let audio = parley_web::stage_cmds::audio::read_speech_wav(&args.file)?;
    if audio.len() > parley_models::asr::WINDOW_SAMPLES {
        anyhow::bail!("{}: {:.1} s is longer than one 30 s window", args.file.display(), audio.len() as f64 / 16e3);
    }
    let store = parley_web::stage_cmds::model_store(config);
    let mut backends = args.backend.clone();
    backends.dedup();
    let mut models = Vec::new();
    for b in &backends {
        let mut asr = WhisperAsr::load(&store).context("loading Whisper")?;
        asr.set_min_window(args.window * 16_000);
        asr.set_backend(match b {
            AsrBackend::Parley => WhisperBackend::Parley,
            AsrBackend::Candle => WhisperBackend::Candle,
        });
        asr.transcribe_window(&audio[..audio.len().min(16_000)])?; // warm-up
        models.push(asr);
    }
    let mut samples = vec![Vec::new(); backends.len()];
    let mut texts = vec![String::new(); backends.len()];
    for rep in 0..args.reps {
        for (b, asr) in models.iter_mut().enumerate() {
            let start = std::time::Instant::now();
            let t = asr.transcribe_window(&audio)?;
            let total = start.elapsed().as_secs_f64() * 1e3;
            let tm = asr.last_timings();
            eprintln!(
                "rep {}/{} {:?}: {total:.0} ms (mel {:.0}, encoder {:.0}, decode {:.0} ms for {} steps, {:.0} of it cross-attention keys/values)",
                rep + 1,
                args.reps,
                backends[b],
                tm.mel_ms,
                tm.encoder_ms,
                tm.decode_ms,
                tm.decode_steps,
                tm.cross_ms
            );
            samples[b].push((total, tm));
            texts[b] = t.text;
        }
    }
    let median = |mut v: Vec<f64>| {
        v.sort_by(|a, b| a.total_cmp(b));
        v[v.len() / 2]
    };
    let mut rows = Vec::new();
    eprintln!(
        "\n{}: {:.1} s of audio, {} s window, medians of {}",
        args.file.display(),
        audio.len() as f64 / 16e3,
        args.window,
        args.reps
    );
    eprintln!(
        "{:<8} {:>9} {:>7} {:>10} {:>10} {:>9} {:>12}",
        "backend", "total ms", "mel ms", "encoder ms", "decode ms", "cross ms", "ms / token"
    );
    for (b, backend) in backends.iter().enumerate() {
        let s = &samples[b];
        let total = median(s.iter().map(|x| x.0).collect());
        let mel = median(s.iter().map(|x| x.1.mel_ms).collect());
        let enc = median(s.iter().map(|x| x.1.encoder_ms).collect());
        let dec = median(s.iter().map(|x| x.1.decode_ms).collect());
        let cross = median(s.iter().map(|x| x.1.cross_ms).collect());
        let steps = s[0].1.decode_steps.max(1);
        // Per token: the steps alone (the cross-attention projection is once per window).
        let per_token = median(s.iter().map(|x| (x.1.decode_ms - x.1.cross_ms) / steps as f64).collect());
        eprintln!(
            "{:<8} {total:>9.0} {mel:>7.1} {enc:>10.0} {dec:>10.0} {cross:>9.0} {per_token:>12.2}",
            format!("{backend:?}"),
        );
        rows.push(json!({
            "backend": format!("{backend:?}").to_lowercase(), "total_ms": total, "mel_ms": mel, "encoder_ms": enc,
            "decode_ms": dec, "cross_ms": cross, "decode_steps": steps, "decode_ms_per_token": per_token, "text": texts[b],
        }));
    }
    println!(
        "{}",
        json!({"file": args.file.display().to_string(), "audio_s": audio.len() as f64 / 16e3, "window_s": args.window, "reps": args.reps, "results": rows})
    );
    Ok(0)
}
