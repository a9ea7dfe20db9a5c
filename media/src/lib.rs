//! # parley-media
//!
//! Owns everything between the network and the conversation: WebRTC peer sessions, Opus encode/decode,
//! resampling between 48 kHz and the pipeline's rates, jitter and loss handling, video depacketising and
//! decoding, and audio files. The rest of parley sees only this crate's own types: [`PeerSession`],
//! [`MediaEvent`], [`AudioFrame`], [`VideoFrame`], [`AudioOutput`]. The transport is webrtc-rs
//! (`docs/architecture.md` says why).
//!
//! It never depends on models or the pipeline.

pub mod audio_file;
pub mod audio_frame;
pub mod audio_input;
pub mod audio_output;
pub mod decimator;
pub mod jitter_buffer;
pub mod output_pacer;
pub mod peer;
pub mod resample;
pub mod video;
pub mod vp8_decoder;

pub use audio_file::{AudioFileError, MonoAudio, read_wav, read_wav_at, write_wav};
pub use audio_frame::AudioFrame;
pub use audio_input::{AudioInput, AudioInputStats, ReceivedFrame};
pub use audio_output::{AudioOutput, OutputClosed, PacketSink, SentMark};
pub use decimator::Decimator48To16;
pub use jitter_buffer::{JitterBuffer, JitterStats, Pop};
pub use output_pacer::{OUTPUT_FRAME, OUTPUT_RATE, OutFrame, OutputPacer};
pub use peer::{CloseReason, EVENTS_CHANNEL, IceServer, MediaError, MediaEvent, PeerConfig, PeerSession};
pub use resample::{ResampleError, resample};
pub use video::{VideoConfig, VideoFrame, VideoReceiver, VideoRequest, Vp8Depacketizer};
pub use vp8_decoder::{RgbImage, Vp8Decoder, Vp8Error};
