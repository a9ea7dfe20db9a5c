//! Semantic end of turn: Smart Turn v3.2 (ONNX) gives the probability that the speaker has finished, from
//! the last 8 s of their audio. Features are Whisper's 80-bin log-mel from `parley-kernels`, the same front end
//! as ASR. Many sessions' clips can be scored in one call.

use ort::session::Session;
use ort::value::Tensor;
use parley_kernels::mel::{MelConfig, MelSpectrogram, whisper_log_mel};

use crate::onnx;
use crate::stage_error::StageError;
use crate::store::ModelStore;

const MODEL: &str = "smart-turn";
/// The model looks at the last 8 s of 16 kHz audio.
pub const WINDOW_SAMPLES: usize = 8 * 16_000;
const MELS: usize = 80;
const FRAMES: usize = 800;

/// The loaded Smart Turn model and its feature scratch space.
pub struct SmartTurn {
    session: Session,
    mel: MelSpectrogram,
    window: Vec<f32>,
}

impl std::fmt::Debug for SmartTurn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SmartTurn")
    }
}

impl SmartTurn {
    pub fn load(store: &ModelStore, threads: usize) -> Result<Self, StageError> {
        let env = onnx::environment(store)?;
        let session = onnx::open_session(env, &store.require(MODEL, "smart-turn-v3.2-cpu.onnx")?, threads)?;
        Ok(Self { session, mel: MelSpectrogram::new(MelConfig::whisper(MELS)), window: vec![0.0; WINDOW_SAMPLES] })
    }

    /// The model's input for a clip: its last 8 s (zero-padded at the start), normalised to zero mean and
    /// unit variance, as 80 × 800 log-mel features.
    pub fn features(&mut self, clip: &[f32]) -> Vec<f32> {
        let tail = &clip[clip.len().saturating_sub(WINDOW_SAMPLES)..];
        let pad = WINDOW_SAMPLES - tail.len();
        self.window[..pad].fill(0.0);
        self.window[pad..].copy_from_slice(tail);
        let n = WINDOW_SAMPLES as f64;
        let mean = self.window.iter().map(|&x| x as f64).sum::<f64>() / n;
        let var = self.window.iter().map(|&x| (x as f64 - mean).powi(2)).sum::<f64>() / n;
        let scale = 1.0 / (var + 1e-7).sqrt();
        for x in &mut self.window {
            *x = ((*x as f64 - mean) * scale) as f32;
        }
        let (frames, features) = whisper_log_mel(&mut self.mel, &self.window);
        debug_assert_eq!(frames, FRAMES);
        features
    }

    /// Probability that each clip (16 kHz, speech up to now) ends a finished turn; one batched call.
    pub fn probabilities(&mut self, clips: &[&[f32]]) -> Result<Vec<f32>, StageError> {
        if clips.is_empty() {
            return Ok(Vec::new());
        }
        let mut input = Vec::with_capacity(clips.len() * MELS * FRAMES);
        for clip in clips {
            input.extend(self.features(clip));
        }
        let err = |e: ort::Error| StageError::inference(MODEL, e);
        let outputs = self
            .session
            .run(ort::inputs!["input_features" => Tensor::from_array(([clips.len(), MELS, FRAMES], input)).map_err(err)?])
            .map_err(err)?;
        let (_, probs) = outputs[0].try_extract_tensor::<f32>().map_err(err)?;
        if probs.len() != clips.len() {
            return Err(StageError::inference(MODEL, format!("{} outputs for {} clips", probs.len(), clips.len())));
        }
        Ok(probs.to_vec())
    }

    /// Probability that `clip` ends a finished turn.
    pub fn probability(&mut self, clip: &[f32]) -> Result<f32, StageError> {
        Ok(self.probabilities(&[clip])?[0])
    }
}
