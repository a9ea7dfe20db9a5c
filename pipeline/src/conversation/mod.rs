//! The full-duplex conversation core, one per session, sans-IO: inputs are the user's 20 ms audio frames,
//! engine results, client messages and the output's sent position, each with the time (`now`, a `Duration` on
//! any steady clock); outputs are engine requests and cancellations, audio to play (and pause / resume /
//! flush), and events for the client. It never reads a clock and never blocks; a driver
//! (`parley-web`'s conversation session) connects it to the media session and the engine.
//!
//! - **Listening**: every frame goes to the VAD (through the engine); a [`SpeechDetector`] turns chunk
//!   probabilities into speech started / paused / resumed; partial transcripts stream while the user speaks.
//! - **End of turn**: after [`ConversationConfig::pause_ms`] of silence the end-of-turn model is asked (and the
//!   final transcript started at the same time); "finished" ends the turn at once, "not finished" waits and asks
//!   again, up to [`ConversationConfig::max_wait_ms`]; speech resuming cancels the pending end.
//! - **Replying**: transcript → LLM (history in the engine's KV slot; trimmed here) → text streamed into TTS →
//!   audio out as each clause is ready; the first audio never waits for the whole reply.
//! - **Barge-in**: user speech over the reply first pauses it; it becomes an interruption when it lasts beyond
//!   [`ConversationConfig::barge_in_ms`] or its transcript holds words that are not backchannels. Then the audio
//!   is flushed, LLM/TTS work cancelled, and the assistant's turn in the history cut to the words the user heard;
//!   otherwise the reply resumes where it paused. Speech whose envelope follows what was just played is the
//!   assistant's own echo and is ignored ([`EchoGate`]).
//! - **Primary speaker** (optional, [`ConversationConfig::primary_speaker`]): the first utterance's voice is
//!   enrolled; an utterance in a clearly different voice ([`SpeakerFocus`]) neither ends a turn nor interrupts
//!   (the decisions that need it wait for the voice embedding, which is asked when the speech pauses or a
//!   barge-in would become an interruption).

mod config;
mod echo_gate;
mod speaker_focus;
mod speech;

pub use config::ConversationConfig;
pub use echo_gate::EchoGate;
pub use speaker_focus::{SpeakerFocus, Verdict};
pub use speech::{SpeechDetector, SpeechEvent};

use std::collections::VecDeque;
use std::time::Duration;

use parley_media::AudioFrame;

use crate::protocol::{
    ClientEvent, ErrorBody, IgnoredReason, PROTOCOL_VERSION, ResponseStatus, ServerEvent, SessionInfo, SessionOptions,
    TurnEndReason, TurnLatency,
};

