//! Whisper tiny.en on the safetensors converted at fetch time: log-mel (shared front end in `parley-kernels`),
//! encoder (candle's products, our softmax and GELU), greedy decoding on parley-kernels with timestamps and
//! the no-speech gate; candle-transformers' model alongside for comparisons.

use std::path::Path;

use candle_core::{DType, Device, IndexOp, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::whisper::{self as cw, Config, model::Whisper};
use parley_kernels::mel::{MelConfig, MelSpectrogram, whisper_log_mel};
use tokenizers::Tokenizer;

use super::cached_decoder::CachedDecoder;
use super::encoder::Encoder;
use super::timestamp_rules::{self, SpecialTokens};
use crate::stage_error::StageError;
use crate::store::ModelStore;

const MODEL: &str = "whisper-tiny-en";
/// Whisper sees 30 s windows of 16 kHz audio.
pub const WINDOW_SAMPLES: usize = cw::N_SAMPLES;
/// Default shortest encoder window: an utterance is padded with silence to at least this, then to whole
/// seconds (see [`WhisperAsr::set_min_window`]).
pub const DEFAULT_MIN_WINDOW_SAMPLES: usize = 10 * 16_000;
/// Silence after the utterance inside its window, so the last word is not at the window's edge.
const TAIL_PAD_SAMPLES: usize = 16_000;
/// Seconds per timestamp token.
const TIMESTAMP_STEP: f64 = 0.02;
/// Whisper's rule: no speech when `P(no speech) > 0.6` and the average log-probability is below -1.
const NO_SPEECH_THRESHOLD: f32 = 0.6;
const LOGPROB_THRESHOLD: f32 = -1.0;

/// One timed piece of a transcript.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct TranscriptSegment {
    pub start_ms: u64,
    pub end_ms: u64,
    pub text: String,
}

/// The result of decoding one window.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize)]
pub struct Transcript {
    pub text: String,
    pub segments: Vec<TranscriptSegment>,
    /// Probability of the no-speech token at the first step.
    pub no_speech_probability: f32,
    /// Mean log-probability of the decoded tokens.
    pub average_logprob: f32,
    /// True when the no-speech gate decided this was not speech (text and segments are then empty).
    pub rejected_as_no_speech: bool,
}

/// Where the time of the last window went.
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize)]
pub struct WindowTimings {
    pub mel_ms: f64,
    pub encoder_ms: f64,
    /// All of decoding, [`WindowTimings::cross_ms`] included.
    pub decode_ms: f64,
    /// Our decoder's projection of the audio to each layer's cross-attention keys and values, once per
    /// window (candle's decoder does it inside its first step, so 0 there).
    pub cross_ms: f64,
    /// Decoder steps run (tokens generated plus the final end-of-text step).
    pub decode_steps: usize,
}

/// Which implementation of the encoder and decoder runs (the same weights and function either way).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WhisperBackend {
    /// Ours (the default): the encoder with parley-kernels' softmax and GELU ([`super::encoder`]) and the
    /// decoder on parley-kernels with a self-attention KV cache, one token per step.
    #[default]
    Parley,
    /// candle-transformers' encoder and decoder, which re-feeds every token each step (for comparisons).
    Candle,
}

/// The loaded model, tokenizer and scratch state. One decode at a time (`&mut self`).
pub struct WhisperAsr {
    model: Whisper,
    cached: CachedDecoder,
    backend: WhisperBackend,
    encoder: Encoder,
    last_timings: WindowTimings,
    steps: usize,
    cross_ms: f64,
    tokenizer: Tokenizer,
    mel: MelSpectrogram,
    special: SpecialTokens,
    suppress: Vec<u32>,
    device: Device,
    padded: Vec<f32>,
    min_window: usize,
}

impl std::fmt::Debug for WhisperAsr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WhisperAsr")
    }
}

fn load_err(what: &str, e: impl std::fmt::Display) -> StageError {
    StageError::Load { model: MODEL, what: what.to_string(), message: e.to_string() }
}

fn infer_err(e: impl std::fmt::Display) -> StageError {
    StageError::inference(MODEL, e)
}

impl WhisperAsr {
    pub fn load(store: &ModelStore) -> Result<Self, StageError> {
        let weights = store.require(MODEL, "model.safetensors")?;
        Self::load_from(&store.require(MODEL, "config.json")?, &weights, &store.require(MODEL, "tokenizer.json")?)
    }

