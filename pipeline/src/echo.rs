//! The echo pipeline (`parley serve --pipeline echo`): the user's audio comes straight back, delayed by a set
//! time, with speech started/stopped events from an [`EnergyGate`] — the transport, the demo client and the
//! latency harness can be tested with it without any model. Sans-IO like the conversation core: frames and
//! client messages go in with the time (`now`, any steady clock as a `Duration`), outputs come out of
//! [`EchoPipeline::poll_output`], and [`EchoPipeline::poll_timeout`] says when to call again.

use std::collections::VecDeque;
use std::time::Duration;

use parley_media::AudioFrame;

use crate::energy_gate::{EnergyGate, EnergyGateConfig, GateEvent};
use crate::protocol::{ClientEvent, PROTOCOL_VERSION, ServerEvent, SessionInfo, SessionOptions};

/// What the driver must do.
#[derive(Debug, Clone, PartialEq)]
pub enum EchoOutput {
    /// Play these 16 kHz samples; `input_end` is the input sample position just after them (for latency marks).
    Audio { samples: Vec<f32>, input_end: u64 },
    /// Drop every sample queued for playing.
    FlushAudio,
    /// Send this event to the client.
    Event(ServerEvent),
}

/// See the module docs.
#[derive(Debug)]
pub struct EchoPipeline {
    session: SessionInfo,
    delay: Duration,
    gate: EnergyGate,
    /// Frames waiting for their delay: (due, frame).
    delayed: VecDeque<(Duration, AudioFrame)>,
    outputs: VecDeque<EchoOutput>,
    items: u64,
}

impl EchoPipeline {
    pub fn new(session_id: &str, options: SessionOptions, delay: Duration) -> Self {
        let session = SessionInfo { id: session_id.to_string(), protocol: PROTOCOL_VERSION.to_string(), options };
        Self {
            session,
            delay,
            gate: EnergyGate::new(EnergyGateConfig::default()),
            delayed: VecDeque::new(),
            outputs: VecDeque::new(),
            items: 0,
        }
    }

    /// The data channel opened: greet the client.
    pub fn handle_channel_open(&mut self) {
        self.outputs.push_back(EchoOutput::Event(ServerEvent::SessionCreated { session: self.session.clone() }));
    }

    /// One 16 kHz input frame that arrived at `now`.
    pub fn handle_audio(&mut self, frame: AudioFrame, now: Duration) {
        match self.gate.push(&frame.samples) {
            Some(GateEvent::Started { at }) => {
                self.items += 1;
                self.outputs.push_back(EchoOutput::Event(ServerEvent::SpeechStarted {
                    item_id: self.item_id(),
                    audio_start_ms: at * 1000 / AudioFrame::PIPELINE_RATE as u64,
                }));
            }
            Some(GateEvent::Stopped { at }) => {
                self.outputs.push_back(EchoOutput::Event(ServerEvent::SpeechStopped {
                    item_id: self.item_id(),
                    audio_end_ms: at * 1000 / AudioFrame::PIPELINE_RATE as u64,
                }));
            }
            None => {}
        }
        self.delayed.push_back((now + self.delay, frame));
        self.release(now);
    }

    /// A text message from the client.
    pub fn handle_message(&mut self, text: &str) {
        let event = match ClientEvent::parse(text) {
            Ok(ClientEvent::SessionUpdate { session, .. }) => {
                let o = &mut self.session.options;
                if session.instructions.is_some() {
                    o.instructions = session.instructions;
                }
                if session.voice.is_some() {
                    o.voice = session.voice;
                }
                if session.language.is_some() {
                    o.language = session.language;
                }
                ServerEvent::SessionUpdated { session: self.session.clone() }
            }
            Ok(ClientEvent::ResponseCancel { .. }) => {
                // The echo's "response" is the audio waiting to be played: drop it.
                self.delayed.clear();
                self.outputs.push_back(EchoOutput::FlushAudio);
                return;
            }
            Err(e) => ServerEvent::for_protocol_error(&e),
        };
        self.outputs.push_back(EchoOutput::Event(event));
    }

