//! The driver of one conversation session: connects a [`PeerSession`] and the shared [`EngineHandle`] to the
//! sans-IO [`Conversation`] core. Media events and engine answers become core inputs (each with the time since
//! the session started); core outputs become engine requests (their blocking answers bridged onto this task by
//! `spawn_blocking` readers), audio pushed to / paused / flushed on the paced output, and data-channel events.
//! The session ends like the echo session (DELETE, close, ICE failure, never connecting); its engine permit and
//! place are freed then.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use parley_media::{AudioOutput, MediaEvent, PeerSession};
use parley_models::engine::{EngineError, EngineHandle, LlmEvent, LlmRequest, Priority, SessionPermit, TtsEvent};
use parley_models::llm::{ChatMessage, Role as LlmRole, SamplingParams};
use parley_pipeline::conversation::{Conversation, ConversationConfig, Input, Output, Role, SpokenWord};
use parley_pipeline::protocol::SessionOptions;
use tokio::sync::{Notify, mpsc};
use tokio::time::Instant;

use crate::sessions::Place;

/// Engine answers waiting for the session task.
const ANSWERS: usize = 1024;

pub struct ConversationSession {
    pub id: String,
    pub peer: Arc<PeerSession>,
    pub stop: Arc<Notify>,
    pub options: SessionOptions,
    pub config: ConversationConfig,
    pub engine: EngineHandle,
    pub permit: SessionPermit,
    pub connect_timeout: Duration,
    pub created: Instant,
}

#[derive(Clone, Copy)]
enum Pending {
    Asr(u64),
    Llm(u64),
    Tts(u64),
}

