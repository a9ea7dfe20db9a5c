//! # parley-pipeline
//!
//! Owns the per-session conversation: VAD → turn-taking → streaming ASR → fast/slow response → streaming
//! TTS, barge-in, the context of what the user actually heard, and latency marks. The core is a sans-IO
//! state machine: it takes inputs with their media time (`handle_input(input, now)`), yields outputs
//! (`poll_output()`) and its next deadline (`poll_timeout()`), and never owns sockets, compute threads or
//! wall clocks. Thin drivers connect it to `parley-media` sessions and the `parley-models` engine.
//!
//! The conversation core is still to come; what is here: [`SessionId`], the data-channel [`protocol`]
//! (`parley.v1`) that the server, the demo client and the latency harness speak, and the [`echo`] pipeline
//! (audio straight back, speech events from the [`energy_gate`]) for testing transport without models.

pub mod conversation;
pub mod echo;
pub mod energy_gate;
pub mod protocol;

use std::fmt;

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