    /// Time passed: releases delayed frames that are due.
    pub fn handle_timeout(&mut self, now: Duration) {
        self.release(now);
    }

    pub fn poll_output(&mut self) -> Option<EchoOutput> {
        self.outputs.pop_front()
    }

    /// When the next delayed frame is due.
    pub fn poll_timeout(&self) -> Option<Duration> {
        self.delayed.front().map(|(due, _)| *due)
    }

    fn release(&mut self, now: Duration) {
        while self.delayed.front().is_some_and(|(due, _)| *due <= now) {
            let (_, frame) = self.delayed.pop_front().expect("front exists");
            let input_end = frame.end_sample();
            self.outputs.push_back(EchoOutput::Audio { samples: frame.samples, input_end });
        }
    }

    fn item_id(&self) -> String {
        format!("item_{}", self.items)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(n: u64, level: f32) -> AudioFrame {
        let len = AudioFrame::PIPELINE_SAMPLES;
        let samples = (0..len).map(|i| if i % 2 == 0 { level } else { -level }).collect();
        AudioFrame::new(AudioFrame::PIPELINE_RATE, n * len as u64, samples)
    }

    fn drain(p: &mut EchoPipeline) -> Vec<EchoOutput> {
        std::iter::from_fn(|| p.poll_output()).collect()
    }

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn audio_comes_back_after_the_delay_with_speech_events() {
        let mut p = EchoPipeline::new("s1", SessionOptions::default(), 100 * MS);
        p.handle_channel_open();
        assert!(matches!(drain(&mut p)[..], [EchoOutput::Event(ServerEvent::SessionCreated { .. })]));
        let mut audio_at = Vec::new();
        let mut events = Vec::new();
        // 1 s of loud audio then 1 s of silence, one frame per 20 ms.
        for n in 0..100u64 {
            let now = n as u32 * 20 * MS;
            if let Some(t) = p.poll_timeout().filter(|t| *t <= now) {
                p.handle_timeout(t);
            }
            p.handle_audio(frame(n, if n < 50 { 0.3 } else { 0.0 }), now);
            for o in drain(&mut p) {
                match o {
                    EchoOutput::Audio { input_end, .. } => audio_at.push((input_end, now)),
                    EchoOutput::Event(e) => events.push(e),
                    EchoOutput::FlushAudio => unreachable!(),
                }
            }
        }
        // Frame n (ending at input sample (n+1)·320) is released at 20n + 100 ms.
        assert_eq!(audio_at[0], (320, 100 * MS));
        assert!(audio_at.iter().all(|&(end, at)| at == ((end / 320 - 1) as u32 * 20 + 100) * MS));
        assert_eq!(
            events,
            vec![
                ServerEvent::SpeechStarted { item_id: "item_1".into(), audio_start_ms: 0 },
                ServerEvent::SpeechStopped { item_id: "item_1".into(), audio_end_ms: 1000 },
            ]
        );
    }

    #[test]
    fn zero_delay_echoes_at_once_and_cancel_flushes() {
        let mut p = EchoPipeline::new("s1", SessionOptions::default(), Duration::ZERO);
        p.handle_audio(frame(0, 0.1), Duration::ZERO);
        assert!(matches!(drain(&mut p)[..], [EchoOutput::Audio { input_end: 320, .. }]));
        p.handle_message(r#"{"type":"response.cancel"}"#);
        assert_eq!(drain(&mut p), vec![EchoOutput::FlushAudio]);
    }

    #[test]
    fn bad_messages_get_error_events_and_updates_are_answered() {
        let mut p = EchoPipeline::new("s1", SessionOptions::default(), Duration::ZERO);
        p.handle_message("not json");
        p.handle_message(r#"{"type":"session.update","session":{"voice":"amy"}}"#);
        let out = drain(&mut p);
        assert!(matches!(&out[0], EchoOutput::Event(ServerEvent::Error { error }) if error.code == "invalid_json"));
        assert!(
            matches!(&out[1], EchoOutput::Event(ServerEvent::SessionUpdated { session }) if session.options.voice.as_deref() == Some("amy"))
        );
    }
}
