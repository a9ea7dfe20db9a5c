//! One admitted session's line to the engine: every request it makes names the session's own request id
//! (a [`Tag`]) and is answered in the session's one mailbox ([`AnswerSink`]). Nothing here keeps state per
//! request, so nothing grows with the session's length: executors find a request by its [`RequestKey`].

use std::sync::Arc;
use std::time::Duration;

use super::error::EngineError;
use super::handle::{EngineHandle, SessionPermit};
use super::llm_executor::{LlmExecutorHandle, LlmRequest};
use super::mailbox::{AnswerSink, ReplyTo, RequestKey, Tag};
use super::scheduler::Priority;

/// Which loaded LLM writes a reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LlmChoice {
    /// SmolLM2-135M: fast, simple.
    Fast,
    /// Qwen2.5-1.5B when loaded (else the fast model, with a warning at link time).
    #[default]
    Slow,
}

/// See the module docs. Cheap to clone.
#[derive(Clone)]
pub struct SessionLink {
    engine: EngineHandle,
    session: u64,
    sink: Arc<dyn AnswerSink>,
}

impl std::fmt::Debug for SessionLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SessionLink(session {})", self.session)
    }
}

impl SessionLink {
    pub(crate) fn new(engine: EngineHandle, permit: &SessionPermit, sink: Arc<dyn AnswerSink>) -> Self {
        Self { engine, session: permit.id(), sink }
    }

    /// The engine session (VAD stream, KV cache slot).
    pub fn session(&self) -> u64 {
        self.session
    }

    fn reply(&self, tag: Tag) -> ReplyTo {
        ReplyTo { key: self.key(tag), sink: self.sink.clone() }
    }

    fn key(&self, tag: Tag) -> RequestKey {
        RequestKey { session: self.session, tag }
    }

    /// The session's next 16 kHz samples for the VAD (answered with tag 0, in stream order).
    pub fn vad(&self, samples: Vec<f32>) -> Result<(), EngineError> {
        self.engine.audio().vad_to(self.session, samples, self.reply(0))
    }

    pub fn end_of_turn(&self, tag: Tag, audio: Vec<f32>) -> Result<(), EngineError> {
        self.engine.audio().end_of_turn_to(audio, self.reply(tag))
    }

    pub fn speaker_embedding(&self, tag: Tag, audio: Vec<f32>) -> Result<(), EngineError> {
        self.engine.audio().speaker_embedding_to(audio, self.reply(tag))
    }

    pub fn transcribe(
        &self,
        tag: Tag,
        audio: Vec<f32>,
        priority: Priority,
        deadline: Duration,
    ) -> Result<(), EngineError> {
        self.engine.asr().transcribe_to(audio, priority, deadline, self.reply(tag))
    }

    /// Generates with the chosen model (`request.session` is set to this session: its KV cache is reused).
    pub fn generate(&self, tag: Tag, model: LlmChoice, mut request: LlmRequest) -> Result<(), EngineError> {
        request.session = self.session;
        self.llm(model).generate_to(request, self.reply(tag))
    }

    fn llm(&self, model: LlmChoice) -> &LlmExecutorHandle {
        match (model, self.engine.slow()) {
            (LlmChoice::Slow, Some(slow)) => slow,
            _ => self.engine.fast(),
        }
    }

    /// Opens a speech stream for text that arrives in pieces.
    pub fn speech_start(&self, tag: Tag) -> Result<(), EngineError> {
        self.engine.tts().start_to(self.reply(tag))
    }

    pub fn speech_push(&self, tag: Tag, text: impl Into<String>) -> Result<(), EngineError> {
        self.engine.tts().push_key(self.key(tag), text)
    }

    pub fn speech_finish(&self, tag: Tag) -> Result<(), EngineError> {
        self.engine.tts().finish_key(self.key(tag))
    }

    /// Cancels the session's request `tag`, whatever executor has it (a no-op for the others; a request in
    /// a running ASR pass finishes with it).
    pub fn cancel(&self, tag: Tag) {
        let key = self.key(tag);
        self.engine.asr().cancel_key(key);
        self.engine.fast().cancel_key(key);
        if let Some(slow) = self.engine.slow() {
            slow.cancel_key(key);
        }
        self.engine.tts().cancel_key(key);
    }
}
