//! The driver of one conversation session: connects a [`PeerSession`] and the shared [`EngineHandle`] to the
//! sans-IO [`Conversation`] core. Media events and engine answers become core inputs (each with the time since
//! the session started); core outputs become engine requests ([`EngineRequests`]), audio pushed to / paused /
//! flushed on the paced output, and data-channel events. The session ends as every session does
//! ([`Lifecycle`]: DELETE, close, ICE failure, never connecting); its engine requests are cancelled and its
//! engine permit and place freed then.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use parley_media::{AudioOutput, MediaEvent, PeerSession};
use parley_models::engine::{EngineHandle, SessionPermit};
use parley_pipeline::conversation::{Conversation, ConversationConfig, Input, Output};
use parley_pipeline::protocol::SessionOptions;
use tokio::sync::{Notify, mpsc};
use tokio::time::Instant;

use crate::engine_requests::{EngineRequests, Routed};
use crate::session_lifecycle::{Lifecycle, Step};
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
    /// Replies from the slow model (`pipeline.reply_model = "slow"`) rather than the fast one.
    pub slow_replies: bool,
    pub permit: SessionPermit,
    pub connect_timeout: Duration,
    pub created: Instant,
}

impl ConversationSession {
    pub async fn run(self, mut events: mpsc::Receiver<MediaEvent>, place: Place) {
        let epoch = Instant::now();
        let mut core = Conversation::new(&self.id, self.options.clone(), self.config.clone());
        let output: AudioOutput = self.peer.audio_output().clone();
        let mut marks = output.sent_marks();
        let (answers_tx, mut answers) = mpsc::channel::<Input>(ANSWERS);
        let mut engine = EngineRequests::new(self.engine.clone(), self.permit.id(), self.slow_replies, answers_tx);
        let mut lifecycle = Lifecycle::new(self.created, self.connect_timeout, self.stop.clone());
        // Samples pushed to the output and not yet reported sent (the echo gate's reference).
        let mut unreported: VecDeque<f32> = VecDeque::new();
        let mut reported: u64 = 0;
        let reason = 'session: loop {
            let input = tokio::select! {
                event = events.recv() => match lifecycle.on_media(event) {
                    Step::End(reason) => break reason,
                    Step::Handled => continue,
                    Step::Media(MediaEvent::ChannelOpen) => Input::ChannelOpen,
                    Step::Media(MediaEvent::Message(text)) => Input::ClientMessage(text),
                    Step::Media(MediaEvent::Audio { frame, .. }) => Input::Audio(frame),
                    Step::Media(_) => continue,
                },
                Some(answer) = answers.recv() => answer,
                Ok(()) = marks.changed() => {
                    let mark = *marks.borrow_and_update();
                    let fresh = mark.source_samples.saturating_sub(reported) as usize;
                    reported = mark.source_samples;
                    let samples: Vec<f32> = unreported.drain(..fresh.min(unreported.len())).collect();
                    Input::Played { total: mark.source_samples, samples }
                }
                reason = lifecycle.ended() => break reason,
            };
            core.handle_input(input, Instant::now() - epoch);
            while let Some(out) = core.poll_output() {
                let out = match engine.handle(out) {
                    Routed::Sent => continue,
                    Routed::Refused(input) => {
                        core.handle_input(input, Instant::now() - epoch);
                        continue;
                    }
                    Routed::NotEngine(out) => out,
                };
                match out {
                    Output::PlayAudio { samples } => {
                        unreported.extend(samples.iter().copied());
                        if output.push(samples).await.is_err() {
                            break 'session "audio output closed";
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
                    other => tracing::warn!("unhandled conversation output {other:?}"),
                }
            }
        };
        engine.cancel_all();
        self.peer.close().await;
        tracing::info!("session ended: {reason}");
        drop(self.permit);
        drop(place);
    }
}
