//! A conversation session's engine requests: turns the core's engine outputs into calls on the shared
//! [`EngineHandle`] and bridges the blocking answers back as core [`Input`]s on a tokio channel. VAD answers
//! come through one long-lived reader per session, so they reach the core in stream order with no task per
//! frame; the other answers (a few per turn) each get a blocking reader. It remembers which engine request
//! each core request became, for cancellation.

use std::collections::HashMap;
use std::time::Duration;

use parley_models::engine::{
    EngineError, EngineHandle, LlmEvent, LlmExecutorHandle, LlmRequest, Priority, RequestId as EngineId, TtsEvent,
};
use parley_models::llm::{ChatMessage, Role as LlmRole, SamplingParams};
use parley_models::vad::ChunkProbability;
use parley_pipeline::conversation::{Input, Output, RequestId, Role, SpokenWord};
use tokio::sync::mpsc;

type VadAnswer = std::sync::mpsc::Receiver<Result<Vec<ChunkProbability>, EngineError>>;

#[derive(Clone, Copy)]
enum Pending {
    Asr(EngineId),
    Llm(EngineId),
    Tts(EngineId),
}

/// What became of a core output given to [`EngineRequests::handle`].
pub enum Routed {
    /// Sent to the engine (or nothing to do).
    Sent,
    /// The engine refused it at once: give this input to the core.
    Refused(Input),
    /// Not an engine request: the driver's to carry out.
    NotEngine(Output),
}

/// See the module docs.
pub struct EngineRequests {
    engine: EngineHandle,
    session: u64,
    answers: mpsc::Sender<Input>,
    /// The reply model's executor.
    replies: LlmExecutorHandle,
    vad: std::sync::mpsc::Sender<VadAnswer>,
    pending: HashMap<RequestId, Pending>,
}

fn engine_error(id: RequestId, e: &EngineError) -> Input {
    Input::EngineError { id, overloaded: matches!(e, EngineError::Overloaded { .. }), message: e.to_string() }
}

/// Reads a blocking engine answer stream on the blocking pool and forwards what `map` makes of each item.
fn forward<T: Send + 'static>(
    rx: std::sync::mpsc::Receiver<T>,
    tx: mpsc::Sender<Input>,
    mut map: impl FnMut(T) -> Option<Input> + Send + 'static,
) {
    tokio::task::spawn_blocking(move || {
        while let Ok(item) = rx.recv() {
            if let Some(input) = map(item)
                && tx.blocking_send(input).is_err()
            {
                break;
            }
        }
    });
}

impl EngineRequests {
    /// `answers` receives every answer; `session` is the engine session (VAD state, KV slot); replies come
    /// from the slow model when `slow_replies` and the engine has it loaded, else from the fast one.
    pub fn new(engine: EngineHandle, session: u64, slow_replies: bool, answers: mpsc::Sender<Input>) -> Self {
        let replies = match (slow_replies, engine.slow()) {
            (true, Some(slow)) => slow.clone(),
            (true, None) => {
                tracing::warn!("slow replies asked but the engine has no slow model; replying with the fast one");
                engine.fast().clone()
            }
            (false, _) => engine.fast().clone(),
        };
        let (vad, vad_answers) = std::sync::mpsc::channel::<VadAnswer>();
        let tx = answers.clone();
        tokio::task::spawn_blocking(move || {
            // In request order; ends when the session drops its sender.
            for answer in vad_answers {
                match answer.recv() {
                    Ok(Ok(chunks)) => {
                        let probabilities = chunks.iter().map(|c| (c.start_sample + 512, c.probability)).collect();
                        if tx.blocking_send(Input::Vad(probabilities)).is_err() {
                            break;
                        }
                    }
                    Ok(Err(e)) => tracing::debug!("VAD: {e}"),
                    Err(_) => {}
                }
            }
        });
        Self { engine, session, answers, replies, vad, pending: HashMap::new() }
    }

