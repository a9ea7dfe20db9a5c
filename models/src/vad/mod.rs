//! Voice activity detection: [`SileroVad`] (Silero v6 ONNX, many streams per call) turns 32 ms chunks into
//! speech probabilities, and [`VadSegmenter`] (sans-IO, counted in samples) turns probabilities into speech
//! segments with hysteresis, minimum durations and padding.

mod segmenter;
mod silero;

pub use segmenter::{SpeechSegment, VadConfig, VadEvent, VadSegmenter, segments_from_probabilities};
pub use silero::{CHUNK_SAMPLES, CONTEXT_SAMPLES, ChunkProbability, SAMPLE_RATE, SileroVad, VadStream};
