//! # parley-media
//!
//! Owns everything between the network and the conversation: WebRTC peer sessions, Opus encode/decode,
//! resampling between 48 kHz and the pipeline's rates, jitter and loss handling, video depacketising and
//! decoding, and audio files. The rest of parley sees only this crate's own types ([`AudioFrame`] now;
//! `PeerSession`, `VideoFrame` and `MediaEvent` as the transport lands).
//!
//! It never depends on models or the pipeline.

pub mod audio_file;
pub mod audio_frame;
pub mod jitter_buffer;
pub mod output_pacer;
pub mod resample;

pub use audio_file::{AudioFileError, MonoAudio, read_wav, read_wav_at, write_wav};
pub use audio_frame::AudioFrame;
pub use jitter_buffer::{JitterBuffer, JitterStats, Pop};
pub use output_pacer::{OUTPUT_FRAME, OUTPUT_RATE, OutFrame, OutputPacer};
pub use resample::{ResampleError, resample};
