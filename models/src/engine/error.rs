//! Why the engine could not serve a request: one error type for every executor, so none of them imports
//! another's module for it.

use crate::llm::LlmError;

/// Why the engine could not serve a request.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("the engine is at capacity ({what}); try again later")]
    Overloaded { what: &'static str },
    #[error("the engine has stopped")]
    Stopped,
    #[error("the request was cancelled")]
    Cancelled,
    #[error("{stage}: {message}")]
    Model { stage: &'static str, message: String },
    #[error(transparent)]
    Llm(#[from] Box<LlmError>),
}

impl From<LlmError> for EngineError {
    fn from(e: LlmError) -> Self {
        EngineError::Llm(Box::new(e))
    }
}

impl EngineError {
    /// Whether the engine refused the request for capacity (the caller may try again later).
    pub fn is_overload(&self) -> bool {
        matches!(self, EngineError::Overloaded { .. })
    }
}
