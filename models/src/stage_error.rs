//! The error type of the ONNX and candle stage models (VAD, end of turn, speaker, ASR).

use crate::onnx::OnnxError;
use crate::store::StoreError;

/// Why a stage model could not load or run. Every variant names the model.
#[derive(Debug, thiserror::Error)]
pub enum StageError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Onnx(#[from] OnnxError),
    #[error("{model}: loading {what}: {message}")]
    Load { model: &'static str, what: String, message: String },
    #[error("{model}: inference failed: {message}")]
    Inference { model: &'static str, message: String },
    #[error("{model}: bad input: {message}")]
    Input { model: &'static str, message: String },
}

impl StageError {
    pub(crate) fn inference(model: &'static str, e: impl std::fmt::Display) -> Self {
        StageError::Inference { model, message: e.to_string() }
    }
}