fn engine_error(id: u64, e: &EngineError) -> Input {
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

impl ConversationSession {
    pub async fn run(self, mut events: mpsc::Receiver<MediaEvent>, place: Place) {
        let epoch = Instant::now();
        let session = self.permit.id();
        let mut core = Conversation::new(&self.id, self.options.clone(), self.config.clone());
        let output: AudioOutput = self.peer.audio_output().clone();
        let mut marks = output.sent_marks();
        let (answers_tx, mut answers) = mpsc::channel::<Input>(ANSWERS);
        let mut pending: HashMap<u64, Pending> = HashMap::new();
        let mut unreported: VecDeque<f32> = VecDeque::new();
        let mut reported: u64 = 0;
        let mut connected = false;
        let connect_deadline = self.created + self.connect_timeout;
        let reason = loop {
            let input = tokio::select! {
                event = events.recv() => match event {
                    None => break "media ended",
                    Some(MediaEvent::Connected) => {
                        connected = true;
                        let ms = self.created.elapsed().as_secs_f64() * 1e3;
                        metrics::histogram!("parley_session_connect_ms").record(ms);
                        tracing::info!("connected {ms:.0} ms after the offer");
                        continue;
                    }
                    Some(MediaEvent::Disconnected) => { tracing::info!("peer disconnected; waiting for it to come back"); continue; }
                    Some(MediaEvent::Closed(reason)) => break if reason == parley_media::CloseReason::Failed { "peer gone (ICE/DTLS timeout)" } else { "closed" },
                    Some(MediaEvent::ChannelOpen) => Input::ChannelOpen,
                    Some(MediaEvent::Message(text)) => Input::ClientMessage(text),
                    Some(MediaEvent::Audio { frame, .. }) => Input::Audio(frame),
                    Some(MediaEvent::Video(_)) => continue,
                },
                Some(answer) = answers.recv() => answer,
                Ok(()) = marks.changed() => {
                    let mark = *marks.borrow_and_update();
                    let fresh = mark.source_samples.saturating_sub(reported) as usize;
                    reported = mark.source_samples;
                    let samples: Vec<f32> = unreported.drain(..fresh.min(unreported.len())).collect();
                    Input::Played { total: mark.source_samples, samples }
                }
                _ = tokio::time::sleep_until(connect_deadline), if !connected => break "the peer never connected",
                _ = self.stop.notified() => break "deleted by the client",
            };
            core.handle_input(input, Instant::now() - epoch);
            while let Some(out) = core.poll_output() {
                let tx = answers_tx.clone();
                match out {
                    Output::Vad { samples } => match self.engine.audio().vad(session, samples) {
                        Ok(rx) => forward(rx, tx, |r| match r {
                            Ok(chunks) => {
                                Some(Input::Vad(chunks.iter().map(|c| (c.start_sample + 512, c.probability)).collect()))
                            }
                            Err(e) => {
                                tracing::debug!("VAD: {e}");
                                None
                            }
                        }),
                        Err(e) => tracing::warn!("VAD refused a frame: {e}"),
                    },
                    Output::EndOfTurn { id, audio } => match self.engine.audio().end_of_turn(audio) {
                        Ok(rx) => forward(rx, tx, move |r| {
                            Some(match r {
                                Ok(probability) => Input::EndOfTurn { id, probability },
                                Err(e) => engine_error(id, &e),
                            })
                        }),
                        Err(e) => core.handle_input(engine_error(id, &e), Instant::now() - epoch),
                    },
                    Output::Transcribe { id, audio, partial } => {
                        let (priority, deadline) = if partial {
                            (Priority::Background, Duration::from_secs(3))
                        } else {
                            (Priority::Interactive, Duration::from_millis(1500))
                        };
                        match self.engine.asr().transcribe_with(audio, priority, deadline) {
                            Ok((rid, rx)) => {
                                pending.insert(id, Pending::Asr(rid));
                                forward(rx, tx, move |r| {
                                    Some(match r {
                                        Ok(t) => Input::Transcript { id, text: t.text },
                                        Err(EngineError::Cancelled) => return None,
                                        Err(e) => engine_error(id, &e),
                                    })
                                });
                            }
                            Err(e) => core.handle_input(engine_error(id, &e), Instant::now() - epoch),
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
                            session,
                            messages,
                            sampling: SamplingParams::greedy(),
                            max_tokens,
                            stop: Vec::new(),
                            priority: Priority::Interactive,
                            deadline: Duration::from_millis(500),
                        };
                        match self.engine.fast().generate(request) {
                            Ok((rid, rx)) => {
                                pending.insert(id, Pending::Llm(rid));
                                forward(rx, tx, move |e| {
                                    Some(match e {
                                        LlmEvent::Text(text) => Input::LlmText { id, text },
                                        LlmEvent::Done(Ok(_)) => Input::LlmDone { id },
                                        LlmEvent::Done(Err(EngineError::Cancelled)) => return None,
                                        LlmEvent::Done(Err(e)) => engine_error(id, &e),
                                    })
                                });
                            }
                            Err(e) => core.handle_input(engine_error(id, &e), Instant::now() - epoch),
                        }
                    }
                    Output::StartSpeech { id } => match self.engine.tts().start(64) {
                        Ok((rid, rx)) => {
                            pending.insert(id, Pending::Tts(rid));
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
                        Err(e) => core.handle_input(engine_error(id, &e), Instant::now() - epoch),
                    },
                    Output::SpeakText { id, text } => {
                        if let Some(Pending::Tts(rid)) = pending.get(&id)
                            && let Err(e) = self.engine.tts().push(*rid, text)
                        {
                            core.handle_input(engine_error(id, &e), Instant::now() - epoch);
                        }
                    }
                    Output::FinishSpeech { id } => {
                        if let Some(Pending::Tts(rid)) = pending.get(&id) {
                            let _ = self.engine.tts().finish(*rid);
                        }
                    }
                    Output::Cancel { id } => match pending.remove(&id) {
                        Some(Pending::Asr(rid)) => self.engine.asr().cancel(rid),
                        Some(Pending::Llm(rid)) => self.engine.fast().cancel(rid),
                        Some(Pending::Tts(rid)) => self.engine.tts().cancel(rid),
                        None => {}
                    },
                    Output::PlayAudio { samples } => {
                        unreported.extend(samples.iter().copied());
                        if output.push(samples).await.is_err() {
                            break;
                        }
                    }
                    Output::FinishAudio => {
                        let _ = output.finish().await;
                    }
                    Output::PauseAudio => {
                        let _ = output.pause().await;
                    }
                    Output::ResumeAudio => {
                        let _ = output.resume().await;
                    }
                    Output::FlushAudio => {
                        if let Ok(sent) = output.flush().await {
                            unreported.clear();
                            reported = sent;
                            core.handle_input(
                                Input::Played { total: sent, samples: Vec::new() },
                                Instant::now() - epoch,
                            );
                        }
                    }
                    Output::Event(event) => {
                        if let Err(e) = self.peer.send_text(&event.to_json()).await {
                            tracing::debug!("event not sent: {e}");
                        }
                    }
                }
            }
        };
        for (_, p) in pending.drain() {
            match p {
                Pending::Asr(rid) => self.engine.asr().cancel(rid),
                Pending::Llm(rid) => self.engine.fast().cancel(rid),
                Pending::Tts(rid) => self.engine.tts().cancel(rid),
            }
        }
        self.peer.close().await;
        tracing::info!("session ended: {reason}");
        drop(self.permit);
        drop(place);
    }
}
