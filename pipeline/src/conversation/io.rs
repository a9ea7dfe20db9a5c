//! What the conversation core takes in ([`Input`]) and asks its driver to do ([`Output`]). Engine requests
//! carry everything the engine needs to schedule them — class, deadline, model, sampling — taken from
//! [`ConversationConfig`](super::ConversationConfig), so a driver only translates.

use std::time::Duration;

use parley_media::AudioFrame;

use super::config::ReplyModel;
use crate::protocol::ServerEvent;

/// Identifies one engine request of this session (the session's own id; answers come back tagged with it).
pub type RequestId = u64;

/// A chat turn for the LLM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Role {
    System,
    User,
    Assistant,
}

/// One word of synthesized speech and the samples (of its chunk) it spans.
#[derive(Debug, Clone, PartialEq)]
pub struct SpokenWord {
    pub text: String,
    pub start: u64,
    pub end: u64,
}

/// How urgent an engine request is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestClass {
    /// Someone is waiting on it now (a final transcript, the reply).
    Interactive,
    /// It can wait (a streaming partial transcript).
    Background,
}

/// How the reply model picks tokens (`temperature == 0`: greedy).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sampling {
    pub temperature: f32,
    pub top_p: f32,
}

/// What the core hears.
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    /// The user's audio (16 kHz mono, 20 ms, media time).
    Audio(AudioFrame),
    /// VAD probabilities: (end sample of the chunk, probability) in stream order.
    Vad(Vec<(u64, f32)>),
    EndOfTurn {
        id: RequestId,
        probability: f32,
    },
    Transcript {
        id: RequestId,
        text: String,
    },
    LlmText {
        id: RequestId,
        text: String,
    },
    LlmDone {
        id: RequestId,
    },
    /// One synthesized clause at the TTS rate and its words.
    TtsChunk {
        id: RequestId,
        samples: Vec<f32>,
        words: Vec<SpokenWord>,
    },
    TtsDone {
        id: RequestId,
    },
    /// A unit-length voice embedding asked by [`Output::EmbedSpeaker`].
    SpeakerEmbedding {
        id: RequestId,
        embedding: Vec<f32>,
    },
    /// A request failed; `overloaded` when the engine refused it for capacity.
    EngineError {
        id: RequestId,
        overloaded: bool,
        message: String,
    },
    /// The output has sent this many samples (TTS rate) of everything played so far; `samples` are the newly
    /// sent ones (for the echo gate).
    Played {
        total: u64,
        samples: Vec<f32>,
    },
    ChannelOpen,
    ClientMessage(String),
}

/// What the driver must do.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// The user's next samples for the VAD (answered by [`Input::Vad`], in order).
    Vad {
        samples: Vec<f32>,
    },
    EndOfTurn {
        id: RequestId,
        audio: Vec<f32>,
    },
    /// `partial`: a streaming partial (background class; cancelled when the final is asked).
    Transcribe {
        id: RequestId,
        audio: Vec<f32>,
        partial: bool,
        class: RequestClass,
        /// When the transcript is wanted, from now.
        deadline: Duration,
    },
    Generate {
        id: RequestId,
        messages: Vec<(Role, String)>,
        max_tokens: usize,
        model: ReplyModel,
        sampling: Sampling,
        class: RequestClass,
        /// When the first token is wanted, from now.
        deadline: Duration,
    },
    StartSpeech {
        id: RequestId,
    },
    SpeakText {
        id: RequestId,
        text: String,
    },
    FinishSpeech {
        id: RequestId,
    },
    /// The voice embedding of the user's speech (primary-speaker focus).
    EmbedSpeaker {
        id: RequestId,
        audio: Vec<f32>,
    },
    /// Cancel an engine request (any kind).
    Cancel {
        id: RequestId,
    },
    PlayAudio {
        samples: Vec<f32>,
    },
    /// The reply's audio is complete: send the last partial frame.
    FinishAudio,
    PauseAudio,
    ResumeAudio,
    FlushAudio,
    Event(ServerEvent),
}

/// Samples per second of the user's audio.
pub(crate) const RATE: u64 = AudioFrame::PIPELINE_RATE as u64;

/// Samples in `ms` milliseconds of the user's audio.
pub(crate) fn samples(ms: u32) -> u64 {
    ms as u64 * RATE / 1000
}

/// Milliseconds of `samples` of the user's audio.
pub(crate) fn millis(samples: u64) -> u64 {
    samples * 1000 / RATE
}
