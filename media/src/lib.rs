//! # parley-media
//!
//! Owns everything between the network and the conversation: WebRTC peer sessions, Opus encode/decode,
//! resampling between 48 kHz and the pipeline's rates, jitter and loss handling, video depacketising and
//! decoding, and audio files. The rest of parley sees only this crate's own types ([`AudioFrame`] now;
//! `PeerSession`, `VideoFrame` and `MediaEvent` as the transport lands).
//!
//! It never depends on models or the pipeline.

pub mod audio_frame;

pub use audio_frame::AudioFrame;
