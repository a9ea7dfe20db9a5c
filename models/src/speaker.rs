//! Speaker embedding: the d-vector encoder (3-layer LSTM, int8 ONNX) maps an utterance to a unit 256-d
//! vector; cosine similarity compares voices. Used for primary-speaker focus.
//!
//! The recipe matches the one the weights were trained with: 40-bin log10 mel (n_fft 512, 400-sample Hamming
//! window, 10 ms hop, no centring), 80-frame windows with a 40-frame stride, each window embedded and
//! L2-normalised, the mean L2-normalised again.

use ort::session::Session;
use ort::value::Tensor;
use parley_kernels::mel::{MelConfig, MelSpectrogram};

use crate::onnx;
use crate::stage_error::StageError;
use crate::store::ModelStore;

const MODEL: &str = "speaker-embedder";
pub const EMBEDDING_DIM: usize = 256;
const WINDOW: usize = 80;
const STRIDE: usize = 40;
const MELS: usize = 40;

/// A unit-length voice embedding.
#[derive(Debug, Clone, PartialEq)]
pub struct SpeakerEmbedding(pub Vec<f32>);

impl SpeakerEmbedding {
    /// Cosine similarity in [-1, 1] (both vectors are unit length).
    pub fn similarity(&self, other: &SpeakerEmbedding) -> f32 {
        self.0.iter().zip(&other.0).map(|(a, b)| a * b).sum()
    }
}

/// The loaded embedder.
pub struct SpeakerEmbedder {
    session: Session,
    mel: MelSpectrogram,
}

impl std::fmt::Debug for SpeakerEmbedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SpeakerEmbedder")
    }
}

impl SpeakerEmbedder {
    pub fn load(store: &ModelStore, threads: usize) -> Result<Self, StageError> {
        let env = onnx::environment(store)?;
        let session = onnx::open_session(env, &store.require(MODEL, "embedder.int8.onnx")?, threads)?;
        Ok(Self { session, mel: MelSpectrogram::new(MelConfig::dvector()) })
    }

    /// Embedding of an utterance (16 kHz). Very short clips are zero-padded to one 0.8 s window.
    pub fn embed(&mut self, utterance: &[f32]) -> Result<SpeakerEmbedding, StageError> {
        if utterance.is_empty() {
            return Err(StageError::Input { model: MODEL, message: "empty utterance".into() });
        }
        let (frames, mel) = self.mel.log10_power(utterance);
        // [mel][frame] → [frame][mel], padded to one window.
        let padded = frames.max(WINDOW);
        let mut feat = vec![0.0f32; padded * MELS];
        for m in 0..MELS {
            for t in 0..frames {
                feat[t * MELS + m] = mel[m * frames + t];
            }
        }
        let windows = 1 + (padded - WINDOW) / STRIDE;
        let mut input = Vec::with_capacity(windows * WINDOW * MELS);
        for w in 0..windows {
            input.extend_from_slice(&feat[w * STRIDE * MELS..(w * STRIDE + WINDOW) * MELS]);
        }
        let err = |e: ort::Error| StageError::inference(MODEL, e);
        let outputs = self
            .session
            .run(ort::inputs!["mel_window" => Tensor::from_array(([windows, WINDOW, MELS], input)).map_err(err)?])
            .map_err(err)?;
        let (_, emb) = outputs[0].try_extract_tensor::<f32>().map_err(err)?;
        let mut mean = vec![0.0f32; EMBEDDING_DIM];
        for row in emb.chunks_exact(EMBEDDING_DIM) {
            let norm = row.iter().map(|v| v * v).sum::<f32>().sqrt() + 1e-12;
            for (m, v) in mean.iter_mut().zip(row) {
                *m += v / norm / windows as f32;
            }
        }
        let norm = mean.iter().map(|v| v * v).sum::<f32>().sqrt() + 1e-12;
        mean.iter_mut().for_each(|v| *v /= norm);
        Ok(SpeakerEmbedding(mean))
    }
}