    /// Sends an engine output of the core to the engine (see [`Routed`]).
    pub fn handle(&mut self, out: Output) -> Routed {
        let tx = self.answers.clone();
        let refused = |id: RequestId, e: EngineError| Routed::Refused(engine_error(id, &e));
        match out {
            Output::Vad { samples } => match self.engine.audio().vad(self.session, samples) {
                Ok(rx) => {
                    let _ = self.vad.send(rx);
                }
                Err(e) => tracing::warn!("VAD refused a frame: {e}"),
            },
            Output::EndOfTurn { id, audio } => match self.engine.audio().end_of_turn(audio) {
                Ok(rx) => forward(rx, tx, move |r| {
                    Some(match r {
                        Ok(probability) => Input::EndOfTurn { id, probability },
                        Err(e) => engine_error(id, &e),
                    })
                }),
                Err(e) => return refused(id, e),
            },
            Output::EmbedSpeaker { id, audio } => match self.engine.audio().speaker_embedding(audio) {
                Ok(rx) => forward(rx, tx, move |r| {
                    Some(match r {
                        Ok(embedding) => Input::SpeakerEmbedding { id, embedding: embedding.0 },
                        Err(e) => engine_error(id, &e),
                    })
                }),
                Err(e) => return refused(id, e),
            },
            Output::Transcribe { id, audio, partial } => {
                let (priority, deadline) = if partial {
                    (Priority::Background, Duration::from_secs(3))
                } else {
                    (Priority::Interactive, Duration::from_millis(1500))
                };
                match self.engine.asr().transcribe_with(audio, priority, deadline) {
                    Ok((rid, rx)) => {
                        self.pending.insert(id, Pending::Asr(rid));
                        forward(rx, tx, move |r| {
                            Some(match r {
                                Ok(t) => Input::Transcript { id, text: t.text },
                                Err(EngineError::Cancelled) => return None,
                                Err(e) => engine_error(id, &e),
                            })
                        });
                    }
                    Err(e) => return refused(id, e),
                }
            }
            Output::Generate { id, messages, max_tokens } => {
                let messages = messages
                    .into_iter()
                    .map(|(role, text)| {
                        let role = match role {
                            Role::System => LlmRole::System,
                            Role::User => LlmRole::User,
                            Role::Assistant => LlmRole::Assistant,
                        };
                        ChatMessage::new(role, text)
                    })
                    .collect();
                let request = LlmRequest {
                    session: self.session,
                    messages,
                    sampling: SamplingParams::greedy(),
                    max_tokens,
                    stop: Vec::new(),
                    priority: Priority::Interactive,
                    deadline: Duration::from_millis(500),
                };
                match self.replies.generate(request) {
                    Ok((rid, rx)) => {
                        self.pending.insert(id, Pending::Llm(rid));
                        forward(rx, tx, move |e| {
                            Some(match e {
                                LlmEvent::Text(text) => Input::LlmText { id, text },
                                LlmEvent::Done(Ok(_)) => Input::LlmDone { id },
                                LlmEvent::Done(Err(EngineError::Cancelled)) => return None,
                                LlmEvent::Done(Err(e)) => engine_error(id, &e),
                            })
                        });
                    }
                    Err(e) => return refused(id, e),
                }
            }
            Output::StartSpeech { id } => match self.engine.tts().start(64) {
                Ok((rid, rx)) => {
                    self.pending.insert(id, Pending::Tts(rid));
                    forward(rx, tx, move |e| {
                        Some(match e {
                            TtsEvent::Chunk(chunk) => {
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
                            TtsEvent::Done(Ok(_)) => Input::TtsDone { id },
                            TtsEvent::Done(Err(EngineError::Cancelled)) => return None,
                            TtsEvent::Done(Err(e)) => engine_error(id, &e),
                        })
                    });
                }
                Err(e) => return refused(id, e),
            },
            Output::SpeakText { id, text } => {
                if let Some(Pending::Tts(rid)) = self.pending.get(&id)
                    && let Err(e) = self.engine.tts().push(*rid, text)
                {
                    return refused(id, e);
                }
            }
            Output::FinishSpeech { id } => {
                if let Some(Pending::Tts(rid)) = self.pending.get(&id) {
                    let _ = self.engine.tts().finish(*rid);
                }
            }
            Output::Cancel { id } => {
                if let Some(p) = self.pending.remove(&id) {
                    self.cancel(p);
                }
            }
            other => return Routed::NotEngine(other),
        }
        Routed::Sent
    }

    fn cancel(&self, p: Pending) {
        match p {
            Pending::Asr(rid) => self.engine.asr().cancel(rid),
            Pending::Llm(rid) => self.replies.cancel(rid),
            Pending::Tts(rid) => self.engine.tts().cancel(rid),
        }
    }

    /// Cancels everything still running (the session ended).
    pub fn cancel_all(&mut self) {
        for (_, p) in std::mem::take(&mut self.pending) {
            self.cancel(p);
        }
    }
}
