//! The driver of one conversation session: connects a peer (a [`SessionPeer`]: the data channel and
//! hang-up), its paced [`AudioOutput`], and the engine ([`ConversationEngine`] + the session's
//! [`SessionMailbox`]) to the sans-IO [`Conversation`] core. Media events, engine answers, the output's sent
//! position and the core's own timeout become core inputs (each with the time since the session started);
//! core outputs become engine requests, audio pushed to / paused / flushed on the output, and data-channel
//! events. It sleeps until the next of those — the core's [`Conversation::poll_timeout`] included — and never
//! ticks. The session ends as every session does ([`Lifecycle`]: DELETE, close, ICE failure, never
//! connecting); the core's requests are cancelled, then the mailbox closes and the engine permit is freed.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use parley_media::{AudioOutput, MediaEvent, PeerSession};
use parley_models::engine::SessionPermit;
use parley_pipeline::conversation::{Conversation, ConversationConfig, Input, Output};
use parley_pipeline::protocol::SessionOptions;
use tokio::sync::{Notify, mpsc};
use tokio::time::Instant;

use crate::engine_link::{ConversationEngine, Routed, answer_input};
use crate::session_lifecycle::{Lifecycle, Step};
use crate::session_mailbox::SessionMailbox;

/// The peer side a conversation needs besides audio: sending events and hanging up.
pub trait SessionPeer: Send + Sync + 'static {
    fn send_text(&self, text: &str) -> impl Future<Output = Result<(), String>> + Send;
    fn close(&self) -> impl Future<Output = ()> + Send;
}

impl SessionPeer for PeerSession {
    async fn send_text(&self, text: &str) -> Result<(), String> {
        PeerSession::send_text(self, text).await.map_err(|e| e.to_string())
    }

    async fn close(&self) {
        PeerSession::close(self).await
    }
}

/// One conversation session, ready to run.
pub struct ConversationSession<P: SessionPeer, E: ConversationEngine> {
    pub id: String,
    pub peer: Arc<P>,
    pub output: AudioOutput,
    pub stop: Arc<Notify>,
    pub options: SessionOptions,
    pub config: ConversationConfig,
    pub engine: E,
    pub mailbox: SessionMailbox,
    /// The engine admission, held for the session's life (`None` where a test has no engine).
    pub permit: Option<SessionPermit>,
    pub connect_timeout: Duration,
    pub created: Instant,
}

/// What the driver does with the core's outputs besides engine requests.
struct Sides<'a, P> {
    peer: &'a P,
    output: &'a AudioOutput,
    /// Samples pushed to the output and not yet reported sent (the echo gate's reference).
    unreported: VecDeque<f32>,
    reported: u64,
}

impl<P: SessionPeer, E: ConversationEngine> ConversationSession<P, E> {
    pub async fn run<T: Send + 'static>(self, mut events: mpsc::Receiver<MediaEvent>, place: T) {
        let Self { id, peer, output, stop, options, config, mut engine, mailbox, permit, connect_timeout, created } =
            self;
        let epoch = Instant::now();
        let mut core = Conversation::new(&id, options, config);
        let mut marks = output.sent_marks();
        let mut lifecycle = Lifecycle::new(created, connect_timeout, stop);
        let mut sides = Sides { peer: &*peer, output: &output, unreported: VecDeque::new(), reported: 0 };
        let reason = loop {
            let wake = core.poll_timeout().map(|t| epoch + t);
            let input = tokio::select! {
                event = events.recv() => match lifecycle.on_media(event) {
                    Step::End(reason) => break reason,
                    Step::Handled => continue,
                    Step::Media(MediaEvent::ChannelOpen) => Some(Input::ChannelOpen),
                    Step::Media(MediaEvent::Message(text)) => Some(Input::ClientMessage(text)),
                    Step::Media(MediaEvent::Audio { frame, .. }) => Some(Input::Audio(frame)),
                    Step::Media(_) => continue,
                },
                (tag, answer) = mailbox.recv() => match answer_input(tag, answer) {
                    Some(input) => Some(input),
                    None => continue,
                },
                Ok(()) = marks.changed() => {
                    let mark = *marks.borrow_and_update();
                    Some(sides.played(mark.source_samples))
                }
                _ = sleep_until_opt(wake) => None,
                reason = lifecycle.ended() => break reason,
            };
            let now = Instant::now() - epoch;
            match input {
                Some(input) => core.handle_input(input, now),
                None => core.handle_timeout(now),
            }
            if let Err(reason) = drain(&mut core, &mut engine, &mut sides, epoch).await {
                break reason;
            }
        };
        // Cancel what is still running, then close the mailbox (the engine drops the rest).
        for id in core.pending_requests() {
            engine.route(Output::Cancel { id });
        }
        drop(mailbox);
        peer.close().await;
        tracing::info!("session ended: {reason}");
        drop(permit);
        drop(place);
    }
}

impl<P: SessionPeer> Sides<'_, P> {
    /// The output has sent `total` samples: the newly sent ones go to the core (the echo gate's reference).
    fn played(&mut self, total: u64) -> Input {
        let fresh = total.saturating_sub(self.reported) as usize;
        self.reported = total;
        let samples: Vec<f32> = self.unreported.drain(..fresh.min(self.unreported.len())).collect();
        Input::Played { total, samples }
    }
}

/// Carries out every output the core has; `Err` ends the session.
async fn drain<P: SessionPeer, E: ConversationEngine>(
    core: &mut Conversation,
    engine: &mut E,
    sides: &mut Sides<'_, P>,
    epoch: Instant,
) -> Result<(), &'static str> {
    while let Some(out) = core.poll_output() {
        let out = match engine.route(out) {
            Routed::Sent => continue,
            Routed::Refused(input) => {
                core.handle_input(input, Instant::now() - epoch);
                continue;
            }
            Routed::NotEngine(out) => out,
        };
        match out {
            Output::PlayAudio { samples } => {
                sides.unreported.extend(samples.iter().copied());
                if sides.output.push(samples).await.is_err() {
                    return Err("audio output closed");
                }
            }
            Output::FinishAudio => {
                let _ = sides.output.finish().await;
            }
            Output::PauseAudio => {
                let _ = sides.output.pause().await;
            }
            Output::ResumeAudio => {
                let _ = sides.output.resume().await;
            }
            Output::FlushAudio => {
                if let Ok(sent) = sides.output.flush().await {
                    sides.unreported.clear();
                    sides.reported = sent;
                    core.handle_input(Input::Played { total: sent, samples: Vec::new() }, Instant::now() - epoch);
                }
            }
            Output::Event(event) => {
                if let Err(e) = sides.peer.send_text(&event.to_json()).await {
                    tracing::debug!("event not sent: {e}");
                }
            }
            other => tracing::warn!("unhandled conversation output {other:?}"),
        }
    }
    Ok(())
}

async fn sleep_until_opt(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
