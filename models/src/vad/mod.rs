//! Voice activity detection: [`SileroVad`] (Silero v6 ONNX, many streams per call) turns 32 ms chunks
//! ([`CHUNK_SAMPLES`] at [`SAMPLE_RATE`]) into speech probabilities. What counts as speech — the hysteresis
//! over those probabilities, segments, pauses — is decided in `parley-pipeline` (`vad_segmenter`, the
//! conversation's `SpeechDetector`).

mod silero;

pub use silero::{CHUNK_SAMPLES, CONTEXT_SAMPLES, ChunkProbability, SAMPLE_RATE, SileroVad, VadStream};
