//! The conversation core's engine requests, carried to the shared engine and back, with no state per
//! request: each core output becomes one call on the session's [`SessionLink`] (everything the request asks —
//! class, deadline, model, sampling — comes from the output), and each answer in the session's mailbox becomes
//! one core [`Input`] tagged with the core's own request id ([`answer_input`]). [`ConversationEngine`] is the
//! seam: the driver talks to it, the server plugs in [`LinkedEngine`], tests a fake.

use parley_models::engine::{
    Answer, EngineError, EngineHandle, LlmChoice, LlmRequest, Priority, SessionLink, SessionPermit, Tag,
};
use parley_models::llm::{ChatMessage, Role as LlmRole, SamplingParams};
use parley_models::vad::CHUNK_SAMPLES;
use parley_pipeline::conversation::{Input, Output, ReplyModel, RequestClass, Role, SpokenWord};

use crate::session_mailbox::{MAILBOX_CAPACITY, SessionMailbox};

/// What became of a core output given to [`ConversationEngine::route`].
pub enum Routed {
    /// Sent to the engine (or nothing to do).
    Sent,
    /// The engine refused it at once: give this input to the core.
    Refused(Input),
    /// Not an engine request: the driver's to carry out.
    NotEngine(Output),
}

/// Where a conversation's engine requests go.
pub trait ConversationEngine: Send + 'static {
    fn route(&mut self, out: Output) -> Routed;
}

/// The shared engine, through one session's link (see the module docs).
pub struct LinkedEngine {
    link: SessionLink,
}

impl LinkedEngine {
    /// Links an admitted session to the engine; its answers arrive in the returned mailbox.
    pub fn open(engine: &EngineHandle, permit: &SessionPermit, reply_model: ReplyModel) -> (Self, SessionMailbox) {
        if reply_model == ReplyModel::Slow && engine.slow().is_none() {
            tracing::warn!("slow replies asked but the engine has no slow model; replying with the fast one");
        }
        let (mailbox, sink) = SessionMailbox::new(MAILBOX_CAPACITY);
        (Self { link: engine.link(permit, sink) }, mailbox)
    }
}

fn refused(id: Tag, e: EngineError) -> Routed {
    Routed::Refused(Input::EngineError { id, overloaded: e.is_overload(), message: e.to_string() })
}

fn llm_choice(model: ReplyModel) -> LlmChoice {
    match model {
        ReplyModel::Fast => LlmChoice::Fast,
        ReplyModel::Slow => LlmChoice::Slow,
    }
}

fn priority(class: RequestClass) -> Priority {
    match class {
        RequestClass::Interactive => Priority::Interactive,
        RequestClass::Background => Priority::Background,
    }
}

fn chat_message((role, text): (Role, String)) -> ChatMessage {
    let role = match role {
        Role::System => LlmRole::System,
        Role::User => LlmRole::User,
        Role::Assistant => LlmRole::Assistant,
    };
    ChatMessage::new(role, text)
}

impl ConversationEngine for LinkedEngine {
    fn route(&mut self, out: Output) -> Routed {
        let link = &self.link;
        let result = match out {
            Output::Vad { samples } => {
                if let Err(e) = link.vad(samples) {
                    tracing::warn!("VAD refused a frame: {e}");
                }
                Ok(())
            }
            Output::EndOfTurn { id, audio } => link.end_of_turn(id, audio).map_err(|e| (id, e)),
            Output::EmbedSpeaker { id, audio } => link.speaker_embedding(id, audio).map_err(|e| (id, e)),
            Output::Transcribe { id, audio, class, deadline, .. } => {
                link.transcribe(id, audio, priority(class), deadline).map_err(|e| (id, e))
            }
            Output::Generate { id, messages, max_tokens, model, sampling, class, deadline } => {
                let sampling = if sampling.temperature == 0.0 {
                    SamplingParams::greedy()
                } else {
                    SamplingParams::random(sampling.temperature as f64, sampling.top_p as f64, id)
                };
                let request = LlmRequest {
                    session: link.session(),
                    messages: messages.into_iter().map(chat_message).collect(),
                    sampling,
                    max_tokens,
                    stop: Vec::new(),
                    priority: priority(class),
                    deadline,
                };
                link.generate(id, llm_choice(model), request).map_err(|e| (id, e))
            }
            Output::StartSpeech { id } => link.speech_start(id).map_err(|e| (id, e)),
            Output::SpeakText { id, text } => link.speech_push(id, text).map_err(|e| (id, e)),
            Output::FinishSpeech { id } => link.speech_finish(id).map_err(|e| (id, e)),
            Output::Cancel { id } => {
                link.cancel(id);
                Ok(())
            }
            other => return Routed::NotEngine(other),
        };
        match result {
            Ok(()) => Routed::Sent,
            Err((id, e)) => refused(id, e),
        }
    }
}

/// The core input an answer in the mailbox becomes (`None`: nothing for the core — a cancelled request, or
/// a VAD failure, which is logged).
pub fn answer_input(tag: Tag, answer: Answer) -> Option<Input> {
    let id = tag;
    Some(match answer {
        Answer::Vad(chunks) => {
            Input::Vad(chunks.iter().map(|c| (c.start_sample + CHUNK_SAMPLES as u64, c.probability)).collect())
        }
        Answer::EndOfTurn(probability) => Input::EndOfTurn { id, probability },
        Answer::Transcript(t) => Input::Transcript { id, text: t.text },
        Answer::SpeakerEmbedding(e) => Input::SpeakerEmbedding { id, embedding: e.0 },
        Answer::LlmText(text) => Input::LlmText { id, text },
        Answer::LlmDone { .. } => Input::LlmDone { id },
        Answer::TtsChunk(chunk) => {
            let base = chunk.start_sample as u64;
            let words = chunk
                .words
                .iter()
                .map(|w| SpokenWord {
                    text: w.word.clone(),
                    start: (w.start_sample as u64).saturating_sub(base),
                    end: (w.end_sample as u64).saturating_sub(base),
                })
                .collect();
            Input::TtsChunk { id, samples: chunk.samples, words }
        }
        Answer::TtsDone { .. } => Input::TtsDone { id },
        Answer::Failed(EngineError::Cancelled) => return None,
        Answer::Failed(e) if tag == 0 => {
            tracing::debug!("VAD: {e}");
            return None;
        }
        Answer::Failed(e) => Input::EngineError { id, overloaded: e.is_overload(), message: e.to_string() },
    })
}
