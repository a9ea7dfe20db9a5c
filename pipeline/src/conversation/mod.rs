//! The full-duplex conversation core, one per session, sans-IO: inputs are the user's 20 ms audio frames,
//! engine results, client messages and the output's sent position, each with the time (`now`, a `Duration` on
//! any steady clock); outputs are engine requests and cancellations, audio to play (and pause / resume /
//! flush), and events for the client; [`Conversation::poll_timeout`] says when it wants
//! [`Conversation::handle_timeout`] if nothing else happens. It never reads a clock and never blocks; a driver
//! (`parley-web`'s conversation session) connects it to the media session and the engine.
//!
//! One concern per file:
//! - [`user_audio`](self) (`user_audio.rs`): the user's recent audio and when each frame arrived;
//! - listening and end of turn (`turn.rs`): a [`SpeechDetector`] turns VAD probabilities into speech
//!   started / paused / resumed; after [`ConversationConfig::pause_ms`] of silence the end-of-turn model is
//!   asked (and the final transcript started at the same time); "finished" ends the turn at once, "not
//!   finished" waits and asks again, up to [`ConversationConfig::max_wait_ms`]; speech resuming cancels the
//!   pending end;
//! - transcripts (`transcripts.rs`): streaming partials while the user speaks, the final one that starts
//!   the reply;
//! - the reply (`reply.rs`): transcript → LLM (history in the engine's KV slot) → text streamed into TTS →
//!   audio out as each clause is ready; the first audio never waits for the whole reply;
//! - playback (`playback.rs`): what has been sent, the words heard, the turn's latency marks;
//! - barge-in (`barge_in.rs`): one pure decision over the evidence ([`decide`]) — pause, interrupt, resume
//!   or ignore the assistant's own echo ([`EchoGate`]);
//! - primary speaker (`voice_check.rs`, optional): the first utterance's voice is enrolled; an utterance in
//!   a clearly different voice ([`SpeakerFocus`]) neither ends a turn nor interrupts;
//! - the history (`history.rs`) cut to the words heard; engine failures (`engine_errors.rs`); client
//!   messages (`client_messages.rs`).

mod barge_in;
mod client_messages;
mod config;
mod echo_gate;
mod engine_errors;
mod history;
mod io;
mod playback;
mod reply;
mod speaker_focus;
mod speech;
mod transcripts;
mod turn;
mod user_audio;
mod voice_check;

pub use barge_in::{BargeInPolicy, Decision, Heard, Voice, decide};
pub use config::{ConversationConfig, ReplyModel};
pub use echo_gate::EchoGate;
pub use io::{Input, Output, RequestClass, RequestId, Role, Sampling, SpokenWord};
pub use speaker_focus::{SpeakerFocus, Verdict};
pub use speech::{SpeechDetector, SpeechEvent};

use std::collections::VecDeque;
use std::time::Duration;

use crate::protocol::{PROTOCOL_VERSION, ResponseStatus, ServerEvent, SessionInfo, SessionOptions};
use barge_in::BargeIn;
use history::History;
use playback::Playback;
use reply::Reply;
use transcripts::Partials;
use turn::Turn;
use user_audio::UserAudio;
use voice_check::VoiceCheck;

/// See the module docs.
pub struct Conversation {
    config: ConversationConfig,
    session: SessionInfo,
    outputs: VecDeque<Output>,
    next_id: RequestId,
    now: Duration,
    // Listening.
    audio: UserAudio,
    detector: SpeechDetector,
    echo: EchoGate,
    /// Speech ignored until it pauses: the assistant's echo, or another speaker.
    ignoring_speech: bool,
    turn: Turn,
    partials: Partials,
    // Speaking.
    reply: Option<Reply>,
    replies: u64,
    playback: Playback,
    barge: Option<BargeIn>,
    // Who and what.
    focus: Option<SpeakerFocus>,
    voice: VoiceCheck,
    history: History,
}

