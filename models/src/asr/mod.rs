//! Speech recognition: Whisper tiny.en ([`WhisperAsr`], on parley-kernels and candle's matrix products) — offline transcription with per-segment
//! timestamps and the no-speech gate — and [`StreamingTranscriber`], which re-decodes a growing utterance and
//! reports stable partials and a final. (The VAD gate in front of it — audio in which Silero hears no speech is
//! never decoded — is `parley transcribe`'s, in `parley-web`, over `parley-pipeline`'s segmenter.)

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
