//! # parley-pipeline
//!
//! Owns what happens inside one session, as sans-IO cores that take inputs with their time, yield outputs, and
//! never own sockets, compute threads or wall clocks; thin drivers in `parley-web` connect them to
//! `parley-media` sessions and the `parley-models` engine. It depends on `parley-media` alone (for
//! [`parley_media::AudioFrame`]): engine requests and results are this crate's own types.
//!
//! - [`conversation`]: the spoken conversation, one [`conversation::Conversation`] per session. It takes
//!   audio frames, engine results and client messages through `handle_input(input, now)`, yields engine
//!   requests, audio and client events through `poll_output()`, and says when it next needs the time through
//!   `poll_timeout()`: turn-taking (silence and end of turn), streaming transcripts, the reply streamed from the
//!   LLM into TTS, barge-in, its own echo ignored, optional primary-speaker focus, and the history cut to the
//!   words the user heard.
//! - [`echo`]: the model-free pipeline (`parley serve --pipeline echo`): audio straight back after a delay,
//!   speech events from the [`energy_gate`], for testing the transport, the demo client and the harness.
//! - [`protocol`]: the data-channel protocol (`parley.v1`) that the server, the demo client and the latency
//!   harness speak.
//! - Speech detection, one rule for all three uses: [`hysteresis::Hysteresis`] (a higher level to start than to
//!   stay on, minimum on and off durations, in samples) under the conversation's
//!   [`conversation::SpeechDetector`] (VAD probabilities, pauses), the echo pipeline's
//!   [`energy_gate::EnergyGate`] (frame energy) and the offline [`vad_segmenter`] (speech segments of a whole
//!   clip from VAD probabilities: `parley vad`, the transcription gate).
//! - [`SessionId`], shared with the engine.

pub mod conversation;
pub mod echo;
pub mod energy_gate;
pub mod hysteresis;
pub mod protocol;
pub mod vad_segmenter;

use std::fmt;

/// Samples per VAD probability: Silero's 32 ms chunk at 16 kHz. `parley_models::vad::CHUNK_SAMPLES` is the
/// model's own constant, which this crate cannot name (it does not depend on the models); `parley-web`, which
/// sees both, checks at compile time that they agree.
pub const VAD_CHUNK_SAMPLES: u64 = 512;

/// Identifies one conversation across media, pipeline and engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionId(pub u64);

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "s{:08x}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_ids_print_compactly() {
        assert_eq!(SessionId(0x2a).to_string(), "s0000002a");
    }
}