/// Identifies one engine request of this session.
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
    Vad {
        samples: Vec<f32>,
    },
    EndOfTurn {
        id: RequestId,
        audio: Vec<f32>,
    },
    /// `partial`: a streaming partial (background priority; cancelled when the final is asked).
    Transcribe {
        id: RequestId,
        audio: Vec<f32>,
        partial: bool,
    },
    Generate {
        id: RequestId,
        messages: Vec<(Role, String)>,
        max_tokens: usize,
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

const RATE: u64 = AudioFrame::PIPELINE_RATE as u64;
/// Audio kept before speech starts, so the first syllable is not clipped.
const PRE_ROLL: u64 = RATE / 5;
/// The end-of-turn model looks at the last 8 s.
const EOT_WINDOW: u64 = 8 * RATE;
/// Audio kept at most (the longest utterance transcribed whole).
const MAX_UTTERANCE: u64 = 30 * RATE;

#[derive(Debug, Clone, PartialEq)]
enum UserState {
    Idle,
    Speaking,
    /// Silent since `speech_end` (a sample); the end-of-turn model and the final transcript are asked.
    Paused {
        speech_end: u64,
        eot: Option<RequestId>,
        eot_no_at: Option<u64>,
        eot_failed: bool,
        asr: Option<RequestId>,
    },
    /// The turn ended; waiting for the final transcript.
    Transcribing {
        asr: RequestId,
    },
}

#[derive(Debug, Default)]
struct Marks {
    speech_end: Option<Duration>,
    end_of_turn: Option<Duration>,
    transcript: Option<Duration>,
    first_token: Option<Duration>,
    first_audio: Option<Duration>,
}

#[derive(Debug)]
struct Reply {
    number: u64,
    llm: Option<RequestId>,
    tts: Option<RequestId>,
    text: String,
    /// Output position (TTS samples, session-wide) where this reply's audio starts.
    start: Option<u64>,
    /// (offset of the chunk in the reply's audio, its words).
    chunks: Vec<(u64, Vec<SpokenWord>)>,
    pushed: u64,
    paused: bool,
    started_sent: bool,
    item_id: String,
    marks: Marks,
}

#[derive(Debug)]
struct BargeIn {
    start_sample: u64,
}

/// The voice check of the current utterance (primary-speaker focus) and the decisions waiting for it.
#[derive(Debug, Default)]
struct VoiceCheck {
    pending: Option<RequestId>,
    verdict: Option<Verdict>,
    interrupt_waiting: bool,
    end_waiting: Option<TurnEndReason>,
}

/// See the module docs.
pub struct Conversation {
    config: ConversationConfig,
    session: SessionInfo,
    outputs: VecDeque<Output>,
    next_id: RequestId,
    detector: SpeechDetector,
    /// The user's audio since `audio_start` (bounded).
    audio: VecDeque<f32>,
    audio_start: u64,
    /// Arrival time of recent frames: (end sample, now).
    arrivals: VecDeque<(u64, Duration)>,
    user: UserState,
    utterance_start: u64,
    items: u64,
    partial: Option<RequestId>,
    partial_at: u64,
    partial_sent: String,
    reply: Option<Reply>,
    replies: u64,
    barge: Option<BargeIn>,
    /// Speech ignored until it pauses: the assistant's echo, or another speaker.
    ignoring_speech: bool,
    focus: Option<SpeakerFocus>,
    voice: VoiceCheck,
    echo: EchoGate,
    history: Vec<(Role, String)>,
    /// Samples pushed to the output (TTS rate), session-wide.
    pushed: u64,
    played: u64,
    marks: Marks,
    /// The final transcript when it arrived before the turn ended.
    pending_transcript: Option<String>,
    now: Duration,
}

impl Conversation {
    pub fn new(session_id: &str, options: SessionOptions, config: ConversationConfig) -> Self {
        let mut config = config;
        if let Some(instructions) = &options.instructions {
            config.instructions = instructions.clone();
        }
        let detector = SpeechDetector::new(&config);
        let focus = config.primary_speaker.then(|| SpeakerFocus::new(config.speaker_similarity));
        Self {
            session: SessionInfo { id: session_id.into(), protocol: PROTOCOL_VERSION.into(), options },
            config,
            outputs: VecDeque::new(),
            next_id: 1,
            detector,
            audio: VecDeque::new(),
            audio_start: 0,
            arrivals: VecDeque::new(),
            user: UserState::Idle,
            utterance_start: 0,
            items: 0,
            partial: None,
            partial_at: 0,
            partial_sent: String::new(),
            reply: None,
            replies: 0,
            barge: None,
            ignoring_speech: false,
            focus,
            voice: VoiceCheck::default(),
            echo: EchoGate::default(),
            history: Vec::new(),
            pushed: 0,
            played: 0,
            marks: Marks::default(),
            pending_transcript: None,
            now: Duration::ZERO,
        }
    }

    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    /// The conversation so far as the LLM sees it (the assistant's turns cut to what was heard).
    pub fn history(&self) -> &[(Role, String)] {
        &self.history
    }

    /// Whether a reply is in progress.
    pub fn is_replying(&self) -> bool {
        self.reply.is_some()
    }

    pub fn handle_input(&mut self, input: Input, now: Duration) {
        self.now = now;
        match input {
            Input::Audio(frame) => self.on_audio(frame),
            Input::Vad(probabilities) => {
                for (end, p) in probabilities {
                    if let Some(event) = self.detector.push(end, p) {
                        self.on_speech(event);
                    }
                    self.on_silence_progress(end);
                }
            }
            Input::EndOfTurn { id, probability } => self.on_end_of_turn(id, Ok(probability)),
            Input::Transcript { id, text } => self.on_transcript(id, text),
            Input::LlmText { id, text } => self.on_llm_text(id, text),
            Input::LlmDone { id } => {
                if let Some(r) = self.reply.as_mut().filter(|r| r.llm == Some(id)) {
                    r.llm = None;
                    if let Some(tts) = r.tts {
                        self.outputs.push_back(Output::FinishSpeech { id: tts });
                    }
                }
            }
            Input::TtsChunk { id, samples, words } => self.on_tts_chunk(id, samples, words),
            Input::TtsDone { id } => {
                if let Some(r) = self.reply.as_mut().filter(|r| r.tts == Some(id)) {
                    r.tts = None;
                    self.outputs.push_back(Output::FinishAudio);
                }
                self.maybe_finish_reply();
            }
            Input::SpeakerEmbedding { id, embedding } => self.on_speaker_embedding(id, Some(&embedding)),
            Input::EngineError { id, overloaded, message } => self.on_engine_error(id, overloaded, message),
            Input::Played { total, samples } => self.on_played(total, &samples),
            Input::ChannelOpen => {
                self.event(ServerEvent::SessionCreated { session: self.session.clone() });
            }
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

    fn item_id(&self) -> String {
        format!("item_{}", self.items)
    }

    fn arrival_of(&self, sample: u64) -> Duration {
        self.arrivals.iter().find(|(end, _)| *end >= sample).map_or(self.now, |(_, at)| *at)
    }

    fn audio_range(&self, from: u64, to: u64) -> Vec<f32> {
        let from = from.max(self.audio_start);
        let to = to.min(self.audio_start + self.audio.len() as u64);
        if to <= from {
            return Vec::new();
        }
        self.audio.range((from - self.audio_start) as usize..(to - self.audio_start) as usize).copied().collect()
    }

    fn on_audio(&mut self, frame: AudioFrame) {
        self.echo.input(&frame.samples, self.now);
        self.arrivals.push_back((frame.end_sample(), self.now));
        while self.arrivals.len() > 500 {
            self.arrivals.pop_front();
        }
        if self.audio.is_empty() {
            self.audio_start = frame.start_sample;
        }
        self.audio.extend(frame.samples.iter().copied());
        // Keep what an utterance in progress needs, else only the pre-roll.
        let keep_from = match self.user {
            UserState::Idle => frame.end_sample().saturating_sub(PRE_ROLL),
            _ => self.utterance_start.max(frame.end_sample().saturating_sub(MAX_UTTERANCE)),
        };
        while self.audio_start < keep_from && !self.audio.is_empty() {
            self.audio.pop_front();
            self.audio_start += 1;
        }
        let end = frame.end_sample();
        self.outputs.push_back(Output::Vad { samples: frame.samples });
        self.maybe_partial(end);
    }

    fn on_speech(&mut self, event: SpeechEvent) {
        match event {
            SpeechEvent::Started { at } => {
                if self.ignoring_speech {
                    return;
                }
                if self.reply_audible() && self.barge.is_none() {
                    if self.config.echo_gate && self.echo.correlation(self.now) >= self.config.echo_correlation {
                        self.ignoring_speech = true;
                        return;
                    }
                    self.barge = Some(BargeIn { start_sample: at });
                    if let Some(r) = self.reply.as_mut() {
                        r.paused = true;
                    }
                    self.outputs.push_back(Output::PauseAudio);
                }
                self.start_utterance(at);
            }
            SpeechEvent::Paused { at } => {
                if self.ignoring_speech {
                    self.ignoring_speech = false;
                    self.detector.reset();
                    return;
                }
                if self.user != UserState::Speaking {
                    return;
                }
                let eot = self.id();
                let from = at.saturating_sub(EOT_WINDOW).max(self.utterance_start);
                self.outputs.push_back(Output::EndOfTurn { id: eot, audio: self.audio_range(from, at) });
                if let Some(partial) = self.partial.take() {
                    self.outputs.push_back(Output::Cancel { id: partial });
                }
                let asr = self.id();
                self.outputs.push_back(Output::Transcribe {
                    id: asr,
                    audio: self.audio_range(self.utterance_start, at),
                    partial: false,
                });
                self.marks.speech_end = Some(self.arrival_of(at));
                self.check_voice(at);
                self.user = UserState::Paused {
                    speech_end: at,
                    eot: Some(eot),
                    eot_no_at: None,
                    eot_failed: false,
                    asr: Some(asr),
                };
            }
            SpeechEvent::Resumed => {
                if self.ignoring_speech {
                    return;
                }
                if let UserState::Paused { asr, .. } = self.user {
                    if let Some(asr) = asr {
                        self.outputs.push_back(Output::Cancel { id: asr });
                    }
                    self.pending_transcript = None;
                    self.user = UserState::Speaking;
                }
            }
        }
    }

    fn start_utterance(&mut self, at: u64) {
        if matches!(self.user, UserState::Speaking | UserState::Paused { .. }) {
            return;
        }
        self.items += 1;
        self.utterance_start = at.saturating_sub(PRE_ROLL).max(self.audio_start);
        self.user = UserState::Speaking;
        self.partial = None;
        self.partial_at = at;
        self.partial_sent.clear();
        self.pending_transcript = None;
        self.marks = Marks::default();
        self.voice = VoiceCheck::default();
        self.event(ServerEvent::SpeechStarted { item_id: self.item_id(), audio_start_ms: at * 1000 / RATE });
    }

    /// Streaming partial transcripts while the user speaks (and the barge-in check).
    fn maybe_partial(&mut self, end: u64) {
        if self.user != UserState::Speaking || self.partial.is_some() {
            return;
        }
        let every = if self.barge.is_some() { RATE * 2 / 5 } else { self.config.partial_every_ms as u64 * RATE / 1000 };
        if end >= self.partial_at + every {
            self.partial_at = end;
            let id = self.id();
            self.partial = Some(id);
            self.outputs.push_back(Output::Transcribe {
                id,
                audio: self.audio_range(self.utterance_start, end),
                partial: true,
            });
        }
    }

    /// Silence growing after a pause: re-ask, or end the turn at the limits. Also barge-in by duration.
    fn on_silence_progress(&mut self, end: u64) {
        if let (Some(b), UserState::Speaking) = (&self.barge, &self.user)
            && end.saturating_sub(b.start_sample) >= self.config.barge_in_ms as u64 * RATE / 1000
        {
            self.confirm_interruption();
        }
        let UserState::Paused { speech_end, eot, eot_no_at, eot_failed, .. } = self.user.clone() else { return };
        let silence_ms = (end.saturating_sub(speech_end)) * 1000 / RATE;
        if eot_failed && silence_ms >= self.config.silence_fallback_ms as u64 {
            return self.end_turn(TurnEndReason::Silence);
        }
        if silence_ms >= self.config.max_wait_ms as u64 {
            return self.end_turn(TurnEndReason::MaxWait);
        }
        if let Some(no_at) = eot_no_at
            && eot.is_none()
            && silence_ms >= no_at + self.config.eot_recheck_ms as u64
        {
            {
                let id = self.id();
                let from = speech_end.saturating_sub(EOT_WINDOW).max(self.utterance_start);
                self.outputs.push_back(Output::EndOfTurn { id, audio: self.audio_range(from, end) });
                if let UserState::Paused { eot, .. } = &mut self.user {
                    *eot = Some(id);
                }
            }
        }
    }

    fn on_end_of_turn(&mut self, id: RequestId, result: Result<f32, ()>) {
        let UserState::Paused { eot, speech_end, .. } = self.user.clone() else { return };
        if eot != Some(id) {
            return;
        }
        match result {
            Ok(p) if p >= self.config.eot_threshold => {
                // A barge-in that ends quickly is decided by its words, not by end of turn.
                if self.barge.is_some() {
                    if let UserState::Paused { eot, .. } = &mut self.user {
                        *eot = None;
                    }
                    return;
                }
                self.end_turn(TurnEndReason::Semantic)
            }
            Ok(_) => {
                let silence_ms =
                    self.arrivals.back().map_or(0, |(end, _)| end.saturating_sub(speech_end) * 1000 / RATE);
                if let UserState::Paused { eot, eot_no_at, .. } = &mut self.user {
                    *eot = None;
                    *eot_no_at = Some(silence_ms);
                }
            }
            Err(()) => {
                if let UserState::Paused { eot, eot_failed, .. } = &mut self.user {
                    *eot = None;
                    *eot_failed = true;
                }
            }
        }
    }

    fn end_turn(&mut self, reason: TurnEndReason) {
        let UserState::Paused { speech_end, asr, .. } = self.user.clone() else { return };
        if self.barge.is_some() {
            // Short speech over the reply with no verdict yet: its transcript decides.
            return;
        }
        if self.focus.is_some() && self.voice.verdict.is_none() {
            // Whose voice it was decides whether this is a turn at all.
            self.voice.end_waiting = Some(reason);
            self.check_voice(speech_end);
            return;
        }
        self.marks.end_of_turn = Some(self.now);
        self.detector.reset();
        self.event(ServerEvent::SpeechStopped { item_id: self.item_id(), audio_end_ms: speech_end * 1000 / RATE });
        self.event(ServerEvent::TurnEnded { item_id: self.item_id(), reason });
        if let Some(text) = self.pending_transcript.take() {
            self.user = UserState::Transcribing { asr: 0 };
            return self.finish_transcript(text);
        }
        let asr = match asr {
            Some(asr) => asr,
            None => {
                let id = self.id();
                self.outputs.push_back(Output::Transcribe {
                    id,
                    audio: self.audio_range(self.utterance_start, speech_end),
                    partial: false,
                });
                id
            }
        };
        self.user = UserState::Transcribing { asr };
    }

    fn on_transcript(&mut self, id: RequestId, text: String) {
        let text = text.trim().to_string();
        if self.partial == Some(id) {
            self.partial = None;
            if self.barge.is_some() && !self.config.is_backchannel(&text) {
                self.confirm_interruption();
            }
            if self.user == UserState::Speaking
                && let Some(delta) = text.strip_prefix(self.partial_sent.as_str()).filter(|d| !d.is_empty())
            {
                {
                    let delta = delta.to_string();
                    self.partial_sent = text.clone();
                    self.event(ServerEvent::TranscriptDelta { item_id: self.item_id(), delta });
                }
            }
            return;
        }
        match self.user.clone() {
            UserState::Paused { asr: Some(asr), .. } if asr == id => {
                if let UserState::Paused { asr, .. } = &mut self.user {
                    *asr = None;
                }
                if self.barge.is_some() {
                    if self.config.is_backchannel(&text) {
                        // A backchannel, a cough or noise: not a turn; the reply goes on.
                        self.resume_after_false_barge_in();
                    } else {
                        self.confirm_interruption();
                    }
                    return;
                }
                // Keep it for when the turn ends.
                self.pending_transcript = Some(text);
            }
            UserState::Transcribing { asr } if asr == id => self.finish_transcript(text),
            _ => {}
        }
    }
}

impl Conversation {
    fn finish_transcript(&mut self, text: String) {
        self.marks.transcript = Some(self.now);
        self.user = UserState::Idle;
        self.event(ServerEvent::TranscriptCompleted { item_id: self.item_id(), transcript: text.clone() });
        if text.is_empty() {
            return;
        }
        self.start_reply(text);
    }

    fn start_reply(&mut self, text: String) {
        if self.reply.is_some() {
            self.interrupt(ResponseStatus::Interrupted);
        }
        self.history.push((Role::User, text));
        self.trim_history();
        let mut messages = vec![(Role::System, self.config.instructions.clone())];
        messages.extend(self.history.iter().cloned());
        self.replies += 1;
        let (llm, tts) = (self.id(), self.id());
        self.outputs.push_back(Output::StartSpeech { id: tts });
        self.outputs.push_back(Output::Generate { id: llm, messages, max_tokens: self.config.max_reply_tokens });
        let number = self.replies;
        let marks = std::mem::take(&mut self.marks);
        self.reply = Some(Reply {
            number,
            llm: Some(llm),
            tts: Some(tts),
            text: String::new(),
            start: None,
            chunks: Vec::new(),
            pushed: 0,
            paused: false,
            started_sent: false,
            item_id: self.item_id(),
            marks,
        });
        self.event(ServerEvent::ResponseCreated { response_id: format!("resp_{number}") });
    }

    fn on_llm_text(&mut self, id: RequestId, text: String) {
        let now = self.now;
        let Some(r) = self.reply.as_mut().filter(|r| r.llm == Some(id)) else { return };
        r.marks.first_token.get_or_insert(now);
        r.text.push_str(&text);
        let (tts, number) = (r.tts, r.number);
        if let Some(tts) = tts {
            self.outputs.push_back(Output::SpeakText { id: tts, text: text.clone() });
        }
        self.event(ServerEvent::ResponseTextDelta { response_id: format!("resp_{number}"), delta: text });
    }

    fn on_tts_chunk(&mut self, id: RequestId, samples: Vec<f32>, words: Vec<SpokenWord>) {
        let now = self.now;
        let pushed = self.pushed;
        let Some(r) = self.reply.as_mut().filter(|r| r.tts == Some(id)) else { return };
        r.marks.first_audio.get_or_insert(now);
        r.start.get_or_insert(pushed);
        r.chunks.push((r.pushed, words));
        r.pushed += samples.len() as u64;
        self.pushed += samples.len() as u64;
        self.outputs.push_back(Output::PlayAudio { samples });
    }

    fn on_played(&mut self, total: u64, samples: &[f32]) {
        self.played = total;
        if !samples.is_empty() {
            self.echo.reference(samples, self.now);
        }
        let now = self.now;
        let Some(r) = self.reply.as_mut() else { return };
        if !r.started_sent && r.start.is_some_and(|s| total > s) {
            r.started_sent = true;
            let m = &r.marks;
            let since = |t: Option<Duration>| match (m.speech_end, t) {
                (Some(end), Some(t)) => t.saturating_sub(end).as_secs_f64() * 1e3,
                _ => 0.0,
            };
            let latency = TurnLatency {
                end_of_turn_ms: since(m.end_of_turn),
                transcript_ms: since(m.transcript),
                first_token_ms: since(m.first_token),
                first_audio_ms: since(m.first_audio),
                audio_sent_ms: since(Some(now)),
            };
            let (number, item_id) = (r.number, r.item_id.clone());
            self.event(ServerEvent::AudioStarted { response_id: format!("resp_{number}") });
            self.event(ServerEvent::TurnLatency { item_id, latency });
        }
        self.maybe_finish_reply();
    }

    /// The reply is over when the LLM and TTS are done and its last sample has been sent.
    fn maybe_finish_reply(&mut self) {
        let Some(r) = &self.reply else { return };
        if r.llm.is_some() || r.tts.is_some() || self.barge.is_some() {
            return;
        }
        let end = r.start.map_or(self.played, |s| s + r.pushed);
        if self.played < end {
            return;
        }
        let r = self.reply.take().expect("checked");
        let text = r.text.trim().to_string();
        if !text.is_empty() {
            self.history.push((Role::Assistant, text.clone()));
            self.trim_history();
        }
        self.event(ServerEvent::ResponseDone {
            response_id: format!("resp_{}", r.number),
            status: ResponseStatus::Completed,
            played_text: text,
        });
    }

    /// The reply is audible now or about to be (pushed audio not all sent, or still being made).
    fn reply_audible(&self) -> bool {
        self.reply.is_some()
    }

    /// The words of the reply the user has heard: those whose last sample has been sent.
    fn heard_text(&self, r: &Reply) -> String {
        let Some(start) = r.start else { return String::new() };
        let played = self.played.saturating_sub(start);
        let mut heard: Vec<&str> = Vec::new();
        for (offset, words) in &r.chunks {
            for w in words {
                if offset + w.end <= played {
                    heard.push(&w.text);
                }
            }
        }
        heard.join(" ")
    }

    /// Stops the reply now: flush, cancel, cut the history to what was heard.
    fn interrupt(&mut self, status: ResponseStatus) {
        self.barge = None;
        let Some(r) = self.reply.take() else { return };
        self.outputs.push_back(Output::FlushAudio);
        for id in [r.llm, r.tts].into_iter().flatten() {
            self.outputs.push_back(Output::Cancel { id });
        }
        let heard = self.heard_text(&r);
        if !heard.is_empty() {
            self.history.push((Role::Assistant, heard.clone()));
        }
        // The output forgets unsent audio: what was pushed and not sent no longer counts.
        self.pushed = self.played;
        self.event(ServerEvent::ResponseDone { response_id: format!("resp_{}", r.number), status, played_text: heard });
    }

    fn resume_after_false_barge_in(&mut self) {
        self.barge = None;
        self.user = UserState::Idle;
        self.detector.reset();
        if let Some(r) = self.reply.as_mut() {
            r.paused = false;
        }
        self.outputs.push_back(Output::ResumeAudio);
        self.maybe_finish_reply();
    }

    fn on_engine_error(&mut self, id: RequestId, overloaded: bool, message: String) {
        // End of turn failing is not fatal: the silence rule takes over.
        if matches!(self.user, UserState::Paused { eot: Some(e), .. } if e == id) {
            return self.on_end_of_turn(id, Err(()));
        }
        if self.partial == Some(id) {
            self.partial = None;
            return;
        }
        if self.voice.pending == Some(id) {
            // Without a verdict the speech counts as the primary speaker's (focus fails open).
            return self.on_speaker_embedding(id, None);
        }
        let in_reply = self.reply.as_ref().is_some_and(|r| r.llm == Some(id) || r.tts == Some(id));
        let in_turn = matches!(self.user, UserState::Transcribing { asr } if asr == id)
            || matches!(self.user, UserState::Paused { asr: Some(a), .. } if a == id);
        if !in_reply && !in_turn {
            return;
        }
        let code = if overloaded { "overloaded" } else { "engine_error" };
        let message = if overloaded {
            format!("parley is busy and could not answer this turn ({message}); please say it again in a moment")
        } else {
            format!("parley could not answer this turn: {message}")
        };
        self.event(ServerEvent::Error {
            error: ErrorBody { kind: "server_error".into(), code: code.into(), message, event_type: None },
        });
        if in_turn {
            if let UserState::Paused { asr, .. } = &mut self.user {
                *asr = None;
            } else {
                self.user = UserState::Idle;
            }
        }
        if in_reply {
            let r = self.reply.take().expect("checked");
            self.outputs.push_back(Output::FlushAudio);
            for other in [r.llm, r.tts].into_iter().flatten().filter(|o| *o != id) {
                self.outputs.push_back(Output::Cancel { id: other });
            }
            self.pushed = self.played;
            self.event(ServerEvent::ResponseDone {
                response_id: format!("resp_{}", r.number),
                status: ResponseStatus::Failed,
                played_text: String::new(),
            });
        }
    }

    fn on_client_message(&mut self, text: &str) {
        match ClientEvent::parse(text) {
            Ok(ClientEvent::SessionUpdate { session, .. }) => {
                let o = &mut self.session.options;
                if let Some(i) = session.instructions {
                    self.config.instructions = i.clone();
                    o.instructions = Some(i);
                }
                if session.voice.is_some() {
                    o.voice = session.voice;
                }
                if session.language.is_some() {
                    o.language = session.language;
                }
                self.event(ServerEvent::SessionUpdated { session: self.session.clone() });
            }
            Ok(ClientEvent::ResponseCancel { .. }) => {
                if self.reply.is_some() {
                    self.interrupt(ResponseStatus::Cancelled);
                }
            }
            Err(e) => self.event(ServerEvent::for_protocol_error(&e)),
        }
    }

    /// Asks for the voice embedding of the current utterance (up to sample `to`) unless asked or known.
    fn check_voice(&mut self, to: u64) {
        if self.focus.is_none() || self.voice.pending.is_some() || self.voice.verdict.is_some() {
            return;
        }
        let id = self.id();
        self.voice.pending = Some(id);
        self.outputs.push_back(Output::EmbedSpeaker { id, audio: self.audio_range(self.utterance_start, to) });
    }

    /// A barge-in became real: interrupt, unless primary-speaker focus must first hear whose voice it is.
    fn confirm_interruption(&mut self) {
        match (&self.focus, self.voice.verdict) {
            (None, _) | (Some(_), Some(Verdict::Primary | Verdict::Enrolled)) => {
                self.interrupt(ResponseStatus::Interrupted)
            }
            (Some(_), Some(Verdict::Other)) => {}
            (Some(_), None) => {
                self.voice.interrupt_waiting = true;
                let end = self.arrivals.back().map_or(self.utterance_start, |(end, _)| *end);
                self.check_voice(end);
            }
        }
    }

    /// The voice embedding of the current utterance (None: it failed) and the decisions waiting for it.
    fn on_speaker_embedding(&mut self, id: RequestId, embedding: Option<&[f32]>) {
        if self.voice.pending != Some(id) {
            return;
        }
        self.voice.pending = None;
        let Some(focus) = self.focus.as_mut() else { return };
        let (verdict, similarity) = match embedding {
            Some(e) => focus.judge(e),
            None => (Verdict::Primary, f32::NAN),
        };
        self.voice.verdict = Some(verdict);
        if verdict == Verdict::Other {
            return self.ignore_other_speaker(similarity);
        }
        if std::mem::take(&mut self.voice.interrupt_waiting) && self.barge.is_some() {
            self.interrupt(ResponseStatus::Interrupted);
        }
        if let Some(reason) = self.voice.end_waiting.take() {
            self.end_turn(reason);
        }
    }

    /// The utterance is another speaker's: drop its turn (or barge-in) and ignore it until it pauses.
    fn ignore_other_speaker(&mut self, similarity: f32) {
        self.voice.interrupt_waiting = false;
        self.voice.end_waiting = None;
        let mut cancel: Vec<RequestId> = self.partial.take().into_iter().collect();
        let speaking = match self.user {
            UserState::Paused { eot, asr, .. } => {
                cancel.extend(eot.into_iter().chain(asr));
                false
            }
            UserState::Transcribing { asr } => {
                cancel.push(asr);
                false
            }
            UserState::Speaking => true,
            UserState::Idle => false,
        };
        for id in cancel {
            self.outputs.push_back(Output::Cancel { id });
        }
        self.pending_transcript = None;
        let end = self.arrivals.back().map_or(0, |(end, _)| *end);
        self.event(ServerEvent::SpeechStopped { item_id: self.item_id(), audio_end_ms: end * 1000 / RATE });
        self.event(ServerEvent::SpeechIgnored {
            item_id: self.item_id(),
            reason: IgnoredReason::OtherSpeaker,
            similarity: if similarity.is_finite() { Some(similarity) } else { None },
        });
        if self.barge.is_some() {
            self.resume_after_false_barge_in();
        }
        self.user = UserState::Idle;
        self.detector.reset();
        // Still talking: the rest of this speech is ignored too.
        self.ignoring_speech = speaking;
    }

    fn trim_history(&mut self) {
        while self.history.len() > 1
            && self.history.iter().map(|(_, t)| t.len()).sum::<usize>() > self.config.history_chars
        {
            self.history.remove(0);
        }
    }
}
