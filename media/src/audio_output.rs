//! Outgoing call audio: a handle the pipeline pushes speech into (at its own rate, as fast as it is made) and a
//! task that paces it out as 20 ms Opus packets at 48 kHz — one per 20 ms of media time through the
//! [`OutputPacer`], never a burst — and sends a silent packet every 20 ms while there is nothing to say, so the
//! peer's playout clock never stalls. [`AudioOutput::flush`] stops speech at once (barge-in) and
//! [`AudioOutput::sent_source_samples`] says exactly how much of the pushed speech has gone to the peer.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;

use crate::output_pacer::{OUTPUT_FRAME, OUTPUT_RATE, OutputPacer};

const FRAME: Duration = Duration::from_millis(20);
const COMMAND_QUEUE: usize = 256;

/// Where encoded packets go (the WebRTC track; a channel in tests).
pub trait PacketSink: Send + 'static {
    /// Sends one 20 ms Opus packet.
    fn send(&mut self, packet: Bytes) -> impl Future<Output = Result<(), String>> + Send;
}

/// The last speech frame sent: how many source samples the peer had then, and when.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SentMark {
    pub source_samples: u64,
    pub at: Instant,
}

/// The output is gone (its session closed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the session's audio output is closed")]
pub struct OutputClosed;

enum Command {
    Push(Vec<f32>),
    Finish,
    Flush(oneshot::Sender<u64>),
    Pause,
    Resume,
}

/// The pipeline's side of a session's outgoing audio. Cheap to clone.
#[derive(Clone)]
pub struct AudioOutput {
    commands: mpsc::Sender<Command>,
    sent: Arc<AtomicU64>,
    marks: watch::Receiver<SentMark>,
    source_rate: u32,
}

impl AudioOutput {
    /// Starts the pacing task for speech at `source_rate` Hz. Packets wait until `sink` is delivered (the
    /// connection is up); pushed speech is kept until then.
    pub fn spawn<S: PacketSink>(source_rate: u32, sink: oneshot::Receiver<S>) -> Result<Self, String> {
        // The `Audio` application and 48 kb/s keep synthesized speech close to the original (the VoIP mode's
        // speech processing made Whisper mishear replies); in-band FEC rebuilds a lost packet from the next one.
        let mut encoder = opus::Encoder::new(OUTPUT_RATE, opus::Channels::Mono, opus::Application::Audio)
            .map_err(|e| format!("cannot create the Opus encoder: {e}"))?;
        let _ = encoder.set_bitrate(opus::Bitrate::Bits(48_000));
        let _ = encoder.set_inband_fec(true);
        let _ = encoder.set_packet_loss_perc(5);
        let (commands, rx) = mpsc::channel(COMMAND_QUEUE);
        let sent = Arc::new(AtomicU64::new(0));
        let (mark_tx, marks) = watch::channel(SentMark { source_samples: 0, at: Instant::now() });
        let task = PacingTask {
            pacer: OutputPacer::new(source_rate),
            paused: false,
            encoder,
            sent: sent.clone(),
            marks: mark_tx,
        };
        tokio::spawn(task.run(rx, sink));
        Ok(Self { commands, sent, marks, source_rate })
    }

    /// The rate speech is pushed at.
    pub fn source_rate(&self) -> u32 {
        self.source_rate
    }

    /// Queues speech (mono, at the source rate). Waits only if 256 pushes are already queued.
    pub async fn push(&self, samples: Vec<f32>) -> Result<(), OutputClosed> {
        self.commands.send(Command::Push(samples)).await.map_err(|_| OutputClosed)
    }

    /// No more speech for now: the last partial frame goes out padded with silence.
    pub async fn finish(&self) -> Result<(), OutputClosed> {
        self.commands.send(Command::Finish).await.map_err(|_| OutputClosed)
    }

    /// Drops all speech not yet sent, at once; returns the source samples the peer had been sent.
    pub async fn flush(&self) -> Result<u64, OutputClosed> {
        let (tx, rx) = oneshot::channel();
        self.commands.send(Command::Flush(tx)).await.map_err(|_| OutputClosed)?;
        rx.await.map_err(|_| OutputClosed)
    }

