//! Text to speech: normalisation, clause splitting, espeak-ng phonemes, the Piper voice, streaming synthesis.
//!
//! The path of a reply: [`clauses`] cuts the text into clauses (also incrementally, as an LLM writes it);
//! [`normalize`] turns each clause's written words into spoken words ([`numbers`] spells the numbers);
//! [`phonemize`] runs the `espeak-ng` program (GPL-3, so never linked) for IPA; [`piper`] encodes the IPA as the
//! voice's ids and runs the ONNX model; [`align`] estimates which samples say which original word; [`stream`]
//! ties it together clause by clause, phonemising ahead of synthesis.
//!
//! ```no_run
//! use parley_models::store::{Manifest, ModelStore};
//! use parley_models::tts::PiperVoice;
//!
//! let store = ModelStore::new(ModelStore::default_root(), Manifest::default_cpu());
//! let voice = PiperVoice::load(&store, 2)?;
//! // Streaming: the first chunk is ready after the first clause.
//! for chunk in voice.chunks("Hello there. It costs $3.50 today.")? {
//!     let chunk = chunk?;
//!     println!("{} ms: {}", chunk.start_ms(), chunk.text);
//! }
//! // Token by token from an LLM.
//! let mut stream = voice.stream();
//! for token in ["Hel", "lo", ". How", " are", " you?"] {
//!     stream.push_text(token)?;
//!     while let Some(chunk) = stream.next_chunk(&voice)? { /* play chunk.samples */ }
//! }
//! stream.finish()?;
//! while let Some(chunk) = stream.next_chunk(&voice)? { /* play chunk.samples */ }
//! # Ok::<(), parley_models::tts::TtsError>(())
//! ```

pub mod align;
pub mod clauses;
pub mod normalize;
pub mod numbers;
pub mod phonemize;
pub mod piper;
pub mod stream;

use std::path::PathBuf;

pub use align::{WordSpan, played_text};
pub use clauses::{ClauseSplitter, split_clauses};
pub use normalize::normalize_text;
pub use phonemize::{Phonemes, Phonemizer};
pub use piper::{PhonemeIds, PiperVoice, Scales, VoiceConfig};
pub use stream::{Chunk, Chunks, Speech, TtsStream};

use crate::onnx::OnnxError;
use crate::store::StoreError;

/// Everything that can go wrong between text and audio.
#[derive(Debug, thiserror::Error)]
pub enum TtsError {
    #[error("`{program}` was not found: install espeak-ng (apt install espeak-ng)")]
    EspeakMissing { program: String },
    #[error("espeak-ng failed on {text:?}: {message}")]
    Espeak { text: String, message: String },
    #[error("Piper voice config {path}: {message}")]
    VoiceConfig { path: PathBuf, message: String },
    #[error("Piper inference on {ids} phoneme ids: {message}")]
    Inference { ids: usize, message: String },
    #[error(transparent)]
    Onnx(#[from] OnnxError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_espeak_says_how_to_install() {
        let p = Phonemizer::new("en-us").with_program("/nonexistent/espeak-ng");
        let err = p.phonemize("hello").unwrap_err();
        assert!(matches!(err, TtsError::EspeakMissing { .. }));
        assert!(err.to_string().contains("apt install espeak-ng"), "{err}");
    }

    #[test]
    fn stream_and_voice_are_send() {
        fn send<T: Send>() {}
        send::<TtsStream>();
        send::<PiperVoice>();
        fn sync<T: Sync>() {}
        sync::<PiperVoice>();
    }
}
