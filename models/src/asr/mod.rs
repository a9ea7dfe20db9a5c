//! Speech recognition: Whisper tiny.en ([`WhisperAsr`], on parley-kernels and candle's matrix products) — offline transcription with per-segment
//! timestamps and the no-speech gate — and [`StreamingTranscriber`], which re-decodes a growing utterance and
//! reports stable partials and a final. [`transcribe_speech`] adds the VAD gate: audio in which Silero hears
//! no speech is never decoded, so noise and silence cannot produce hallucinated text.

mod cached_decoder;
mod encoder;
mod streaming;
pub mod timestamp_rules;
mod whisper;

pub use streaming::{PartialTranscript, StreamingTranscriber};
pub use whisper::{
    DEFAULT_MIN_WINDOW_SAMPLES, Transcript, TranscriptSegment, WINDOW_SAMPLES, WhisperAsr, WhisperBackend,
    WindowTimings,
};

use crate::stage_error::StageError;
use crate::vad::{CHUNK_SAMPLES, SileroVad, VadConfig, segments_from_probabilities};

/// Transcribes 16 kHz audio if the VAD finds speech in it; otherwise returns an empty transcript.
pub fn transcribe_speech(asr: &mut WhisperAsr, vad: &mut SileroVad, audio: &[f32]) -> Result<Transcript, StageError> {
    let probs = vad.probabilities(audio)?;
    let speech = segments_from_probabilities(&VadConfig::default(), &probs, CHUNK_SAMPLES as u64, audio.len() as u64);
    if speech.is_empty() {
        return Ok(Transcript::default());
    }
    asr.transcribe(audio)
}
