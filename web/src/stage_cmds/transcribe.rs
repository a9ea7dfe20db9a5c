//! `parley transcribe FILE.wav`: the transcript on stdout; `--json` adds segments and timings.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use clap::Args;
use parley_models::asr::{Transcript, WhisperAsr};
use parley_models::stage_error::StageError;
use parley_models::vad::{CHUNK_SAMPLES, SileroVad};
use parley_pipeline::vad_segmenter::{VadConfig, segments_from_probabilities};

use crate::config::Config;

#[derive(Debug, Args)]
pub struct TranscribeArgs {
    /// WAV file (mono or stereo, 8–48 kHz, 16-bit or float); resampled to 16 kHz. Longer than 30 s is
    /// transcribed in 30 s windows.
    pub file: PathBuf,
    /// Print one JSON object: text, segments with start/end ms, no-speech probability and timings.
    #[arg(long)]
    pub json: bool,
    /// Decode even when the VAD hears no speech (the no-speech gate of Whisper still applies).
    #[arg(long)]
    pub no_vad: bool,
}

pub fn run(config: &Config, args: TranscribeArgs) -> anyhow::Result<i32> {
    let audio = super::audio::read_speech_wav(&args.file)?;
    let store = super::model_store(config);
    let loading = Instant::now();
    let mut asr = WhisperAsr::load(&store).context("loading Whisper")?;
    // A file is not waiting on a reply: Whisper's own 30 s window (the conversation pads utterances to a
    // shorter one for latency; docs/stages.md).
    asr.set_min_window(parley_models::asr::WINDOW_SAMPLES);
    let mut vad = SileroVad::load(&store, 1).context("loading the VAD model")?;
    let load_ms = loading.elapsed().as_secs_f64() * 1e3;
    let started = Instant::now();
    let transcript = if args.no_vad { asr.transcribe(&audio)? } else { transcribe_speech(&mut asr, &mut vad, &audio)? };
    let decode_ms = started.elapsed().as_secs_f64() * 1e3;
    let audio_ms = audio.len() as f64 / 16.0;
    if args.json {
        let json = serde_json::json!({
            "text": transcript.text,
            "segments": transcript.segments,
            "no_speech_probability": transcript.no_speech_probability,
            "audio_ms": audio_ms.round(),
            "load_ms": load_ms.round(),
            "transcribe_ms": decode_ms.round(),
            "real_time_factor": decode_ms / audio_ms.max(1.0),
        });
        println!("{json}");
    } else {
        println!("{}", transcript.text);
    }
    tracing::info!(audio_ms, decode_ms, rtf = decode_ms / audio_ms.max(1.0), "transcribed");
    Ok(0)
}

/// Transcribes 16 kHz audio if the VAD finds speech in it (a segment by the default segmenter); otherwise
/// returns an empty transcript, so noise and silence cannot produce hallucinated text.
pub fn transcribe_speech(asr: &mut WhisperAsr, vad: &mut SileroVad, audio: &[f32]) -> Result<Transcript, StageError> {
    let probs = vad.probabilities(audio)?;
    let speech = segments_from_probabilities(&VadConfig::default(), &probs, CHUNK_SAMPLES as u64, audio.len() as u64);
    if speech.is_empty() {
        return Ok(Transcript::default());
    }
    asr.transcribe(audio)
}