impl Conversation {
    pub fn new(session_id: &str, options: SessionOptions, config: ConversationConfig) -> Self {
        let mut config = config;
        if let Some(instructions) = &options.instructions {
            config.instructions = instructions.clone();
        }
        Self {
            session: SessionInfo { id: session_id.into(), protocol: PROTOCOL_VERSION.into(), options },
            outputs: VecDeque::new(),
            next_id: 1,
            now: Duration::ZERO,
            audio: UserAudio::default(),
            detector: SpeechDetector::new(&config),
            echo: EchoGate::default(),
            ignoring_speech: false,
            turn: Turn::default(),
            partials: Partials::default(),
            reply: None,
            replies: 0,
            playback: Playback::default(),
            barge: None,
            focus: config.primary_speaker.then(|| SpeakerFocus::new(config.speaker_similarity)),
            voice: VoiceCheck::default(),
            history: History::new(config.history_chars),
            config,
        }
    }

    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    /// When the core wants [`handle_timeout`](Self::handle_timeout) if no input comes first (on the same
    /// clock as `now`). Audio frames normally drive every timer; this covers a peer that stops sending while
    /// the turn waits (discontinuous transmission, a dropped connection).
    pub fn poll_timeout(&self) -> Option<Duration> {
        self.silence_deadline()
    }

    /// Time has passed with no input.
    pub fn handle_timeout(&mut self, now: Duration) {
        self.now = now;
        self.on_silence_timeout();
    }

    /// The conversation so far as the LLM sees it (the assistant's turns cut to what was heard).
    pub fn history(&self) -> &[(Role, String)] {
        self.history.turns()
    }

    /// Whether a reply is in progress.
    pub fn is_replying(&self) -> bool {
        self.reply.is_some()
    }

    pub fn handle_input(&mut self, input: Input, now: Duration) {
        self.now = now;
        match input {
            Input::Audio(frame) => self.on_audio(frame),
            Input::Vad(probabilities) => self.on_vad(&probabilities),
            Input::EndOfTurn { id, probability } => self.on_end_of_turn(id, Some(probability)),
            Input::Transcript { id, text } => self.on_transcript(id, text),
            Input::LlmText { id, text } => self.on_llm_text(id, text),
            Input::LlmDone { id } => self.on_llm_done(id),
            Input::TtsChunk { id, samples, words } => self.on_tts_chunk(id, samples, words),
            Input::TtsDone { id } => self.on_tts_done(id),
            Input::SpeakerEmbedding { id, embedding } => self.on_speaker_embedding(id, Some(&embedding)),
            Input::EngineError { id, overloaded, message } => self.on_engine_error(id, overloaded, message),
            Input::Played { total, samples } => self.on_played(total, &samples),
            Input::ChannelOpen => self.event(ServerEvent::SessionCreated { session: self.session.clone() }),
            Input::ClientMessage(text) => self.on_client_message(&text),
        }
    }

    fn id(&mut self) -> RequestId {
        self.next_id += 1;
        self.next_id
    }

    fn event(&mut self, event: ServerEvent) {
        self.outputs.push_back(Output::Event(event));
    }

    fn cancel(&mut self, id: RequestId) {
        self.outputs.push_back(Output::Cancel { id });
    }

    fn item_id(&self) -> String {
        format!("item_{}", self.turn.items)
    }
}

impl Conversation {
    /// The engine requests still running (for the driver to cancel when the session ends).
    pub fn pending_requests(&self) -> Vec<RequestId> {
        let mut ids: Vec<RequestId> = Vec::new();
        ids.extend(self.partials.pending());
        match self.turn.state {
            turn::UserState::Paused(p) => {
                ids.extend(p.asr);
                if let turn::EotCheck::Asked(eot) = p.eot {
                    ids.push(eot);
                }
            }
            turn::UserState::Transcribing { asr } => ids.push(asr),
            _ => {}
        }
        ids.extend(self.voice.pending);
        if let Some(r) = &self.reply {
            ids.extend(r.llm.into_iter().chain(r.tts));
        }
        ids
    }
}