    pub fn load_from(config: &Path, weights: &Path, tokenizer: &Path) -> Result<Self, StageError> {
        let device = Device::Cpu;
        let text = std::fs::read_to_string(config).map_err(|e| load_err("config.json", e))?;
        let config: Config = serde_json::from_str(&text).map_err(|e| load_err("config.json", e))?;
        // SAFETY: the file is memory-mapped read-only and not modified while mapped (the store only
        // replaces files by rename).
        let vb = unsafe { VarBuilder::from_mmaped_safetensors(&[weights], DType::F32, &device) }
            .map_err(|e| load_err("model.safetensors", e))?;
        let tokenizer = Tokenizer::from_file(tokenizer).map_err(|e| load_err("tokenizer.json", e))?;
        let id = |t: &str| tokenizer.token_to_id(t).ok_or_else(|| load_err("tokenizer.json", format!("no {t} token")));
        let no_timestamps = id("<|notimestamps|>")?;
        let special = SpecialTokens {
            eot: id("<|endoftext|>")?,
            sot: id("<|startoftranscript|>")?,
            no_speech: id("<|nocaptions|>").or_else(|_| id("<|nospeech|>"))?,
            no_timestamps,
            timestamp_begin: no_timestamps + 1,
        };
        let suppress = config.suppress_tokens.clone();
        let n_mels = config.num_mel_bins;
        let cached = CachedDecoder::load(&vb, &config).map_err(|e| load_err("model.safetensors", e))?;
        let encoder = Encoder::load(&vb, &config).map_err(|e| load_err("model.safetensors", e))?;
        let model = Whisper::load(&vb, config).map_err(|e| load_err("model.safetensors", e))?;
        Ok(Self {
            model,
            cached,
            backend: WhisperBackend::default(),
            encoder,
            last_timings: WindowTimings::default(),
            steps: 0,
            cross_ms: 0.0,
            tokenizer,
            mel: MelSpectrogram::new(MelConfig::whisper(n_mels)),
            special,
            suppress,
            device,
            padded: vec![0.0; WINDOW_SAMPLES],
            min_window: DEFAULT_MIN_WINDOW_SAMPLES,
        })
    }

    /// Timings of the last window [`Self::transcribe_window`] decoded.
    pub fn last_timings(&self) -> WindowTimings {
        self.last_timings
    }

    /// Chooses the implementation (ours by default; candle-transformers' for comparisons).
    pub fn set_backend(&mut self, backend: WhisperBackend) {
        self.backend = backend;
    }

    fn encode(&mut self, mel: &Tensor) -> Result<Tensor, StageError> {
        match self.backend {
            WhisperBackend::Parley => self.encoder.forward(mel),
            WhisperBackend::Candle => self.model.encoder.forward(mel, true),
        }
        .map_err(infer_err)
    }

    /// The shortest window the encoder sees, in 16 kHz samples (clamped to 1..=30 s). Whisper was trained
    /// on 30 s windows, and both its encoder and the decoder's cross-attention cost grow with the window:
    /// a short utterance padded to 30 s costs the same as 30 s of speech. The encoder accepts shorter
    /// windows (its positional embedding is sliced); [`DEFAULT_MIN_WINDOW_SAMPLES`] keeps transcripts as
    /// accurate as the full window on our tests at a fraction of the cost (figures in docs/models.md).
    pub fn set_min_window(&mut self, samples: usize) {
        self.min_window = samples.clamp(16_000, WINDOW_SAMPLES);
    }

    /// The window (16 kHz samples, whole seconds, at most 30 s) that a clip of `audio_len` samples is
    /// padded to.
    pub fn window_for(&self, audio_len: usize) -> usize {
        (audio_len + TAIL_PAD_SAMPLES).max(self.min_window).div_ceil(16_000).saturating_mul(16_000).min(WINDOW_SAMPLES)
    }

    /// Transcribes 16 kHz audio of any length, window by window (30 s each).
    pub fn transcribe(&mut self, audio: &[f32]) -> Result<Transcript, StageError> {
        if audio.len() <= WINDOW_SAMPLES {
            return self.transcribe_window(audio);
        }
        let mut all = Transcript::default();
        let mut texts = Vec::new();
        for (i, window) in audio.chunks(WINDOW_SAMPLES).enumerate() {
            let t = self.transcribe_window(window)?;
            let offset = (i * WINDOW_SAMPLES / 16) as u64;
            all.segments.extend(t.segments.into_iter().map(|s| TranscriptSegment {
                start_ms: s.start_ms + offset,
                end_ms: s.end_ms + offset,
                text: s.text,
            }));
            if !t.text.is_empty() {
                texts.push(t.text);
            }
            all.no_speech_probability = all.no_speech_probability.max(t.no_speech_probability);
        }
        all.text = texts.join(" ");
        Ok(all)
    }