    /// Holds speech where it is (silence goes out meanwhile) — the user may be interrupting; see
    /// [`resume`](Self::resume) and [`flush`](Self::flush).
    pub async fn pause(&self) -> Result<(), OutputClosed> {
        self.commands.send(Command::Pause).await.map_err(|_| OutputClosed)
    }

    /// Continues paused speech from where it stopped.
    pub async fn resume(&self) -> Result<(), OutputClosed> {
        self.commands.send(Command::Resume).await.map_err(|_| OutputClosed)
    }

    /// Source-rate samples of pushed speech the peer has been sent so far.
    pub fn sent_source_samples(&self) -> u64 {
        self.sent.load(Ordering::Acquire)
    }

    /// Watches each speech frame as it is sent.
    pub fn sent_marks(&self) -> watch::Receiver<SentMark> {
        self.marks.clone()
    }
}

struct PacingTask {
    pacer: OutputPacer,
    paused: bool,
    encoder: opus::Encoder,
    sent: Arc<AtomicU64>,
    marks: watch::Sender<SentMark>,
}

impl PacingTask {
    async fn run<S: PacketSink>(mut self, mut commands: mpsc::Receiver<Command>, sink: oneshot::Receiver<S>) {
        // Until the connection is up, only take commands.
        let mut sink = {
            let mut sink = std::pin::pin!(sink);
            loop {
                tokio::select! {
                    s = &mut sink => match s { Ok(s) => break s, Err(_) => return },
                    c = commands.recv() => match c { Some(c) => self.handle(c), None => return },
                }
            }
        };
        let epoch = Instant::now();
        let silence = vec![0.0f32; OUTPUT_FRAME];
        let mut packet = vec![0u8; 1500];
        let mut last_send: Option<Instant> = None;
        loop {
            let keepalive = last_send.map_or(Instant::now(), |t| t + FRAME);
            // Never two packets within 20 ms (a silent packet just went out: speech waits for the next slot),
            // so a receiver never sees a burst and never builds a standing queue from one.
            let wake = match self.pacer.poll_timeout().filter(|_| !self.paused) {
                Some(due) => (epoch + due).max(keepalive),
                None => keepalive,
            };
            tokio::select! {
                biased;
                c = commands.recv() => match c {
                    Some(c) => { self.handle(c); continue; }
                    None => return,
                },
                _ = tokio::time::sleep_until(wake) => {}
            }
            let now = Instant::now();
            let frame = if self.paused { None } else { self.pacer.poll(now - epoch) };
            let samples = match &frame {
                Some(f) => &f.samples[..],
                None if last_send.is_none_or(|t| now >= t + FRAME) => &silence[..],
                None => continue,
            };
            let n = match self.encoder.encode_float(samples, &mut packet) {
                Ok(n) => n,
                Err(e) => {
                    tracing::warn!("opus encode failed: {e}");
                    continue;
                }
            };
            if let Err(e) = sink.send(Bytes::copy_from_slice(&packet[..n])).await {
                tracing::debug!("audio output stopped: {e}");
                return;
            }
            last_send = Some(now);
            if frame.is_some() {
                let source = self.pacer.sent_source_samples();
                self.sent.store(source, Ordering::Release);
                self.marks.send_replace(SentMark { source_samples: source, at: now });
                metrics::counter!("parley_audio_out_frames_total").increment(1);
            }
        }
    }

