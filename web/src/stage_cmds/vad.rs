//! `parley vad FILE.wav`: speech segments as JSON lines.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use parley_models::vad::{CHUNK_SAMPLES, SAMPLE_RATE, SileroVad};
use parley_pipeline::vad_segmenter::{VadConfig, segments_from_probabilities};

use crate::config::Config;

// The pipeline counts VAD chunks with its own constant (it cannot see the model's); this crate sees both.
const _: () = assert!(parley_pipeline::VAD_CHUNK_SAMPLES == CHUNK_SAMPLES as u64);
const _: () = assert!(parley_media::AudioFrame::PIPELINE_RATE == SAMPLE_RATE);

#[derive(Debug, Args)]
pub struct VadArgs {
    /// WAV file (mono or stereo, 8–48 kHz, 16-bit or float); resampled to 16 kHz.
    pub file: PathBuf,
    /// Probability at which speech starts.
    #[arg(long, default_value_t = 0.5)]
    pub start_threshold: f32,
    /// Probability below which speech may end (hysteresis; at most the start threshold).
    #[arg(long, default_value_t = 0.35)]
    pub stop_threshold: f32,
    /// Shortest speech segment kept, in ms.
    #[arg(long, default_value_t = 250)]
    pub min_speech_ms: u64,
    /// Silence that ends a segment, in ms.
    #[arg(long, default_value_t = 200)]
    pub min_silence_ms: u64,
    /// Audio kept before each segment, in ms.
    #[arg(long, default_value_t = 30)]
    pub pad_ms: u64,
    /// Also print the speech probability of every 32 ms chunk.
    #[arg(long)]
    pub probabilities: bool,
}

pub fn run(config: &Config, args: VadArgs) -> anyhow::Result<i32> {
    let audio = super::audio::read_speech_wav(&args.file)?;
    let store = super::model_store(config);
    let mut vad = SileroVad::load(&store, config.threads()).context("loading the VAD model")?;
    let probs = vad.probabilities(&audio)?;
    if args.probabilities {
        for (i, p) in probs.iter().enumerate() {
            let chunk_ms = (i * CHUNK_SAMPLES) as u64 * 1000 / SAMPLE_RATE as u64;
            println!("{}", serde_json::json!({"chunk_ms": chunk_ms, "probability": p}));
        }
    }
    // `from_ms` keeps the stop threshold at most the start threshold.
    let vad_config = VadConfig::from_ms(
        SAMPLE_RATE,
        args.start_threshold,
        args.stop_threshold,
        args.min_speech_ms,
        args.min_silence_ms,
        args.pad_ms,
        0,
    );
    let segments = segments_from_probabilities(&vad_config, &probs, CHUNK_SAMPLES as u64, audio.len() as u64);
    for s in &segments {
        println!("{}", serde_json::json!({"start_ms": s.start_ms(SAMPLE_RATE), "end_ms": s.end_ms(SAMPLE_RATE)}));
    }
    tracing::info!(segments = segments.len(), seconds = audio.len() as f64 / SAMPLE_RATE as f64, "vad done");
    Ok(0)
}