    /// Decodes one window of at most 30 s (16 kHz).
    pub fn transcribe_window(&mut self, audio: &[f32]) -> Result<Transcript, StageError> {
        let audio = &audio[..audio.len().min(WINDOW_SAMPLES)];
        let started = std::time::Instant::now();
        let window = self.window_for(audio.len());
        self.padded[..audio.len()].copy_from_slice(audio);
        self.padded[audio.len()..window].fill(0.0);
        let (frames, mel) = whisper_log_mel(&mut self.mel, &self.padded[..window]);
        let n_mels = self.mel.config().n_mels;
        let mel = Tensor::from_vec(mel, (1, n_mels, frames), &self.device).map_err(infer_err)?;
        let mel_done = started.elapsed();
        let features = self.encode(&mel)?;
        let encoder_done = started.elapsed();
        let transcript = self.decode(&features, audio.len())?;
        self.last_timings = WindowTimings {
            mel_ms: mel_done.as_secs_f64() * 1e3,
            encoder_ms: (encoder_done - mel_done).as_secs_f64() * 1e3,
            decode_ms: (started.elapsed() - encoder_done).as_secs_f64() * 1e3,
            cross_ms: self.cross_ms,
            decode_steps: self.steps,
        };
        tracing::debug!(
            audio_ms = audio.len() / 16,
            mel_ms = mel_done.as_secs_f64() * 1e3,
            encoder_ms = (encoder_done - mel_done).as_secs_f64() * 1e3,
            decode_ms = (started.elapsed() - encoder_done).as_secs_f64() * 1e3,
            "whisper window"
        );
        Ok(transcript)
    }

    /// Transcribes several utterances (each at most 30 s) with one batched encoder pass per window length
    /// (utterances padded to the same window share a pass), then decodes each. Gives the same transcripts
    /// as [`Self::transcribe_window`] one by one.
    pub fn transcribe_batch(&mut self, clips: &[&[f32]]) -> Result<Vec<Transcript>, StageError> {
        let clips: Vec<&[f32]> = clips.iter().map(|c| &c[..c.len().min(WINDOW_SAMPLES)]).collect();
        let windows: Vec<usize> = clips.iter().map(|c| self.window_for(c.len())).collect();
        let mut out: Vec<Option<Transcript>> = vec![None; clips.len()];
        let mut lengths = windows.clone();
        lengths.sort_unstable();
        lengths.dedup();
        for window in lengths {
            let group: Vec<usize> = (0..clips.len()).filter(|&i| windows[i] == window).collect();
            let n_mels = self.mel.config().n_mels;
            let mut mels = Vec::with_capacity(group.len());
            for &i in &group {
                let clip = clips[i];
                self.padded[..clip.len()].copy_from_slice(clip);
                self.padded[clip.len()..window].fill(0.0);
                let (frames, mel) = whisper_log_mel(&mut self.mel, &self.padded[..window]);
                mels.push(Tensor::from_vec(mel, (1, n_mels, frames), &self.device).map_err(infer_err)?);
            }
            let batch = Tensor::cat(&mels, 0).map_err(infer_err)?;
            let features = self.encode(&batch)?;
            for (b, &i) in group.iter().enumerate() {
                let one = features.narrow(0, b, 1).map_err(infer_err)?;
                out[i] = Some(self.decode(&one, clips[i].len())?);
            }
        }
        Ok(out.into_iter().map(|t| t.expect("every clip is in one group")).collect())
    }