    fn handle(&mut self, command: Command) {
        match command {
            Command::Push(samples) => {
                if let Err(e) = self.pacer.push(&samples) {
                    tracing::warn!("dropping speech that cannot be resampled: {e}");
                }
            }
            Command::Finish => self.pacer.finish(),
            Command::Pause => self.paused = true,
            Command::Resume => self.paused = false,
            Command::Flush(reply) => {
                self.pacer.flush();
                self.paused = false;
                let sent = self.pacer.sent_source_samples();
                self.sent.store(sent, Ordering::Release);
                let _ = reply.send(sent);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct ChannelSink(mpsc::UnboundedSender<(Instant, Bytes)>);

    impl PacketSink for ChannelSink {
        async fn send(&mut self, packet: Bytes) -> Result<(), String> {
            self.0.send((Instant::now(), packet)).map_err(|e| e.to_string())
        }
    }

    fn decode(packets: &[(Instant, Bytes)]) -> Vec<f32> {
        let mut dec = opus::Decoder::new(48_000, opus::Channels::Mono).unwrap();
        let mut out = Vec::new();
        let mut buf = vec![0f32; 5760];
        for (_, p) in packets {
            let n = dec.decode_float(p, &mut buf, false).unwrap();
            out.extend_from_slice(&buf[..n]);
        }
        out
    }

    #[tokio::test(start_paused = true)]
    async fn speech_is_paced_one_packet_per_20ms_and_silence_keeps_the_clock() {
        let (sink_tx, sink_rx) = oneshot::channel();
        let out = AudioOutput::spawn(16_000, sink_rx).unwrap();
        let tone: Vec<f32> = (0..16_000).map(|i| (i as f32 * 0.2).sin() * 0.3).collect();
        out.push(tone).await.unwrap();
        out.finish().await.unwrap();
        let (tx, mut rx) = mpsc::unbounded_channel();
        sink_tx.send(ChannelSink(tx)).ok().unwrap();
        tokio::time::sleep(Duration::from_millis(1_500)).await;
        let mut packets = Vec::new();
        while let Ok(p) = rx.try_recv() {
            packets.push(p);
        }
        // 1.5 s of media time: 75 packets (1 s of speech, then silence), never two at once.
        assert!((74..=76).contains(&packets.len()), "{} packets", packets.len());
        for w in packets.windows(2) {
            let gap = w[1].0 - w[0].0;
            assert!(gap >= Duration::from_millis(19), "burst: {gap:?}");
        }
        assert_eq!(out.sent_source_samples(), 16_000);
        let pcm = decode(&packets);
        let loud = pcm[..48_000].iter().map(|v| v * v).sum::<f32>() / 48_000.0;
        let quiet = pcm[52_000..].iter().map(|v| v * v).sum::<f32>() / (pcm.len() - 52_000) as f32;
        assert!(loud > 0.01 && quiet < 1e-5, "loud {loud} quiet {quiet}");
    }

    #[tokio::test(start_paused = true)]
    async fn pause_holds_speech_and_resume_continues_where_it_stopped() {
        let (sink_tx, sink_rx) = oneshot::channel();
        let out = AudioOutput::spawn(16_000, sink_rx).unwrap();
        let (tx, _rx) = mpsc::unbounded_channel();
        sink_tx.send(ChannelSink(tx)).ok().unwrap();
        out.push(vec![0.2; 16_000]).await.unwrap();
        tokio::time::sleep(Duration::from_millis(205)).await;
        out.pause().await.unwrap();
        let at_pause = out.sent_source_samples();
        assert_eq!(at_pause, 11 * 320);
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(out.sent_source_samples(), at_pause, "nothing sent while paused");
        out.resume().await.unwrap();
        tokio::time::sleep(Duration::from_millis(1_000)).await;
        assert_eq!(out.sent_source_samples(), 16_000, "the rest went out after the resume");
    }

    #[tokio::test(start_paused = true)]
    async fn flush_stops_speech_at_once_and_reports_what_was_sent() {
        let (sink_tx, sink_rx) = oneshot::channel();
        let out = AudioOutput::spawn(24_000, sink_rx).unwrap();
        let (tx, mut rx) = mpsc::unbounded_channel();
        sink_tx.send(ChannelSink(tx)).ok().unwrap();
        let tone: Vec<f32> = (0..48_000).map(|i| (i as f32 * 0.08).sin() * 0.2).collect();
        out.push(tone).await.unwrap(); // 2 s at 24 kHz
        tokio::time::sleep(Duration::from_millis(505)).await;
        let sent = out.flush().await.unwrap();
        // 26 frames went out by 505 ms (at 0, 20, ..., 500 ms): 26 × 480 source samples.
        assert_eq!(sent, 26 * 480);
        assert_eq!(out.sent_source_samples(), sent);
        let mark = *out.sent_marks().borrow();
        assert_eq!(mark.source_samples, sent);
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(out.sent_source_samples(), sent, "nothing more after the flush");
        let mut packets = Vec::new();
        while let Ok(p) = rx.try_recv() {
            packets.push(p);
        }
        let pcm = decode(&packets);
        let tail = &pcm[pcm.len() - 4_800..];
        let rms = (tail.iter().map(|v| v * v).sum::<f32>() / tail.len() as f32).sqrt();
        assert!(rms < 0.005, "silence after the flush (RMS {rms})");
    }
}
