//! The one error type of the LLM stage. Every variant names the model and what was being done, so a log line
//! alone says what to fix.

use crate::store::StoreError;

/// Everything that can go wrong while loading or running a language model.
#[derive(Debug, thiserror::Error)]
pub enum LlmError {
    /// The model store does not have the files (the message says to run `parley models fetch`).
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("model `{model}`: cannot read {path}: {source}")]
    Io {
        model: String,
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The GGUF file lacks a value we need or has one we cannot use.
    #[error("model `{model}`: GGUF metadata: {message}")]
    Metadata { model: String, message: String },
    /// A tensor operation failed (loading weights, a forward pass, sampling).
    #[error("model `{model}`: {what}: {source}")]
    Compute {
        model: String,
        what: &'static str,
        #[source]
        source: candle_core::Error,
    },
    #[error("model `{model}`: tokenizer: {what}: {message}")]
    Tokenizer { model: String, what: &'static str, message: String },
    #[error("model `{model}`: chat template: {what}: {source}")]
    Template {
        model: String,
        what: &'static str,
        #[source]
        source: minijinja::Error,
    },
    /// The conversation no longer fits the model's context window.
    #[error("model `{model}`: the sequence needs {needed} positions but the context holds {limit}")]
    ContextFull { model: String, needed: usize, limit: usize },
    /// A sequence was used with a model other than the one that created it.
    #[error("sequence of model `{sequence_model}` used with model `{model}`")]
    WrongModel { model: String, sequence_model: String },
    /// A generation option is out of range (the message says which and why).
    #[error("invalid generation option: {0}")]
    InvalidOption(String),
}

/// Results of the LLM stage.
pub type LlmResult<T> = Result<T, LlmError>;
