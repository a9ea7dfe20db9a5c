//! The driver of one echo session: feeds a [`PeerSession`]'s media events into the sans-IO [`EchoPipeline`]
//! and carries its outputs back (audio to the paced output, events to the data channel). It ends when the
//! peer closes or fails (ICE/DTLS timeout), never connects within the connect timeout, or the client deletes
//! the session; its place is then freed.
//!
//! It also measures the echo round trip inside the server: from the arrival of the packet that began an input
//! frame to the moment the output frame carrying the same samples is sent (`parley_echo_server_ms`), and logs
//! P50/P90 when the session ends.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use parley_media::{AudioOutput, MediaEvent, PeerSession};
use parley_pipeline::echo::{EchoOutput, EchoPipeline};
use parley_pipeline::protocol::SessionOptions;
use tokio::sync::{Notify, mpsc};
use tokio::time::Instant;

use crate::session_lifecycle::{Lifecycle, Step};
use crate::sessions::Place;

/// Most round-trip samples kept per session for the end-of-session summary (10 minutes of frames).
const MAX_RTT_SAMPLES: usize = 30_000;

pub struct EchoSession {
    pub id: String,
    pub peer: Arc<PeerSession>,
    pub stop: Arc<Notify>,
    pub options: SessionOptions,
    pub delay: Duration,
    pub connect_timeout: Duration,
    /// When the offer arrived.
    pub created: Instant,
}

/// Pairs pushed output with the arrival of its input, to time the echo when the output is sent.
#[derive(Default)]
struct RoundTrip {
    /// (input frame end sample, arrival) of frames given to the pipeline and not yet echoed.
    arrivals: VecDeque<(u64, Instant)>,
    /// (output source samples after this push, arrival of its input) waiting to be sent.
    waiting: VecDeque<(u64, Instant)>,
    pushed: u64,
    samples_ms: Vec<f64>,
    /// Packet arrival → frame handed to the pipeline.
    handoff_ms: Vec<f64>,
}

impl RoundTrip {
    fn pushed(&mut self, samples: usize, input_end: u64) {
        self.pushed += samples as u64;
        while let Some(&(end, arrival)) = self.arrivals.front() {
            if end > input_end {
                break;
            }
            self.arrivals.pop_front();
            if end == input_end {
                self.waiting.push_back((self.pushed, arrival));
            }
        }
    }

    fn sent(&mut self, source_samples: u64, at: Instant) {
        while let Some(&(pushed, arrival)) = self.waiting.front() {
            if pushed > source_samples {
                break;
            }
            self.waiting.pop_front();
            let ms = at.saturating_duration_since(arrival).as_secs_f64() * 1e3;
            metrics::histogram!("parley_echo_server_ms").record(ms);
            if self.samples_ms.len() < MAX_RTT_SAMPLES {
                self.samples_ms.push(ms);
            }
        }
    }

    fn flushed(&mut self, sent: u64) {
        self.pushed = sent;
        self.waiting.clear();
    }

    fn summary(&mut self) -> Option<(f64, f64, usize)> {
        if self.samples_ms.is_empty() {
            return None;
        }
        self.samples_ms.sort_by(f64::total_cmp);
        let at = |q: f64| self.samples_ms[((self.samples_ms.len() - 1) as f64 * q).round() as usize];
        Some((at(0.5), at(0.9), self.samples_ms.len()))
    }
}

impl EchoSession {
    pub async fn run(self, mut events: mpsc::Receiver<MediaEvent>, place: Place) {
        let epoch = Instant::now();
        let mut pipeline = EchoPipeline::new(&self.id, self.options.clone(), self.delay);
        let output: AudioOutput = self.peer.audio_output().clone();
        let mut marks = output.sent_marks();
        let mut rtt = RoundTrip::default();
        let mut lifecycle = Lifecycle::new(self.created, self.connect_timeout, self.stop.clone());
        let reason = loop {
            let wake = pipeline.poll_timeout().map(|t| epoch + t);
            tokio::select! {
                event = events.recv() => match lifecycle.on_media(event) {
                    Step::End(reason) => break reason,
                    Step::Handled => {}
                    Step::Media(MediaEvent::ChannelOpen) => pipeline.handle_channel_open(),
                    Step::Media(MediaEvent::Message(text)) => pipeline.handle_message(&text),
                    Step::Media(MediaEvent::Audio { frame, received }) => {
                        if rtt.handoff_ms.len() < MAX_RTT_SAMPLES {
                            rtt.handoff_ms.push(received.elapsed().as_secs_f64() * 1e3);
                        }
                        rtt.arrivals.push_back((frame.end_sample(), received));
                        if rtt.arrivals.len() > 1_000 {
                            rtt.arrivals.pop_front();
                        }
                        pipeline.handle_audio(frame, Instant::now() - epoch);
                    }
                    Step::Media(MediaEvent::Video(frame)) => {
                        tracing::trace!("video frame {}x{}", frame.width, frame.height);
                    }
                    Step::Media(_) => {}
                },
                _ = sleep_until_opt(wake) => pipeline.handle_timeout(Instant::now() - epoch),
                Ok(()) = marks.changed() => {
                    let mark = *marks.borrow_and_update();
                    rtt.sent(mark.source_samples, mark.at);
                }
                reason = lifecycle.ended() => break reason,
            }
            while let Some(out) = pipeline.poll_output() {
                match out {
                    EchoOutput::Audio { samples, input_end } => {
                        rtt.pushed(samples.len(), input_end);
                        if output.push(samples).await.is_err() {
                            break;
                        }
                    }
                    EchoOutput::FlushAudio => {
                        if let Ok(sent) = output.flush().await {
                            rtt.flushed(sent);
                        }
                    }
                    EchoOutput::Event(event) => {
                        if let Err(e) = self.peer.send_text(&event.to_json()).await {
                            tracing::debug!("event not sent: {e}");
                        }
                    }
                }
            }
        };
        self.peer.close().await;
        let input = self.peer.input_stats();
        match rtt.summary() {
            Some((p50, p90, n)) => tracing::info!(
                "session ended: {reason}; echo inside the server P50 {p50:.1} ms, P90 {p90:.1} ms over {n} frames \
                 (of which packet → pipeline P50 {:.1} ms); \
                 audio in: {} packets, {} lost ({} rebuilt by FEC), jitter {:.1} ms",
                {
                    rtt.handoff_ms.sort_by(f64::total_cmp);
                    rtt.handoff_ms.get(rtt.handoff_ms.len() / 2).copied().unwrap_or(0.0)
                },
                input.jitter.received,
                input.jitter.lost,
                input.recovered_fec,
                input.jitter.jitter / 48.0
            ),
            None => tracing::info!("session ended: {reason}"),
        }
        drop(place);
    }
}

async fn sleep_until_opt(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