    fn decode(&mut self, features: &Tensor, audio_len: usize) -> Result<Transcript, StageError> {
        let sp = self.special;
        let vocab = self.model.config.vocab_size;
        let mut suppress_mask = vec![0.0f32; vocab];
        for &t in &self.suppress {
            if (t as usize) < vocab {
                suppress_mask[t as usize] = f32::NEG_INFINITY;
            }
        }
        let max_tokens = self.model.config.max_target_positions / 2;
        let mut tokens = vec![sp.sot];
        let mut generated: Vec<u32> = Vec::new();
        let mut sum_logprob = 0.0f32;
        let mut no_speech_probability = 0.0;
        let cross_started = std::time::Instant::now();
        let mut state = match self.backend {
            WhisperBackend::Parley => Some(self.cached.start(features).map_err(infer_err)?),
            WhisperBackend::Candle => None,
        };
        self.cross_ms = if state.is_some() { cross_started.elapsed().as_secs_f64() * 1e3 } else { 0.0 };
        self.steps = 0;
        let mut masked = Vec::with_capacity(vocab);
        for step in 0..max_tokens {
            self.steps += 1;
            let owned;
            let logits: &[f32] = match &mut state {
                Some(state) => self.cached.step(state, *tokens.last().expect("starts with SOT")).map_err(infer_err)?,
                None => {
                    owned = self.candle_step(&tokens, features, step == 0)?;
                    &owned
                }
            };
            if step == 0 {
                no_speech_probability = softmax_at(logits, sp.no_speech as usize);
            }
            masked.clear();
            masked.extend(logits.iter().zip(&suppress_mask).map(|(l, m)| l + m));
            let logits = &mut masked[..];
            if generated.is_empty() {
                // Whisper's begin-suppress: no blank or end as the first text token.
                logits[sp.eot as usize] = f32::NEG_INFINITY;
                logits[220] = f32::NEG_INFINITY;
            }
            timestamp_rules::apply(logits, &generated, &sp);
            let next = argmax(logits);
            sum_logprob += log_softmax_at(logits, next);
            if next == sp.eot {
                break;
            }
            tokens.push(next);
            generated.push(next);
        }
        let average_logprob = sum_logprob / (generated.len() + 1) as f32;
        if no_speech_probability > NO_SPEECH_THRESHOLD && average_logprob < LOGPROB_THRESHOLD {
            return Ok(Transcript {
                no_speech_probability,
                average_logprob,
                rejected_as_no_speech: true,
                ..Default::default()
            });
        }
        let segments = self.segments(&generated, audio_len)?;
        let text = segments.iter().map(|s| s.text.as_str()).collect::<Vec<_>>().join(" ");
        Ok(Transcript { text, segments, no_speech_probability, average_logprob, rejected_as_no_speech: false })
    }

    /// candle-transformers' decoder: the whole sequence again, the last position's logits.
    fn candle_step(&mut self, tokens: &[u32], features: &Tensor, first: bool) -> Result<Vec<f32>, StageError> {
        let input = Tensor::new(tokens, &self.device).and_then(|t| t.unsqueeze(0)).map_err(infer_err)?;
        let ys = self.model.decoder.forward(&input, features, first).map_err(infer_err)?;
        let seq_len = ys.dim(1).map_err(infer_err)?;
        self.model
            .decoder
            .final_linear(&ys.i((..1, seq_len - 1..)).map_err(infer_err)?)
            .and_then(|l| l.i((0, 0)))
            .and_then(|l| l.to_vec1::<f32>())
            .map_err(infer_err)
    }

    /// Splits decoded tokens into timed segments at timestamp tokens.
    fn segments(&self, generated: &[u32], audio_len: usize) -> Result<Vec<TranscriptSegment>, StageError> {
        let sp = self.special;
        let audio_ms = (audio_len / 16) as u64;
        let ts_ms = |t: u32| (((t - sp.timestamp_begin) as f64 * TIMESTAMP_STEP) * 1000.0).round() as u64;
        let mut segments = Vec::new();
        let mut start: Option<u64> = None;
        let mut text_tokens: Vec<u32> = Vec::new();
        let mut flush = |start: u64, end: u64, text_tokens: &mut Vec<u32>| -> Result<(), StageError> {
            let text = self.tokenizer.decode(text_tokens, true).map_err(infer_err)?;
            text_tokens.clear();
            let text = text.trim().to_string();
            if !text.is_empty() {
                segments.push(TranscriptSegment { start_ms: start.min(audio_ms), end_ms: end.min(audio_ms), text });
            }
            Ok(())
        };
        for &t in generated {
            if sp.is_timestamp(t) {
                match start {
                    Some(s) if !text_tokens.is_empty() => {
                        flush(s, ts_ms(t), &mut text_tokens)?;
                        start = None;
                    }
                    _ => start = Some(ts_ms(t)),
                }
            } else if t < sp.eot {
                text_tokens.push(t);
            }
        }
        if !text_tokens.is_empty() {
            flush(start.unwrap_or(0), audio_ms, &mut text_tokens)?;
        }
        Ok(segments)
    }
}

fn argmax(xs: &[f32]) -> u32 {
    let mut best = 0;
    for (i, &x) in xs.iter().enumerate() {
        if x > xs[best] {
            best = i;
        }
    }
    best as u32
}

fn log_softmax_at(logits: &[f32], i: u32) -> f32 {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let sum: f32 = logits.iter().map(|l| (l - max).exp()).sum();
    logits[i as usize] - max - sum.ln()
}

/// `softmax(logits)[i]`.
fn softmax_at(logits: &[f32], i: usize) -> f32 {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let sum: f32 = logits.iter().map(|l| (l - max).exp()).sum();
    (logits[i] - max).exp() / sum
}
